"""The quantized index types find what exact search finds, keep the filtered-search guarantee,
round-trip through their serialized form, build on tiny segments and check their parameters.

Vectors are real sentence embeddings (a slice of /work/shared/data/pydocs-minilm-384) when that
data set is present, else clustered synthetic vectors, so the tests run anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from elanus.errors import InvalidArgument
from elanus.index import vector
from elanus.index.factory import build_index, load_index
from elanus.index.params import check_top_k
from elanus.index.registry import resolve
from elanus.index.vector import exact_search, prepare
from elanus.schema import DataType, FieldSchema

DATA = Path("/work/shared/data/pydocs-minilm-384")
ROWS, QUERIES, K = 1500, 30, 10
METRICS = ("L2", "IP", "COSINE")


def _recall(got: np.ndarray, want: np.ndarray) -> float:
    hits = [len(set(g[g >= 0].tolist()) & set(w[w >= 0].tolist())) / max(1, int((w >= 0).sum()))
            for g, w in zip(got, want)]
    return float(np.mean(hits))


@pytest.fixture(scope="module", autouse=True)
def one_faiss_thread() -> Any:
    """Train on one thread: the many small k-means runs of PQ codebooks spend more time waking
    OpenMP workers than computing on a busy two-core machine."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    if (DATA / "base.npy").exists():
        base = np.load(DATA / "base.npy", mmap_mode="r")[:ROWS]
        queries = np.load(DATA / "queries.npy", mmap_mode="r")[:QUERIES]
        return np.ascontiguousarray(base, np.float32), np.ascontiguousarray(queries, np.float32)
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(40, 64)).astype(np.float32)
    base = centers[rng.integers(0, 40, ROWS)] + 0.4 * rng.normal(size=(ROWS, 64))
    queries = centers[rng.integers(0, 40, QUERIES)] + 0.4 * rng.normal(size=(QUERIES, 64))
    return base.astype(np.float32), queries.astype(np.float32)


