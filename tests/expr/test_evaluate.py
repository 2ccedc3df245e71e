"""Every grammar form, evaluated on the fixed table of conftest.py: which rows pass.

Row cheat sheet (see conftest.ROWS): i32 = 1, 2, null, 4, -5, 0; row 2 is null everywhere except
i64 and $meta; j["a"] = 1, "1", <null column>, 2.5, <doc is a list>, true.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest

from elanus.expr import compile_filter
from elanus.schema import CollectionSchema, DataType, FieldSchema
from tests.expr.conftest import ROWS
from tests.expr.reference import SCHEMA
from tests.expr.strategies import table

ALL = [0, 1, 2, 3, 4, 5]

CASES: list[tuple[str, list[int]]] = [
    # comparisons; a null field fails every one of them, != included
    ("i32 > 1", [1, 3]),
    ("i32 >= 1", [0, 1, 3]),
    ("i32 == 0", [5]),
    ("i32 != 1", [1, 3, 4, 5]),
    ("1 < i32", [1, 3]),
    ("i64 < 0", [3]),
    ("d <= 0.5", [0, 3, 5]),
    ("s == 'apple'", [0]),
    ('s > "b"', [1]),
    ("b == true", [0, 3, 5]),
    ("b", [0, 3, 5]),
    ("b != True", [1, 4]),
    ("not b", [1, 4]),
    # in / not in
    ("i32 in [1, 4, 7]", [0, 3]),
    ("i32 not in [1, 4]", [1, 4, 5]),
    ("s in ['apple', '']", [0, 5]),
    ("i32 in []", []),
    ("i32 not in []", [0, 1, 3, 4, 5]),
    ("d in [1.5, 3]", [1, 4]),
    # chained ranges
    ("1 <= i32 < 4", [0, 1]),
    ("4 >= i32 > 0", [0, 1, 3]),
    ("-1 < d <= 1.5", [0, 1, 5]),
    # like
    ('s like "ap%"', [0, 3]),
    ('s like "%na"', [1]),
    ('s LIKE "%an%"', [1]),
    ('s like "a____"', [0]),
    ('s like "50\\%"', [4]),
    ('s like "%"', [0, 1, 3, 4, 5]),
    # arithmetic: integer / and % truncate toward zero, as Milvus does
    ("i32 % 2 == 0", [1, 3, 5]),
    ("i32 % 2 == -1", [4]),
    ("i32 * 2 > 3", [1, 3]),
    ("i32 / 2 == -2", [4]),
    ("i32 + 1 == 3", [1]),
    ("10 - i32 == 6", [3]),
    ("d * 2 == 1.0", [0]),
    ("i32 ** 2 == 16", [3]),
    ("-i32 == 5", [4]),
    ("i64 / 2.5 == 4", [0]),
    ("i32 % 2 == 0 and i32 > 0", [1, 3]),
    # field against field
    ("i32 < i64", [0, 4]),
    ("d == i32", [5]),
    # null tests are column-level and never null themselves
    ("i32 is null", [2]),
    ("i32 IS NOT NULL", [0, 1, 3, 4, 5]),
    ("j is null", [2]),
    ("arr is null", [2]),
    ('j["a"] is null', [2]),
    ("$meta is null", []),
    # Milvus's valid bitmaps: not skips null rows, and/or OR the validity of their sides
    ("not (i32 > 1)", [0, 4, 5]),
    ("not (i32 > 1 and i64 > 0)", ALL),
    ("not (i32 > 1 or i64 > 20)", [0, 5]),
    ("i32 > 1 or i32 is null", [1, 2, 3]),
    # JSON fields: missing keys and other types fail comparisons, but pass !=
    ('j["a"] == 1', [0]),
    ('j["a"] != 1', [1, 3, 4, 5]),
    ('j["a"] > 1', [3]),
    ('j["a"] >= 1', [0, 3]),
    ('j["a"] == "1"', [1]),
    ('j["a"] == true', [5]),
    ('j["a"] in [1, "1"]', [0, 1]),
    ('j["a"] not in [1]', [1, 3, 4, 5]),
    ('j["b"] like "x%"', [0]),
    ('j["n"]["m"] == 3', [0]),
    ("j['tags'][0] == 'red'", [0, 3]),
    ("j[0] == 1", [4]),
    ('1 < j["a"] < 3', [3]),
    ('exists j["b"]', [0, 5]),
    ('not exists j["b"]', [1, 3, 4]),
    ('json_contains(j["tags"], "red")', [0, 3]),
    ('json_contains(j["tags"], 1)', [1]),
    ('json_contains_all(j["tags"], ["red", "blue"])', [0]),
    ('json_contains_any(j["tags"], ["blue", 2])', [0, 1]),
    ("JSON_CONTAINS(j, 2)", [4]),
    ('array_length(j["tags"]) == 2', [0, 1]),
    ('j["a"] + 1 == 2', [0]),
    ('j["a"] == 1 or j["a"] == true or j["a"] == 2.5', [0, 3, 5]),
    ('j["a"] * 2 == 5', [3]),
    # the dynamic field, by bare name or through $meta
    ('color == "red"', [0, 3]),
    ('$meta["color"] == "red"', [0, 3]),
    ('color != "red"', [1, 2, 4, 5]),
    ("size > 2", [0, 1]),
    ("size == 3", [0]),
    ("size in [2, 3]", [0, 5]),
    ("exists color", [0, 1, 3, 4]),
    ("json_contains(size, 2)", [4]),
    ('size like "b%"', [3]),
    ("color is null", []),
    # ARRAY fields; an index past the end fails every comparison, != included
    ("array_contains(arr, 2)", [0, 4]),
    ("array_contains_all(arr, [1, 3])", [0, 5]),
    ("ARRAY_CONTAINS_ANY(arr, [5, 1])", [0, 3, 5]),
    ("arr[0] == 1", [0]),
    ("arr[1] == 2", [0, 4]),
    ("arr[1] != 2", [5]),
    ("array_length(arr) == 0", [1]),
    ("array_length(arr) > 1", [0, 4, 5]),
    ("arr == [2, 2]", [4]),
    ("arr != [5]", [0, 1, 4, 5]),
    ('array_contains(sarr, "a")', [0, 4, 5]),
    ('sarr[0] like "a%"', [0, 4]),
    # logical operators in every spelling
    ('i32 > 0 AND s like "a%"', [0, 3]),
    ("i32 > 0 && b", [0, 3]),
    ("i32 == 1 || i32 == 2", [0, 1]),
    ("!(i32 == 1)", [1, 3, 4, 5]),
    ("i32 == 1 OR NOT b", [0, 1, 4]),
    ("(i32 == 1 or i32 == 2) and (d > 1 or s == 'apple')", [0, 1]),
    # constants
    ("true", ALL),
    ("FALSE", []),
    ("1 < 2", ALL),
    ("i32 > 1 and false", []),
]


@pytest.mark.parametrize("text, rows", CASES, ids=[c[0] for c in CASES])
def test_filter_selects_rows(things: pa.Table, text: str, rows: list[int]) -> None:
    mask = compile_filter(text, SCHEMA).evaluate(things)
    assert mask.dtype == np.bool_ and len(mask) == things.num_rows
    assert np.flatnonzero(mask).tolist() == rows
    cache: dict[object, object] = {}  # a sealed segment's: filled once, then read
    for _ in range(2):
        assert np.flatnonzero(compile_filter(text, SCHEMA).evaluate(things, cache)).tolist() == rows


@pytest.mark.parametrize("text, params, rows", [
    ("i32 in {ids}", {"ids": [1, 2]}, [0, 1]),
    ("s == {name}", {"name": "apple"}, [0]),
    ("d > {x}", {"x": 1.0}, [1, 4]),
    ("{lo} <= i32 < {hi}", {"lo": 1, "hi": 4}, [0, 1]),
    ("array_contains_any(arr, {xs})", {"xs": (5, 1)}, [0, 3, 5]),
    ('json_contains(j["tags"], {t})', {"t": "red"}, [0, 3]),
    ("b == {flag}", {"flag": np.bool_(False)}, [1, 4]),
    ("i64 == {v}", {"v": np.int64(30)}, [2]),
])
def test_template_parameters_bind_values(things: pa.Table, text: str, params: dict[str, object],
                                         rows: list[int]) -> None:
    mask = compile_filter(text, SCHEMA, params).evaluate(things)
    assert np.flatnonzero(mask).tolist() == rows


@pytest.mark.parametrize("text, rows", [
    ('json_contains_all(j["x"], [1, true])', [0]),
    ('json_contains_all(j["x"], [1, 1.0, true, true])', [0]),
    ('json_contains_any(j["x"], [true])', [0, 1]),
    ('j["x"][0] == 1 or j["x"][0] == true', [0, 1, 2]),
    ('j["x"][0] in [1, "1"]', [0, 2]),
])
def test_one_and_true_stay_apart(text: str, rows: list[int]) -> None:
    docs = [{"x": [1, True]}, {"x": [True, "1"]}, {"x": [1]}]
    t = pa.table({"j": pa.array([json.dumps(d).encode() for d in docs], pa.large_binary())})
    assert np.flatnonzero(compile_filter(text, SCHEMA).evaluate(t)).tolist() == rows


def test_long_or_chain_evaluates_without_recursion() -> None:
    text = " or ".join(f"i64 == {i}" for i in range(5000))
    mask = compile_filter(text, SCHEMA).evaluate(table(ROWS))
    assert np.flatnonzero(mask).tolist() == [0, 2, 4, 5]


@pytest.mark.parametrize("text", [
    "i32 > 0", "not i32 > 0", "s like 'a%'", "s in ['a']", "b", "i32 < i64", "i32 + 1 > 1",
    'color != "x"', 'not exists j["a"]', 'json_contains(j["a"], 1)', 'j["a"] + 1 > 1',
    "array_length(j) > 1", "array_contains(arr, 1)", "not array_contains(arr, 1)",
    'array_contains_all(sarr, ["a"])', 'sarr[1] like "a%"', "arr[0] == 1", "arr == []",
    'sarr == ["a"]', "array_length(arr) == 0",
])
def test_missing_column_reads_as_null(text: str) -> None:
    """A segment written before a field was added has no column for it: every row is null."""
    older = pa.table({"id": pa.array([1, 2], pa.int64())})
    assert compile_filter(text, SCHEMA).evaluate(older).tolist() == [False, False]


def test_missing_column_is_null() -> None:
    older = pa.table({"id": pa.array([1, 2], pa.int64())})
    assert compile_filter("i32 is null", SCHEMA).evaluate(older).tolist() == [True, True]


def test_empty_table_gives_empty_mask() -> None:
    for text in ["i32 > 1", 'j["a"] == 1', "json_contains(j['t'], 1)", "arr[0] == 1"]:
        mask = compile_filter(text, SCHEMA).evaluate(table([]))
        assert mask.shape == (0,) and mask.dtype == np.bool_


def test_float_field_compares_in_float32() -> None:
    schema = CollectionSchema("f", (FieldSchema("id", DataType.INT64, is_primary=True),
                                    FieldSchema("x", DataType.FLOAT)))
    t = pa.table({"x": pa.array([0.1, 0.2, 0.3], pa.float32())})
    assert compile_filter("x == 0.1", schema).evaluate(t).tolist() == [True, False, False]
    assert compile_filter("x in [0.2, 0.3]", schema).evaluate(t).tolist() == [False, True, True]


def test_random_sample_keeps_about_its_factor_of_the_passing_rows() -> None:
    n = 10_000
    data = table([{"i32": i % 100, "i64": i, "d": None, "s": None, "b": None, "j": None,
                   "arr": None, "sarr": None, "$meta": {}} for i in range(n)])
    alone = compile_filter("RANDOM_SAMPLE(0.1)", SCHEMA).evaluate(data)
    assert alone.sum() == n // 10
    mask = compile_filter("i32 < 50 and random_sample(0.2) and i64 >= 0", SCHEMA).evaluate(data)
    picked = np.flatnonzero(mask)
    assert len(picked) == 1000 and (data.column("i32").to_numpy()[picked] < 50).all()
    again = np.flatnonzero(compile_filter("i32 < 50 and random_sample(0.2)",
                                          SCHEMA).evaluate(data))
    assert not np.array_equal(picked, again)  # a fresh draw each time


@pytest.mark.parametrize("text, words", [
    ("random_sample(0)", "must be a number in (0, 1)"),
    ("random_sample(1.5)", "must be a number in (0, 1)"),
    ("random_sample('x')", "must be a number in (0, 1)"),
    ("i32 > 1 or random_sample(0.5)", "only alone or as an operand of the top-level AND"),
    ("not random_sample(0.5)", "only alone or as an operand of the top-level AND"),
    ("random_sample(0.5) and random_sample(0.5)", "only once"),
])
def test_random_sample_is_refused_where_milvus_refuses_it(text: str, words: str) -> None:
    from elanus.errors import FilterInvalid

    with pytest.raises(FilterInvalid, match=re.escape(words)):
        compile_filter(text, SCHEMA)


def test_json_contains_a_list_element_compares_whole_arrays() -> None:
    rows = [{"i32": None, "i64": i, "d": None, "s": None, "b": None, "j": doc, "arr": None,
             "sarr": None, "$meta": {}} for i, doc in enumerate([
                 {"x": [[1, 2, 3], [4]]}, {"x": [1, 2, 3]}, {"x": [["a", 1.5], [1, 2]]},
                 {"x": [[3, 2, 1]]}, None])]
    data = table(rows)

    def hits(text: str) -> list[int]:
        return np.flatnonzero(compile_filter(text, SCHEMA).evaluate(data)).tolist()

    assert hits('json_contains(j["x"], [1, 2, 3])') == [0]
    assert hits('json_contains(j["x"], ["a", 1.5])') == [2]
    assert hits('json_contains(j["x"], [4])') == [0]
    assert hits('not json_contains(j["x"], [1, 2])') == [0, 1, 3]  # the null doc is neither
