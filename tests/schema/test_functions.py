"""BM25 functions in the schema: Milvus's checks and wording, and the vectors a function writes."""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elanus.errors import InvalidArgument, UnexpectedError, Unsupported
from elanus.schema import CollectionSchema, DataType, FieldSchema, validate_schema
from elanus.schema.analyzers import analyzer
from elanus.schema.functions import (
    FunctionSchema,
    FunctionType,
    bm25_column,
    check_function_change,
    term_frequencies,
)
from elanus.schema.vectors import sparse_rows

TEXT = FieldSchema("text", DataType.VARCHAR, max_length=100,
                   type_params={"enable_analyzer": "true"})
SPARSE = FieldSchema("sparse", DataType.SPARSE_FLOAT_VECTOR)
PK = FieldSchema("id", DataType.INT64, is_primary=True)


def _bm25(inputs: tuple[str, ...] = ("text",), outputs: tuple[str, ...] = ("sparse",),
          **kw: Any) -> FunctionSchema:
    return FunctionSchema(kw.pop("name", "fn"), kw.pop("type", FunctionType.BM25), inputs,
                          outputs, **kw)


def _schema(*fields: FieldSchema, functions: tuple[FunctionSchema, ...] = ()) -> CollectionSchema:
    return CollectionSchema("c", (PK, *fields), functions=functions)


def test_a_valid_function_gets_an_id_and_marks_its_output() -> None:
    schema = validate_schema(_schema(TEXT, SPARSE, functions=(_bm25(),)))
    assert schema.functions[0].function_id == 100
    assert schema.function_outputs == {"sparse"}
    assert schema.function_of("sparse") == schema.functions[0]
    assert schema.function_of("text") is None
    assert CollectionSchema.from_dict(schema.to_dict()) == schema


