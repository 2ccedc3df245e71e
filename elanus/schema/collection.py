"""Field and collection schemas: frozen values, validated once, persisted as JSON.

A collection schema is checked against Milvus's rules when created (`validate_schema`) and is
immutable afterwards. Field ids start at 100 as in Milvus. The dynamic field, when enabled, is a
JSON field named ``$meta`` that holds every key the schema does not declare.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any

import pyarrow as pa

from elanus.errors import (
    DatabaseNameInvalid,
    FieldNameInvalid,
    InvalidArgument,
    UnexpectedError,
    Unsupported,
)
from elanus.schema import analyzers, geometry, timestamps
from elanus.schema.functions import FunctionSchema, validate_functions
from elanus.schema.types import (
    ARRAY_ELEMENT_TYPES,
    SUPPORTED_SCALARS,
    SUPPORTED_VECTORS,
    DataType,
    arrow_type,
)

DYNAMIC_FIELD = "$meta"
FIRST_FIELD_ID = 100
MAX_NAME_LENGTH = 255
MAX_FIELDS = 64
MAX_DIM = 32768
MAX_BINARY_DIM = 262144
MAX_VECTOR_FIELDS = 4  # Milvus's proxy.maxVectorFieldNum
MAX_VARCHAR_LENGTH = 65535
MAX_ARRAY_CAPACITY = 4096

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FieldSchema:
    name: str
    dtype: DataType
    field_id: int = 0
    description: str = ""
    is_primary: bool = False
    auto_id: bool = False
    dim: int = 0
    max_length: int = 0
    element_type: DataType = DataType.NONE
    max_capacity: int = 0
    nullable: bool = False
    default_value: Any = None
    is_dynamic: bool = False
    is_partition_key: bool = False
    is_clustering_key: bool = False
    type_params: dict[str, str] = field(default_factory=dict)

    @property
    def arrow_type(self) -> pa.DataType:
        return arrow_type(self.dtype, self.dim, self.element_type)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["dtype"] = int(self.dtype)
        out["element_type"] = int(self.element_type)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FieldSchema:
        raw = dict(raw)
        raw["dtype"] = DataType(raw["dtype"])
        raw["element_type"] = DataType(raw.get("element_type", 0))
        return cls(**raw)


@dataclass(frozen=True)
class CollectionSchema:
    name: str
    fields: tuple[FieldSchema, ...]
    description: str = ""
    enable_dynamic_field: bool = False
    functions: tuple[FunctionSchema, ...] = ()

    @cached_property
    def primary(self) -> FieldSchema:
        return next(f for f in self.fields if f.is_primary)

    @cached_property
    def vector_fields(self) -> tuple[FieldSchema, ...]:
        return tuple(f for f in self.fields if f.dtype.is_vector)

    @property
    def auto_id(self) -> bool:
        return self.primary.auto_id

    def field(self, name: str) -> FieldSchema | None:
        return next((f for f in self.fields if f.name == name), None)

    def function_of(self, field_name: str) -> FunctionSchema | None:
        """The function whose output `field_name` is, if any."""
        return next((fn for fn in self.functions if field_name in fn.output_field_names), None)

    @property
    def function_outputs(self) -> frozenset[str]:
        return frozenset(n for fn in self.functions for n in fn.output_field_names)

    def field_by_id(self, field_id: int) -> FieldSchema | None:
        return next((f for f in self.fields if f.field_id == field_id), None)

    def arrow_schema(self) -> pa.Schema:
        """Columns of a stored segment: every field, the dynamic field, the row timestamp."""
        return self._arrow_schema

    @cached_property
    def _arrow_schema(self) -> pa.Schema:
        # Built once per schema value: every insert conforms its rows against it.
        cols = [pa.field(f.name, f.arrow_type, nullable=True) for f in self.fields]
        if self.enable_dynamic_field:
            cols.append(pa.field(DYNAMIC_FIELD, pa.large_binary(), nullable=True))
        cols.append(pa.field(TIMESTAMP_COLUMN, pa.uint64()))
        return pa.schema(cols)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "enable_dynamic_field": self.enable_dynamic_field,
            "fields": [f.to_dict() for f in self.fields],
            "functions": [fn.to_dict() for fn in self.functions],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CollectionSchema:
        return cls(
            name=raw["name"],
            description=raw.get("description", ""),
            enable_dynamic_field=raw.get("enable_dynamic_field", False),
            fields=tuple(FieldSchema.from_dict(f) for f in raw["fields"]),
            functions=tuple(FunctionSchema.from_dict(f) for f in raw.get("functions", ())),
        )


TIMESTAMP_COLUMN = "$ts"


def validate_name(name: str, what: str) -> None:
    """Milvus's naming rule for collections, indexes and aliases (1100) and fields (1701)."""
    if what == "field":
        _validate_field_name(name)
        return
    label = what if what.endswith("alias") else f"{what} name"  # Milvus: "collection alias"
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"{label} should not be empty")
    invalid = f"Invalid {label}: {name}."
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"{invalid} the length of a {label} must be less than "
                              f"{MAX_NAME_LENGTH} characters")
    if not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        raise InvalidArgument(f"{invalid} the first character of a {label} must be an "
                              "underscore or letter")
    if not _NAME.fullmatch(name):
        raise InvalidArgument(f"{invalid} {label} can only contain numbers, letters and "
                              "underscores")


