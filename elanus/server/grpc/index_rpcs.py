"""RPCs on indexes: create, describe, alter, drop, state and build progress."""

from __future__ import annotations

import json
from typing import Any

from pymilvus.grpc_gen import common_pb2, milvus_pb2

from elanus.engine.engine import Engine
from elanus.engine.requests import IndexInfo
from elanus.errors import InvalidArgument
from elanus.server.grpc.handlers import db_name, handler, kv_pairs
from elanus.server.grpc.status import OK

_STATES = {"Finished": common_pb2.Finished, "InProgress": common_pb2.InProgress,
           "Failed": common_pb2.Failed}


def _index_params(extra: dict[str, str]) -> dict[str, str]:
    """Flatten the client's extra_params: a "params" JSON object spreads into the keys."""
    params = {k: v for k, v in extra.items() if k != "params"}
    if extra.get("params"):
        try:
            inner = json.loads(extra["params"])
        except ValueError:
            raise InvalidArgument(f"index params {extra['params']!r} are not valid JSON") from None
        if not isinstance(inner, dict):
            raise InvalidArgument("index params must be a JSON object")
        params.update({k: json.dumps(v) if isinstance(v, (dict, list)) else str(v)
                       for k, v in inner.items()})
    return params


@handler("CreateIndex")
def create_index(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.create_index(db_name(req, ctx), req.collection_name, req.field_name, req.index_name,
                        _index_params(kv_pairs(req.extra_params)))
    return OK


def _describe(info: IndexInfo, index_id: int) -> milvus_pb2.IndexDescription:
    params = [common_pb2.KeyValuePair(key=k, value=v) for k, v in info.params.items()]
    return milvus_pb2.IndexDescription(
        index_name=info.index_name, indexID=index_id, params=params, field_name=info.field_name,
        indexed_rows=info.indexed_rows, total_rows=info.total_rows,
        pending_index_rows=info.pending_index_rows, state=_STATES[info.state],
        index_state_fail_reason=info.fail_reason)


@handler("DescribeIndex")
def describe_index(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.DescribeIndexResponse:
    db = db_name(req, ctx)
    infos = engine.describe_index(db, req.collection_name, req.index_name, req.field_name)
    cid = engine.collection(db, req.collection_name).id
    return milvus_pb2.DescribeIndexResponse(
        status=OK, index_descriptions=[_describe(i, cid * 1000 + n) for n, i in enumerate(infos)])


@handler("DropIndex")
def drop_index(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.drop_index(db_name(req, ctx), req.collection_name, req.index_name, req.field_name)
    return OK


@handler("AlterIndex")
def alter_index(engine: Engine, req: Any, ctx: Any) -> common_pb2.Status:
    engine.alter_index_properties(db_name(req, ctx), req.collection_name, req.index_name,
                                  kv_pairs(req.extra_params), list(req.delete_keys))
    return OK


@handler("GetIndexState")
def get_index_state(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.GetIndexStateResponse:
    info = engine.describe_index(db_name(req, ctx), req.collection_name, req.index_name,
                                 req.field_name)[0]
    return milvus_pb2.GetIndexStateResponse(status=OK, state=_STATES[info.state],
                                            fail_reason=info.fail_reason)


@handler("GetIndexBuildProgress")
def get_index_build_progress(engine: Engine, req: Any,
                             ctx: Any) -> milvus_pb2.GetIndexBuildProgressResponse:
    info = engine.describe_index(db_name(req, ctx), req.collection_name, req.index_name,
                                 req.field_name)[0]
    return milvus_pb2.GetIndexBuildProgressResponse(status=OK, indexed_rows=info.indexed_rows,
                                                    total_rows=info.total_rows)
