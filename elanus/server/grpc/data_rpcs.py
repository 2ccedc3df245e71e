"""RPCs on rows: insert, upsert, delete, search, query."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from elanus.engine.engine import Engine
from elanus.engine.requests import (
    IteratorPage,
    QueryRequest,
    QueryResult,
    SearchRequest,
    SearchResult,
)
from elanus.engine.tso import physical_ms
from elanus.errors import InvalidArgument, Unsupported
from elanus.schema import CollectionSchema, DataType, FieldSchema, timestamps
from elanus.schema.vectors import SparseRows, check_sparse, decode_dense, encode_dense
from elanus.server.grpc.data_codec import (
    decode_columns,
    decode_template_value,
    encode_column,
    encode_ids,
)
from elanus.server.grpc.handlers import db_name, handler, kv_pairs
from elanus.server.grpc.status import OK

_TRUE = ("true", "True", "1")
# Milvus's search hints; a filtered search here always returns k hits when k rows pass, which is
# what iterative_filter asks for.
SEARCH_HINTS = frozenset({"iterative_filter"})


def template_params(values: Any) -> dict[str, Any]:
    return {k: decode_template_value(v) for k, v in values.items()}


def _mutation(engine: Engine, req: Any, ctx: Any, upsert: bool,
              partial: bool = False) -> milvus_pb2.MutationResult:
    db = db_name(req, ctx)
    schema = engine.collection(db, req.collection_name).schema
    columns = decode_columns(req.fields_data, schema.field, req.num_rows)
    result = engine.insert(db, req.collection_name, columns, req.num_rows, upsert=upsert,
                           partition=req.partition_name, schema_ts=req.schema_timestamp,
                           partial=partial)
    out = milvus_pb2.MutationResult(status=OK, insert_cnt=result.insert_count,
                                    upsert_cnt=result.upsert_count, timestamp=result.timestamp)
    out.succ_index.extend(range(req.num_rows))
    encode_ids(result.ids, out.IDs)
    return out


@handler("Insert")
def insert(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.MutationResult:
    return _mutation(engine, req, ctx, upsert=False)


@handler("Upsert")
def upsert(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.MutationResult:
    if len(req.field_ops):
        raise Unsupported("upsert field operations (array append and remove) are not supported "
                          "by this elanus build yet")
    return _mutation(engine, req, ctx, upsert=True, partial=req.partial_update)


@handler("Delete")
def delete(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.MutationResult:
    result = engine.delete(db_name(req, ctx), req.collection_name, req.expr,
                           template_params(req.expr_template_values), req.partition_name)
    return milvus_pb2.MutationResult(status=OK, delete_cnt=result.delete_count,
                                     timestamp=result.timestamp)


# Placeholder kinds, read once: each enum lookup through the protobuf wrapper costs a call.
_FLOATS = common_pb2.PlaceholderType.FloatVector
_BINARY = common_pb2.PlaceholderType.BinaryVector
_SPARSE = common_pb2.PlaceholderType.SparseFloatVector
_TEXT = common_pb2.PlaceholderType.VarChar
_PLACEHOLDER_TYPES = {
    common_pb2.PlaceholderType.Float16Vector: DataType.FLOAT16_VECTOR,
    common_pb2.PlaceholderType.BFloat16Vector: DataType.BFLOAT16_VECTOR,
    common_pb2.PlaceholderType.Int8Vector: DataType.INT8_VECTOR,
}


def decode_queries(req: Any, field: FieldSchema | None) -> Any:
    """The query vectors of a search: float32 rows for dense fields, packed bytes for binary
    fields, sparse rows for sparse fields. Float values for a float16, bfloat16 or int8 field
    are converted as Milvus converts them; raw bytes pymilvus tags as binary (it does when no
    anns_field is named) are read as the field's type."""
    if req.HasField("ids"):
        return None  # the vectors of the rows `ids` names (see query_keys_of)
    group = common_pb2.PlaceholderGroup.FromString(req.placeholder_group)
    if len(group.placeholders) != 1:
        raise InvalidArgument("search requires exactly one placeholder of query vectors")
    ph = group.placeholders[0]
    if not ph.values:
        raise InvalidArgument("nq [0] is invalid, nq (number of search vector per search "
                              "request) should be in range [1, 16384]")
    nq = len(ph.values)
    target = field.dtype if field is not None else DataType.FLOAT_VECTOR
    kind = ph.type
    if kind == _TEXT:  # raw text, for BM25 output fields
        try:
            return [v.decode() for v in ph.values]
        except UnicodeDecodeError:
            raise InvalidArgument("the search text is not valid UTF-8") from None
    if kind == _SPARSE:
        lengths = np.fromiter((len(v) for v in ph.values), dtype=np.int64, count=nq)
        if (lengths % 8).any():
            raise InvalidArgument("invalid sparse float vector in search data")
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        rows = SparseRows.from_pairs(b"".join(ph.values), offsets)
        problem = check_sparse(rows)
        if problem:
            raise InvalidArgument(problem)
        return rows
    if kind == _BINARY and target in _PLACEHOLDER_TYPES.values():
        kind = next(k for k, v in _PLACEHOLDER_TYPES.items() if v == target)
    if kind not in (_FLOATS, _BINARY, *_PLACEHOLDER_TYPES):
        raise Unsupported(f"query vectors of placeholder type {kind} are not supported by "
                          "this elanus build yet")
    widths = {len(v) for v in ph.values}
    if len(widths) != 1:
        raise InvalidArgument("the search vectors have different dimensions")
    raw = np.frombuffer(b"".join(ph.values), dtype=np.uint8).reshape(nq, -1)
    if kind == _BINARY:
        return raw
    if kind in _PLACEHOLDER_TYPES:
        return decode_dense(raw, _PLACEHOLDER_TYPES[kind])
    if raw.shape[1] % 4:
        raise InvalidArgument("the float search vectors are not whole float32 values")
    floats = raw.view(np.float32).reshape(nq, -1)
    if target in _PLACEHOLDER_TYPES.values():
        try:
            return decode_dense(encode_dense(floats, target), target)
        except ValueError as exc:
            raise InvalidArgument(f"cannot convert the search vectors to "
                                  f"{target.milvus_name}: {exc}") from None
    return floats


