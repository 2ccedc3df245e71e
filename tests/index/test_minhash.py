"""MINHASH_LSH and MHJACCARD against real MinHash signatures and a plain-Python twin."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from elanus.errors import InvalidArgument
from elanus.index.minhash import (
    MINHASH_METRICS,
    MinHashIndex,
    build_minhash,
    check_minhash_params,
    check_minhash_search_params,
    exact_minhash,
    load_minhash,
)
from elanus.index.vector import BuildCancelled, larger_is_closer

PRIME = (1 << 31) - 1  # universal hashing h(x) = (a*x + b) mod p stays within int64
Sets = npt.NDArray[np.int64]


def signatures(sets: Sets, num_hashes: int, width: int = 32, seed: int = 3) -> npt.NDArray[np.uint8]:
    """MinHash signatures of the rows of `sets`, as little-endian `width`-bit packed rows."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, PRIME, num_hashes)
    b = rng.integers(0, PRIME, num_hashes)
    mins = ((sets[:, :, None] % PRIME) * a + b) % PRIME
    sig = mins.min(axis=1).astype(np.uint64)
    if width < 32:  # keep the low bits, as a narrower signature element would
        sig &= np.uint64((1 << width) - 1)
    out = np.zeros((len(sets), num_hashes, width // 8), dtype=np.uint8)
    le = sig.astype("<u8").view(np.uint8).reshape(len(sets), num_hashes, 8)
    take = min(8, width // 8)
    out[:, :, :take] = le[:, :, :take]
    return out.reshape(len(sets), -1)


def overlapping(query: Sets, shared: int, rng: np.random.Generator) -> Sets:
    """A set of len(query) elements sharing exactly `shared` of them with `query`."""
    fresh = rng.integers(10**12, 10**13, len(query) - shared)
    return np.concatenate([query[:shared], fresh])


def jaccard(x: Sets, y: Sets) -> float:
    sx, sy = set(x.tolist()), set(y.tolist())
    return len(sx & sy) / len(sx | sy)


def plain_mhjaccard(base: npt.NDArray[np.uint8], query: npt.NDArray[np.uint8],
                    width: int) -> list[float]:
    """The slow twin: share of equal `width`-bit elements, one row and element at a time."""
    size = width // 8
    out = []
    for row in base:
        pieces = len(row) // size
        same = sum(row[i * size:(i + 1) * size].tobytes() == query[i * size:(i + 1) * size]
                   .tobytes() for i in range(pieces))
        out.append(same / pieces)
    return out


@pytest.fixture(scope="module")
def corpus() -> tuple[Sets, Sets]:
    """1000 random 50-element sets; 20 queries, each with near-duplicates planted in the base."""
    rng = np.random.default_rng(11)
    base = rng.integers(0, 10**9, (1000, 50))
    queries = rng.integers(0, 10**9, (20, 50))
    for qi, query in enumerate(queries):
        for j, shared in enumerate((45, 40, 35, 25)):  # Jaccard 0.82, 0.67, 0.54, 0.33
            base[qi * 40 + j] = overlapping(query, shared, rng)
    return base, queries


def test_mhjaccard_is_a_similarity() -> None:
    assert MINHASH_METRICS == ("MHJACCARD",)
    assert larger_is_closer("MHJACCARD")


def test_mhjaccard_estimates_the_true_jaccard() -> None:
    rng = np.random.default_rng(5)
    query = rng.integers(0, 10**9, 60)
    rows = np.stack([overlapping(query, shared, rng) for shared in range(5, 60, 5)])
    truth = np.array([jaccard(query, row) for row in rows])
    base, q = signatures(rows, 512), signatures(query[None], 512)
    off, score = exact_minhash(base, q, len(rows), "MHJACCARD", element_bits=32)
    estimate = np.empty(len(rows))
    estimate[off[0]] = score[0]
    assert np.abs(estimate - truth).max() < 0.08
    assert np.abs(estimate - truth).mean() < 0.03
    assert off[0].tolist() == list(range(len(rows)))[::-1]  # most overlap first


@pytest.mark.parametrize("width", [8, 16, 24, 32, 64])
def test_exact_minhash_matches_the_plain_python_twin(width: int) -> None:
    rng = np.random.default_rng(width)
    sets = rng.integers(0, 40, (300, 12))  # a small universe: many equal elements and ties
    base, queries = signatures(sets, 16, width), signatures(sets[:4], 16, width)
    off, score = exact_minhash(base, queries, 10, "MHJACCARD", element_bits=width)
    for qi in range(len(queries)):
        brute = plain_mhjaccard(base, queries[qi], width)
        want = sorted((r for r in range(len(base)) if brute[r] > 0), key=lambda r: (-brute[r], r))
        assert off[qi].tolist() == want[:10]
        assert np.allclose(score[qi], [brute[r] for r in want[:10]])


def test_exact_minhash_skips_rows_sharing_no_element_and_pads() -> None:
    base = np.array([[1, 2, 3, 4], [9, 9, 9, 9], [1, 9, 9, 9]], dtype=np.uint8)
    off, score = exact_minhash(base, base[:1], 5, "MHJACCARD")
    assert off.tolist() == [[0, 2, -1, -1, -1]]
    assert score[0, :2].tolist() == [1.0, 0.25] and np.isneginf(score[0, 2:]).all()
    allowed = np.array([False, True, True])
    off, _ = exact_minhash(base, base[:1], 5, "MHJACCARD", allowed)
    assert off.tolist() == [[2, -1, -1, -1, -1]]


def test_lsh_finds_what_exact_search_finds(corpus: tuple[Sets, Sets]) -> None:
    sets, query_sets = corpus
    base, queries = signatures(sets, 128), signatures(query_sets, 128)
    index = build_minhash(base, "MHJACCARD", {"mh_element_bit_width": "32", "mh_lsh_band": "32"})
    want, want_score = exact_minhash(base, queries, 3, "MHJACCARD", element_bits=32)
    got, got_score = index.search(queries, 3)
    assert (want_score > 0.4).all()  # the planted near-duplicates are the true top 3
    assert (got == want).mean() >= 0.95
    same = got == want
    assert np.allclose(got_score[same], want_score[same])


def test_lsh_hits_share_a_band_and_are_the_best_such_rows(corpus: tuple[Sets, Sets]) -> None:
    sets, query_sets = corpus
    base, queries = signatures(sets, 64), signatures(query_sets, 64)
    index = build_minhash(base, "MHJACCARD", {"mh_element_bit_width": "32", "mh_lsh_band": "16"})
    off, score = index.search(queries, 10)
    bands_b, bands_q = base.reshape(len(base), 16, -1), queries.reshape(len(queries), 16, -1)
    for qi in range(len(queries)):
        shares = (bands_b == bands_q[qi]).all(axis=2).any(axis=1)
        exact = np.array(plain_mhjaccard(base, queries[qi], 32))
        candidates = sorted(np.flatnonzero(shares), key=lambda r: (-exact[r], r))
        assert off[qi][off[qi] >= 0].tolist() == candidates[:10]
        assert np.allclose(score[qi][: len(candidates[:10])], exact[candidates[:10]])


def test_refined_search_needs_raw_data_and_answers_the_same(corpus: tuple[Sets, Sets]) -> None:
    sets, query_sets = corpus
    base, queries = signatures(sets, 128), signatures(query_sets, 128)
    params = {"mh_element_bit_width": "32", "mh_lsh_band": "32"}
    plain = build_minhash(base, "MHJACCARD", params)
    refine = {"mh_search_with_jaccard": True, "refine_k": 6}
    with pytest.raises(InvalidArgument, match="without raw data"):
        plain.search(queries, 3, params=refine)
    raw = build_minhash(base, "MHJACCARD", {**params, "with_raw_data": "True"})
    got, got_score = raw.search(queries, 3, params=refine)
    want, want_score = plain.search(queries, 3)
    assert got.tolist() == want.tolist() and np.array_equal(got_score, want_score)


def test_filtered_search_returns_only_allowed_rows(corpus: tuple[Sets, Sets]) -> None:
    sets, query_sets = corpus
    base, queries = signatures(sets, 128), signatures(query_sets, 128)
    index = build_minhash(base, "MHJACCARD", {"mh_element_bit_width": "32", "mh_lsh_band": "64"})
    allowed = np.arange(len(base)) % 3 != 0
    off, _ = index.search(queries, 10, allowed)
    hits = off[off >= 0]
    assert len(hits) > 0 and allowed[hits].all()
    nothing = index.search(queries, 10, np.zeros(len(base), dtype=bool))[0]
    assert (nothing == -1).all()


def test_fewer_candidates_than_k_leave_missing_hits(corpus: tuple[Sets, Sets]) -> None:
    sets, query_sets = corpus
    base, queries = signatures(sets, 128), signatures(query_sets, 128)
    index = build_minhash(base, "MHJACCARD", {"mh_element_bit_width": "32"})  # one band
    fresh = signatures(np.random.default_rng(2).integers(0, 10**9, (1, 50)), 128)
    off, score = index.search(np.concatenate([queries[:1], fresh, base[:1]]), 4)
    assert (off[:2] == -1).all() and np.isneginf(score[:2]).all()  # no row equals them whole
    assert off[2].tolist() == [0, -1, -1, -1] and score[2, 0] == 1.0


def test_index_round_trips_through_bytes(corpus: tuple[Sets, Sets]) -> None:
    sets, query_sets = corpus
    base, queries = signatures(sets, 128), signatures(query_sets, 128)
    params = {"mh_element_bit_width": "32", "mh_lsh_band": "32", "with_raw_data": "true"}
    index = build_minhash(base, "MHJACCARD", params)
    again = load_minhash(index.serialize(), "MHJACCARD", base)
    assert isinstance(again, MinHashIndex) and again.kind == "MINHASH_LSH"
    assert again.num_rows == len(base) and again.params == index.params
    for a, b in zip(index.search(queries, 5), again.search(queries, 5), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError):
        load_minhash(index.serialize(), "MHJACCARD", base[:10])
    with pytest.raises(ValueError):
        load_minhash(index.serialize(), "MHJACCARD", base[:, :-1])


def test_tiny_inputs() -> None:
    one = signatures(np.array([[1, 2, 3]]), 8)
    index = build_minhash(one, "MHJACCARD", {"mh_element_bit_width": "32", "mh_lsh_band": "8"})
    off, score = index.search(one, 3)
    assert off.tolist() == [[0, -1, -1]] and score[0, 0] == 1.0
    assert index.search(one, 0)[0].shape == (1, 0)
    assert exact_minhash(one, one, 3, "MHJACCARD", element_bits=32)[0].tolist() == [[0, -1, -1]]
    empty = one[:0]
    built = build_minhash(empty, "MHJACCARD", {"mh_element_bit_width": "32"})
    assert built.num_rows == 0 and (built.search(one, 2)[0] == -1).all()
    assert load_minhash(built.serialize(), "MHJACCARD", empty).num_rows == 0
    assert (exact_minhash(empty, one, 2, "MHJACCARD")[0] == -1).all()


def test_build_stops_when_cancelled() -> None:
    base = signatures(np.arange(30).reshape(10, 3), 8)
    with pytest.raises(BuildCancelled):
        build_minhash(base, "MHJACCARD", {}, cancelled=lambda: True)


def test_defaults_are_knowheres() -> None:
    base = signatures(np.arange(30).reshape(10, 3), 8)
    index = build_minhash(base, "MHJACCARD", {})
    assert (index.params.element_bits, index.params.bands) == (8, 1)
    assert not index.params.with_raw_data


@pytest.mark.parametrize(("dim", "params", "message"), [
    (256, {"mh_element_bit_width": "4"},
     "param 'mh_element_bit_width' (4) should be in range [8, 256]"),
    (256, {"mh_element_bit_width": "12"}, "mh_element_bit_width % 8 == 0"),
    (256, {"mh_element_bit_width": "x"},
     "param 'mh_element_bit_width' (\"x\") should be integer"),
    (96, {"mh_element_bit_width": "64"}, "dim (96) should be a multiple of mh_element_bit_width"),
    (256, {"mh_element_bit_width": "32", "mh_lsh_band": "0"},
     "param 'mh_lsh_band' (0) should be in range [1, 8]"),
    (256, {"mh_element_bit_width": "32", "mh_lsh_band": "16"},
     "param 'mh_lsh_band' (16) should be in range [1, 8]"),
    (256, {"mh_element_bit_width": "32", "mh_lsh_band": "3"},
     "mh_lsh_band (3) should divide the number of MinHash elements (8"),
    (256, {"with_raw_data": "maybe"}, "param 'with_raw_data' (\"maybe\") should be a boolean"),
    (256, {"mh_lsh_code_in_mem": "2"}, "param 'mh_lsh_code_in_mem'"),
    (256, {"mh_lsh_bloom_false_positive_prob": "1.5"},
     "param 'mh_lsh_bloom_false_positive_prob' (1.5) should be in range [0.000000, 1.000000]"),
    (256, {"mh_lsh_aligned_block_size": "512"}, "param 'mh_lsh_aligned_block_size' (512)"),
])
def test_bad_build_params_are_refused(dim: int, params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid parameter") as caught:
        check_minhash_params(dim, params)
    assert message in str(caught.value)


def test_good_build_params_pass() -> None:
    check_minhash_params(256, {"mh_element_bit_width": "32", "mh_lsh_band": "4",
                               "with_raw_data": "True", "mh_lsh_code_in_mem": "1",
                               "mh_lsh_bloom_false_positive_prob": "0.01",
                               "metric_type": "MHJACCARD", "index_type": "MINHASH_LSH"})


@pytest.mark.parametrize(("params", "message"), [
    ({"refine_k": 0}, "param 'refine_k' (0) should be in range [1, 2147483647]"),
    ({"refine_k": "many"}, "param 'refine_k' (\"many\") should be integer"),
    ({"mh_search_with_jaccard": "yes"}, "param 'mh_search_with_jaccard'"),
    ({"mh_lsh_batch_search": 3}, "param 'mh_lsh_batch_search'"),
])
def test_bad_search_params_are_refused(params: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_minhash_search_params(params)
    assert message in str(caught.value)
    check_minhash_search_params({"mh_search_with_jaccard": True, "refine_k": 5,
                                 "mh_lsh_batch_search": "false"})
