"""Scalar indexes: per sealed segment, structures that answer filter predicates without a scan.

Milvus's scalar index types map onto two structures, both built with whole-array numpy and
Arrow calls:

- `SortedIndex` (STL_SORT, INVERTED, BITMAP, TRIE, AUTOINDEX, and the JSON path index): the
  non-null values in sorted order, each with its row. A comparison or a range is one binary
  search, an IN list one per value, a prefix LIKE the range of strings that start with the
  prefix. Over an ARRAY field the values are the elements, each with the row that holds it,
  which answers array_contains and its _any / _all forms.
- `NgramIndex` (NGRAM): every byte n-gram of every string with its row. A LIKE whose literal
  parts are at least n bytes long intersects the rows of their n-grams, and only those
  candidate rows are matched against the pattern.

An index answers with the rows whose value matches (a boolean mask); rows whose value is null
or absent never match. The evaluator keeps Milvus's validity rules around it, so a filter
returns the same rows with and without an index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Mask = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.int64]
_MAX_CHAR = "\U0010ffff"


class SortedIndex:
    """Sorted non-null values with their rows; `num_rows` is the segment's row count."""

    def __init__(self, values: np.ndarray, rows: Rows, num_rows: int) -> None:
        self.values, self.rows, self.num_rows = values, rows, num_rows

    @classmethod
    def build(cls, column: pa.Array, rows: Rows | None = None,
              num_rows: int | None = None) -> SortedIndex:
        """Index `column`; `rows` gives the row of each value when values are array elements
        (default: value i is in row i)."""
        total = len(column) if num_rows is None else num_rows
        if rows is None:
            rows = np.arange(len(column), dtype=np.int64)
        if pa.types.is_timestamp(column.type) or pa.types.is_integer(column.type):
            column = column.cast(pa.int64())  # TIMESTAMPTZ compares as microseconds
        keep = column.is_valid()
        if pa.types.is_floating(column.type):  # NaN equals and orders with nothing
            keep = pc.and_(keep, pc.invert(pc.is_nan(column).fill_null(True)))
        keep_np = keep.to_numpy(zero_copy_only=False).astype(np.bool_)
        if not keep_np.all():
            column, rows = column.filter(pa.array(keep_np)), rows[keep_np]
        order = pc.sort_indices(column).to_numpy()
        ordered = column.take(pa.array(order))
        if pa.types.is_string(ordered.type) or pa.types.is_large_string(ordered.type):
            values: np.ndarray = np.asarray(ordered.to_numpy(zero_copy_only=False), dtype=object)
        else:
            values = ordered.to_numpy(zero_copy_only=False)
        return cls(values, rows[order], total)

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes + self.rows.nbytes)

    def _mask(self, spans: Sequence[tuple[Any, Any]]) -> Mask:
        out = np.zeros(self.num_rows, np.bool_)
        for lo, hi in spans:
            out[self.rows[lo:hi]] = True
        return out

    def _probe(self, value: Any) -> Any:
        """`value` as the values compare with it: FLOAT fields compare in float32."""
        return np.float32(value) if self.values.dtype == np.float32 else value

    def compare(self, op: str, value: Any) -> Mask:
        """Rows with a value `op` `value` (op one of == < <= > >=)."""
        v, value = self.values, self._probe(value)
        if op == "==":
            return self._mask([(np.searchsorted(v, value, "left"),
                                np.searchsorted(v, value, "right"))])
        if op in ("<", "<="):
            return self._mask([(0, np.searchsorted(v, value, "left" if op == "<" else "right"))])
        if op in (">", ">="):
            return self._mask([(np.searchsorted(v, value, "right" if op == ">" else "left"),
                                len(v))])
        raise ValueError(f"a sorted index does not answer {op}")

    def between(self, low: Any, low_inclusive: bool, high: Any, high_inclusive: bool) -> Mask:
        """Rows with a value in the range from `low` to `high`."""
        v = self.values
        start = np.searchsorted(v, self._probe(low), "left" if low_inclusive else "right")
        stop = np.searchsorted(v, self._probe(high), "right" if high_inclusive else "left")
        return self._mask([(start, max(start, stop))])

    def isin(self, values: Sequence[Any]) -> Mask:
        probe = np.asarray(list(values), dtype=self.values.dtype) \
            if self.values.dtype != object else np.asarray(list(values), dtype=object)
        lo = np.searchsorted(self.values, probe, "left")
        hi = np.searchsorted(self.values, probe, "right")
        return self._mask(list(zip(lo.tolist(), hi.tolist())))

    def prefix(self, prefix: str) -> Mask:
        """Rows whose string value starts with `prefix`."""
        return self._mask([(np.searchsorted(self.values, prefix, "left"),
                            np.searchsorted(self.values, prefix + _MAX_CHAR, "left"))])

    def count_per_row(self, values: Sequence[Any]) -> npt.NDArray[np.int64]:
        """Per row, how many of the distinct `values` it holds (array elements)."""
        counts = np.zeros(self.num_rows, np.int64)
        for value in values:
            lo = np.searchsorted(self.values, self._probe(value), "left")
            hi = np.searchsorted(self.values, self._probe(value), "right")
            counts[np.unique(self.rows[lo:hi])] += 1
        return counts


