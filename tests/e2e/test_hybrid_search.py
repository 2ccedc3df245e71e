"""MilvusClient.hybrid_search through pymilvus: Milvus's hybrid search tutorial flow (a dense
text vector, a sparse text vector and a dense image vector, searched together and reranked),
checked against the fusion of the plain searches it is made of, computed here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pymilvus import (
    AnnSearchRequest,
    DataType,
    Function,
    FunctionType,
    MilvusException,
    RRFRanker,
    WeightedRanker,
)

DIM = 8
ROWS = 300
RNG = np.random.default_rng(11)
TEXT = RNG.random((ROWS, DIM), dtype=np.float32)
IMAGE = RNG.random((ROWS, DIM), dtype=np.float32)
SPARSE = [{int(j): float(v) for j, v in zip(RNG.choice(50, 4, replace=False), RNG.random(4))}
          for _ in range(ROWS)]
QUERY_TEXT = RNG.random((2, DIM), dtype=np.float32)
QUERY_IMAGE = RNG.random((2, DIM), dtype=np.float32)
QUERY_SPARSE = [{1: 0.7, 7: 0.4, 30: 0.2}, {2: 0.9, 11: 0.3}]


def _collection(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=32)
    schema.add_field("year", DataType.INT64)
    schema.add_field("text_dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("text_sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("image_dense", DataType.FLOAT_VECTOR, dim=DIM)
    index = milvus.prepare_index_params()
    index.add_index("text_dense", index_type="AUTOINDEX", metric_type="IP")
    index.add_index("text_sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    index.add_index("image_dense", index_type="FLAT", metric_type="L2")
    milvus.create_collection(name, schema=schema, index_params=index)
    milvus.insert(name, [{"id": i, "text": f"doc {i}", "year": 2000 + i % 20,
                          "text_dense": TEXT[i].tolist(), "text_sparse": SPARSE[i],
                          "image_dense": IMAGE[i].tolist()} for i in range(ROWS)])


def _requests(nq: int = 2) -> list[AnnSearchRequest]:
    return [
        AnnSearchRequest(QUERY_TEXT[:nq].tolist(), "text_dense",
                         {"metric_type": "IP", "params": {"nprobe": 10}}, 12,
                         expr="year >= {y}", expr_params={"y": 2005}),
        AnnSearchRequest(QUERY_SPARSE[:nq], "text_sparse", {"metric_type": "IP"}, 8),
        AnnSearchRequest(QUERY_IMAGE[:nq].tolist(), "image_dense",
                         {"metric_type": "L2", "params": {}}, 10, expr="id % 3 != 0"),
    ]


def _plain(milvus, name: str, req: AnnSearchRequest) -> list[list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    return milvus.search(name, data=req.data, anns_field=req.anns_field, limit=req.limit,
                         search_params=req.param, filter=req.expr or "",
                         filter_params=req.expr_params or {})


def _norm(metric: str, score: float) -> float:
    if metric == "IP":
        return 0.5 + math.atan(score) / math.pi
    return 1 - 2 * math.atan(score) / math.pi  # L2


def _fusion(milvus, name: str, reqs: list[AnnSearchRequest], ranker: str,  # type: ignore[no-untyped-def]
            limit: int, offset: int = 0, k: float = 60, weights: tuple[float, ...] = (),
            norm: bool = True) -> list[list[tuple[int, float]]]:
    """Each sub-search as a plain search, fused per query as Milvus documents it."""
    lists = [_plain(milvus, name, r) for r in reqs]
    metrics = [r.param["metric_type"] for r in reqs]
    out = []
    for q in range(len(lists[0])):
        fused: dict[int, float] = {}
        for i, hits in enumerate(lists):
            for rank, hit in enumerate(hits[q], start=1):
                if ranker == "rrf":
                    share = 1 / (k + rank)
                else:
                    score = hit["distance"]
                    share = weights[i] * (_norm(metrics[i], score) if norm else score)
                fused[hit["id"]] = fused.get(hit["id"], 0.0) + share
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append(ranked[offset:offset + limit])
    return out


def _pairs(result: Any) -> list[list[tuple[int, float]]]:
    return [[(h["id"], h["distance"]) for h in hits] for hits in result]


def _same(got: list[list[tuple[int, float]]], want: list[list[tuple[int, float]]]) -> None:
    assert [[pk for pk, _ in q] for q in got] == [[pk for pk, _ in q] for q in want]
    for g, w in zip(got, want):
        assert [s for _, s in g] == pytest.approx([s for _, s in w], rel=1e-5)


def test_tutorial_flow_with_rrf(milvus, name: str) -> None:
    _collection(milvus, name)
    reqs = _requests(nq=1)
    result = milvus.hybrid_search(name, reqs, RRFRanker(100), limit=5,
                                  output_fields=["text", "year"])
    assert len(result) == 1 and len(result[0]) == 5
    _same(_pairs(result), _fusion(milvus, name, reqs, "rrf", 5, k=100))
    for hit in result[0]:
        assert hit["entity"] == {"text": f"doc {hit['id']}", "year": 2000 + hit["id"] % 20}


@pytest.mark.parametrize(("ranker", "kind", "options"), [
    (RRFRanker(), "rrf", {}),
    (RRFRanker(k=10), "rrf", {"k": 10}),
    (WeightedRanker(0.8, 0.3, 0.5), "weighted", {"weights": (0.8, 0.3, 0.5)}),
    (WeightedRanker(1.0, 0.2, 0.0, norm_score=False), "weighted",
     {"weights": (1.0, 0.2, 0.0), "norm": False}),
], ids=["rrf", "rrf-k10", "weighted-norm", "weighted-raw"])
def test_hybrid_search_fuses_the_plain_searches(milvus, name: str, ranker: Any, kind: str,
                                                options: dict[str, Any]) -> None:
    _collection(milvus, name)
    reqs = _requests()
    got = milvus.hybrid_search(name, reqs, ranker, limit=7, offset=3)
    if kind == "weighted" and not options.get("norm", True):
        # raw scores of mixed metrics: the L2 list is mapped onto larger-is-closer
        lists = [_plain(milvus, name, r) for r in reqs]
        want = []
        for q in range(2):
            fused: dict[int, float] = {}
            for i, hits in enumerate(lists):
                for hit in hits[q]:
                    s = hit["distance"] if i < 2 else _norm("L2", hit["distance"])
                    fused[hit["id"]] = fused.get(hit["id"], 0.0) + options["weights"][i] * s
            want.append(sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[3:10])
    else:
        want = _fusion(milvus, name, reqs, kind, 7, 3, **options)
    assert [len(q) for q in got] == [7, 7]
    _same(_pairs(got), want)


def test_rerank_functions_rank_as_the_ranker_objects_do(milvus, name: str) -> None:
    _collection(milvus, name)
    reqs = _requests()
    rrf = Function("rrf", FunctionType.RERANK, [], params={"reranker": "rrf", "k": 30})
    weighted = Function("w", FunctionType.RERANK, [],
                        params={"reranker": "weighted", "weights": [0.8, 0.3, 0.5],
                                "norm_score": True})
    _same(_pairs(milvus.hybrid_search(name, reqs, rrf, limit=6)),
          _pairs(milvus.hybrid_search(name, reqs, RRFRanker(30), limit=6)))
    _same(_pairs(milvus.hybrid_search(name, reqs, weighted, limit=6)),
          _pairs(milvus.hybrid_search(name, reqs, WeightedRanker(0.8, 0.3, 0.5), limit=6)))


def test_each_sub_request_keeps_its_own_filter(milvus, name: str) -> None:
    _collection(milvus, name)
    reqs = [AnnSearchRequest(QUERY_TEXT[:1].tolist(), "text_dense", {"metric_type": "IP"}, 20,
                             expr="id < 100"),
            AnnSearchRequest(QUERY_IMAGE[:1].tolist(), "image_dense", {"metric_type": "L2"}, 20,
                             expr="id >= 200")]
    hits = milvus.hybrid_search(name, reqs, RRFRanker(), limit=40)[0]
    ids = [h["id"] for h in hits]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sum(i < 100 for i in ids) == 20 and sum(i >= 200 for i in ids) == 20


def test_partition_names_limit_every_sub_search(milvus, name: str) -> None:
    _collection(milvus, name)
    milvus.create_partition(name, "late")
    milvus.insert(name, [{"id": 1000 + i, "text": "late", "year": 2030,
                          "text_dense": TEXT[i].tolist(), "text_sparse": SPARSE[i],
                          "image_dense": IMAGE[i].tolist()} for i in range(5)], partition_name="late")
    hits = milvus.hybrid_search(name, _requests(nq=1), RRFRanker(), limit=10,
                                partition_names=["late"], output_fields=["text"])[0]
    assert sorted(h["id"] for h in hits) == [1000, 1001, 1002, 1003, 1004]
    assert all(h["entity"]["text"] == "late" for h in hits)


def test_round_decimal_rounds_the_fused_scores(milvus, name: str) -> None:
    _collection(milvus, name)
    hits = milvus.hybrid_search(name, _requests(nq=1), WeightedRanker(0.5, 0.5, 0.5), limit=3,
                                round_decimal=2)[0]
    assert all(h["distance"] == pytest.approx(round(h["distance"], 2), abs=1e-6) for h in hits)


@pytest.mark.parametrize(("reqs", "ranker", "kwargs", "code", "words"), [
    (2, WeightedRanker(0.5), {}, 1100,
     r"the length of weights param mismatch with ann search requests"),
    (2, WeightedRanker(0.5, 1.5), {}, 65535, r"rank param weight should be in range \[0, 1\]"),
    (2, RRFRanker(k=0), {}, 65535, r"The rank params k should be in range \(0, 16384\)"),
    (2, RRFRanker(), {"offset": 16380}, 1100,
     r"\(offset\+limit\) should be in range \[1, 16384\], but got 16390"),
    ("nq", RRFRanker(), {}, 1100, "sub search request nq should be the same"),
    ("topk", RRFRanker(), {}, 1100, r"topk \[0\] is invalid"),
    ("field", RRFRanker(), {}, 1100, r"fieldName\(nowhere\) not found"),
    ("metric", RRFRanker(), {}, 1100, "metric type not match"),
    (2, Function("d", FunctionType.RERANK, ["year"],
                 params={"reranker": "decay", "function": "gauss", "origin": 2010,
                         "scale": 5}), {}, 10, "the decay reranker is not supported"),
    (2, Function("m", FunctionType.RERANK, [], params={"reranker": "nope"}), {}, 65535,
     r"Unsupported rerank function: \[nope\]"),
])
def test_hybrid_search_errors(milvus, name: str, reqs: Any, ranker: Any,
                              kwargs: dict[str, Any], code: int, words: str) -> None:
    _collection(milvus, name)
    dense = AnnSearchRequest(QUERY_TEXT[:1].tolist(), "text_dense", {"metric_type": "IP"}, 5)
    image = AnnSearchRequest(QUERY_IMAGE[:1].tolist(), "image_dense", {"metric_type": "L2"}, 5)
    if reqs == "nq":
        image = AnnSearchRequest(QUERY_IMAGE.tolist(), "image_dense", {"metric_type": "L2"}, 5)
    elif reqs == "topk":
        image = AnnSearchRequest(QUERY_IMAGE[:1].tolist(), "image_dense",
                                 {"metric_type": "L2"}, 0)
    elif reqs == "field":
        image = AnnSearchRequest(QUERY_IMAGE[:1].tolist(), "nowhere", {"metric_type": "L2"}, 5)
    elif reqs == "metric":
        image = AnnSearchRequest(QUERY_IMAGE[:1].tolist(), "image_dense",
                                 {"metric_type": "IP"}, 5)
    with pytest.raises(MilvusException, match=words) as err:
        milvus.hybrid_search(name, [dense, image], ranker, limit=10, **kwargs)
    assert err.value.code == code


def test_hybrid_search_needs_a_loaded_collection(milvus, name: str) -> None:
    _collection(milvus, name)
    milvus.release_collection(name)
    with pytest.raises(MilvusException, match="collection not loaded") as err:
        milvus.hybrid_search(name, _requests(nq=1), RRFRanker(), limit=3)
    assert err.value.code == 101
