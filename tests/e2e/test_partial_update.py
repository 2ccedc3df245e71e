"""Upsert in merge mode (partial_update=True): the fields a row leaves out keep their values."""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusException


def _collection(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema(enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=64)
    schema.add_field("issue", DataType.VARCHAR, max_length=64, nullable=True)
    schema.add_field("n", DataType.INT64, default_value=7)
    schema.add_field("at", DataType.TIMESTAMPTZ, nullable=True)
    schema.add_field("geo", DataType.GEOMETRY, nullable=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index("v", metric_type="L2")
    milvus.create_collection(name, schema=schema, index_params=index)
    milvus.insert(name, [
        {"id": 1, "title": "a", "issue": "x", "n": 1, "at": "2025-01-01T00:00:00Z",
         "geo": "POINT (1 2)", "v": [0, 0], "author": "John", "year": 2020},
        {"id": 2, "title": "b", "issue": None, "v": [1, 1]},
    ])


def _rows(milvus, name: str) -> dict[int, dict]:  # type: ignore[no-untyped-def, type-arg]
    return {r["id"]: r for r in milvus.query(name, filter="id > 0", output_fields=["*"])}


@pytest.mark.parametrize("sealed", [False, True])
def test_partial_upsert_keeps_the_fields_it_leaves_out(milvus, name: str, sealed: bool) -> None:
    _collection(milvus, name)
    if sealed:
        milvus.flush(name)
    milvus.upsert(name, [{"id": 1, "title": "A", "year": 2021, "genre": "essay"},
                         {"id": 2, "title": "B", "genre": "poem"}], partial_update=True)
    rows = _rows(milvus, name)
    assert rows[1] == {"id": 1, "title": "A", "issue": "x", "n": 1,
                       "at": "2025-01-01T00:00:00Z", "geo": "POINT (1 2)", "v": [0.0, 0.0],
                       "author": "John", "year": 2021, "genre": "essay"}
    assert rows[2] == {"id": 2, "title": "B", "issue": None, "n": 7, "at": None, "geo": None,
                       "v": [1.0, 1.0], "genre": "poem"}
    assert milvus.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"] == 2
    hits = milvus.search(name, data=[[0, 0]], limit=1, output_fields=["title"])[0]
    assert (hits[0]["id"], hits[0]["entity"]["title"]) == (1, "A")


def test_partial_upsert_of_a_new_key_inserts_it(milvus, name: str) -> None:
    _collection(milvus, name)
    with pytest.raises(MilvusException, match="Insert missed an field `title`"):
        milvus.upsert(name, [{"id": 3, "v": [3, 3]}], partial_update=True)
    milvus.upsert(name, [{"id": 3, "title": "c", "v": [3, 3]}], partial_update=True)
    milvus.upsert(name, [{"id": 1, "issue": None}], partial_update=True)
    rows = _rows(milvus, name)
    assert rows[3] == {"id": 3, "title": "c", "issue": None, "n": 7, "at": None, "geo": None,
                       "v": [3.0, 3.0]}
    assert rows[1]["issue"] is None and rows[1]["title"] == "a"  # set to null on purpose


def test_plain_upsert_still_replaces_the_whole_row(milvus, name: str) -> None:
    _collection(milvus, name)
    milvus.upsert(name, [{"id": 1, "title": "A", "v": [5, 5]}])
    row = _rows(milvus, name)[1]
    assert row == {"id": 1, "title": "A", "issue": None, "n": 7, "at": None, "geo": None,
                   "v": [5.0, 5.0]}
