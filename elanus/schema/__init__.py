"""Data types, field and collection schemas, limits and validation."""

from elanus.schema.collection import (
    DYNAMIC_FIELD,
    TIMESTAMP_COLUMN,
    CollectionSchema,
    FieldSchema,
    validate_database_name,
    validate_name,
    validate_schema,
)
from elanus.schema.types import DataType, arrow_type

__all__ = [
    "DYNAMIC_FIELD",
    "TIMESTAMP_COLUMN",
    "CollectionSchema",
    "DataType",
    "FieldSchema",
    "arrow_type",
    "validate_database_name",
    "validate_name",
    "validate_schema",
]
