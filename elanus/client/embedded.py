"""`elanus.MilvusClient`: pymilvus's MilvusClient, with the engine in-process for local paths.

For a local path (`MilvusClient("./demo.db")`) the client opens an engine over that directory in
the calling process and connects pymilvus's own client code to the MilvusService servicer through
an in-process channel: same methods, arguments, defaults, result shapes and errors as against a
server, because it is the same code on both sides, minus the socket. Clients of one path in one
process share one engine (the data directory admits one writer process); the engine closes when
the last of them closes, or at exit. For a URI (`http://`, `https://`, `tcp://`, `unix:`) it is
plain pymilvus talking to a server.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any

import pymilvus
from pymilvus.client.connection_manager import ConnectionConfig
from pymilvus.client.grpc_handler import GrpcHandler

from elanus.client.channel import LocalChannel
from elanus.engine.engine import Engine
from elanus.server.grpc.service import MilvusServicer

_SCHEMES = ("http://", "https://", "tcp://", "unix:", "grpc://")


def is_local(uri: str) -> bool:
    return not uri.lower().startswith(_SCHEMES)


class _Engines:
    """Engines open in this process, by resolved data directory, with their client counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, tuple[Engine, MilvusServicer, int]] = {}

    def acquire(self, path: Path) -> MilvusServicer:
        with self._lock:
            entry = self._open.get(path)
            if entry is None:
                engine = Engine(path)
                entry = (engine, MilvusServicer(engine), 0)
            self._open[path] = (entry[0], entry[1], entry[2] + 1)
            return entry[1]

    def release(self, path: Path) -> None:
        with self._lock:
            entry = self._open.get(path)
            if entry is None:
                return
            if entry[2] > 1:
                self._open[path] = (entry[0], entry[1], entry[2] - 1)
                return
            del self._open[path]
        entry[0].close()

    def close_all(self) -> None:
        with self._lock:
            entries, self._open = list(self._open.values()), {}
        for engine, _, _ in entries:
            engine.close()


_ENGINES = _Engines()
atexit.register(_ENGINES.close_all)


class _LocalConnection:
    """Stands in for pymilvus's ConnectionManager for one embedded client."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def release(self, handler: GrpcHandler, client: Any = None) -> None:
        handler.close()
        _ENGINES.release(self.path)


class MilvusClient(pymilvus.MilvusClient):  # type: ignore[misc]
    """pymilvus.MilvusClient; a local path runs the engine inside this process."""

    def __init__(self, uri: str = "http://localhost:19530", user: str = "", password: str = "",
                 db_name: str = "", token: str = "", timeout: float | None = None,
                 **kwargs: Any) -> None:
        if not is_local(uri):
            super().__init__(uri=uri, user=user, password=password, db_name=db_name,
                             token=token, timeout=timeout, **kwargs)
            return
        path = Path(uri).expanduser().resolve()
        if not path.parent.is_dir():
            raise pymilvus.MilvusException(
                message=f"Open local milvus failed, dir: {path.parent} not exists")
        servicer = _ENGINES.acquire(path)
        address = f"local:{path}"
        self._config = ConnectionConfig(uri=str(path), address=address, token=token,
                                        db_name=db_name)
        self._manager = _LocalConnection(path)
        try:
            handler = GrpcHandler(uri=str(path), address=address, channel=LocalChannel(servicer),
                                  db_name=db_name)
            handler._wait_for_channel_ready(timeout=timeout)
        except BaseException:
            _ENGINES.release(path)
            raise
        self._handler = handler
        self._using = f"cm-{id(handler)}"
        self.is_self_hosted = True
