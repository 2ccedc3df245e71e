"""Data types, field and collection schemas, limits and validation."""

from elanus.schema import geometry, timestamps
from elanus.schema.collection import (
    DYNAMIC_FIELD,
    TIMESTAMP_COLUMN,
    CollectionSchema,
    FieldSchema,
    altered_field,
    validate_added_field,
    validate_database_name,
    validate_name,
    validate_schema,
)
from elanus.schema.partitions import (
    DEFAULT_NUM_PARTITIONS,
    DEFAULT_PARTITION,
    MAX_PARTITIONS,
    partition_names,
    validate_partition_name,
)
from elanus.schema.types import DataType, arrow_type, vector_row_bytes

__all__ = [
    "DEFAULT_NUM_PARTITIONS",
    "DEFAULT_PARTITION",
    "DYNAMIC_FIELD",
    "MAX_PARTITIONS",
    "TIMESTAMP_COLUMN",
    "CollectionSchema",
    "DataType",
    "FieldSchema",
    "altered_field",
    "arrow_type",
    "geometry",
    "partition_names",
    "timestamps",
    "validate_added_field",
    "validate_database_name",
    "validate_name",
    "validate_partition_name",
    "validate_schema",
    "vector_row_bytes",
]
