"""Sealed segment files and index blobs: written once, checksummed, verified on every read.

A sealed segment is one Arrow IPC *file* (the random-access format: magic ``ARROW1``, schema,
record batches, footer), uncompressed so a local file can be memory-mapped and its columns used
in place. An index file is an opaque blob. The catalog records each file's size and CRC-32
(`elanus.storage.files.checksum` of the whole file); the read functions take those and raise
`Corruption` naming the key when the file is missing, has another size, fails the checksum or
does not decode. Nothing unverified is returned.

Atomicity comes from `ObjectStore.put`: a file is absent or complete. Files are immutable once
written; a reader may keep a memory-mapped table after the file is deleted (POSIX unlink
semantics). Any thread may call any function here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from elanus.errors import Corruption
from elanus.storage.files import checksum as _checksum
from elanus.storage.objectstore import ObjectStore


@dataclass(frozen=True)
class SegmentFileInfo:
    """What the catalog records about a written segment file."""

    key: str
    size: int
    checksum: int
    num_rows: int


@dataclass(frozen=True)
class BlobInfo:
    """What the catalog records about a written blob (an index file)."""

    key: str
    size: int
    checksum: int


def write_segment(store: ObjectStore, key: str, table: pa.Table) -> SegmentFileInfo:
    """Write `table` as an uncompressed Arrow IPC file under `key`, atomically and durably."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    buf = sink.getvalue()
    view = memoryview(buf)
    store.put(key, view)
    return SegmentFileInfo(key, buf.size, _crc(view), table.num_rows)


def read_segment(store: ObjectStore, key: str, *, size: int, checksum: int,
                 mmap: bool = True) -> pa.Table:
    """Read and verify the segment file `key`; memory-map it when the store is local.

    Raises:
        Corruption: missing, wrong size, wrong checksum, or not an Arrow IPC file.
    """
    buf = _read_verified(store, key, size, checksum, mmap)
    try:
        return pa.ipc.open_file(buf).read_all()
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise Corruption(key, f"undecodable segment file: {exc}") from exc


def write_blob(store: ObjectStore, key: str, data: bytes | bytearray | memoryview) -> BlobInfo:
    """Write an opaque blob under `key`, atomically and durably."""
    store.put(key, data)
    return BlobInfo(key, memoryview(data).nbytes, _crc(data))


def read_blob(store: ObjectStore, key: str, size: int, checksum: int) -> bytes:
    """Read and verify the blob `key`.

    Raises:
        Corruption: missing, wrong size or wrong checksum.
    """
    try:
        data = store.get(key)
    except FileNotFoundError as exc:
        raise Corruption(key, "missing") from exc
    _verify(key, data, size, checksum)
    return data


def verified_blob_path(store: ObjectStore, key: str, size: int, checksum: int) -> Path | None:
    """The local file of the blob `key`, verified over a memory map (no copy is made), for a
    reader that opens the file itself; None when the store is not local. Blobs are written
    whole by rename, so the path names this file or a complete later one of the same key.

    Raises:
        Corruption: missing, wrong size or wrong checksum.
    """
    if store.open_path(key) is None:
        return None
    _read_verified(store, key, size, checksum, mmap=True)
    return store.open_path(key)


def _crc(data: bytes | bytearray | memoryview | pa.Buffer) -> int:
    return _checksum(memoryview(data))


def _verify(key: str, data: bytes | pa.Buffer, size: int, expected: int) -> None:
    actual_size = len(data) if isinstance(data, bytes) else data.size
    if actual_size != size:
        raise Corruption(key, f"size is {actual_size} bytes, expected {size}")
    actual = _crc(data)
    if actual != expected:
        raise Corruption(key, f"checksum is {actual:#010x}, expected {expected:#010x}")


def _read_verified(store: ObjectStore, key: str, size: int, expected: int,
                   mmap: bool) -> pa.Buffer:
    """The file's bytes, size- and checksum-verified: memory-mapped when possible."""
    path = store.open_path(key) if mmap else None
    try:
        if path is None:
            data = store.get(key)
            _verify(key, data, size, expected)
            return pa.py_buffer(data)
        actual_size = path.stat().st_size
        if actual_size != size:  # before mapping: an empty file cannot be mapped
            raise Corruption(key, f"size is {actual_size} bytes, expected {size}")
        with pa.memory_map(str(path), "r") as source:
            buf = source.read_buffer()
    except FileNotFoundError as exc:
        raise Corruption(key, "missing") from exc
    _verify(key, buf, size, expected)
    return buf
