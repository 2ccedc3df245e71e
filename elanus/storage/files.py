"""File-system primitives every durable write in elanus goes through.

Checksums are CRC-32 (the IEEE polynomial, as zlib computes it); every stored checksum is this
one function's result. ISA-L (isal) computes the same values with carry-less multiplication at
~25 GB/s here, against zlib's ~3.7 GB/s; loading verifies every file, so that is most of the
time a 1M x 128 collection takes to open (0.37 of 0.42 s with zlib). Both release the GIL on
large buffers.

Durability: `replace_atomically` gives all-or-nothing replacement of one file (temp file,
fsync, rename, fsync of the directory); `ensure_directory` creates directories so that they
survive a crash; `sync_data` flushes one open file's data. Any thread may call any function
here; concurrent `replace_atomically` calls on one path do not collide (each uses its own temp
file) and the last rename wins.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from isal import isal_zlib

TEMP_SUFFIX = ".tmp"  # temp files are named ".<name>.<random>.tmp" beside their target


def checksum(data: bytes | bytearray | memoryview, start: int = 0) -> int:
    """Return the CRC-32 of `data` (continuing from `start`, the CRC of preceding bytes)."""
    return isal_zlib.crc32(data, start) & 0xFFFFFFFF


def sync_data(fd: int) -> None:
    """Flush an open file's data (and the size needed to read it back) to stable storage."""
    # Looked up at call time, not import time, so tests can count calls.
    sync = getattr(os, "fdatasync", None) or os.fsync
    sync(fd)


def fsync_directory(path: Path) -> None:
    """Make the entries of directory `path` (creations, renames, unlinks) durable."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:  # platforms that cannot open a directory (Windows) cannot sync one
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_directory(path: Path) -> None:
    """Create `path` and any missing parents, durably: each new entry's parent is synced."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:  # another thread or process made it first
            pass
        fsync_directory(d.parent)


def temp_path(path: Path) -> Path:
    """A fresh hidden sibling of `path` to write before renaming over it."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def write_file_synced(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Create or overwrite `path` with `data` and fsync it (no directory sync, no rename)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte of `data` to `fd`, retrying short writes."""
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view)
        view = view[n:]


def replace_atomically(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Make `data` the content of `path`, all or nothing.

    After a crash at any instant `path` holds the old bytes or the new ones: write a
    sibling temp file, fsync it, rename it over `path`, fsync the directory.
    """
    tmp = temp_path(path)
    try:
        write_file_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
