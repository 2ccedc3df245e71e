"""Every quantized dense index type through pymilvus: create_index with its params, describe it,
search with its search params against brute force, and keep it across a restart unrebuilt."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from tests.conftest import Server

DIM, ROWS, K = 32, 3000, 10
RNG = np.random.default_rng(11)
CENTERS = RNG.normal(size=(30, DIM)).astype(np.float32)
VECTORS = (CENTERS[RNG.integers(0, 30, ROWS)] + 0.5 * RNG.normal(size=(ROWS, DIM))).astype(
    np.float32)
QUERIES = VECTORS[RNG.choice(ROWS, 20, replace=False)] + 0.1

# index type -> (build params, search params, recall@10 floor against brute force)
TYPES: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {
    "IVF_SQ8": ({"nlist": 32}, {"nprobe": 16}, 0.8),
    "IVF_PQ": ({"nlist": 32, "m": 8, "nbits": 8}, {"nprobe": 16}, 0.5),
    "IVF_RABITQ": ({"nlist": 32, "refine": True, "refine_type": "SQ8"},
                   {"nprobe": 16, "rbq_query_bits": 0, "refine_k": 3}, 0.8),
    "SCANN": ({"nlist": 32, "with_raw_data": True}, {"nprobe": 16, "reorder_k": 40}, 0.8),
    "HNSW_SQ": ({"M": 16, "efConstruction": 64, "sq_type": "SQ8"}, {"ef": 48}, 0.85),
    "HNSW_PQ": ({"M": 16, "efConstruction": 64, "m": 8, "nbits": 8, "refine": True,
                 "refine_type": "FP32"}, {"ef": 48, "refine_k": 3}, 0.85),
    "HNSW_PRQ": ({"M": 16, "efConstruction": 64, "m": 4, "nbits": 6, "nrq": 2, "refine": True,
                  "refine_type": "FP16"}, {"ef": 48, "refine_k": 3}, 0.85),
    "DISKANN": ({"max_degree": 32, "search_list_size": 64}, {"search_list": 40}, 0.9),
}


def _collection(milvus, name: str, index_type: str, params: dict[str, Any],  # type: ignore[no-untyped-def]
                metric: str, dtype: DataType = DataType.FLOAT_VECTOR) -> None:
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", dtype, dim=DIM)
    index = milvus.prepare_index_params()
    index.add_index("v", index_type=index_type, metric_type=metric, params=params)
    milvus.create_collection(name, schema=schema, index_params=index)


def _fill(milvus, name: str, vectors: Any = VECTORS) -> None:  # type: ignore[no-untyped-def]
    for lo in range(0, len(vectors), 1000):
        milvus.insert(name, [{"id": lo + i, "v": v} for i, v in enumerate(vectors[lo: lo + 1000])])
    milvus.flush(name)
    deadline = time.monotonic() + 60
    while milvus.describe_index(name, "v")["indexed_rows"] < len(vectors):
        assert time.monotonic() < deadline, "index not built in 60 s"
        time.sleep(0.05)


def _exact(metric: str, k: int = K) -> np.ndarray:
    base, queries = VECTORS, QUERIES
    if metric == "COSINE":
        base = base / np.linalg.norm(base, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    if metric == "L2":
        scores = -((queries[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    else:
        scores = queries @ base.T
    return np.argsort(-scores, axis=1)[:, :k]


def _search(milvus, name: str, metric: str, params: dict[str, Any], **kw: Any) -> list[list[int]]:  # type: ignore[no-untyped-def]
    hits = milvus.search(name, data=QUERIES.tolist(), limit=K, anns_field="v",
                         search_params={"metric_type": metric, "params": params}, **kw)
    return [[h["id"] for h in q] for q in hits]


def _recall(got: list[list[int]], want: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(w.tolist())) / len(w) for g, w in zip(got, want)]))


@pytest.mark.parametrize("index_type", list(TYPES))
def test_index_type_builds_describes_and_searches(milvus, name: str, index_type: str) -> None:
    build, search, floor = TYPES[index_type]
    metric = {"IVF_SQ8": "IP", "HNSW_SQ": "COSINE", "DISKANN": "COSINE"}.get(index_type, "L2")
    _collection(milvus, name, index_type, build, metric)
    _fill(milvus, name)
    described = milvus.describe_index(name, "v")
    assert described["index_type"] == index_type and described["metric_type"] == metric
    for key, value in build.items():
        assert str(described[key]) == str(value)
    got = _search(milvus, name, metric, search)
    assert _recall(got, _exact(metric)) >= floor
    filtered = _search(milvus, name, metric, search, filter="id < 40")
    assert all(len(q) == K and all(i < 40 for i in q) for q in filtered)


def test_quantized_indexes_check_params_as_milvus(milvus, name: str) -> None:
    with pytest.raises(MilvusException, match="should be a multiple of the number of subq") as err:
        _collection(milvus, f"{name}_pq", "IVF_PQ", {"nlist": 8, "m": 5}, "L2")
    assert err.value.code == 1100
    with pytest.raises(MilvusException, match="can't build with this index IVF_RABITQ"):
        _collection(milvus, f"{name}_i8", "IVF_RABITQ", {}, "L2", DataType.INT8_VECTOR)
    _collection(milvus, name, "HNSW_SQ", {"M": 8, "efConstruction": 32}, "L2")
    _fill(milvus, name, VECTORS[:300])
    with pytest.raises(MilvusException, match=r"ef\(5\) should be larger than k\(10\)"):
        _search(milvus, name, "L2", {"ef": 5})
    assert all(len(q) == K for q in _search(milvus, name, "L2", {"ef": 16, "unknown_key": 1}))
    # A range search asks segments for more than its limit: ef below it is no error there.
    ranged = milvus.search(name, data=QUERIES[:2].tolist(), limit=20, anns_field="v",
                           search_params={"params": {"ef": 10, "radius": 1e9}})
    assert [len(q) for q in ranged] == [20, 20]


def test_half_precision_and_int8_vectors_use_quantized_indexes(milvus, name: str) -> None:
    _collection(milvus, name, "HNSW_PQ", {"M": 8, "efConstruction": 32, "m": 8, "nbits": 4},
                "L2", DataType.FLOAT16_VECTOR)
    half = VECTORS[:500].astype(np.float16)
    _fill(milvus, name, list(half))
    hits = milvus.search(name, data=[half[7]], limit=1, anns_field="v",
                         search_params={"params": {"ef": 32}})
    assert hits[0][0]["id"] == 7
    ints = np.clip(np.round(VECTORS[:500] * 20), -128, 127).astype(np.int8)
    _collection(milvus, f"{name}_i8", "IVF_SQ8", {"nlist": 8}, "L2", DataType.INT8_VECTOR)
    _fill(milvus, f"{name}_i8", list(ints))
    hits = milvus.search(f"{name}_i8", data=[ints[9]], limit=1, anns_field="v",
                         search_params={"params": {"nprobe": 8}})
    assert hits[0][0]["id"] == 9


def _index_files(data: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in data.rglob("*") if "indexes" in p.parts
            and p.is_file()}


def test_quantized_indexes_survive_a_restart_unrebuilt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    kinds = {"DISKANN": "L2", "IVF_RABITQ": "IP"}
    server = Server(data).start()
    try:
        client = MilvusClient(uri=server.uri)
        before = {}
        for index_type, metric in kinds.items():
            _collection(client, index_type.lower(), index_type, TYPES[index_type][0], metric)
            _fill(client, index_type.lower())
            before[index_type] = _search(client, index_type.lower(), metric,
                                         TYPES[index_type][1])
        client.close()
    finally:
        server.stop()
    files = _index_files(data)
    assert len(files) >= len(kinds)
    server = Server(data).start()
    try:
        client = MilvusClient(uri=server.uri)
        for index_type, metric in kinds.items():
            client.load_collection(index_type.lower())
            assert client.describe_index(index_type.lower(), "v")["indexed_rows"] == ROWS
            again = _search(client, index_type.lower(), metric, TYPES[index_type][1])
            assert again == before[index_type]
        client.close()
    finally:
        server.stop()
    assert _index_files(data) == files  # loaded from the stored files, not built again


def _minhash(sets: list[set[int]], hashes: int = 64) -> np.ndarray:
    """32-bit MinHash signatures of integer sets, little-endian, as BINARY_VECTOR bytes."""
    rng = np.random.default_rng(5)
    a = rng.integers(1, 2**31 - 1, hashes, dtype=np.uint64)
    b = rng.integers(0, 2**31 - 1, hashes, dtype=np.uint64)
    out = np.empty((len(sets), hashes), dtype=np.uint32)
    for i, members in enumerate(sets):
        x = np.fromiter(members, dtype=np.uint64)[:, None]
        out[i] = ((a * x + b) % np.uint64(2**31 - 1)).min(axis=0)
    return out.astype("<u4").view(np.uint8)


@pytest.mark.parametrize("index_type", ["MINHASH_LSH", "BIN_FLAT"])
def test_minhash_signatures_find_the_most_similar_sets(milvus, name: str, index_type: str) -> None:
    rng = np.random.default_rng(8)
    sets = [set(rng.choice(10_000, 60, replace=False).tolist()) for _ in range(400)]
    query = set(list(sets[17])[:45]) | {20_001, 20_002}  # about 0.7 Jaccard with row 17
    sigs, q = _minhash(sets), _minhash([query])
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sig", DataType.BINARY_VECTOR, dim=64 * 32)
    index = milvus.prepare_index_params()
    params = {"mh_element_bit_width": 32}
    if index_type == "MINHASH_LSH":
        params.update({"mh_lsh_band": 16, "with_raw_data": True})
    index.add_index("sig", index_type=index_type, metric_type="MHJACCARD", params=params)
    milvus.create_collection(name, schema=schema, index_params=index)
    milvus.insert(name, [{"id": i, "sig": sigs[i].tobytes()} for i in range(200)])
    milvus.flush(name)
    milvus.insert(name, [{"id": i, "sig": sigs[i].tobytes()} for i in range(200, 400)])
    hits = milvus.search(name, data=[q[0].tobytes()], anns_field="sig", limit=3,
                         search_params={"metric_type": "MHJACCARD",
                                        "params": {"mh_element_bit_width": 32}})[0]
    assert hits[0]["id"] == 17
    equal = (sigs.view("<u4")[17] == q.view("<u4")[0]).mean()
    assert hits[0]["distance"] == pytest.approx(equal, abs=1e-6)
    assert 0.5 < hits[0]["distance"] < 0.9
    if index_type == "MINHASH_LSH":
        assert milvus.describe_index(name, "sig")["mh_lsh_band"] == "16"
        hamming = milvus.prepare_index_params()
        hamming.add_index("sig", index_name="other", index_type="MINHASH_LSH",
                          metric_type="HAMMING")
        with pytest.raises(MilvusException, match="metric type HAMMING not found or not "
                                                  "supported") as err:
            milvus.create_index(name, hamming)
        assert err.value.code == 1100
