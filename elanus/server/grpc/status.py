"""The one place exceptions become Milvus Status messages."""

from __future__ import annotations

import logging
from typing import Any

from pymilvus.grpc_gen import common_pb2

from elanus.errors import ElanusError, InternalError

log = logging.getLogger(__name__)

# Milvus sets the legacy ErrorCode enum beside the numeric code for a few errors clients test.
_LEGACY_NAME = {
    100: "CollectionNotExists",
    200: "MetaFailed",
    700: "IndexNotExist",
    109: "SchemaMismatch",
    1100: "IllegalArgument",
}

OK = common_pb2.Status(code=0, error_code=common_pb2.Success)


def to_status(exc: BaseException) -> common_pb2.Status:
    if not isinstance(exc, ElanusError):
        log.exception("bug while serving a request")  # keep the traceback; keep serving
        exc = InternalError(f"internal error: {type(exc).__name__}: {exc}")
    legacy = common_pb2.ErrorCode.Value(_LEGACY_NAME.get(exc.code, "UnexpectedError"))
    return common_pb2.Status(code=exc.code, error_code=legacy, reason=str(exc),
                             retriable=exc.retriable)


def failure(response_type: type, exc: BaseException) -> Any:
    """A response of `response_type` carrying the status for `exc`."""
    status = to_status(exc)
    if response_type is common_pb2.Status:
        return status
    return response_type(status=status)
