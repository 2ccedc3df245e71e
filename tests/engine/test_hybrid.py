"""Hybrid search in the engine: rankers against fusions computed by hand, then whole searches.

`fuse` gets hand-made sub-results; its answers are checked against scores written out as the
formulas give them (RRF 1/(k + rank); weighted w * norm(score)) and orders as Milvus sorts them
(score, then primary key ascending). The engine tests then compare a hybrid search with the
fusion of the plain searches it is made of.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from elanus.engine import search as search_module
from elanus.engine.engine import Engine
from elanus.engine.hybrid import (
    RRFRanker,
    WeightedRanker,
    function_ranker,
    fuse,
    legacy_ranker,
    normalize,
)
from elanus.engine.requests import HybridSearchRequest, SearchRequest, SearchResult
from elanus.errors import InvalidArgument, UnexpectedError, Unsupported
from elanus.schema import CollectionSchema, DataType, FieldSchema


def _result(lists: Sequence[Sequence[tuple[Any, float]]], metric: str = "IP",
            tag: str = "") -> SearchResult:
    """A sub-result: per query, its ranked (pk, score) hits; each hit's "src" field names
    `tag`, so tests can tell which sub-result a fused hit's fields came from."""
    pks = [pk for hits in lists for pk, _ in hits]
    scores = np.array([s for hits in lists for _, s in hits], dtype=np.float32)
    kind = pa.large_string() if pks and isinstance(pks[0], str) else pa.int64()
    fields = pa.table({"src": pa.array([tag] * len(pks), pa.large_string())})
    return SearchResult(pa.array(pks, kind), scores, [len(h) for h in lists], fields,
                        ("src",), "id", metric)


def _hits(result: SearchResult) -> list[list[tuple[Any, float]]]:
    pks, scores, out, pos = result.pks.to_pylist(), result.scores.tolist(), [], 0
    for n in result.topks:
        out.append(list(zip(pks[pos:pos + n], scores[pos:pos + n])))
        pos += n
    return out


def _approx(hits: list[tuple[Any, float]], want: list[tuple[Any, float]]) -> None:
    assert [pk for pk, _ in hits] == [pk for pk, _ in want]
    assert [s for _, s in hits] == pytest.approx([s for _, s in want], rel=1e-6)


# -- RRF --------------------------------------------------------------------------------------

def test_rrf_sums_reciprocal_ranks_over_the_lists_holding_a_key() -> None:
    dense = _result([[(101, 0.9), (203, 0.8), (150, 0.7), (198, 0.6), (175, 0.5)]])
    sparse = _result([[(198, 3.0), (101, 2.0), (110, 1.0), (175, 0.5), (250, 0.1)]])
    got = _hits(fuse(RRFRanker(60), [dense, sparse], limit=10))[0]
    want = {101: 1 / 61 + 1 / 62, 198: 1 / 64 + 1 / 61, 175: 1 / 65 + 1 / 64,
            203: 1 / 62, 110: 1 / 63, 150: 1 / 63, 250: 1 / 65}
    # 110 and 150 tie at 1/63: the smaller key first, as Milvus orders ties
    _approx(got, sorted(want.items(), key=lambda kv: (-kv[1], kv[0])))


def test_rrf_k_changes_the_weight_of_rank() -> None:
    a = _result([[(1, 0.0), (2, 0.0), (3, 0.0)]])
    b = _result([[(3, 0.0)]])
    got = _hits(fuse(RRFRanker(1), [a, b], limit=3))[0]
    _approx(got, [(3, 1 / 4 + 1 / 2), (1, 1 / 2), (2, 1 / 3)])


def test_a_hit_found_by_one_sub_search_keeps_that_share_alone() -> None:
    a = _result([[(7, 0.5)]])
    b = _result([[]])
    got = _hits(fuse(RRFRanker(), [a, b], limit=5))[0]
    _approx(got, [(7, 1 / 61)])


