"""HybridSearch: several ANN sub-searches of one collection fused by a ranker.

pymilvus sends each AnnSearchRequest as a whole SearchRequest (its own anns_field, vectors,
params, limit as `topk`, filter) and the ranker in one of two forms: `rank_params` with
"strategy" and JSON "params" (RRFRanker, WeightedRanker), or a `function_score` holding one
rerank FunctionSchema (`Function(..., FunctionType.RERANK, params={"reranker": ...})`). Either
way `rank_params` carries the hybrid limit, offset and round_decimal. The reply is a Search
reply: ids, scores and topks per query, and the output fields of each hit.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from pymilvus.grpc_gen import milvus_pb2, schema_pb2

from elanus.engine.engine import Engine
from elanus.engine.hybrid import Ranker, function_ranker, legacy_ranker
from elanus.engine.requests import HybridSearchRequest, SearchRequest
from elanus.errors import InvalidArgument, UnexpectedError, Unsupported
from elanus.schema import CollectionSchema
from elanus.server.grpc.data_rpcs import (
    decode_queries,
    encode_hits,
    int_param,
    number_param,
    query_keys_of,
    template_params,
    timezone_of,
)
from elanus.server.grpc.handlers import db_name, handler, kv_pairs
from elanus.server.grpc.status import OK


@handler("HybridSearch")
def hybrid_search(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.SearchResults:
    rp = kv_pairs(req.rank_params)
    if rp.get("group_by_field") not in (None, "", '""'):
        raise Unsupported("grouping search in hybrid search is not supported by this elanus "
                          "build yet")
    if len(req.function_chains):
        raise Unsupported("function chains are not supported in hybrid search")
    if "limit" not in rp:
        raise UnexpectedError("limit not found in rank_params")
    db = db_name(req, ctx)
    collection = engine.collection(db, req.collection_name)
    schema = collection.schema
    limit, offset = int_param(rp, "limit", 0), int_param(rp, "offset", 0)
    request = HybridSearchRequest(
        db=db, collection=req.collection_name,
        # a sub-request without a topk searches as deep as the hybrid page reaches, as Milvus
        searches=tuple(_sub_search(schema, db, req.collection_name, sub_pb, limit + offset)
                       for sub_pb in req.requests),
        ranker=_ranker(req, rp), limit=limit, offset=offset,
        output_fields=tuple(req.output_fields), partition_names=tuple(req.partition_names),
        round_decimal=int_param(rp, "round_decimal", -1))
    hits = engine.hybrid_search(request)
    # Milvus's reply names the hybrid limit as its top_k.
    shape = replace(request.searches[0], limit=request.limit)
    results = encode_hits(schema, shape, hits, timezone_of(collection.timezone, rp))
    return milvus_pb2.SearchResults(status=OK, collection_name=req.collection_name,
                                    results=results, session_ts=hits.read_ts)


def _sub_search(schema: CollectionSchema, db: str, collection: str, sub_pb: Any,
                default_topk: int) -> SearchRequest:
    """One AnnSearchRequest as an engine search: its own field, queries, metric, params,
    range, filter and limit. Its offset and group_by_field are Milvus's to ignore."""
    sp = kv_pairs(sub_pb.search_params)
    params = json.loads(sp.get("params") or "{}")
    if not isinstance(params, dict):
        raise InvalidArgument("search params must be a JSON object")
    anns_field = sp.get("anns_field", "")
    vectors = schema.vector_fields
    field = schema.field(anns_field) if anns_field else (vectors[0] if len(vectors) == 1
                                                         else None)
    radius = number_param(params, "radius")
    return SearchRequest(
        db=db, collection=collection, anns_field=anns_field,
        queries=decode_queries(sub_pb, field), limit=int_param(sp, "topk", default_topk),
        metric_type=sp.get("metric_type", "").strip('"'), filter=sub_pb.dsl,
        filter_params=template_params(sub_pb.expr_template_values), params=params,
        round_decimal=int_param(sp, "round_decimal", -1), query_keys=query_keys_of(sub_pb),
        radius=radius,
        range_filter=number_param(params, "range_filter") if radius is not None else None)


def _ranker(req: Any, rp: dict[str, str]) -> Ranker:
    """The ranker: the function_score's one rerank function, else the legacy rank_params."""
    if req.HasField("function_score") and len(req.function_score.functions):
        functions_pb = req.function_score.functions
        if len(functions_pb) > 1:
            raise UnexpectedError("Currently only supports one rerank")
        function_pb = functions_pb[0]
        if function_pb.type != schema_pb2.FunctionType.Rerank:
            raise UnexpectedError(f"{schema_pb2.FunctionType.Name(function_pb.type)} is not "
                                  "rerank function.")
        if len(function_pb.output_field_names):
            raise UnexpectedError(f"Rerank function should not have output field, but now is "
                                  f"{len(function_pb.output_field_names)}")
        return function_ranker(kv_pairs(function_pb.params),
                               tuple(function_pb.input_field_names))
    return legacy_ranker(rp.get("strategy"), rp.get("params"))
