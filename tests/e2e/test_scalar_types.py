"""TIMESTAMPTZ through pymilvus, and Milvus's limits on schemas, each with Milvus's error."""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusException


def _timestamps(milvus, name: str, **props: str) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tsz", DataType.TIMESTAMPTZ, nullable=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index("vec", metric_type="L2")
    milvus.create_collection(name, schema=schema, index_params=index, properties=props)
    milvus.insert(name, [{"id": 1, "tsz": "2025-01-01T00:00:00+08:00", "vec": [1, 0]},
                         {"id": 2, "tsz": "2025-01-03T00:00:00Z", "vec": [1, 1]},
                         {"id": 3, "tsz": None, "vec": [0, 1]},
                         {"id": 4, "tsz": "2025-01-05 12:00:00", "vec": [2, 2]}])


def test_timestamptz_round_trips_filters_and_time_zones(milvus, name: str) -> None:
    _timestamps(milvus, name)
    for _ in range(2):  # growing, then sealed
        rows = {r["id"]: r["tsz"] for r in milvus.query(name, filter="id > 0",
                                                        output_fields=["tsz"])}
        assert rows == {1: "2024-12-31T16:00:00Z", 2: "2025-01-03T00:00:00Z", 3: None,
                        4: "2025-01-05T12:00:00Z"}  # no offset: the collection's zone (UTC)
        got = milvus.query(name, filter="tsz > ISO '2025-01-02T00:00:00+08:00'")
        assert sorted(r["id"] for r in got) == [2, 4]
        got = milvus.query(name, filter="tsz + INTERVAL 'P1D' <= ISO '2025-01-02T16:00:00Z'")
        assert [r["id"] for r in got] == [1]
        got = milvus.query(name, filter="tsz - INTERVAL 'PT12H' == ISO '2025-01-05T00:00:00Z'")
        assert [r["id"] for r in got] == [4]
        assert [r["id"] for r in milvus.query(name, filter="tsz is null")] == [3]
        local = milvus.query(name, filter="id == 1", output_fields=["tsz"],
                             timezone="Asia/Shanghai")
        assert local[0]["tsz"] == "2025-01-01T00:00:00+08:00"
        hits = milvus.search(name, data=[[1, 0]], limit=1, output_fields=["tsz"],
                             filter="tsz < ISO '2025-01-02T00:00:00Z'")[0]
        assert hits[0]["id"] == 1 and hits[0]["entity"]["tsz"] == "2024-12-31T16:00:00Z"
        milvus.flush(name)
    with pytest.raises(MilvusException, match="is not an ISO 8601 date-time"):
        milvus.insert(name, [{"id": 9, "tsz": "yesterday", "vec": [0, 0]}])


def test_collection_time_zone_reads_and_writes_local_time(milvus, name: str) -> None:
    _timestamps(milvus, name, timezone="Asia/Shanghai")
    (row,) = milvus.query(name, filter="id == 4", output_fields=["tsz"])
    assert row["tsz"] == "2025-01-05T12:00:00+08:00"  # read and shown in the collection's zone
    (row,) = milvus.query(name, filter="id == 4", output_fields=["tsz"], timezone="UTC")
    assert row["tsz"] == "2025-01-05T04:00:00Z"
    with pytest.raises(MilvusException, match="invalid time zone"):
        milvus.alter_collection_properties(name, {"timezone": "Mars/Olympus"})


def _schema(milvus, *fields: tuple[str, DataType, dict]) -> object:  # type: ignore[no-untyped-def, type-arg]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    for field_name, dtype, kwargs in fields:
        schema.add_field(field_name, dtype, **kwargs)
    return schema


@pytest.mark.parametrize("fields, code, words", [
    ([("s", DataType.VARCHAR, {"max_length": 65536})], 1100,
     "the maximum length specified for the field(s) should be in (0, 65535]"),
    ([("a", DataType.ARRAY, {"element_type": DataType.INT64, "max_capacity": 4097})], 1100,
     "the maximum capacity specified for a Array should be in (0, 4096]"),
    ([(f"f{i}", DataType.INT8, {}) for i in range(63)], 65535,
     "maximum field's number should be limited to 64"),
    ([(f"v{i}", DataType.FLOAT_VECTOR, {"dim": 2}) for i in range(4)], 65535,
     "maximum vector field's number should be limited to 4"),
    ([("big", DataType.FLOAT_VECTOR, {"dim": 32769})], 65535,
     "float vector dimension should be in range 2 ~ 32768"),
])
def test_schema_limits_use_milvus_codes(milvus, name: str, fields: list, code: int,  # type: ignore[type-arg]
                                        words: str) -> None:
    with pytest.raises(MilvusException) as err:
        milvus.create_collection(name, schema=_schema(milvus, *fields))
    assert err.value.code == code and words in err.value.message, err.value.message


def test_longest_names_and_values_are_accepted(milvus, name: str) -> None:
    schema = _schema(milvus, ("s", DataType.VARCHAR, {"max_length": 65535}),
                     ("x" * 255, DataType.INT64, {"nullable": True}))
    long_name = name + "_" * (255 - len(name))
    index = milvus.prepare_index_params()
    index.add_index("vec")
    milvus.create_collection(long_name, schema=schema, index_params=index)
    milvus.insert(long_name, [{"id": 1, "vec": [1, 0], "s": "y" * 65535}])
    assert len(milvus.query(long_name, filter="id == 1", output_fields=["s"])[0]["s"]) == 65535
    with pytest.raises(MilvusException, match="exceeds max length"):
        milvus.insert(long_name, [{"id": 2, "vec": [1, 0], "s": "y" * 65536}])
    with pytest.raises(MilvusException, match="must be less than 255 characters"):
        milvus.create_collection(long_name + "z", dimension=2)


def test_timestamptz_takes_a_sort_index(milvus, name: str) -> None:
    _timestamps(milvus, name)
    index = milvus.prepare_index_params()
    index.add_index("tsz", index_type="STL_SORT")
    milvus.create_index(name, index)
    assert milvus.describe_index(name, "tsz")["index_type"] == "STL_SORT"
    got = milvus.query(name, filter="tsz >= ISO '2025-01-03T00:00:00Z'")
    assert sorted(r["id"] for r in got) == [2, 4]
