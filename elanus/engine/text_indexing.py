"""Text indexes of segments, for text_match and phrase_match: built from a VARCHAR column with
the field's analyzer on first use, kept with the segment.

A sealed segment never changes, so its text index is a pure function of one column and the
field's analyzer: it is built the first time a filter needs it and kept in the segment's filter
cache, which a schema change drops. A growing segment only appends, so the index of its first n
rows stays right while rows arrive: it is kept per segment (weakly, so it goes when the segment
is sealed and dropped) with the row count it covers, and extended with only the rows appended
since. A read of an older snapshot than the one cached gets the cached index cut to its rows.
Building runs outside the lock; two readers may build the same index once each, harmlessly.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from elanus.engine.segment import Segment, SegmentView
from elanus.expr import Filter
from elanus.expr.columns import IndexKey
from elanus.index.text_match import TextIndex
from elanus.schema import CollectionSchema
from elanus.schema.analyzers import field_analyzer

_growing: weakref.WeakKeyDictionary[Segment, dict[tuple[str, ...], TextIndex]] = \
    weakref.WeakKeyDictionary()
_lock = threading.Lock()


def with_text_indexes(schema: CollectionSchema, flt: Filter, view: SegmentView,
                      indexes: Mapping[IndexKey, Any] | None) -> Mapping[IndexKey, Any] | None:
    """`indexes` plus the text index of every field the filter's text_match and phrase_match
    read, as the evaluator looks them up (("text", field))."""
    if not flt.text_columns:
        return indexes
    texts = {("text", name): text_index(schema, name, view) for name in flt.text_columns}
    return texts if indexes is None else _Over(texts, indexes)


class _Over(Mapping[IndexKey, Any]):
    """`top` over `below`, read through: an entry of `below` is looked up only when asked for
    (a sealed segment's primary key index is built on its first lookup)."""

    def __init__(self, top: dict[IndexKey, Any], below: Mapping[IndexKey, Any]) -> None:
        self._top, self._below = top, below

    def __getitem__(self, key: IndexKey) -> Any:
        return self._top[key] if key in self._top else self._below[key]

    def __iter__(self) -> Iterator[IndexKey]:
        yield from self._top
        yield from (key for key in self._below if key not in self._top)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def text_index(schema: CollectionSchema, name: str, view: SegmentView) -> TextIndex:
    """The text index of field `name` over the view's rows."""
    f = schema.field(name)
    assert f is not None, name  # the filter was bound to this schema
    key = ("text-index", name, f.type_params.get("analyzer_params", ""))
    cache = view.segment.filter_cache
    if cache is not None:  # sealed: immutable
        found = cache.get(key)
        if not isinstance(found, TextIndex):
            found = build(view.table, name, field_analyzer(f.type_params, f.name))
            cache[key] = found
        return found
    with _lock:
        known = _growing.get(view.segment, {}).get(key)
    n = view.num_rows
    if known is not None and known.num_rows == n:
        return known
    if known is not None and known.num_rows > n:
        return known.head(n)
    analyzer = field_analyzer(f.type_params, f.name)
    if known is None:
        built = build(view.table, name, analyzer)
    else:
        tail = view.table.slice(known.num_rows, n - known.num_rows)
        built = known.extend(build(tail, name, analyzer))
    with _lock:
        _growing.setdefault(view.segment, {})[key] = built
    return built


def build(table: pa.Table, name: str, analyzer: Any) -> TextIndex:
    """The text index of one column of `table` (all null when the table lacks it)."""
    if name in table.column_names:
        column = table.column(name)
    else:
        column = pa.nulls(table.num_rows, pa.large_string())
    return TextIndex.build(column, analyzer)
