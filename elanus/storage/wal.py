"""The write-ahead log: every acknowledged insert and delete, durable before the reply.

On disk: a directory of files named by the LSN of their first record, twenty decimal digits
and ``.wal`` (``00000000000000000001.wal``). Each file is a sequence of frames and nothing else:

    offset  size  field
    0       4     magic, the bytes ``ELNW``
    4       4     payload length, unsigned little-endian (payloads up to 4 GiB - 1)
    8       8     lsn, unsigned little-endian
    16      4     crc: CRC-32 (zlib) of the payload followed by header bytes 0..15
    20      n     payload, opaque bytes

The payload is checksummed first so that its (possibly large) CRC is computed outside the log's
lock, before the LSN is known. LSNs start at 1, rise by one per record with no gaps, across files
and restarts. A new file starts when the next frame would push the active file past
`file_bytes` (a frame larger than that gets a file to itself). The active file is never deleted,
so its name keeps the LSN sequence going after `truncate_before` removed everything older.

Atomicity and recovery: `append` returns only after its frame is written and fdatasync'ed; a
new file's directory entry is fsynced before any record in it is acknowledged, and a file is
synced before the next one is created, so only the last file can end in unacknowledged bytes.
`Wal.open` checks every frame. In the last file, a bad frame (short, wrong magic, wrong CRC)
followed by no valid frame is a torn tail left by a crash mid-write: the file is truncated to
the last good frame. Any other bad frame, an LSN out of sequence, or a gap between files raises
`Corruption` naming the file and the offset.

Threads: any thread may call `append`, `replay`, `truncate_before`, `last_lsn` and `close`.
Appends are group-committed: an appender queues its frame, and whichever appender finds no write
in flight becomes the leader, writes every queued frame in LSN order (writev) and covers
them all with one fdatasync while later appenders queue behind it; the leader then wakes them
all and the next leader takes the next batch. `replay` reads records durable when it starts and
must not race a `truncate_before` that removes the files it reads. An I/O error in a write or
sync fails the log: that append and every later one raise `InternalError`; reopening recovers.
POSIX only (writev, fdatasync).
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from elanus.errors import Corruption, InternalError, InvalidArgument
from elanus.storage.files import checksum, ensure_directory, fsync_directory, sync_data

if TYPE_CHECKING:
    from typing import Self

MAGIC = b"ELNW"
HEADER = struct.Struct("<4sIQI")  # magic, payload length, lsn, crc
HEADER_SIZE = HEADER.size  # 20
MAX_PAYLOAD = 0xFFFFFFFF
DEFAULT_FILE_BYTES = 64 << 20
_CHECKED = struct.Struct("<4sIQ")  # the header bytes the crc covers
_NAME = re.compile(r"^(\d{20})\.wal$")
_IOV_MAX = 512  # buffers per writev call, well under every platform's IOV_MAX

log = logging.getLogger(__name__)

Payload = bytes | bytearray | memoryview


def file_name(first_lsn: int) -> str:
    """The name of the WAL file whose first record has `first_lsn`."""
    return f"{first_lsn:020d}.wal"


def frame_header(lsn: int, length: int, payload_crc: int) -> bytes:
    """The 20 header bytes of a frame; `payload_crc` is `checksum(payload)`."""
    checked = _CHECKED.pack(MAGIC, length, lsn)
    return checked + struct.pack("<I", checksum(checked, payload_crc))


def _parse_frame(buf: memoryview, offset: int, end: int) -> tuple[int, int] | None:
    """(lsn, payload length) of the intact frame at `offset`, or None if it is not one."""
    if end - offset < HEADER_SIZE:
        return None
    magic, length, lsn, crc = HEADER.unpack_from(buf, offset)
    stop = offset + HEADER_SIZE + length
    if magic != MAGIC or stop > end:
        return None
    payload_crc = checksum(buf[offset + HEADER_SIZE : stop])
    if checksum(buf[offset : offset + _CHECKED.size], payload_crc) != crc:
        return None
    return lsn, length


def _intact_frame_after(m: mmap.mmap, buf: memoryview, start: int, end: int) -> bool:
    """Whether any intact frame begins at or after `start`."""
    pos = m.find(MAGIC, start, end)
    while pos >= 0:
        if _parse_frame(buf, pos, end) is not None:
            return True
        pos = m.find(MAGIC, pos + 1, end)
    return False


def _scan(path: Path, first_lsn: int, last: bool) -> tuple[int, int]:
    """Check every frame of one file; return (next lsn, length of its intact prefix)."""
    size = path.stat().st_size
    if size == 0:
        return first_lsn, 0
    expected, offset = first_lsn, 0
    with (open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m,
          memoryview(m) as buf):
        while offset < size:
            frame = _parse_frame(buf, offset, size)
            if frame is None:
                if last and not _intact_frame_after(m, buf, offset + 1, size):
                    return expected, offset  # torn tail
                raise Corruption(str(path), f"bad frame at offset {offset}")
            lsn, length = frame
            if lsn != expected:
                raise Corruption(str(path), f"frame at offset {offset} has lsn {lsn}, "
                                            f"expected {expected}")
            offset += HEADER_SIZE + length
            expected += 1
    return expected, offset


def _write_buffers(fd: int, buffers: list[Payload]) -> None:
    """Write `buffers` back to back at the file's end, retrying short writes."""
    views = [v for v in (memoryview(b).cast("B") for b in buffers) if v.nbytes]
    i = 0
    while i < len(views):
        n = os.writev(fd, views[i : i + _IOV_MAX])
        while n:
            if n >= len(views[i]):
                n -= len(views[i])
                i += 1
            else:
                views[i] = views[i][n:]
                n = 0