def test_equal_scores_rank_by_primary_key_strings_too() -> None:
    a = _result([[("m", 1.0), ("b", 0.5)]])
    b = _result([[("a", 1.0), ("z", 0.5)]])
    got = _hits(fuse(RRFRanker(), [a, b], limit=4))[0]
    assert [pk for pk, _ in got] == ["a", "m", "b", "z"]


def test_offset_and_limit_page_the_fused_ranking_of_each_query() -> None:
    a = _result([[(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0)], [(5, 0.0), (6, 0.0)]])
    b = _result([[(4, 0.0)], [(6, 0.0), (7, 0.0)]])
    fused = fuse(RRFRanker(), [a, b], limit=2, offset=1)
    # query 0: 4 (1/64+1/61), 1, 2, 3; query 1: 6 (1/62+1/61), 5, 7 (1/61 vs 1/62: 5 first)
    assert [[pk for pk, _ in q] for q in _hits(fused)] == [[1, 2], [5, 7]]
    assert fused.topks == [2, 2]


def test_a_page_past_the_hits_is_empty_for_that_query_only() -> None:
    a = _result([[(1, 0.0)], [(2, 0.0), (3, 0.0), (4, 0.0)]])
    fused = fuse(RRFRanker(), [a, _result([[], []])], limit=5, offset=2)
    assert _hits(fused) == [[], [(4, pytest.approx(1 / 63))]]


def test_round_decimal_rounds_the_fused_scores() -> None:
    fused = fuse(RRFRanker(), [_result([[(1, 0.0)]]), _result([[(1, 0.0)]])], limit=1,
                 round_decimal=3)
    assert fused.scores.tolist() == [pytest.approx(0.033)]


def test_fields_come_from_the_first_sub_result_holding_the_hit() -> None:
    a = _result([[(1, 0.0)]], tag="a")
    b = _result([[(2, 0.0), (1, 0.0)]], tag="b")
    fused = fuse(RRFRanker(), [a, b], limit=2)
    assert fused.pks.to_pylist() == [1, 2]
    assert fused.fields.column("src").to_pylist() == ["a", "b"]


def test_no_hits_anywhere_gives_empty_lists_per_query() -> None:
    fused = fuse(RRFRanker(), [_result([[], []]), _result([[], []])], limit=3)
    assert fused.topks == [0, 0] and len(fused.pks) == 0 and fused.fields.num_rows == 0


# -- weighted ---------------------------------------------------------------------------------

def _atan_norm(metric: str, s: float) -> float:
    """Milvus's norm_score maps, written out plainly."""
    if metric == "COSINE":
        return (1 + s) / 2
    if metric == "IP":
        return 0.5 + math.atan(s) / math.pi
    if metric == "BM25":
        return 2 * math.atan(s) / math.pi
    return 1 - 2 * math.atan(s) / math.pi


@pytest.mark.parametrize("metric", ["COSINE", "IP", "BM25", "L2", "HAMMING"])
def test_normalize_maps_each_metric_as_milvus_does(metric: str) -> None:
    scores = np.array([-0.5, 0.0, 0.3, 2.5], dtype=np.float32)
    want = [_atan_norm(metric, float(s)) for s in scores]
    assert normalize(scores, metric).tolist() == pytest.approx(want, rel=1e-6)


def test_weighted_with_norm_score_sums_weighted_normalized_scores() -> None:
    ip = _result([[(1, 0.8), (2, 0.1)]], "IP")
    l2 = _result([[(2, 0.2), (3, 1.5)]], "L2")
    got = _hits(fuse(WeightedRanker((0.7, 0.3), norm_score=True), [ip, l2], limit=3))[0]
    want = {1: 0.7 * _atan_norm("IP", 0.8),
            2: 0.7 * _atan_norm("IP", 0.1) + 0.3 * _atan_norm("L2", 0.2),
            3: 0.3 * _atan_norm("L2", 1.5)}
    _approx(got, sorted(want.items(), key=lambda kv: -kv[1]))


