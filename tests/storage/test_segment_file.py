"""segment_file.py: sealed segments and blobs are verified on every read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from elanus.errors import Corruption
from elanus.storage.objectstore import LocalObjectStore
from elanus.storage.segment_file import (
    read_blob,
    read_segment,
    verified_blob_path,
    write_blob,
    write_segment,
)

KEY = "collections/1/segments/1.arrow"


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path)


def sample_table(n: int = 100, dim: int = 4) -> pa.Table:
    rng = np.random.default_rng(0)
    vectors = rng.random((n, dim), dtype=np.float32)
    return pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "title": pa.array([f"row {i}" if i % 3 else None for i in range(n)], pa.large_string()),
        "vec": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
        "$ts": pa.array(np.full(n, 42, dtype=np.uint64)),
    })


@pytest.mark.parametrize("mmap", [True, False])
def test_segment_round_trips(store: LocalObjectStore, mmap: bool) -> None:
    table = sample_table()
    info = write_segment(store, KEY, table)
    assert (info.key, info.num_rows) == (KEY, 100)
    assert info.size == (store.root / KEY).stat().st_size
    assert read_segment(store, KEY, size=info.size, checksum=info.checksum, mmap=mmap) == table


def test_empty_segment_round_trips(store: LocalObjectStore) -> None:
    table = sample_table(0)
    info = write_segment(store, KEY, table)
    got = read_segment(store, KEY, size=info.size, checksum=info.checksum)
    assert got.num_rows == 0 and got.schema == table.schema


def test_memory_mapped_read_does_not_copy_columns(store: LocalObjectStore) -> None:
    table = sample_table(200_000, 16)
    info = write_segment(store, KEY, table)
    before = pa.total_allocated_bytes()
    got = read_segment(store, KEY, size=info.size, checksum=info.checksum, mmap=True)
    assert pa.total_allocated_bytes() - before < info.size // 10
    assert got.num_rows == 200_000


def test_every_flipped_byte_is_corruption_naming_the_key(store: LocalObjectStore) -> None:
    info = write_segment(store, KEY, sample_table(5))
    path = store.root / KEY
    pristine = path.read_bytes()
    for offset in range(len(pristine)):
        damaged = bytearray(pristine)
        damaged[offset] ^= 0x01
        path.write_bytes(bytes(damaged))
        for mmap in (True, False):
            with pytest.raises(Corruption) as err:
                read_segment(store, KEY, size=info.size, checksum=info.checksum, mmap=mmap)
            assert err.value.what == KEY


def test_truncated_missing_and_undecodable_segments_are_corruption(
        store: LocalObjectStore) -> None:
    info = write_segment(store, KEY, sample_table())
    path = store.root / KEY
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(Corruption, match="size"):
        read_segment(store, KEY, size=info.size, checksum=info.checksum)
    path.write_bytes(b"")
    with pytest.raises(Corruption, match="size"):
        read_segment(store, KEY, size=info.size, checksum=info.checksum)
    path.unlink()
    with pytest.raises(Corruption, match="missing"):
        read_segment(store, KEY, size=info.size, checksum=info.checksum)
    # Intact bytes (matching size and checksum) that are not an Arrow file.
    blob = write_blob(store, KEY, b"not an arrow file at all")
    for mmap in (True, False):
        with pytest.raises(Corruption, match="undecodable") as err:
            read_segment(store, KEY, size=blob.size, checksum=blob.checksum, mmap=mmap)
        assert err.value.what == KEY


def test_blob_round_trips_and_damage_is_corruption(store: LocalObjectStore) -> None:
    key = "collections/1/index/1/vec.hnsw"
    data = bytes(range(256)) * 10
    info = write_blob(store, key, data)
    assert (info.key, info.size) == (key, len(data))
    assert read_blob(store, key, info.size, info.checksum) == data
    with pytest.raises(Corruption, match="checksum"):
        read_blob(store, key, info.size, info.checksum ^ 1)
    with pytest.raises(Corruption, match="size"):
        read_blob(store, key, info.size + 1, info.checksum)
    store.delete(key)
    with pytest.raises(Corruption, match="missing") as err:
        read_blob(store, key, info.size, info.checksum)
    assert err.value.what == key


def test_a_blob_path_is_given_only_once_verified(store: LocalObjectStore) -> None:
    key = "collections/1/indexes/v/1.faiss"
    data = bytes(range(256)) * 10
    info = write_blob(store, key, data)
    path = verified_blob_path(store, key, info.size, info.checksum)
    assert path is not None and path.read_bytes() == data
    with pytest.raises(Corruption, match="checksum"):
        verified_blob_path(store, key, info.size, info.checksum ^ 1)
    with pytest.raises(Corruption, match="size"):
        verified_blob_path(store, key, info.size + 1, info.checksum)
    store.delete(key)
    with pytest.raises(Corruption, match="missing"):
        verified_blob_path(store, key, info.size, info.checksum)
