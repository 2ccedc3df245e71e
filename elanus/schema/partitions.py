"""Partition names and limits, as Milvus sets them.

Every collection has the `_default` partition, unless it has a partition key: then it has
`num_partitions` hidden partitions named `_default_0` ... `_default_{n-1}` that rows are routed
to by key, and no others.
"""

from __future__ import annotations

import re

from elanus.errors import InvalidArgument, UnexpectedError
from elanus.schema.collection import MAX_NAME_LENGTH, CollectionSchema

DEFAULT_PARTITION = "_default"
MAX_PARTITIONS = 1024  # Milvus's rootCoord.maxPartitionNum
DEFAULT_NUM_PARTITIONS = 16  # hidden partitions of a partition-key collection by default


_PARTITION_NAME = re.compile(r"[A-Za-z0-9_]+")


def validate_partition_name(name: str, strict: bool = True) -> None:
    """Milvus's rule for partition names (plain errors). Unlike other names a partition name may
    start with a digit; reads (`strict` False) check only emptiness and length."""
    name = name.strip()
    invalid = f"Invalid partition name: {name}. "
    if not name:
        raise UnexpectedError(f"{invalid}Partition name should not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise UnexpectedError(f"{invalid}The length of a partition name must be less than "
                              f"{MAX_NAME_LENGTH} characters.")
    if not strict:
        return
    if not (name[0].isascii() and (name[0].isalnum() or name[0] == "_")):
        raise UnexpectedError(f"{invalid}The first character of a partition name must be an "
                              "underscore or letter.")
    if not _PARTITION_NAME.fullmatch(name):
        raise UnexpectedError(f"{invalid}Partition name can only contain numbers, letters and "
                              "underscores.")


def partition_names(schema: CollectionSchema, num_partitions: int) -> list[str]:
    """The partitions a new collection starts with."""
    has_key = any(f.is_partition_key for f in schema.fields)
    if not has_key:
        if num_partitions:
            raise UnexpectedError("num_partitions should only be specified with partition key "
                                  "field enabled")
        return [DEFAULT_PARTITION]
    if num_partitions < 0:
        raise UnexpectedError("the specified partitions should be greater than 0 if partition "
                              "key is used")
    if num_partitions > MAX_PARTITIONS:
        raise InvalidArgument(f"partition number ({num_partitions}) exceeds max configuration "
                              f"({MAX_PARTITIONS})")
    n = num_partitions or DEFAULT_NUM_PARTITIONS
    return [f"{DEFAULT_PARTITION}_{i}" for i in range(n)]
