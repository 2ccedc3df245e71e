"""Column data between Milvus FieldData messages and Arrow arrays.

Packed fixed-width repeated fields (float vectors, floats, doubles) cross as raw bytes: the
serialized form of a packed `repeated float` is a tag, a length and the little-endian values, so
numpy reads it (and protobuf parses it back) without a Python object per value. Variable-width
values (strings, JSON, arrays) go through one list per column.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pymilvus.grpc_gen import schema_pb2

from elanus.errors import DataInvalid, UnexpectedError, Unsupported
from elanus.schema import (
    DYNAMIC_FIELD,
    DataType,
    FieldSchema,
    arrow_type,
    geometry,
    timestamps,
    vector_row_bytes,
)
from elanus.schema.types import single_array
from elanus.schema.vectors import fixed_rows, sparse_rows, vector_view

# ScalarField member holding each scalar type, as Milvus lays it out.
_SCALAR_MEMBER = {
    DataType.BOOL: "bool_data", DataType.INT8: "int_data", DataType.INT16: "int_data",
    DataType.INT32: "int_data", DataType.INT64: "long_data", DataType.FLOAT: "float_data",
    DataType.DOUBLE: "double_data", DataType.VARCHAR: "string_data",
    DataType.STRING: "string_data", DataType.JSON: "json_data", DataType.ARRAY: "array_data",
    DataType.TIMESTAMPTZ: "string_data",  # ISO 8601 text both ways, as pymilvus sends and reads
    DataType.GEOMETRY: "geometry_wkt_data",  # WKT text both ways; WKB (geometry_data) also read
}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _packed_payload(message: Any) -> bytes:
    """The value bytes of a message whose only field is a packed repeated fixed-width field."""
    raw: bytes = message.SerializeToString()
    if not raw:
        return b""
    pos = 1  # skip the tag byte of field 1
    while raw[pos] & 0x80:
        pos += 1
    return raw[pos + 1:]


def packed_floats(message: Any, dtype: type = np.float32) -> npt.NDArray[Any]:
    return np.frombuffer(_packed_payload(message), dtype=dtype)


def floats_message(cls: Any, values: npt.NDArray[Any]) -> Any:
    """Build a message of `cls` (e.g. FloatArray) whose packed field 1 holds `values`."""
    data = np.ascontiguousarray(values).tobytes()
    if not data:
        return cls()
    return cls.FromString(b"\x0a" + _varint(len(data)) + data)


# -- decoding (requests) -----------------------------------------------------------------


_BYTE_VECTORS = {DataType.FLOAT16_VECTOR: "float16_vector",
                 DataType.BFLOAT16_VECTOR: "bfloat16_vector", DataType.INT8_VECTOR: "int8_vector",
                 DataType.BINARY_VECTOR: "binary_vector"}


def decode_column(fd: schema_pb2.FieldData, f: FieldSchema | None, num_rows: int) -> pa.Array:
    """One FieldData as an Arrow array: float vectors as fixed-size lists of float32 (also
    when a client sends float values for a float16, bfloat16 or int8 field), other vectors as
    their stored bytes, scalars as their storage type."""
    dtype = DataType(fd.type)
    if dtype.is_vector:  # a nullable field's vectors come only for its valid rows
        return _with_validity(_decode_vectors(fd, f, dtype), list(fd.valid_data), num_rows,
                              fd.field_name)
    member = _SCALAR_MEMBER.get(dtype)
    if member is None:
        raise Unsupported(f"data type {dtype.milvus_name} is not supported by this elanus build yet")
    if dtype == DataType.GEOMETRY and fd.scalars.WhichOneof("data") == "geometry_data":
        member = "geometry_data"
    scalars = getattr(fd.scalars, member)
    valid = list(fd.valid_data)
    if dtype == DataType.ARRAY:
        element = DataType(scalars.element_type or (f.element_type if f else 0))
        lists = [_scalar_list(v, element) for v in scalars.data]
        arr = pa.array(lists, type=arrow_type(DataType.ARRAY, element_type=element))
    elif dtype in (DataType.FLOAT, DataType.DOUBLE):
        arr = pa.array(packed_floats(scalars, np.float32 if dtype == DataType.FLOAT else np.float64))
    elif member == "geometry_data":
        arr = pa.array(list(scalars.data), type=pa.large_binary())
    else:
        arr = pa.array(list(scalars.data), type=_wire_type(dtype))
    return _with_validity(arr, valid, num_rows, fd.field_name)


def _decode_vectors(fd: schema_pb2.FieldData, f: FieldSchema | None, dtype: DataType) -> pa.Array:
    kind = fd.vectors.WhichOneof("data")
    if dtype == DataType.SPARSE_FLOAT_VECTOR:
        return pa.array(list(fd.vectors.sparse_float_vector.contents), type=pa.large_binary())
    if kind == "float_vector" or (kind is None and dtype == DataType.FLOAT_VECTOR):
        dim = int(fd.vectors.dim)
        values = packed_floats(fd.vectors.float_vector)
        if f is not None and f.dim and len(values) % f.dim:
            raise UnexpectedError(f"the length({len(values)}) of float data should divide the "
                                  f"dim({f.dim})")
        if dim <= 0 or len(values) % dim:
            raise DataInvalid(f"the float vector data of field {fd.field_name} has "
                              f"{len(values)} values, not a multiple of dim {dim}")
        return pa.FixedSizeListArray.from_arrays(pa.array(values), dim)
    member = _BYTE_VECTORS.get(dtype)
    if member is None or kind not in (member, None):
        raise DataInvalid(f"the vector data of field {fd.field_name} ({kind}) does not match "
                          f"its type {dtype.milvus_name}")
    data: bytes = getattr(fd.vectors, member)
    dim = int(fd.vectors.dim) or (f.dim if f is not None else 0)
    width = vector_row_bytes(dtype, dim) if dim > 0 else 0
    if width <= 0 or len(data) % width:
        raise DataInvalid(f"the {dtype.milvus_name} data of field {fd.field_name} has "
                          f"{len(data)} bytes, not a whole number of rows of dim {dim}")
    return pa.Array.from_buffers(pa.binary(width), len(data) // width,
                                 [None, pa.py_buffer(data)])


def _wire_type(dtype: DataType) -> pa.DataType:
    if dtype in (DataType.INT8, DataType.INT16, DataType.INT32):
        return pa.int32()
    if dtype in (DataType.TIMESTAMPTZ, DataType.GEOMETRY):
        return pa.large_string()
    return arrow_type(dtype)


def _scalar_list(field: schema_pb2.ScalarField, element: DataType) -> list[Any]:
    member = _SCALAR_MEMBER.get(element)
    if member is None:
        raise DataInvalid(f"unsupported array element type {element}")
    return list(getattr(field, member).data)


def _with_validity(arr: pa.Array, valid: list[bool], num_rows: int, name: str) -> pa.Array:
    if not valid:
        return arr
    mask = np.asarray(valid, dtype=bool)
    if len(mask) != num_rows:
        raise DataInvalid(f"the length of valid_data of field({name}) is wrong")
    if len(arr) == num_rows:
        return pc.if_else(pa.array(mask), arr, pa.nulls(num_rows, arr.type))
    # Milvus clients send only the valid values; spread them over the rows.
    if len(arr) != int(mask.sum()):
        raise DataInvalid(f"the length of valid_data of field({name}) is wrong")
    if len(arr) == 0:
        return pa.nulls(num_rows, arr.type)
    positions = np.cumsum(mask) - 1
    taken = arr.take(pa.array(np.where(mask, positions, 0)))
    return pc.if_else(pa.array(mask), taken, pa.nulls(num_rows, arr.type))


def decode_columns(fields_data: Any, schema_field: Any, num_rows: int) -> dict[str, pa.Array]:
    """All FieldData of an insert/upsert, keyed by field name ("$meta" for dynamic data)."""
    out: dict[str, pa.Array] = {}
    for fd in fields_data:
        name = DYNAMIC_FIELD if fd.is_dynamic else fd.field_name
        if name in out:
            raise DataInvalid(f"duplicated field name {name} in insert data")
        out[name] = decode_column(fd, schema_field(name), num_rows)
    return out


# -- encoding (results) ------------------------------------------------------------------


def encode_column(name: str, f: FieldSchema | None, col: pa.Array | pa.ChunkedArray,
                  timezone: str = timestamps.UTC) -> schema_pb2.FieldData:
    """An Arrow column as the FieldData Milvus would return for field `f` (TIMESTAMPTZ values
    written in `timezone`)."""
    arr = single_array(col)
    if f is not None and f.dtype == DataType.TIMESTAMPTZ:
        arr = timestamps.render(arr, timezone)
    elif f is not None and f.dtype == DataType.GEOMETRY:
        arr = geometry.render(arr)
    if f is None:  # the dynamic field
        fd = schema_pb2.FieldData(type=DataType.JSON, field_name=name, is_dynamic=True)
        fd.scalars.json_data.data.extend(arr.fill_null(b"{}").to_pylist())
        return fd
    fd = schema_pb2.FieldData(type=int(f.dtype), field_name=name, field_id=f.field_id)
    if f.dtype.is_vector:  # a nullable field sends vectors for its valid rows only
        if f.nullable:
            valid = arr.is_valid()
            fd.valid_data.extend(valid.to_numpy(zero_copy_only=False).tolist())
            arr = arr.filter(valid) if arr.null_count else arr
        _encode_vectors(fd, f, arr)
        return fd
    if f.nullable:
        fd.valid_data.extend(arr.is_valid().to_numpy(zero_copy_only=False).tolist())
    member = getattr(fd.scalars, _SCALAR_MEMBER[f.dtype])
    if f.dtype in (DataType.FLOAT, DataType.DOUBLE):
        np_type = np.float32 if f.dtype == DataType.FLOAT else np.float64
        filled = arr.fill_null(0).to_numpy(zero_copy_only=False).astype(np_type)
        msg = schema_pb2.FloatArray if f.dtype == DataType.FLOAT else schema_pb2.DoubleArray
        member.CopyFrom(floats_message(msg, filled))
    elif f.dtype == DataType.ARRAY:
        member.element_type = int(f.element_type)
        elem_member = _SCALAR_MEMBER[f.element_type]
        for value in arr.to_pylist():
            sf = member.data.add()
            getattr(sf, elem_member).data.extend(value or [])
    else:
        filled = arr.fill_null(_null_fill(f.dtype)) if arr.null_count else arr
        member.data.extend(filled.to_pylist())
    return fd


def _encode_vectors(fd: schema_pb2.FieldData, f: FieldSchema, arr: pa.Array) -> None:
    fd.vectors.dim = f.dim or 1  # pymilvus divides by dim, also for sparse vectors
    if f.dtype == DataType.FLOAT_VECTOR:
        values = vector_view(arr, f.dim).reshape(-1)
        fd.vectors.float_vector.CopyFrom(floats_message(schema_pb2.FloatArray, values))
    elif f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        fd.vectors.sparse_float_vector.SetInParent()
        fd.vectors.sparse_float_vector.contents.extend(arr.to_pylist())
        rows = sparse_rows(arr)
        fd.vectors.sparse_float_vector.dim = int(rows.indices.max()) + 1 if len(rows.indices) \
            else 0
    else:
        setattr(fd.vectors, _BYTE_VECTORS[f.dtype], fixed_rows(arr).tobytes())


def _null_fill(dtype: DataType) -> Any:
    if dtype == DataType.BOOL:
        return False
    if dtype in (DataType.VARCHAR, DataType.STRING, DataType.TIMESTAMPTZ, DataType.GEOMETRY):
        return ""
    if dtype == DataType.JSON:
        return b"null"
    return 0


def encode_ids(pks: pa.Array, out: schema_pb2.IDs) -> None:
    if pa.types.is_integer(pks.type):
        out.int_id.data.extend(pks.to_numpy(zero_copy_only=False).tolist())
    else:
        out.str_id.data.extend(pks.to_pylist())


def decode_template_value(v: schema_pb2.TemplateValue) -> Any:
    """A filter template parameter (`{name}` in an expression) as a Python value."""
    kind = v.WhichOneof("val")
    if kind == "array_val":
        return _template_array(v.array_val)
    return getattr(v, kind) if kind else None


def _template_array(arr: schema_pb2.TemplateArrayValue) -> list[Any]:
    fields = arr.ListFields()
    if not fields:
        return []
    desc, data = fields[0]
    if desc.name == "array_data":
        return [_template_array(x) for x in data.data]
    if desc.name == "json_data":
        return [json.loads(x) for x in data.data]
    return list(data.data)
