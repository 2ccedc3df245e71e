"""Reading the columns a filter needs from an Arrow table, as numpy arrays plus masks.

`TableReader` wraps one table for one evaluation. It combines each column's chunks once, turns
nullable numeric columns into (values, validity) numpy pairs, and gives ARRAY columns as flat
elements with their row numbers. A column the table lacks reads as all null, which is what a
segment written before a field existed holds.

Decoded JSON paths, geometries and ARRAY elements (with the row of each) go to the caller's
`cache` dict when one is given. Its keys name the column by the addresses of its Arrow buffers
(plus offsets and lengths), and its values keep the column alive, so an address cannot be reused
while its entry exists. Sealed segments are immutable, so
a cache kept per segment stays correct; a growing segment's snapshot of more rows is a new key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from elanus.expr.jsonpath import (
    JsonElements,
    JsonValues,
    decode_array_elements,
    decode_elements,
    decode_values,
)
from elanus.schema import geometry
from elanus.schema.types import single_array

Mask = npt.NDArray[np.bool_]
T = TypeVar("T")
# What a segment's scalar index answers for, as the evaluator looks it up:
#   ("column", field)                 a sorted index of a scalar field's values
#   ("elements", field)               a sorted index of an ARRAY field's elements
#   ("ngram", field)                  an n-gram index of a VARCHAR field
#   ("json", field, keys, kind)       a sorted index of the values of kind "bool", "str", "int"
#                                     or "float" found at a JSON path
#   ("text", field)                   the positional text index of a VARCHAR field with
#                                     enable_match (text_match, phrase_match); required
IndexKey = tuple[Any, ...]


@dataclass(frozen=True)
class Values:
    """One value per row of some source, for comparison against constants.

    `data` is numpy (numbers, booleans) or a large_string Arrow array (strings). `present` marks
    rows that have a value of the source's type; `valid` is Milvus's valid bitmap (the column is
    not null). `loose` marks JSON-derived values, where `!=` holds for rows without a value.
    """

    data: np.ndarray | pa.Array
    present: Mask
    valid: Mask
    loose: bool = False
    complete: bool = False  # every row is present and valid: both masks are all True


@dataclass(frozen=True)
class Result:
    """A predicate's two bitmaps per row: `value` (the row matches) and `valid` (its data was
    not null)."""

    value: Mask
    valid: Mask


class TableReader:
    """Column access for evaluating one filter over one table."""

    def __init__(self, table: pa.Table, cache: dict[Any, Any] | None = None,
                 indexes: Mapping[IndexKey, Any] | None = None) -> None:
        self.table = table
        self.num_rows = table.num_rows
        self.cache = cache
        self.indexes = indexes or {}
        self._arrays: dict[str, pa.Array | None] = {}
        self._memo: dict[tuple[Any, ...], Any] = {}

    def index(self, key: IndexKey) -> Any:
        """The scalar index the segment has for `key` (see `IndexKey`), or None."""
        return self.indexes.get(key)

    def array(self, name: str) -> pa.Array | None:
        """The column as one Arrow array, or None when the table lacks it."""
        if name not in self._arrays:
            if name in self.table.column_names:
                self._arrays[name] = single_array(self.table.column(name))
            else:
                self._arrays[name] = None
        return self._arrays[name]

    def valid(self, name: str) -> Mask:
        return self._once(("valid", name), self._valid)

    def _valid(self, name: str) -> Mask:
        arr = self.array(name)
        if arr is None:
            return np.zeros(self.num_rows, np.bool_)
        return validity(arr)

    def scalar(self, name: str, kind: str) -> Values:
        """A scalar field; integers widen to int64 so arithmetic and comparisons cannot wrap."""
        return self._once(("scalar", name, kind), self._scalar)

    def _scalar(self, name: str, kind: str) -> Values:
        arr = self.array(name)
        if arr is None:
            empty = np.zeros(self.num_rows, np.bool_)
            data: Any = (pa.nulls(self.num_rows, pa.large_string()) if kind == "str"
                         else np.zeros(self.num_rows, np.int64))
            return Values(data, empty, empty)
        valid = validity(arr)
        return Values(plain(arr, kind), valid, valid, complete=arr.null_count == 0)

    def list_lengths(self, name: str) -> Values:
        return self._once(("lengths", name), self._list_lengths)

    def _list_lengths(self, name: str) -> Values:
        arr = self.array(name)
        if arr is None:
            empty = np.zeros(self.num_rows, np.bool_)
            return Values(np.zeros(self.num_rows, np.int64), empty, empty)
        valid = validity(arr)
        lengths = pc.list_value_length(arr).fill_null(0).to_numpy().astype(np.int64)
        return Values(lengths, valid, valid)

    def list_elements(self, name: str) -> tuple[npt.NDArray[np.int64], pa.Array]:
        """(row of each element, the elements) of an ARRAY column; null rows have none."""
        if self.array(name) is None:
            return np.empty(0, np.int64), pa.array([])
        out = self._decoded(name, (), "list")
        assert isinstance(out, tuple)
        return out

    def list_item(self, name: str, kind: str, index: int) -> Values:
        """`column[index]`; rows whose array is null or too short have no value."""
        arr = self.array(name)
        if arr is None:
            return self.scalar(name, kind)
        valid = validity(arr)
        lengths = pc.list_value_length(arr).fill_null(0).to_numpy().astype(np.int64)
        present = valid & (lengths > index)
        starts = np.cumsum(lengths) - lengths
        positions = np.where(present, starts + index, 0)
        flat = arr.flatten()
        if len(flat) == 0:
            picked = pa.nulls(len(arr), flat.type)
        else:
            picked = flat.take(pa.array(positions))
        return Values(plain(picked, kind), present, valid)

    def _once(self, key: tuple[Any, ...], compute: Callable[..., T]) -> T:
        """Memoize a derived column for this evaluation; the masks it returns are read-only."""
        if key not in self._memo:
            result = compute(*key[1:])
            masks: tuple[Any, ...] = ((result.present, result.valid)
                                      if isinstance(result, Values) else (result,))
            for a in masks:
                a.flags.writeable = False  # shared by every node that reads this column
            self._memo[key] = result
        return self._memo[key]  # type: ignore[no-any-return]

    def json(self, name: str, keys: tuple[str | int, ...]) -> JsonValues:
        out = self._decoded(name, keys, "values")
        assert isinstance(out, JsonValues)
        return out

    def json_elements(self, name: str, keys: tuple[str | int, ...]) -> JsonElements:
        out = self._decoded(name, keys, "elements")
        assert isinstance(out, JsonElements)
        return out

    def json_array_elements(self, name: str, keys: tuple[str | int, ...]
                            ) -> tuple[npt.NDArray[np.int64], pa.Array]:
        """(row, compact JSON text) of the elements that are arrays, of the arrays at `keys`."""
        out = self._decoded(name, keys, "arrays")
        assert isinstance(out, tuple)
        return out

    def geometries(self, name: str) -> geometry.Geometries:
        """A GEOMETRY column as shapely geometries (None for null rows)."""
        out = self._decoded(name, (), "geometry")
        assert isinstance(out, np.ndarray)
        return out

    def _decoded(self, name: str, keys: tuple[str | int, ...], what: str) -> Any:
        arr = self.array(name)
        if arr is None:
            arr = pa.nulls(self.num_rows, pa.large_binary())
        decode = _DECODERS[what]
        if self.cache is None:
            return decode(arr, keys)
        column = self.table.column(name) if name in self.table.column_names else arr
        key = (what, name, identity(column), keys)
        hit = self.cache.get(key)
        if hit is None:
            hit = (column, decode(arr, keys))  # the column pins the buffers the key names
            self.cache[key] = hit
        return hit[1]


def _list_elements(arr: pa.Array) -> tuple[npt.NDArray[np.int64], pa.Array]:
    lengths = pc.list_value_length(arr).fill_null(0).to_numpy().astype(np.int64)
    rows = np.repeat(np.arange(len(arr), dtype=np.int64), lengths)
    rows.flags.writeable = False  # shared by every filter that reads the column
    return rows, arr.flatten()


_DECODERS: dict[str, Callable[[pa.Array, tuple[str | int, ...]], Any]] = {
    "values": decode_values, "elements": decode_elements, "arrays": decode_array_elements,
    "geometry": lambda arr, _keys: geometry.decode(arr),
    "list": lambda arr, _keys: _list_elements(arr),
}


def integral(numbers: Sequence[int | float]) -> list[int]:
    """The numbers an integer can equal, as ints: integers, and whole floats within int64."""
    return [v for v in numbers if isinstance(v, int)] + \
        [int(v) for v in numbers if isinstance(v, float) and v.is_integer() and abs(v) < 2**63]


def validity(arr: pa.Array | pa.ChunkedArray) -> Mask:
    """The rows of `arr` that are not null. (A zero-stride all-True view would cost nothing to
    make, but numpy combines it with another mask 20x slower than a real array.)"""
    if arr.null_count == 0:
        return np.ones(len(arr), np.bool_)
    if arr.type == pa.null():
        return np.zeros(len(arr), np.bool_)
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)


def plain(arr: pa.Array, kind: str) -> np.ndarray | pa.Array:
    """Arrow values as numpy (nulls filled with a placeholder), or as large_string Arrow."""
    if kind == "str":
        return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())
    if kind == "bool":
        return arr.fill_null(False).to_numpy(zero_copy_only=False).astype(np.bool_, copy=False)
    if pa.types.is_timestamp(arr.type):  # TIMESTAMPTZ: compared as microseconds
        arr = arr.cast(pa.int64())
    filled = arr.fill_null(0) if arr.null_count else arr
    values = filled.to_numpy(zero_copy_only=False)
    if kind == "int":
        return values.astype(np.int64, copy=False)
    return values


def identity(column: pa.Array | pa.ChunkedArray) -> tuple[Any, ...]:
    """The buffers, offsets and lengths a column reads: equal only for the same data."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return tuple((tuple(b.address if b is not None else 0 for b in c.buffers()), c.offset, len(c))
                 for c in chunks)


def to_mask(result: pa.Array | pa.ChunkedArray) -> Mask:
    """An Arrow boolean result as numpy, null as False."""
    filled = result.fill_null(False) if result.null_count else result
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.bool_)
