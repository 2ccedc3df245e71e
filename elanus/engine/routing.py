"""Partition-key routing: which hidden partition each row's key value belongs to.

A collection with a partition key has `num_partitions` hidden partitions; a row goes to slot
`hash(key) % num_partitions`. The hash is a pure function of the key value (64-bit integers are
mixed with the splitmix64 finalizer; strings get a polynomial hash of their UTF-8 bytes, then the
same finalizer), so a WAL replay routes every row exactly as the first apply did and a filter
`key == v` can name the one partition that may hold v. Both run over whole columns in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from elanus.schema.types import single_array

Slots = npt.NDArray[np.int64]

_STRING_BASE = np.uint64(0x100000001B3)  # the FNV prime, as a polynomial base


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finalizer: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _string_hashes(arr: pa.Array) -> npt.NDArray[np.uint64]:
    """sum(byte[i] * BASE**i) mod 2**64 per string, over the column's data buffer at once."""
    arr = arr.cast(pa.large_string())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[start:end] if end > start else \
        np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    out = np.zeros(n, dtype=np.uint64)
    if len(data) == 0:
        return out
    position = np.arange(len(data), dtype=np.int64) - np.repeat(offsets[:-1] - start, lengths)
    # BASE**position by repeated squaring over the bits of position (wrapping mod 2**64).
    powers = np.ones(len(data), dtype=np.uint64)
    square = _STRING_BASE
    bits = position.copy()
    with np.errstate(over="ignore"):
        while bits.any():
            odd = (bits & 1).astype(bool)
            powers[odd] *= square
            square = square * square
            bits >>= 1
        terms = data.astype(np.uint64) * powers
    nonempty = lengths > 0
    sums = np.add.reduceat(terms, (offsets[:-1] - start)[nonempty])
    out[nonempty] = sums + lengths[nonempty].astype(np.uint64)
    return out


def slots(values: pa.Array | pa.ChunkedArray, num_partitions: int) -> Slots:
    """The partition slot (0..num_partitions-1) of every key value."""
    arr = single_array(values)
    if pa.types.is_integer(arr.type):
        raw = pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False).view(np.uint64)
    else:
        raw = _string_hashes(arr)
    hashed = _mix(np.ascontiguousarray(raw, dtype=np.uint64))
    return (hashed % np.uint64(num_partitions)).astype(np.int64)


def slots_of(values: Sequence[Any], key_type: pa.DataType, num_partitions: int) -> set[int]:
    """The slots a list of literal key values (from a filter) can live in."""
    return set(slots(pa.array(list(values), type=key_type), num_partitions).tolist())


def split(slot_of_row: Slots) -> list[tuple[int, npt.NDArray[np.int64]]]:
    """(slot, indices of its rows in their original order) for every slot that has rows."""
    order = np.argsort(slot_of_row, kind="stable")
    ordered = slot_of_row[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ordered)) + 1])
    ends = np.concatenate([starts[1:], [len(order)]])
    return [(int(ordered[s]), order[s:e]) for s, e in zip(starts, ends) if e > s]
