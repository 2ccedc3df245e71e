"""Which partitions a read looks at: the ones it names, or the loaded ones, narrowed by the
partition key values its filter pins (a row with key v can only be in v's hidden partition).

`partitionkey.isolation` (a collection property) makes every search pin the key to one value by
equality, as Milvus requires in that mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from elanus.engine import routing
from elanus.engine.collection import MANUAL_PARTITION_IN_KEY_MODE, Collection, Snapshot
from elanus.errors import CollectionIllegalSchema, IndexDuplicate, UnexpectedError
from elanus.expr import Filter, plan
from elanus.schema import validate_partition_name

ISOLATION_PROPERTY = "partitionkey.isolation"
_OP_NAMES = {"==": "Equal", "!=": "NotEqual", ">": "GreaterThan", ">=": "GreaterEqual",
             "<": "LessThan", "<=": "LessEqual"}


def pinned_values(predicate: plan.Predicate, column: str) -> tuple[Any, ...] | None:
    """The values a filter allows `column` to take (None: it does not pin the column)."""
    match predicate:
        case plan.Compare(op="==", source=plan.ColumnValue(column=col), value=value) \
                if col == column:
            return (value,)
        case plan.InSet(source=plan.ColumnValue(column=col), values=values) if col == column:
            return tuple(values)
        case plan.And(operands=operands):
            pinned = [v for v in (pinned_values(o, column) for o in operands) if v is not None]
            if not pinned:
                return None
            common = set(pinned[0]).intersection(*pinned[1:])
            return tuple(v for v in pinned[0] if v in common)
        case plan.Or(operands=operands):
            each = [pinned_values(o, column) for o in operands]
            if any(v is None for v in each):
                return None
            return tuple(dict.fromkeys(v for values in each if values for v in values))
    return None


def isolation_enabled(properties: dict[str, str]) -> bool:
    return properties.get(ISOLATION_PROPERTY, "").lower() == "true"


def check_isolation_property(name: str, has_key: bool, indexed: bool,
                             changes: dict[str, str]) -> None:
    """Refuse turning isolation on without a partition key, or changing it under a vector
    index (`indexed`)."""
    if ISOLATION_PROPERTY not in changes:
        return
    if isolation_enabled(changes) and not has_key:
        raise CollectionIllegalSchema(name, "partition key isolation mode is enabled but no "
                                      "partition key field is set. Please set the partition key "
                                      "first")
    if indexed:
        raise IndexDuplicate("can not alter partition key isolation mode if the collection "
                             "already has a vector index. Please drop the index first")


def _check_isolated(predicate: plan.Predicate, key: str) -> bool:
    """Raise for a key condition isolation cannot serve; True when `key == v` is found."""
    def touches(p: plan.Predicate) -> bool:
        return key in plan.predicate_columns(p)

    match predicate:
        case plan.Compare(op=op, source=plan.ColumnValue(column=col)) if col == key:
            if op != "==":
                raise UnexpectedError(f"partition key isolation does not support {_OP_NAMES[op]}")
            return True
        case plan.InSet(source=plan.ColumnValue(column=col)) if col == key:
            raise UnexpectedError("partition key isolation does not support IN")
        case plan.And(operands=operands):
            found = [_check_isolated(o, key) for o in operands]
            return any(found)
        case plan.Or() if touches(predicate):
            raise UnexpectedError("partition key isolation does not support OR")
        case plan.Not() if touches(predicate):
            raise UnexpectedError("partition key isolation does not support NOT")
    return False


def read_snapshot(collection: Collection, operation: str, flt: Filter | None,
                  partitions: Sequence[str], read_ts: int = 0) -> Snapshot:
    """The segments a read must look at: those of the named (or every loaded) partition, and
    with a partition key only those of the partitions the filter's key values route to."""
    key = collection.partition_key
    if key is not None and partitions:
        raise UnexpectedError(MANUAL_PARTITION_IN_KEY_MODE)
    for name in partitions:
        validate_partition_name(name, strict=False)
        if name not in collection.partitions:
            raise UnexpectedError(f"partition name {name} not found")
    isolated = key is not None and operation == "search" and \
        isolation_enabled(collection.properties)
    if isolated and (flt is None or not _check_isolated(flt.plan, key.name)):  # type: ignore[union-attr]
        raise UnexpectedError("partition key not found in expr or the expr is invalid when "
                                  "validating partition key isolation")
    snap = collection.snapshot(operation, read_ts, partitions)
    pinned = pinned_values(flt.plan, key.name) if key is not None and flt is not None else None
    if key is None or pinned is None:
        return snap
    slots = collection.partition_ids()
    keep = {slots[s] for s in routing.slots_of(pinned, key.arrow_type, len(slots))}
    return replace(snap, views=[v for v in snap.views if v.segment.partition_id in keep])
