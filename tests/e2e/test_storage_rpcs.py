"""Storage RPCs through pymilvus: compaction jobs, truncate, TTL, timestamps."""

from __future__ import annotations

import time

import numpy as np


def _fill(milvus, name: str, batches: int, per: int = 50) -> None:
    rng = np.random.default_rng(0)
    for b in range(batches):
        rows = [{"id": b * per + i, "vector": rng.random(4).tolist(), "b": b} for i in range(per)]
        milvus.insert(name, rows)
        milvus.flush(name)


def _wait_compaction(milvus, job_id: int) -> str:
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        state = milvus.get_compaction_state(job_id)
        if state == "Completed":
            break
        time.sleep(0.05)
    return state


def test_manual_compaction_drops_deleted_rows(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=4)
    _fill(milvus, name, batches=3)
    milvus.delete(name, filter="b == 1")
    job_id = milvus.compact(name)
    assert _wait_compaction(milvus, job_id) == "Completed"
    plans = milvus.get_compaction_plans(job_id)
    assert plans.state.name == "Completed"
    assert milvus.query(name, filter="", limit=1000, output_fields=["count(*)"])[0]["count(*)"] == 100
    assert sorted({r["b"] for r in milvus.query(name, filter="id >= 0", output_fields=["b"])}) == [0, 2]


def test_truncate_collection(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=4)
    _fill(milvus, name, batches=2)
    milvus.truncate_collection(name)
    assert milvus.query(name, filter="", limit=10, output_fields=["count(*)"])[0]["count(*)"] == 0
    milvus.insert(name, [{"id": 1, "vector": [1, 0, 0, 0]}])
    assert milvus.get(name, ids=[1])[0]["id"] == 1


def test_collection_ttl_hides_expired_rows(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=4, properties={"collection.ttl.seconds": 1})
    milvus.insert(name, [{"id": i, "vector": [1, i, 0, 0]} for i in range(5)])
    assert len(milvus.query(name, filter="id >= 0")) == 5
    time.sleep(1.3)
    assert milvus.query(name, filter="id >= 0") == []
    assert milvus.search(name, data=[[1, 1, 0, 0]], limit=3)[0] == []


def test_mutations_return_increasing_hybrid_timestamps(served_uri: str, name: str) -> None:
    from pymilvus import Collection, MilvusClient, connections

    client = MilvusClient(uri=served_uri)
    client.create_collection(name, dimension=4)
    connections.connect(alias=name, uri=served_uri)
    try:
        coll = Collection(name, using=name)
        first = coll.insert([{"id": 1, "vector": [1, 0, 0, 0]}])
        second = coll.upsert([{"id": 1, "vector": [0, 1, 0, 0]}])
        third = coll.delete("id in [1]")
        stamps = [first.timestamp, second.timestamp, third.timestamp]
        assert stamps == sorted(stamps) and len(set(stamps)) == 3
        assert abs((stamps[0] >> 18) - time.time() * 1000) < 60_000  # ms << 18 | logical
    finally:
        connections.disconnect(name)
        client.close()


def test_ttl_set_and_dropped_by_altering_properties(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=4)
    milvus.insert(name, [{"id": i, "vector": [1, i, 0, 0]} for i in range(3)])
    milvus.alter_collection_properties(name, properties={"collection.ttl.seconds": 1})
    assert milvus.describe_collection(name)["properties"]["collection.ttl.seconds"] == "1"
    time.sleep(1.3)
    assert milvus.query(name, filter="id >= 0") == []
    milvus.drop_collection_properties(name, property_keys=["collection.ttl.seconds"])
    assert "collection.ttl.seconds" not in milvus.describe_collection(name)["properties"]
    milvus.insert(name, [{"id": 9, "vector": [1, 0, 0, 0]}])
    assert [r["id"] for r in milvus.query(name, filter="id >= 9")] == [9]


def test_bad_property_values_are_refused(milvus, name: str) -> None:
    import pytest
    from pymilvus import MilvusException

    milvus.create_collection(name, dimension=4)
    with pytest.raises(MilvusException, match="collection TTL is not a valid positive integer"):
        milvus.alter_collection_properties(name, properties={"collection.ttl.seconds": "soon"})
    with pytest.raises(MilvusException, match="can not alter mmap properties if collection loaded"):
        milvus.alter_collection_properties(name, properties={"mmap.enabled": "false"})


def test_segment_info_reports_flushed_and_growing_segments(served_uri: str, name: str) -> None:
    from pymilvus import MilvusClient, connections, utility

    client = MilvusClient(uri=served_uri)
    client.create_collection(name, dimension=4)
    client.insert(name, [{"id": i, "vector": [1, i, 0, 0]} for i in range(10)])
    client.flush(name)
    client.insert(name, [{"id": 10, "vector": [1, 0, 0, 0]}])
    connections.connect(alias=name, uri=served_uri)
    try:
        persistent = utility.get_query_segment_info(name, using=name)
        rows = sorted((s.num_rows, s.state) for s in persistent)
        assert rows[0][0] == 1 and rows[-1][0] == 10
        flushed = [s for s in persistent if s.num_rows == 10]
        assert flushed and flushed[0].state == 4  # Flushed
    finally:
        connections.disconnect(name)
        client.close()
