"""Segments: the unit rows live in, growing in memory or sealed in an immutable file.

Both kinds answer the same read interface over a snapshot of their first `n` rows: columns as
Arrow, vectors as float32 numpy views, primary keys, row timestamps and delete timestamps. A
growing segment only appends; a reader takes `snapshot()` and never sees rows appended after it.

MVCC: every row carries the hybrid timestamp of its insert and the timestamp of the first
tombstone that deleted it (NEVER while none has). A tombstone deletes the rows with its primary
key and a smaller timestamp, so an upsert (a tombstone and an insert at one timestamp) replaces
the old row and keeps the new one. A read at timestamp T sees a row exactly when
row_ts <= T < delete_ts. Delete timestamps are set in place (`stamp_deletes`), only from NEVER
to a timestamp, under the owning collection's write lock; readers need no lock.

Reads cost nothing per row for visibility in the usual case: a segment knows its newest insert
and its earliest and latest delete timestamps, so a read after every insert of a segment that no
delete has reached sees every row (no mask), and a read after every delete sees the rows not
deleted, a mask kept until the next delete. Only reads at older timestamps (iterators, for one)
compare every row's timestamps.

A sealed segment's rows never change, so it keeps its latest filter results (`FilterResults`):
a filter repeated over many searches is evaluated once per segment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine.lru import LRU
from elanus.engine.rows import conform
from elanus.index.factory import SearchBase
from elanus.index.selection import Selection
from elanus.index.vector import VectorIndex, normalized
from elanus.schema import TIMESTAMP_COLUMN, CollectionSchema, DataType, FieldSchema
from elanus.schema.vectors import decode_dense, fixed_rows, sparse_rows, vector_view

Mask = npt.NDArray[np.bool_]
FILTER_RESULTS = 8  # filter results a sealed segment keeps (a byte per row each, and a bit)
Stamps = npt.NDArray[np.uint64]
NEVER = np.iinfo(np.uint64).max  # the delete timestamp of a row no tombstone has deleted
MAX_CHUNKS = 32  # a growing segment merges its insert batches past this many


def spelled_out(mask: Mask | None, n: int) -> Mask:
    """A visibility or filter mask of `n` rows, None (every row) spelled out."""
    return np.ones(n, dtype=bool) if mask is None else mask


def passing_rows(mask: Mask | None, n: int) -> int:
    """How many of `n` rows a mask (None: every row) keeps."""
    return n if mask is None else int(np.count_nonzero(mask))


def both(mask: Mask | None, other: Mask) -> Mask:
    """The rows a mask (None: every row) and `other` both keep."""
    return other if mask is None else mask & other


def kept_rows(data: pa.Table | pa.Array | pa.ChunkedArray, mask: Mask | None) -> Any:
    """The rows of `data` a mask (None: every row) keeps."""
    return data if mask is None else data.filter(pa.array(mask))


def search_base(column: pa.ChunkedArray | pa.Array, f: FieldSchema) -> SearchBase:
    """A vector column as search reads it: float32 rows for the dense types (decoded from
    half precision or int8), packed bytes for binary vectors, CSR arrays for sparse ones."""
    if f.dtype == DataType.FLOAT_VECTOR:
        return vector_view(column, f.dim)
    if f.dtype == DataType.BINARY_VECTOR:
        return fixed_rows(column)
    if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        return sparse_rows(column)
    return decode_dense(fixed_rows(column), f.dtype)


class _Buffer:
    """An amortised append-only numpy buffer (rows of a fixed shape)."""

    def __init__(self, dtype: np.dtype, width: int = 0) -> None:
        shape = (1024, width) if width else (1024,)
        self.data = np.zeros(shape, dtype=dtype)
        self.size = 0

    def append(self, rows: np.ndarray) -> None:
        need = self.size + len(rows)
        if need > len(self.data):
            grown = np.zeros((max(need, 2 * len(self.data)),) + self.data.shape[1:],
                             dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size: need] = rows
        self.size = need


class FilterResults:
    """The rows a sealed segment's table passes, by filter (`Filter.cache_key`), for the last
    FILTER_RESULTS filters used. Each result names the table it was read from: one read from a
    table since replaced (the schema evolved) is never given out."""

    def __init__(self) -> None:
        self._results: LRU[str, tuple[pa.Table, Selection]] = LRU(FILTER_RESULTS)

    def get(self, key: str, table: pa.Table) -> Selection | None:
        found = self._results.get(key)
        return found[1] if found is not None and found[0] is table else None

    def put(self, key: str, table: pa.Table, passed: Selection) -> None:
        self._results.put(key, (table, passed))


class Segment:
    """Read interface shared by growing and sealed segments."""

    id: int
    partition_id: int
    schema: CollectionSchema
    # What deletes have reached the segment, kept by `stamp_deletes`: the earliest and latest
    # delete timestamp set, and a count of stamp_deletes calls; `_live` caches the rows no
    # delete has reached, as (rows, version, mask).
    first_delete_ts: int = int(NEVER)
    last_delete_ts: int = 0
    delete_version: int = 0
    _live: tuple[int, int, Mask] | None = None

    def snapshot(self) -> SegmentView:
        raise NotImplementedError

    def vectors(self, field: str, n: int, cosine: bool = False) -> SearchBase:
        """The first `n` vectors of `field` as search reads them (`search_base`); dense ones
        unit-normalised when `cosine`."""
        raise NotImplementedError

    def index(self, field: str) -> VectorIndex | None:
        raise NotImplementedError

    @property
    def filter_cache(self) -> dict[object, object] | None:
        """Where filters may memoize decoded columns: immutable segments only."""
        return None

    @property
    def filter_results(self) -> FilterResults | None:
        """Where filter results may be kept: immutable segments only."""
        return None

    @property
    def distinct_keys(self) -> bool:
        """No primary key is stored twice among the segment's rows (deleted rows included).
        Unknown, so False, while the segment grows."""
        return False

    def apply_delete(self, pks: pa.Array, ts: int) -> int:
        """Mark rows with these primary keys and an older timestamp deleted; returns the count."""
        view = self.snapshot()
        if view.num_rows == 0:
            return 0
        hit = pc.is_in(view.pks, value_set=pks).to_numpy(zero_copy_only=False)
        hit &= view.ts < ts
        hit &= view.delete_ts == NEVER
        count = int(np.count_nonzero(hit))
        if count:
            self.stamp_deletes(np.flatnonzero(hit), ts)
        return count

    def delete_stamps(self) -> Stamps:
        """The delete timestamp of every row (NEVER: not deleted); read only: `stamp_deletes`
        sets them."""
        raise NotImplementedError

    def stamp_deletes(self, rows: npt.NDArray[np.int64] | slice, ts: int | Stamps) -> None:
        """Set the delete timestamp of `rows` to `ts` (one, or one per row; NEVER leaves a row
        as it was). Caller holds the collection's write lock."""
        self.delete_stamps()[rows] = ts
        stamps = np.asarray(ts, dtype=np.uint64).ravel()
        stamps = stamps[stamps != NEVER]
        if len(stamps):
            self.first_delete_ts = min(self.first_delete_ts, int(stamps.min()))
            self.last_delete_ts = max(self.last_delete_ts, int(stamps.max()))
        self.delete_version += 1  # last: a reader that sees it sees the stamps and bounds

    def live(self, n: int, read_ts: int) -> Mask:
        """Rows 0..n-1 not deleted by `read_ts`, for a read at or after the latest delete
        timestamp; cached until the next delete.

        A delete still being applied has a later timestamp than `read_ts` (a read's timestamp
        is taken after every earlier write is applied), so comparing with `read_ts` keeps its
        rows, as a mask for the version read before the comparison should. The mask is kept
        only when no delete completed meanwhile.
        """
        version = self.delete_version
        cached = self._live
        if cached is not None and cached[0] == n and cached[1] == version:
            return cached[2]
        mask: Mask = self.delete_stamps()[:n] > read_ts
        if self.last_delete_ts <= read_ts and self.delete_version == version:
            self._live = (n, version, mask)
        return mask


