"""Partitions and partition keys through pymilvus: scoping, load states, routing, errors."""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusException


def _raises(code: int, text: str):  # type: ignore[no-untyped-def]
    class _Check:
        def __enter__(self) -> None:
            self._ctx = pytest.raises(MilvusException)
            self._info = self._ctx.__enter__()

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            handled = self._ctx.__exit__(*exc)
            err = self._info.value
            assert err.code == code, (err.code, err.message)
            assert text in err.message, err.message
            return handled

    return _Check()


def _ids(rows: list[dict]) -> list[int]:  # type: ignore[type-arg]
    return sorted(r["id"] for r in rows)


def test_rows_are_scoped_to_their_partition(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    milvus.create_partition(name, "p1")
    milvus.create_partition(name, "p1")  # again: succeeds, as in Milvus
    assert milvus.list_partitions(name) == ["_default", "p1"]
    assert milvus.has_partition(name, "p1") and not milvus.has_partition(name, "p2")
    milvus.insert(name, [{"id": i, "vector": [1, i]} for i in range(3)])
    milvus.insert(name, [{"id": i, "vector": [1, i]} for i in range(10, 14)], partition_name="p1")
    assert _ids(milvus.query(name, filter="id >= 0")) == [0, 1, 2, 10, 11, 12, 13]
    assert _ids(milvus.query(name, filter="id >= 0", partition_names=["p1"])) == [10, 11, 12, 13]
    hits = milvus.search(name, data=[[1, 0]], limit=10, partition_names=["_default"])[0]
    assert sorted(h["id"] for h in hits) == [0, 1, 2]
    milvus.flush(name)
    assert milvus.get_partition_stats(name, "p1")["row_count"] == 4
    assert milvus.get_partition_stats(name, "_default")["row_count"] == 3
    # A delete naming a partition leaves the same key elsewhere alone.
    milvus.insert(name, [{"id": 0, "vector": [0, 1]}], partition_name="p1")
    milvus.delete(name, ids=[0], partition_name="p1")
    assert _ids(milvus.query(name, filter="id in [0]")) == [0]
    milvus.delete(name, filter="id > 11", partition_name="p1")
    assert _ids(milvus.query(name, filter="id >= 0", partition_names=["p1"])) == [10, 11]
    # An upsert replaces the key in the partition it names.
    milvus.upsert(name, [{"id": 10, "vector": [5, 5]}], partition_name="p1")
    (row,) = milvus.query(name, filter="id == 10", output_fields=["vector"])
    assert row["vector"] == [5, 5]


def test_partitions_load_and_release_on_their_own(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    milvus.create_partition(name, "hot")
    milvus.insert(name, [{"id": 1, "vector": [1, 0]}], partition_name="hot")
    milvus.insert(name, [{"id": 2, "vector": [0, 1]}])
    milvus.release_partitions(name, ["_default"])
    assert str(milvus.get_load_state(name)["state"]) == "Loaded"
    assert str(milvus.get_load_state(name, partition_name="_default")["state"]) == "NotLoad"
    assert _ids(milvus.query(name, filter="id >= 0")) == [1]  # loaded partitions only
    with _raises(201, "partition not loaded"):
        milvus.query(name, filter="id >= 0", partition_names=["_default"])
    with _raises(65535, "partition cannot be dropped, partition is loaded"):
        milvus.drop_partition(name, "hot")
    milvus.release_partitions(name, ["hot"])
    with _raises(101, "collection not loaded"):
        milvus.query(name, filter="id >= 0")
    milvus.load_partitions(name, ["_default"])
    assert _ids(milvus.query(name, filter="id >= 0")) == [2]
    milvus.drop_partition(name, "hot")
    milvus.drop_partition(name, "hot")  # a missing partition: succeeds
    assert milvus.list_partitions(name) == ["_default"]
    # Loaded by partition: a new partition is not loaded. Loaded whole: it is.
    milvus.create_partition(name, "later")
    assert str(milvus.get_load_state(name, partition_name="later")["state"]) == "NotLoad"
    milvus.load_collection(name)
    milvus.create_partition(name, "newest")
    assert str(milvus.get_load_state(name, partition_name="newest")["state"]) == "Loaded"


def test_partition_errors_use_milvus_codes(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    with _raises(65535, "default partition cannot be deleted"):
        milvus.release_partitions(name, ["_default"])
        milvus.drop_partition(name, "_default")
    with _raises(65535, "Invalid partition name: a-b. Partition name can only contain"):
        milvus.create_partition(name, "a-b")
    for call in (milvus.has_partition, milvus.load_partitions, milvus.get_partition_stats):
        with _raises(65535, "Invalid partition name: a-b. Partition name can only contain"):
            call(name, ["a-b"] if call == milvus.load_partitions else "a-b")
    with _raises(200, "partition not found[partition=nope]"):
        milvus.insert(name, [{"id": 1, "vector": [1, 0]}], partition_name="nope")
    with _raises(200, "partition not found[partition=nope]"):
        milvus.load_partitions(name, ["nope"])
    with _raises(65535, "partition name nope not found"):
        milvus.search(name, data=[[1, 0]], limit=1, partition_names=["nope"])
    with _raises(65535, "partition name nope not found"):
        milvus.query(name, filter="id >= 0", partition_names=["nope"])


def _keyed(milvus, name: str, num_partitions: int | None = 4, **props) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tenant", DataType.VARCHAR, max_length=32, is_partition_key=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    kwargs = {} if num_partitions is None else {"num_partitions": num_partitions}
    milvus.create_collection(name, schema=schema, index_params=index, properties=props, **kwargs)


def test_partition_key_routes_rows_to_hidden_partitions(milvus, name: str) -> None:
    _keyed(milvus, name)
    assert milvus.list_partitions(name) == [f"_default_{i}" for i in range(4)]
    assert milvus.describe_collection(name)["num_partitions"] == 4
    rows = [{"id": i, "tenant": f"t{i % 7}", "vector": [1, i]} for i in range(70)]
    milvus.insert(name, rows)
    milvus.flush(name)
    counts = [milvus.get_partition_stats(name, f"_default_{i}")["row_count"] for i in range(4)]
    assert sum(counts) == 70 and max(counts) < 70  # spread over the hidden partitions
    got = milvus.query(name, filter='tenant == "t3"', output_fields=["tenant"])
    assert _ids(got) == list(range(3, 70, 7)) and {r["tenant"] for r in got} == {"t3"}
    got = milvus.query(name, filter='tenant in ["t1", "t2"] and id < 20')
    assert _ids(got) == [1, 2, 8, 9, 15, 16]
    hits = milvus.search(name, data=[[1, 0]], limit=3, filter='tenant == "t5"',
                         output_fields=["tenant"])[0]
    assert [h["id"] for h in hits] == [5, 12, 19]
    milvus.upsert(name, [{"id": 5, "tenant": "t6", "vector": [9, 9]}])  # moves tenant
    assert _ids(milvus.query(name, filter="id == 5", output_fields=["tenant"])) == [5]
    assert milvus.query(name, filter="id == 5", output_fields=["tenant"])[0]["tenant"] == "t6"
    milvus.delete(name, filter='tenant == "t0"')
    assert milvus.query(name, filter='tenant == "t0"') == []
    with _raises(65535, "disable create partition if partition key mode is used"):
        milvus.create_partition(name, "p")
    with _raises(65535, "disable drop partition if partition key mode is used"):
        milvus.drop_partition(name, "_default_0")
    with _raises(65535, "not support manually specifying the partition names"):
        milvus.insert(name, rows[:1], partition_name="_default_0")
    with _raises(65535, "not support manually specifying the partition names"):
        milvus.search(name, data=[[1, 0]], limit=1, partition_names=["_default_0"])


def test_partition_key_defaults_and_rules(milvus, name: str) -> None:
    _keyed(milvus, name, num_partitions=None)
    assert len(milvus.list_partitions(name)) == 16
    with _raises(65535, "num_partitions should only be specified with partition key"):
        milvus.create_collection(f"{name}_plain", dimension=2, num_partitions=4)
    with _raises(105, "partition key isolation mode is enabled but no partition key field"):
        milvus.create_collection(f"{name}_iso", dimension=2,
                                 properties={"partitionkey.isolation": "true"})


def test_partition_key_isolation_requires_one_key_value(milvus, name: str) -> None:
    _keyed(milvus, name, **{"partitionkey.isolation": "true"})
    milvus.insert(name, [{"id": i, "tenant": f"t{i % 3}", "vector": [1, i]} for i in range(9)])
    hits = milvus.search(name, data=[[1, 0]], limit=5, filter='tenant == "t1" and id > 1')[0]
    assert [h["id"] for h in hits] == [4, 7]
    with _raises(65535, "partition key isolation does not support IN"):
        milvus.search(name, data=[[1, 0]], limit=5, filter='tenant in ["t1", "t2"]')
    with _raises(65535, "partition key isolation does not support OR"):
        milvus.search(name, data=[[1, 0]], limit=5, filter='tenant == "t1" or id > 3')
    with _raises(65535, "partition key not found in expr"):
        milvus.search(name, data=[[1, 0]], limit=5, filter="id > 3")


def test_duplicate_keys_read_as_the_newest_row(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    milvus.insert(name, [{"id": 1, "vector": [1, 0], "v": "old"}])
    milvus.flush(name)
    milvus.insert(name, [{"id": 1, "vector": [1, 0.1], "v": "new"}])
    got = milvus.query(name, filter="id == 1", output_fields=["v"])
    assert [r["v"] for r in got] == ["new"]
    hits = milvus.search(name, data=[[1, 0]], limit=5, output_fields=["v"])[0]
    assert [h["id"] for h in hits] == [1]


def test_duplicate_keys_never_cost_a_search_hit(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    milvus.create_partition(name, "other")
    rows = [{"id": i, "vector": [1.0, i / 20]} for i in range(12)]
    milvus.upsert(name, rows)
    milvus.upsert(name, rows, partition_name="other")  # the same keys in two partitions
    hits = milvus.search(name, data=[[1, 0], [1, 0.5]], limit=10)
    assert [len(h) for h in hits] == [10, 10]
    assert all(len({x["id"] for x in h}) == 10 for h in hits)
    page = milvus.search(name, data=[[1, 0]], limit=4, offset=8)[0]
    assert [h["id"] for h in page] == [h["id"] for h in
                                       milvus.search(name, data=[[1, 0]], limit=12)[0]][8:12]


def test_release_of_no_partition_is_refused(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    with _raises(1100, "invalid parameter[expected=any partition][actual=empty partition list]"):
        milvus.release_partitions(name, [])
