"""Partitions in the engine: routing, scoped deletes, load state and drops across restarts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from elanus.engine import routing
from elanus.engine.engine import Engine
from elanus.engine.requests import QueryRequest
from elanus.schema import CollectionSchema, DataType, FieldSchema

DIM = 4


def _schema(keyed: bool) -> CollectionSchema:
    return CollectionSchema("c", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("tenant", DataType.VARCHAR, max_length=16, is_partition_key=keyed),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=DIM),
    ))


def _rows(ids: range, tenants: int = 5) -> dict[str, pa.Array]:
    n = len(ids)
    return {"id": pa.array(list(ids), pa.int64()),
            "tenant": pa.array([f"t{i % tenants}" for i in ids], pa.large_string()),
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(np.ones(n * DIM, dtype=np.float32)), DIM)}


def _engine(path: Path, keyed: bool = False, **kw: int) -> Engine:
    e = Engine(path, auto_compaction=False)
    e.create_collection("default", _schema(keyed), **kw)  # type: ignore[arg-type]
    e.create_index("default", "c", "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
    e.load_collection("default", "c")
    return e


def _ids(e: Engine, flt: str = "id >= 0", partitions: tuple[str, ...] = ()) -> list[int]:
    res = e.query(QueryRequest("default", "c", flt, ("id",), partition_names=partitions))
    return sorted(res.fields.column("id").to_pylist())


def test_routing_is_a_pure_function_of_the_key() -> None:
    keys = pa.array(["a", "", "tenant-7", "é", "a"] * 200, pa.large_string())
    slots = routing.slots(keys, 16)
    assert slots.min() >= 0 and slots.max() < 16
    assert slots[0] == slots[4] and np.array_equal(slots, routing.slots(keys, 16))
    sliced = routing.slots(keys.slice(3, 10), 16)  # array offsets do not change the hash
    assert np.array_equal(sliced, slots[3:13])
    ints = routing.slots(pa.array(range(10_000), pa.int64()), 16)
    assert np.bincount(ints, minlength=16).min() > 400  # spread evenly
    many = routing.slots(pa.array([f"user{i}" for i in range(10_000)]), 16)
    assert np.bincount(many, minlength=16).min() > 400
    assert routing.slots_of(["a"], pa.large_string(), 16) == {int(slots[0])}
    groups = routing.split(np.array([2, 0, 2, 1, 0]))
    assert [(s, rows.tolist()) for s, rows in groups] == [(0, [1, 4]), (1, [3]), (2, [0, 2])]


def test_keyed_rows_replay_into_the_same_partitions(tmp_path: Path) -> None:
    e = _engine(tmp_path / "d", keyed=True, num_partitions=4)
    e.insert("default", "c", _rows(range(100)), 100)
    e.flush("default", "c")
    e.insert("default", "c", _rows(range(100, 150)), 50)  # in the WAL only
    before = {p.name: e.partition_stats("default", "c", p.name).row_count
              for p in e.list_partitions("default", "c")}
    assert sum(before.values()) == 150 and len(before) == 4
    e.close()
    again = Engine(tmp_path / "d", auto_compaction=False)
    try:
        after = {p.name: again.partition_stats("default", "c", p.name).row_count
                 for p in again.list_partitions("default", "c")}
        assert after == before
        assert _ids(again, 'tenant == "t3"') == list(range(3, 150, 5))
    finally:
        again.close()


def test_scoped_delete_survives_flush_and_restart(tmp_path: Path) -> None:
    e = _engine(tmp_path / "d")
    e.create_partition("default", "c", "p")
    e.insert("default", "c", _rows(range(10)), 10)
    e.insert("default", "c", _rows(range(10)), 10, partition="p")
    e.delete("default", "c", "id < 3", partition="p")
    e.flush("default", "c")
    e.delete("default", "c", "id in [9]", partition="_default")
    assert _ids(e, partitions=("p",)) == list(range(3, 10))
    assert _ids(e, partitions=("_default",)) == list(range(9))
    e.close()
    again = Engine(tmp_path / "d", auto_compaction=False)
    try:
        assert _ids(again, partitions=("p",)) == list(range(3, 10))
        assert _ids(again, partitions=("_default",)) == list(range(9))
        again.flush("default", "c")
        again.compact("default", "c")
        assert again.wait_idle(30)
        assert _ids(again, partitions=("p",)) == list(range(3, 10))
        assert _ids(again, partitions=("_default",)) == list(range(9))
    finally:
        again.close()


def test_partition_load_state_and_drop_survive_restart(tmp_path: Path) -> None:
    e = _engine(tmp_path / "d")
    for name in ("keep", "gone"):
        e.create_partition("default", "c", name)
        e.insert("default", "c", _rows(range(5)), 5, partition=name)
    e.flush("default", "c")
    e.insert("default", "c", _rows(range(5, 8)), 3, partition="gone")  # unsealed rows
    e.release_partitions("default", "c", ["gone", "keep"])
    e.drop_partition("default", "c", "gone")
    e.create_partition("default", "c", "gone")  # a new partition of the same name is empty
    e.close()
    again = Engine(tmp_path / "d", auto_compaction=False)
    try:
        loaded = {p.name: p.loaded for p in again.list_partitions("default", "c")}
        assert loaded == {"_default": True, "keep": False, "gone": False}
        again.load_partitions("default", "c", ["keep", "gone"])
        assert _ids(again, partitions=("gone",)) == []
        assert _ids(again, partitions=("keep",)) == list(range(5))
        assert not [k for k in again.store.list("collections/") if "segments" in k
                    and int(k.rsplit("/", 1)[1].split(".")[0]) not in
                    {f.segment_id for f in again.collection("default", "c").files}]
    finally:
        again.close()


def test_compaction_never_merges_across_partitions(tmp_path: Path) -> None:
    e = _engine(tmp_path / "d")
    e.create_partition("default", "c", "p")
    for i in range(3):
        e.insert("default", "c", _rows(range(i * 10, i * 10 + 10)), 10)
        e.insert("default", "c", _rows(range(i * 10, i * 10 + 10)), 10, partition="p")
        e.flush("default", "c")
    e.compact("default", "c")
    assert e.wait_idle(30)
    c = e.collection("default", "c")
    segments = [f for f in c.files if f.kind == "segment"]
    assert len(segments) == 2
    assert {f.partition_id for f in segments} == {p.id for p in c.partitions.values()}
    assert _ids(e, partitions=("p",)) == list(range(30))
    e.close()


@pytest.mark.parametrize("keyed", [False, True])
def test_upsert_replaces_within_its_scope(tmp_path: Path, keyed: bool) -> None:
    e = _engine(tmp_path / "d", keyed=keyed)
    e.insert("default", "c", _rows(range(4)), 4)
    moved = _rows(range(2))
    moved["tenant"] = pa.array(["zz", "zz"], pa.large_string())  # a new key: a new partition
    e.insert("default", "c", moved, 2, upsert=True)
    res = e.query(QueryRequest("default", "c", "id >= 0", ("id", "tenant")))
    assert sorted(zip(res.fields.column("id").to_pylist(),
                      res.fields.column("tenant").to_pylist())) == \
        [(0, "zz"), (1, "zz"), (2, "t2"), (3, "t3")]
    e.close()


def test_clustering_compaction_sorts_each_partition_by_its_key(tmp_path: Path) -> None:
    e = Engine(tmp_path / "d", auto_compaction=False, seal_rows=40)
    e.create_collection("default", CollectionSchema("c", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("tenant", DataType.VARCHAR, max_length=16, is_clustering_key=True),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=DIM),
    )))
    e.create_index("default", "c", "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
    e.load_collection("default", "c")
    for i in range(3):
        e.insert("default", "c", _rows(range(i * 30, i * 30 + 30), tenants=9), 30)
        e.flush("default", "c")
    e.delete("default", "c", "id in [0, 1]")
    e.compact("default", "c", clustering=True)
    assert e.wait_idle(30)
    c = e.collection("default", "c")
    segments = sorted(c.sealed.values(), key=lambda s: s.id)
    assert [s.num_rows for s in segments] == [40, 40, 8]  # cut at the seal size
    keys = [k for s in segments for k in s.snapshot().table.column("tenant").to_pylist()]
    assert keys == sorted(keys)  # each segment holds one narrow, ordered key range
    assert _ids(e) == list(range(2, 90))
    e.close()
