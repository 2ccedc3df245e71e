"""Interleavings of writes with seals, compactions, loads and drops, forced deterministically.

Each test stages one race found in review (a hook runs the concurrent step at the worst moment)
and checks the invariant it used to break.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import elanus.engine.collection as collection_module
from elanus.engine import compaction
from elanus.engine import segment as segment_module
from elanus.engine.engine import Engine
from elanus.engine.requests import QueryRequest
from elanus.errors import CollectionNotFound
from elanus.schema import CollectionSchema, DataType, FieldSchema
from elanus.storage import wal as wal_module

DIM = 4


def _schema(name: str) -> CollectionSchema:
    return CollectionSchema(name, (FieldSchema("id", DataType.INT64, is_primary=True),
                                   FieldSchema("vector", DataType.FLOAT_VECTOR, dim=DIM)))


def _cols(ids: np.ndarray) -> dict[str, pa.Array]:
    vectors = np.random.default_rng(int(ids[0])).random((len(ids), DIM), dtype=np.float32)
    return {"id": pa.array(ids.astype(np.int64)),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM)}


def _engine(path: Path, *names: str, load: bool = True) -> Engine:
    e = Engine(path, auto_compaction=False)
    for name in names:
        e.create_collection("default", _schema(name))
        e.create_index("default", name, "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
        if load:
            e.load_collection("default", name)
    return e


def _ids(e: Engine, name: str = "a") -> list[int]:
    res = e.query(QueryRequest("default", name, "id >= 0", ("id",)))
    return sorted(res.fields.column("id").to_pylist())


def _insert(e: Engine, name: str, start: int, n: int) -> None:
    e.insert("default", name, _cols(np.arange(start, start + n)), n)


def _two_segments(e: Engine) -> None:
    """Collection "a" with rows 0..199 in two sealed segments."""
    for start in (0, 100):
        _insert(e, "a", start, 100)
        e.flush("default", "a")


@pytest.fixture
def small_wal_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """WAL files of 4 KiB, so that a few inserts rotate them and trimming has work to do."""
    real = wal_module.Wal.open.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(wal_module.Wal, "open", classmethod(
        lambda cls, directory, **kw: real(cls, directory, file_bytes=4096)))


def test_a_failed_seal_keeps_rows_readable_and_logged(tmp_path: Path, small_wal_files: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    e = _engine(tmp_path / "d", "a", "b")
    _insert(e, "a", 0, 100)

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(collection_module, "write_segment", full_disk)
        with pytest.raises(OSError):
            e.flush("default", "a")
    assert len(_ids(e)) == 100
    for i in range(10):  # another collection rotates the WAL and moves its checkpoint
        _insert(e, "b", i * 100, 100)
    e.flush("default", "b")
    e.close()
    again = Engine(tmp_path / "d", auto_compaction=False)
    try:
        assert len(_ids(again)) == 100
        assert again.flush("default", "a")  # the retried seal commits
        assert len(_ids(again)) == 100
    finally:
        again.close()


def test_wal_trim_never_passes_a_record_being_applied(tmp_path: Path, small_wal_files: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    e = _engine(tmp_path / "d", "a", "b")
    a = e.collection("default", "a")
    real_append = segment_module.GrowingSegment.append
    armed = [True]

    def append(self: segment_module.GrowingSegment, table: pa.Table) -> None:
        if armed[0] and self in a.growing.segments.values():
            armed[0] = False  # what other threads may do while this insert applies
            e.wal.wait_durable(a.growing.last_lsn)
            for i in range(5):
                _insert(e, "b", i * 50, 50)
            e.flush("default", "b")
        real_append(self, table)

    monkeypatch.setattr(segment_module.GrowingSegment, "append", append)
    _insert(e, "a", 0, 10)
    e.close()
    monkeypatch.setattr(segment_module.GrowingSegment, "append", real_append)
    again = Engine(tmp_path / "d", auto_compaction=False)
    try:
        assert _ids(again) == list(range(10))
    finally:
        again.close()


def test_a_delta_committed_during_compaction_is_kept(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    e = _engine(tmp_path / "d", "a")
    _two_segments(e)
    real = compaction.plan_groups

    def meanwhile(*args: object, **kwargs: object) -> list[list[int]]:
        groups = real(*args, **kwargs)  # type: ignore[arg-type]
        e.delete("default", "a", "id in [5]")
        e.flush("default", "a")  # a delete-only seal: its delta file lands mid-compaction
        return groups

    monkeypatch.setattr(compaction, "plan_groups", meanwhile)
    compaction.compact(e.collection("default", "a"), major=True)
    monkeypatch.setattr(compaction, "plan_groups", real)
    assert 5 not in _ids(e)
    e.release_collection("default", "a")
    e.load_collection("default", "a")
    assert 5 not in _ids(e)
    e.close()
    again = Engine(tmp_path / "d", auto_compaction=False)
    try:
        assert len(_ids(again)) == 199 and 5 not in _ids(again)
    finally:
        again.close()


def test_compaction_carries_tombstones_that_reach_a_reloaded_collection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    e = _engine(tmp_path / "d", "a", load=False)
    _two_segments(e)
    real = compaction.plan_groups

    def meanwhile(*args: object, **kwargs: object) -> list[list[int]]:
        groups = real(*args, **kwargs)  # type: ignore[arg-type]
        e.load_collection("default", "a")
        e.delete("default", "a", "id in [5]")
        return groups

    monkeypatch.setattr(compaction, "plan_groups", meanwhile)
    compaction.compact(e.collection("default", "a"), major=True)
    try:
        assert len(_ids(e)) == 199 and 5 not in _ids(e)
    finally:
        e.close()


def test_a_load_during_a_seal_sees_its_tombstones(tmp_path: Path) -> None:
    e = _engine(tmp_path / "d", "a")
    _insert(e, "a", 0, 100)
    e.flush("default", "a")
    e.release_collection("default", "a")
    e.delete("default", "a", "id in [5]")  # by key: allowed while released
    real_fault = e.fault

    def fault(point: str) -> None:
        if point == "seal:before-commit":
            e.load_collection("default", "a")  # another client loads meanwhile
        real_fault(point)

    e.fault = fault  # type: ignore[method-assign]
    e.flush("default", "a")
    try:
        assert len(_ids(e)) == 99 and 5 not in _ids(e)
    finally:
        e.close()


def test_a_drop_fences_background_work_and_stale_handles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    e = _engine(tmp_path / "d", "a")
    _two_segments(e)
    assert e.wait_idle(30)
    handle = e.collection("default", "a")
    real = compaction.plan_groups

    def meanwhile(*args: object, **kwargs: object) -> list[list[int]]:
        groups = real(*args, **kwargs)  # type: ignore[arg-type]
        e.drop_collection("default", "a")
        return groups

    monkeypatch.setattr(compaction, "plan_groups", meanwhile)
    compaction.compact(handle, major=True)
    with pytest.raises(CollectionNotFound):
        handle.insert(_cols(np.arange(3)), 3)
    e.close()
    again = Engine(tmp_path / "d")
    try:
        assert again.catalog.files() == []
        assert again.store.list("collections/") == []
    finally:
        again.close()
