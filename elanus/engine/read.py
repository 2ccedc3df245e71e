"""Read execution: search, query and count over a collection's segment snapshots.

Search: per segment, the allowed rows (live AND filter) go to the segment's index, or to exact
search when the segment has no index yet; per-segment top k lists are merged by score in one
numpy sort over every query at once; then the output columns of the winning rows are gathered
with one Arrow `take` per segment. Query: per segment, the filter mask selects rows; results are
concatenated and, when a limit or offset applies, ordered by primary key first as Milvus does.
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
from elanus.engine.partitioning import read_snapshot
from elanus.engine.requests import QueryRequest, QueryResult, SearchRequest, SearchResult
from elanus.engine.scalar_indexing import segment_indexes
from elanus.engine.segment import SegmentView, search_base
from elanus.errors import FieldNotFound, FilterInvalid, InvalidArgument, MetricTypeMismatch
from elanus.expr import Filter, compile_filter, plan
from elanus.expr.columns import validity
from elanus.index.factory import exact, prepare_queries
from elanus.index.registry import default_metric
from elanus.index.vector import larger_is_closer
from elanus.schema import DYNAMIC_FIELD, TIMESTAMP_COLUMN, CollectionSchema, DataType, FieldSchema
from elanus.schema.types import single_array
from elanus.schema.vectors import SparseRows

MAX_TOPK = 16384
COUNT_STAR = "count(*)"


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
                add(f.name)
            whole_meta = schema.enable_dynamic_field
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


def _compile(text: str, schema: CollectionSchema, params: dict[str, Any]) -> Filter | None:
    """The compiled filter, or None for an empty one (every row passes)."""
    return compile_filter(text, schema, params) if text.strip() else None


def _masks(collection: Collection, snap: Snapshot, flt: Filter | None
           ) -> list[npt.NDArray[np.bool_]]:
    """Per segment: the rows visible at the snapshot's timestamp that pass the filter, which
    the segment's scalar indexes answer where they can."""
    live = snap.visible()
    if flt is None:
        return live
    specs = list(collection.indexes.values())
    return [m & flt.evaluate(v.table, v.segment.filter_cache,
                             segment_indexes(collection.schema, specs, v.segment))
            if v.num_rows else m for v, m in zip(snap.views, live)]


def search(collection: Collection, req: SearchRequest) -> SearchResult:
    schema = collection.schema
    field = _anns_field(schema, req.anns_field)
    spec = collection.index_on(field.name)
    metric = spec.metric_type if spec else (req.metric_type or default_metric(field.dtype)).upper()
    if req.metric_type and req.metric_type.upper() != metric:
        raise MetricTypeMismatch(metric, req.metric_type.upper())
    if not 1 <= req.limit <= MAX_TOPK:
        raise InvalidArgument(f"topk [{req.limit}] is invalid, it should be in range "
                              f"[1, {MAX_TOPK}], but got {req.limit}")
    if req.offset < 0 or req.offset + req.limit > MAX_TOPK:
        raise InvalidArgument(f"offset+limit should be in range [1, {MAX_TOPK}], but got "
                              f"{req.offset + req.limit}")
    queries = _check_queries(field, req.queries if req.query_keys is None
                             else _vectors_of(collection, field, req.query_keys))
    out = plan_output(schema, req.output_fields, with_pk=False)
    flt = _compile(req.filter, schema, req.filter_params)
    snap = read_snapshot(collection, "search", flt, req.partition_names)
    views = snap.views
    masks = _masks(collection, snap, flt)
    if field.nullable:  # rows without a vector are never hits
        masks = [m & validity(v.table.column(field.name)) if v.num_rows else m
                 for v, m in zip(views, masks)]
    cosine = metric == "COSINE"
    prepared = prepare_queries(queries, metric)
    k = req.offset + req.limit
    nq = len(queries)
    all_off, all_score, all_seg = [], [], []
    for i, (view, mask) in enumerate(zip(views, masks)):
        if view.num_rows == 0 or not mask.any():
            continue
        index = view.index(field.name)
        allowed = None if mask.all() else mask
        if index is not None:
            off, score = index.search(prepared, k, allowed, req.params)
        else:
            off, score = exact(view.vectors(field.name, cosine), prepared, k, metric, allowed)
        all_off.append(off)
        all_score.append(score)
        all_seg.append(np.full(off.shape, i, dtype=np.int32))
    if not all_off:
        empty = _empty(schema, out.columns)
        return SearchResult(pa.array([], type=schema.primary.arrow_type), np.empty(0, np.float32),
                            [0] * nq, empty, out.names, schema.primary.name, metric,
                            out.dynamic_keys, snap.ts)
    offs, scores, segs = _merge(all_off, all_score, all_seg, metric)
    valid = offs >= 0
    flat_off, flat_seg, flat_score = offs[valid], segs[valid], scores[valid]
    pk_name = schema.primary.name
    owner = np.repeat(np.arange(nq), valid.sum(axis=1))
    # A key inserted twice: each query keeps its best hit of the key, then takes its page of
    # `offset`, `limit` from what is left, so duplicates never cost it a hit.
    keep = _first_per_key(_gather(views, flat_seg, flat_off, (pk_name,)).column(pk_name),
                          owner)
    select = _page(owner, keep, nq, req.offset, req.limit)
    flat_off, flat_seg, flat_score = flat_off[select], flat_seg[select], flat_score[select]
    topks = np.bincount(owner[select], minlength=nq).tolist()
    if req.round_decimal >= 0:
        flat_score = np.round(flat_score, req.round_decimal)
    rows = _gather(views, flat_seg, flat_off, (pk_name, *out.columns))
    fields = rows.select(list(out.columns))
    return SearchResult(rows.column(pk_name).combine_chunks(), flat_score.astype(np.float32),
                        topks, fields, out.names, pk_name, metric, out.dynamic_keys, snap.ts)