@dataclass(frozen=True)
class SegmentView:
    """A consistent read snapshot of a segment's first `num_rows` rows."""

    segment: Segment
    num_rows: int
    table: pa.Table  # every stored column, num_rows rows
    pks: pa.ChunkedArray | pa.Array
    ts: Stamps
    delete_ts: Stamps  # a view: later tombstones may set it, they never unset it
    max_ts: int  # the newest insert timestamp of these rows
    keys: npt.NDArray[np.int64] | None  # integer primary keys as numpy (None: VARCHAR keys)

    def vectors(self, field: str, cosine: bool = False) -> SearchBase:
        return self.segment.vectors(field, self.num_rows, cosine)

    def index(self, field: str) -> VectorIndex | None:
        return self.segment.index(field)

    @property
    def distinct_keys(self) -> bool:
        return self.segment.distinct_keys

    def visible(self, read_ts: int, expire_before: int = 0) -> Mask | None:
        """Rows a read at `read_ts` sees: inserted at or before it, not deleted by then, and
        (with a TTL) not older than `expire_before`; None when it sees every row."""
        seg = self.segment
        if self.max_ts <= read_ts and not expire_before:
            if seg.first_delete_ts > read_ts:
                return None
            if seg.last_delete_ts <= read_ts:
                return seg.live(self.num_rows, read_ts)
        mask: Mask = (self.ts <= read_ts) & (self.delete_ts[: self.num_rows] > read_ts)
        if expire_before:
            mask &= self.ts >= expire_before
        return mask


