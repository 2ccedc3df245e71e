"""Read execution: query and count over a collection's segment snapshots, and the pieces
search shares with them (output plans, filter masks, row gathering; search itself is in
`elanus.engine.search`).

Query: per segment, the filter mask selects rows; results are concatenated and, when a limit or
offset applies, ordered by primary key first as Milvus does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine.collection import Collection, Snapshot
from elanus.engine.lru import LRU
from elanus.engine.partitioning import read_snapshot
from elanus.engine.requests import QueryRequest, QueryResult
from elanus.engine.scalar_indexing import segment_indexes
from elanus.engine.segment import SegmentView, both, kept_rows
from elanus.engine.text_indexing import with_text_indexes
from elanus.errors import FieldNotFound, FilterInvalid, InvalidArgument, UnexpectedError
from elanus.expr import Filter, compile_filter, plan
from elanus.expr.filter import KEPT_CHARS
from elanus.index.selection import Selection, narrowed
from elanus.schema import DYNAMIC_FIELD, TIMESTAMP_COLUMN, CollectionSchema

MAX_TOPK = 16384
COUNT_STAR = "count(*)"
COMPILED = 64  # compiled filters kept, the least recently used dropped first


@dataclass(frozen=True)
class OutputPlan:
    columns: tuple[str, ...]  # stored columns to return
    names: tuple[str, ...]  # output_fields as the reply lists them
    dynamic_keys: tuple[str, ...] | None


def plan_output(schema: CollectionSchema, requested: Sequence[str], with_pk: bool) -> OutputPlan:
    """Resolve output_fields: schema fields, "*", "$meta", and dynamic keys by name."""
    columns: list[str] = []
    names: list[str] = []
    dynamic: list[str] = []
    whole_meta = False

    def add(name: str) -> None:
        if name not in columns:
            columns.append(name)
            names.append(name)

    if with_pk:
        add(schema.primary.name)
    for raw in requested:
        name = raw.strip()
        if name == "*":
            for f in schema.fields:
                if f.name not in schema.function_outputs:  # never returned
                    add(f.name)
            whole_meta = schema.enable_dynamic_field
        elif name in schema.function_outputs:
            raise UnexpectedError(f"not allowed to retrieve raw data of field {name}")
        elif schema.field(name) is not None:
            add(name)
        elif name == DYNAMIC_FIELD and schema.enable_dynamic_field:
            whole_meta = True
        elif schema.enable_dynamic_field and name:
            if name not in dynamic:
                dynamic.append(name)
        else:
            raise FieldNotFound(name)
    if whole_meta or dynamic:
        columns.append(DYNAMIC_FIELD)
        names.extend(dynamic)
        if whole_meta:
            names.append(DYNAMIC_FIELD)
    return OutputPlan(tuple(columns), tuple(names), None if whole_meta else tuple(dynamic))


def filter_of(text: str, schema: CollectionSchema, params: dict[str, Any]) -> Filter | None:
    """The compiled filter, or None for an empty one (every row passes)."""
    return compiled_filter(text, schema, params) if text.strip() else None


def compiled_filter(text: str, schema: CollectionSchema, params: dict[str, Any]) -> Filter:
    """`compile_filter`, keeping the last COMPILED filters: one repeated over many requests
    compiles once. Keyed by text, schema and the parameters spelled out (`repr` keeps 1, 1.0
    and True apart); filters longer than KEPT_CHARS are compiled every time."""
    key = (text, id(schema), repr(params) if params else "")
    if len(key[0]) + len(key[2]) > KEPT_CHARS:
        return compile_filter(text, schema, params)
    found = _compiled.get(key)
    if found is not None:  # an entry holds its schema: no other one can take its id
        return found[1]
    flt = compile_filter(text, schema, params)
    _compiled.put(key, (schema, flt))
    return flt


_compiled: LRU[tuple[str, int, str], tuple[CollectionSchema, Filter]] = LRU(COMPILED)


def filter_selections(collection: Collection, snap: Snapshot, flt: Filter | None
                      ) -> list[Selection | None]:
    """Per segment: the rows visible at the snapshot's timestamp that pass the filter (None:
    every row). The segment's scalar indexes answer the filter where they can (and its text
    indexes answer text_match and phrase_match); a sealed segment keeps the result for the
    next request with the same filter."""
    live = snap.visible()
    if flt is None:
        return [None if m is None else Selection(m) for m in live]
    specs = list(collection.indexes.values())
    schema = collection.schema
    key = flt.cache_key

    def evaluated(v: SegmentView) -> Selection:
        return Selection(flt.evaluate(v.table, v.segment.filter_cache, with_text_indexes(
            schema, flt, v, segment_indexes(schema, specs, v.segment))))

    def passed(v: SegmentView) -> Selection:
        kept = v.segment.filter_results
        if key is None or kept is None:
            return evaluated(v)
        found = kept.get(key, v.table)
        if found is None:
            found = evaluated(v)
            kept.put(key, v.table, found)
        return found

    return [narrowed(passed(v) if v.num_rows else None, m) for v, m in zip(snap.views, live)]


def selected_rows(view: SegmentView, selection: Selection | None) -> int:
    """How many rows of the view a selection (None: every row) keeps."""
    return view.num_rows if selection is None else selection.passing



def empty_table(schema: CollectionSchema, columns: Sequence[str]) -> pa.Table:
    """A table of no rows with these stored columns."""
    return schema.arrow_schema().empty_table().select(list(dict.fromkeys(columns)))


def gather(views: list[SegmentView], seg: npt.NDArray[np.int32], off: npt.NDArray[np.int64],
            columns: Sequence[str]) -> pa.Table:
    """Rows (seg[i], off[i]) in order, restricted to `columns`: one take per segment."""
    cols = list(dict.fromkeys(columns))
    if len(seg) == 0:
        return empty_table(views[0].segment.schema, cols)
    first = int(seg[0])
    if (seg == first).all():  # every hit in one segment: one take, already in order
        return views[first].table.select(cols).take(pa.array(off))
    parts, positions = [], []
    for s in np.unique(seg):
        where = np.flatnonzero(seg == s)
        parts.append(views[s].table.select(cols).take(pa.array(off[where])))
        positions.append(where)
    table = pa.concat_tables(parts)
    inverse = np.empty(len(seg), dtype=np.int64)
    inverse[np.concatenate(positions)] = np.arange(len(seg))
    return table.take(pa.array(inverse))


def query(collection: Collection, req: QueryRequest) -> QueryResult:
    schema = collection.schema
    requested = [f.strip() for f in req.output_fields]
    is_count = any(f.lower() == COUNT_STAR for f in requested)
    if is_count and len(requested) > 1:
        raise InvalidArgument("count entities with pagination is not allowed")
    if not req.filter.strip() and req.limit < 0 and not is_count:
        raise InvalidArgument("empty expression should be used with limit")
    if req.limit > MAX_TOPK or req.offset < 0 or (req.limit >= 0 and req.offset + req.limit > MAX_TOPK):
        raise InvalidArgument(f"invalid max query result window, (offset+limit) should be in "
                              f"range [1, {MAX_TOPK}], but got {req.offset + max(req.limit, 0)}")
    flt = filter_of(req.filter, schema, req.filter_params)
    snap = read_snapshot(collection, "query", flt, req.partition_names, req.read_ts)
    views = snap.views
    selections = filter_selections(collection, snap, flt)
    if is_count:
        total = sum(selected_rows(v, s) for v, s in zip(views, selections))
        return QueryResult(pa.table({COUNT_STAR: pa.array([total], pa.int64())}), (COUNT_STAR,),
                           count=total, read_ts=snap.ts)
    masks = [None if s is None else s.mask for s in selections]
    out = plan_output(schema, requested, with_pk=True)
    if req.limit >= 0 and views and views[0].keys is not None:
        seg, off = _key_page(views, masks, req.offset, req.offset + req.limit)
        return QueryResult(gather(views, seg, off, out.columns), out.names, out.dynamic_keys,
                           read_ts=snap.ts)
    columns = list(dict.fromkeys((*out.columns, TIMESTAMP_COLUMN)))
    parts = [kept_rows(v.table.select(columns), m)
             for v, m, s in zip(views, masks, selections) if selected_rows(v, s)]
    if not parts:
        return QueryResult(empty_table(schema, out.columns), out.names, out.dynamic_keys,
                           read_ts=snap.ts)
    table = _newest_per_key(pa.concat_tables(parts), schema.primary.name)
    if req.limit >= 0 or req.offset:
        order = pc.sort_indices(table.column(schema.primary.name))
        end = None if req.limit < 0 else req.offset + req.limit
        table = table.take(order[req.offset: end])
    return QueryResult(table.select(list(out.columns)), out.names, out.dynamic_keys,
                       read_ts=snap.ts)


def _key_page(views: list[SegmentView], masks: list[npt.NDArray[np.bool_] | None], start: int,
              stop: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """The rows (segment, offset) of the passing rows ranked start .. stop-1 by integer primary
    key, the newest row of each key (the first listed among equally new ones), in key order.
    Each segment offers the rows of its `stop` smallest keys; only those are ranked."""
    passing = [(i, np.flatnonzero(m) if m is not None else None)
               for i, (v, m) in enumerate(zip(views, masks)) if v.num_rows]
    keys = [np.asarray(views[i].keys) if rows is None else np.asarray(views[i].keys)[rows]
            for i, rows in passing]
    offered = [_smallest_distinct(k, stop) for k in keys]
    union = np.unique(np.concatenate(offered)) if offered else np.empty(0, dtype=np.int64)
    if not len(union) or not stop:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64)
    bound = union[min(stop, len(union)) - 1]
    segs, offs, key_parts, stamps = [], [], [], []
    for (i, rows), k in zip(passing, keys):
        near = np.flatnonzero(k <= bound)
        off = near if rows is None else rows[near]
        segs.append(np.full(len(off), i, dtype=np.int32))
        offs.append(off)
        key_parts.append(k[near])
        stamps.append(views[i].ts[off].astype(np.int64))
    seg, off, key = np.concatenate(segs), np.concatenate(offs), np.concatenate(key_parts)
    order = np.lexsort((np.arange(len(key)), -np.concatenate(stamps), key))  # newest first
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    page = order[first][start:stop]
    return seg[page], off[page]


def _smallest_distinct(keys: npt.NDArray[np.int64], count: int) -> npt.NDArray[np.int64]:
    """The `count` smallest distinct values of `keys` (all of them when fewer), sorted."""
    taken = min(count, len(keys))
    while taken:
        smallest = np.unique(np.partition(keys, taken - 1)[:taken])
        if len(smallest) >= count or taken == len(keys):
            return smallest[:count]
        taken = min(2 * taken, len(keys))  # repeated keys: look further
    return np.empty(0, dtype=np.int64)


def newest_rows(collection: Collection, keys: pa.Array) -> pa.Table:
    """The newest visible row of each listed primary key that has one, every stored column,
    read at the latest timestamp (strong consistency)."""
    snap = collection.snapshot("query", 0, ())
    parts = [v.table.filter(pa.array(both(m, pc.is_in(v.pks, value_set=keys).to_numpy(
                 zero_copy_only=False))))
             for v, m in zip(snap.views, snap.visible()) if v.num_rows]
    if not parts:
        return collection.schema.arrow_schema().empty_table()
    return _newest_per_key(pa.concat_tables(parts), collection.schema.primary.name)


def _newest_per_key(table: pa.Table, pk: str) -> pa.Table:
    """Milvus's rule on duplicate primary keys: inserting a key twice keeps both rows, and
    reads return only the newest one."""
    keys = table.column(pk)
    if pc.count_distinct(keys).as_py() == table.num_rows:
        return table
    order = pc.sort_indices(table, sort_keys=[(pk, "ascending"),
                                              (TIMESTAMP_COLUMN, "descending")])
    ordered = table.take(order)
    sorted_keys = ordered.column(pk).combine_chunks()
    first = np.ones(len(sorted_keys), dtype=bool)
    first[1:] = pc.not_equal(sorted_keys[1:], sorted_keys[:-1]).to_numpy(zero_copy_only=False)
    return ordered.filter(pa.array(first))


def delete_plan(collection: Collection, text: str, params: dict[str, Any]) -> Filter:
    """Compile a delete filter; Milvus refuses an empty or always-true one."""
    try:
        flt = filter_of(text, collection.schema, params)
    except FilterInvalid as exc:  # Milvus names the delete plan in this error
        raise FilterInvalid(exc.expression, exc.detail, exc.offset, plan="delete") from None
    if flt is None or (isinstance(flt.plan, plan.Constant) and flt.plan.value):
        raise InvalidArgument(f"delete plan can't be empty or always true : {text}")
    return flt


def matching_pks(collection: Collection, flt: Filter, partition: str = "") -> pa.Array:
    """Primary keys of the live rows that pass the filter (for delete by filter)."""
    snap = read_snapshot(collection, "delete", flt, (partition,) if partition else ())
    pks = [kept_rows(v.pks, None if s is None else s.mask)
           for v, s in zip(snap.views, filter_selections(collection, snap, flt))
           if selected_rows(v, s)]
    if not pks:
        return pa.array([], type=collection.pk_type)
    return pa.chunked_array(pks, type=collection.pk_type).combine_chunks()


def listed_pks(collection: Collection, flt: Filter) -> pa.Array | None:
    """The keys of a `pk in [...]` / `pk == x` filter, or None for any other filter.

    Milvus deletes by listed primary keys without a loaded collection; other filters need the
    rows, so they need the collection loaded.
    """
    pk = collection.schema.primary.name
    match flt.plan:
        case plan.InSet(source=plan.ColumnValue(column=col), values=values) if col == pk:
            keys = list(values)
        case plan.Compare(op="==", source=plan.ColumnValue(column=col), value=value) if col == pk:
            keys = [value]
        case _:
            return None
    return pa.array(keys, type=collection.pk_type)
