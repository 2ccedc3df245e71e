"""Scalar indexes of sealed segments: built from a segment's column on first use, kept with it.

A sealed segment never changes, so its scalar index is a pure function of one column. It is
built in memory the first time a filter on the loaded segment can use it (the background
builder warms it right after create_index and after a load), and kept in the segment's filter
cache beside its decoded JSON paths; a schema change drops both. Growing segments are scanned, as
Milvus scans them: their rows change with every insert. Which structure serves which index type
is set out in `elanus.index.scalar`; this module reads the columns it is built from, including
the typed values at a JSON path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine.segment import Segment
from elanus.errors import FilterInvalid, InvalidArgument
from elanus.expr import nodes as syn
from elanus.expr.columns import IndexKey
from elanus.expr.jsonpath import Kind, decode_values
from elanus.expr.parser import parse
from elanus.index.registry import JSON_CASTS
from elanus.index.scalar import NgramIndex, SortedIndex
from elanus.index.vector import IndexSpec
from elanus.schema import DYNAMIC_FIELD, CollectionSchema, DataType


def segment_indexes(schema: CollectionSchema, specs: list[IndexSpec],
                    segment: Segment) -> Mapping[IndexKey, Any] | None:
    """The scalar indexes of a sealed `segment`: those of the collection's scalar index
    `specs` (built now if missing) and its primary key index; None for a growing segment."""
    cache = segment.filter_cache
    if cache is None:
        return None
    out: dict[IndexKey, Any] = {}
    for spec in specs:
        if spec.metric_type:
            continue
        key = ("scalar-index", spec.index_name, tuple(sorted(spec.params.items())))
        built = cache.get(key)
        if built is None:
            built = build(schema, spec, segment.snapshot().table)
            cache[key] = built
        out.update(built)  # type: ignore[call-overload]
    return _WithPrimaryKey(out, schema, segment, cache)


class _WithPrimaryKey(Mapping[IndexKey, Any]):
    """A sealed segment's scalar indexes plus, for an integer primary key, a sorted index of
    its keys, built on its first lookup: Milvus keeps a primary key index per sealed segment,
    and lookups by key (get, delete, `id in [...]`) then cost a search, not a scan."""

    def __init__(self, built: dict[IndexKey, Any], schema: CollectionSchema, segment: Segment,
                 cache: dict[object, object]) -> None:
        self._built, self._segment, self._cache = built, segment, cache
        pk = schema.primary
        key = ("column", pk.name)
        self._pk_key = key if pk.dtype.is_integer and key not in built else None

    def __getitem__(self, key: IndexKey) -> Any:
        if key != self._pk_key:
            return self._built[key]
        index = self._cache.get("primary-key-index")
        if index is None:
            index = self._cache["primary-key-index"] = SortedIndex.build(
                pa.array(self._segment.snapshot().keys))
        return index

    def __iter__(self) -> Iterator[IndexKey]:
        yield from self._built
        if self._pk_key is not None:
            yield self._pk_key

    def __len__(self) -> int:
        return len(self._built) + (self._pk_key is not None)


def build(schema: CollectionSchema, spec: IndexSpec, table: pa.Table) -> dict[IndexKey, Any]:
    """The structures of one index spec over one segment's table, by the key the filter
    evaluator looks them up with."""
    f = schema.field(spec.field_name)
    if f is None:  # a JSON path index on a key of the dynamic field
        if not schema.enable_dynamic_field or DYNAMIC_FIELD not in table.column_names:
            return {}
        keys = (spec.field_name, *json_path_keys(spec.params["json_path"], spec.field_name))
        return _json_index(DYNAMIC_FIELD, keys, spec,
                           table.column(DYNAMIC_FIELD).combine_chunks())
    if f.name not in table.column_names:
        return {}
    column = table.column(f.name).combine_chunks()
    if f.dtype == DataType.JSON:
        return _json_index(f.name, json_path_keys(spec.params["json_path"], f.name), spec,
                           column)
    if f.dtype == DataType.ARRAY:
        lengths = pc.list_value_length(column).fill_null(0).to_numpy().astype(np.int64)
        rows = np.repeat(np.arange(len(column), dtype=np.int64), lengths)
        return {("elements", f.name): SortedIndex.build(column.flatten(), rows, len(column))}
    if spec.index_type == "NGRAM":
        return {("ngram", f.name): NgramIndex.build(column, int(spec.params["min_gram"]))}
    if f.dtype == DataType.GEOMETRY or f.dtype.is_vector:
        return {}  # RTREE: geometry filters read the cached decoded shapes
    return {("column", f.name): SortedIndex.build(column)}


def json_path_keys(path: str, field: str) -> tuple[str | int, ...]:
    """The keys below `field` that a json_path such as `meta["a"]["b"]` names."""
    try:
        node = parse(path)
    except FilterInvalid:
        node = None
    if isinstance(node, syn.Path) and node.name == field:
        return node.keys
    if isinstance(node, syn.Name) and node.name == field:
        return ()
    raise InvalidArgument(f"json_path {path!r} is not a path within JSON field {field}, "
                          f"e.g. {field}[\"key\"]")


def _json_index(field: str, keys: tuple[str | int, ...], spec: IndexSpec,
                column: pa.Array) -> dict[IndexKey, Any]:
    """The typed values at `keys` within JSON column `field`, indexed as the spec casts them."""
    jv = decode_values(column, keys)
    cast = JSON_CASTS[spec.params["json_cast_type"].upper()]
    n = len(column)

    def typed(values: Any, kind: Kind) -> SortedIndex:
        return SortedIndex.build(pa.array(values, mask=jv.kind != kind), num_rows=n)

    if cast == "bool":
        return {("json", field, keys, "bool"): typed(jv.bools, Kind.BOOL)}
    if cast == "str":
        return {("json", field, keys, "str"): SortedIndex.build(jv.strings, num_rows=n)}
    return {("json", field, keys, "int"): typed(jv.ints, Kind.INT),
            ("json", field, keys, "float"): typed(jv.floats, Kind.FLOAT)}
