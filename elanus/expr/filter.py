"""`compile_filter`: the one entry point the engine uses to turn a filter string into a mask.

A `Filter` is compiled once per request (parse, bind to the collection schema, substitute the
template parameters) and then evaluated against each segment's Arrow table. It is immutable and
may be evaluated from several threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from elanus.errors import FilterInvalid
from elanus.expr.binder import bind
from elanus.expr.columns import IndexKey, TableReader
from elanus.expr.evaluator import evaluate
from elanus.expr.parser import parse
from elanus.expr.plan import Predicate, Sample, leaves, predicate_columns, text_columns
from elanus.schema import CollectionSchema

KEPT_CHARS = 4096  # longer filters (and their results) are not kept


@dataclass(frozen=True)
class Filter:
    """A compiled filter expression.

    `columns` names the stored columns it reads (field names, and `$meta` for dynamic keys); the
    table given to `evaluate` must hold them, or reads a missing one as all null.
    `text_columns` names those text_match or phrase_match read: `evaluate` needs the segment's
    text index of each (IndexKey ("text", column)).
    """

    text: str
    plan: Predicate
    columns: frozenset[str]
    text_columns: frozenset[str] = frozenset()

    @cached_property
    def cache_key(self) -> str | None:
        """Equal for two filters only when they pass the same rows of any table, so a result
        may be kept under it: the plan spelled out with its literals' types (plan equality
        takes 1, 1.0 and True for one value). None when the filter draws rows at random, or
        is too long to be worth keeping (long `in` lists are rarely sent twice)."""
        if any(isinstance(leaf, Sample) for leaf in leaves(self.plan)):
            return None
        key = repr(self.plan)
        return key if len(key) <= KEPT_CHARS else None

    def evaluate(self, table: pa.Table, cache: dict[Any, Any] | None = None,
                 indexes: Mapping[IndexKey, Any] | None = None) -> npt.NDArray[np.bool_]:
        """The rows of `table` that pass, as a bool array of length table.num_rows.

        `cache`, when given, memoizes decoded JSON paths and geometries by column identity; keep
        one dict per immutable (sealed) segment to decode each column once across requests.
        `indexes` are the segment's scalar indexes (keys: `IndexKey`); predicates they answer
        skip the scan, with the same result.
        """
        return evaluate(self.plan, TableReader(table, cache, indexes))


def compile_filter(text: str, schema: CollectionSchema,
                   params: Mapping[str, Any] | None = None) -> Filter:
    """Parse `text`, bind it to `schema` and `params`; raises FilterInvalid (code 1100)."""
    try:
        predicate = bind(parse(text), schema, params, text)
    except RecursionError:  # e.g. thousands of chained + operators: a tree too deep to walk
        raise FilterInvalid(text, "expression is nested too deeply", None) from None
    return Filter(text, predicate, predicate_columns(predicate), text_columns(predicate))
