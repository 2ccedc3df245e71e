"""files.py: checksums and atomic, durable file replacement."""

from __future__ import annotations

import os
import stat
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elanus.storage.files import checksum, ensure_directory, replace_atomically


@given(st.binary(), st.binary())
def test_checksum_is_crc32_and_continues_across_pieces(a: bytes, b: bytes) -> None:
    assert checksum(a + b) == zlib.crc32(a + b)
    assert checksum(b, checksum(a)) == checksum(a + b)
    assert checksum(memoryview(a)) == checksum(a)


@pytest.mark.parametrize("size", [64 << 10, (3 << 20) + 13])
def test_checksum_of_large_and_unaligned_buffers_is_zlibs(size: int) -> None:
    """Files written by any build verify: large buffers take the library's vector path, and a
    memory map's slices need not start on an aligned address."""
    data = os.urandom(size)
    assert checksum(data) == zlib.crc32(data)
    assert checksum(memoryview(data)[7:]) == zlib.crc32(data[7:])
    assert checksum(data[size // 2:], checksum(data[: size // 2])) == zlib.crc32(data)


def test_replace_atomically_writes_then_overwrites_leaving_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    replace_atomically(target, b"old")
    replace_atomically(target, b"new bytes")
    assert target.read_bytes() == b"new bytes"
    assert os.listdir(tmp_path) == ["meta.json"]


def test_replace_atomically_syncs_file_then_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    synced_dirs: list[bool] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced_dirs.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    replace_atomically(tmp_path / "f", b"x")
    assert synced_dirs == [False, True]


def test_replace_atomically_keeps_old_content_when_the_write_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    replace_atomically(target, b"old")

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "EIO")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        replace_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_ensure_directory_creates_missing_parents(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    ensure_directory(deep)
    ensure_directory(deep)  # existing: no error
    assert deep.is_dir()
