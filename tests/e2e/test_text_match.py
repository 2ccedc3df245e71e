"""TEXT_MATCH and PHRASE_MATCH through pymilvus: on growing and sealed segments, in query and
search, combined with other predicates, and refused with Milvus's words where Milvus refuses.

Runs under pymilvus 2.6 too (make compat): it imports nothing from elanus.
"""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusException

# phrase-match.md's documents; row 6 has no text.
ARTICLES = ["Machine learning boosts efficiency in large-scale data analysis",
            "Learning a machine-based approach is vital for modern AI progress",
            "Deep learning machine architectures optimize computational loads",
            "Machine swiftly improves model performance for ongoing learning",
            "Learning advanced machine algorithms expands AI capabilities",
            None]
FILTERS = {
    "PHRASE_MATCH(text, 'machine learning')": [1],
    "phrase_match(text, 'learning machine', 1)": [2, 3, 5],
    "phrase_match(text, 'machine learning', 2)": [1, 3],
    "PHRASE_MATCH(text, 'machine learning', 3)": [1, 2, 3, 5],
    "text_match(text, 'deep modern')": [2, 3],
    "TEXT_MATCH(text, 'Deep') or TEXT_MATCH(text, 'AI')": [2, 3, 5],
    "not text_match(text, 'deep modern')": [1, 4, 5],  # the null row matches neither
    "text_match(text, 'machine') and num > 2": [3, 4, 5],
    "text_match(text, 'machine ai learning', minimum_should_match=3)": [2, 5],
    "text_match(text, 'learning learning', minimum_should_match=2)": [1, 2, 3, 4, 5],
    "text_match(text, 'learn')": [],  # the standard analyzer does not stem
    "text_match(en, 'learn')": [1, 2, 3, 4, 5],  # the english one does
    "phrase_match(en, 'the machines learned')": [1],  # "the" is a stop word there
    "phrase_match(en, 'machines learned', 2) and not text_match(en, 'optimizing')": [1],
    "phrase_match(text, 'nothing like this')": [],
    "text_match(text, '')": [],
}


def _collection(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=200, nullable=True,
                     enable_analyzer=True, enable_match=True)
    schema.add_field("en", DataType.VARCHAR, max_length=200, nullable=True,
                     enable_analyzer=True, enable_match=True,
                     analyzer_params={"type": "english"})
    schema.add_field("plain", DataType.VARCHAR, max_length=200, enable_analyzer=True)
    schema.add_field("num", DataType.INT64)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index("v", metric_type="L2", index_type="FLAT")
    milvus.create_collection(name, schema=schema, index_params=index)


def _rows(first: int, texts: list[str | None]) -> list[dict[str, object]]:
    return [{"id": first + i, "text": t, "en": t, "plain": t or "", "num": first + i,
             "v": [0.1 * i, 1.0]} for i, t in enumerate(texts)]


def _query(milvus, name: str, expr: str) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(r["id"] for r in milvus.query(name, filter=expr, output_fields=["id"]))


def _search(milvus, name: str, expr: str) -> list[int]:  # type: ignore[no-untyped-def]
    hits = milvus.search(name, data=[[0.0, 1.0]], filter=expr, limit=100,
                         output_fields=["id"])[0]
    return sorted(h["id"] for h in hits)


def _check_all(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    for expr, expected in FILTERS.items():
        assert _query(milvus, name, expr) == expected, expr
        assert _search(milvus, name, expr) == expected, expr


def test_text_filters_match_on_growing_and_sealed_segments(milvus, name: str) -> None:
    _collection(milvus, name)
    milvus.insert(name, _rows(1, ARTICLES))
    _check_all(milvus, name)  # growing
    milvus.flush(name)
    _check_all(milvus, name)  # sealed


def test_rows_added_later_are_matched_in_every_segment(milvus, name: str) -> None:
    _collection(milvus, name)
    milvus.insert(name, _rows(1, ARTICLES[:3]))
    assert _query(milvus, name, "phrase_match(text, 'deep learning')") == [3]
    milvus.insert(name, _rows(4, ARTICLES[3:]))  # the growing segment's index grows with it
    assert _query(milvus, name, "text_match(text, 'learning')") == [1, 2, 3, 4, 5]
    milvus.flush(name)
    milvus.insert(name, _rows(7, ["deep learning again", "learning deep"]))  # a new segment
    assert _query(milvus, name, "phrase_match(text, 'deep learning')") == [3, 7]
    assert _query(milvus, name, "phrase_match(text, 'deep learning', 2)") == [3, 7, 8]
    milvus.delete(name, filter="id in [3]")
    assert _query(milvus, name, "phrase_match(text, 'deep learning')") == [7]


@pytest.mark.parametrize("expr, words", [
    ("text_match(plain, 'machine')", 'field "plain" does not enable match'),
    ("phrase_match(plain, 'machine learning')", 'field "plain" does not enable match'),
    ("text_match(num, 'machine')", "text match operation on non-string is unsupported"),
    ("text_match(text, 'a', minimum_should_match=0)", "minimum_should_match should be >= 1"),
    ("text_match(text, 'a', minimum_should_match=1001)",
     "minimum_should_match should be <= 1000"),
    ("phrase_match(text, 'a b', -1)", '"slop" should not be a negative interger'),
])
def test_bad_text_filters_are_refused_with_milvus_words(milvus, name: str, expr: str,
                                                        words: str) -> None:
    _collection(milvus, name)
    milvus.insert(name, _rows(1, ARTICLES))
    with pytest.raises(MilvusException) as err:
        milvus.query(name, filter=expr)
    assert words in err.value.message
    assert err.value.code == 1100


def test_enable_match_needs_the_analyzer(milvus, name: str) -> None:
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=200, enable_match=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    with pytest.raises(MilvusException) as err:
        milvus.create_collection(name, schema=schema)
    assert "field text is set to enable match or bm25 function but not enable analyzer" \
        in err.value.message
    bad = milvus.create_schema()
    bad.add_field("id", DataType.INT64, is_primary=True)
    bad.add_field("text", DataType.VARCHAR, max_length=200, enable_analyzer=True,
                  enable_match=True, analyzer_params={"type": "klingon"})
    bad.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    with pytest.raises(MilvusException, match="unsupported analyzer type: klingon"):
        milvus.create_collection(name, schema=bad)
