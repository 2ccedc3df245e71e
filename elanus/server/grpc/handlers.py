"""Handler registry: each Milvus RPC elanus serves is a function (engine, request, context).

A handler decodes, makes one engine call, encodes. `@handler(Name)` registers it under the RPC's
name; the servicer binds every registered handler and answers every other RPC of the service with
an Unsupported error naming it. The response type comes from the service descriptor, so `rpc`
can wrap any failure in the right message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import message_factory
from pymilvus.grpc_gen import milvus_pb2

from elanus.engine.engine import DEFAULT_DB, Engine
from elanus.server.grpc.status import failure

SERVICE = milvus_pb2.DESCRIPTOR.services_by_name["MilvusService"]

Handler = Callable[[Engine, Any, Any], Any]
HANDLERS: dict[str, Handler] = {}


def response_type(method: str) -> type:
    out: type = message_factory.GetMessageClass(SERVICE.methods_by_name[method].output_type)
    return out


def handler(method: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the RPC `method`; failures become that RPC's response with a status."""
    out_type = response_type(method)

    def register(fn: Handler) -> Handler:
        def call(engine: Engine, request: Any, context: Any) -> Any:
            try:
                return fn(engine, request, context)
            except Exception as exc:  # noqa: BLE001 (every failure is answered; serving goes on)
                return failure(out_type, exc)

        call.__name__ = fn.__name__
        call.__doc__ = fn.__doc__
        HANDLERS[method] = call
        return fn

    return register


def db_name(request: Any, context: Any) -> str:
    """The database a request addresses: its db_name field, else the dbname header."""
    name = getattr(request, "db_name", "")
    if name:
        return str(name)
    if context is not None:
        for key, value in context.invocation_metadata() or ():
            if key == "dbname" and value:
                return str(value)
    return DEFAULT_DB


def kv_pairs(pairs: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in pairs}