def validate_database_name(name: str) -> None:
    """Milvus's rule for database names (not trimmed: blanks fail the first-character rule);
    violations carry code 802."""
    if not name:
        raise DatabaseNameInvalid(name, "database name couldn't be empty")
    if not name.strip():
        raise DatabaseNameInvalid(name, f"Invalid database name: {name}. the first character "
                                        "of a database name must be an underscore or letter")
    try:
        validate_name(name, "database")
    except InvalidArgument as exc:
        raise DatabaseNameInvalid(name, exc.detail) from None


def _validate_field_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise FieldNameInvalid("", "field name should not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise FieldNameInvalid(name, f"The length of a field name must be less than "
                                     f"{MAX_NAME_LENGTH} characters.")
    if not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        raise FieldNameInvalid(name, "The first character of a field name must be an underscore "
                                     "or letter.")
    if not _NAME.fullmatch(name):
        raise FieldNameInvalid(name, "Field name can only contain numbers, letters, and "
                                     "underscores.")


def validate_schema(schema: CollectionSchema) -> CollectionSchema:
    """Check a new collection's schema and assign field ids; returns the schema to store."""
    validate_name(schema.name, "collection")
    if not schema.fields:
        raise InvalidArgument("schema does not contain any field")
    if len(schema.fields) > MAX_FIELDS:
        raise UnexpectedError(f"maximum field's number should be limited to {MAX_FIELDS}")
    names = [f.name for f in schema.fields]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise InvalidArgument(f"duplicated field name {dup} found")
    primaries = [f for f in schema.fields if f.is_primary]
    if not primaries:
        raise InvalidArgument("schema does not contain primary key field")
    if len(primaries) > 1:
        raise InvalidArgument("there are more than one primary key, field name = "
                              f"{primaries[0].name}, {primaries[1].name}")
    pk = primaries[0]
    if pk.dtype not in (DataType.INT64, DataType.VARCHAR):
        raise InvalidArgument("only int64 and varchar can be used as the primary key")
    if pk.nullable:
        raise InvalidArgument("primary field not support null")
    if not schema.vector_fields:
        raise InvalidArgument("schema does not contain vector field")
    if len(schema.vector_fields) > MAX_VECTOR_FIELDS:
        raise UnexpectedError(f"maximum vector field's number should be limited to "
                              f"{MAX_VECTOR_FIELDS}")
    _validate_partition_key(schema)
    _validate_clustering_key(schema)
    fixed = []
    for i, f in enumerate(schema.fields):
        if f.name != DYNAMIC_FIELD:
            validate_name(f.name, "field")
        _validate_field(f, schema.name)
        fixed.append(replace(f, field_id=FIRST_FIELD_ID + i))
    schema = replace(schema, fields=tuple(fixed))
    return replace(schema, functions=validate_functions(schema))


CLUSTERING_KEY_TYPES = frozenset({DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
                                  DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR})


def _validate_clustering_key(schema: CollectionSchema) -> None:
    keys = [f for f in schema.fields if f.is_clustering_key]
    if len(keys) > 1:
        raise UnexpectedError("there are more than one clustering key, field name = "
                              f"{keys[0].name}, {keys[1].name}")
    if keys and keys[0].dtype.is_vector:
        raise Unsupported(f"a vector clustering key ({keys[0].name}) is not supported by this "
                          "elanus build yet")
    if keys and keys[0].dtype not in CLUSTERING_KEY_TYPES:
        raise UnexpectedError(f"clustering key field {keys[0].name} has unsupported data type "
                              f"{keys[0].dtype.milvus_name}")


