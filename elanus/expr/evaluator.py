"""Evaluator: a typed plan over one Arrow table -> one boolean per row, with whole-column kernels.

Every predicate yields Milvus's two bitmaps per row: `value` (the row matches) and `valid` (the
row's data was not null). A comparison on a null field is (false, invalid); `not p` is
`~value & valid`, so `not (age > 18)` skips rows where age is null, as Milvus does; `and` and
`or` combine values and OR their validity, as Milvus's segcore does. `is null` is always valid.
JSON paths follow Milvus's JSON rules: a row where the path is missing or holds another type
fails the comparison, except `!=`, which it passes; the row counts as valid unless the JSON
column itself is null. Array elements out of range fail every comparison, `!=` included.

text_match and phrase_match are answered by the segment's text index (IndexKey ("text",
field)), which the caller passes with the other indexes; null rows match neither and are
invalid, so `not text_match(...)` skips them too.

Work is done by numpy and pyarrow.compute over whole columns; Python loops run only over the
plan's nodes and over the constants of a list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elanus.errors import InternalError
from elanus.expr import plan
from elanus.expr.columns import Mask, Result, TableReader, Values, integral, plain, to_mask
from elanus.expr.folding import COMPARE
from elanus.expr.indexed import answer
from elanus.expr.jsonpath import JsonValues, Kind
from elanus.expr.like import arrow_pattern, pure_prefix
from elanus.expr.spatial import relate

_ARROW_COMPARE = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
                  ">": pc.greater, ">=": pc.greater_equal}


def evaluate(predicate: plan.Predicate, reader: TableReader) -> Mask:
    """The rows of the reader's table that pass `predicate` (a fresh, writable array)."""
    value = _Evaluator(reader).predicate(predicate).value
    return value if value.flags.writeable and value.flags.owndata else value.copy()