def int_param(params: dict[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    if raw.isascii() and raw.isdigit():  # the usual form needs no JSON parse
        return int(raw)
    try:
        return int(json.loads(raw))
    except (ValueError, TypeError):
        raise InvalidArgument(f"{key} [{raw}] is invalid, should be an integer") from None


@handler("Search")
def search(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.SearchResults:
    sp = kv_pairs(req.search_params)
    params = json.loads(sp.get("params") or "{}")
    if not isinstance(params, dict):
        raise InvalidArgument("search params must be a JSON object")
    hints = sp.get("hints", "").strip('"')
    if hints and hints not in SEARCH_HINTS:
        raise InvalidArgument(f"Create Plan by expr failed:  => hints: {hints} not supported")
    db = db_name(req, ctx)
    collection = engine.collection(db, req.collection_name)
    schema = collection.schema
    anns_field = sp.get("anns_field", "")
    vectors = schema.vector_fields
    field = schema.field(anns_field) if anns_field else (vectors[0] if len(vectors) == 1
                                                         else None)
    iterator = _iterator_page(sp)
    request = SearchRequest(
        db=db, collection=req.collection_name,
        anns_field=anns_field, queries=decode_queries(req, field),
        limit=int_param(sp, "topk", 10), metric_type=sp.get("metric_type", "").strip('"'),
        filter=req.dsl, filter_params=template_params(req.expr_template_values),
        output_fields=tuple(req.output_fields), offset=int_param(sp, "offset", 0), params=params,
        partition_names=tuple(req.partition_names),
        round_decimal=int_param(sp, "round_decimal", -1), query_keys=query_keys_of(req),
        read_ts=_iterator_ts(req, sp),
        radius=number_param(params, "radius"),
        range_filter=number_param(params, "range_filter") if "radius" in params else None,
        group_by_field=sp.get("group_by_field", "").strip('"'),
        group_size=int_param(sp, "group_size", 1),
        strict_group_size=sp.get("strict_group_size", "") in _TRUE,
        iterator=iterator,
    )
    hits = engine.search(request)
    results = encode_hits(schema, request, hits, timezone_of(collection.timezone, sp))
    return milvus_pb2.SearchResults(status=OK, collection_name=req.collection_name,
                                    results=results, session_ts=hits.read_ts)


def _is_iterator(params: dict[str, str]) -> bool:
    return params.get("iterator", "") in _TRUE


def _iterator_ts(req: Any, params: dict[str, str]) -> int:
    """The timestamp an iterator's page reads at: the one its first page read at, which
    pymilvus sends as guarantee_timestamp. A value with no physical time is a consistency
    marker (pymilvus's 1 for Eventually, 2 for Bounded), not a read timestamp."""
    ts = int(req.guarantee_timestamp)
    return ts if _is_iterator(params) and physical_ms(ts) else 0


def _iterator_page(sp: dict[str, str]) -> IteratorPage | None:
    """Where a search iterator (pymilvus's search_iterator, v2 protocol) stands, if this search
    is one of its pages."""
    if not (_is_iterator(sp) and sp.get("search_iter_v2", "") in _TRUE):
        return None
    bound = sp.get("search_iter_last_bound", "")
    try:
        last_bound = float(bound) if bound not in ("", "None") else None
    except ValueError:
        raise InvalidArgument(f"search_iter_last_bound [{bound}] is invalid, should be a "
                              "number") from None
    return IteratorPage(token=sp.get("search_iter_id", ""), last_bound=last_bound)


def number_param(params: dict[str, Any], key: str) -> float | None:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{key} [{raw}] is invalid, should be a number") from None


def query_keys_of(req: Any) -> pa.Array | None:
    """The primary keys of a search by primary keys (Milvus 2.6.9+), else None."""
    if not req.HasField("ids"):
        return None
    if req.placeholder_group:
        raise InvalidArgument("search by primary keys and search by vectors are mutually "
                              "exclusive")
    if req.ids.WhichOneof("id_field") == "str_id":
        return pa.array(list(req.ids.str_id.data), pa.large_string())
    return pa.array(list(req.ids.int_id.data), pa.int64())


def timezone_of(collection_timezone: str, params: dict[str, str]) -> str:
    """The time zone results show TIMESTAMPTZ values in: the request's, else the collection's."""
    chosen = params.get("timezone", "").strip('"')
    if chosen:
        try:
            timestamps.check_timezone(chosen)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        return chosen
    return collection_timezone


def encode_hits(schema: CollectionSchema, req: SearchRequest, hits: SearchResult,
                 timezone: str) -> schema_pb2.SearchResultData:
    out = schema_pb2.SearchResultData(
        num_queries=len(hits.topks), top_k=req.limit, topks=hits.topks,
        output_fields=list(hits.output_fields), primary_field_name=hits.primary_field)
    out.scores.extend(hits.scores.tolist())
    encode_ids(hits.pks, out.ids)
    if hits.group_values is not None:
        group = schema.field(req.group_by_field)
        out.group_by_field_value.CopyFrom(encode_column(req.group_by_field, group,
                                                        hits.group_values, timezone))
    if hits.iterator is not None:
        out.search_iterator_v2_results.token = hits.iterator.token
        if hits.iterator.last_bound is not None:
            out.search_iterator_v2_results.last_bound = hits.iterator.last_bound
    out.fields_data.extend(encode_column(name, schema.field(name), hits.fields.column(name),
                                         timezone) for name in hits.fields.column_names)
    return out


@handler("Query")
def query(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.QueryResults:
    qp = kv_pairs(req.query_params)
    request = QueryRequest(
        db=db_name(req, ctx), collection=req.collection_name, filter=req.expr,
        output_fields=tuple(req.output_fields), limit=int_param(qp, "limit", -1),
        offset=int_param(qp, "offset", 0), filter_params=template_params(req.expr_template_values),
        partition_names=tuple(req.partition_names),
        read_ts=_iterator_ts(req, qp))
    result = engine.query(request)
    collection = engine.collection(request.db, request.collection)
    return _encode_rows(collection.schema, request, result, timezone_of(collection.timezone, qp))


def _encode_rows(schema: CollectionSchema, req: QueryRequest, result: QueryResult,
                 timezone: str) -> milvus_pb2.QueryResults:
    out = milvus_pb2.QueryResults(status=OK, collection_name=req.collection,
                                  output_fields=list(result.output_fields),
                                  primary_field_name=schema.primary.name,
                                  session_ts=result.read_ts)
    if result.count is not None:
        fd = out.fields_data.add(type=DataType.INT64, field_name="count(*)")
        fd.scalars.long_data.data.append(result.count)
        return out
    out.fields_data.extend(encode_column(name, schema.field(name), result.fields.column(name),
                                         timezone) for name in result.fields.column_names)
    return out
