"""Vector columns as stored, and as the index layer computes on them.

Storage (Arrow): FLOAT_VECTOR is a fixed-size list of float32; FLOAT16, BFLOAT16 and INT8 vectors
are fixed-size binary rows of their little-endian values (2, 2 and 1 bytes a dimension);
BINARY_VECTOR rows are dim/8 bytes of packed bits; SPARSE_FLOAT_VECTOR rows are variable-length
binary holding (uint32 index, float32 value) pairs sorted by index, the layout Milvus clients
send. Every view here reads the column's buffers in place: no per-row Python work.

Search runs on float32 for every dense type (the half-precision and int8 values convert
exactly), on packed uint8 rows for binary vectors, and on CSR arrays for sparse vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from elanus.schema.types import DataType, single_array

FloatRows = npt.NDArray[np.float32]
ByteRows = npt.NDArray[np.uint8]
SPARSE_PAIR = np.dtype([("index", "<u4"), ("value", "<f4")])


@dataclass(frozen=True)
class SparseRows:
    """Sparse vectors in CSR form: row i holds indices[indptr[i]:indptr[i+1]] (sorted) and
    their values."""

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.uint32]
    values: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def row_of_entry(self) -> npt.NDArray[np.int64]:
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))

    @classmethod
    def from_pairs(cls, data: bytes | memoryview | npt.NDArray[np.uint8],
                   offsets: npt.NDArray[np.int64]) -> SparseRows:
        """Rows from concatenated pair bytes and the byte offset where each row starts."""
        pairs = np.frombuffer(data, dtype=SPARSE_PAIR, count=len(data) // 8)
        indptr = (offsets - offsets[0]) // 8
        return cls(indptr.astype(np.int64), pairs["index"], pairs["value"])


def vector_view(column: pa.ChunkedArray | pa.Array, dim: int) -> npt.NDArray[np.float32]:
    """A (rows, dim) float32 view of a fixed-size-list column, zero-copy when possible."""
    arr = single_array(column)
    if len(arr) == 0:
        return np.empty((0, dim), dtype=np.float32)
    flat = arr.flatten() if arr.offset else arr.values
    out: npt.NDArray[np.float32] = flat.to_numpy(zero_copy_only=False).reshape(-1, dim)
    return out


def _binary_values(column: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, ByteRows]:
    arr = single_array(column)
    width = arr.type.byte_width
    data = arr.buffers()[1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, np.uint8)
    start = arr.offset * width
    return arr, raw[start: start + len(arr) * width]


def fixed_rows(column: pa.Array | pa.ChunkedArray) -> ByteRows:
    """The (rows, width) bytes of a fixed-size binary column, read in place."""
    arr, raw = _binary_values(column)
    width = arr.type.byte_width
    return raw.reshape(len(arr), width) if width else raw.reshape(len(arr), 0)


def decode_dense(raw: ByteRows, dtype: DataType) -> FloatRows:
    """float32 rows from the stored bytes of a FLOAT16, BFLOAT16 or INT8 vector column."""
    flat = np.ascontiguousarray(raw).reshape(-1)
    if dtype == DataType.FLOAT16_VECTOR:
        values = flat.view("<f2").astype(np.float32)
    elif dtype == DataType.BFLOAT16_VECTOR:
        values = (flat.view("<u2").astype(np.uint32) << 16).view(np.float32)
    elif dtype == DataType.INT8_VECTOR:
        values = flat.view(np.int8).astype(np.float32)
    else:
        raise ValueError(f"{dtype.name} is not stored as fixed-width bytes")
    return values.reshape(len(raw), -1)


def encode_dense(values: FloatRows, dtype: DataType) -> ByteRows:
    """Stored bytes (one row each) of float32 rows: rounded to float16 or bfloat16 (to nearest,
    ties to even), or checked and cast to int8."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if dtype == DataType.FLOAT16_VECTOR:
        with np.errstate(over="ignore"):
            out = values.astype("<f2")
        if not np.isfinite(out).all():
            raise ValueError("a value is out of the float16 range or not finite")
        return out.view(np.uint8).reshape(len(values), -1)
    if dtype == DataType.BFLOAT16_VECTOR:
        if not np.isfinite(values).all():
            raise ValueError("a value is not finite")
        bits = values.view(np.uint32).astype(np.uint64)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        if (rounded & 0x7F80 == 0x7F80).any():
            raise ValueError("a value is out of the bfloat16 range")
        return rounded.astype("<u2").view(np.uint8).reshape(len(values), -1)
    if dtype == DataType.INT8_VECTOR:
        if not (np.isfinite(values).all() and (values == np.round(values)).all()
                and (values >= -128).all() and (values <= 127).all()):
            raise ValueError("int8 vector values must be integers in [-128, 127]")
        return values.astype(np.int8).view(np.uint8).reshape(len(values), -1)
    raise ValueError(f"{dtype.name} is not stored as fixed-width bytes")


def sparse_rows(column: pa.Array | pa.ChunkedArray) -> SparseRows:
    """CSR view of a sparse vector column (large_binary of index/value pairs), in place."""
    arr = single_array(column)
    arr = arr.cast(pa.large_binary())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    if n == 0 or offsets[-1] == offsets[0]:
        return SparseRows(np.zeros(n + 1, np.int64), np.empty(0, np.uint32),
                          np.empty(0, np.float32))
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
    return SparseRows.from_pairs(data, offsets)


def sparse_column(rows: SparseRows) -> pa.Array:
    """CSR rows as a stored SPARSE_FLOAT_VECTOR column (rows of (uint32, float32) pairs)."""
    pairs = np.empty(len(rows.indices), dtype=SPARSE_PAIR)
    pairs["index"], pairs["value"] = rows.indices, rows.values
    offsets = pa.py_buffer((rows.indptr * SPARSE_PAIR.itemsize).astype(np.int64))
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(rows), [
        None, offsets, pa.py_buffer(pairs.tobytes())])


def check_sparse(rows: SparseRows) -> str:
    """Why these sparse rows are invalid, or "" (Milvus's rules: indices strictly increasing
    within a row and below 2**32-1, values finite)."""
    if len(rows.values) and not np.isfinite(rows.values).all():
        return "sparse vector values must be finite"
    if len(rows.indices) and (rows.indices == np.uint32(0xFFFFFFFF)).any():
        return "sparse vector index must be less than 2^32-1"
    if len(rows.indices) > 1:
        rising = np.diff(rows.indices.astype(np.int64)) > 0
        starts = rows.indptr[1:-1]
        starts = starts[(starts > 0) & (starts < len(rows.indices))]
        rising[starts - 1] = True  # a new row may start lower
        if not rising.all():
            return "sparse vector indices must be unique and sorted in ascending order"
    return ""
