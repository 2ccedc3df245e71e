"""faiss-backed indexes find what exact search finds; filtered search never comes back short."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from elanus.index.factory import build_index, load_index, map_index
from elanus.index.vector import exact_search, openmp_threads, prepare


def _recall(got: np.ndarray, want: np.ndarray) -> float:
    scores = []
    for g, w in zip(got, want):
        truth = set(w[w >= 0].tolist())
        scores.append(len(set(g[g >= 0].tolist()) & truth) / len(truth) if truth else 1.0)
    return float(np.mean(scores))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(20, 32)).astype(np.float32)
    base = centers[rng.integers(0, 20, 4000)] + 0.3 * rng.normal(size=(4000, 32)).astype(np.float32)
    queries = base[rng.choice(4000, 50, replace=False)] + 0.05
    return base.astype(np.float32), queries.astype(np.float32)


@pytest.mark.parametrize("kind, params, floor", [
    ("FLAT", {}, 1.0), ("HNSW", {"M": "16", "efConstruction": "200"}, 0.95),
    ("IVF_FLAT", {"nlist": "32"}, 0.9),
])
@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_index_finds_what_exact_search_finds(data, kind: str, params: dict, floor: float,
                                             metric: str) -> None:
    base, queries = data
    index = build_index(kind, base, metric, params)
    q = prepare(queries, metric)
    want, want_scores = exact_search(prepare(base, metric), q, 10, metric)
    got, got_scores = index.search(q, 10, params={"ef": 128, "nprobe": 16})
    assert _recall(got, want) >= floor
    if kind == "FLAT":
        np.testing.assert_allclose(got_scores, want_scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("share", [0.001, 0.01, 0.1, 0.5])
def test_filtered_search_returns_k_whenever_k_rows_pass(data, share: float) -> None:
    base, queries = data
    index = build_index("HNSW", base, "L2", {"M": "8", "efConstruction": "64"})
    rng = np.random.default_rng(1)
    allowed = rng.random(len(base)) < share
    got, _ = index.search(queries, 10, allowed)
    passing = int(allowed.sum())
    for row in got:
        hits = row[row >= 0]
        assert len(hits) == min(10, passing)
        assert allowed[hits].all()
    want, _ = exact_search(base, queries, 10, "L2", allowed)
    assert _recall(got, want) >= 0.95


@pytest.mark.parametrize("kind, params, knob, low, high", [
    ("HNSW", {"M": "16", "efConstruction": "40"}, "ef", 16, 512),
    ("IVF_FLAT", {"nlist": "64"}, "nprobe", 1, 64),
])
def test_each_search_uses_its_own_ef_or_nprobe(kind: str, params: dict, knob: str, low: int,
                                               high: int) -> None:
    """Unfiltered searches share parameter objects per value: a narrow search and then a wide
    one over the same index answer differently, the wide one exactly."""
    rng = np.random.default_rng(8)
    base = rng.normal(size=(4000, 32)).astype(np.float32)
    queries = rng.normal(size=(50, 32)).astype(np.float32)
    index = build_index(kind, base, "L2", params)
    want, _ = exact_search(base, queries, 10, "L2")
    for _ in range(2):
        narrow, _ = index.search(queries, 10, params={knob: low})
        wide, _ = index.search(queries, 10, params={knob: high})
        assert _recall(narrow, want) < 0.9
        assert _recall(wide, want) == 1.0


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
@pytest.mark.parametrize("nq", [1, 7, 30])
def test_exact_search_over_survivors_reads_them_in_place_or_gathers_alike(data, metric: str,
                                                                         nq: int) -> None:
    """Few queries read the allowed rows in place, many gather them: both give the top k of
    the allowed rows, also from a read-only base and with fewer than k survivors."""
    base, queries = data
    prepared = prepare(base, metric)
    prepared.flags.writeable = False  # as a memory-mapped segment is
    q = prepare(queries[:nq], metric)
    rng = np.random.default_rng(nq)
    for share in (0.002, 0.02, 0.3):
        allowed = rng.random(len(base)) < share
        rows = np.flatnonzero(allowed)
        got, got_scores = exact_search(prepared, q, 10, metric, allowed)
        sub, sub_scores = exact_search(prepared[rows], q, 10, metric)
        want = np.where(sub >= 0, rows[np.maximum(sub, 0)], -1)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(got_scores, sub_scores, rtol=1e-5, atol=1e-5)
        assert got.shape == (nq, 10) and allowed[got[got >= 0]].all()


def test_serialized_index_answers_the_same(data) -> None:
    base, queries = data
    index = build_index("HNSW", base, "COSINE", {"M": "16", "efConstruction": "100"})
    again = load_index(index.serialize(), "COSINE", "HNSW", base)
    q = prepare(queries, "COSINE")
    np.testing.assert_array_equal(index.search(q, 5)[0], again.search(q, 5)[0])


@pytest.mark.parametrize("kind, params", [
    ("HNSW", {"M": "16", "efConstruction": "100"}), ("IVF_FLAT", {"nlist": "32"}), ("FLAT", {}),
])
@pytest.mark.parametrize("metric", ["L2", "COSINE"])
def test_an_index_read_in_place_from_its_file_answers_the_same(data, tmp_path, kind: str,
                                                               params: dict, metric: str) -> None:
    base, queries = data
    index = build_index(kind, base, metric, params)
    path = tmp_path / "index"
    path.write_bytes(index.serialize())
    mapped = map_index(path, metric, kind, base)
    q = prepare(queries, metric)
    for allowed in (None, np.arange(len(base)) % 50 == 0, np.arange(len(base)) % 3 == 0):
        want = index.search(q, 10, allowed, {"ef": 64, "nprobe": 8})
        got = mapped.search(q, 10, allowed, {"ef": 64, "nprobe": 8})
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_k_larger_than_rows_pads_with_minus_one() -> None:
    base = np.eye(3, dtype=np.float32)
    got, _scores = exact_search(base, base[:1], 5, "IP")
    assert got[0].tolist()[:3] == [0, 1, 2] or got[0][0] == 0
    assert (got[0][3:] == -1).all()


def test_flat_index_stores_nothing_and_searches_the_segment_itself(data) -> None:
    base, queries = data
    index = build_index("FLAT", base, "L2", {})
    blob = index.serialize()
    assert len(blob) < 64
    again = load_index(blob, "L2", "FLAT", base)
    want, _ = exact_search(base, queries, 5, "L2")
    np.testing.assert_array_equal(again.search(queries, 5)[0], want)
    with pytest.raises(ValueError):
        load_index(b"garbage", "L2", "FLAT", base)


def test_a_build_stops_between_batches_once_cancelled() -> None:
    from elanus.index.vector import ADD_BATCH, BuildCancelled

    rows = np.random.default_rng(1).random((ADD_BATCH * 3, 8), dtype=np.float32)
    calls: list[int] = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2  # let two batches in, then stop

    with pytest.raises(BuildCancelled):
        build_index("IVF_FLAT", rows, "L2", {"nlist": "8"}, cancelled)
    assert len(calls) == 3
    assert build_index("IVF_FLAT", rows[:100], "L2", {}, lambda: False).num_rows == 100


def test_a_graph_is_built_in_one_call_after_one_check() -> None:
    """faiss builds a better HNSW graph from one add call than from batches."""
    from elanus.index.vector import ADD_BATCH, BuildCancelled

    rows = np.random.default_rng(1).random((ADD_BATCH * 2, 8), dtype=np.float32)
    calls: list[int] = []

    def cancelled() -> bool:
        calls.append(1)
        return False

    assert build_index("HNSW", rows, "L2", {"M": "8", "efConstruction": "16"},
                       cancelled).num_rows == len(rows)
    assert len(calls) == 1
    with pytest.raises(BuildCancelled):
        build_index("HNSW", rows, "L2", {}, lambda: True)


def test_openmp_threads_limits_the_calling_thread_and_restores_it() -> None:
    before = faiss.omp_get_max_threads()
    with openmp_threads(1):
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == before
    with openmp_threads(before + 5):  # never more than there were
        assert faiss.omp_get_max_threads() == before
