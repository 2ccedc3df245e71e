"""wal.py: framing, recovery after a crash, group commit, rotation and truncation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elanus.errors import Corruption, InternalError, InvalidArgument
from elanus.storage import wal as wal_module
from elanus.storage.wal import HEADER_SIZE, Wal, file_name


def wal_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


def records(w: Wal, after: int = 0) -> list[tuple[int, bytes]]:
    return list(w.replay(after))


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def test_append_numbers_records_from_one_and_replays_them(tmp_path: Path) -> None:
    with Wal.open(tmp_path) as w:
        assert w.last_lsn == 0
        assert [w.append(p) for p in (b"a", b"", b"ccc")] == [1, 2, 3]
        assert w.last_lsn == 3
        assert records(w) == [(1, b"a"), (2, b""), (3, b"ccc")]
        assert records(w, after=2) == [(3, b"ccc")]
        assert records(w, after=3) == []
    assert [p.name for p in wal_files(tmp_path)] == ["00000000000000000001.wal"]


def test_lsns_continue_after_reopen(tmp_path: Path) -> None:
    with Wal.open(tmp_path) as w:
        w.append(b"one")
        w.append(b"two")
    with Wal.open(tmp_path) as w:
        assert w.last_lsn == 2
        assert w.append(b"three") == 3
    with Wal.open(tmp_path) as w:
        assert records(w) == [(1, b"one"), (2, b"two"), (3, b"three")]


@settings(max_examples=40, deadline=None)
@given(payloads=st.lists(st.binary(max_size=300), max_size=30),
       file_bytes=st.sampled_from([HEADER_SIZE + 1, 200, 1000, 64 << 20]),
       after=st.integers(min_value=0, max_value=35))
def test_every_appended_record_replays_after_reopen(payloads: list[bytes], file_bytes: int,
                                                     after: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with Wal.open(directory, file_bytes=file_bytes) as w:
            lsns = [w.append(p) for p in payloads]
        assert lsns == list(range(1, len(payloads) + 1))
        with Wal.open(directory, file_bytes=file_bytes) as w:
            assert w.last_lsn == len(payloads)
            assert records(w) == list(zip(lsns, payloads, strict=True))
            assert records(w, after) == list(zip(lsns, payloads, strict=True))[after:]
        for path in wal_files(directory):
            assert path.stat().st_size <= file_bytes or len(records_in(path)) == 1


def records_in(path: Path) -> list[int]:
    """LSNs framed in one file, read without the Wal class."""
    data, offset, lsns = path.read_bytes(), 0, []
    while offset < len(data):
        _, length, lsn, _ = wal_module.HEADER.unpack_from(data, offset)
        lsns.append(lsn)
        offset += HEADER_SIZE + length
    return lsns


def test_rotation_starts_files_named_by_their_first_lsn(tmp_path: Path) -> None:
    with Wal.open(tmp_path, file_bytes=100) as w:
        for i in range(10):
            w.append(bytes([i]) * 30)  # 50-byte frames: two per file
        w.append(b"x" * 500)  # larger than a file: gets one to itself
        w.append(b"y")
        files = wal_files(tmp_path)
        assert [p.name for p in files] == [file_name(n) for n in (1, 3, 5, 7, 9, 11, 12)]
        for path in files:
            assert records_in(path)[0] == int(path.stem)
        assert [lsn for lsn, _ in records(w)] == list(range(1, 13))
    with Wal.open(tmp_path, file_bytes=100) as w:
        assert w.append(b"z") == 13
        assert records(w, 10) == [(11, b"x" * 500), (12, b"y"), (13, b"z")]


def test_truncate_before_deletes_only_whole_older_files(tmp_path: Path) -> None:
    with Wal.open(tmp_path, file_bytes=100) as w:
        for i in range(10):
            w.append(bytes([i]) * 30)  # files start at 1, 3, 5, 7, 9
        w.truncate_before(4)  # file 3 holds lsn 4: kept
        assert [p.name for p in wal_files(tmp_path)] == [file_name(n) for n in (3, 5, 7, 9)]
        assert [lsn for lsn, _ in records(w)] == list(range(3, 11))
        w.truncate_before(1_000)  # never the active file
        assert [p.name for p in wal_files(tmp_path)] == [file_name(9)]
    with Wal.open(tmp_path, file_bytes=100) as w:
        assert w.last_lsn == 10
        assert [lsn for lsn, _ in records(w)] == [9, 10]
        assert w.append(b"next") == 11


def test_truncate_before_syncs_the_directory(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with Wal.open(tmp_path, file_bytes=100) as w:
        for i in range(6):
            w.append(bytes([i]) * 30)
        synced: list[int] = []
        monkeypatch.setattr(wal_module, "fsync_directory", lambda p: synced.append(1))
        w.truncate_before(5)
        assert len(synced) == 2  # one per deleted file, in order


# -- recovery ----------------------------------------------------------------------------------


def last_frame_bounds(directory: Path) -> tuple[Path, int, int]:
    path = wal_files(directory)[-1]
    lsns = records_in(path)
    data, offset = path.read_bytes(), 0
    for _ in lsns[:-1]:
        offset += HEADER_SIZE + wal_module.HEADER.unpack_from(data, offset)[1]
    return path, offset, len(data)


def test_torn_last_frame_is_cut_at_every_byte_offset(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    payloads = [b"first", b"second" * 10, b"third", b"last record, torn by a crash"]
    with Wal.open(pristine) as w:
        for p in payloads:
            w.append(p)
    _, start, end = last_frame_bounds(pristine)
    for cut in range(start, end):
        crashed = tmp_path / f"cut{cut}"
        shutil.copytree(pristine, crashed)
        os.truncate(wal_files(crashed)[-1], cut)
        with Wal.open(crashed) as w:
            assert w.last_lsn == 3, cut
            assert records(w) == list(enumerate(payloads[:3], start=1)), cut
            assert wal_files(crashed)[-1].stat().st_size == start
            assert w.append(b"after restart") == 4
        with Wal.open(crashed) as w:
            assert records(w)[-1] == (4, b"after restart")
        shutil.rmtree(crashed)


def test_checksum_failing_last_frame_is_cut(tmp_path: Path) -> None:
    with Wal.open(tmp_path) as w:
        for p in (b"kept", b"kept too", b"never acknowledged"):
            w.append(p)
    path, start, end = last_frame_bounds(tmp_path)
    flip_byte(path, end - 3)
    with Wal.open(tmp_path) as w:
        assert records(w) == [(1, b"kept"), (2, b"kept too")]
        assert path.stat().st_size == start


def test_unwritten_batch_read_back_as_zeros_is_cut(tmp_path: Path) -> None:
    # A crash mid-batch can leave the file longer than its data, the rest zeros.
    with Wal.open(tmp_path) as w:
        for i in range(10):
            w.append(b"%d" % i * 20)
    path = wal_files(tmp_path)[0]
    data = path.read_bytes()
    keep = 7 * (HEADER_SIZE + 20)
    path.write_bytes(data[:keep] + bytes(len(data) - keep + 4096))
    with Wal.open(tmp_path) as w:
        assert w.last_lsn == 7
        assert path.stat().st_size == keep


def test_bit_flip_in_a_middle_frame_raises_corruption_naming_file_and_offset(
        tmp_path: Path) -> None:
    with Wal.open(tmp_path) as w:
        for p in (b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10):
            w.append(p)
    path = wal_files(tmp_path)[0]
    second = HEADER_SIZE + 10
    for offset in range(second, second + HEADER_SIZE + 10):
        flip_byte(path, offset)
        with pytest.raises(Corruption) as err:
            Wal.open(tmp_path)
        assert err.value.what == str(path)
        assert f"offset {second}" in str(err.value)
        flip_byte(path, offset)  # restore
    Wal.open(tmp_path).close()


def test_bad_frame_in_an_older_file_is_corruption_even_at_its_end(tmp_path: Path) -> None:
    with Wal.open(tmp_path, file_bytes=100) as w:
        for i in range(6):
            w.append(bytes([i]) * 30)
    older = wal_files(tmp_path)[1]
    flip_byte(older, older.stat().st_size - 1)
    with pytest.raises(Corruption) as err:
        Wal.open(tmp_path, file_bytes=100)
    assert err.value.what == str(older)


def test_missing_middle_file_is_corruption(tmp_path: Path) -> None:
    with Wal.open(tmp_path, file_bytes=100) as w:
        for i in range(6):
            w.append(bytes([i]) * 30)
    wal_files(tmp_path)[1].unlink()
    with pytest.raises(Corruption, match="expected 3"):
        Wal.open(tmp_path, file_bytes=100)


def test_replay_detects_a_frame_damaged_after_open(tmp_path: Path) -> None:
    with Wal.open(tmp_path) as w:
        w.append(b"x" * 50)
        w.append(b"y" * 50)
        flip_byte(wal_files(tmp_path)[0], HEADER_SIZE + 5)
        with pytest.raises(Corruption):
            records(w)


_CRASHING_WRITER = """
import sys, threading
from pathlib import Path
from elanus.storage.wal import Wal
w = Wal.open(Path(sys.argv[1]), file_bytes=4096)
out = threading.Lock()
def run(t):
    for i in range(100000):
        payload = b"t%d-%d" % (t, i) * (1 + i % 7)
        lsn = w.append(payload)
        with out:
            sys.stdout.write("%d %s\\n" % (lsn, payload.hex()))
            sys.stdout.flush()
