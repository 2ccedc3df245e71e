"""Predicates a segment's scalar indexes answer, with exactly the rows a scan would return.

`answer` looks at one predicate node; when an index covers it (a comparison, an IN list or a
LIKE on an indexed field or JSON path, array_contains on an indexed ARRAY field), it returns the
same (value, valid) bitmaps the evaluator's scan produces, else None and the scan runs. The
typing rules mirror the scan's: FLOAT fields compare in float32, integer fields never equal a
fractional number, JSON numbers compare exactly as integers and approximately as floats, and `!=`
holds for every valid row the `==` index lookup does not return.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elanus.expr import plan
from elanus.expr.columns import Mask, Result, TableReader, integral, to_mask
from elanus.expr.like import arrow_pattern, literal_parts, pure_prefix


def answer(p: plan.Predicate, reader: TableReader) -> Result | None:
    if not reader.indexes:
        return None
    match p:
        case plan.And(operands=(plan.Compare() as a, plan.Compare() as b)):
            return _range(reader, a, b)
        case plan.Compare(op=op, source=plan.ColumnValue(column=c), value=value):
            index = reader.index(("column", c))
            if index is None:
                return None
            return _compare(op, [index], value, reader.valid(c))
        case plan.Compare(op=op, source=plan.JsonValue(column=c, pointer=keys), value=value):
            parts = _json_indexes(reader, c, keys, _json_kinds(value))
            if parts is None:
                return None
            return _compare(op, parts, value, reader.valid(c))
        case plan.InSet(source=plan.ColumnValue(column=c, type=kind), values=values):
            index = reader.index(("column", c))
            if index is None:
                return None
            valid = reader.valid(c)
            return Result(index.isin(_column_members(kind, index, values)) & valid, valid)
        case plan.InSet(source=plan.JsonValue(column=c, pointer=keys), values=values):
            return _json_isin(reader, c, keys, values)
        case plan.Like(source=plan.ColumnValue(column=c), pattern=pattern):
            return _like(reader, c, pattern)
        case plan.Contains(source=plan.ArrayValue(column=c), values=values, mode=mode):
            index = reader.index(("elements", c))
            if index is None:
                return None
            valid = reader.valid(c)
            wanted = plan.distinct(values)
            counts = index.count_per_row(wanted)
            hit = counts > 0 if mode == "any" else counts == len(wanted)
            return Result(hit & valid, valid)
    return None


def _range(reader: TableReader, a: plan.Compare, b: plan.Compare) -> Result | None:
    """`low < x and x < high` (a chained range, or two bounds ANDed) as one index lookup."""
    if not (isinstance(a.source, plan.ColumnValue) and a.source == b.source):
        return None
    index = reader.index(("column", a.source.column))
    lows = [p for p in (a, b) if p.op in (">", ">=")]
    highs = [p for p in (a, b) if p.op in ("<", "<=")]
    if index is None or len(lows) != 1 or len(highs) != 1:
        return None
    low, high = lows[0], highs[0]
    valid = reader.valid(a.source.column)
    hit = index.between(low.value, low.op == ">=", high.value, high.op == "<=")
    return Result(hit & valid, valid)


def _compare(op: str, indexes: list[Any], value: Any, valid: Mask) -> Result:
    hit = np.zeros(len(valid), np.bool_)
    for index in indexes:
        hit |= index.compare("==" if op == "!=" else op, value)
    if op == "!=":
        hit = ~hit
    return Result(hit & valid, valid)


def _json_kinds(value: plan.Scalar) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("bool",)
    if isinstance(value, str):
        return ("str",)
    return ("int", "float")


def _json_indexes(reader: TableReader, column: str, keys: tuple[plan.Key, ...],
                  kinds: tuple[str, ...]) -> list[Any] | None:
    found = [reader.index(("json", column, keys, k)) for k in kinds]
    return None if any(x is None for x in found) else found


def _column_members(kind: str, index: Any, values: tuple[plan.Scalar, ...]) -> list[Any]:
    """The members of an IN list that can equal a value of a field of `kind`."""
    if kind == "str":
        return [v for v in values if isinstance(v, str)]
    if kind == "bool":
        return [v for v in values if isinstance(v, bool)]
    numbers = [v for v in values if not isinstance(v, (bool, str))]
    if index.values.dtype.kind in "iu":  # an integer equals only integral numbers
        return integral(numbers)
    return numbers


def _json_isin(reader: TableReader, column: str, keys: tuple[plan.Key, ...],
               values: tuple[plan.Scalar, ...]) -> Result | None:
    bools = [v for v in values if isinstance(v, bool)]
    strings = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if not isinstance(v, (bool, str))]
    kinds = (("bool",) if bools else ()) + (("str",) if strings else ()) + \
        (("int", "float") if numbers else ())
    parts = _json_indexes(reader, column, keys, kinds)
    if parts is None:
        return None
    found = dict(zip(kinds, parts))
    valid = reader.valid(column)
    hit = np.zeros(reader.num_rows, np.bool_)
    if bools:
        hit |= found["bool"].isin(bools)
    if strings:
        hit |= found["str"].isin(strings)
    if numbers:
        exact = integral(numbers)
        if exact:
            hit |= found["int"].isin(exact)
        hit |= found["float"].isin([float(v) for v in numbers])
    return Result(hit & valid, valid)


def _like(reader: TableReader, column: str, pattern: str) -> Result | None:
    valid = reader.valid(column)
    prefix = pure_prefix(pattern)
    sorted_index = reader.index(("column", column))
    if prefix is not None and sorted_index is not None:
        return Result(sorted_index.prefix(prefix) & valid, valid)
    ngrams = reader.index(("ngram", column))
    if ngrams is None:
        return None
    rows = ngrams.candidates(literal_parts(pattern))
    if rows is None:
        return None
    hit = np.zeros(reader.num_rows, np.bool_)
    arr = reader.array(column)
    if len(rows) and arr is not None:
        picked = arr.take(pa.array(rows))
        hit[rows[to_mask(pc.match_like(picked, arrow_pattern(pattern)))]] = True
    return Result(hit & valid, valid)
