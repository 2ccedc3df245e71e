"""The `elanus` command: help, version, and clear failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import elanus
from elanus.storage.lock import DataDirLock
from tests.conftest import free_port


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