def test_weighted_without_norm_score_adds_raw_similarities() -> None:
    a = _result([[(1, 0.9), (2, 0.5)]], "COSINE")
    b = _result([[(2, 0.6), (3, 0.4)]], "COSINE")
    got = _hits(fuse(WeightedRanker((0.5, 1.0), norm_score=False), [a, b], limit=3))[0]
    _approx(got, [(2, 0.5 * 0.5 + 0.6), (1, 0.45), (3, 0.4)])


def test_weighted_raw_distances_rank_smallest_first() -> None:
    a = _result([[(1, 0.1), (2, 0.4)]], "L2")
    b = _result([[(2, 0.2), (3, 0.3)]], "L2")
    got = _hits(fuse(WeightedRanker((1.0, 1.0)), [a, b], limit=3))[0]
    _approx(got, [(1, 0.1), (3, 0.3), (2, 0.6)])


def test_weighted_raw_mixed_metrics_map_distances_to_larger_is_closer() -> None:
    ip = _result([[(1, 0.3)]], "IP")
    l2 = _result([[(2, 0.5)]], "L2")
    got = _hits(fuse(WeightedRanker((1.0, 1.0)), [ip, l2], limit=2))[0]
    _approx(got, [(2, _atan_norm("L2", 0.5)), (1, 0.3)])


def test_weighted_needs_one_weight_per_sub_search() -> None:
    with pytest.raises(InvalidArgument, match=r"the length of weights param mismatch with ann "
                       r"search requests: invalid parameter\[expected=2\]\[actual=3\]") as err:
        fuse(WeightedRanker((0.1, 0.2, 0.3)), [_result([[]]), _result([[]])], limit=1)
    assert err.value.code == 1100


# -- rankers from the wire forms --------------------------------------------------------------

def test_rankers_from_rank_params() -> None:
    assert legacy_ranker(None, None) == RRFRanker(60)
    assert legacy_ranker("rrf", '{"k": 10}') == RRFRanker(10)
    assert legacy_ranker("weighted", '{"weights": [0.2, 1], "norm_score": true}') == \
        WeightedRanker((0.2, 1.0), True)
    assert legacy_ranker("weighted", '{"weights": [0.5]}').norm_score is False


@pytest.mark.parametrize(("strategy", "params", "message"), [
    ("max", "{}", "unsupported rank type max"),
    ("rrf", None, "params not found in rank_params"),
    ("rrf", '{"k": 0}', r"The rank params k should be in range \(0, 16384\)"),
    ("rrf", '{"k": 16384}', r"The rank params k should be in range \(0, 16384\)"),
    ("rrf", '{"k": "ten"}', "The type of rank param k should be float"),
    ("weighted", "{}", "weights not found"),
    ("weighted", '{"weights": [0.5, 1.5]}', r"rank param weight should be in range \[0, 1\]"),
    ("weighted", '{"weights": [-0.1]}', r"rank param weight should be in range \[0, 1\]"),
    ("weighted", '{"weights": ["a"]}', "Parse weights param failed"),
    ("weighted", '{"weights": [1], "norm_score": "yes"}', "norm_score should been bool type"),
])
def test_bad_rank_params_are_refused(strategy: str, params: str | None, message: str) -> None:
    with pytest.raises(UnexpectedError, match=message):
        legacy_ranker(strategy, params)


