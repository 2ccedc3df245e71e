"""Analyzers against the outputs Milvus's documentation gives for them, and their errors."""

from __future__ import annotations

import pytest

from elanus.errors import InvalidArgument, UnexpectedError, Unsupported
from elanus.schema import DataType, FieldSchema
from elanus.schema.analyzers import (
    analyzer,
    check_text_params,
    field_analyzer,
    match_enabled,
    term_hash,
)

SCALE = "The Milvus vector database is built for scale!"

# (analyzer_params, text, tokens): the examples of Milvus's analyzer pages
DOCUMENTED = [
    ({"type": "standard", "stop_words": ["for"]}, SCALE,
     ["the", "milvus", "vector", "database", "is", "built", "scale"]),
    ({"type": "english", "stop_words": ["a", "an", "the"]}, SCALE,
     ["milvus", "vector", "databas", "built", "scale"]),
    ({"type": "standard", "stop_words": ["a", "an", "for"]},
     ("An efficient system relies on a robust analyzer to correctly process text for various "
     "applications."),
     ["efficient", "system", "relies", "on", "robust", "analyzer", "to", "correctly", "process",
      "text", "various", "applications"]),
    ({"tokenizer": "whitespace", "filter": ["lowercase"]}, SCALE,
     ["the", "milvus", "vector", "database", "is", "built", "for", "scale!"]),
    ({"type": "chinese"}, "Milvus 是一个高性能、可扩展的向量数据库！",
     ["Milvus", "是", "一个", "高性", "性能", "高性能", "可", "扩展", "的", "向量", "数据", "据库",
      "数据库"]),
    ({"tokenizer": {"type": "jieba", "dict": ["结巴分词器"], "mode": "exact", "hmm": False}},
     "milvus结巴分词器中文测试", ["milvus", "结巴分词器", "中", "文", "测", "试"]),
    ({"type": "english"}, "We are loving Milvus!", ["we", "love", "milvus"]),
    ({"type": "english"}, "who loves Milvus?", ["who", "love", "milvus"]),
    ({"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
     "Café naïve résumé", ["cafe", "naive", "resume"]),
    ({"tokenizer": "standard", "filter": [{"type": "decompounder",
                                           "word_list": ["dampf", "schiff", "fahrt"]}]},
     "dampfschifffahrt", ["dampf", "schiff", "fahrt"]),
    ({"tokenizer": "standard", "filter": [{"type": "length", "max": 4}]},
     "a abcd abcde", ["a", "abcd"]),
    ({"tokenizer": "standard", "filter": [{"type": "regex", "expr": "^(?!test)"}]},
     "test testing milvus", ["milvus"]),
    ({"tokenizer": "whitespace", "filter": ["cnalphanumonly"]}, "你好 , milvus ！ 123",
     ["你好", "milvus", "123"]),
    ({"tokenizer": "whitespace", "filter": ["cncharonly"]}, "你好 milvus 123", ["你好"]),
    ({"tokenizer": "whitespace", "filter": ["alphanumonly"]}, "hello, world 123", ["world", "123"]),
    ({"tokenizer": "standard", "filter": ["lowercase", {"type": "stemmer",
                                                        "language": "french"}]},
     "Continuation continuer", ["continu", "continu"]),
    ({}, "Hello World", ["hello", "world"]),
]


@pytest.mark.parametrize("params, text, tokens", DOCUMENTED)
def test_documented_outputs(params: dict, text: str, tokens: list[str]) -> None:  # type: ignore[type-arg]
    assert analyzer(params).terms(text) == tokens
    assert [t.text for t in analyzer(params).tokens(text)] == tokens


def test_positions_keep_stop_word_gaps_and_offsets_are_bytes() -> None:
    tokens = analyzer({"type": "english"}).tokens("the café of Milvus")
    assert [(t.text, t.position, t.start, t.end) for t in tokens] == [
        ("café", 1, 4, 9), ("milvus", 3, 13, 19)]


def test_jieba_positions_are_character_indices() -> None:
    tokens = analyzer({"tokenizer": {"type": "jieba", "mode": "exact"}}).tokens("Milvus 是一个")
    assert [(t.text, t.position, t.position_length, t.start, t.end) for t in tokens] == [
        ("Milvus", 0, 6, 0, 6), (" ", 6, 1, 6, 7), ("是", 7, 1, 7, 10), ("一个", 8, 2, 10, 16)]


def test_a_filter_chain_mixing_python_and_tantivy_steps_keeps_milvus_order() -> None:
    params = {"tokenizer": "standard", "filter": [
        "lowercase", {"type": "regex", "expr": "^m"}, {"type": "stemmer", "language": "english"}]}
    assert analyzer(params).terms("Milvus makes Models running") == ["milvus", "make", "model"]


def test_term_hash_is_crc32_of_the_first_100_bytes() -> None:
    assert term_hash("milvus") == 725768567
    assert term_hash("x" * 100) == term_hash("x" * 100 + "y")


@pytest.mark.parametrize("params, error, words", [
    ({"type": "klingon"}, InvalidArgument, "unsupported analyzer type: klingon"),
    ({"tokenizer": "standard", "colour": 1}, InvalidArgument, "unknown analyzer option key"),
    ({"filter": ["lowercase"]}, InvalidArgument, "tokenizer name or type must be set"),
    ({"tokenizer": "nope"}, InvalidArgument, "unsupported tokenizer: nope"),
    ({"tokenizer": "standard", "filter": ["nope"]}, InvalidArgument, "unknown builtin filter"),
    ({"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "klingon"}]},
     InvalidArgument, "unsupported stemmer language"),
    ({"tokenizer": "standard", "filter": [{"type": "length", "max": -1}]}, InvalidArgument,
     "length filter max"),
    ({"tokenizer": "standard", "filter": [{"type": "decompounder", "word_list": []}]},
     InvalidArgument, "word_list"),
    ({"tokenizer": "standard", "filter": [{"type": "regex", "expr": "("}]}, InvalidArgument,
     "regex filter expr"),
    ({"tokenizer": {"type": "jieba", "mode": "fast"}}, InvalidArgument, "search or exact"),
    ({"tokenizer": "lindera"}, Unsupported, "tokenizer lindera is not supported"),
    ({"type": "standard", "stop_words": ["_chinese_"]}, Unsupported, "_chinese_"),
])
def test_bad_params_are_refused(params: dict, error: type, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=words):
        analyzer(params)


def test_a_field_needs_enable_analyzer() -> None:
    with pytest.raises(InvalidArgument, match="field text is not enable analyzer"):
        field_analyzer({}, "text")
    english = field_analyzer({"enable_analyzer": "true",
                              "analyzer_params": '{"type": "english"}'}, "text")
    assert english.terms("Loving") == ["love"]


def _text_field(dtype: DataType = DataType.VARCHAR, **params: str) -> FieldSchema:
    return FieldSchema("text", dtype, max_length=100, type_params=params)


@pytest.mark.parametrize("field, error, words", [
    (_text_field(enable_match="true"), UnexpectedError,
     "field text is set to enable match or bm25 function but not enable analyzer"),
    (_text_field(enable_match="True", enable_analyzer="false"), UnexpectedError,
     "but not enable analyzer"),
    (_text_field(enable_match="true", enable_analyzer="true",
                 multi_analyzer_params='{"by_field": "lang"}'), UnexpectedError,
     "multi analyzer now only support for bm25, but now field text enable match"),
    (_text_field(enable_match="true", enable_analyzer="true",
                 analyzer_params='{"tokenizer": "nope"}'), InvalidArgument,
     "unsupported tokenizer: nope"),
])
def test_enable_match_needs_a_valid_single_analyzer(field: FieldSchema, error: type,
                                                    words: str) -> None:
    with pytest.raises(error, match=words):
        check_text_params(field)


def test_enable_match_is_read_only_on_varchar_fields() -> None:
    check_text_params(_text_field(DataType.INT64, enable_match="true"))  # ignored, as Milvus
    check_text_params(_text_field(enable_match="false"))
    good = _text_field(enable_match="1", enable_analyzer="t", analyzer_params='{"type": "english"}')
    check_text_params(good)
    assert match_enabled(good)
    assert not match_enabled(_text_field(DataType.INT64, enable_match="true"))


def test_sequential_positions_are_the_positions_tokens_get() -> None:
    for params in [{}, {"tokenizer": "whitespace", "filter": ["lowercase", "asciifolding"]},
                   {"type": "english"}, {"type": "standard", "stop_words": ["the"]}]:
        cut = analyzer(params)
        terms, positions = cut.term_positions("The Café of the future is the café")
        assert terms == cut.terms("The Café of the future is the café")
        assert cut.sequential_positions == (positions == list(range(len(terms))))
