"""Hypothesis strategies: random rows for `reference.SCHEMA` and random well-typed filters."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from tests.expr import reference as ref

INTS = st.integers(-4, 4)
DOUBLES = st.sampled_from([-2.5, -1.0, 0.0, 0.5, 1.0, 2.0, 3.5])
NUMBERS = st.one_of(INTS, DOUBLES)
STRINGS = st.sampled_from(["", "a", "ab", "abc", "b", "b%", "a_c", "é", "A", "it's"])
PATTERNS = st.sampled_from(["a%", "%b", "%a%", "a_", "_", "%", "ab", "b\\%", "a\\_c", "%c",
                            "", "_b%", "é%"])
CMP = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
EQ = st.sampled_from(["==", "!="])

JSON_SCALAR = st.one_of(st.integers(-3, 3), st.sampled_from([-1.5, 0.0, 1.0, 2.5]),
                        st.sampled_from(["", "a", "ab", "b"]), st.booleans(), st.none())
JSON_VALUE = st.one_of(JSON_SCALAR, st.lists(JSON_SCALAR, max_size=3),
                       st.fixed_dictionaries({}, optional={"b": JSON_SCALAR}))
JSON_DOC = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"a": JSON_VALUE, "b": JSON_SCALAR, "0": JSON_SCALAR}),
    st.lists(JSON_SCALAR, max_size=2))
META_DOC = st.fixed_dictionaries({}, optional={"k": JSON_VALUE, "n": JSON_SCALAR})


def _nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


ROW = st.fixed_dictionaries({
    "i32": _nullable(INTS), "i64": _nullable(INTS), "d": _nullable(DOUBLES),
    "s": _nullable(STRINGS), "b": _nullable(st.booleans()), "j": JSON_DOC,
    "arr": _nullable(st.lists(st.integers(-2, 3), max_size=4)),
    "sarr": _nullable(st.lists(STRINGS, max_size=3)), "$meta": META_DOC,
})
ROWS = st.lists(ROW, max_size=12)


def table(rows: list[dict[str, Any]], chunks: int = 1) -> pa.Table:
    """The stored form of `rows`: Arrow columns as the engine writes them, in `chunks` pieces."""
    def encode(doc: Any) -> bytes | None:
        return None if doc is None else json.dumps(doc).encode()

    columns = {
        "id": pa.array(range(len(rows)), pa.int64()),
        "i32": pa.array([r["i32"] for r in rows], pa.int32()),
        "i64": pa.array([r["i64"] for r in rows], pa.int64()),
        "d": pa.array([r["d"] for r in rows], pa.float64()),
        "s": pa.array([r["s"] for r in rows], pa.large_string()),
        "b": pa.array([r["b"] for r in rows], pa.bool_()),
        "j": pa.array([encode(r["j"]) for r in rows], pa.large_binary()),
        "arr": pa.array([r["arr"] for r in rows], pa.large_list(pa.int64())),
        "sarr": pa.array([r["sarr"] for r in rows], pa.large_list(pa.large_string())),
        "$meta": pa.array([encode(r["$meta"]) for r in rows], pa.large_binary()),
    }
    whole = pa.table(columns)
    if chunks <= 1 or len(rows) < 2:
        return whole
    step = max(1, len(rows) // chunks)
    return pa.concat_tables([whole.slice(i, step) for i in range(0, len(rows), step)])


J_PATHS = st.sampled_from([("a",), ("b",), ("a", 0), ("a", "b"), ("a", 1), ("0",), (0,)])
META_PATHS = st.sampled_from([("k",), ("n",), ("k", 0), ("k", "b")])
PATHS = st.one_of(
    st.builds(ref.Path, st.just("j"), J_PATHS),
    st.builds(ref.Path, st.just("$meta"), META_PATHS, st.booleans()))
JSON_LITERAL = st.one_of(st.integers(-3, 3), st.sampled_from([-1.5, 0.0, 1.0, 2.5]),
                         st.sampled_from(["", "a", "ab", "b"]), st.booleans())


@st.composite
def _json_cmp(draw: st.DrawFn) -> ref.JsonCmp:
    value = draw(JSON_LITERAL)
    op = draw(EQ if isinstance(value, bool) else CMP)
    return ref.JsonCmp(draw(PATHS), op, value)


@st.composite
def _field_cmp(draw: st.DrawFn) -> ref.FieldCmp:
    field = draw(st.sampled_from(["i32", "i64", "d", "s", "b"]))
    if field == "s":
        value: Any = draw(STRINGS)
    elif field == "b":
        value = draw(st.booleans())
    else:
        value = draw(NUMBERS)
    op = draw(EQ if field == "b" else CMP)
    return ref.FieldCmp(field, op, value, draw(st.booleans()), draw(st.integers(0, 2)))


@st.composite
def _arith(draw: st.DrawFn) -> ref.ArithCmp:
    field = draw(st.sampled_from(["i32", "i64", "d"]))
    aop = draw(st.sampled_from(["+", "-", "*", "/", "%", "**"]))
    if aop == "**":
        constant: Any = draw(st.integers(0, 3))
    else:
        constant = draw(st.one_of(st.integers(1, 3), st.integers(-3, -1), st.sampled_from(
            [0.5, 2.0, -1.5])))
    return ref.ArithCmp(field, aop, constant, draw(CMP), draw(NUMBERS))


@st.composite
def _array_item(draw: st.DrawFn) -> ref.ArrayItem:
    field = draw(st.sampled_from(["arr", "sarr"]))
    value = draw(STRINGS if field == "sarr" else st.integers(-2, 3))
    return ref.ArrayItem(field, draw(st.integers(0, 3)), draw(CMP), value)


@st.composite
def _array_contains(draw: st.DrawFn) -> ref.Contains:
    field = draw(st.sampled_from(["arr", "sarr"]))
    element = STRINGS if field == "sarr" else st.integers(-2, 3)
    mode = draw(st.sampled_from(["", "_all", "_any"]))
    values = tuple(draw(st.lists(element, min_size=1 if not mode else 0,
                                 max_size=3 if mode else 1)))
    return ref.Contains(field, mode, values)


@st.composite
def _json_contains(draw: st.DrawFn) -> ref.Contains:
    mode = draw(st.sampled_from(["", "_all", "_any"]))
    values = tuple(draw(st.lists(JSON_LITERAL, min_size=1 if not mode else 0,
                                 max_size=3 if mode else 1)))
    return ref.Contains(draw(PATHS), mode, values)


@st.composite
def _array_equals(draw: st.DrawFn) -> ref.ArrayEquals:
    values = tuple(draw(st.lists(st.integers(-2, 3), max_size=3)))
    return ref.ArrayEquals("arr", values, draw(st.booleans()))


RANGE_OPS = st.one_of(st.tuples(st.sampled_from(["<", "<="]), st.sampled_from(["<", "<="])),
                      st.tuples(st.sampled_from([">", ">="]), st.sampled_from([">", ">="])))

ATOMS = st.one_of(
    _field_cmp(),
    st.builds(ref.FieldRange, NUMBERS, st.sampled_from(["i32", "d"]), NUMBERS, RANGE_OPS),
    st.builds(ref.FieldIn, st.sampled_from(["i32", "i64", "d"]),
              st.lists(NUMBERS, max_size=4).map(tuple), st.booleans()),
    st.builds(ref.FieldIn, st.just("s"), st.lists(STRINGS, max_size=3).map(tuple),
              st.booleans()),
    _arith(),
    st.builds(ref.FieldsCmp, st.sampled_from(["i32", "i64", "d"]), CMP,
              st.sampled_from(["i32", "i64", "d"])),
    st.builds(ref.IsNull, st.sampled_from(["i32", "d", "s", "b", "j", "arr"]), st.booleans()),
    st.builds(ref.Like, st.one_of(st.just("s"), PATHS), PATTERNS),
    _json_cmp(),
    st.builds(ref.JsonIn, PATHS, st.lists(JSON_LITERAL, max_size=3).map(tuple), st.booleans()),
    st.builds(ref.Exists, PATHS),
    _json_contains(),
    _array_contains(),
    _array_item(),
    st.builds(ref.ArrayLength, st.just("arr"), CMP, st.integers(0, 3)),
    _array_equals(),
)

EXPRESSIONS = st.recursive(ATOMS, lambda inner: st.one_of(
    st.builds(ref.Not, inner, st.sampled_from(["not", "NOT", "!"])),
    st.builds(ref.Logical, inner, inner, st.sampled_from(["and", "AND", "&&", "or", "OR", "||"])),
), max_leaves=6)
