"""JSON columns decode per row, whatever types the rows disagree on, and decoding is cacheable."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from elanus.errors import Corruption
from elanus.expr import compile_filter
from elanus.expr.jsonpath import Kind, decode_elements, decode_values, pointer
from tests.expr.reference import SCHEMA


def _column(*docs: Any) -> pa.Array:
    return pa.array([None if d is None else json.dumps(d).encode() for d in docs],
                    pa.large_binary())


def test_rows_with_conflicting_types_each_keep_their_kind() -> None:
    col = _column({"a": 1}, {"a": "x"}, {"a": 2.5}, {"a": True}, {"a": None}, {"a": [1, 2]},
                  {"a": {"b": 1}}, {}, None, [1], 7)
    v = decode_values(col, ("a",))
    assert v.kind.tolist() == [Kind.INT, Kind.STRING, Kind.FLOAT, Kind.BOOL, Kind.NULL,
                               Kind.ARRAY, Kind.OBJECT, Kind.MISSING, Kind.MISSING,
                               Kind.MISSING, Kind.MISSING]
    assert v.ints[0] == 1 and v.floats[0] == 1.0 and v.floats[2] == 2.5
    assert v.strings[1].as_py() == "x" and v.strings[0].as_py() is None
    assert bool(v.bools[3]) is True
    assert v.lengths[5] == 2


def test_integers_beyond_int64_are_floats() -> None:
    v = decode_values(pa.array([b'{"a": 18446744073709551615}', b'{"a": -9223372036854775808}',
                                b'{"a": 9007199254740993}'], pa.large_binary()), ("a",))
    assert v.kind.tolist() == [Kind.FLOAT, Kind.INT, Kind.INT]
    assert v.ints[1] == -(2**63) and v.ints[2] == 9007199254740993  # exact, not via double


@pytest.mark.parametrize("keys, expected", [
    (("a", "b"), "/a/b"), (("a", 0), "/a/0"), (("x/y",), "/x~1y"), (("t~",), "/t~0"),
    (("",), "/"), ((), ""),
])
def test_pointer_escapes_keys(keys: tuple[Any, ...], expected: str) -> None:
    assert pointer(keys) == expected


def test_paths_reach_nested_values_and_odd_keys() -> None:
    col = _column({"a": {"b": [10, {"c": "deep"}]}, "x/y": 1, "t~": 2, "é": "ü", "": 3,
                   "q\"k": 4}, [5, 6])
    assert decode_values(col, ("a", "b", 1, "c")).strings[0].as_py() == "deep"
    assert decode_values(col, ("a", "b", 0)).ints[0] == 10
    assert decode_values(col, ("x/y",)).ints[0] == 1
    assert decode_values(col, ("t~",)).ints[0] == 2
    assert decode_values(col, ("é",)).strings[0].as_py() == "ü"
    assert decode_values(col, ("",)).ints[0] == 3
    assert decode_values(col, ('q"k',)).ints[0] == 4
    top = decode_values(col, (1,))
    assert top.kind.tolist() == [Kind.MISSING, Kind.INT] and top.ints[1] == 6
    assert decode_values(col, ()).kind.tolist() == [Kind.OBJECT, Kind.ARRAY]


def test_elements_of_arrays_carry_their_rows() -> None:
    col = _column({"t": [1, "a", 2.5]}, {"t": "no"}, None, {"t": []}, {"t": [True, None]})
    e = decode_elements(col, ("t",))
    assert e.rows.tolist() == [0, 0, 0, 4, 4]
    assert e.values.kind.tolist() == [Kind.INT, Kind.STRING, Kind.FLOAT, Kind.BOOL, Kind.NULL]


def test_dynamic_field_filter_over_mixed_rows() -> None:
    meta = _column({"price": 10}, {"price": "10"}, {"price": 10.0}, {}, {"price": [10]})
    t = pa.table({"$meta": meta})
    assert compile_filter("price == 10", SCHEMA).evaluate(t).tolist() == [
        True, False, True, False, False]
    assert compile_filter("price != 10", SCHEMA).evaluate(t).tolist() == [
        False, True, False, True, True]
    assert compile_filter('price == "10"', SCHEMA).evaluate(t).tolist() == [
        False, True, False, False, False]


def test_invalid_json_text_is_corruption_not_a_filter_error() -> None:
    t = pa.table({"j": pa.array([b'{"a": 1}', b'{"a": '], pa.large_binary())})
    with pytest.raises(Corruption):
        compile_filter('j["a"] == 1', SCHEMA).evaluate(t)


def test_cache_decodes_each_path_of_a_column_once() -> None:
    t = pa.table({"j": _column({"a": 1, "b": 2}, {"a": 3})})
    cache: dict[Any, Any] = {}
    first = compile_filter('j["a"] > 0', SCHEMA)
    assert first.evaluate(t, cache).tolist() == [True, True]
    assert len(cache) == 1
    assert compile_filter('j["a"] == 3 or j["a"] == 1', SCHEMA).evaluate(t, cache).tolist() == [
        True, True]
    assert len(cache) == 1
    compile_filter('exists j["b"]', SCHEMA).evaluate(t, cache)
    assert len(cache) == 2


def test_cache_keys_tell_slices_and_tables_apart() -> None:
    t = pa.table({"j": _column({"a": 1}, {"a": 2}, {"a": 3})})
    other = pa.table({"j": _column({"a": 3}, {"a": 2}, {"a": 1})})
    cache: dict[Any, Any] = {}
    f = compile_filter('j["a"] == 1', SCHEMA)
    assert f.evaluate(t, cache).tolist() == [True, False, False]
    assert f.evaluate(t.slice(1), cache).tolist() == [False, False]
    assert f.evaluate(other, cache).tolist() == [False, False, True]
    assert len(cache) == 3


def test_json_decoding_is_vectorized_over_many_rows() -> None:
    n = 20_000
    docs = [{"a": i} if i % 3 else {"a": str(i)} for i in range(n)]
    mask = compile_filter('j["a"] >= 100', SCHEMA).evaluate(pa.table({"j": _column(*docs)}))
    want = np.array([i % 3 != 0 and i >= 100 for i in range(n)])
    assert np.array_equal(mask, want)
