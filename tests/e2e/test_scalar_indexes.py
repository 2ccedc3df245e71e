"""Scalar indexes through pymilvus: created, described, used by filters with unchanged results."""

from __future__ import annotations

import re

import pytest
from pymilvus import DataType, MilvusException

FILTERS = ["num < 100", "num >= 10 and num < 20", "num != 5", "num in [1, 2, 3.0, 4.5]",
           'tag like "tag_01%"', 'tag like "%g_012%"', 'tag == "tag_0001"', 'meta["a"] < 10',
           'meta["a"] in [1, 2.0]', 'meta["a"] != 5', 'meta["b"] == "s3"',
           "array_contains(arr, 3)", "array_contains_all(arr, [1, 2])",
           "array_contains_any(arr, [1, 2]) and num > 500"]


def _collection(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("num", DataType.INT64, nullable=True)
    schema.add_field("tag", DataType.VARCHAR, max_length=32)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("arr", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index("v", metric_type="L2", index_type="FLAT")
    milvus.create_collection(name, schema=schema, index_params=index)
    milvus.insert(name, [
        {"id": i, "num": (i * 37) % 1000 if i % 7 else None, "tag": f"tag_{(i * 13) % 1000:04d}",
         "meta": {"a": (i * 11) % 100, "b": f"s{i % 10}"} if i % 5 else {"a": "text"},
         "arr": [(i + k) % 50 for k in range(i % 5)], "v": [0.0, 0.0]} for i in range(3000)])


def _counts(milvus, name: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [milvus.query(name, filter=f, output_fields=["count(*)"])[0]["count(*)"]
            for f in FILTERS]


def test_scalar_indexes_leave_results_unchanged(milvus, name: str) -> None:
    _collection(milvus, name)
    milvus.flush(name)
    scanned = _counts(milvus, name)
    milvus.release_collection(name)
    index = milvus.prepare_index_params()
    index.add_index("num", index_type="STL_SORT")
    index.add_index("tag", index_type="NGRAM", min_gram=2, max_gram=4)
    index.add_index("meta", index_type="INVERTED", index_name="meta_a",
                    json_path='meta["a"]', json_cast_type="double")
    index.add_index("meta", index_type="AUTOINDEX", index_name="meta_b",
                    json_path='meta["b"]', json_cast_type="VARCHAR")
    index.add_index("arr", index_type="INVERTED")
    milvus.create_index(name, index)
    milvus.load_collection(name)
    assert _counts(milvus, name) == scanned
    described = milvus.describe_index(name, "meta_a")
    assert described["json_path"] == 'meta["a"]' and described["index_type"] == "INVERTED"
    assert sorted(milvus.list_indexes(name)) == ["arr", "meta_a", "meta_b", "num", "tag", "v"]


@pytest.mark.parametrize("field, params, words", [
    ("meta", {"index_type": "INVERTED", "json_cast_type": "DOUBLE"},
     "json index must specify json path"),
    ("meta", {"index_type": "INVERTED", "json_path": 'meta["a"]'},
     "json index must specify cast type"),
    ("meta", {"index_type": "INVERTED", "json_path": 'meta["a"]', "json_cast_type": "float"},
     "json_cast_type float is not supported"),
    ("meta", {"index_type": "INVERTED", "json_path": 'other["a"]', "json_cast_type": "double"},
     "is not a path within JSON field meta"),
    ("meta", {"index_type": "STL_SORT", "json_path": 'meta["a"]', "json_cast_type": "double"},
     "STL_SORT are not supported on JSON field"),
    ("tag", {"index_type": "NGRAM", "min_gram": 3, "max_gram": 2}, "min_gram (3) should not be"),
    ("tag", {"index_type": "NGRAM"}, "param 'min_gram' is required"),
    ("num", {"index_type": "NGRAM", "min_gram": 1, "max_gram": 2},
     "NGRAM are not supported on Int64 field"),
])
def test_bad_scalar_index_requests_are_refused(milvus, name: str, field: str, params: dict,  # type: ignore[type-arg]
                                               words: str) -> None:
    _collection(milvus, name)
    milvus.release_collection(name)
    index = milvus.prepare_index_params()
    params = dict(params)
    kind = params.pop("index_type")
    index.add_index(field, index_type=kind, **params)
    with pytest.raises(MilvusException, match=re.escape(words)):
        milvus.create_index(name, index)


def test_random_sample_in_a_query(milvus, name: str) -> None:
    _collection(milvus, name)
    rows = milvus.query(name, filter="num >= 0 and RANDOM_SAMPLE(0.1)", output_fields=["num"])
    total = milvus.query(name, filter="num >= 0", output_fields=["count(*)"])[0]["count(*)"]
    assert len(rows) == round(total * 0.1) and all(r["num"] >= 0 for r in rows)


def test_path_indexes_on_dynamic_keys_are_named_by_their_path(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    milvus.insert(name, [{"id": i, "vector": [1.0, i], "my_json": {"a": {"b": i}, "c": f"s{i}"}}
                         for i in range(200)])
    milvus.flush(name)
    milvus.release_collection(name)
    index = milvus.prepare_index_params()
    index.add_index("my_json", index_type="INVERTED",
                    params={"json_cast_type": "DOUBLE", "json_path": "my_json['a']['b']"})
    index.add_index("my_json", index_type="INVERTED",
                    params={"json_cast_type": "VARCHAR", "json_path": "my_json['c']"})
    milvus.create_index(name, index)
    assert sorted(milvus.list_indexes(name)) == ["my_json/a/b", "my_json/c", "vector"]
    described = milvus.describe_index(name, "my_json/a/b")
    assert (described["field_name"], described["json_path"]) == ("my_json", "my_json['a']['b']")
    milvus.load_collection(name)
    count = milvus.query(name, filter='my_json["a"]["b"] < 50 and my_json["c"] != "s3"',
                         output_fields=["count(*)"])
    assert count[0]["count(*)"] == 49
    for params, missing in (({"json_path": "my_json['a']"}, "cast type"),
                            ({"json_cast_type": "DOUBLE"}, "json path")):
        bad = milvus.prepare_index_params()
        bad.add_index("other", index_type="INVERTED", params=params)
        with pytest.raises(MilvusException, match=f"json index must specify {missing}: missing "
                                                  r"parameter\[missing_param=") as err:
            milvus.create_index(name, bad)
        assert err.value.code == 1100


def test_index_on_a_missing_field_without_dynamic_field(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2, enable_dynamic_field=False)
    index = milvus.prepare_index_params()
    index.add_index("my_json", index_type="INVERTED",
                    params={"json_cast_type": "DOUBLE", "json_path": "my_json['a']"})
    with pytest.raises(MilvusException, match="cannot create index on non-exist field: "
                                              "my_json") as err:
        milvus.create_index(name, index)
    assert err.value.code == 65535
    with pytest.raises(MilvusException, match=r"collection not found\[database=default\]"
                                              r"\[collection=12-s\]") as err:
        milvus.create_index("12-s", index)
    assert err.value.code == 100
