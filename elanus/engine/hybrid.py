"""Hybrid search: several ANN searches of one collection, fused into one ranking by a ranker.

Each sub-search is a plain search (its own vector field, query vectors, metric, index params,
range, filter and limit) run by `search.run` with the hybrid request's partitions and output
fields and no offset: Milvus ignores a sub-request's offset and pages the fused ranking. All
sub-searches read at one timestamp: the first takes the newest, the others read at the one it
took, so a write landing meanwhile is seen by all of them or by none.

The ranker then fuses, for each query, the ranked hit lists of the sub-searches. A primary
key's fused score sums its contributions over the lists that hold it, as Milvus's reranker does:

- RRF: ``1 / (k + rank)`` per list, rank counted from 1; k in (0, 16384), 60 by default.
- Weighted: ``weight_i * norm(score)`` for list i, one weight in [0, 1] per sub-search. With
  `norm_score`, `norm` maps each metric onto [0, 1], larger meaning closer: COSINE
  ``(1 + s) / 2``, IP ``1/2 + arctan(s) / pi``, BM25 ``2 arctan(s) / pi``, every distance
  (L2, HAMMING, JACCARD ...) ``1 - 2 arctan(d) / pi``. Without it scores add up raw, except
  that distances take the distance map when the lists mix similarities and distances.

The fused list is ordered by score, larger first (smaller first only for raw distances), ties
by primary key ascending; each query keeps ranks offset .. offset+limit-1. Every fused hit comes
from at least one sub-result and takes its output fields from the first sub-result holding it.
Scores are float32 throughout, as Milvus's are; the work is numpy over every query at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine import search
from elanus.engine.collection import Collection
from elanus.engine.requests import HybridSearchRequest, SearchResult
from elanus.errors import InvalidArgument, UnexpectedError, Unsupported

DEFAULT_RRF_K = 60.0
MAX_RRF_K = 16384.0
MAX_SUB_SEARCHES = 1024  # Milvus's proxy limit on AnnSearchRequests per hybrid search
MAX_RESULT_WINDOW = 16384  # offset + limit, quotaAndLimits.limits.maxQueryResultWindow
MAX_NQ = 16384
SIMILARITIES = frozenset({"COSINE", "IP", "BM25"})  # larger is closer; every other metric is a
# distance, as Milvus's reranker classifies them
SERVED_RERANKERS = ("rrf", "weighted")
KNOWN_RERANKERS = ("decay", "model", "rrf", "weighted")
_PI = np.float32(np.pi)


@dataclass(frozen=True)
class RRFRanker:
    """Reciprocal rank fusion: score = sum over lists of 1 / (k + rank)."""

    k: float = DEFAULT_RRF_K

    def __post_init__(self) -> None:
        if not 0 < self.k < MAX_RRF_K:
            raise UnexpectedError(f"The rank params k should be in range (0, {int(MAX_RRF_K)})")


@dataclass(frozen=True)
class WeightedRanker:
    """Weighted sum of each list's (optionally normalized) scores, one weight per list."""

    weights: tuple[float, ...]
    norm_score: bool = False  # Milvus's server default; pymilvus's WeightedRanker sends True

    def __post_init__(self) -> None:
        if not self.weights:
            raise UnexpectedError("weights not found")
        if any(not 0 <= w <= 1 for w in self.weights):
            raise UnexpectedError("rank param weight should be in range [0, 1]")


Ranker = RRFRanker | WeightedRanker


# -- rankers from their two encodings -------------------------------------------------------

def legacy_ranker(strategy: str | None, params_json: str | None) -> Ranker:
    """The ranker of `rank_params` {"strategy": ..., "params": JSON} (RRFRanker and
    WeightedRanker objects of the SDKs); no strategy means RRF with the default k."""
    if strategy is None:
        return RRFRanker()
    if strategy not in SERVED_RERANKERS:
        raise UnexpectedError(f"unsupported rank type {strategy}")
    if params_json is None:
        raise UnexpectedError("params not found in rank_params")
    try:
        params = json.loads(params_json)
    except ValueError as exc:
        raise UnexpectedError(f"Parse rerank params failed, err: {exc}") from None
    if not isinstance(params, dict):
        raise UnexpectedError(f"Parse rerank params failed, err: {params_json} is not an object")
    if strategy == "rrf":
        k = params.get("k", DEFAULT_RRF_K)
        if not _is_number(k):
            raise UnexpectedError("The type of rank param k should be float")
        return RRFRanker(float(k))
    norm = params.get("norm_score", False)
    if not isinstance(norm, bool):
        raise UnexpectedError(f"Weighted rerank err, norm_score should been bool type, but "
                              f"[norm_score:{norm}]'s type is {_go_type(norm)}")
    return WeightedRanker(_weights(params.get("weights")), norm)


