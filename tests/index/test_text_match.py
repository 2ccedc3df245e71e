"""The text index answers text_match and phrase_match as tantivy, Milvus's engine for them, does.

tantivy 0.27 (the Python binding) is the reference: an in-RAM index over the same documents,
with an analyzer equal to elanus's, searched with scoring disabled, as Milvus's own collectors
search (a scored search walks another path for sloppy phrases of three or more terms).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import tantivy
from hypothesis import given, settings
from hypothesis import strategies as st

from elanus.index.text_match import TextIndex
from elanus.schema.analyzers import Analyzer, analyzer

tv: Any = tantivy
ARTICLES = ["Machine learning boosts efficiency in large-scale data analysis",
            "Learning a machine-based approach is vital for modern AI progress",
            "Deep learning machine architectures optimize computational loads",
            "Machine swiftly improves model performance for ongoing learning",
            "Learning advanced machine algorithms expands AI capabilities"]
# Two analyzers, as elanus builds them and as tantivy builds them: the standard one (every token
# at the next position) and a whitespace one where the stop word "x" leaves position gaps.
ANALYZERS = {
    "standard": ({}, lambda: tv.TextAnalyzerBuilder(tv.Tokenizer.simple())
                 .filter(tv.Filter.lowercase()).build()),
    "stop": ({"tokenizer": "whitespace", "filter": [{"type": "stop", "stop_words": ["x"]}]},
             lambda: tv.TextAnalyzerBuilder(tv.Tokenizer.whitespace())
             .filter(tv.Filter.custom_stopword(["x"])).build()),
}


class Reference:
    """A tantivy index over the same rows (None rows hold no text)."""

    def __init__(self, docs: list[str | None], kind: str) -> None:
        builder = tv.SchemaBuilder()
        builder.add_integer_field("id", stored=True, indexed=True, fast=True)
        builder.add_text_field("text", tokenizer_name="an", index_option="position")
        self.schema = builder.build()
        self.index = tv.Index(self.schema)
        self.index.register_tokenizer("an", ANALYZERS[kind][1]())
        writer = self.index.writer(heap_size=15_000_000, num_threads=1)
        for i, text in enumerate(docs):
            doc = tv.Document()
            doc.add_integer("id", i)
            if text is not None:
                doc.add_text("text", text)
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()

    def rows(self, query: Any) -> list[int]:
        hits = self.index.searcher().search(query, 10_000, order_by_field="id").hits
        return sorted(key for key, _ in hits)

    def match_any(self, terms: list[str], minimum: int) -> list[int]:
        if not terms:
            return []
        clauses = [(tv.Occur.Should, tv.Query.term_query(self.schema, "text", t)) for t in terms]
        return self.rows(tv.Query.boolean_query(clauses, minimum))

    def match_phrase(self, tokens: list[tuple[str, int]], slop: int) -> list[int]:
        if len(tokens) <= 1:  # Milvus forwards these to a term match
            return self.match_any([t for t, _ in tokens], 1)
        words = [(p, t) for t, p in tokens]
        return self.rows(tv.Query.phrase_query(self.schema, "text", words, slop))


def rows(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


def index_of(docs: list[str | None], kind: str) -> tuple[TextIndex, Analyzer]:
    cut = analyzer(ANALYZERS[kind][0])
    return TextIndex.build(pa.array(docs, pa.large_string()), cut), cut


@pytest.mark.parametrize("phrase, slop, expected", [
    ("machine learning", 0, [1]),
    ("learning machine", 1, [2, 3, 5]),
    ("machine learning", 2, [1, 3]),
    ("machine learning", 3, [1, 2, 3, 5]),
    ("machine learning", 6, [1, 2, 3, 4, 5]),
])
def test_phrase_match_gives_the_rows_milvus_docs_state(phrase: str, slop: int,
                                                       expected: list[int]) -> None:
    index, cut = index_of(list(ARTICLES), "standard")
    tokens = list(zip(*cut.term_positions(phrase)))
    assert [r + 1 for r in rows(index.match_phrase(tokens, slop))] == expected


def test_text_match_counts_repeated_query_tokens_and_skips_null_rows() -> None:
    index = TextIndex.from_tokens([[("a", 0), ("b", 1)], None, [("a", 0)], [("c", 0)], []])
    assert rows(index.match_any(["a", "c"])) == [0, 2, 3]
    assert rows(index.match_any(["a", "b"], 2)) == [0]
    assert rows(index.match_any(["a", "a"], 2)) == [0, 2]  # one SHOULD clause per token
    assert rows(index.match_any(["a"], 2)) == []
    assert rows(index.match_any([])) == []
    assert rows(index.match_phrase([("zzz", 0), ("a", 1)], 3)) == []
    assert rows(index.match_phrase([("b", 0)], 0)) == [0]


def test_slop_is_spent_on_moves_and_transpositions_cost_two() -> None:
    index = TextIndex.from_tokens([[(w, i) for i, w in enumerate(doc.split())]
                                   for doc in ["a b", "b a", "a x b", "b x a", "a x x b"]])
    found = [rows(index.match_phrase([("a", 0), ("b", 1)], slop)) for slop in range(4)]
    assert found == [[0], [0, 2], [0, 1, 2, 4], [0, 1, 2, 3, 4]]


WORDS = st.sampled_from(["a", "b", "c", "d", "x"])
DOCS = st.lists(st.one_of(st.none(), st.lists(WORDS, max_size=12).map(" ".join)),
                min_size=1, max_size=14)


@settings(max_examples=150, deadline=None)
@given(docs=DOCS, kind=st.sampled_from(sorted(ANALYZERS)),
       phrases=st.lists(st.tuples(st.lists(WORDS, min_size=1, max_size=5),
                                  st.integers(0, 4),
                                  st.none() | st.lists(st.integers(0, 6), min_size=5,
                                                       max_size=5)),
                        min_size=1, max_size=6))
def test_match_phrase_agrees_with_tantivy(docs: list[str | None], kind: str,
                                          phrases: list[tuple[list[str], int, list[int] | None]]
                                          ) -> None:
    index, cut = index_of(docs, kind)
    reference = Reference(docs, kind)
    for words, slop, offsets in phrases:
        if offsets is None:  # as the analyzer places them, stop-word gaps included
            tokens = list(zip(*cut.term_positions(" ".join(words))))
        else:  # any offsets, repeated or out of order
            tokens = [(w, o) for w, o in zip(words, offsets) if w != "x"]
        assert rows(index.match_phrase(tokens, slop)) == reference.match_phrase(tokens, slop), \
            (tokens, slop)


@settings(max_examples=100, deadline=None)
@given(docs=DOCS, kind=st.sampled_from(sorted(ANALYZERS)),
       queries=st.lists(st.tuples(st.lists(WORDS, max_size=6), st.integers(1, 7)),
                        min_size=1, max_size=6))
def test_match_any_agrees_with_tantivy(docs: list[str | None], kind: str,
                                       queries: list[tuple[list[str], int]]) -> None:
    index, cut = index_of(docs, kind)
    reference = Reference(docs, kind)
    for words, minimum in queries:
        terms = cut.terms(" ".join(words))
        assert rows(index.match_any(terms, minimum)) == reference.match_any(terms, minimum)


def postings(index: TextIndex) -> list[tuple[str, int, int]]:
    counts = np.diff(index.term_start)
    terms = [t for t, n in zip(index.terms, counts) for _ in range(n)]
    return sorted(zip(terms, index.post_row.tolist(), index.post_pos.tolist()))


@settings(max_examples=60, deadline=None)
@given(docs=DOCS, kind=st.sampled_from(sorted(ANALYZERS)), cut_at=st.integers(0, 14))
def test_growing_index_extends_and_cuts_to_the_index_of_its_rows(docs: list[str | None],
                                                                 kind: str, cut_at: int) -> None:
    k = min(cut_at, len(docs))
    whole, _ = index_of(docs, kind)
    head, _ = index_of(docs[:k], kind)
    tail, _ = index_of(docs[k:], kind)
    extended = head.extend(tail)
    assert extended.num_rows == whole.num_rows
    assert postings(extended) == postings(whole)
    assert {t: extended.rows_with(t).tolist() for t in extended.terms} == \
        {t: whole.rows_with(t).tolist() for t in whole.terms}
    assert postings(whole.head(k)) == postings(head)
    for words in (["a", "b"], ["b", "a", "c"], ["c"]):
        tokens = [(w, i) for i, w in enumerate(words)]
        assert rows(extended.match_phrase(tokens, 2)) == rows(whole.match_phrase(tokens, 2))


def test_build_reads_sequential_and_gapped_positions_as_the_analyzer_gives_them() -> None:
    docs = ["The Quick fox", None, "", "a x b x c"]
    for kind in ANALYZERS:
        index, cut = index_of(docs, kind)
        expected = TextIndex.from_tokens(
            [None if d is None else list(zip(*cut.term_positions(d))) for d in docs])
        assert postings(index) == postings(expected)
    index, _ = index_of(docs, "stop")
    assert rows(index.match_phrase([("a", 0), ("b", 2)], 0)) == [3]  # "x" left a gap
