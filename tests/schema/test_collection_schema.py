"""Schema validation follows Milvus's rules and wording; schemas round-trip through JSON."""

from __future__ import annotations

import pytest

from elanus.errors import (
    ElanusError,
    FieldNameInvalid,
    InvalidArgument,
    UnexpectedError,
    Unsupported,
)
from elanus.schema import (
    CollectionSchema,
    DataType,
    FieldSchema,
    partition_names,
    validate_name,
    validate_partition_name,
    validate_schema,
)


def _schema(*extra: FieldSchema, name: str = "books") -> CollectionSchema:
    return CollectionSchema(name, (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=8),
        *extra,
    ))


def test_valid_schema_gets_field_ids_from_100() -> None:
    schema = validate_schema(_schema(FieldSchema("title", DataType.VARCHAR, max_length=64)))
    assert [f.field_id for f in schema.fields] == [100, 101, 102]


def test_schema_round_trips_through_dict() -> None:
    schema = validate_schema(_schema(
        FieldSchema("tags", DataType.ARRAY, element_type=DataType.INT32, max_capacity=4),
        FieldSchema("score", DataType.FLOAT, nullable=True, default_value=1.5)))
    assert CollectionSchema.from_dict(schema.to_dict()) == schema


@pytest.mark.parametrize("bad, words", [
    ("", "should not be empty"),
    ("1abc", "the first character of a collection name must be an underscore or letter"),
    ("a-b", "collection name can only contain numbers, letters and underscores"),
    ("x" * 256, "must be less than 255 characters"),
])
def test_collection_name_rules(bad: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_name(bad, "collection")
    assert words in str(err.value)
    assert err.value.code == 1100


def test_field_name_rules_use_code_1701() -> None:
    with pytest.raises(FieldNameInvalid) as err:
        validate_schema(_schema(FieldSchema("1bad", DataType.INT32)))
    assert err.value.code == 1701
    assert "field name invalid[field=1bad]" in str(err.value)


@pytest.mark.parametrize("schema, words", [
    (CollectionSchema("c", (FieldSchema("v", DataType.FLOAT_VECTOR, dim=4),)),
     "primary key"),
    (CollectionSchema("c", (FieldSchema("id", DataType.INT64, is_primary=True),)),
     "vector field"),
    (_schema(FieldSchema("id", DataType.INT32)), "duplicated field name id"),
    (_schema(FieldSchema("t", DataType.VARCHAR)), "max_length"),
])
def test_invalid_schemas_are_refused(schema: CollectionSchema, words: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_schema(schema)
    assert words in str(err.value)


def test_unserved_type_is_refused_clearly() -> None:
    with pytest.raises(Unsupported) as err:
        validate_schema(_schema(FieldSchema("t", DataType.TEXT)))
    assert "TEXT" in str(err.value) and err.value.code == 10


@pytest.mark.parametrize("field, words", [
    (FieldSchema("v", DataType.FLOAT_VECTOR),
     "dimension is not defined in field type params of field v, check type param `dim`"),
    (FieldSchema("b", DataType.BINARY_VECTOR, dim=12),
     "invalid dimension: 12 of field b. binary vector dimension should be multiple of 8. "),
    (FieldSchema("b", DataType.BINARY_VECTOR, dim=262152),
     "binary vector dimension should be in range 2 ~ 262144"),
    (FieldSchema("h", DataType.FLOAT16_VECTOR, dim=32769),
     "float vector dimension should be in range 2 ~ 32768"),
    (FieldSchema("s", DataType.SPARSE_FLOAT_VECTOR, dim=8),
     "dim should not be specified for sparse vector field s"),
])
def test_dimension_rules(field: FieldSchema, words: str) -> None:
    with pytest.raises(UnexpectedError) as err:
        validate_schema(_schema(field))
    assert words in str(err.value) and err.value.code == 65535
    for ok in (FieldSchema("b", DataType.BINARY_VECTOR, dim=262144),
               FieldSchema("s", DataType.SPARSE_FLOAT_VECTOR),
               FieldSchema("i", DataType.INT8_VECTOR, dim=32768)):
        validate_schema(_schema(ok))


@pytest.mark.parametrize("fields, code, words", [
    ((FieldSchema("a", DataType.INT64, is_partition_key=True),
      FieldSchema("b", DataType.INT64, is_partition_key=True)), 65535,
     "there are more than one partition key, field name = a, b"),
    ((FieldSchema("s", DataType.DOUBLE, is_partition_key=True),), 65535,
     "the data type of partition key should be Int64 or VarChar"),
    ((FieldSchema("t", DataType.VARCHAR, max_length=8, is_partition_key=True, nullable=True),),
     1100, "partition key field not support nullable"),
])
def test_partition_key_rules(fields: tuple[FieldSchema, ...], code: int, words: str) -> None:
    with pytest.raises(ElanusError) as err:
        validate_schema(_schema(*fields))
    assert err.value.code == code and words in str(err.value)


@pytest.mark.parametrize("num, expected", [(0, 16), (3, 3), (1024, 1024)])
def test_partition_key_collections_get_hidden_partitions(num: int, expected: int) -> None:
    schema = _schema(FieldSchema("t", DataType.VARCHAR, max_length=8, is_partition_key=True))
    names = partition_names(schema, num)
    assert names == [f"_default_{i}" for i in range(expected)]
    with pytest.raises(InvalidArgument, match="partition number"):
        partition_names(schema, 1025)
    assert partition_names(_schema(), 0) == ["_default"]
    with pytest.raises(UnexpectedError, match="num_partitions should only be specified"):
        partition_names(_schema(), 4)


@pytest.mark.parametrize("bad, words", [
    ("", "Partition name should not be empty."),
    ("-a", "The first character of a partition name must be an underscore or letter."),
    ("a-b", "Partition name can only contain numbers, letters and underscores."),
    ("x" * 256, "The length of a partition name must be less than 255 characters."),
])
def test_partition_name_rules(bad: str, words: str) -> None:
    with pytest.raises(UnexpectedError) as err:
        validate_partition_name(bad)
    assert str(err.value) == f"Invalid partition name: {bad}. {words}"
    validate_partition_name("1st")  # a leading digit is allowed, unlike other names
