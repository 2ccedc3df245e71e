"""The `elanus` command: help, version, and clear failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import elanus
from elanus.storage.lock import DataDirLock
from tests.conftest import Server, free_port


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elanus", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_help_lists_serve_and_its_options() -> None:
    out = _run("serve", "--help")
    assert out.returncode == 0
    for option in ("--host", "--port", "--data"):
        assert option in out.stdout


def test_version() -> None:
    out = _run("--version")
    assert out.returncode == 0 and elanus.__version__ in out.stdout


def test_serve_on_a_locked_directory_fails_clearly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with DataDirLock(data):
        out = _run("serve", "--port", str(free_port()), "--data", str(data))
    assert out.returncode == 2
    assert "is locked by another process" in out.stderr


def test_serve_on_a_taken_port_fails_clearly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = _run("serve", "--port", str(port), "--data", str(tmp_path / "d"))
    assert out.returncode == 2
    assert "cannot listen" in out.stderr


def _thread_switches(pid: int, name: str) -> int:
    """Context switches so far of the threads of process `pid` named `name` (Linux /proc)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() != name:
                continue
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except FileNotFoundError:  # the thread ended
            continue
    return total


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads threads from /proc")
def test_serve_answers_calls_without_grpcs_event_engine_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`elanus serve` turns off grpc's EventEngine listener, which hands each call to three
    more threads (and a user's own GRPC_EXPERIMENTS would win): calls leave them asleep."""
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

    monkeypatch.delenv("GRPC_EXPERIMENTS", raising=False)
    server = Server(tmp_path / "data").start()
    try:
        assert server.proc is not None
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = milvus_pb2_grpc.MilvusServiceStub(channel)
            stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=10)
            before = _thread_switches(server.proc.pid, "event_engine")
            calls = 400
            for _ in range(calls):
                stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=10)
            switches = _thread_switches(server.proc.pid, "event_engine") - before
        # grpc's default takes three or more per call; a timer may wake a thread now and then
        assert switches < calls // 4, f"{switches} event_engine switches in {calls} calls"
    finally:
        server.stop()