def _first_per_key(pks: pa.ChunkedArray, owner: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Per query (`owner` of each ranked hit), the first (best ranked) hit of each key."""
    codes = single_array(pks)
    if not pa.types.is_integer(codes.type):
        codes = pc.dictionary_encode(codes).indices
    pairs = np.stack([owner, codes.to_numpy(zero_copy_only=False).astype(np.int64)], axis=1)
    keep = np.zeros(len(pairs), dtype=bool)
    if len(pairs):
        _, first = np.unique(pairs, axis=0, return_index=True)
        keep[first] = True
    return keep


def _page(owner: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_], nq: int, offset: int,
          limit: int) -> npt.NDArray[np.bool_]:
    """The kept hits ranked offset .. offset+limit-1 within their query."""
    kept_before = np.concatenate([[0], np.cumsum(np.bincount(owner, weights=keep,
                                                             minlength=nq))[:-1]])
    rank = np.cumsum(keep) - 1 - kept_before[owner].astype(np.int64)
    return keep & (rank >= offset) & (rank < offset + limit)


def _vectors_of(collection: Collection, field: FieldSchema, keys: pa.Array) -> Any:
    """The `field` vectors of the rows with these primary keys, in their order: the queries
    of a search by primary keys."""
    pk = collection.schema.primary
    if len(keys) == 0:
        raise InvalidArgument("search by primary keys needs at least one primary key")
    try:
        keys = keys.cast(pk.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidArgument(f"the primary keys of the search do not match the type "
                              f"{pk.dtype.milvus_name} of field {pk.name}") from None
    stored = newest_rows(collection, keys)
    where = pc.index_in(keys, value_set=stored.column(pk.name))
    vectors = stored.column(field.name).take(where)
    missing = pc.or_(where.is_null(), vectors.is_null()).to_numpy(zero_copy_only=False)
    if missing.any():
        absent = keys.filter(pa.array(missing)).to_pylist()
        raise InvalidArgument(f"primary keys {absent} of the search are not in the collection, "
                              f"or have no value in field {field.name}")
    return search_base(vectors, field)


def _check_queries(field: FieldSchema, queries: Any) -> Any:
    """Query vectors in the form the field is searched in, or the error Milvus gives."""
    if field.dtype == DataType.SPARSE_FLOAT_VECTOR:
        if not isinstance(queries, SparseRows):
            raise InvalidArgument(f"the search data of sparse vector field {field.name} must be "
                                  "sparse vectors")
        return queries
    if isinstance(queries, SparseRows):
        raise InvalidArgument(f"sparse search data cannot search {field.dtype.milvus_name} field "
                              f"{field.name}")
    binary = field.dtype == DataType.BINARY_VECTOR
    if binary != (queries.dtype == np.uint8):
        raise InvalidArgument(f"the search data type does not match the type "
                              f"{field.dtype.milvus_name} of field {field.name}")
    width = field.dim // 8 if binary else field.dim
    if queries.ndim != 2 or queries.shape[1] != width:
        got = (queries.shape[1] * (8 if binary else 1)) if queries.ndim == 2 else 0
        raise InvalidArgument(f"the dim ({got}) of search data is not equal to the dim "
                              f"({field.dim}) of field {field.name}")
    return np.ascontiguousarray(queries)


def _merge(offs: list[npt.NDArray[np.int64]], scores: list[npt.NDArray[np.float32]],
           segs: list[npt.NDArray[np.int32]], metric: str,
           ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int32]]:
    """Every query's per-segment lists merged into one ranking, best first (-1: no hit)."""
    if len(offs) == 1:  # one segment's list is already ranked
        return offs[0], scores[0], segs[0]
    off: npt.NDArray[np.int64] = np.concatenate(offs, axis=1)
    score: npt.NDArray[np.float32] = np.concatenate(scores, axis=1)
    seg: npt.NDArray[np.int32] = np.concatenate(segs, axis=1)
    order_key = np.where(off < 0, np.inf, -score if larger_is_closer(metric) else score)
    order = np.argsort(order_key, axis=1, kind="stable")
    return (np.take_along_axis(off, order, axis=1), np.take_along_axis(score, order, axis=1),
            np.take_along_axis(seg, order, axis=1))


def _anns_field(schema: CollectionSchema, name: str) -> FieldSchema:
    vectors = schema.vector_fields
    if not name:
        if len(vectors) != 1:
            raise InvalidArgument("multiple anns_fields exist, please specify a anns_field in "
                                  "search_params")
        return vectors[0]
    f = schema.field(name)
    if f is None:
        raise FieldNotFound(name)
    if not f.dtype.is_vector:
        raise InvalidArgument(f"field {name} is not a vector field")
    return f


def _empty(schema: CollectionSchema, columns: Sequence[str]) -> pa.Table:
    """A table of no rows with these stored columns."""
    return schema.arrow_schema().empty_table().select(list(dict.fromkeys(columns)))


def _gather(views: list[SegmentView], seg: npt.NDArray[np.int32], off: npt.NDArray[np.int64],
            columns: Sequence[str]) -> pa.Table:
    """Rows (seg[i], off[i]) in order, restricted to `columns`: one take per segment."""
    cols = list(dict.fromkeys(columns))
    if len(seg) == 0:
        return _empty(views[0].segment.schema, cols)
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
    flt = _compile(req.filter, schema, req.filter_params)
    snap = read_snapshot(collection, "query", flt, req.partition_names, req.read_ts)
    views = snap.views
    masks = _masks(collection, snap, flt)
    if is_count:
        total = int(sum(int(np.count_nonzero(m)) for m in masks))
        return QueryResult(pa.table({COUNT_STAR: pa.array([total], pa.int64())}), (COUNT_STAR,),
                           count=total, read_ts=snap.ts)
    out = plan_output(schema, requested, with_pk=True)
    columns = list(dict.fromkeys((*out.columns, TIMESTAMP_COLUMN)))
    parts = [v.table.select(columns).filter(pa.array(m))
             for v, m in zip(views, masks) if v.num_rows and m.any()]
    if not parts:
        return QueryResult(_empty(schema, out.columns), out.names, out.dynamic_keys,
                           read_ts=snap.ts)
    table = _newest_per_key(pa.concat_tables(parts), schema.primary.name)
    if req.limit >= 0 or req.offset:
        order = pc.sort_indices(table.column(schema.primary.name))
        end = None if req.limit < 0 else req.offset + req.limit
        table = table.take(order[req.offset: end])
    return QueryResult(table.select(list(out.columns)), out.names, out.dynamic_keys,
                       read_ts=snap.ts)


def newest_rows(collection: Collection, keys: pa.Array) -> pa.Table:
    """The newest visible row of each listed primary key that has one, every stored column,
    read at the latest timestamp (strong consistency)."""
    snap = collection.snapshot("query", 0, ())
    parts = [v.table.filter(pa.array(m & pc.is_in(v.pks, value_set=keys).to_numpy(
                 zero_copy_only=False)))
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
        flt = compile_filter(text, collection.schema, params) if text.strip() else None
    except FilterInvalid as exc:  # Milvus names the delete plan in this error
        raise FilterInvalid(exc.expression, exc.detail, exc.offset, plan="delete") from None
    if flt is None or (isinstance(flt.plan, plan.Constant) and flt.plan.value):
        raise InvalidArgument(f"delete plan can't be empty or always true : {text}")
    return flt


def matching_pks(collection: Collection, flt: Filter, partition: str = "") -> pa.Array:
    """Primary keys of the live rows that pass the filter (for delete by filter)."""
    snap = read_snapshot(collection, "delete", flt, (partition,) if partition else ())
    masks = _masks(collection, snap, flt)
    pks = [v.pks.filter(pa.array(m)) for v, m in zip(snap.views, masks) if v.num_rows and m.any()]
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