for t in range(4):
    threading.Thread(target=run, args=(t,)).start()
"""


def test_kill_9_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _CRASHING_WRITER, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    acknowledged: dict[int, bytes] = {}
    try:
        assert proc.stdout is not None
        while len(acknowledged) < 300:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            lsn, hexed = line.split()
            acknowledged[int(lsn)] = bytes.fromhex(hexed)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    with Wal.open(tmp_path, file_bytes=4096) as w:
        recovered = dict(records(w))
        assert sorted(recovered) == list(range(1, w.last_lsn + 1))
    for lsn, payload in acknowledged.items():
        assert recovered[lsn] == payload


# -- group commit ------------------------------------------------------------------------------


@pytest.fixture
def slow_syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count fsync/fdatasync calls, each taking 2 ms as on a real disk."""
    calls: list[int] = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name, None)
        if real is None:
            continue

        def slow(fd: int, real=real) -> None:  # type: ignore[no-untyped-def]
            calls.append(fd)
            real(fd)
            time.sleep(0.002)

        monkeypatch.setattr(os, name, slow)
    return calls


def test_concurrent_appends_share_fsyncs_and_land_once_each(tmp_path: Path,
                                                            slow_syncs: list[int]) -> None:
    threads, per_thread = 8, 50
    with Wal.open(tmp_path) as w:
        slow_syncs.clear()
        got: dict[int, bytes] = {}
        mu = threading.Lock()
        start = threading.Barrier(threads)

        def appender(t: int) -> None:
            start.wait()
            mine = []
            for i in range(per_thread):
                payload = b"thread %d record %d" % (t, i)
                lsn = w.append(payload)
                mine.append(lsn)
                with mu:
                    got[lsn] = payload
            assert mine == sorted(mine)

        workers = [threading.Thread(target=appender, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        total = threads * per_thread
        assert sorted(got) == list(range(1, total + 1))
        assert len(slow_syncs) < total / 2, f"{len(slow_syncs)} syncs for {total} records"
        assert records(w) == sorted(got.items())
    with Wal.open(tmp_path) as w:
        assert records(w) == sorted(got.items())


def test_a_failed_sync_fails_the_log_until_reopened(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    w = Wal.open(tmp_path)
    w.append(b"durable")

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(InternalError):
        w.append(b"unknown fate")
    monkeypatch.undo()
    with pytest.raises(InternalError):
        w.append(b"refused")
    w.close()
    with Wal.open(tmp_path) as w:
        assert records(w)[0] == (1, b"durable")


def test_append_after_close_raises(tmp_path: Path) -> None:
    w = Wal.open(tmp_path)
    w.close()
    w.close()
    with pytest.raises(InternalError):
        w.append(b"late")


def test_oversized_payload_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wal_module, "MAX_PAYLOAD", 10)
    with Wal.open(tmp_path) as w:
        with pytest.raises(InvalidArgument):
            w.append(b"x" * 11)
        assert w.append(b"x" * 10) == 1


def test_a_256_mb_record_round_trips(tmp_path: Path) -> None:
    big = bytearray(256 << 20)
    big[::4096] = b"\x07" * len(range(0, 256 << 20, 4096))
    with Wal.open(tmp_path) as w:
        w.append(b"small")
        assert w.append(big) == 2
        w.append(b"after")
    with Wal.open(tmp_path) as w:
        (lsn, payload), = records(w, after=1)[:1]
        assert lsn == 2 and payload == big
        assert records(w, after=2) == [(3, b"after")]
