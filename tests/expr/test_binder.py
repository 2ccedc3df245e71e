"""Binding to a schema: name resolution, template parameters, static type errors, columns read."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elanus.errors import FilterInvalid
from elanus.expr import compile_filter
from elanus.expr import plan as p
from elanus.schema import CollectionSchema, DataType, FieldSchema
from tests.expr.conftest import ROWS
from tests.expr.reference import SCHEMA
from tests.expr.strategies import table

STATIC = CollectionSchema("static", (
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
    FieldSchema("age", DataType.INT8),
))


@pytest.mark.parametrize("text, columns", [
    ("i32 > 1", {"i32"}),
    ("i32 < i64 or s like 'a%'", {"i32", "i64", "s"}),
    ('j["a"] == 1 and color == "red"', {"j", "$meta"}),
    ("$meta['k'] == 1", {"$meta"}),
    ("array_length(arr) == 1 and sarr[0] == 'a'", {"arr", "sarr"}),
    ("true", set()),
])
def test_columns_name_what_the_filter_reads(text: str, columns: set[str]) -> None:
    assert compile_filter(text, SCHEMA).columns == frozenset(columns)


@pytest.mark.parametrize("text, bound", [
    ("i32 > 1", p.Compare(">", p.ColumnValue("i32", "int"), 1)),
    ("1 > i32", p.Compare("<", p.ColumnValue("i32", "int"), 1)),
    ("color == 'red'", p.Compare("==", p.JsonValue("$meta", ("color",)), "red")),
    ("color['x'][0] == 1", p.Compare("==", p.JsonValue("$meta", ("color", "x", 0)), 1)),
    ("$meta == 1", p.Compare("==", p.JsonValue("$meta", ()), 1)),
    ("arr[2] == 1", p.Compare("==", p.ArrayItem("arr", "int", 2), 1)),
    ("i32 > 2 * 3 - 1", p.Compare(">", p.ColumnValue("i32", "int"), 5)),
    ("i32 > 7 / 2", p.Compare(">", p.ColumnValue("i32", "int"), 3)),
    ("i32 > -7 / 2", p.Compare(">", p.ColumnValue("i32", "int"), -3)),
    ("i32 > -7 % 2", p.Compare(">", p.ColumnValue("i32", "int"), -1)),
    ("d < 2 ** 3", p.Compare("<", p.ColumnValue("d", "float"), 8.0)),
    ("i32 not in [1]", p.Not(p.InSet(p.ColumnValue("i32", "int"), (1,)))),
    ("1 < 2", p.Constant(True)),
    ("'a' in ['b']", p.Constant(False)),
    ("b", p.Compare("==", p.ColumnValue("b", "bool"), True)),
])
def test_bind_resolves_and_folds(text: str, bound: p.Predicate) -> None:
    assert compile_filter(text, SCHEMA).plan == bound


@pytest.mark.parametrize("text, detail", [
    ("s > 1", "type mismatch"),
    ("i32 == 'a'", "type mismatch"),
    ("i32 == true", "type mismatch"),
    ("b == 1", "type mismatch"),
    ("i32 in [1, 'a']", "type mismatch"),
    ("array_contains(arr, 'x')", "type mismatch"),
    ("arr == ['x']", "type mismatch"),
    ("b > true", "operator > does not apply"),
    ('j["a"] > true', "operator > does not apply"),
    ("i32 like 'a%'", "like applies only to strings"),
    ("s like 1", "pattern of like must be a string"),
    ("i32 + i64 > 1", "arithmetic between two fields"),
    ("s + 1 > 1", "arithmetic needs a numeric field"),
    ("i32 + 'a' > 1", "arithmetic needs numbers"),
    ("i32 / 0 > 1", "division by zero"),
    ("i32 % 0 == 1", "division by zero"),
    ("10 / i32 > 1", "right operand of / must be a constant"),
    ("1 / 0 > i32", "division by zero"),
    ("i32 in 1", "needs a list"),
    ("i32 in [1, i64]", "list elements must be constants"),
    ("arr > 1", "can be compared only with a list"),
    ("arr in [1]", "'in' does not apply"),
    ("vec > 1", "cannot be filtered"),
    ("json_contains(i32, 1)", "applies only to an ARRAY field or a JSON path"),
    ("array_contains(arr, [1])", "with a list element is not supported"),
    ("json_contains_all(j, 1)", "must be a list"),
    ("json_contains(j)", "takes two arguments"),
    ("array_length(i32) == 1", "applies only to an ARRAY field or a JSON path"),
    ("array_length(arr, 1) == 1", "takes one argument"),
    ("lower(s) == 'a'", "function lower is not supported"),
    ("i32 > {x}", "{x} has no value"),
    ("i32 > 9223372036854775808", "out of the int64 range"),
    ("i32 > 9223372036854775807 + 1", "overflow"),
    ("i32", "not boolean"),
    ("i32 + 1", "must be boolean"),
    ("'text'", "must be boolean"),
    ("arr", "must be boolean"),
    ("s['a'] == 1", "takes no index"),
    ("arr['x'] == 1", "exactly one integer index"),
    ("arr[0][1] == 1", "exactly one integer index"),
    ("exists i32", "exists applies only"),
    ("1 is null", "is null applies only to a field"),
    ("i32 == s", "cannot compare int field i32 with str field s"),
    ("j['a'] == i32", "only between scalar fields"),
    ("i32 < s < 3", "bounds of a range must be constants"),
    ("1 < 2 < 3", "middle of a range must be a field"),
    ("(i32 > 1) == true", "cannot compare"),
    ("j['a'] == [1, 2]", "cannot compare"),
    ("1 == 'a'", "cannot compare"),
])
def test_type_error_is_filter_invalid(text: str, detail: str) -> None:
    with pytest.raises(FilterInvalid) as err:
        compile_filter(text, SCHEMA)
    assert detail in err.value.detail
    assert err.value.offset is not None and 0 <= err.value.offset <= len(text)


MATCH = CollectionSchema("match", (
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
    FieldSchema("text", DataType.VARCHAR, max_length=100,
                type_params={"enable_analyzer": "true", "enable_match": "true"}),
    FieldSchema("en", DataType.VARCHAR, max_length=100,
                type_params={"enable_analyzer": "true", "enable_match": "true",
                             "analyzer_params": '{"type": "english"}'}),
    FieldSchema("plain", DataType.VARCHAR, max_length=100,
                type_params={"enable_analyzer": "true"}),
    FieldSchema("num", DataType.INT64, type_params={"enable_match": "true"}),
))


@pytest.mark.parametrize("text, bound", [
    ("text_match(text, 'Deep  Learning')", p.TextMatch("text", ("deep", "learning"))),
    ("TEXT_MATCH(text, 'a b a', minimum_should_match=3)", p.TextMatch("text", ("a", "b", "a"), 3)),
    ("text_match(en, 'the running dogs')", p.TextMatch("en", ("run", "dog"))),
    ("text_match(text, '')", p.TextMatch("text", ())),
    ("phrase_match(text, 'New York')", p.PhraseMatch("text", (("new", 0), ("york", 1)))),
    ("PHRASE_MATCH(en, 'the dogs of war', 2)", p.PhraseMatch("en", (("dog", 1), ("war", 3)), 2)),
    ("phrase_match(text, 'a b', 1 + 1)", p.PhraseMatch("text", (("a", 0), ("b", 1)), 2)),
    ("phrase_match(text, {q}, {s})", p.PhraseMatch("text", (("x", 0),), 3)),
])
def test_text_match_cuts_its_text_with_the_field_analyzer(text: str, bound: p.Predicate) -> None:
    flt = compile_filter(text, MATCH, {"q": "X", "s": 3})
    assert flt.plan == bound
    assert flt.text_columns == flt.columns


@pytest.mark.parametrize("text, detail", [
    # Milvus's own words (planparserv2/parser_visitor.go)
    ("text_match(plain, 'a')", 'field "plain" does not enable match'),
    ("phrase_match(plain, 'a')", 'field "plain" does not enable match'),
    ("text_match(num, 'a')", "text match operation on non-string is unsupported"),
    ("phrase_match(id, 'a')", "phrase match operation on non-string is unsupported"),
    ("text_match(nope, 'a')", "field nope not exist"),
    ("text_match(text, 'a', minimum_should_match=0)", "minimum_should_match should be >= 1, got 0"),
    ("text_match(text, 'a', minimum_should_match=1001)",
     "minimum_should_match should be <= 1000, got 1001"),
    ("text_match(text, 'a', minimum_should_match=1.5)",
     "minimum_should_match should be a const integer expression"),
    ("phrase_match(text, 'a', -1)", '"slop" should not be a negative interger. "slop" passed: -1'),
    ("phrase_match(text, 'a', 4294967296)",
     '"slop" exceeds the range of "uint32". "slop" expression passed: 4294967296'),
    ("phrase_match(text, 'a', 0.5)",
     ('"slop" should be a const integer expression with "uint32" value. "slop" expression '
      "passed: 0.5")),
    ("phrase_match(text, 'a', id)", '"slop" should be a const integer expression'),
    # elanus's words where Milvus's grammar refuses the text
    ("text_match(text)", "takes a field, a text and optionally minimum_should_match=N"),
    ("text_match(text['k'], 'a')", "first argument of text_match must be a field name"),
    ("text_match(text, 1)", "the text of text_match must be a string"),
    ("text_match(text, 'a', 2)", "must be minimum_should_match=N"),
    ("phrase_match(text, 'a', minimum_should_match=2)", '"slop" should be a const integer'),
    ("json_contains(text, minimum_should_match=1)", "option of text_match only"),
])
def test_text_match_errors_use_milvus_words(text: str, detail: str) -> None:
    with pytest.raises(FilterInvalid) as err:
        compile_filter(text, MATCH)
    assert detail in err.value.detail


def test_unknown_field_without_dynamic_field_is_named() -> None:
    with pytest.raises(FilterInvalid) as err:
        compile_filter("age > 1 and color == 'red'", STATIC)
    assert err.value.detail == "field color not exist"
    assert err.value.offset == 12
    with pytest.raises(FilterInvalid, match="field \\$meta not exist"):
        compile_filter("$meta['a'] == 1", STATIC)


def test_very_long_arithmetic_chain_is_refused_not_crashed() -> None:
    with pytest.raises(FilterInvalid, match="nested too deeply"):
        compile_filter("i32 > " + " + ".join(["1"] * 5000), SCHEMA)
    assert compile_filter("i32 > " + " + ".join(["1"] * 100), SCHEMA).plan == p.Compare(
        ">", p.ColumnValue("i32", "int"), 100)
    with pytest.raises(FilterInvalid, match="arithmetic on a field is nested too deeply"):
        compile_filter(" + ".join(["i32"] + ["1"] * 40) + " > 0", SCHEMA)


def test_small_integer_field_compares_with_any_int64() -> None:
    f = compile_filter("age < 1000 and age > -1000", STATIC)
    t = pa.table({"age": pa.array([-128, 0, 127], pa.int8())})
    assert f.evaluate(t).tolist() == [True, True, True]


@pytest.mark.parametrize("params", [{"x": object()}, {"x": [[1]]}, {"x": {"a": 1}}, {"x": None}])
def test_template_parameter_of_unsupported_type_is_refused(params: dict[str, Any]) -> None:
    with pytest.raises(FilterInvalid, match="unsupported value"):
        compile_filter("i32 in {x}", SCHEMA, params)


WORDS = ["i32", "i64", "d", "s", "b", "j", "arr", "sarr", "color", "$meta", "vec", "1", "-2",
         "2.5", "'a'", '"%b"', "true", "[1, 'a']", "[]", "{p}", "{q}", '["a"]', "[0]", "==",
         "!=", "<", ">=", "+", "*", "/", "%", "**", " and ", " or ", " not ", "!", " in ",
         " like ", " is null", " is not null", "exists ", "(", ")", ",", "json_contains(",
         "array_contains_all(", "array_length(", "JSON_CONTAINS_ANY("]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join))
def test_any_text_compiles_or_is_filter_invalid_and_evaluates(text: str) -> None:
    try:
        compiled = compile_filter(text, SCHEMA, {"p": 1, "q": ["a", 2]})
    except FilterInvalid:
        return
    mask = compiled.evaluate(table(ROWS))
    assert mask.shape == (len(ROWS),)


def test_long_filters_have_no_key_for_their_results() -> None:
    assert compile_filter("age in {ids}", STATIC, {"ids": list(range(2000))}).cache_key is None
    assert compile_filter("age in [1, 2]", STATIC).cache_key is not None
