"""Sparse vector search: inner product (larger is closer) over an inverted index.

The index keeps every (dimension, row, value) entry sorted by dimension, so a query's postings are
found with one binary search per query term and scored with one weighted bincount per query.
Only rows sharing a dimension with the query are hits, as in Milvus. Results are exact, so
SPARSE_INVERTED_INDEX and SPARSE_WAND answer the same; `drop_ratio_build` drops the smallest
share of a segment's values when the index is built and `drop_ratio_search` the smallest share of
a query's values, as Milvus documents.

BM25 (the metric of a BM25 function's output field) scores the same postings, whose values are
term frequencies, with each document's term weight tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)),
dl being the document's token count (the sum of its values) and avgdl the collection's average,
which the caller passes per search as `bm25_avgdl` (collection statistics move with every
write; an index never holds them). The query's values are its terms' IDF weights.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from elanus.errors import InvalidArgument
from elanus.index.params import check_float
from elanus.index.selection import Allowed, as_selection
from elanus.index.vector import Offsets, Scores, _empty
from elanus.schema.vectors import SparseRows

SPARSE_METRICS = ("IP",)
BM25 = "BM25"
SPARSE_KINDS = ("SPARSE_INVERTED_INDEX", "SPARSE_WAND")
BM25_ALGORITHMS = ("DAAT_MAXSCORE", "DAAT_WAND", "TAAT_NAIVE")
DEFAULT_K1, DEFAULT_B = 1.2, 0.75
AVGDL = "bm25_avgdl"  # the search param carrying the collection's average document length


def bm25_params(params: dict[str, Any]) -> tuple[float, float]:
    """(k1, b) of a BM25 index, checked against knowhere's ranges."""
    k1 = check_float(params, "bm25_k1", DEFAULT_K1, 0.0, 3.0)
    b = check_float(params, "bm25_b", DEFAULT_B, 0.0, 1.0)
    algo = str(params.get("inverted_index_algo") or "DAAT_MAXSCORE").upper()
    if algo not in BM25_ALGORITHMS:
        raise InvalidArgument(f"sparse inverted index algo {params.get('inverted_index_algo')} "
                              f"not found or not supported, supported: "
                              f"[{' '.join(BM25_ALGORITHMS)}]")
    return k1, b


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
    metric: str

    def __init__(self, num_rows: int, dims: npt.NDArray[np.uint32],
                 rows: npt.NDArray[np.int64], values: npt.NDArray[np.float32],
                 kind: str = "SPARSE_INVERTED_INDEX", metric: str = "IP") -> None:
        self._n, self._dims, self._rows, self._values = num_rows, dims, rows, values
        self.kind, self.metric = kind, metric
        self._lengths: npt.NDArray[np.float64] | None = None

    @classmethod
    def build(cls, base: SparseRows, kind: str = "SPARSE_INVERTED_INDEX",
              params: dict[str, Any] | None = None, metric: str = "IP") -> SparseIndex:
        # BM25 values are term counts: dropping any would change document lengths.
        ratio = 0.0 if metric == BM25 else _ratio(params or {}, "drop_ratio_build")
        keep = _keep_largest(base.values, ratio)
        dims, rows, values = base.indices[keep], base.row_of_entry[keep], base.values[keep]
        order = np.argsort(dims, kind="stable")
        return cls(len(base), dims[order], rows[order], values[order], kind, metric)

    @property
    def lengths(self) -> npt.NDArray[np.float64]:
        """Each row's token count (BM25's document length): the sum of its values."""
        lengths = self._lengths
        if lengths is None:
            lengths = np.bincount(self._rows, weights=self._values,
                                  minlength=self._n).astype(np.float64)
            self._lengths = lengths
        return lengths

    def _postings(self, terms: npt.NDArray[np.uint32]
                  ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Where each term's postings start in the sorted entries, and how many it has."""
        lo = np.searchsorted(self._dims, terms, side="left")
        hi = np.searchsorted(self._dims, terms, side="right")
        return lo, hi - lo

    def document_frequencies(self, terms: npt.NDArray[np.uint32],
                             live: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.int64]:
        """How many rows (of those `live`, or all) hold each term."""
        lo, lengths = self._postings(terms)
        if live is None:
            return lengths
        entries = np.repeat(lo - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        hit = live[self._rows[entries]].astype(np.int64)
        owner = np.repeat(np.arange(len(terms)), lengths)
        return np.bincount(owner, weights=hit, minlength=len(terms)).astype(np.int64)

    @property
    def num_rows(self) -> int:
        return self._n

    def serialize(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, n=np.array([self._n]), dims=self._dims, rows=self._rows,
                 values=self._values)
        return out.getvalue()

    @classmethod
    def deserialize(cls, data: bytes, kind: str, metric: str = "IP") -> SparseIndex:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(int(z["n"][0]), z["dims"], z["rows"], z["values"], kind, metric)

    def search(self, queries: SparseRows, k: int, allowed: Allowed = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        nq = len(queries)
        selection = as_selection(allowed)
        off, score = _empty(nq, k, "IP")
        if self._n == 0 or k == 0:
            return off, score
        params = params or {}
        drop = _ratio(params, "drop_ratio_search")
        bm25 = self._bm25_weights(params) if self.metric == BM25 else None
        for qi in range(nq):  # each query is one vectorized pass over its postings
            lo_q, hi_q = int(queries.indptr[qi]), int(queries.indptr[qi + 1])
            q_dims, q_vals = queries.indices[lo_q:hi_q], queries.values[lo_q:hi_q]
            keep = _keep_largest(q_vals, drop)
            q_dims, q_vals = q_dims[keep], q_vals[keep]
            lo, lengths = self._postings(q_dims)
            total = int(lengths.sum())
            if total == 0:
                continue
            starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
            entries = starts + np.arange(total)
            rows = self._rows[entries]
            values = self._values[entries] if bm25 is None else bm25(entries, rows)
            weights = values * np.repeat(q_vals, lengths)
            scores = np.bincount(rows, weights=weights, minlength=self._n)
            hit = np.bincount(rows, minlength=self._n) > 0
            if selection is not None:
                hit &= selection.mask[: self._n]
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

    def _bm25_weights(self, params: dict[str, Any]) -> Any:
        """The BM25 term weight of posting entries, from the index's k1 and b and the
        collection's average document length."""
        k1, b = bm25_params(params)
        avgdl = max(float(params.get(AVGDL) or 1.0), 1.0)
        norm = k1 * (1.0 - b + b * self.lengths / avgdl)

        def weights(entries: npt.NDArray[np.int64],
                    rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
            tf = self._values[entries].astype(np.float64)
            out: npt.NDArray[np.float64] = tf * (k1 + 1.0) / (tf + norm[rows])
            return out

        return weights
