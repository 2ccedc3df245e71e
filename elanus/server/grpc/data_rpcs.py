"""RPCs on rows: insert, upsert, delete, search, query."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from elanus.engine.engine import Engine
from elanus.engine.requests import QueryRequest, QueryResult, SearchRequest, SearchResult
from elanus.errors import InvalidArgument, Unsupported
from elanus.schema import DataType
from elanus.server.grpc.data_codec import (
    decode_columns,
    decode_template_value,
    encode_column,
    encode_ids,
)
from elanus.server.grpc.handlers import db_name, handler, kv_pairs
from elanus.server.grpc.status import OK

# Search parameters of features later issues bring; refused clearly rather than ignored.
_UNSERVED_SEARCH_KEYS = {"group_by_field": "grouping search", "iterator": "search iterators",
                         "search_iter_v2": "search iterators"}
_UNSERVED_PARAMS = {"radius": "range search", "range_filter": "range search"}


def _template_params(values: Any) -> dict[str, Any]:
    return {k: decode_template_value(v) for k, v in values.items()}


def _mutation(engine: Engine, req: Any, ctx: Any, upsert: bool) -> milvus_pb2.MutationResult:
    db = db_name(req, ctx)
    schema = engine.collection(db, req.collection_name).schema
    columns = decode_columns(req.fields_data, schema.field, req.num_rows)
    result = engine.insert(db, req.collection_name, columns, req.num_rows, upsert=upsert,
                           partition=req.partition_name)
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
    if req.partial_update:
        raise Unsupported("partial update upserts are not supported by this elanus build yet")
    return _mutation(engine, req, ctx, upsert=True)


@handler("Delete")
def delete(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.MutationResult:
    result = engine.delete(db_name(req, ctx), req.collection_name, req.expr,
                           _template_params(req.expr_template_values), req.partition_name)
    return milvus_pb2.MutationResult(status=OK, delete_cnt=result.delete_count,
                                     timestamp=result.timestamp)


def _decode_queries(req: Any) -> np.ndarray:
    if req.HasField("ids") or req.search_by_primary_keys:
        raise Unsupported("search by primary keys is not supported by this elanus build yet")
    group = common_pb2.PlaceholderGroup.FromString(req.placeholder_group)
    if len(group.placeholders) != 1:
        raise InvalidArgument("search requires exactly one placeholder of query vectors")
    ph = group.placeholders[0]
    if ph.type != common_pb2.PlaceholderType.FloatVector:
        raise Unsupported(f"query vectors of placeholder type {ph.type} are not supported by "
                          "this elanus build yet")
    if not ph.values:
        raise InvalidArgument("nq [0] is invalid, nq (number of search vector per search "
                              "request) should be in range [1, 16384]")
    flat = np.frombuffer(b"".join(ph.values), dtype=np.float32)
    return flat.reshape(len(ph.values), -1)


def _int(params: dict[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        return int(json.loads(raw))
    except (ValueError, TypeError):
        raise InvalidArgument(f"{key} [{raw}] is invalid, should be an integer") from None


@handler("Search")
def search(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.SearchResults:
    sp = kv_pairs(req.search_params)
    for key, what in _UNSERVED_SEARCH_KEYS.items():
        if sp.get(key) not in (None, "", "false", '""'):
            raise Unsupported(f"{what} is not supported by this elanus build yet")
    params = json.loads(sp.get("params") or "{}")
    if not isinstance(params, dict):
        raise InvalidArgument("search params must be a JSON object")
    for key, what in _UNSERVED_PARAMS.items():
        if key in params:
            raise Unsupported(f"{what} is not supported by this elanus build yet")
    request = SearchRequest(
        db=db_name(req, ctx), collection=req.collection_name,
        anns_field=sp.get("anns_field", ""), queries=_decode_queries(req),
        limit=_int(sp, "topk", 10), metric_type=sp.get("metric_type", "").strip('"'),
        filter=req.dsl, filter_params=_template_params(req.expr_template_values),
        output_fields=tuple(req.output_fields), offset=_int(sp, "offset", 0), params=params,
        partition_names=tuple(req.partition_names),
        round_decimal=_int(sp, "round_decimal", -1),
    )
    hits = engine.search(request)
    return milvus_pb2.SearchResults(status=OK, collection_name=req.collection_name,
                                    results=_encode_hits(engine, request, hits),
                                    session_ts=hits.read_ts)


def _encode_hits(engine: Engine, req: SearchRequest, hits: SearchResult) -> schema_pb2.SearchResultData:
    schema = engine.collection(req.db, req.collection).schema
    out = schema_pb2.SearchResultData(
        num_queries=len(hits.topks), top_k=req.limit, topks=hits.topks,
        output_fields=list(hits.output_fields), primary_field_name=hits.primary_field)
    out.scores.extend(hits.scores.tolist())
    encode_ids(hits.pks, out.ids)
    out.fields_data.extend(encode_column(name, schema.field(name), hits.fields.column(name))
                           for name in hits.fields.column_names)
    return out


@handler("Query")
def query(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.QueryResults:
    qp = kv_pairs(req.query_params)
    if qp.get("iterator") in ("True", "true"):
        raise Unsupported("query iterators are not supported by this elanus build yet")
    request = QueryRequest(
        db=db_name(req, ctx), collection=req.collection_name, filter=req.expr,
        output_fields=tuple(req.output_fields), limit=_int(qp, "limit", -1),
        offset=_int(qp, "offset", 0), filter_params=_template_params(req.expr_template_values),
        partition_names=tuple(req.partition_names))
    result = engine.query(request)
    return _encode_rows(engine, request, result)


def _encode_rows(engine: Engine, req: QueryRequest, result: QueryResult) -> milvus_pb2.QueryResults:
    schema = engine.collection(req.db, req.collection).schema
    out = milvus_pb2.QueryResults(status=OK, collection_name=req.collection,
                                  output_fields=list(result.output_fields),
                                  primary_field_name=schema.primary.name,
                                  session_ts=result.read_ts)
    if result.count is not None:
        fd = out.fields_data.add(type=DataType.INT64, field_name="count(*)")
        fd.scalars.long_data.data.append(result.count)
        return out
    out.fields_data.extend(encode_column(name, schema.field(name), result.fields.column(name))
                           for name in result.fields.column_names)
    return out
