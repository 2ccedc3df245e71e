"""lock.py: one process at a time owns a data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from elanus.errors import DataDirLocked
from elanus.storage.lock import DataDirLock

_HOLDER = """
import sys
from pathlib import Path
from elanus.storage.lock import DataDirLock
lock = DataDirLock(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


def test_lock_records_its_holder_and_is_released_on_close(tmp_path: Path) -> None:
    with DataDirLock(tmp_path) as lock:
        assert lock.held
        assert f"pid={os.getpid()}" in (tmp_path / "LOCK").read_text()
        with pytest.raises(DataDirLocked) as err:
            DataDirLock(tmp_path)  # a second open file description conflicts, same process
        assert f"pid={os.getpid()}" in err.value.holder
    assert not lock.held
    DataDirLock(tmp_path).close()


def test_lock_held_by_another_process_names_it_until_that_process_dies(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        with pytest.raises(DataDirLocked) as err:
            DataDirLock(tmp_path)
        assert err.value.path == str(tmp_path)
        assert f"pid={proc.pid}" in err.value.holder
        assert f"pid={proc.pid}" in str(err.value)
    finally:
        proc.kill()  # kill -9: the kernel drops the lock
        proc.wait(timeout=10)
    DataDirLock(tmp_path).close()
