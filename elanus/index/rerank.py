"""Exact distances on a segment's raw float32 rows, read only where they are needed.

The raw rows may be a memory-mapped segment file larger than RAM. Both functions here gather
just the rows they score (a block of the base at a time for a scan, the candidate rows for a
re-rank) and prepare only those for the metric: COSINE normalises the gathered rows, never the
whole base. Scores are Milvus's (squared L2, IP, cosine similarity); a missing hit is -1.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from elanus.index.vector import (
    Offsets,
    Scores,
    Vectors,
    _empty,
    faiss_metric,
    larger_is_closer,
    prepare,
)

SCAN_ROWS = 65_536  # base rows one block of an exact scan reads and prepares
RERANK_FLOATS = 1 << 23  # gathered candidate floats one block of queries may hold


def exact_raw(base: Vectors, queries: Vectors, k: int, metric: str,
              rows: npt.NDArray[np.int64] | None = None) -> tuple[Offsets, Scores]:
    """Brute-force top k of `queries` (prepared) over the raw `base` rows `rows` (all if None),
    reading and preparing the base a block at a time."""
    nq = len(queries)
    total = len(base) if rows is None else len(rows)
    if total == 0 or k == 0:
        return _empty(nq, k, metric)
    best_o, best_s = _empty(nq, k, metric)
    fm = faiss_metric(metric)
    for lo in range(0, total, SCAN_ROWS):
        ids = (np.arange(lo, min(lo + SCAN_ROWS, total), dtype=np.int64) if rows is None
               else rows[lo: lo + SCAN_ROWS])
        block = prepare(base[lo: lo + len(ids)] if rows is None else base[ids], metric)
        kk = min(k, len(ids))
        scores, local = faiss.knn(queries, block, kk, metric=fm)
        found = np.where(local >= 0, ids[np.maximum(local, 0)], -1)
        best_o, best_s = _top(np.hstack([best_o, found]), np.hstack([best_s, scores]), k, metric)
    return best_o, best_s


def rerank(base: Vectors, queries: Vectors, candidates: Offsets, k: int,
           metric: str) -> tuple[Offsets, Scores]:
    """The best `k` of each query's `candidates` (offsets into the raw `base`, -1 for none) by
    exact distance, computed on the gathered candidate rows only."""
    nq, width = candidates.shape
    out_o, out_s = _empty(nq, k, metric)
    if nq == 0 or width == 0 or k == 0:
        return out_o, out_s
    dim = base.shape[1]
    step = max(1, RERANK_FLOATS // (width * dim))
    worst = -np.inf if larger_is_closer(metric) else np.inf
    for lo in range(0, nq, step):
        cand = candidates[lo: lo + step]
        valid = cand >= 0
        unique = np.unique(cand[valid])
        if len(unique) == 0:
            continue
        rows = prepare(base[unique], metric)
        gathered = rows[np.searchsorted(unique, np.maximum(cand, 0)).clip(0, len(unique) - 1)]
        q = queries[lo: lo + step]
        if metric == "L2":
            diff = gathered - q[:, None, :]
            scores = np.einsum("bcd,bcd->bc", diff, diff)
        else:
            scores = np.einsum("bcd,bd->bc", gathered, q)
        scores = np.where(valid, scores, worst).astype(np.float32)
        o, s = _top(np.where(valid, cand, -1), scores, k, metric)
        out_o[lo: lo + step], out_s[lo: lo + step] = o, s
    return out_o, out_s


def _top(offsets: Any, scores: Any, k: int, metric: str) -> tuple[Offsets, Scores]:
    """The best `k` columns of each row, best first; missing hits (-1) sort last."""
    key = -scores if larger_is_closer(metric) else scores
    key = np.where(offsets >= 0, key, np.inf)
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    out_o = np.take_along_axis(offsets, order, axis=1).astype(np.int64)
    out_s = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    if out_o.shape[1] < k:
        pad_o, pad_s = _empty(len(out_o), k, metric)
        pad_o[:, : out_o.shape[1]], pad_s[:, : out_s.shape[1]] = out_o, out_s
        return pad_o, pad_s
    return out_o, out_s