class _Evaluator:
    def __init__(self, reader: TableReader) -> None:
        self.reader = reader
        self.n = reader.num_rows

    def predicate(self, p: plan.Predicate) -> Result:
        by_index = answer(p, self.reader)
        if by_index is not None:
            return by_index
        match p:
            case plan.Compare(op=op, source=plan.JsonValue() as src, value=value):
                valid = self.reader.valid(src.column)
                return _json_compare(op, self.reader.json(src.column, src.pointer), value, valid)
            case plan.Compare(op=op, source=src, value=value):
                return _compare(op, self.source(src), value)
            case plan.CompareColumns(op=op, left=left, right=right):
                lv = self.reader.scalar(left.column, left.type)
                rv = self.reader.scalar(right.column, right.type)
                valid = lv.valid & rv.valid
                return Result(_apply(op, lv.data, rv.data) & valid, valid)
            case plan.InSet(source=plan.JsonValue() as src, values=values):
                valid = self.reader.valid(src.column)
                hit = _json_isin(self.reader.json(src.column, src.pointer), values)
                return Result(hit & valid, valid)
            case plan.InSet(source=src, values=values):
                v = self.source(src)
                hit = _isin(v.data, values)
                return Result(hit if v.complete else hit & v.present & v.valid, v.valid)
            case plan.Like(source=src, pattern=pattern):
                v = self.strings(src)
                prefix = pure_prefix(pattern)
                hit = to_mask(pc.starts_with(v.data, prefix) if prefix is not None
                              else pc.match_like(v.data, arrow_pattern(pattern)))
                return Result(hit & v.present & v.valid, v.valid)
            case plan.ArrayEquals(source=src, values=values):
                return self.array_equals(src, values)
            case plan.Contains(source=src, values=values, mode=mode):
                return self.contains(src, values, mode)
            case plan.ContainsArray(source=src, text=text):
                valid = self.reader.valid(src.column)
                rows, texts = self.reader.json_array_elements(src.column, src.pointer)
                hit = _rows_with(rows, to_mask(pc.equal(texts, text)), self.n)
                return Result(hit & valid, valid)
            case plan.IsNull(column=column, negated=negated):
                valid = self.reader.valid(column)
                return Result(valid if negated else ~valid, np.ones(self.n, np.bool_))
            case plan.Exists(source=src):
                valid = self.reader.valid(src.column)
                found = self.reader.json(src.column, src.pointer).kind != Kind.MISSING
                return Result(found & valid, valid)
            case plan.Spatial(op=op, column=column, wkt=wkt, distance=distance):
                valid = self.reader.valid(column)
                hit = relate(op, self.reader.geometries(column), wkt, distance)
                return Result(hit & valid, valid)
            case plan.TextMatch(column=column, terms=terms, minimum=minimum):
                valid = self.reader.valid(column)
                hit = self.text_index(column).match_any(terms, minimum)
                return Result(hit & valid, valid)
            case plan.PhraseMatch(column=column, tokens=tokens, slop=slop):
                valid = self.reader.valid(column)
                hit = self.text_index(column).match_phrase(tokens, slop)
                return Result(hit & valid, valid)
            case plan.Not(operand=operand):
                r = self.predicate(operand)
                return Result(~r.value & r.valid, r.valid)
            case plan.And(operands=operands) | plan.Or(operands=operands):
                return self.logical(isinstance(p, plan.And), operands)
            case plan.Constant(value=value):
                return Result(np.full(self.n, value, np.bool_), np.ones(self.n, np.bool_))
            case plan.Sample(factor=factor):
                return _sample(np.ones(self.n, np.bool_), factor)
        raise TypeError(f"not a predicate: {p!r}")

    def text_index(self, column: str) -> Any:
        """The segment's text index of `column`, which the caller must provide."""
        index = self.reader.index(("text", column))
        if index is None:
            raise InternalError(f"text_match on field {column} needs the segment's text index, "
                                "and none was given")
        return index

    def logical(self, conjunction: bool, operands: tuple[plan.Predicate, ...]) -> Result:
        sample = operands[-1] if isinstance(operands[-1], plan.Sample) else None
        if sample is not None:  # the binder puts it last: sample what the rest passes
            rest = self.logical(True, operands[:-1])
            return _sample(rest.value, sample.factor)
        first = self.predicate(operands[0])
        value, valid = first.value.copy(), first.valid.copy()
        for operand in operands[1:]:
            r = self.predicate(operand)
            if conjunction:
                value &= r.value
            else:
                value |= r.value
            valid |= r.valid
        return Result(value, valid)

    # -- sources ---------------------------------------------------------------------------

    def source(self, src: plan.Source) -> Values:
        match src:
            case plan.ColumnValue(column=column, type=kind):
                return self.reader.scalar(column, kind)
            case plan.ArrayItem(column=column, element=kind, index=index):
                return self.reader.list_item(column, kind, index)
            case plan.ArrayLength(source=plan.ArrayValue(column=column)):
                return self.reader.list_lengths(column)
            case plan.ArrayLength(source=plan.JsonValue(column=column, pointer=keys)):
                jv = self.reader.json(column, keys)
                return Values(jv.lengths, jv.kind == Kind.ARRAY, self.reader.valid(column))
            case plan.JsonValue(column=column, pointer=keys):  # as a number, for arithmetic
                jv = self.reader.json(column, keys)
                numeric = (jv.kind == Kind.INT) | (jv.kind == Kind.FLOAT)
                return Values(jv.floats, numeric, self.reader.valid(column), loose=True)
            case plan.Arith():
                return self.arith(src)
        raise TypeError(f"cannot read {src!r} as values")

    def strings(self, src: plan.Source) -> Values:
        if isinstance(src, plan.JsonValue):
            jv = self.reader.json(src.column, src.pointer)
            return Values(jv.strings, jv.kind == Kind.STRING, self.reader.valid(src.column))
        return self.source(src)

    def arith(self, src: plan.Arith) -> Values:
        inner = self.source(src.source)
        data = np.asarray(inner.data)
        if plan.source_type(src) == "float" and data.dtype != np.float64:
            data = data.astype(np.float64)  # Milvus computes FLOAT fields in double
        a, b = (data, src.constant) if src.source_first else (src.constant, data)
        with np.errstate(all="ignore"):
            match src.op:
                case "+":
                    out = np.add(a, b)
                case "-":
                    out = np.subtract(a, b)
                case "*":
                    out = np.multiply(a, b)
                case "/":
                    out = _trunc_div(a, b) if data.dtype.kind == "i" else np.true_divide(a, b)
                case "%":
                    out = np.fmod(a, b)
                case "**":
                    out = np.power(np.asarray(a, np.float64), np.asarray(b, np.float64))
                case _:
                    raise TypeError(f"unknown arithmetic operator {src.op}")
        return Values(out, inner.present, inner.valid, inner.loose)

    # -- arrays ----------------------------------------------------------------------------

    def array_equals(self, src: plan.ArrayValue, values: tuple[plan.Scalar, ...]) -> Result:
        lengths = self.reader.list_lengths(src.column)
        hit = lengths.present & (lengths.data == len(values))
        for i, value in enumerate(values):
            item = self.reader.list_item(src.column, src.element, i)
            hit &= _apply("==", item.data, value) & item.present
        return Result(hit & lengths.valid, lengths.valid)

    def contains(self, src: plan.ArrayValue | plan.JsonValue, values: tuple[plan.Scalar, ...],
                 mode: str) -> Result:
        valid = self.reader.valid(src.column)
        if isinstance(src, plan.ArrayValue):
            rows, flat = self.reader.list_elements(src.column)
            data = plain(flat, src.element)

            def element_hits(targets: tuple[plan.Scalar, ...]) -> Mask:
                return _isin(data, targets)
            is_array = valid
        else:
            elements = self.reader.json_elements(src.column, src.pointer)
            rows = elements.rows

            def element_hits(targets: tuple[plan.Scalar, ...]) -> Mask:
                return _json_isin(elements.values, targets)
            is_array = self.reader.json(src.column, src.pointer).kind == Kind.ARRAY
        if mode == "any":
            hit = _rows_with(rows, element_hits(values), self.n)
        else:
            hit = is_array.copy()
            for value in plan.distinct(values):
                hit &= _rows_with(rows, element_hits((value,)), self.n)
        return Result(hit & valid, valid)