class GrowingSegment(Segment):
    """Rows of one partition appended since the last seal, held in memory and rebuilt from the
    WAL on restart."""

    def __init__(self, segment_id: int, partition_id: int, schema: CollectionSchema) -> None:
        self.id, self.partition_id, self.schema = segment_id, partition_id, schema
        self._tables: list[pa.Table] = []
        self._table_cache: pa.Table | None = None
        # Dense vectors as float32, binary ones as packed bytes; sparse ones are read from the
        # table when searched. Unit-normalised copies of dense rows are made when a COSINE
        # search first reads them, for the rows not normalised yet.
        dense = [f for f in schema.vector_fields if f.dtype.is_dense_float]
        self._vectors = {f.name: _Buffer(np.dtype(np.float32), f.dim) for f in dense}
        self._unit = {f.name: _Buffer(np.dtype(np.float32), f.dim) for f in dense}
        self._unit_lock = threading.Lock()
        self._vectors.update({f.name: _Buffer(np.dtype(np.uint8), f.dim // 8)
                              for f in schema.vector_fields
                              if f.dtype == DataType.BINARY_VECTOR})
        self._ts = _Buffer(np.dtype(np.uint64))
        self._delete_ts = _Buffer(np.dtype(np.uint64))
        self._keys = _Buffer(np.dtype(np.int64)) if schema.primary.dtype.is_integer else None
        self._lock = threading.Lock()
        self.num_rows = 0
        self.nbytes = 0
        self.max_ts = 0

    def append(self, table: pa.Table) -> None:
        """Add rows (already validated, with their `$ts` column). Caller holds the write lock."""
        n = table.num_rows
        for f in self.schema.vector_fields:
            if f.name not in self._vectors:
                continue
            self._vectors[f.name].append(search_base(table.column(f.name), f))  # type: ignore[arg-type]
        ts = table.column(TIMESTAMP_COLUMN).to_numpy()
        self._ts.append(ts)
        self._delete_ts.append(np.full(n, NEVER, dtype=np.uint64))
        if self._keys is not None:
            self._keys.append(table.column(self.schema.primary.name).to_numpy())
        with self._lock:  # rows, their count and their newest timestamp change together
            self._tables.append(table)
            self._table_cache = None
            self.num_rows += n
            self.nbytes += table.nbytes
            self.max_ts = max(self.max_ts, int(ts.max()) if n else 0)

    def set_schema(self, schema: CollectionSchema) -> None:
        """Read the rows under an evolved schema (fields added, dynamic field enabled)."""
        with self._lock:
            self._tables = [conform(t, schema) for t in self._tables]
            self._table_cache = None
            self.schema = schema

    def table(self) -> pa.Table:
        """Every row so far as one table; chunks are merged only once they pile up."""
        with self._lock:
            return self._merged()

    def _merged(self) -> pa.Table:
        if self._table_cache is None:
            if len(self._tables) > MAX_CHUNKS:
                self._tables = [pa.concat_tables(self._tables).combine_chunks()]
            tables = self._tables or [self.schema.arrow_schema().empty_table()]
            self._table_cache = pa.concat_tables(tables)
        return self._table_cache

    def snapshot(self) -> SegmentView:
        with self._lock:
            table, max_ts = self._merged(), self.max_ts
        n = table.num_rows
        return SegmentView(self, n, table, table.column(self.schema.primary.name),
                           self._ts.data[:n], self._delete_ts.data[:n], max_ts,
                           None if self._keys is None else self._keys.data[:n])

    def vectors(self, field: str, n: int, cosine: bool = False) -> SearchBase:
        if cosine and field in self._unit:
            return self._unit_rows(field, n)
        buf = self._vectors.get(field)
        if buf is None:  # sparse
            f = self.schema.field(field)
            assert f is not None
            return search_base(self.table().column(field).slice(0, n), f)
        return buf.data[:n]

    def index(self, field: str) -> VectorIndex | None:
        return None

    def _unit_rows(self, field: str, n: int) -> SearchBase:
        """The first `n` rows of dense `field`, unit-normalised: those not normalised yet are,
        once (rows only append, so a row normalised stays right)."""
        unit = self._unit[field]
        with self._unit_lock:  # concurrent searches extend the copy once
            if unit.size < n:
                unit.append(normalized(self._vectors[field].data[unit.size: n]))
            return unit.data[:n]

    def delete_stamps(self) -> Stamps:
        return self._delete_ts.data


class SealedSegment(Segment):
    """An immutable segment file (memory-mapped Arrow IPC) plus its indexes, once loaded."""

    def __init__(self, segment_id: int, partition_id: int, schema: CollectionSchema,
                 table: pa.Table, key: str) -> None:
        self.id, self.partition_id, self.schema, self.key = segment_id, partition_id, schema, key
        self._table = conform(table, schema).combine_chunks()
        self.num_rows = table.num_rows
        self._pks = self._table.column(schema.primary.name).combine_chunks()
        self._keys = self._pks.to_numpy() if schema.primary.dtype.is_integer else None
        self._ts = self._table.column(TIMESTAMP_COLUMN).to_numpy()
        self._delete_ts = np.full(self.num_rows, NEVER, dtype=np.uint64)
        self._raw = {f.name: search_base(self._table.column(f.name), f)
                     for f in schema.vector_fields}
        self._unit: dict[str, SearchBase] = {}
        self._indexes: dict[str, VectorIndex] = {}
        self._filter_cache: dict[object, object] = {}
        self._filter_results = FilterResults()
        self.max_ts = int(self._ts.max()) if self.num_rows else 0

    def snapshot(self) -> SegmentView:
        # The rows never change; delete stamps are read through the view. Not cached: a view
        # held here would make a reference cycle, and a dropped segment's mapped file would
        # then stay mapped until the cyclic garbage collector runs.
        return SegmentView(self, self.num_rows, self._table, self._pks, self._ts,
                           self._delete_ts, self.max_ts, self._keys)

    @property
    def filter_cache(self) -> dict[object, object] | None:
        return self._filter_cache

    @property
    def filter_results(self) -> FilterResults | None:
        return self._filter_results

    @cached_property
    def distinct_keys(self) -> bool:
        return bool(pc.count_distinct(self._pks).as_py() == self.num_rows)

    def set_schema(self, schema: CollectionSchema) -> None:
        """Read the rows under an evolved schema (fields added, dynamic field enabled)."""
        self._table = conform(self._table, schema)
        self._filter_cache = {}
        self._filter_results = FilterResults()
        self.schema = schema

    def vectors(self, field: str, n: int, cosine: bool = False) -> SearchBase:
        raw = self._raw[field]
        if not cosine or not isinstance(raw, np.ndarray) or raw.dtype != np.float32:
            return raw
        if field not in self._unit:
            self._unit[field] = normalized(raw)  # type: ignore[arg-type]
        return self._unit[field]

    def raw_vectors(self, field: str) -> SearchBase:
        return self._raw[field]

    def index(self, field: str) -> VectorIndex | None:
        return self._indexes.get(field)

    def set_index(self, field: str, index: VectorIndex | None) -> None:
        if index is None:
            self._indexes.pop(field, None)
        else:
            self._indexes[field] = index

    def delete_stamps(self) -> Stamps:
        return self._delete_ts