@pytest.mark.parametrize(("fields", "fn", "error", "message"), [
    ((TEXT, SPARSE), _bm25(name=""), InvalidArgument, "function name cannot be empty"),
    ((TEXT, SPARSE), _bm25(inputs=()), InvalidArgument,
     "function input field names cannot be empty, function: fn"),
    ((TEXT, SPARSE), _bm25(outputs=()), InvalidArgument,
     "function output field names cannot be empty, function: fn"),
    ((TEXT, SPARSE), _bm25(inputs=("text", "text")), InvalidArgument,
     ("each function input field should be used exactly once in the same function, function: "
     "fn, input field: text")),
    ((TEXT, SPARSE), _bm25(outputs=("text",)), InvalidArgument,
     ("a single field cannot be both input and output in the same function, function: fn, "
     "field: text")),
    ((TEXT, SPARSE), _bm25(params={"a": "b"}), InvalidArgument,
     "BM25 function accepts no params"),
    ((TEXT, SPARSE), _bm25(type=FunctionType.TEXTEMBEDDING), Unsupported, "TEXTEMBEDDING"),
    ((TEXT, SPARSE), _bm25(inputs=("nope",)), InvalidArgument,
     "function input field not found: nope"),
    ((TEXT, SPARSE), _bm25(outputs=("nope",)), InvalidArgument,
     "function output field not found: nope"),
    ((FieldSchema("n", DataType.INT64), SPARSE), _bm25(inputs=("n",)), InvalidArgument,
     "BM25 function input field must be a VARCHAR field, got 1 field with type Int64"),
    ((FieldSchema("text", DataType.VARCHAR, max_length=9), SPARSE), _bm25(), InvalidArgument,
     "BM25 function input field must set enable_analyzer to true"),
    ((TEXT, FieldSchema("v", DataType.FLOAT_VECTOR, dim=4)), _bm25(outputs=("v",)),
     InvalidArgument,
     "BM25 function output field must be a SparseFloatVector field, but got FloatVector"),
    ((TEXT, FieldSchema("sparse", DataType.SPARSE_FLOAT_VECTOR, nullable=True)), _bm25(),
     InvalidArgument, "function output field cannot be nullable: function fn, field sparse"),
    ((TEXT, SPARSE, FieldSchema("s2", DataType.SPARSE_FLOAT_VECTOR)),
     _bm25(outputs=("sparse", "s2")), InvalidArgument,
     "BM25 function only need 1 output field, but got 2"),
    ((FieldSchema("text", DataType.VARCHAR, max_length=9,
                  type_params={"enable_analyzer": "true", "analyzer_params": '{"type": "x"}'}),
      SPARSE), _bm25(), InvalidArgument, "x"),
])
def test_milvus_checks(fields: tuple[FieldSchema, ...], fn: FunctionSchema,
                       error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        validate_schema(_schema(*fields, functions=(fn,)))


def test_duplicate_names_and_outputs() -> None:
    other = FieldSchema("t2", DataType.VARCHAR, max_length=9,
                        type_params={"enable_analyzer": "true"})
    with pytest.raises(InvalidArgument, match="duplicate function name: fn"):
        validate_schema(_schema(TEXT, other, SPARSE, functions=(
            _bm25(), _bm25(inputs=("t2",)))))
    with pytest.raises(InvalidArgument, match="duplicate function output field: function g, "
                                              "field sparse"):
        validate_schema(_schema(TEXT, other, SPARSE, functions=(
            _bm25(), _bm25(name="g", inputs=("t2",)))))


def test_term_frequencies_are_hashed_counts() -> None:
    std = analyzer({"type": "standard"})
    texts = ["The cat and the hat", "", None, "Cat cat CAT dog", "x"]
    rows = term_frequencies(std, texts)
    assert np.diff(rows.indptr).tolist() == [4, 0, 0, 2, 1]
    for i, text in enumerate(texts):
        want = Counter(zlib.crc32(t.encode()[:100]) % 0xFFFFFFFF
                       for t in (text or "").lower().split())
        lo, hi = rows.indptr[i], rows.indptr[i + 1]
        assert dict(zip(rows.indices[lo:hi].tolist(), rows.values[lo:hi].tolist())) == want
        assert list(rows.indices[lo:hi]) == sorted(rows.indices[lo:hi])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab cdé,", max_size=30)), max_size=12))
def test_the_stored_column_reads_back_as_the_vectors(texts: list[str | None]) -> None:
    schema = validate_schema(_schema(TEXT, SPARSE, functions=(_bm25(),)))
    column = bm25_column(schema, schema.functions[0],
                         {"text": pa.array(texts, pa.large_string())})
    back = sparse_rows(column)
    want = term_frequencies(analyzer({}), texts)
    assert np.array_equal(back.indptr, want.indptr)
    assert np.array_equal(back.indices, want.indices)
    assert np.array_equal(back.values, want.values)


def test_function_changes_answer_as_milvus_26() -> None:
    schema = validate_schema(_schema(TEXT, SPARSE, functions=(_bm25(),)))
    with pytest.raises(UnexpectedError, match="Currently does not support adding BM25 "
                                              "function"):
        check_function_change(schema, "add", fn=_bm25(name="g"))
    with pytest.raises(UnexpectedError, match="Function Schema is empty"):
        check_function_change(schema, "add")
    with pytest.raises(UnexpectedError, match="Currently does not support alter BM25 function"):
        check_function_change(schema, "alter", "fn", _bm25())
    emb = _bm25(name="e", type=FunctionType.TEXTEMBEDDING)
    with pytest.raises(UnexpectedError, match="Invalid function config, name not match"):
        check_function_change(schema, "alter", "x", emb)
    with pytest.raises(UnexpectedError, match="Function e not found"):
        check_function_change(schema, "alter", "e", emb)
    with pytest.raises(Unsupported, match="TEXTEMBEDDING"):
        check_function_change(schema, "add", fn=emb)
    with pytest.raises(UnexpectedError, match="Currently does not support droping BM25 "
                                              "function"):
        check_function_change(schema, "drop", "fn")
    check_function_change(schema, "drop", "missing")  # accepted, as Milvus does


def _multi(params: dict[str, Any] | str, language: DataType = DataType.VARCHAR) -> CollectionSchema:
    import json

    raw = params if isinstance(params, str) else json.dumps(params)
    text = FieldSchema("text", DataType.VARCHAR, max_length=100, type_params={
        "enable_analyzer": "true", "multi_analyzer_params": raw})
    lang = FieldSchema("lang", language, max_length=9)
    return _schema(lang, text, SPARSE, functions=(_bm25(),))


GOOD = {"by_field": "lang", "analyzers": {"default": {}, "english": {"type": "english"}},
        "alias": {"en": "english"}}


@pytest.mark.parametrize(("params", "message"), [
    ({k: v for k, v in GOOD.items() if k != "by_field"},
     "bm25 function with multi analyzer must have by_field param in multi_analyzer_params"),
    ({**GOOD, "by_field": 3}, ("bm25 function with multi analyzer by_field must be string but "
                              "now: 3")),
    ({**GOOD, "alias": {"en": 1}}, ("bm25 function with multi analyzer mapping must be string "
                                   "map")),
    ({k: v for k, v in GOOD.items() if k != "analyzers"},
     "bm25 function with multi analyzer must have analyzers param in multi_analyzer_params"),
    ({**GOOD, "analyzers": {"default": {"type": "nope"}}},
     "bm25 function create analyzer default failed with error"),
    ({**GOOD, "analyzers": {"english": {"type": "english"}}}, 'must set a "default" analyzer'),
    ({**GOOD, "by_field": "missing"}, ("bm25 function with multi analyzer must have two input "
                                      "fields")),
    ("[1]", "should be a json map"),
])
def test_multi_analyzer_checks(params: dict[str, Any] | str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validate_schema(_multi(params))


def test_multi_analyzer_rows_pick_their_language() -> None:
    schema = validate_schema(_multi(GOOD))
    column = bm25_column(schema, schema.functions[0], {
        "text": pa.array(["Running dogs", "Running dogs", "Running dogs"]),
        "lang": pa.array(["en", "english", None])})
    rows = sparse_rows(column)
    english = term_frequencies(analyzer({"type": "english"}), ["Running dogs"])
    standard = term_frequencies(analyzer({}), ["Running dogs"])
    for i, want in enumerate((english, english, standard)):
        lo, hi = rows.indptr[i], rows.indptr[i + 1]
        assert rows.indices[lo:hi].tolist() == want.indices.tolist()
    with pytest.raises(InvalidArgument, match="two input fields"):
        validate_schema(_multi(GOOD, DataType.INT64))