def function_ranker(params: Mapping[str, str], input_fields: Sequence[str]) -> Ranker:
    """The ranker of a rerank FunctionSchema's params (string values, keys any case), the
    2.6 form (`Function(..., FunctionType.RERANK, params={"reranker": "rrf", ...})`)."""
    lowered = {k.lower(): v for k, v in params.items()}
    name = lowered.get("reranker", "").lower()
    if name not in KNOWN_RERANKERS:
        raise UnexpectedError(f"Unsupported rerank function: [{name}] , list of supported "
                              f"[{','.join(KNOWN_RERANKERS)}]")
    if name not in SERVED_RERANKERS:
        raise Unsupported(f"the {name} reranker is not supported by this elanus build yet; "
                          "hybrid search serves the rrf and weighted rerankers")
    if input_fields:
        raise UnexpectedError(f"The {name} function does not support input parameters, but got "
                              f"[{' '.join(input_fields)}]")
    if name == "rrf":
        raw = lowered.get("k")
        if raw is None:
            return RRFRanker()
        try:
            return RRFRanker(float(raw))
        except ValueError:
            raise UnexpectedError(f"Param k:{raw} is not a number") from None
    raw_weights = lowered.get("weights")
    if raw_weights is None:
        raise UnexpectedError("weights not found")
    try:
        weights = json.loads(raw_weights)
    except ValueError:
        weights = None
    norm = False
    if "norm_score" in lowered:
        norm = _parse_bool(lowered["norm_score"])
    return WeightedRanker(_weights(weights, raw_weights), norm)


def _weights(value: Any, text: str | None = None) -> tuple[float, ...]:
    if value is None and text is None:
        raise UnexpectedError("weights not found")
    if not isinstance(value, list) or not all(_is_number(w) for w in value):
        shown = text if text is not None else json.dumps(value)
        raise UnexpectedError(f"Parse weights param failed, weight should be []float, bug got: "
                              f"{shown}")
    return tuple(float(w) for w in value)


def _parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool, which Milvus reads norm_score with."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise UnexpectedError(f"norm_score params must be true/false, bug got {text}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _go_type(value: Any) -> str:
    """The Go type name Milvus's message shows for a JSON value."""
    if isinstance(value, str):
        return "string"
    if _is_number(value):
        return "float64"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "<nil>"


# -- the search ------------------------------------------------------------------------------

def run(collection: Collection, req: HybridSearchRequest) -> SearchResult:
    """Run every sub-search of `req` and fuse their hits with its ranker."""
    if not req.searches:
        raise InvalidArgument(f"nq [0] is invalid, nq (number of search vector per search "
                              f"request) should be in range [1, {MAX_NQ}]")
    if len(req.searches) > MAX_SUB_SEARCHES:
        raise InvalidArgument(f"maximum of ann search requests is {MAX_SUB_SEARCHES}")
    nqs = [len(s.queries) if s.query_keys is None else len(s.query_keys) for s in req.searches]
    for nq in nqs[1:]:
        if nq != nqs[0]:
            raise InvalidArgument("sub search request nq should be the same", nqs[0], nq)
    _check_window(req.offset, req.limit)
    if req.round_decimal != -1 and not 0 <= req.round_decimal <= 6:
        raise InvalidArgument(f"round_decimal [{req.round_decimal}] is invalid, should be -1 or "
                              "an integer in range [0, 6]")
    subs: list[SearchResult] = []
    for asked in req.searches:
        sub = replace(asked, output_fields=req.output_fields, partition_names=req.partition_names,
                      offset=0, read_ts=subs[0].read_ts if subs else asked.read_ts)
        subs.append(search.run(collection, sub))
    return fuse(req.ranker, subs, req.limit, req.offset, req.round_decimal)


