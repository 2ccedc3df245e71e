"""Sparse vector search: inner product (larger is closer) over an inverted index.

The index keeps every (dimension, row, value) entry sorted by dimension, so a query's postings are
found with one binary search per query term and scored with one weighted bincount per query.
Only rows sharing a dimension with the query are hits, as in Milvus. Results are exact, so
SPARSE_INVERTED_INDEX and SPARSE_WAND answer the same; `drop_ratio_build` drops the smallest
share of a segment's values when the index is built and `drop_ratio_search` the smallest share of
a query's values, as Milvus documents.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from elanus.errors import InvalidArgument
from elanus.index.vector import Offsets, Scores, _empty
from elanus.schema.vectors import SparseRows

SPARSE_METRICS = ("IP",)
SPARSE_KINDS = ("SPARSE_INVERTED_INDEX", "SPARSE_WAND")


def _ratio(params: dict[str, Any], name: str) -> float:
    raw = params.get(name, 0)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidArgument(f"param '{name}' ({raw}) should be a number") from None
    if not 0.0 <= value < 1.0:
        raise InvalidArgument(f"param '{name}' ({value}) should be in range [0, 1)")
    return value


def _keep_largest(values: npt.NDArray[np.float32], ratio: float) -> npt.NDArray[np.bool_]:
    """The entries not among the smallest `ratio` share by magnitude."""
    if ratio <= 0 or len(values) == 0:
        return np.ones(len(values), dtype=bool)
    cut = np.quantile(np.abs(values), ratio)
    keep: npt.NDArray[np.bool_] = np.abs(values) >= cut
    return keep


class SparseIndex:
    kind: str
    metric = "IP"

    def __init__(self, num_rows: int, dims: npt.NDArray[np.uint32],
                 rows: npt.NDArray[np.int64], values: npt.NDArray[np.float32],
                 kind: str = "SPARSE_INVERTED_INDEX") -> None:
        self._n, self._dims, self._rows, self._values = num_rows, dims, rows, values
        self.kind = kind

    @classmethod
    def build(cls, base: SparseRows, kind: str = "SPARSE_INVERTED_INDEX",
              params: dict[str, Any] | None = None) -> SparseIndex:
        keep = _keep_largest(base.values, _ratio(params or {}, "drop_ratio_build"))
        dims, rows, values = base.indices[keep], base.row_of_entry[keep], base.values[keep]
        order = np.argsort(dims, kind="stable")
        return cls(len(base), dims[order], rows[order], values[order], kind)

    @property
    def num_rows(self) -> int:
        return self._n

    def serialize(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, n=np.array([self._n]), dims=self._dims, rows=self._rows,
                 values=self._values)
        return out.getvalue()

    @classmethod
    def deserialize(cls, data: bytes, kind: str) -> SparseIndex:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(int(z["n"][0]), z["dims"], z["rows"], z["values"], kind)

    def search(self, queries: SparseRows, k: int, allowed: npt.NDArray[np.bool_] | None = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        nq = len(queries)
        off, score = _empty(nq, k, "IP")
        if self._n == 0 or k == 0:
            return off, score
        drop = _ratio(params or {}, "drop_ratio_search")
        for qi in range(nq):  # each query is one vectorized pass over its postings
            lo_q, hi_q = int(queries.indptr[qi]), int(queries.indptr[qi + 1])
            q_dims, q_vals = queries.indices[lo_q:hi_q], queries.values[lo_q:hi_q]
            keep = _keep_largest(q_vals, drop)
            q_dims, q_vals = q_dims[keep], q_vals[keep]
            lo = np.searchsorted(self._dims, q_dims, side="left")
            hi = np.searchsorted(self._dims, q_dims, side="right")
            lengths = hi - lo
            total = int(lengths.sum())
            if total == 0:
                continue
            starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
            entries = starts + np.arange(total)
            rows = self._rows[entries]
            weights = self._values[entries] * np.repeat(q_vals, lengths)
            scores = np.bincount(rows, weights=weights, minlength=self._n)
            hit = np.bincount(rows, minlength=self._n) > 0
            if allowed is not None:
                hit &= allowed[: self._n]
            candidates = np.flatnonzero(hit)
            if len(candidates) == 0:
                continue
            kk = min(k, len(candidates))
            cand_scores = scores[candidates]
            top = np.argpartition(-cand_scores, kk - 1)[:kk]
            top = top[np.argsort(-cand_scores[top], kind="stable")]
            off[qi, :kk] = candidates[top]
            score[qi, :kk] = cand_scores[top]
        return off, score