def test_rankers_from_rerank_functions() -> None:
    assert function_ranker({"reranker": "RRF", "k": "100"}, ()) == RRFRanker(100)
    assert function_ranker({"reranker": "rrf"}, ()) == RRFRanker(60)
    assert function_ranker({"reranker": "weighted", "weights": "[0.1, 0.9]",
                            "norm_score": "True"}, ()) == WeightedRanker((0.1, 0.9), True)
    assert function_ranker({"reranker": "weighted", "weights": "[1]"}, ()).norm_score is False
    with pytest.raises(UnexpectedError, match="Param k:x is not a number"):
        function_ranker({"reranker": "rrf", "k": "x"}, ())
    with pytest.raises(UnexpectedError, match="norm_score params must be true/false"):
        function_ranker({"reranker": "weighted", "weights": "[1]", "norm_score": "yes"}, ())
    with pytest.raises(UnexpectedError, match="does not support input parameters"):
        function_ranker({"reranker": "rrf"}, ("title",))
    with pytest.raises(UnexpectedError, match=r"Unsupported rerank function: \[bm\]"):
        function_ranker({"reranker": "bm"}, ())


@pytest.mark.parametrize("name", ["decay", "model"])
def test_decay_and_model_rerankers_are_refused_as_unsupported(name: str) -> None:
    with pytest.raises(Unsupported, match=f"the {name} reranker is not supported") as err:
        function_ranker({"reranker": name}, ("ts",))
    assert err.value.code == 10


# -- whole hybrid searches --------------------------------------------------------------------

DIM = 4


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = Engine(tmp_path / "data")
    schema = CollectionSchema("docs", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("a", DataType.FLOAT_VECTOR, dim=DIM),
        FieldSchema("b", DataType.FLOAT_VECTOR, dim=DIM),
        FieldSchema("n", DataType.INT64),
    ))
    e.create_collection("default", schema)
    e.create_index("default", "docs", "a", "", {"index_type": "FLAT", "metric_type": "IP"})
    e.create_index("default", "docs", "b", "", {"index_type": "FLAT", "metric_type": "L2"})
    e.load_collection("default", "docs")
    rng = np.random.default_rng(7)
    n = 200
    e.insert("default", "docs", {
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "a": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * DIM, np.float32)), DIM),
        "b": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * DIM, np.float32)), DIM),
        "n": pa.array(np.arange(n, dtype=np.int64) % 5),
    }, n)
    yield e
    e.close()


def _subs(queries: np.ndarray) -> tuple[SearchRequest, SearchRequest]:
    return (SearchRequest("default", "docs", "a", queries, 10, filter="n != 1"),
            SearchRequest("default", "docs", "b", queries, 15))


def _plain_fusion(engine: Engine, ranker: RRFRanker | WeightedRanker,
                  subs: Sequence[SearchRequest], limit: int, offset: int
                  ) -> list[list[int]]:
    """The slow twin: each sub-search alone, fused per query with dicts."""
    results = [_hits(engine.search(s)) for s in subs]
    metrics = ["IP", "L2"]
    out = []
    for q in range(len(results[0])):
        fused: dict[int, float] = {}
        for i, lists in enumerate(results):
            for rank, (pk, score) in enumerate(lists[q], start=1):
                if isinstance(ranker, RRFRanker):
                    share = 1 / (ranker.k + rank)
                else:
                    share = ranker.weights[i] * _atan_norm(metrics[i], score)
                fused[pk] = fused.get(pk, 0.0) + share
        ranked = sorted(fused, key=lambda pk: (-fused[pk], pk))
        out.append(ranked[offset:offset + limit])
    return out


@pytest.mark.parametrize("ranker", [RRFRanker(), RRFRanker(5),
                                    WeightedRanker((0.3, 0.9), norm_score=True)],
                         ids=["rrf", "rrf-k5", "weighted"])
def test_hybrid_search_fuses_what_the_plain_searches_find(engine: Engine,
                                                          ranker: RRFRanker | WeightedRanker,
                                                          ) -> None:
    queries = np.random.default_rng(1).random((3, DIM), dtype=np.float32)
    subs = _subs(queries)
    req = HybridSearchRequest("default", "docs", subs, ranker, limit=6, offset=2,
                              output_fields=("n",))
    got = engine.hybrid_search(req)
    want = _plain_fusion(engine, ranker, subs, 6, 2)
    assert [[pk for pk, _ in q] for q in _hits(got)] == want
    assert got.output_fields == ("n",)
    assert got.fields.column("n").to_pylist() == [pk % 5 for q in want for pk in q]


