"""objectstore.py: the local object store behind the ObjectStore seam."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from elanus.errors import InvalidArgument
from elanus.storage.objectstore import LocalObjectStore, ObjectStore


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return LocalObjectStore(tmp_path / "objects")


def test_put_get_exists_delete_round_trip(store: ObjectStore) -> None:
    store.put("collections/1/segments/7.arrow", b"abc")
    assert store.exists("collections/1/segments/7.arrow")
    assert store.get("collections/1/segments/7.arrow") == b"abc"
    store.put("collections/1/segments/7.arrow", memoryview(b"replaced"))
    assert store.get("collections/1/segments/7.arrow") == b"replaced"
    store.delete("collections/1/segments/7.arrow")
    assert not store.exists("collections/1/segments/7.arrow")
    store.delete("collections/1/segments/7.arrow")  # idempotent, as S3


def test_get_of_a_missing_key_raises_file_not_found(store: ObjectStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.get("nope/never")


def test_list_matches_a_plain_string_prefix_in_sorted_order(store: ObjectStore) -> None:
    keys = ["c/1/s/2.arrow", "c/1/s/10.arrow", "c/1/index/2.idx", "c/12/s/1.arrow", "top"]
    for k in keys:
        store.put(k, k.encode())
    assert store.list() == sorted(keys)
    assert store.list("c/1/") == ["c/1/index/2.idx", "c/1/s/10.arrow", "c/1/s/2.arrow"]
    assert store.list("c/1") == sorted(k for k in keys if k.startswith("c/1"))
    assert store.list("c/1/s/1") == ["c/1/s/10.arrow"]
    assert store.list("c/9/") == []
    assert store.list("t") == ["top"]


def test_list_skips_leftover_temp_files(store: ObjectStore, tmp_path: Path) -> None:
    store.put("a/b", b"1")
    (tmp_path / "objects" / "a" / ".b.0123.tmp").write_bytes(b"half")
    assert store.list("") == ["a/b"]


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "..", "a/.hidden", "a/", "a\\b"])
def test_malformed_keys_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidArgument):
        store.put(key, b"x")


def test_open_path_names_the_local_file(store: ObjectStore) -> None:
    store.put("x/y", b"mapped")
    path = store.open_path("x/y")
    assert path is not None and path.read_bytes() == b"mapped"


def test_put_syncs_file_and_directory(store: ObjectStore,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    store.put("k", b"v")
    assert len(calls) >= 2
