"""An in-process gRPC channel: pymilvus's stubs call the MilvusService servicer directly.

Requests and responses cross as the protobuf objects themselves (no serialization, no socket),
and the caller's metadata (the `dbname` header, for one) reaches the servicer through a minimal
servicer context. Because the embedded client runs pymilvus's own client code over the same
servicer the network server uses, embedded and served modes answer identically.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from typing_extensions import Self

from elanus.server.grpc.service import MilvusServicer


class _FinishedCall(grpc.Call):  # type: ignore[misc]
    """grpc.Call for a call that has already finished: no metadata, nothing to cancel."""

    def initial_metadata(self) -> tuple[()]:
        return ()

    def trailing_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


class LocalRpcError(grpc.RpcError, _FinishedCall):  # type: ignore[misc]
    """What a servicer's context.abort raises in-process, shaped like a real RpcError."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    # The future/outcome side of a failed call, as grpc's interceptors read an RpcError.
    def result(self, timeout: float | None = None) -> Any:
        raise self

    def exception(self, timeout: float | None = None) -> LocalRpcError:
        return self

    def traceback(self, timeout: float | None = None) -> Any:
        return self.__traceback__


class _Context:
    """The part of grpc.ServicerContext the handlers use."""

    def __init__(self, metadata: Any) -> None:
        self._metadata = tuple(metadata or ())

    def invocation_metadata(self) -> tuple[Any, ...]:
        return self._metadata

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise LocalRpcError(code, details)

    def set_code(self, code: grpc.StatusCode) -> None:
        pass

    def set_details(self, details: str) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> None:
        return None

    def peer(self) -> str:
        return "local"


class _Done(_FinishedCall, grpc.Future):  # type: ignore[misc]
    """A finished call: the outcome of one in-process RPC."""

    def __init__(self, response: Any = None, error: LocalRpcError | None = None) -> None:
        self._response, self._error = response, error

    def result(self, timeout: float | None = None) -> Any:
        if self._error is not None:
            raise self._error
        return self._response

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._error

    def traceback(self, timeout: float | None = None) -> None:
        return None

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        fn(self)

    def done(self) -> bool:
        return True

    def running(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def code(self) -> grpc.StatusCode:
        return self._error.code() if self._error is not None else grpc.StatusCode.OK

    def details(self) -> str:
        return self._error.details() if self._error is not None else ""


class _UnaryUnary(grpc.UnaryUnaryMultiCallable):  # type: ignore[misc]
    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self._fn = fn

    def __call__(self, request: Any, timeout: float | None = None, metadata: Any = None,
                 credentials: Any = None, wait_for_ready: Any = None,
                 compression: Any = None) -> Any:
        return self._fn(request, _Context(metadata))

    def with_call(self, request: Any, timeout: float | None = None, metadata: Any = None,
                  credentials: Any = None, wait_for_ready: Any = None,
                  compression: Any = None) -> tuple[Any, _Done]:
        response = self._fn(request, _Context(metadata))
        return response, _Done(response)

    def future(self, request: Any, timeout: float | None = None, metadata: Any = None,
               credentials: Any = None, wait_for_ready: Any = None,
               compression: Any = None) -> _Done:
        try:
            return _Done(self._fn(request, _Context(metadata)))
        except LocalRpcError as exc:
            return _Done(error=exc)


def _unimplemented(method: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise LocalRpcError(grpc.StatusCode.UNIMPLEMENTED,
                            f"{method} is not available in embedded mode")

    return call


class LocalChannel(grpc.Channel):  # type: ignore[misc]
    """A grpc.Channel whose unary RPCs run on `servicer` in the calling thread."""

    def __init__(self, servicer: MilvusServicer) -> None:
        self._servicer = servicer

    def unary_unary(self, method: str, request_serializer: Any = None,
                    response_deserializer: Any = None, _registered_method: Any = False) -> Any:
        name = method.rsplit("/", 1)[-1]
        fn = getattr(self._servicer, name, None)
        if fn is None:
            return _unimplemented(name)
        return _UnaryUnary(fn)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _unimplemented(method.rsplit("/", 1)[-1])

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _unimplemented(method.rsplit("/", 1)[-1])

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _unimplemented(method.rsplit("/", 1)[-1])

    def subscribe(self, callback: Callable[[Any], None], try_to_connect: bool = False) -> None:
        callback(grpc.ChannelConnectivity.READY)

    def unsubscribe(self, callback: Callable[[Any], None]) -> None:
        pass

    def check_connectivity_state(self, try_to_connect: bool = False) -> Any:
        return grpc.ChannelConnectivity.READY

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
