"""The engine without a protocol: write path, seal, recovery, indexes, deletes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from elanus.engine.engine import Engine
from elanus.engine.requests import QueryRequest, SearchRequest
from elanus.errors import (
    CollectionNotFound,
    CollectionNotLoaded,
    DataDirLocked,
    DataInvalid,
    IndexNotFound,
    UnexpectedError,
)
from elanus.schema import CollectionSchema, DataType, FieldSchema

DIM = 8


def _schema(name: str = "books") -> CollectionSchema:
    return CollectionSchema(name, (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=DIM),
        FieldSchema("year", DataType.INT32),
    ), enable_dynamic_field=True)


def _columns(ids: np.ndarray, seed: int = 0) -> dict[str, pa.Array]:
    rng = np.random.default_rng(seed)
    vectors = rng.random((len(ids), DIM), dtype=np.float32)
    return {
        "id": pa.array(ids.astype(np.int64)),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
        "year": pa.array((ids % 50 + 1970).astype(np.int32)),
    }


def _open(path: Path, **kw: object) -> Engine:
    return Engine(path, **kw)  # type: ignore[arg-type]


@pytest.fixture
def engine(tmp_path: Path):
    e = _open(tmp_path / "data")
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"index_type": "HNSW", "metric_type": "L2"})
    e.load_collection("default", "books")
    yield e
    e.close()


def _count(e: Engine, name: str = "books", flt: str = "") -> int:
    res = e.query(QueryRequest("default", name, flt, ("count(*)",)))
    assert res.count is not None
    return res.count


def _search_ids(e: Engine, queries: np.ndarray, k: int = 1) -> list[list[int]]:
    res = e.search(SearchRequest("default", "books", "", queries, k))
    ids = res.pks.to_pylist()
    out, pos = [], 0
    for n in res.topks:
        out.append(ids[pos:pos + n])
        pos += n
    return out


def test_rows_are_searchable_before_and_after_seal(engine: Engine) -> None:
    cols = _columns(np.arange(500))
    engine.insert("default", "books", cols, 500)
    vectors = np.asarray(cols["vector"].values).reshape(-1, DIM)
    assert _search_ids(engine, vectors[[3, 400]]) == [[3], [400]]
    assert engine.flush("default", "books")
    assert engine.index_builder.wait_idle(60)
    assert _search_ids(engine, vectors[[3, 400]]) == [[3], [400]]
    info = engine.describe_index("default", "books")[0]
    assert (info.indexed_rows, info.pending_index_rows, info.state) == (500, 0, "Finished")


def test_restart_recovers_sealed_and_growing_rows_once(tmp_path: Path) -> None:
    e = _open(tmp_path / "d")
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"metric_type": "COSINE"})
    e.load_collection("default", "books")
    e.insert("default", "books", _columns(np.arange(100)), 100)
    e.flush("default", "books")
    e.insert("default", "books", _columns(np.arange(100, 130)), 30)
    e.delete("default", "books", "id in [1, 2, 105]")
    e.close()
    again = _open(tmp_path / "d")
    try:
        assert again.load_state("default", "books")
        assert _count(again) == 127
        res = again.query(QueryRequest("default", "books", "id in [1, 2, 3, 105, 106]", ("id",)))
        assert sorted(res.fields.column("id").to_pylist()) == [3, 106]
    finally:
        again.close()


def test_second_engine_on_same_directory_is_refused(engine: Engine) -> None:
    with pytest.raises(DataDirLocked) as err:
        _open(engine.data_dir)
    assert "pid=" in str(err.value)


def test_automatic_seal_at_row_threshold(tmp_path: Path) -> None:
    e = _open(tmp_path / "d", seal_rows=1000)
    try:
        e.create_collection("default", _schema())
        e.create_index("default", "books", "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
        e.load_collection("default", "books")
        for start in range(0, 3000, 500):
            e.insert("default", "books", _columns(np.arange(start, start + 500)), 500)
        c = e.collection("default", "books")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sum(1 for f in c.files if f.kind == "segment") >= 2:
                break
            time.sleep(0.05)
        assert sum(1 for f in c.files if f.kind == "segment") >= 2
        assert _count(e) == 3000
    finally:
        e.close()


def test_upsert_is_delete_plus_insert(engine: Engine) -> None:
    engine.insert("default", "books", _columns(np.arange(10)), 10)
    cols = _columns(np.array([3, 4, 20]), seed=5)
    res = engine.insert("default", "books", cols, 3, upsert=True)
    assert res.upsert_count == 3
    assert _count(engine) == 11
    vectors = np.asarray(cols["vector"].values).reshape(-1, DIM)
    assert _search_ids(engine, vectors[:1]) == [[3]]


def test_bad_rows_are_refused_with_milvus_wording(engine: Engine) -> None:
    cols = _columns(np.arange(3))
    cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(12, np.float32)), 4)
    with pytest.raises(DataInvalid) as err:
        engine.insert("default", "books", cols, 3)
    assert "is not equal to schema dim (8)" in str(err.value)
    cols = _columns(np.arange(3))
    del cols["year"]
    with pytest.raises(DataInvalid) as err:
        engine.insert("default", "books", cols, 3)
    assert "Insert missed an field `year`" in str(err.value)


def test_errors_for_missing_things(engine: Engine) -> None:
    with pytest.raises(CollectionNotFound) as err:
        engine.collection("default", "nope")
    assert str(err.value) == "collection not found[database=default][collection=nope]"
    engine.create_collection("default", _schema("bare"))
    with pytest.raises(IndexNotFound):
        engine.load_collection("default", "bare")
    with pytest.raises(CollectionNotLoaded) as nl:
        engine.query(QueryRequest("default", "bare", "", ("count(*)",)))
    assert nl.value.code == 101
    with pytest.raises(UnexpectedError):
        engine.drop_index("default", "books", "vector")  # loaded: release first


def test_upsert_replays_whole_after_restart(tmp_path: Path) -> None:
    e = _open(tmp_path / "d")
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"metric_type": "L2"})
    e.load_collection("default", "books")
    e.insert("default", "books", _columns(np.arange(5)), 5)
    e.flush("default", "books")
    e.insert("default", "books", _columns(np.array([1, 2, 9]), seed=3), 3, upsert=True)
    e.close()
    again = _open(tmp_path / "d")
    try:
        res = again.query(QueryRequest("default", "books", "id >= 0", ("id",)))
        assert sorted(res.fields.column("id").to_pylist()) == [0, 1, 2, 3, 4, 9]
    finally:
        again.close()


def test_unreferenced_files_are_collected_on_open(tmp_path: Path) -> None:
    e = _open(tmp_path / "d")
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"metric_type": "L2"})
    e.insert("default", "books", _columns(np.arange(10)), 10)
    e.flush("default", "books")
    assert e.index_builder.wait_idle(30)
    e.store.put("collections/1/segments/999.arrow", b"half-written, never committed")
    kept = set(e.store.list("collections/")) - {"collections/1/segments/999.arrow"}
    e.close()
    again = _open(tmp_path / "d")
    try:
        assert set(again.store.list("collections/")) == kept
        again.load_collection("default", "books")
        assert _count(again) == 10
    finally:
        again.close()


def test_corrupt_segment_is_named_and_other_collections_keep_serving(tmp_path: Path) -> None:
    from elanus.errors import Corruption

    e = _open(tmp_path / "d")
    for name in ("books", "films"):
        e.create_collection("default", _schema(name))
        e.create_index("default", name, "vector", "", {"metric_type": "L2"})
        e.insert("default", name, _columns(np.arange(10)), 10)
        e.flush("default", name)
        e.load_collection("default", name)
    assert e.index_builder.wait_idle(30)
    seg = next(f for f in e.collection("default", "books").files if f.kind == "segment")
    e.close()
    path = tmp_path / "d" / "objects" / seg.key
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    again = _open(tmp_path / "d")  # opens although a loaded collection's file is corrupt
    try:
        assert not again.load_state("default", "books")
        with pytest.raises(Corruption) as err:
            again.load_collection("default", "books")
        assert seg.key in str(err.value)
        assert again.load_state("default", "films")
        assert _count(again, "films") == 10
    finally:
        again.close()


def test_small_segments_merge_and_deleted_rows_are_dropped(tmp_path: Path) -> None:
    e = _open(tmp_path / "d")
    try:
        e.create_collection("default", _schema())
        e.create_index("default", "books", "vector", "", {"index_type": "HNSW",
                                                          "metric_type": "L2"})
        e.load_collection("default", "books")
        cols = [_columns(np.arange(i * 100, (i + 1) * 100), seed=i) for i in range(4)]
        for i, c in enumerate(cols):
            e.insert("default", "books", c, 100)
            e.flush("default", "books")
        assert e.wait_idle(60)
        coll = e.collection("default", "books")
        segments = [f for f in coll.files if f.kind == "segment"]
        assert len(segments) == 1 and segments[0].num_rows == 400  # a full tier merges itself
        e.delete("default", "books", "id < 150")
        e.flush("default", "books")
        job = e.compact("default", "books")
        assert e.wait_idle(60)
        state = e.compaction_job(job)
        assert state is not None and state.state == "Completed" and state.plans
        segments = [f for f in coll.files if f.kind == "segment"]
        assert sum(f.num_rows for f in segments) == 250
        assert not [f for f in coll.files if f.kind == "delta"]  # no segment needs them now
        assert {f.segment_id for f in coll.files if f.kind == "index"} == {
            f.segment_id for f in segments}
        vectors = np.asarray(cols[2]["vector"].values).reshape(-1, DIM)
        assert _search_ids(e, vectors[[5]]) == [[205]]
        assert set(e.store.list("collections/")) == {f.key for f in coll.files}
    finally:
        e.close()
    again = _open(tmp_path / "d")
    try:
        assert _count(again) == 250
    finally:
        again.close()


def test_truncate_keeps_schema_and_index(engine: Engine) -> None:
    engine.insert("default", "books", _columns(np.arange(50)), 50)
    engine.flush("default", "books")
    engine.insert("default", "books", _columns(np.arange(50, 60)), 10)
    engine.truncate_collection("default", "books")
    assert _count(engine) == 0
    engine.insert("default", "books", _columns(np.arange(3)), 3)
    assert _count(engine) == 3
    assert engine.describe_index("default", "books")[0].index_type == "HNSW"


def test_ttl_hides_expired_rows(tmp_path: Path) -> None:
    e = _open(tmp_path / "d")
    try:
        e.create_collection("default", _schema(), properties={"collection.ttl.seconds": "1"})
        e.create_index("default", "books", "vector", "", {"metric_type": "L2"})
        e.load_collection("default", "books")
        e.insert("default", "books", _columns(np.arange(10)), 10)
        assert _count(e) == 10
        time.sleep(1.2)
        assert _count(e) == 0
        e.flush("default", "books")
        e.compact("default", "books")
        assert e.wait_idle(60)
        assert not [f for f in e.collection("default", "books").files if f.kind == "segment"]
    finally:
        e.close()


def _flip_byte(path: Path, at: float = 0.5) -> None:
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * at)] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("mmap", ["true", "false"])  # index read in place, or as bytes
def test_corrupt_index_file_is_named_and_rebuilt(tmp_path: Path, caplog, mmap: str) -> None:
    e = _open(tmp_path / "d")
    e.create_collection("default", _schema(), properties={"mmap.enabled": mmap})
    e.create_index("default", "books", "vector", "", {"index_type": "HNSW", "metric_type": "L2"})
    cols = _columns(np.arange(200))
    e.insert("default", "books", cols, 200)
    e.flush("default", "books")
    e.load_collection("default", "books")
    assert e.wait_idle(60)
    index_file = next(f for f in e.collection("default", "books").files if f.kind == "index")
    e.close()
    again = _open(tmp_path / "d")  # an intact index file loads and answers
    try:
        assert index_file.key not in caplog.text
        vectors = np.asarray(cols["vector"].values).reshape(-1, DIM)
        assert _search_ids(again, vectors[[17, 90]]) == [[17], [90]]
    finally:
        again.close()
    # near the end: inside the stored vectors, which faiss would read without complaint
    _flip_byte(tmp_path / "d" / "objects" / index_file.key, at=0.99)
    again = _open(tmp_path / "d")
    try:
        assert index_file.key in caplog.text
        assert again.wait_idle(60)
        info = again.describe_index("default", "books")[0]
        assert (info.indexed_rows, info.state) == (200, "Finished")
        vectors = np.asarray(cols["vector"].values).reshape(-1, DIM)
        assert _search_ids(again, vectors[[17]]) == [[17]]
    finally:
        again.close()


def test_corrupt_delta_file_is_named(tmp_path: Path) -> None:
    from elanus.errors import Corruption

    e = _open(tmp_path / "d")
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"metric_type": "L2"})
    e.insert("default", "books", _columns(np.arange(20)), 20)
    e.flush("default", "books")
    e.delete("default", "books", "id in [1, 2]")
    e.flush("default", "books")
    delta = next(f for f in e.collection("default", "books").files if f.kind == "delta")
    e.close()
    _flip_byte(tmp_path / "d" / "objects" / delta.key)
    again = _open(tmp_path / "d", auto_compaction=False)
    try:
        with pytest.raises(Corruption) as err:
            again.load_collection("default", "books")
        assert delta.key in str(err.value)
    finally:
        again.close()


def test_readers_never_see_rows_twice_or_lose_them_during_seals_and_compactions(
        tmp_path: Path) -> None:
    import threading

    e = _open(tmp_path / "d", seal_rows=300)
    try:
        e.create_collection("default", _schema())
        e.create_index("default", "books", "vector", "", {"index_type": "FLAT",
                                                          "metric_type": "L2"})
        e.load_collection("default", "books")
        acked = [0]
        stop = threading.Event()
        problems: list[str] = []

        def read() -> None:
            while not stop.is_set():
                floor = acked[0]
                res = e.query(QueryRequest("default", "books", "id >= 0", ("id",)))
                ids = res.fields.column("id").to_pylist()
                if len(ids) != len(set(ids)):
                    problems.append("duplicate rows")
                if len(ids) < floor:
                    problems.append(f"saw {len(ids)} rows, {floor} acknowledged")

        reader = threading.Thread(target=read)
        reader.start()
        for start in range(0, 3000, 100):
            e.insert("default", "books", _columns(np.arange(start, start + 100)), 100)
            acked[0] = start + 100
            if start % 700 == 0:
                e.flush("default", "books")
        assert e.wait_idle(60)
        stop.set()
        reader.join(30)
        assert not problems, problems[:3]
        assert _count(e) == 3000
    finally:
        e.close()


def test_automatic_merges_rewrite_each_row_a_few_times_not_once_per_flush(tmp_path: Path) -> None:
    from elanus.engine import compaction

    e = _open(tmp_path / "d", auto_compaction=False)
    try:
        e.create_collection("default", _schema())
        coll = e.collection("default", "books")
        rewritten = 0
        for start in range(0, 40 * 50, 50):
            e.insert("default", "books", _columns(np.arange(start, start + 50)), 50)
            e.flush("default", "books")
            job = compaction.compact(coll)
            if job is not None:
                rewritten += sum(f.num_rows for f in coll.files if f.kind == "segment"
                                 and f.segment_id in {t for p in job.plans for t in p.targets})
        assert rewritten <= 3 * 40 * 50  # each of 2,000 rows rewritten at most ~3 times
        assert _count_files(coll) < 40
    finally:
        e.close()


def test_automatic_compaction_reads_only_the_unloaded_segments_it_may_rewrite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from elanus.engine import compaction

    e = _open(tmp_path / "d", auto_compaction=False)
    try:
        e.create_collection("default", _schema())
        e.create_index("default", "books", "vector", "", {"metric_type": "L2"})
        coll = e.collection("default", "books")
        read: list[tuple[str, int]] = []
        real = coll._read

        def counted(key: str, size: int, checksum: int) -> pa.Table:
            table = real(key, size, checksum)
            if "/segments/" in key and threading.current_thread() is threading.main_thread():
                read.append((key, table.num_rows))  # not the index builder's reads
            return table

        monkeypatch.setattr(coll, "_read", counted)

        def seal(start: int, n: int) -> None:
            e.insert("default", "books", _columns(np.arange(start, start + n)), n)
            e.flush("default", "books")

        def compact() -> tuple[compaction.Job | None, list[int]]:
            """A compaction, and the rows of each file it read that it did not write."""
            before = {f.key for f in coll.files}
            read.clear()
            job = compaction.compact(coll)
            return job, sorted(rows for key, rows in read if key in before)

        for start in (0, 50, 100):
            seal(start, 50)
        assert compact() == (None, [])  # three of a tier: no merge
        seal(150, 50)
        job, sources = compact()
        assert job is not None and sources == [50] * 4  # the four merged
        seal(200, 1000)
        assert compact() == (None, [])
        e.load_collection("default", "books")
        e.delete("default", "books", "id >= 200 and id < 500")
        e.flush("default", "books")  # a delete file: the segments it can hit are read
        e.release_collection("default", "books")
        job, sources = compact()
        assert job is not None and sources == [200, 1000]
        assert [len(p.sources) for p in job.plans] == [1]  # 30% deleted: rewritten alone
        assert sorted(f.num_rows for f in coll.files if f.kind == "segment") == [200, 700]
        e.load_collection("default", "books")
        assert _count(e) == 900 and _count(e, flt="id >= 200 and id < 500") == 0
    finally:
        e.close()


def test_segments_compacted_away_or_released_are_freed_without_the_cyclic_collector(
        engine: Engine) -> None:
    import gc
    import weakref

    for start in (0, 500):
        engine.insert("default", "books", _columns(np.arange(start, start + 500)), 500)
        engine.flush("default", "books")
    assert engine.wait_idle(30)
    queries = np.random.default_rng(1).random((2, DIM), dtype=np.float32)
    gc.collect()
    gc.disable()  # a segment in a reference cycle would stay (and its file stay mapped)
    try:
        coll = engine.collection("default", "books")
        first = [weakref.ref(s) for s in coll.sealed.values()]
        engine.search(SearchRequest("default", "books", "", queries, 5, filter="year > 1990",
                                    output_fields=("year",)))
        engine.query(QueryRequest("default", "books", "id in [1, 2, 700]", ("year",)))
        job = engine.compact("default", "books")
        assert engine.wait_idle(30) and engine.compaction_job(job).state == "Completed"
        assert len(first) == 2 and all(r() is None for r in first)
        merged = [weakref.ref(s) for s in coll.sealed.values()]
        assert _search_ids(engine, queries) and _count(engine, flt="year > 1980") == 780
        engine.release_collection("default", "books")
        assert len(merged) == 1 and merged[0]() is None
    finally:
        gc.enable()


def _count_files(coll) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for f in coll.files if f.kind == "segment")


def test_databases_and_their_collections_survive_restart(tmp_path: Path) -> None:
    e = _open(tmp_path / "d")
    e.create_database("shop", {"owner": "ops"})
    e.create_collection("shop", _schema("items"))
    e.create_collection("default", _schema("items"))
    e.close()
    again = _open(tmp_path / "d")
    try:
        assert [d.name for d in again.list_databases()] == ["default", "shop"]
        assert again.describe_database("shop").properties == {"owner": "ops"}
        assert again.list_collections("shop") == ["items"]
        assert again.collection("shop", "items").id != again.collection("default", "items").id
    finally:
        again.close()


def test_aliases_and_renames_survive_restart(tmp_path: Path) -> None:
    e = _open(tmp_path / "d")
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"metric_type": "L2"})
    e.insert("default", "books", _columns(np.arange(10)), 10)
    e.flush("default", "books")
    e.create_alias("default", "books", "library")
    e.rename_collection("default", "books", "tomes")
    e.close()
    again = _open(tmp_path / "d")
    try:
        assert again.describe_alias("default", "library") == ("default", "tomes")
        again.load_collection("default", "library")
        assert _count(again, "tomes") == 10
        assert again.describe_collection("default", "tomes").schema.name == "tomes"
    finally:
        again.close()


def test_a_stopping_worker_drops_its_queued_jobs() -> None:
    from elanus.engine.worker import Worker

    ran: list[str] = []
    gate = threading.Event()

    def job(c: object) -> None:
        gate.wait(10)
        ran.append(str(c))

    worker = Worker("test", job)  # type: ignore[arg-type]
    worker.start()
    for name in ("a", "b", "c"):
        worker.submit(name)  # type: ignore[arg-type]
    worker.stopping.set()  # as stop() does, while "a" is under way
    gate.set()
    worker.stop()
    assert ran in ([], ["a"])  # "b" and "c" never ran
    assert worker.wait_idle(5)


def test_primary_key_filters_on_sealed_segments_match_a_scan(tmp_path: Path) -> None:
    """Sealed segments answer primary key filters from a sorted key index: the rows are those
    a scan finds, with keys unordered, stored twice and deleted."""
    e = _open(tmp_path / "d", auto_compaction=False)
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
    rng = np.random.default_rng(4)
    parts = [rng.permutation(300)[:200], rng.integers(0, 300, 150)]  # the second repeats keys
    for ids in parts:
        e.insert("default", "books", _columns(ids), len(ids))
        e.flush("default", "books")
    e.insert("default", "books", _columns(np.array([7, 301])), 2)  # growing: scanned
    e.delete("default", "books", "id in [11, 12, 13]")
    e.load_collection("default", "books")
    stored = np.concatenate([*parts, [7, 301]])
    live = np.unique(stored[~np.isin(stored, [11, 12, 13])])  # a key stored twice reads once
    picked = rng.choice(320, 40).tolist()
    for flt, want in ((f"id in {picked}", np.isin(live, picked)), ("id == 7", live == 7),
                      ("id > 250", live > 250), ("id <= 12", live <= 12),
                      (f"id not in {picked}", ~np.isin(live, picked)),
                      ("id >= 40 and id < 60", (live >= 40) & (live < 60))):
        res = e.query(QueryRequest("default", "books", flt, ("id",)))
        assert sorted(res.fields.column("id").to_pylist()) == sorted(live[want].tolist()), flt
    e.close()


@pytest.mark.parametrize("seed, parts, keys", [(0, 4, 120), (1, 4, 120), (2, 1, 40),
                                               (3, 2, 30)])
def test_query_pages_by_key_take_the_newest_row_of_each_key(tmp_path: Path, seed: int,
                                                            parts: int, keys: int) -> None:
    """A limited query ranks the passing rows by primary key, keeping the newest row of each key
    (the first listed among rows inserted together): keys repeat within and across segments,
    some so often that a page's keys lie beyond its length in rows."""
    e = _open(tmp_path / "d", auto_compaction=False)
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
    rng = np.random.default_rng(seed)
    stored: list[tuple[int, int]] = []  # (key, row serial) in insert order
    for part in range(parts):
        ids = rng.integers(0, keys, 80)
        serial = np.arange(len(stored), len(stored) + len(ids))
        cols = _columns(ids)
        cols["year"] = pa.array(serial.astype(np.int32))
        e.insert("default", "books", cols, len(ids))
        stored += list(zip(ids.tolist(), serial.tolist()))
        if part < 3 or parts == 1:
            e.flush("default", "books")
    e.delete("default", "books", "id in [5, 6, 7]")
    e.load_collection("default", "books")
    for flt, passes in (("id >= 0", lambda s: True), ("year % 3 == 1", lambda s: s % 3 == 1)):
        newest: dict[int, int] = {}  # of the passing rows, as each segment filters first
        for key, s in stored:  # a later batch is newer; in one batch the first listed wins
            if key not in (5, 6, 7) and passes(s) and (key not in newest
                                                       or s // 80 > newest[key] // 80):
                newest[key] = s
        want = sorted(newest.items())
        for offset, limit in ((0, 10), (7, 25), (0, 500), (110, 10)):
            res = e.query(QueryRequest("default", "books", flt, ("id", "year"), limit=limit,
                                       offset=offset))
            got = list(zip(res.fields.column("id").to_pylist(),
                           res.fields.column("year").to_pylist()))
            assert got == want[offset: offset + limit], (flt, offset, limit)
    e.close()


def test_cosine_search_of_a_growing_segment_normalises_rows_as_they_arrive(tmp_path: Path) -> None:
    """COSINE reads the growing rows unit-normalised; rows appended after a search are
    normalised when the next search reads them."""
    e = _open(tmp_path / "d")
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "",
                   {"index_type": "FLAT", "metric_type": "COSINE"})
    e.load_collection("default", "books")
    rng = np.random.default_rng(9)
    seen = np.empty((0, DIM), dtype=np.float32)
    for count in (40, 60, 85):
        ids = np.arange(len(seen), len(seen) + count)  # a row's key is its row number
        cols = _columns(ids, seed=count)
        lengths = rng.uniform(0.1, 10, (len(ids), 1)).astype(np.float32)  # lengths differ
        vectors = np.asarray(cols["vector"].values).reshape(-1, DIM) * lengths
        cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM)
        e.insert("default", "books", cols, len(ids))
        seen = np.concatenate([seen, vectors])
        queries = seen[::7] * 3  # a longer copy of a stored row is that row, by angle
        unit = seen / np.linalg.norm(seen, axis=1, keepdims=True)
        want = np.argmax((queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit.T,
                         axis=1)
        res = e.search(SearchRequest("default", "books", "", queries, 1, metric_type="COSINE"))
        assert res.pks.to_pylist() == want.tolist()
        np.testing.assert_allclose(res.scores, 1.0, rtol=1e-5)
    e.close()


_SEAL_MEMORY = textwrap.dedent("""
    import sys, numpy as np, pyarrow as pa
    from elanus.engine.engine import Engine
    from elanus.schema import CollectionSchema, DataType, FieldSchema
    def anon():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) << 10 for line in f if line.startswith("RssAnon"))
    e = Engine(sys.argv[1])
    e.create_collection("default", CollectionSchema("c", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=64))))
    rng = np.random.default_rng(0)
    before = anon()
    for start in range(0, 200_000, 5_000):
        v = rng.random((5_000, 64), dtype=np.float32)
        e.insert("default", "c", {"id": pa.array(np.arange(start, start + 5_000)),
                 "v": pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), 64)}, 5_000)
    e.flush("default", "c")
    print(anon() - before)
    e.close()
""")


def test_index_builds_return_the_memory_they_freed(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A build copies the rows (normalised for COSINE) and faiss allocates as it goes; freed
    below glibc's mmap threshold, that memory stays with the process unless handed back (64 MB
    after a 20,000 x 384 HNSW build for an unloaded collection, in the benchmark)."""
    from elanus.engine import indexing

    returned: list[int] = []
    monkeypatch.setattr(indexing, "return_freed_memory", lambda: returned.append(1))
    e = _open(tmp_path / "data")
    e.create_collection("default", _schema())
    e.insert("default", "books", _columns(np.arange(300)), 300)
    e.flush("default", "books")
    assert not returned
    e.create_index("default", "books", "vector", "", {"index_type": "HNSW", "metric_type": "COSINE"})
    assert e.index_builder.wait_idle(60)
    assert returned
    e.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_seal_returns_the_growing_segments_memory(tmp_path: Path) -> None:
    """After 51 MB of vectors are sealed (to a memory-mapped file), the process holds less
    private memory than that: both allocators gave the growing columns back (they kept 140 MB)."""
    out = subprocess.run([sys.executable, "-c", _SEAL_MEMORY, str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=120, check=True)
    assert int(out.stdout) < 200_000 * 64 * 4


def test_a_seal_checks_its_file_before_committing_it_loaded_or_not(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """A segment file written wrong (a torn write, a bad disk) fails the seal before the commit,
    whether or not the collection is loaded; the rows stay readable from the log."""
    from elanus.engine import collection as collection_module
    from elanus.errors import Corruption

    def torn(store, key, table):  # type: ignore[no-untyped-def]
        info = write_segment(store, key, table)
        _flip_byte(tmp_path / "data" / "objects" / key)
        return info

    write_segment = collection_module.write_segment
    e = _open(tmp_path / "data", auto_compaction=False)
    e.create_collection("default", _schema())
    e.create_index("default", "books", "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
    e.insert("default", "books", _columns(np.arange(50)), 50)
    monkeypatch.setattr(collection_module, "write_segment", torn)
    with pytest.raises(Corruption):
        e.flush("default", "books")
    monkeypatch.setattr(collection_module, "write_segment", write_segment)
    e.flush("default", "books")  # the failed seal is retried
    e.load_collection("default", "books")
    assert _count(e) == 50
    e.close()