class NgramIndex:
    """Byte n-grams (n = `gram`, at most 8) of a string column, each with its row."""

    def __init__(self, grams: npt.NDArray[np.uint64], rows: Rows, gram: int) -> None:
        self.grams, self.rows, self.gram = grams, rows, gram

    @classmethod
    def build(cls, column: pa.Array, gram: int) -> NgramIndex:
        if not 1 <= gram <= 8:
            raise ValueError(f"n-gram length {gram} is outside [1, 8]")
        arr = column.cast(pa.large_string()).combine_chunks() \
            if isinstance(column, pa.ChunkedArray) else column.cast(pa.large_string())
        offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset: arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], np.uint8) if arr.buffers()[2] is not None \
            else np.empty(0, np.uint8)
        lengths = np.diff(offsets)
        if arr.null_count:
            lengths = np.where(arr.is_valid().to_numpy(zero_copy_only=False), lengths, 0)
        counts = np.maximum(lengths - gram + 1, 0)
        rows = np.repeat(np.arange(len(arr), dtype=np.int64), counts)
        starts = np.repeat(offsets[:-1], counts) + _ranks(counts)
        grams = _pack(data, starts, gram)
        order = np.lexsort((rows, grams))
        grams, rows = grams[order], rows[order]
        first = np.ones(len(grams), np.bool_)
        first[1:] = (grams[1:] != grams[:-1]) | (rows[1:] != rows[:-1])
        return cls(grams[first], rows[first], gram)

    @property
    def nbytes(self) -> int:
        return int(self.grams.nbytes + self.rows.nbytes)

    def candidates(self, literals: Sequence[str]) -> Rows | None:
        """The rows that hold every n-gram of the `literals` (the literal parts of a LIKE
        pattern): a superset of its matches, to be checked. None when the literals are too
        short for the index to narrow the rows."""
        encoded = [lit.encode() for lit in literals]
        wanted = sorted({lit[i: i + self.gram] for lit in encoded
                         for i in range(len(lit) - self.gram + 1)})
        if not wanted:
            return None
        keys = _pack(np.frombuffer(b"".join(wanted), np.uint8),
                     np.arange(0, len(wanted) * self.gram, self.gram, dtype=np.int64), self.gram)
        lo = np.searchsorted(self.grams, keys, "left")
        hi = np.searchsorted(self.grams, keys, "right")
        rows: Rows = self.rows[lo[0]:hi[0]]
        for a, b in zip(lo[1:].tolist(), hi[1:].tolist()):
            if len(rows) == 0:
                break
            rows = np.intersect1d(rows, self.rows[a:b], assume_unique=True)
        return rows


def _ranks(counts: Rows) -> Rows:
    """0, 1, ..., c-1 for each count c, concatenated."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)


def _pack(data: npt.NDArray[np.uint8], starts: Rows, gram: int) -> npt.NDArray[np.uint64]:
    """The `gram` bytes at each start, big-endian in one uint64 (so order is byte order)."""
    out = np.zeros(len(starts), np.uint64)
    for i in range(gram):
        out = (out << np.uint64(8)) | data[starts + i].astype(np.uint64)
    return out