def test_sub_searches_read_at_one_timestamp(engine: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    query = np.full((1, DIM), 0.5, dtype=np.float32)
    plain = search_module.run
    calls: list[int] = []

    def insert_after_first(collection: Any, req: SearchRequest) -> SearchResult:
        result = plain(collection, req)
        calls.append(result.read_ts)
        if len(calls) == 1:  # a row every later sub-search would rank first, were it visible
            engine.insert("default", "docs", {
                "id": pa.array([999], pa.int64()),
                "a": pa.FixedSizeListArray.from_arrays(pa.array(np.ones(DIM, np.float32)), DIM),
                "b": pa.FixedSizeListArray.from_arrays(pa.array(query[0]), DIM),
                "n": pa.array([0], pa.int64())}, 1)
        return result

    monkeypatch.setattr(search_module, "run", insert_after_first)
    got = engine.hybrid_search(HybridSearchRequest(
        "default", "docs", (SearchRequest("default", "docs", "a", query, 5),
                            SearchRequest("default", "docs", "b", query, 5)),
        RRFRanker(), limit=10))
    assert 999 not in got.pks.to_pylist()
    assert calls[0] == calls[1] == got.read_ts


def test_sub_search_nq_must_match(engine: Engine) -> None:
    one, two = np.zeros((1, DIM), np.float32), np.zeros((2, DIM), np.float32)
    req = HybridSearchRequest("default", "docs", (SearchRequest("default", "docs", "a", one, 5),
                                                  SearchRequest("default", "docs", "b", two, 5)),
                              RRFRanker(), limit=3)
    with pytest.raises(InvalidArgument, match=r"sub search request nq should be the same: "
                       r"invalid parameter\[expected=1\]\[actual=2\]"):
        engine.hybrid_search(req)


@pytest.mark.parametrize(("limit", "offset", "message"), [
    (0, 0, r"limit \[0\] is invalid, should be greater than 0"),
    (10, -1, r"offset \[-1\] is invalid, should be gte than 0"),
    (16000, 1000, r"\(offset\+limit\) should be in range \[1, 16384\], but got 17000"),
])
def test_hybrid_page_bounds(engine: Engine, limit: int, offset: int, message: str) -> None:
    q = np.zeros((1, DIM), np.float32)
    req = HybridSearchRequest("default", "docs", (SearchRequest("default", "docs", "a", q, 5),),
                              RRFRanker(), limit=limit, offset=offset)
    with pytest.raises(InvalidArgument, match=message):
        engine.hybrid_search(req)


def test_sub_search_limit_bounds_are_a_search_s(engine: Engine) -> None:
    q = np.zeros((1, DIM), np.float32)
    req = HybridSearchRequest("default", "docs", (SearchRequest("default", "docs", "a", q, 0),),
                              RRFRanker(), limit=3)
    with pytest.raises(InvalidArgument, match=r"topk \[0\] is invalid"):
        engine.hybrid_search(req)


def test_a_sub_search_with_no_hits_leaves_the_others_fused(engine: Engine) -> None:
    q = np.random.default_rng(2).random((2, DIM), dtype=np.float32)
    none = SearchRequest("default", "docs", "a", q, 5, filter="n > 100")
    some = SearchRequest("default", "docs", "b", q, 5)
    got = engine.hybrid_search(HybridSearchRequest("default", "docs", (none, some), RRFRanker(),
                                                   limit=5, output_fields=("n",)))
    alone = engine.search(some)
    assert got.pks.to_pylist() == alone.pks.to_pylist()
    assert got.fields.column("n").to_pylist() == [pk % 5 for pk in alone.pks.to_pylist()]
    assert got.scores.tolist() == pytest.approx([1 / (60 + r) for _ in range(2)
                                                 for r in range(1, 6)])
