"""Collection schemas between Milvus's protobuf form and elanus.schema values."""

from __future__ import annotations

from typing import Any

from pymilvus.grpc_gen import common_pb2, schema_pb2

from elanus.errors import InvalidArgument
from elanus.schema import CollectionSchema, DataType, FieldSchema
from elanus.schema.functions import FunctionSchema, FunctionType

_INT_PARAMS = {"dim", "max_length", "max_capacity"}


def _value(v: schema_pb2.ValueField) -> Any:
    kind = v.WhichOneof("data")
    return getattr(v, kind) if kind else None


def _int_param(field_name: str, key: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(f"type param {key} of field {field_name} should be an integer, "
                              f"got {raw!r}") from None


def decode_field(f: schema_pb2.FieldSchema) -> FieldSchema:
    try:
        dtype = DataType(f.data_type)
        element = DataType(f.element_type)
    except ValueError:
        raise InvalidArgument(f"unknown data type {f.data_type} of field {f.name}") from None
    params = {kv.key: kv.value for kv in f.type_params}
    ints = {k: _int_param(f.name, k, params[k]) for k in _INT_PARAMS if k in params}
    return FieldSchema(
        name=f.name, dtype=dtype, description=f.description, is_primary=f.is_primary_key,
        auto_id=f.autoID, dim=ints.get("dim", 0), max_length=ints.get("max_length", 0),
        element_type=element, max_capacity=ints.get("max_capacity", 0), nullable=f.nullable,
        default_value=_value(f.default_value) if f.HasField("default_value") else None,
        is_dynamic=f.is_dynamic, is_partition_key=f.is_partition_key,
        is_clustering_key=f.is_clustering_key,
        type_params={k: v for k, v in params.items() if k not in _INT_PARAMS},
    )


def decode_schema(raw: bytes, collection_name: str) -> CollectionSchema:
    pb = schema_pb2.CollectionSchema()
    try:
        pb.ParseFromString(raw)
    except Exception:  # noqa: BLE001 (protobuf raises its own DecodeError family)
        raise InvalidArgument("the collection schema could not be decoded") from None
    if pb.name and pb.name != collection_name:
        raise InvalidArgument(f"collection name [{collection_name}] not matches schema name "
                              f"[{pb.name}]")
    fields = [decode_field(f) for f in pb.fields if not f.is_dynamic]
    if pb.autoID:
        fields = [FieldSchema(**{**_asdict(f), "auto_id": True}) if f.is_primary else f
                  for f in fields]
    return CollectionSchema(name=collection_name, fields=tuple(fields),
                            description=pb.description,
                            enable_dynamic_field=pb.enable_dynamic_field,
                            functions=tuple(decode_function(fn) for fn in pb.functions))


def decode_function(fn: schema_pb2.FunctionSchema) -> FunctionSchema:
    try:
        kind = FunctionType(fn.type)
    except ValueError:
        raise InvalidArgument(f"unknown function type {fn.type} of function {fn.name}") from None
    return FunctionSchema(name=fn.name, type=kind, description=fn.description,
                          input_field_names=tuple(fn.input_field_names),
                          output_field_names=tuple(fn.output_field_names),
                          params={kv.key: kv.value for kv in fn.params})


def encode_function(fn: FunctionSchema, schema: CollectionSchema) -> schema_pb2.FunctionSchema:
    def ids(names: tuple[str, ...]) -> list[int]:
        return [f.field_id for f in (schema.field(n) for n in names) if f is not None]

    return schema_pb2.FunctionSchema(
        name=fn.name, id=fn.function_id, description=fn.description, type=int(fn.type),
        input_field_names=fn.input_field_names, input_field_ids=ids(fn.input_field_names),
        output_field_names=fn.output_field_names, output_field_ids=ids(fn.output_field_names),
        params=[common_pb2.KeyValuePair(key=k, value=v) for k, v in fn.params.items()])


def _asdict(f: FieldSchema) -> dict[str, Any]:
    return {k: getattr(f, k) for k in f.__dataclass_fields__}


def _set_default(out: schema_pb2.ValueField, f: FieldSchema) -> None:
    v = f.default_value
    if f.dtype == DataType.BOOL:
        out.bool_data = bool(v)
    elif f.dtype in (DataType.INT8, DataType.INT16, DataType.INT32):
        out.int_data = int(v)
    elif f.dtype == DataType.INT64:
        out.long_data = int(v)
    elif f.dtype == DataType.FLOAT:
        out.float_data = float(v)
    elif f.dtype == DataType.DOUBLE:
        out.double_data = float(v)
    elif f.dtype in (DataType.VARCHAR, DataType.TIMESTAMPTZ, DataType.GEOMETRY):
        out.string_data = str(v)


def encode_field(f: FieldSchema, function_output: bool = False) -> schema_pb2.FieldSchema:
    out = schema_pb2.FieldSchema(
        fieldID=f.field_id, name=f.name, is_primary_key=f.is_primary, description=f.description,
        data_type=int(f.dtype), autoID=f.auto_id, element_type=int(f.element_type),
        is_dynamic=f.is_dynamic, is_partition_key=f.is_partition_key,
        is_clustering_key=f.is_clustering_key, nullable=f.nullable,
        is_function_output=function_output,
    )
    params: dict[str, str] = dict(f.type_params)
    if f.dim:
        params["dim"] = str(f.dim)
    if f.max_length:
        params["max_length"] = str(f.max_length)
    if f.max_capacity:
        params["max_capacity"] = str(f.max_capacity)
    out.type_params.extend(common_pb2.KeyValuePair(key=k, value=v) for k, v in params.items())
    if f.default_value is not None:
        _set_default(out.default_value, f)
    return out


def encode_schema(schema: CollectionSchema) -> schema_pb2.CollectionSchema:
    return schema_pb2.CollectionSchema(
        name=schema.name, description=schema.description, autoID=schema.auto_id,
        fields=[encode_field(f, f.name in schema.function_outputs) for f in schema.fields],
        enable_dynamic_field=schema.enable_dynamic_field,
        functions=[encode_function(fn, schema) for fn in schema.functions],
    )