def _check_window(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidArgument(f"offset [{offset}] is invalid, should be gte than 0")
    if limit <= 0:
        raise InvalidArgument(f"limit [{limit}] is invalid, should be greater than 0")
    if offset + limit > MAX_RESULT_WINDOW:
        raise InvalidArgument(f"invalid max query result window, (offset+limit) should be in "
                              f"range [1, {MAX_RESULT_WINDOW}], but got {offset + limit}")


def fuse(ranker: Ranker, subs: Sequence[SearchResult], limit: int, offset: int = 0,
         round_decimal: int = -1) -> SearchResult:
    """One ranking per query from the sub-searches' hit lists (all with the same queries).

    Returns the page `offset` .. `offset+limit-1` of each query's fused ranking, with the
    output columns of each hit taken from the first sub-result holding it.
    """
    if isinstance(ranker, WeightedRanker) and len(ranker.weights) != len(subs):
        raise InvalidArgument("the length of weights param mismatch with ann search requests",
                              len(subs), len(ranker.weights))
    nq = len(subs[0].topks)
    counts = np.array([len(s.scores) for s in subs], dtype=np.int64)
    sub = np.repeat(np.arange(len(subs)), counts)
    query = np.concatenate([np.repeat(np.arange(nq), s.topks) for s in subs]).astype(np.int64)
    rank = np.concatenate([_ranks(s.topks) for s in subs]).astype(np.int64)
    scores = np.concatenate([s.scores for s in subs]).astype(np.float32)
    pks = pa.concat_arrays([s.pks for s in subs]) if len(subs) > 1 else subs[0].pks
    codes = _ordered_codes(pks)
    contribution, descending = _contributions(ranker, subs, counts, rank, scores)

    # One group per (query, key); within a group the first row is the lowest sub-search, the
    # one whose fields the hit shows, and additions run in sub-search order as in Milvus.
    order = np.lexsort((sub, codes, query))
    g_query, g_code = query[order], codes[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (g_query[1:] != g_query[:-1]) | (g_code[1:] != g_code[:-1])
    starts = np.flatnonzero(new_group)
    fused = (np.add.reduceat(contribution[order], starts) if len(starts)
             else np.empty(0, np.float32)).astype(np.float32)
    rows, g_query, g_code = order[starts], g_query[starts], g_code[starts]

    ranked = np.lexsort((g_code, -fused if descending else fused, g_query))
    rows, g_query, fused = rows[ranked], g_query[ranked], fused[ranked]
    first_of_query = np.searchsorted(g_query, np.arange(nq))
    position = np.arange(len(rows)) - first_of_query[g_query]
    page = (position >= offset) & (position < offset + limit)
    rows, g_query, fused = rows[page], g_query[page], fused[page]
    if round_decimal != -1:  # as Milvus rounds: floor(x * 10^d + 0.5) / 10^d
        scale = 10.0 ** round_decimal
        fused = (np.floor(fused.astype(np.float64) * scale + 0.5) / scale).astype(np.float32)
    take = pa.array(rows, pa.int64())
    return SearchResult(
        pks=pks.take(take), scores=fused, topks=np.bincount(g_query, minlength=nq).tolist(),
        fields=_fields(subs).take(take), output_fields=subs[0].output_fields,
        primary_field=subs[0].primary_field, metric_type="",
        dynamic_keys=subs[0].dynamic_keys, read_ts=max(s.read_ts for s in subs))


def _ranks(topks: Sequence[int]) -> npt.NDArray[np.int64]:
    """Each hit's 0-based position in its query's list, for lists of these lengths."""
    sizes = np.asarray(topks, dtype=np.int64)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    out: npt.NDArray[np.int64] = np.arange(int(sizes.sum()), dtype=np.int64) - starts
    return out


def _ordered_codes(pks: pa.Array) -> npt.NDArray[np.int64]:
    """Integers that compare as the primary keys do (ties in fused score go to the smaller)."""
    if len(pks) == 0:
        return np.empty(0, np.int64)
    ordered = pks if pa.types.is_integer(pks.type) else pc.rank(pks, sort_keys="ascending",
                                                                   tiebreaker="dense")
    out: npt.NDArray[np.int64] = ordered.to_numpy(zero_copy_only=False).astype(np.int64)
    return out


def _contributions(ranker: Ranker, subs: Sequence[SearchResult], counts: npt.NDArray[np.int64],
                   rank: npt.NDArray[np.int64], scores: npt.NDArray[np.float32],
                   ) -> tuple[npt.NDArray[np.float32], bool]:
    """Each hit's share of its key's fused score, and whether larger fused scores rank first.

    Hits come in sub-search order, `counts[i]` of them from sub-search i.
    """
    if isinstance(ranker, RRFRanker):
        out = (np.float32(1) / (np.float32(ranker.k) + (rank + 1).astype(np.float32)))
        return out.astype(np.float32), True
    metrics = [s.metric_type.upper() for s in subs]
    similar = [m in SIMILARITIES for m in metrics]
    mixed = any(similar) and not all(similar)
    out = np.empty(len(scores), dtype=np.float32)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for i, metric in enumerate(metrics):  # one vectorized map per sub-search
        part = slice(int(bounds[i]), int(bounds[i + 1]))
        mapped = ranker.norm_score or (mixed and not similar[i])
        normed = normalize(scores[part], metric) if mapped else scores[part]
        out[part] = np.float32(ranker.weights[i]) * normed
    return out, ranker.norm_score or any(similar)  # all distances, raw: smaller first


def normalize(scores: npt.NDArray[np.float32], metric: str) -> npt.NDArray[np.float32]:
    """Scores of `metric` mapped onto [0, 1], larger meaning closer (Milvus's norm_score)."""
    scores = scores.astype(np.float32)
    if metric == "COSINE":
        return ((np.float32(1) + scores) * np.float32(0.5)).astype(np.float32)
    arctan = np.arctan(scores.astype(np.float64)).astype(np.float32)
    if metric == "IP":
        return (np.float32(0.5) + arctan / _PI).astype(np.float32)
    if metric == "BM25":
        return (np.float32(2) * arctan / _PI).astype(np.float32)
    return (np.float32(1) - np.float32(2) * arctan / _PI).astype(np.float32)


def _fields(subs: Sequence[SearchResult]) -> pa.Table:
    """The output columns of every sub-result's hits, one table in sub-search order."""
    tables = [s.fields for s in subs if s.fields.num_rows]  # an empty one adds no rows
    if len(tables) <= 1:
        return tables[0] if tables else subs[0].fields
    return pa.concat_tables(tables, promote_options="permissive")
