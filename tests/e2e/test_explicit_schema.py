"""Explicit schemas: every scalar type of this build round-trips; indexes of each served type."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException


def _schema(milvus, *, dynamic: bool = False, pk: DataType = DataType.INT64):
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=dynamic)
    if pk == DataType.VARCHAR:
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
    else:
        schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("emb", DataType.FLOAT_VECTOR, dim=6)
    schema.add_field("flag", DataType.BOOL)
    schema.add_field("i8", DataType.INT8)
    schema.add_field("i16", DataType.INT16)
    schema.add_field("i32", DataType.INT32)
    schema.add_field("i64", DataType.INT64)
    schema.add_field("f32", DataType.FLOAT)
    schema.add_field("f64", DataType.DOUBLE)
    schema.add_field("title", DataType.VARCHAR, max_length=20)
    schema.add_field("doc", DataType.JSON)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4,
                     max_length=10)
    schema.add_field("nums", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
    return schema


def _rows(n: int, string_pk: bool = False) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{
        "pk": f"p{i}" if string_pk else i, "emb": rng.random(6).tolist(), "flag": i % 2 == 0,
        "i8": i % 100 - 5, "i16": i * 100, "i32": i * 10_000, "i64": i * 10**12, "f32": i / 4,
        "f64": i / 3, "title": f"title {i}", "doc": {"n": i, "kind": ["a", "b"][i % 2],
                                                      "nested": {"x": i * 2}},
        "tags": [f"t{i % 3}", "all"], "nums": list(range(i % 5)),
    } for i in range(n)]


def _index(milvus, field: str = "emb", **kw):
    params = milvus.prepare_index_params()
    params.add_index(field_name=field, **kw)
    return params


def test_every_scalar_type_round_trips(milvus, name: str) -> None:
    milvus.create_collection(name, schema=_schema(milvus),
                             index_params=_index(milvus, index_type="FLAT", metric_type="L2"))
    rows = _rows(12)
    assert milvus.insert(name, rows)["insert_count"] == 12
    got = milvus.query(name, filter="pk >= 0", output_fields=["*"])
    by_pk = {r["pk"]: r for r in got}
    for want in rows:
        have = by_pk[want["pk"]]
        for key, value in want.items():
            if isinstance(value, float) or key == "emb":
                assert have[key] == pytest.approx(value, rel=1e-6)
            else:
                assert have[key] == value, key
    milvus.flush(name)
    again = milvus.query(name, filter="i16 > 500 and flag == true", output_fields=["i16"])
    assert sorted(r["pk"] for r in again) == [6, 8, 10]


def test_filters_over_scalar_fields(milvus, name: str) -> None:
    milvus.create_collection(name, schema=_schema(milvus),
                             index_params=_index(milvus, index_type="FLAT", metric_type="IP"))
    milvus.insert(name, _rows(20))

    def pks(flt: str) -> list[int]:
        return sorted(r["pk"] for r in milvus.query(name, filter=flt, output_fields=["pk"]))

    assert pks("i32 in [10000, 30000, 99]") == [1, 3]
    assert pks("i32 not in [0, 10000] and pk < 4") == [2, 3]
    assert pks("not (pk >= 2)") == [0, 1]
    assert pks("title == 'title 7' or f64 > 6.2") == [7, 19]
    assert pks('doc["kind"] == "b" and pk < 6') == [1, 3, 5]
    assert pks("array_contains(tags, 't1') and pk < 10") == [1, 4, 7]
    assert pks("1 < pk <= 3") == [2, 3]
    assert pks('title like "title 1%"') == [1] + list(range(10, 20))


def test_varchar_primary_key_schema(milvus, name: str) -> None:
    milvus.create_collection(name, schema=_schema(milvus, pk=DataType.VARCHAR),
                             index_params=_index(milvus, metric_type="COSINE"))
    rows = _rows(5, string_pk=True)
    milvus.insert(name, rows)
    hits = milvus.search(name, data=[rows[2]["emb"]], limit=2, output_fields=["title"])
    assert hits[0][0]["pk"] == "p2" and hits[0][0]["entity"]["title"] == "title 2"
    assert milvus.delete(name, ids=["p0", "p1"])["delete_count"] == 2
    assert sorted(r["pk"] for r in milvus.query(name, filter="i8 < 100")) == ["p2", "p3", "p4"]


@pytest.mark.parametrize("index_type, params", [
    ("FLAT", {}), ("HNSW", {"M": 8, "efConstruction": 64}), ("IVF_FLAT", {"nlist": 4}),
    ("AUTOINDEX", {}),
])
def test_index_types_describe_and_search(milvus, name: str, index_type: str, params: dict) -> None:
    milvus.create_collection(name, schema=_schema(milvus))
    milvus.create_index(name, _index(milvus, index_type=index_type, metric_type="L2",
                                     params=params))
    assert milvus.list_indexes(name) == ["emb"]
    desc = milvus.describe_index(name, "emb")
    assert desc["index_type"] == index_type and desc["metric_type"] == "L2"
    for key, value in params.items():
        assert str(desc[key]) == str(value)
    milvus.load_collection(name)
    rows = _rows(300)
    milvus.insert(name, rows)
    milvus.flush(name)
    search_params = {"ef": 64} if index_type == "HNSW" else {"nprobe": 4}
    hits = milvus.search(name, data=[rows[123]["emb"]], limit=3,
                         search_params={"metric_type": "L2", "params": search_params})
    assert hits[0][0]["pk"] == 123
    assert hits[0][0]["distance"] == pytest.approx(0.0, abs=1e-5)
    milvus.release_collection(name)
    milvus.drop_index(name, "emb")
    assert milvus.list_indexes(name) == []


def test_index_mmap_property_is_altered_and_reset_while_released(milvus, name: str) -> None:
    milvus.create_collection(name, schema=_schema(milvus),
                             index_params=_index(milvus, index_type="HNSW", metric_type="L2"))
    milvus.load_collection(name)
    with pytest.raises(MilvusException, match="can not alter mmap properties if collection "
                                              "loaded"):
        milvus.alter_index_properties(name, "emb", {"mmap.enabled": True})
    milvus.release_collection(name)
    milvus.alter_index_properties(name, "emb", {"mmap.enabled": True})
    assert milvus.describe_index(name, "emb")["mmap.enabled"] == "true"
    for bad, text in (({"mmap.enabled": "maybe"}, "invalid mmap.enabled value"),
                      ({"ef": 10}, "ef is not a configurable index property")):
        with pytest.raises(MilvusException, match=text) as err:
            milvus.alter_index_properties(name, "emb", bad)
        assert err.value.code == 1100
    with pytest.raises(MilvusException, match="index not found"):
        milvus.alter_index_properties(name, "nope", {"mmap.enabled": False})
    milvus.drop_index_properties(name, "emb", ["mmap.enabled"])
    assert "mmap.enabled" not in milvus.describe_index(name, "emb")
    milvus.load_collection(name)
    milvus.insert(name, _rows(10))
    assert milvus.search(name, data=[_rows(10)[3]["emb"]], limit=1)[0][0]["pk"] == 3


def test_scalar_autoindex_is_accepted_and_listed(milvus, name: str) -> None:
    milvus.create_collection(name, schema=_schema(milvus),
                             index_params=_index(milvus, metric_type="COSINE"))
    milvus.create_index(name, _index(milvus, field="i32"))
    assert sorted(milvus.list_indexes(name)) == ["emb", "i32"]
    assert milvus.describe_index(name, "i32")["index_type"] == "AUTOINDEX"


def test_insert_of_64_megabytes_in_one_request(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=768)
    vectors = np.random.default_rng(1).random((21_000, 768), dtype=np.float32)
    res = milvus.insert(name, [{"id": i, "vector": v} for i, v in enumerate(vectors)])
    assert res["insert_count"] == 21_000
    hits = milvus.search(name, data=[vectors[20_999]], limit=1)
    assert hits[0][0]["id"] == 20_999


def test_nullable_and_default_fields(milvus, name: str) -> None:
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("age", DataType.INT32, nullable=True)
    schema.add_field("city", DataType.VARCHAR, max_length=16, default_value="Paris")
    index = milvus.prepare_index_params()
    index.add_index("v", metric_type="L2")
    milvus.create_collection(name, schema=schema, index_params=index)
    milvus.insert(name, [
        {"id": 1, "v": [0, 1], "age": 30, "city": "Rome"},
        {"id": 2, "v": [1, 0], "age": None},
        {"id": 3, "v": [1, 1]},
    ])
    rows = {r["id"]: r for r in milvus.query(name, filter="id > 0", output_fields=["age", "city"])}
    assert (rows[1]["age"], rows[1]["city"]) == (30, "Rome")
    assert (rows[2]["age"], rows[2]["city"]) == (None, "Paris")
    assert (rows[3]["age"], rows[3]["city"]) == (None, "Paris")
    assert [r["id"] for r in milvus.query(name, filter="age is null")] == [2, 3]
    assert [r["id"] for r in milvus.query(name, filter="age > 10")] == [1]
    fields = {f["name"]: f for f in milvus.describe_collection(name)["fields"]}
    assert fields["age"].get("nullable") is True
    assert fields["city"].get("default_value") is not None