def _validate_partition_key(schema: CollectionSchema) -> None:
    keys = [f for f in schema.fields if f.is_partition_key]
    if len(keys) > 1:
        raise UnexpectedError("there are more than one partition key, field name = "
                              f"{keys[0].name}, {keys[1].name}")
    if not keys:
        return
    key = keys[0]
    if key.is_primary:
        raise UnexpectedError("the partition key field must not be primary field")
    if key.dtype not in (DataType.INT64, DataType.VARCHAR):
        raise UnexpectedError("the data type of partition key should be Int64 or VarChar")
    if key.nullable:
        raise InvalidArgument("partition key field not support nullable")


def _validate_dim(f: FieldSchema) -> None:
    """Milvus's dimension rules (plain errors in Milvus 2.6)."""
    if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
        if f.dim:
            raise UnexpectedError(f"dim should not be specified for sparse vector field "
                                  f"{f.name}({f.field_id})")
        return
    if not f.dim:
        raise UnexpectedError(f"dimension is not defined in field type params of field "
                              f"{f.name}, check type param `dim` for vector field")
    if f.dim < 1:
        raise UnexpectedError(f"invalid dimension: {f.dim}. should be in range 2 ~ {MAX_DIM}")
    if f.dtype == DataType.BINARY_VECTOR:
        if f.dim % 8:
            raise UnexpectedError(f"invalid dimension: {f.dim} of field {f.name}. binary vector "
                                  "dimension should be multiple of 8. ")
        if f.dim > MAX_BINARY_DIM:
            raise UnexpectedError(f"invalid dimension: {f.dim} of field {f.name}. binary vector "
                                  f"dimension should be in range 2 ~ {MAX_BINARY_DIM}")
    elif f.dim > MAX_DIM:
        raise UnexpectedError(f"invalid dimension: {f.dim} of field {f.name}. float vector "
                              f"dimension should be in range 2 ~ {MAX_DIM}")


def _validate_field(f: FieldSchema, collection: str) -> None:
    if f.dtype.is_vector:
        if f.dtype not in SUPPORTED_VECTORS:
            raise Unsupported(f"vector type {f.dtype.milvus_name} of field {f.name} is not "
                              "supported by this elanus build yet")
        _validate_dim(f)
        if f.default_value is not None:
            raise InvalidArgument(f"vector type not support default value, field: {f.name}")
        return
    if f.dtype not in SUPPORTED_SCALARS:
        raise Unsupported(f"data type {f.dtype.milvus_name} of field {f.name} is not "
                          "supported by this elanus build yet")
    if f.default_value is not None and f.dtype in (DataType.TIMESTAMPTZ, DataType.GEOMETRY):
        check = timestamps.literal if f.dtype == DataType.TIMESTAMPTZ else geometry.literal
        try:
            check(str(f.default_value))
        except ValueError as exc:
            raise InvalidArgument(f"invalid default value of field {f.name}: {exc}") from None
    if f.dtype == DataType.VARCHAR and not 0 < f.max_length <= MAX_VARCHAR_LENGTH:
        raise InvalidArgument(
            f"the maximum length specified for the field({f.name}) should be in (0, "
            f"{MAX_VARCHAR_LENGTH}], but got {f.max_length} instead"
            if f.max_length else f"type param(max_length) should be specified for the "
            f"field({f.name}) of collection {collection}"
        )
    analyzers.check_text_params(f)
    if f.dtype == DataType.ARRAY:
        if f.element_type not in ARRAY_ELEMENT_TYPES:
            raise InvalidArgument(f"element type {f.element_type.name} is not supported")
        if not 0 < f.max_capacity <= MAX_ARRAY_CAPACITY:
            raise InvalidArgument(
                f"the maximum capacity specified for a Array should be in (0, "
                f"{MAX_ARRAY_CAPACITY}], but got {f.max_capacity}"
            )
        if f.element_type == DataType.VARCHAR and not 0 < f.max_length <= MAX_VARCHAR_LENGTH:
            raise InvalidArgument(f"type param(max_length) should be specified for the "
                                  f"field({f.name}) of collection {collection}")
    if f.auto_id and not f.is_primary:
        raise InvalidArgument("only primary field can speficy AutoID with true")
    # Milvus 2.6 allows auto_id on VARCHAR keys as well; they are generated as strings.
    if f.is_primary and f.auto_id and f.dtype not in (DataType.INT64, DataType.VARCHAR):
        raise InvalidArgument("only int64 and varchar can be auto id")