def _cases(dim: int) -> dict[str, tuple[dict[str, str], dict[str, Any], float]]:
    """Per type: build params, search params, recall@10 floor against exact search."""
    return {
        "IVF_SQ8": ({"nlist": "32"}, {"nprobe": 8}, 0.75),
        "IVF_PQ": ({"nlist": "32", "m": str(dim // 8), "nbits": "6"}, {"nprobe": 8}, 0.5),
        "IVF_RABITQ": ({"nlist": "32", "refine": "true", "refine_type": "SQ8"},
                       {"nprobe": 8, "refine_k": 3}, 0.75),
        "SCANN": ({"nlist": "32"}, {"nprobe": 8, "reorder_k": 50}, 0.75),
        "HNSW_SQ": ({"M": "16", "efConstruction": "64"}, {"ef": 64}, 0.9),
        "HNSW_PQ": ({"M": "16", "efConstruction": "64", "m": str(dim // 8), "nbits": "6",
                     "refine": "true"}, {"ef": 64, "refine_k": 3}, 0.9),
        "HNSW_PRQ": ({"M": "16", "efConstruction": "64", "m": str(dim // 16), "nrq": "2",
                      "nbits": "6", "refine": "true", "refine_type": "FP16"},
                     {"ef": 64, "refine_k": 3}, 0.85),
        "DISKANN": ({"max_degree": "32", "search_list_size": "64",
                     "pq_code_budget_gb_ratio": "0.015625"}, {"search_list": 40}, 0.85),
    }


_built: dict[tuple[str, str], Any] = {}


def _index(data: tuple[np.ndarray, np.ndarray], kind: str, metric: str) -> Any:
    if (kind, metric) not in _built:
        base, _ = data
        _built[kind, metric] = build_index(kind, base, metric, _cases(base.shape[1])[kind][0])
    return _built[kind, metric]


KINDS = ("IVF_SQ8", "IVF_PQ", "IVF_RABITQ", "SCANN", "HNSW_SQ", "HNSW_PQ", "HNSW_PRQ", "DISKANN")
EXACT_SCORES = ("SCANN", "HNSW_PQ", "DISKANN")  # re-ranked on the raw rows (FP32)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("kind", KINDS)
def test_index_finds_what_exact_search_finds(data, kind: str, metric: str) -> None:
    base, queries = data
    _, search, floor = _cases(base.shape[1])[kind]
    q = prepare(queries, metric)
    prepared = prepare(base, metric)
    want, _ = exact_search(prepared, q, K, metric)
    got, scores = _index(data, kind, metric).search(q, K, None, search)
    assert _recall(got, want) >= floor, f"{kind} {metric} recall {_recall(got, want):.3f}"
    order = -scores if metric != "L2" else scores
    assert (np.diff(order, axis=1) >= -1e-4).all()  # best first
    if kind in EXACT_SCORES:  # refined on the raw rows: the scores are the exact ones
        rows = prepared[got]
        exact = (((rows - q[:, None, :]) ** 2).sum(-1) if metric == "L2"
                 else np.einsum("qkd,qd->qk", rows, q))
        np.testing.assert_allclose(scores, exact, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("share", [0.001, 0.01, 0.1, 0.5])
@pytest.mark.parametrize("path", ["index", "rule"])
def test_filtered_search_returns_k_whenever_k_rows_pass(data, kind: str, share: float, path: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the index with a bitmap selector (exact search only when it comes back short),
    and as the engine runs it (exact search over the survivors when few rows pass)."""
    if path == "index":
        monkeypatch.setattr(vector, "EXACT_BELOW_ROWS", 0)  # the rule every index shares
        monkeypatch.setattr(vector, "EXACT_BELOW_FRACTION", 0.0)
    base, queries = data
    index = _index(data, kind, "COSINE")
    allowed = np.random.default_rng(int(share * 1000)).random(len(base)) < share
    q = prepare(queries, "COSINE")
    got, _ = index.search(q, K, allowed, _cases(base.shape[1])[kind][1])
    passing = int(allowed.sum())
    for row in got:
        hits = row[row >= 0]
        assert len(hits) == min(K, passing) and len(set(hits.tolist())) == len(hits)
        assert allowed[hits].all()


@pytest.mark.parametrize("kind", KINDS)
def test_serialized_index_answers_the_same(data, kind: str) -> None:
    base, queries = data
    index = _index(data, kind, "L2")
    blob = index.serialize()
    again = load_index(blob, "L2", kind, base)
    search = _cases(base.shape[1])[kind][1]
    got, scores = index.search(queries, K, None, search)
    again_got, again_scores = again.search(queries, K, None, search)
    np.testing.assert_array_equal(got, again_got)
    np.testing.assert_allclose(scores, again_scores, rtol=1e-6)
    assert len(blob) < base.nbytes  # codes, not the raw rows
    with pytest.raises(ValueError):
        load_index(b"garbage", "L2", kind, base)


def test_unrefined_quantizers_still_find_neighbours(data) -> None:
    base, queries = data[0][:1000], data[1]
    dim = base.shape[1]
    want, _ = exact_search(base, queries, K, "L2")
    for kind, build, search, floor in [
        ("IVF_RABITQ", {"nlist": "16"}, {"nprobe": 16, "rbq_query_bits": 0}, 0.5),
        ("HNSW_SQ", {"M": "8", "efConstruction": "32", "sq_type": "SQ4U"}, {"ef": 32}, 0.5),
        ("SCANN", {"nlist": "16", "with_raw_data": "false"}, {"nprobe": 16}, 0.4),
        ("HNSW_PQ", {"M": "8", "efConstruction": "32", "m": str(dim // 16), "nbits": "4"},
         {"ef": 32}, 0.2),
    ]:
        got, _ = build_index(kind, base, "L2", build).search(queries, K, None, search)
        assert _recall(got, want) >= floor, (kind, _recall(got, want))


@pytest.mark.parametrize("rows", [1, 10])
@pytest.mark.parametrize("kind", KINDS)
def test_tiny_segments_build_and_search_exactly(kind: str, rows: int) -> None:
    rng = np.random.default_rng(rows)
    base = rng.normal(size=(rows, 32)).astype(np.float32)
    queries = rng.normal(size=(3, 32)).astype(np.float32)
    params = _cases(32)[kind][0]
    for metric in ("L2", "COSINE"):
        index = build_index(kind, base, metric, params)
        again = load_index(index.serialize(), metric, kind, base)
        q = prepare(queries, metric)
        want, _ = exact_search(prepare(base, metric), q, 5, metric)
        got, _ = again.search(q, 5, None, {})
        assert ((got >= 0).sum(axis=1) == min(5, rows)).all()
        assert _recall(got, want) == 1.0


def _field(dim: int = 64, dtype: DataType = DataType.FLOAT_VECTOR) -> FieldSchema:
    return FieldSchema("v", dtype, dim=dim)


@pytest.mark.parametrize("index_type, params, message", [
    ("IVF_PQ", {"m": "7"}, "should be a multiple of the number of subquantizers"),
    ("IVF_PQ", {}, "param 'm' is required"),
    ("IVF_PQ", {"m": "8", "nbits": "0"}, "param 'nbits' (0) should be in range [1, 64]"),
    ("IVF_SQ8", {"nlist": "70000"}, "param 'nlist' (70000) should be in range [1, 65536]"),
    ("IVF_RABITQ", {"refine": "true", "refine_type": "SQ4"}, "invalid refine type"),
    ("IVF_RABITQ", {"refine": "maybe"}, "param 'refine' (maybe) should be a boolean"),
    ("HNSW_SQ", {"sq_type": "SQ2"}, "invalid scalar quantizer type"),
    ("HNSW_SQ", {"sq_type": "SQ8", "refine": "true", "refine_type": "SQ6"},
     "should be of higher precision than sq_type SQ8"),
    ("HNSW_SQ", {"M": "1"}, "param 'M' (1) should be in range [2, 2048]"),
    ("HNSW_PQ", {"m": "10"}, "should be a multiple of the number of subquantizers"),
    ("HNSW_PRQ", {"nrq": "17"}, "param 'nrq' (17) should be in range [1, 16]"),
    ("DISKANN", {"max_degree": "600"}, "param 'max_degree' (600) should be in range [1, 512]"),
    ("DISKANN", {"pq_code_budget_gb_ratio": "0"}, "should be in range (0.0, 0.25]"),
    ("DISKANN", {"search_cache_budget_gb_ratio": "0.3"}, "should be in range [0.0, 0.3)"),
])
def test_build_params_are_checked_as_milvus_checks_them(index_type: str, params: dict,
                                                        message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        resolve(_field(), "v", {"index_type": index_type, "metric_type": "L2", **params})
    assert message in str(err.value) and err.value.code == 1100


def test_scann_needs_an_even_dim_and_int8_vectors_refuse_float_only_types() -> None:
    with pytest.raises(InvalidArgument, match="should be a multiple of sub_dim"):
        resolve(_field(dim=63), "v", {"index_type": "SCANN", "metric_type": "L2"})
    int8 = _field(dtype=DataType.INT8_VECTOR)
    for index_type in ("IVF_RABITQ", "DISKANN"):
        with pytest.raises(InvalidArgument, match="can't build with this index"):
            resolve(int8, "v", {"index_type": index_type, "metric_type": "L2"})
    spec = resolve(int8, "v", {"index_type": "HNSW_SQ", "metric_type": "IP", "sq_type": "sq6"})
    assert spec.index_type == "HNSW_SQ" and spec.params["sq_type"] == "sq6"


@pytest.mark.parametrize("kind, params, message", [
    ("IVF_RABITQ", {"rbq_query_bits": 9}, "param 'rbq_query_bits' (9) should be in range"),
    ("IVF_SQ8", {"nprobe": 0}, "param 'nprobe' (0) should be in range [1, 65536]"),
    ("HNSW_PQ", {"refine_k": 0.5}, "param 'refine_k' (0.5) should be in range"),
    ("HNSW_SQ", {"ef": "many"}, "param 'ef' (many) should be an integer"),
])
def test_search_params_are_checked_and_unknown_ones_ignored(kind: str, params: dict,
                                                            message: str) -> None:
    base = np.random.default_rng(2).normal(size=(100, 32)).astype(np.float32)
    index = build_index(kind, base, "L2", _cases(32)[kind][0])
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        index.search(base[:2], K, None, params)
    got, _ = index.search(base[:2], K, None, {"no_such_param": 3, "level": 2})
    assert (got >= 0).all()


@pytest.mark.parametrize("kind, params, message", [
    ("HNSW_SQ", {"ef": 5}, "ef(5) should be larger than k(10)"),
    ("SCANN", {"reorder_k": 5}, "reorder_k(5) should be larger than k(10)"),
    ("DISKANN", {"search_list": 5}, "search_list_size(5) should be larger than k(10)"),
])
def test_a_top_k_search_needs_a_candidate_list_of_k(kind: str, params: dict,
                                                    message: str) -> None:
    """Milvus's rule for a top-k request; the index itself widens the list to what it is asked
    for, since range searches and iterators ask a segment for more than the request's k."""
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        check_top_k(kind, params, K)
    check_top_k(kind, params, 5)
    base = np.random.default_rng(3).normal(size=(400, 32)).astype(np.float32)
    index = build_index(kind, base, "L2", _cases(32)[kind][0])
    got, _ = index.search(base[:2], 50, None, params)
    assert (got >= 0).all() and (got[:, 0] == [0, 1]).all()

@pytest.mark.parametrize("kind", ["DISKANN", "SCANN", "IVF_RABITQ"])
def test_cosine_reranks_a_read_only_memory_mapped_base(tmp_path: Path, kind: str) -> None:
    """The raw rows stay on disk: re-ranking and exact fallbacks normalise only gathered rows."""
    rng = np.random.default_rng(9)
    rows = rng.normal(size=(600, 32)).astype(np.float32) * rng.uniform(0.2, 5.0, (600, 1))
    np.save(tmp_path / "rows.npy", rows.astype(np.float32))
    base = np.load(tmp_path / "rows.npy", mmap_mode="r")
    params = {**_cases(32)[kind][0], "refine": "true", "refine_type": "FP32"}
    blob = build_index(kind, base, "COSINE", params).serialize()
    index = load_index(blob, "COSINE", kind, base)
    q = prepare(rng.normal(size=(5, 32)).astype(np.float32), "COSINE")
    unit = prepare(rows, "COSINE")
    search = {**_cases(32)[kind][1], "refine_k": 4}
    for allowed in (None, rng.random(600) < 0.5, rng.random(600) < 0.02):
        got, scores = index.search(q, K, allowed, search)
        valid = got >= 0
        exact = np.einsum("qkd,qd->qk", unit[np.maximum(got, 0)], q)
        np.testing.assert_allclose(scores[valid], exact[valid], rtol=1e-4, atol=1e-5)
        assert valid.sum(axis=1).tolist() == [min(K, 600 if allowed is None
                                                  else int(allowed.sum()))] * 5
