"""The sparse index under the BM25 metric: term weights, document lengths and document
frequencies against the formulas written out with plain Python loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elanus.errors import InvalidArgument
from elanus.index.sparse import AVGDL, BM25, SparseIndex, bm25_params
from elanus.schema.vectors import SparseRows

Docs = list[dict[int, int]]


def _rows(docs: Docs) -> SparseRows:
    indptr = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    indices = np.array([t for d in docs for t in sorted(d)], dtype=np.uint32)
    values = np.array([d[t] for d in docs for t in sorted(d)], dtype=np.float32)
    return SparseRows(indptr, indices, values)


def _score(doc: dict[int, int], query: dict[int, float], avgdl: float, k1: float,
           b: float) -> float:
    dl = sum(doc.values())
    return sum(w * doc[t] * (k1 + 1) / (doc[t] + k1 * (1 - b + b * dl / max(avgdl, 1.0)))
               for t, w in query.items() if t in doc)


docs_strategy = st.lists(st.dictionaries(st.integers(0, 12), st.integers(1, 5), max_size=6),
                         min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(docs=docs_strategy,
       query=st.dictionaries(st.integers(0, 14), st.floats(0.1, 3.0), min_size=1, max_size=4),
       k1=st.sampled_from([0.0, 1.2, 2.5]), b=st.sampled_from([0.0, 0.75, 1.0]),
       avgdl=st.floats(0.5, 20.0), k=st.integers(1, 10))
def test_scores_are_the_formula(docs: Docs, query: dict[int, float], k1: float, b: float,
                                avgdl: float, k: int) -> None:
    index = SparseIndex.build(_rows(docs), metric=BM25)
    q = _rows([{t: 1 for t in query}])
    q = SparseRows(q.indptr, q.indices, np.array([query[t] for t in sorted(query)], np.float32))
    off, score = index.search(q, k, None, {"bm25_k1": k1, "bm25_b": b, AVGDL: avgdl})
    want = sorted(((i, _score(d, query, avgdl, k1, b)) for i, d in enumerate(docs)
                   if set(d) & set(query)), key=lambda h: -h[1])[:k]
    got = [(int(o), float(s)) for o, s in zip(off[0], score[0]) if o >= 0]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)
    for i, s in got:
        assert s == pytest.approx(_score(docs[i], query, avgdl, k1, b), rel=1e-5)


@settings(max_examples=60, deadline=None)
@given(docs=docs_strategy, live_seed=st.integers(0, 2**32 - 1))
def test_lengths_and_document_frequencies(docs: Docs, live_seed: int) -> None:
    index = SparseIndex.build(_rows(docs), metric=BM25)
    assert index.lengths.tolist() == [sum(d.values()) for d in docs]
    live = np.random.default_rng(live_seed).random(len(docs)) < 0.6
    terms = np.arange(15, dtype=np.uint32)
    assert index.document_frequencies(terms, None).tolist() == \
        [sum(1 for d in docs if t in d) for t in range(15)]
    assert index.document_frequencies(terms, live).tolist() == \
        [sum(1 for d, alive in zip(docs, live) if alive and t in d) for t in range(15)]


def test_bm25_builds_keep_every_count_and_survive_serialization() -> None:
    docs = [{1: 1, 2: 9}, {2: 1}]
    index = SparseIndex.build(_rows(docs), params={"drop_ratio_build": 0.5}, metric=BM25)
    assert index.lengths.tolist() == [10, 1]  # nothing dropped: lengths are token counts
    back = SparseIndex.deserialize(index.serialize(), index.kind, BM25)
    assert back.metric == BM25 and back.lengths.tolist() == [10, 1]


@pytest.mark.parametrize(("params", "message"), [
    ({"bm25_k1": 3.5}, "bm25_k1"), ({"bm25_b": -0.1}, "bm25_b"), ({"bm25_k1": "x"}, "number"),
    ({"inverted_index_algo": "NOPE"}, "DAAT_MAXSCORE DAAT_WAND TAAT_NAIVE"),
])
def test_bm25_param_ranges(params: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        bm25_params(params)
    assert bm25_params({}) == (1.2, 0.75)
