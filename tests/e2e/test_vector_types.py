"""Every vector type through pymilvus, in every input form it sends: insert, get, query, search.

pymilvus returns float16, bfloat16, int8 and binary vectors as raw bytes (a one-element list from
get/query, plain bytes from search hits) and sparse vectors as {index: value} dicts.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from pymilvus import DataType, MilvusException
from scipy.sparse import csr_matrix

DIM = 16
RNG = np.random.default_rng(3)


def _collection(milvus, name: str, dtype: DataType, index: dict | None = None) -> None:  # type: ignore[no-untyped-def, type-arg]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    if dtype == DataType.SPARSE_FLOAT_VECTOR:
        schema.add_field("v", dtype)
    else:
        schema.add_field("v", dtype, dim=DIM)
    params = milvus.prepare_index_params()
    params.add_index("v", **(index or {}))
    milvus.create_collection(name, schema=schema, index_params=params)


def _bytes_of(value) -> bytes:  # type: ignore[no-untyped-def]
    return value[0] if isinstance(value, list) else value


def _round_trip(milvus, name: str, rows: list, stored: list[bytes],  # type: ignore[no-untyped-def, type-arg]
                query: object = None) -> None:
    """Insert `rows`, then check get, query and search return `stored` (the bytes Milvus keeps)
    and that row 2 (or `query`) finds row 2 first."""
    milvus.insert(name, [{"id": i, "v": r} for i, r in enumerate(rows)])
    for _ in range(2):  # growing, then sealed
        got = milvus.get(name, ids=list(range(len(rows))), output_fields=["v"])
        assert [_bytes_of(r["v"]) for r in sorted(got, key=lambda r: r["id"])] == stored
        assert isinstance(got[0]["v"], list)  # query and get wrap byte vectors in a list
        hits = milvus.search(name, data=[rows[2] if query is None else query], limit=3,
                             anns_field="v", output_fields=["v"])[0]
        assert hits[0]["id"] == 2 and hits[0]["entity"]["v"] == stored[2]
        milvus.flush(name)


@pytest.mark.parametrize("form", ["numpy", "bytes", "floats"])
def test_float16_vectors(milvus, name: str, form: str) -> None:
    _collection(milvus, name, DataType.FLOAT16_VECTOR, {"index_type": "HNSW", "metric_type": "L2"})
    values = RNG.random((10, DIM)).astype(np.float16)
    rows = {"numpy": list(values), "bytes": [v.tobytes() for v in values],
            "floats": [v.astype(np.float32).tolist() for v in values]}[form]
    _round_trip(milvus, name, rows, [v.tobytes() for v in values])


@pytest.mark.parametrize("form", ["numpy", "bytes", "floats"])
def test_bfloat16_vectors(milvus, name: str, form: str) -> None:
    _collection(milvus, name, DataType.BFLOAT16_VECTOR)  # AUTOINDEX, COSINE
    values = RNG.random((10, DIM)).astype(ml_dtypes.bfloat16)
    rows = {"numpy": list(values), "bytes": [v.tobytes() for v in values],
            "floats": [v.astype(np.float32).tolist() for v in values]}[form]
    _round_trip(milvus, name, rows, [v.tobytes() for v in values])


@pytest.mark.parametrize("form", ["numpy", "bytes"])
def test_int8_vectors(milvus, name: str, form: str) -> None:
    _collection(milvus, name, DataType.INT8_VECTOR, {"index_type": "HNSW", "metric_type": "L2"})
    values = RNG.integers(-128, 128, (10, DIM)).astype(np.int8)
    rows = list(values) if form == "numpy" else [v.tobytes() for v in values]
    _round_trip(milvus, name, rows, [v.tobytes() for v in values])


@pytest.mark.parametrize("form", ["bytes", "ints", "numpy"])
def test_binary_vectors(milvus, name: str, form: str) -> None:
    _collection(milvus, name, DataType.BINARY_VECTOR)  # AUTOINDEX, HAMMING
    values = RNG.integers(0, 256, (10, DIM // 8)).astype(np.uint8)
    values[:, 0] = np.arange(10) * 25  # rows differ, so each finds itself first
    rows = {"bytes": [v.tobytes() for v in values], "ints": [v.tolist() for v in values],
            "numpy": list(values)}[form]
    _round_trip(milvus, name, rows, [v.tobytes() for v in values], values[2].tobytes())
    hits = milvus.search(name, data=[values[4].tobytes()], limit=1, anns_field="v")[0]
    assert hits[0]["id"] == 4 and hits[0]["distance"] == 0.0
    assert milvus.describe_index(name, "v")["metric_type"] == "HAMMING"


def test_binary_jaccard_and_dim_rule(milvus, name: str) -> None:
    _collection(milvus, name, DataType.BINARY_VECTOR,
                {"index_type": "BIN_IVF_FLAT", "metric_type": "JACCARD", "nlist": 4})
    a, b = bytes([0b11110000, 0]), bytes([0b11000000, 0])
    milvus.insert(name, [{"id": 1, "v": a}, {"id": 2, "v": b}])
    milvus.flush(name)
    hits = milvus.search(name, data=[a], limit=2, anns_field="v")[0]
    assert [(h["id"], h["distance"]) for h in hits] == [(1, 0.0), (2, 0.5)]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.BINARY_VECTOR, dim=12)
    with pytest.raises(MilvusException, match="binary vector dimension should be multiple of 8"):
        milvus.create_collection(f"{name}_bad", schema=schema)


def _sparse(n: int) -> list[dict[int, float]]:
    return [{int(i): float(v) for i, v in zip(RNG.choice(10_000, 6, replace=False),
                                              RNG.random(6) + 0.1)} for _ in range(n)]


@pytest.mark.parametrize("form", ["dict", "pairs", "scipy"])
def test_sparse_vectors(milvus, name: str, form: str) -> None:
    _collection(milvus, name, DataType.SPARSE_FLOAT_VECTOR,
                {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"})
    values = _sparse(10)
    if form == "dict":
        rows: list = values  # type: ignore[type-arg]
    elif form == "pairs":
        rows = [list(v.items()) for v in values]
    else:
        rows = [csr_matrix((list(v.values()), ([0] * len(v), list(v.keys()))), shape=(1, 10_000))
                for v in values]
    milvus.insert(name, [{"id": i, "v": r} for i, r in enumerate(rows)])
    for _ in range(2):
        got = sorted(milvus.query(name, filter="id >= 0", output_fields=["v"]),
                     key=lambda r: r["id"])
        assert [{k: pytest.approx(v) for k, v in r["v"].items()} for r in got] == values
        hits = milvus.search(name, data=[values[2]], limit=3, anns_field="v",
                             output_fields=["v"])[0]
        expected = sum(v * v for v in values[2].values())
        assert hits[0]["id"] == 2 and hits[0]["distance"] == pytest.approx(expected, rel=1e-5)
        milvus.flush(name)
    assert milvus.search(name, data=[{999_999: 1.0}], limit=3, anns_field="v")[0] == []


def test_several_vector_fields_and_their_limit(milvus, name: str) -> None:
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("half", DataType.FLOAT16_VECTOR, dim=4)
    schema.add_field("bits", DataType.BINARY_VECTOR, dim=8)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    params = milvus.prepare_index_params()
    for field in ("dense", "half", "bits", "sparse"):
        params.add_index(field)
    milvus.create_collection(name, schema=schema, index_params=params)
    milvus.insert(name, [{"id": i, "dense": [1, i, 0, 0], "half": [0, 0, 1, i],
                          "bits": bytes([i]), "sparse": {i: 1.0}} for i in range(1, 6)])
    assert milvus.search(name, data=[{3: 1.0}], anns_field="sparse", limit=1)[0][0]["id"] == 3
    assert milvus.search(name, data=[bytes([4])], anns_field="bits", limit=1)[0][0]["id"] == 4
    assert milvus.search(name, data=[[0, 0, 1, 5]], anns_field="half", limit=1)[0][0]["id"] == 5
    schema.add_field("fifth", DataType.FLOAT_VECTOR, dim=4)
    with pytest.raises(MilvusException, match="maximum vector field's number should be limited"):
        milvus.create_collection(f"{name}_5", schema=schema)


def test_bad_vector_data_is_refused(milvus, name: str) -> None:
    _collection(milvus, name, DataType.FLOAT16_VECTOR, {"metric_type": "L2"})
    with pytest.raises(MilvusException, match="dim"):
        milvus.insert(name, [{"id": 1, "v": np.ones(DIM + 2, np.float16)}])
    with pytest.raises(MilvusException, match="float16"):
        milvus.insert(name, [{"id": 1, "v": [1e6] * DIM}])
    milvus.insert(name, [{"id": 1, "v": np.ones(DIM, np.float16)}])
    assert milvus.query(name, filter="id >= 0", output_fields=["count(*)"])[0]["count(*)"] == 1


NULLABLE = [
    (DataType.FLOAT_VECTOR, lambda i: [float(i), 1.0]),
    (DataType.FLOAT16_VECTOR, lambda i: np.array([i, 1], np.float16)),
    (DataType.BFLOAT16_VECTOR, lambda i: np.array([i, 1], ml_dtypes.bfloat16)),
    (DataType.INT8_VECTOR, lambda i: np.array([i, 1], np.int8)),
    (DataType.BINARY_VECTOR, lambda i: bytes([i])),
    (DataType.SPARSE_FLOAT_VECTOR, lambda i: {0: float(i), 1: 1.0}),
]


@pytest.mark.parametrize("dtype, make", NULLABLE, ids=[d.name for d, _ in NULLABLE])
def test_nullable_vectors_are_stored_returned_and_never_hit(milvus, name: str, dtype: DataType,
                                                            make) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=2)
    dim = {DataType.BINARY_VECTOR: 8, DataType.SPARSE_FLOAT_VECTOR: None}.get(dtype, 2)
    schema.add_field("v", dtype, nullable=True, **({"dim": dim} if dim else {}))
    params = milvus.prepare_index_params()
    params.add_index("dense", metric_type="L2")
    params.add_index("v")  # AUTOINDEX with the type's default metric
    milvus.create_collection(name, schema=schema, index_params=params)
    rows = [{"id": i, "dense": [i, 0], "v": make(i) if i % 3 else None} for i in range(1, 10)]
    del rows[0]["v"]  # omitted: null as well
    milvus.insert(name, rows)
    for _ in range(2):  # growing, then sealed
        got = {r["id"]: r["v"] for r in milvus.query(name, filter="id > 0", output_fields=["v"])}
        assert [i for i, v in got.items() if v is None] == [1, 3, 6, 9]
        hits = milvus.search(name, data=[make(5)], anns_field="v", limit=9, output_fields=["v"])
        assert sorted(h["id"] for h in hits[0]) == [2, 4, 5, 7, 8]  # null rows are never hits
        by_dense = milvus.search(name, data=[[3, 0]], anns_field="dense", limit=2,
                                 output_fields=["v"])[0]
        assert (by_dense[0]["id"], by_dense[0]["entity"]["v"]) == (3, None)
        milvus.flush(name)
    with pytest.raises(MilvusException, match="cannot be filtered"):
        milvus.query(name, filter="v is null")


def test_vector_field_added_to_populated_collection(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    milvus.insert(name, [{"id": i, "vector": [i, 1]} for i in range(6)])
    milvus.flush(name)
    with pytest.raises(MilvusException, match="(?i)nullable"):  # pymilvus 3 refuses it first
        milvus.add_collection_field(name, "extra", DataType.FLOAT_VECTOR, dim=3)
    milvus.release_collection(name)
    milvus.add_collection_field(name, "extra", DataType.FLOAT_VECTOR, dim=3, nullable=True)
    with pytest.raises(MilvusException, match="there is no vector index on field: \\[extra\\]"):
        milvus.load_collection(name)
    params = milvus.prepare_index_params()
    params.add_index("extra", metric_type="COSINE", index_type="HNSW")
    milvus.create_index(name, params)
    milvus.load_collection(name)
    milvus.upsert(name, [{"id": 4, "vector": [4, 1], "extra": [1, 2, 3]},
                         {"id": 9, "vector": [9, 1], "extra": [3, 2, 1]}])
    hits = milvus.search(name, data=[[1, 2, 3]], anns_field="extra", limit=10,
                         output_fields=["extra"])[0]
    assert [h["id"] for h in hits] == [4, 9]  # the old rows have no vector yet
    assert hits[0]["entity"]["extra"] == pytest.approx([1, 2, 3])
    rows = milvus.query(name, filter="id < 4", output_fields=["extra"])
    assert [r["extra"] for r in rows] == [None] * 4
    for field in ("f3", "f4"):
        milvus.add_collection_field(name, field, DataType.FLOAT_VECTOR, dim=2, nullable=True)
    with pytest.raises(MilvusException, match="maximum vector field's number should be limited"):
        milvus.add_collection_field(name, "f5", DataType.FLOAT_VECTOR, dim=2, nullable=True)
