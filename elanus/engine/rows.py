"""The write path's first step: columns from a client checked against the schema.

`prepare_rows` turns the columns of one insert or upsert into a table in storage layout (every
field in schema order, the dynamic field, then `$ts`), or raises a DataInvalid error with
Milvus's wording. Every check is a whole-column Arrow or numpy operation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elanus.errors import DataInvalid
from elanus.schema import (
    DYNAMIC_FIELD,
    TIMESTAMP_COLUMN,
    CollectionSchema,
    DataType,
    FieldSchema,
    geometry,
    timestamps,
    vector_row_bytes,
)
from elanus.schema.functions import bm25_column
from elanus.schema.vectors import (
    check_sparse,
    decode_dense,
    encode_dense,
    fixed_rows,
    sparse_rows,
    vector_view,
)

EMPTY_JSON = b"{}"


def prepare_rows(schema: CollectionSchema, columns: dict[str, pa.Array], num_rows: int, ts: int,
                 allocate_ids: Callable[[int], int], upsert: bool = False,
                 timezone: str = timestamps.UTC) -> pa.Table:
    """Validate and normalise one batch of rows; returns it in storage layout. TIMESTAMPTZ text
    without an offset is read in `timezone`."""
    known = {f.name for f in schema.fields}
    for name in columns:
        if name not in known and name != DYNAMIC_FIELD:
            raise DataInvalid(f"Attempt to insert an unexpected field `{name}` to collection "
                              "without enabling dynamic field")
    if DYNAMIC_FIELD in columns and not schema.enable_dynamic_field:
        raise DataInvalid("Attempt to insert an unexpected field `$meta` to collection without "
                          "enabling dynamic field")
    for name in schema.function_outputs & columns.keys():
        raise DataInvalid(f"Attempt to insert an unexpected function output field `{name}` "
                          "to collection")
    out: list[pa.Array] = []
    for f in schema.fields:
        if f.name in schema.function_outputs:
            out.append(pa.nulls(num_rows, f.arrow_type))  # computed below, from its input
            continue
        col = columns.get(f.name)
        if col is not None and len(col) != num_rows:
            raise DataInvalid(f"the num_rows ({len(col)}) of field ({f.name}) is not equal to "
                              f"passed num_rows ({num_rows})")
        if f.is_primary and f.auto_id and not upsert:
            if col is not None:
                raise DataInvalid(f"the primary key field {f.name} is auto-generated; do not "
                                  "pass it")
            out.append(_auto_ids(f, num_rows, allocate_ids))
            continue
        out.append(_column(f, col, num_rows, timezone))
    names = [f.name for f in schema.fields]
    for fn in schema.functions:
        out[names.index(fn.output_field_names[0])] = bm25_column(schema, fn,
                                                                 dict(zip(names, out)))
    if schema.enable_dynamic_field:
        meta = columns.get(DYNAMIC_FIELD)
        if meta is None:
            meta = pa.repeat(pa.scalar(EMPTY_JSON, pa.large_binary()), num_rows)
        out.append(meta.cast(pa.large_binary()))
        names.append(DYNAMIC_FIELD)
    out.append(pa.array(np.full(num_rows, ts, dtype=np.uint64)))
    names.append(TIMESTAMP_COLUMN)
    return pa.Table.from_arrays(out, names=names)


def conform(table: pa.Table, schema: CollectionSchema) -> pa.Table:
    """Rows stored under an older schema, as the current one reads them: fields added since
    read as their default value (or null), and the dynamic field, once enabled, as {}."""
    target = schema.arrow_schema()
    if table.schema.names == target.names:
        return table
    n = table.num_rows
    columns = []
    for field in target:
        if field.name in table.column_names:
            columns.append(table.column(field.name))
        elif field.name == DYNAMIC_FIELD:
            columns.append(pa.repeat(pa.scalar(EMPTY_JSON, pa.large_binary()), n))
        else:
            f = schema.field(field.name)
            assert f is not None
            columns.append(_column(f, None, n))
    return pa.Table.from_arrays(columns, schema=target)


def absent_column(f: FieldSchema, n: int, timezone: str = timestamps.UTC) -> pa.Array:
    """`n` rows of a field a write leaves out, in storage layout: its default value, or null;
    DataInvalid when the field has neither."""
    return _column(f, None, n, timezone)


def _auto_ids(f: FieldSchema, n: int, allocate_ids: Callable[[int], int]) -> pa.Array:
    last = allocate_ids(n)
    ids = np.arange(last - n + 1, last + 1, dtype=np.int64)
    if f.dtype == DataType.VARCHAR:
        return pc.cast(pa.array(ids), pa.large_string())
    return pa.array(ids)


def _column(f: FieldSchema, col: pa.Array | None, n: int,
            timezone: str = timestamps.UTC) -> pa.Array:
    target = f.arrow_type
    if col is None:
        if f.default_value is not None:
            default = f.default_value
            if f.dtype == DataType.TIMESTAMPTZ:
                return pa.repeat(timestamps.parse(pa.array([default]), timezone)[0], n)
            if f.dtype == DataType.GEOMETRY:
                return pa.repeat(geometry.parse(pa.array([default]))[0], n)
            return pa.repeat(pa.scalar(default, type=target), n)
        if f.nullable:
            return _null_vectors(f, n) if f.dtype.is_vector else pa.nulls(n, type=target)
        raise DataInvalid(f"Insert missed an field `{f.name}` to collection without set "
                          "nullable==true or set default_value")
    if col.null_count:
        if f.default_value is not None:
            col = pc.fill_null(col, pa.scalar(f.default_value, type=col.type))
        elif not f.nullable:
            raise DataInvalid(f"the field {f.name} is not nullable, but got a null value")
    if f.dtype.is_vector:
        return _vector_column(f, col)
    if f.dtype == DataType.TIMESTAMPTZ and not pa.types.is_timestamp(col.type):
        try:
            return timestamps.parse(col, timezone)
        except ValueError as exc:
            raise DataInvalid(f"field {f.name}: {exc}") from None
    if f.dtype == DataType.GEOMETRY:
        try:
            return geometry.parse(col)
        except ValueError as exc:
            raise DataInvalid(f"field {f.name}: {exc}") from None
    try:
        out = col if col.type == target else col.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataInvalid(f"the data type of field {f.name} does not match: expected "
                          f"{f.dtype.milvus_name}, got {col.type} ({exc})") from None
    if f.dtype == DataType.VARCHAR:
        _check_lengths(f, out)
    if f.dtype == DataType.ARRAY:
        lengths = pc.list_value_length(out).to_numpy(zero_copy_only=False)
        over = np.flatnonzero(np.nan_to_num(lengths.astype(np.float64)) > f.max_capacity)
        if len(over):
            raise DataInvalid(f"the length ({int(lengths[over[0]])}) of {over[0]}th array "
                              f"exceeds max capacity ({f.max_capacity})")
    return out


def _check_lengths(f: FieldSchema, col: pa.Array) -> None:
    lengths = pc.binary_length(col).to_numpy(zero_copy_only=False)
    lengths = np.nan_to_num(lengths.astype(np.float64))
    over = np.flatnonzero(lengths > f.max_length)
    if len(over):
        row = int(over[0])
        raise DataInvalid(f"length of varchar field {f.name} exceeds max length, row number: "
                          f"{row}, length: {int(lengths[row])}, max length: {f.max_length}")


def _null_vectors(f: FieldSchema, n: int) -> pa.Array:
    """`n` null rows of a nullable vector field, zeros underneath."""
    if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        return pa.nulls(n, f.arrow_type)
    return _zero_nulls(pa.nulls(n, f.arrow_type))


def _zero_nulls(col: pa.Array) -> pa.Array:
    """A dense vector column whose null rows hold zeros, the validity bitmap still marking
    them null: numpy views of the column (search, index builds) never read NaN or stale
    bytes there, and search skips those rows by the bitmap."""
    valid = col.is_valid().to_numpy(zero_copy_only=False).astype(np.bool_)
    kept = col.filter(pa.array(valid))
    if pa.types.is_fixed_size_list(col.type):
        dim = col.type.list_size
        values = np.zeros((len(col), dim), np.float32)
        values[valid] = vector_view(kept, dim)
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), dim,
                                                 mask=pa.array(~valid))
    raw = np.zeros((len(col), col.type.byte_width), np.uint8)
    raw[valid] = fixed_rows(kept)
    return _fixed_binary(raw, col.type, pa.array(valid).buffers()[1])


def _vector_column(f: FieldSchema, col: pa.Array) -> pa.Array:
    if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        return _sparse_column(f, col)
    if col.null_count:
        col = _zero_nulls(col)
    if pa.types.is_fixed_size_list(col.type):
        if col.type.list_size != f.dim:
            raise DataInvalid(f"the dim ({col.type.list_size}) of field data({f.name}) is not "
                              f"equal to schema dim ({f.dim})", expected=f.dim,
                              actual=col.type.list_size)
        values = vector_view(col, f.dim) if len(col) else np.empty((0, f.dim), np.float32)
        if not np.isfinite(values).all():
            raise DataInvalid(f"float vector field '{f.name}' contains NaN or infinity")
        if f.dtype == DataType.FLOAT_VECTOR:
            return col if col.type == f.arrow_type else col.cast(f.arrow_type)
        if f.dtype == DataType.BINARY_VECTOR:
            raise DataInvalid(f"the data type of field {f.name} does not match: expected "
                              "BinaryVector, got float values")
        # Float values for a float16, bfloat16 or int8 field: converted as Milvus converts them.
        try:
            raw = encode_dense(values, f.dtype)
        except ValueError as exc:
            raise DataInvalid(f"field {f.name}: {exc}") from None
        return _fixed_binary(raw, f.arrow_type, col.buffers()[0] if col.null_count else None)
    if not pa.types.is_fixed_size_binary(col.type):
        raise DataInvalid(f"the data type of field {f.name} does not match: expected "
                          f"{f.dtype.milvus_name}, got {col.type}")
    if f.dtype == DataType.FLOAT_VECTOR:
        raise DataInvalid(f"the data type of field {f.name} does not match: expected "
                          "FloatVector, got bytes")
    width = vector_row_bytes(f.dtype, f.dim)
    if col.type.byte_width != width:
        got = col.type.byte_width * f.dim // width if width else 0
        raise DataInvalid(f"the dim ({got}) of field data({f.name}) is not equal to schema dim "
                          f"({f.dim})", expected=f.dim, actual=got)
    halves = f.dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR)
    if halves and not np.isfinite(decode_dense(fixed_rows(col), f.dtype)).all():
        raise DataInvalid(f"float vector field '{f.name}' contains NaN or infinity")
    return col


def _fixed_binary(raw: np.ndarray, target: pa.DataType, bitmap: pa.Buffer | None = None
                  ) -> pa.Array:
    """A fixed-size binary array over the bytes of `raw` (rows x width), without copying;
    `bitmap` marks its null rows."""
    buffer = pa.py_buffer(np.ascontiguousarray(raw))
    return pa.Array.from_buffers(target, len(raw), [bitmap, buffer])


def _sparse_column(f: FieldSchema, col: pa.Array) -> pa.Array:
    if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
        raise DataInvalid(f"the data type of field {f.name} does not match: expected "
                          f"SparseFloatVector, got {col.type}")
    col = col.cast(pa.large_binary())
    lengths = pc.binary_length(col).fill_null(0).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths % 8).any():
        raise DataInvalid(f"invalid sparse float vector data of field {f.name}: a row is not "
                          "a whole number of (index, value) pairs")
    problem = check_sparse(sparse_rows(col))
    if problem:
        raise DataInvalid(f"invalid sparse float vector data of field {f.name}: {problem}")
    return col
