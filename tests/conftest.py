"""Fixtures shared by every test layer: a real `elanus serve` subprocess and its clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
# The server's interpreter; the client-compatibility run drives it from another venv.
SERVER_PYTHON = os.environ.get("ELANUS_SERVER_PYTHON", sys.executable)
CLIENT_MODES = os.environ.get("ELANUS_CLIENT_MODES", "served,embedded").split(",")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `elanus serve` subprocess on a free loopback port over `data`."""

    def __init__(self, data: Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.data = data
        self.env = env or {}
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"{data.name}-server.log"

    def start(self) -> Server:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SERVER_PYTHON, "-m", "elanus", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--data", str(self.data)],
                stdout=log, stderr=log, cwd=ROOT, env=env)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: "
                                   f"{self.log.read_text()[-3000:]}")
            try:
                with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
                    stub = health_pb2_grpc.HealthStub(channel)
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
            except grpc.RpcError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become ready in {START_TIMEOUT}s")

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("served") / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def served_uri(served: Server) -> str:
    return served.uri


@pytest.fixture(params=CLIENT_MODES)
def milvus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A Milvus client: pymilvus against `elanus serve`, or the embedded elanus client."""
    if request.param == "served":
        import pymilvus

        client = pymilvus.MilvusClient(uri=request.getfixturevalue("served_uri"))
    else:
        import elanus

        client = elanus.MilvusClient(str(tmp_path / "demo.db"))
    yield client
    client.close()


@pytest.fixture
def name() -> str:
    """A collection name no other test uses."""
    return f"c_{uuid.uuid4().hex[:12]}"