def _sample(passing: Mask, factor: float) -> Result:
    """About `factor` of the passing rows, drawn at random."""
    rows = np.flatnonzero(passing)
    keep = round(len(rows) * factor)
    out = np.zeros(len(passing), np.bool_)
    out[np.random.default_rng().choice(rows, size=keep, replace=False)] = True
    return Result(out, np.ones(len(passing), np.bool_))


def _compare(op: str, v: Values, value: plan.Scalar) -> Result:
    hit = _apply(op, v.data, value)
    if v.complete:  # nothing to mask out
        return Result(hit, v.valid)
    hit = hit & v.present
    if v.loose and op == "!=":
        hit |= ~v.present
    return Result(hit & v.valid, v.valid)


def _json_compare(op: str, jv: JsonValues, value: plan.Scalar, valid: Mask) -> Result:
    """Compare the JSON value of each row with a constant, by the constant's kind."""
    kind = jv.kind
    if isinstance(value, bool):
        present = kind == Kind.BOOL
        hit = _apply(op, jv.bools, value) & present
    elif isinstance(value, str):
        present = kind == Kind.STRING
        hit = _apply(op, jv.strings, value) & present
    else:
        is_int, is_float = kind == Kind.INT, kind == Kind.FLOAT
        present = is_int | is_float
        if isinstance(value, int):  # exact on integers, as Milvus reads int64 first
            hit = (_apply(op, jv.ints, value) & is_int) | (_apply(op, jv.floats, value) & is_float)
        else:
            hit = _apply(op, jv.floats, value) & present
    if op == "!=":
        hit |= ~present
    return Result(hit & valid, valid)


def _json_isin(jv: JsonValues, values: tuple[plan.Scalar, ...]) -> Mask:
    """Rows whose JSON value equals one of `values` (numbers by value, 1 == 1.0)."""
    kind = jv.kind
    hit = np.zeros(len(jv), np.bool_)
    bools = [v for v in values if isinstance(v, bool)]
    strings = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if not isinstance(v, (bool, str))]
    if bools:
        hit |= (kind == Kind.BOOL) & np.isin(jv.bools, bools)
    if strings:
        hit |= (kind == Kind.STRING) & _isin(jv.strings, tuple(strings))
    if numbers:
        exact = integral(numbers)
        if exact:
            hit |= (kind == Kind.INT) & np.isin(jv.ints, np.array(exact, np.int64))
        floats = np.array([float(v) for v in numbers], np.float64)
        hit |= (kind == Kind.FLOAT) & np.isin(jv.floats, floats)
    return hit


def _apply(op: str, data: np.ndarray | pa.Array, value: object) -> Mask:
    """`data op value` elementwise; numpy for numbers and booleans, Arrow for strings."""
    if isinstance(data, (pa.Array, pa.ChunkedArray)):
        return to_mask(_ARROW_COMPARE[op](data, value))
    return np.asarray(COMPARE[op](data, value), dtype=np.bool_)


def _isin(data: np.ndarray | pa.Array, values: tuple[plan.Scalar, ...]) -> Mask:
    if isinstance(data, (pa.Array, pa.ChunkedArray)):
        value_set = pa.array([v for v in values if isinstance(v, str)], pa.large_string())
        return to_mask(pc.is_in(data, value_set=value_set))
    if data.dtype == np.bool_:
        return np.isin(data, [v for v in values if isinstance(v, bool)])
    numbers = [v for v in values if not isinstance(v, (bool, str))]
    if not numbers:
        return np.zeros(len(data), np.bool_)
    if data.dtype.kind == "i" and all(isinstance(v, int) for v in numbers):
        if len(numbers) == 1:  # one pass, where isin makes four
            return np.asarray(data == numbers[0], dtype=np.bool_)
        return np.isin(data, np.array(numbers, np.int64))
    if data.dtype == np.float32:  # compare in float32, as a FLOAT field compares constants
        return np.isin(data, np.array(numbers, np.float32))
    return np.isin(data.astype(np.float64, copy=False), np.array(numbers, np.float64))


def _rows_with(rows: np.ndarray, element_hit: Mask, n: int) -> Mask:
    """Rows owning at least one hit element."""
    out = np.zeros(n, np.bool_)
    out[rows[element_hit]] = True
    return out


def _trunc_div(a: Any, b: Any) -> np.ndarray:
    """Integer division rounding toward zero, as C++ and Go divide int64."""
    q = np.floor_divide(a, b)
    r = np.remainder(a, b)
    fix = (r != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0))
    return np.asarray(q + fix, dtype=np.int64)