SYSTEM_FIELDS = frozenset({"RowID", "Timestamp", DYNAMIC_FIELD})


def validate_added_field(schema: CollectionSchema, f: FieldSchema) -> CollectionSchema:
    """Milvus's rules for add_collection_field; returns the schema with the field appended."""
    if len(schema.fields) >= MAX_FIELDS:
        raise InvalidArgument(f"The number of fields has reached the maximum value {MAX_FIELDS}")
    if f.name in SYSTEM_FIELDS:
        raise InvalidArgument(f"not support to add system field, field name = {f.name}")
    if schema.field(f.name) is not None:
        raise InvalidArgument(f"duplicated field name {f.name}")
    if f.is_primary:
        raise InvalidArgument(f"not support to add pk field, field name = {f.name}")
    if f.auto_id:
        raise InvalidArgument(f"only primary field can speficy AutoID with true, field name = "
                              f"{f.name}")
    if f.is_partition_key:
        raise InvalidArgument(f"not support to add partition key field, field name  = {f.name}")
    if f.is_clustering_key and any(g.is_clustering_key for g in schema.fields):
        raise InvalidArgument(f"already has another clustering key field, field name: {f.name}")
    if f.dtype.is_vector and len(schema.vector_fields) >= MAX_VECTOR_FIELDS:
        raise UnexpectedError(f"maximum vector field's number should be limited to "
                              f"{MAX_VECTOR_FIELDS}")
    if not f.nullable:
        raise InvalidArgument(f"added field must be nullable, please check it, field name = "
                              f"{f.name}")
    validate_name(f.name, "field")
    _validate_field(f, schema.name)
    added = replace(f, field_id=max(g.field_id for g in schema.fields) + 1)
    return replace(schema, fields=(*schema.fields, added))


ALTERABLE_FIELD_KEYS = frozenset({"max_length", "mmap.enabled", "max_capacity"})


def _int_value(raw: str, error: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(error) from None


def altered_field(f: FieldSchema, changes: dict[str, str], delete_keys: list[str]) -> FieldSchema:
    """Milvus's rules for alter_collection_field: max_length, max_capacity, mmap.enabled."""
    changes = {("mmap.enabled" if k == "mmap_enabled" else k): v for k, v in changes.items()}
    for key in changes:
        if key not in ALTERABLE_FIELD_KEYS:
            raise InvalidArgument(f"{key} does not allow update in collection field param")
    for key in delete_keys:
        if key != "mmap.enabled":
            raise InvalidArgument(f"{key} is not allowed to drop in collection field param")
    out = f
    if "max_length" in changes:
        if not (f.dtype.is_string or f.element_type.is_string):
            raise InvalidArgument(f"{f.name} can not modify the maxlength for non-string types")
        value = _int_value(changes["max_length"], "max_length should be an integer, but got "
                                                  "string")
        if value > MAX_VARCHAR_LENGTH:
            raise InvalidArgument(f"{value} exceeds the maximum allowed value "
                                  f"{MAX_VARCHAR_LENGTH}")
        if value <= 0:
            raise InvalidArgument(f"the maximum length specified for the field({f.name}) should "
                                  f"be in (0, {MAX_VARCHAR_LENGTH}], but got {value} instead")
        out = replace(out, max_length=value)
    if "max_capacity" in changes:
        if f.dtype != DataType.ARRAY:
            raise InvalidArgument(f"{f.name} can not modify the maxcapacity for non-array types")
        value = _int_value(changes["max_capacity"], f"the value for max_capacity of field "
                                                    f"{f.name} must be an integer")
        if not 0 < value <= MAX_ARRAY_CAPACITY:
            raise InvalidArgument(f"the maximum capacity specified for a Array should be in "
                                  f"(0, {MAX_ARRAY_CAPACITY}]")
        out = replace(out, max_capacity=value)
    params = {k: v for k, v in out.type_params.items() if k not in delete_keys}
    if "mmap.enabled" in changes:
        if changes["mmap.enabled"].lower() not in ("true", "false"):
            raise InvalidArgument(f"invalid mmap.enabled value: {changes['mmap.enabled']}, "
                                  "expected true or false")
        params["mmap.enabled"] = changes["mmap.enabled"].lower()
    return replace(out, type_params=params)
