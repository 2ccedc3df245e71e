"""The data-directory lock: one process at a time owns a data directory.

On disk: the file ``LOCK`` in the data directory, holding one line ``pid=<pid> host=<hostname>``
written by the current holder (for the error message only; the lock itself is the kernel's).
The lock is `fcntl.flock(LOCK_EX | LOCK_NB)` on that file, so the kernel releases it when the
holder closes it or dies, even by kill -9; a stale LOCK file never blocks a restart, and the
file is never deleted (deleting it would let two processes lock two different inodes).

flock locks belong to an open file description, so a second `DataDirLock` on the same directory
fails even within one process. POSIX only; flock is not reliable over NFS. Any thread may call;
`close` is idempotent.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from elanus.errors import DataDirLocked
from elanus.storage.files import ensure_directory

if TYPE_CHECKING:
    from typing import Self

LOCK_NAME = "LOCK"


class DataDirLock:
    """An exclusive lock on a data directory, held from construction until `close`.

    Raises:
        DataDirLocked: another open lock (in any process) holds the directory; the error
            names the holder as its LOCK file records it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        ensure_directory(self.path)
        self._file = self.path / LOCK_NAME
        fd = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DataDirLocked(str(self.path), holder) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid={os.getpid()} host={socket.gethostname()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self._mu = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def close(self) -> None:
        """Release the lock. The LOCK file stays; its contents no longer matter."""
        with self._mu:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataDirLock({str(self.path)!r}, held={self.held})"


def _read_holder(fd: int) -> str:
    """The holder line of a locked LOCK file, or a placeholder when it is not written yet."""
    try:
        text = os.pread(fd, 256, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"
