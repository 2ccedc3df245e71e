"""BM25 search over a BM25 function's output field: raw text queries, collection-wide statistics.

A query text is analyzed with the input field's analyzer into {term hash: count}; each term is
weighed by its IDF, ln(1 + (N − df + 0.5) / (df + 0.5)), and the segments score their rows
against those weights (`elanus.index.sparse`, metric BM25) with the collection's average
document length. N (rows), the token total and every query term's df are counted at the
search's read timestamp over every row it sees in every loaded partition, whatever the
search's partitions and filter: deleted and not yet visible rows do not count, so the
statistics stay exact through inserts, deletes, upserts, compaction and restarts (they are
read from the data, never kept beside it). Sealed segments count from their index's postings;
growing segments and sealed ones not indexed yet from postings built once per snapshot size.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from elanus.engine.collection import Collection
from elanus.engine.segment import Segment, SegmentView, passing_rows
from elanus.errors import InvalidArgument
from elanus.index.sparse import AVGDL, BM25, SparseIndex
from elanus.schema import CollectionSchema, FieldSchema
from elanus.schema.functions import FunctionSchema, bm25_analysis, term_frequencies
from elanus.schema.multi_analyzer import query_analyzer
from elanus.schema.vectors import SparseRows

_built: weakref.WeakKeyDictionary[Segment, dict[str, tuple[int, SparseIndex]]] = \
    weakref.WeakKeyDictionary()
_lock = threading.Lock()


def postings(view: SegmentView, field: FieldSchema, metric: str) -> SparseIndex:
    """The segment's sparse index on `field`, or postings built over its snapshot's rows (kept
    until the segment grows, so a search and its statistics build them once)."""
    index = view.index(field.name)
    if isinstance(index, SparseIndex):
        return index
    with _lock:
        found = _built.get(view.segment, {}).get(field.name)
    if found is not None and found[0] == view.num_rows and found[1].metric == metric:
        return found[1]
    base = view.vectors(field.name)
    assert isinstance(base, SparseRows)
    built = SparseIndex.build(base, metric=metric)  # exact: nothing dropped
    with _lock:
        _built.setdefault(view.segment, {})[field.name] = (view.num_rows, built)
    return built


@dataclass(frozen=True)
class CorpusStats:
    rows: int
    tokens: float
    df: npt.NDArray[np.int64]  # per query term

    @property
    def avgdl(self) -> float:
        return self.tokens / self.rows if self.rows else 0.0


def corpus_stats(collection: Collection, field: FieldSchema, read_ts: int,
                 terms: npt.NDArray[np.uint32]) -> CorpusStats:
    """N, the token total and each term's df over the rows visible at `read_ts`."""
    snap = collection.snapshot("search", read_ts, [])
    rows, tokens = 0, 0.0
    df = np.zeros(len(terms), dtype=np.int64)
    for view, live in zip(snap.views, snap.visible()):
        if not view.num_rows:
            continue
        index = postings(view, field, BM25)
        rows += passing_rows(live, view.num_rows)
        tokens += float(index.lengths.sum() if live is None else index.lengths[live].sum())
        df += index.document_frequencies(terms, live)
    return CorpusStats(rows, tokens, df)


def text_of(queries: Any, field: FieldSchema) -> list[str]:
    """The query texts of a search on a BM25 output field, or Milvus's error."""
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        got = ("SparseFloatVector" if isinstance(queries, SparseRows) else "BinaryVector"
               if getattr(queries, "dtype", None) == np.uint8 else "FloatVector")
        raise InvalidArgument(f"please provide varchar/text for BM25 Function based search, "
                              f"got {got}")
    return queries


def weighed_queries(collection: Collection, schema: CollectionSchema, fn: FunctionSchema,
                    field: FieldSchema, texts: list[str], read_ts: int,
                    params: dict[str, Any]) -> tuple[SparseRows, dict[str, Any]]:
    """The queries' BM25 vectors ({term hash: count × IDF}) and the search params carrying the
    average document length, both from the statistics at `read_ts`."""
    tf = term_frequencies(query_analyzer(bm25_analysis(schema, fn), params), texts)
    terms, where = np.unique(tf.indices, return_inverse=True)
    stats = corpus_stats(collection, field, read_ts, terms.astype(np.uint32))
    df = stats.df.astype(np.float64)
    idf = np.log1p((stats.rows - df + 0.5) / (df + 0.5)).astype(np.float32)
    weights = (tf.values * idf[where]).astype(np.float32)
    return SparseRows(tf.indptr, tf.indices, weights), {**params, AVGDL: stats.avgdl}
