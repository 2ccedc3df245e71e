"""Milvus data types and their Arrow storage types.

The numeric values are Milvus's own (schema.proto DataType), so they cross the wire unchanged.
Storage: scalars map to the matching Arrow primitive; VARCHAR to large_string; JSON to
large_binary holding UTF-8 JSON text; ARRAY to a list of its element type; FLOAT_VECTOR to a
fixed-size list of float32; TIMESTAMPTZ to timestamp[us, UTC]; GEOMETRY to large_binary holding
WKB; FLOAT16, BFLOAT16 and INT8 vectors to fixed-size binary rows of their little-endian values;
BINARY_VECTOR to fixed-size binary rows of dim/8 packed bytes; SPARSE_FLOAT_VECTOR to
large_binary rows of (uint32 index, float32 value) pairs.
"""

from __future__ import annotations

import enum

import pyarrow as pa


class DataType(enum.IntEnum):
    NONE = 0
    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    FLOAT = 10
    DOUBLE = 11
    STRING = 20
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    GEOMETRY = 24
    TEXT = 25
    TIMESTAMPTZ = 26
    BINARY_VECTOR = 100
    FLOAT_VECTOR = 101
    FLOAT16_VECTOR = 102
    BFLOAT16_VECTOR = 103
    SPARSE_FLOAT_VECTOR = 104
    INT8_VECTOR = 105

    @property
    def is_vector(self) -> bool:
        return 100 <= self.value < 200

    @property
    def is_dense_float(self) -> bool:
        """A vector type searched as float32 rows (FLOAT, FLOAT16, BFLOAT16, INT8)."""
        return self in (DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR,
                        DataType.BFLOAT16_VECTOR, DataType.INT8_VECTOR)

    @property
    def is_integer(self) -> bool:
        return self in _INTEGERS

    @property
    def is_floating(self) -> bool:
        return self in (DataType.FLOAT, DataType.DOUBLE)

    @property
    def is_numeric(self) -> bool:
        return self.is_integer or self.is_floating

    @property
    def is_string(self) -> bool:
        return self in (DataType.VARCHAR, DataType.STRING)

    @property
    def milvus_name(self) -> str:
        return _MILVUS_NAMES.get(self, self.name)


_INTEGERS = frozenset({DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64})

_MILVUS_NAMES = {
    DataType.BOOL: "Bool", DataType.INT8: "Int8", DataType.INT16: "Int16",
    DataType.INT32: "Int32", DataType.INT64: "Int64", DataType.FLOAT: "Float",
    DataType.DOUBLE: "Double", DataType.VARCHAR: "VarChar", DataType.ARRAY: "Array",
    DataType.JSON: "JSON", DataType.FLOAT_VECTOR: "FloatVector",
    DataType.BINARY_VECTOR: "BinaryVector", DataType.FLOAT16_VECTOR: "Float16Vector",
    DataType.BFLOAT16_VECTOR: "BFloat16Vector", DataType.SPARSE_FLOAT_VECTOR: "SparseFloatVector",
    DataType.INT8_VECTOR: "Int8Vector", DataType.TIMESTAMPTZ: "Timestamptz",
    DataType.GEOMETRY: "Geometry",
}

# Types this build stores, validates, filters and returns end to end. Others are refused at
# create_collection with a clear error instead of being accepted and mishandled.
SUPPORTED_SCALARS = frozenset({
    DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
    DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR, DataType.JSON, DataType.ARRAY,
    DataType.TIMESTAMPTZ, DataType.GEOMETRY,
})
SUPPORTED_VECTORS = frozenset({DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR,
                               DataType.BFLOAT16_VECTOR, DataType.INT8_VECTOR,
                               DataType.BINARY_VECTOR, DataType.SPARSE_FLOAT_VECTOR})
# Bytes a dimension takes in the fixed-width binary storage of these vector types.
_BYTES_PER_DIM = {DataType.FLOAT16_VECTOR: 2, DataType.BFLOAT16_VECTOR: 2,
                  DataType.INT8_VECTOR: 1}
ARRAY_ELEMENT_TYPES = frozenset({
    DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
    DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR,
})

_SCALAR_ARROW: dict[DataType, pa.DataType] = {
    DataType.BOOL: pa.bool_(),
    DataType.INT8: pa.int8(),
    DataType.INT16: pa.int16(),
    DataType.INT32: pa.int32(),
    DataType.INT64: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.VARCHAR: pa.large_string(),
    DataType.STRING: pa.large_string(),
    DataType.JSON: pa.large_binary(),
    DataType.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    DataType.GEOMETRY: pa.large_binary(),  # WKB
}


def arrow_type(dtype: DataType, dim: int = 0, element_type: DataType = DataType.NONE) -> pa.DataType:
    """The Arrow type a column of `dtype` is stored as."""
    if dtype == DataType.FLOAT_VECTOR:
        return pa.list_(pa.float32(), dim)
    if dtype in _BYTES_PER_DIM or dtype == DataType.BINARY_VECTOR:
        return pa.binary(vector_row_bytes(dtype, dim))
    if dtype == DataType.SPARSE_FLOAT_VECTOR:
        return pa.large_binary()
    if dtype == DataType.ARRAY:
        return pa.large_list(_SCALAR_ARROW[element_type])
    return _SCALAR_ARROW[dtype]


def vector_row_bytes(dtype: DataType, dim: int) -> int:
    """Bytes one row of a fixed-width binary vector column holds."""
    if dtype == DataType.BINARY_VECTOR:
        return dim // 8
    return _BYTES_PER_DIM[dtype] * dim


def single_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one Arrow array: its only chunk as is (combine_chunks copies even then),
    or its chunks joined."""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column