@dataclass
class _Queued:
    lsn: int
    length: int
    header: bytes
    payload: Payload


class Wal:
    """A write-ahead log in one directory; see the module docstring. Build with `Wal.open`."""

    def __init__(self, directory: Path, files: list[tuple[int, Path]], fd: int, active_size: int,
                 next_lsn: int, file_bytes: int) -> None:
        self.directory = directory
        self._file_bytes = file_bytes
        self._cv = threading.Condition(threading.Lock())
        # Guarded by _cv:
        self._next_lsn = next_lsn
        self._synced_lsn = next_lsn - 1
        self._queue: list[_Queued] = []
        self._flushing = False
        self._failure: BaseException | None = None
        self._closed = False
        # Owned by the leader (whoever set _flushing), or by close once no leader remains:
        self._fd = fd
        self._active_size = active_size
        # (first lsn, path), oldest first; the last is the active file. Guarded by _files_mu.
        self._files_mu = threading.Lock()
        self._files = files

    @classmethod
    def open(cls, directory: Path, *, file_bytes: int = DEFAULT_FILE_BYTES) -> Wal:
        """Open the log in `directory`, creating it if needed, and cut off a torn tail.

        Raises:
            Corruption: a bad frame before the tail, or records missing between files.
        """
        if file_bytes <= HEADER_SIZE:
            raise InvalidArgument(f"wal file_bytes must exceed {HEADER_SIZE}, got {file_bytes}")
        directory = Path(directory)
        ensure_directory(directory)
        files = sorted((int(m.group(1)), directory / m.group(0))
                       for m in map(_NAME.match, os.listdir(directory)) if m)
        if not files:
            first = directory / file_name(1)
            first.touch()
            fsync_directory(directory)
            files = [(1, first)]
        next_lsn, end = files[0][0], 0
        for i, (first_lsn, path) in enumerate(files):
            if first_lsn != next_lsn:
                raise Corruption(str(path), f"starts at lsn {first_lsn}, expected {next_lsn}")
            next_lsn, end = _scan(path, first_lsn, last=i == len(files) - 1)
        active = files[-1][1]
        fd = os.open(active, os.O_WRONLY | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if end < size:
                # Never acknowledged: a crash cut its write short (or left its pages unwritten).
                log.warning("write-ahead log %s: cutting a torn tail of %d bytes at offset %d",
                            active, size - end, end)
                os.ftruncate(fd, end)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(directory, files, fd, end, next_lsn, file_bytes)

    @property
    def next_lsn(self) -> int:
        """The LSN the next submitted record will get."""
        with self._cv:
            return self._next_lsn

    @property
    def last_lsn(self) -> int:
        """The LSN of the newest durable record; 0 when the log has never held one."""
        with self._cv:
            return self._synced_lsn

    def append(self, payload: Payload) -> int:
        """Durably log one record and return its LSN.

        Raises:
            InvalidArgument: the payload exceeds MAX_PAYLOAD bytes.
            InternalError: the log is closed or failed; a failed append may or may not be
                recovered after a restart.
        """
        lsn = self.submit(payload)
        self.wait_durable(lsn)
        return lsn

    def submit(self, payload: Payload) -> int:
        """Queue one record and return its LSN at once; `wait_durable(lsn)` waits for the disk.

        LSNs follow the order of submit calls, so a caller that submits under its own lock
        fixes the log order of its records without holding that lock through the fsync.
        """
        length = memoryview(payload).nbytes
        if length > MAX_PAYLOAD:
            raise InvalidArgument(f"wal record of {length} bytes exceeds {MAX_PAYLOAD}")
        payload_crc = checksum(payload)
        with self._cv:
            if self._closed:
                raise InternalError(f"write-ahead log {self.directory} is closed")
            self._raise_if_failed()
            lsn = self._next_lsn
            self._next_lsn += 1
            self._queue.append(_Queued(lsn, length, frame_header(lsn, length, payload_crc),
                                       payload))
        return lsn

    def wait_durable(self, lsn: int) -> None:
        """Return once record `lsn` (and every one before it) is on disk."""
        with self._cv:
            while self._synced_lsn < lsn:
                self._raise_if_failed()
                if self._flushing:
                    self._cv.wait()  # the leader notifies when its batch is synced or failed
                else:
                    self._lead()

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise InternalError(f"write-ahead log {self.directory} failed: "
                                f"{self._failure!r}") from self._failure

    def _lead(self) -> None:
        """Write and sync every queued frame. Called and returns with _cv held."""
        batch, self._queue = self._queue, []
        self._flushing = True
        failure: BaseException | None = None
        self._cv.release()
        try:
            self._write(batch)
        except BaseException as exc:  # noqa: BLE001  # even KeyboardInterrupt: followers must wake
            failure = exc
        finally:
            self._cv.acquire()
            self._flushing = False
            if failure is None:
                self._synced_lsn = max(self._synced_lsn, batch[-1].lsn if batch else 0)
            else:
                self._failure = failure
            self._cv.notify_all()

    def _write(self, batch: list[_Queued]) -> None:
        buffers: list[Payload] = []
        size = self._active_size
        for q in batch:
            frame_size = HEADER_SIZE + q.length
            if size > 0 and size + frame_size > self._file_bytes:
                _write_buffers(self._fd, buffers)
                buffers = []
                self._active_size = size
                self._rotate(q.lsn)
                size = 0
            buffers += (q.header, q.payload)
            size += frame_size
        _write_buffers(self._fd, buffers)
        self._active_size = size
        sync_data(self._fd)

    def _rotate(self, first_lsn: int) -> None:
        """Sync and close the active file; start a new one whose first record is first_lsn."""
        sync_data(self._fd)
        os.close(self._fd)
        self._fd = -1
        path = self.directory / file_name(first_lsn)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fsync_directory(self.directory)
        with self._files_mu:
            self._files.append((first_lsn, path))

    def replay(self, after_lsn: int = 0) -> Iterator[tuple[int, bytes]]:
        """Yield (lsn, payload) for every durable record with lsn > after_lsn, in order.

        Raises:
            Corruption: a frame read back fails its checksum or is out of sequence.
        """
        with self._cv:
            limit = self._synced_lsn
        with self._files_mu:
            files = list(self._files)
        for i, (first_lsn, path) in enumerate(files):
            end_lsn = files[i + 1][0] if i + 1 < len(files) else limit + 1
            if end_lsn <= after_lsn + 1:
                continue  # every record here is <= after_lsn
            if first_lsn > limit:
                return
            yield from _read_file(path, first_lsn, after_lsn, limit)

    def truncate_before(self, lsn: int) -> None:
        """Delete, durably, each WAL file whose records all have LSNs below `lsn`.

        The active file always stays. Files go oldest first, each unlink synced before the
        next, so a crash leaves the remaining files contiguous.
        """
        while True:
            with self._files_mu:
                if len(self._files) < 2 or self._files[1][0] > lsn:
                    return
                _, path = self._files.pop(0)
            path.unlink(missing_ok=True)
            fsync_directory(self.directory)

    def close(self) -> None:
        """Finish in-flight appends and close the active file; later appends raise."""
        with self._cv:
            if self._closed:
                return
            self._closed = True
            while self._flushing or (self._queue and self._failure is None):
                if self._flushing:
                    self._cv.wait()  # woken by each leader as its batch completes
                else:
                    self._lead()  # records submitted by a caller that never waited
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Wal({str(self.directory)!r}, last_lsn={self.last_lsn})"


def _read_file(path: Path, first_lsn: int, after_lsn: int, limit: int,
               ) -> Iterator[tuple[int, bytes]]:
    """Yield the records of one file with after_lsn < lsn <= limit."""
    expected, offset = first_lsn, 0
    with open(path, "rb") as f:
        while expected <= limit:
            header = f.read(HEADER_SIZE)
            if len(header) < HEADER_SIZE:
                if header:
                    raise Corruption(str(path), f"short frame at offset {offset}")
                return  # the file ended; the next file holds `expected`
            magic, length, lsn, crc = HEADER.unpack(header)
            if magic != MAGIC or lsn != expected:
                raise Corruption(str(path), f"bad frame at offset {offset}")
            if lsn <= after_lsn:
                f.seek(length, os.SEEK_CUR)
            else:
                payload = f.read(length)
                if (len(payload) != length
                        or checksum(header[: _CHECKED.size], checksum(payload)) != crc):
                    raise Corruption(str(path), f"bad frame at offset {offset}")
                yield lsn, payload
            offset += HEADER_SIZE + length
            expected += 1
