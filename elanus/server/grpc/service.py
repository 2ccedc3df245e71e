"""MilvusService on pymilvus's generated stubs: binds every registered handler to an engine.

Every RPC of the service has a method on the servicer: the ones elanus serves call their handler;
every other unary RPC answers its response type with an Unsupported status (code 10) naming the
RPC, and streaming RPCs abort with UNIMPLEMENTED and the same message. Nothing is faked.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc

import elanus
from elanus.engine.engine import Engine
from elanus.errors import Unsupported
from elanus.server.grpc import (  # noqa: F401 (importing registers the handlers)
    alias_rpcs,
    collection_rpcs,
    data_rpcs,
    database_rpcs,
    hybrid_rpcs,
    index_rpcs,
    partition_rpcs,
    text_rpcs,
)
from elanus.server.grpc.handlers import HANDLERS, SERVICE, db_name, handler, response_type
from elanus.server.grpc.status import OK, failure

MILVUS_VERSION = "v2.6.6"
_started = time.time()


@handler("Connect")
def connect(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.ConnectResponse:
    engine.list_collections(db_name(req, ctx))  # an unknown database fails the connection
    info = common_pb2.ServerInfo(build_tags=f"elanus-{elanus.__version__}", deploy_mode="STANDALONE",
                                 reserved={"elanus": elanus.__version__})
    return milvus_pb2.ConnectResponse(status=OK, server_info=info,
                                      identifier=int(time.time() * 1000) & 0x7FFFFFFF)


@handler("GetVersion")
def get_version(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.GetVersionResponse:
    return milvus_pb2.GetVersionResponse(status=OK, version=MILVUS_VERSION)


@handler("CheckHealth")
def check_health(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.CheckHealthResponse:
    return milvus_pb2.CheckHealthResponse(status=OK, isHealthy=True)


@handler("AllocTimestamp")
def alloc_timestamp(engine: Engine, req: Any, ctx: Any) -> milvus_pb2.AllocTimestampResponse:
    return milvus_pb2.AllocTimestampResponse(status=OK, timestamp=engine.tso.allocate())


@handler("GetComponentStates")
def get_component_states(engine: Engine, req: Any, ctx: Any) -> Any:
    return milvus_pb2.ComponentStates(
        status=OK, state=milvus_pb2.ComponentInfo(role="Proxy", state_code=common_pb2.Healthy))


def _has_status(message_type: type) -> bool:
    fields = message_type.DESCRIPTOR.fields_by_name  # type: ignore[attr-defined]
    return message_type is common_pb2.Status or "status" in fields


def _unsupported_unary(method: str) -> Any:
    out_type = response_type(method)
    if not _has_status(out_type):  # a reply with no status field can only fail at gRPC level
        return _unsupported_stream(method)

    def call(self: MilvusServicer, request: Any, context: Any) -> Any:
        return failure(out_type, Unsupported(f"{method} is not supported by elanus yet"))

    call.__name__ = method
    return call


def _unsupported_stream(method: str) -> Any:
    def call(self: MilvusServicer, request: Any, context: Any) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not supported by elanus yet")

    call.__name__ = method
    return call


def _bound(method: str) -> Any:
    fn = HANDLERS[method]

    def call(self: MilvusServicer, request: Any, context: Any) -> Any:
        return fn(self.engine, request, context)

    call.__name__ = method
    return call


class MilvusServicer(milvus_pb2_grpc.MilvusServiceServicer):  # type: ignore[misc]
    """Every MilvusService RPC, answered by the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine


for _m in SERVICE.methods:
    if _m.name in HANDLERS:
        setattr(MilvusServicer, _m.name, _bound(_m.name))
    elif _m.client_streaming or _m.server_streaming:
        setattr(MilvusServicer, _m.name, _unsupported_stream(_m.name))
    else:
        setattr(MilvusServicer, _m.name, _unsupported_unary(_m.name))
