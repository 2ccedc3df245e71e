"""MVCC visibility against a plain reference model (hypothesis).

Random histories of inserts, deletes, upserts, flushes and restarts; after the history, a read
at every timestamp the history passed through must see exactly what the model says: the rows
inserted at or before T that no tombstone at or before T deleted (a tombstone deletes the rows
of its key with a smaller timestamp), and of a key inserted twice only the newest.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elanus.engine.engine import Engine
from elanus.engine.requests import QueryRequest
from elanus.schema import CollectionSchema, DataType, FieldSchema

KEYS = st.lists(st.integers(0, 7), min_size=1, max_size=4, unique=True)
OPS = st.lists(st.one_of(
    st.tuples(st.just("insert"), KEYS), st.tuples(st.just("upsert"), KEYS),
    st.tuples(st.just("delete"), KEYS), st.tuples(st.just("flush"), st.just([])),
    st.tuples(st.just("restart"), st.just([])), st.tuples(st.just("read"), st.just([])),
), min_size=1, max_size=14)

SCHEMA = CollectionSchema("m", (
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("vector", DataType.FLOAT_VECTOR, dim=2),
    FieldSchema("version", DataType.INT64),
))


@dataclass
class Model:
    rows: list[tuple[int, int, int]] = field(default_factory=list)  # (pk, ts, version)
    tombstones: list[tuple[int, int]] = field(default_factory=list)  # (pk, ts)

    def visible(self, read_ts: int) -> list[tuple[int, int]]:
        """Live rows at `read_ts`; a key inserted twice reads as its newest row (Milvus)."""
        newest: dict[int, tuple[int, int]] = {}
        for pk, ts, version in self.rows:
            if ts > read_ts:
                continue
            if any(d_pk == pk and ts < d_ts <= read_ts for d_pk, d_ts in self.tombstones):
                continue
            if pk not in newest or ts > newest[pk][0]:
                newest[pk] = (ts, version)
        return sorted((pk, version) for pk, (_, version) in newest.items())


def _columns(keys: list[int], version: int) -> dict[str, pa.Array]:
    n = len(keys)
    return {"id": pa.array(keys, pa.int64()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(np.ones(2 * n, np.float32)), 2),
            "version": pa.array([version] * n, pa.int64())}


def _open(path: Path, auto_compaction: bool = False) -> Engine:
    # Compaction drops rows deleted before it ran, so reads at older timestamps hold between
    # compactions (as in Milvus, which keeps no time travel); the second test covers it.
    engine = Engine(path, auto_compaction=auto_compaction)
    if not engine.has_collection("default", "m"):
        engine.create_collection("default", SCHEMA)
        engine.create_index("default", "m", "vector", "", {"index_type": "FLAT",
                                                           "metric_type": "L2"})
        engine.load_collection("default", "m")
    return engine


def _apply(engine: Engine, path: Path, model: Model, op: str, keys: list[int],
           version: int) -> Engine:
    """Do `op` on the engine and the model alike; returns the engine (new after a restart)."""
    if op in ("insert", "upsert"):
        res = engine.insert("default", "m", _columns(keys, version), len(keys),
                            upsert=op == "upsert")
        if op == "upsert":
            model.tombstones += [(k, res.timestamp) for k in keys]
        model.rows += [(k, res.timestamp, version) for k in keys]
    elif op == "delete":
        res = engine.delete("default", "m", f"id in {keys}")
        model.tombstones += [(k, res.timestamp) for k in keys]
    elif op == "flush":
        engine.flush("default", "m")
    elif op == "compact":
        job_id = engine.compact("default", "m")
        assert engine.wait_idle(60)
        job = engine.compaction_job(job_id)
        assert job is not None and job.state == "Completed"
        assert all(p.state == "Completed" for p in job.plans)
    elif op == "restart":
        auto = engine.auto_compaction
        engine.close()
        engine = _open(path, auto_compaction=auto)
    return engine


def _read(engine: Engine, ts: int, expr: str = "id >= 0") -> list[tuple[int, int]]:
    res = engine.query(QueryRequest("default", "m", expr, ("version",), limit=-1 if expr else 100,
                                    read_ts=ts))
    return sorted(zip(res.fields.column("id").to_pylist(),
                      res.fields.column("version").to_pylist()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_reads_at_any_timestamp_match_the_model(ops: list[tuple[str, list[int]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data"
        engine = _open(path)
        model, stamps = Model(), []
        try:
            for version, (op, keys) in enumerate(ops):
                engine = _apply(engine, path, model, op, keys, version)
                stamps.append(engine.tso.allocate())
                if op == "read":  # reads between writes: segments' visibility caches too
                    now = engine.tso.allocate()
                    assert _read(engine, now) == model.visible(now), f"read after {version}"
                    assert _read(engine, now, "") == model.visible(now), f"read after {version}"
            for ts in stamps:
                assert _read(engine, ts) == model.visible(ts), f"read at {ts}"
                assert _read(engine, ts, "") == model.visible(ts), f"read at {ts}"
        finally:
            engine.close()


COMPACTING_OPS = st.lists(st.one_of(
    st.tuples(st.just("insert"), KEYS), st.tuples(st.just("upsert"), KEYS),
    st.tuples(st.just("delete"), KEYS), st.tuples(st.just("flush"), st.just([])),
    st.tuples(st.just("restart"), st.just([])), st.tuples(st.just("compact"), st.just([])),
), min_size=1, max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(COMPACTING_OPS)
def test_compaction_and_restart_never_change_what_is_visible(
        ops: list[tuple[str, list[int]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data"
        engine = _open(path, auto_compaction=True)
        model = Model()
        try:
            for version, (op, keys) in enumerate(ops):
                engine = _apply(engine, path, model, op, keys, version)
                assert engine.wait_idle(60)
                now = engine.tso.allocate()
                assert _read(engine, now) == model.visible(now), f"after {op}"
        finally:
            engine.close()
