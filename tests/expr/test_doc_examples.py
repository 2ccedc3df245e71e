"""The filter expressions of the Milvus documentation, compiled and evaluated by elanus.

Data and expectations: doc_examples.py. Each dataset becomes a table in storage layout once per
module, through the write path's own conversion (prepare_rows); text_match and phrase_match
read the text indexes the engine would build for that table.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from elanus.engine.rows import prepare_rows
from elanus.engine.text_indexing import build
from elanus.errors import FilterInvalid
from elanus.expr import Filter, compile_filter
from elanus.index.text_match import TextIndex
from elanus.schema import DYNAMIC_FIELD, CollectionSchema, DataType, FieldSchema
from elanus.schema.analyzers import field_analyzer
from tests.expr.doc_examples import DATASETS, EXAMPLES, FAMILIES, Example, Refused, Sample


@functools.cache
def collection(name: str) -> tuple[CollectionSchema, pa.Table]:
    """The dataset's schema, and its rows as prepare_rows stores them."""
    d = DATASETS[name]
    fields = []
    for i, (fname, dtype, *rest) in enumerate(d.fields):
        opt = rest[0] if rest else {}
        element = DataType[opt.get("element", "NONE")]
        fields.append(FieldSchema(
            name=fname, dtype=DataType[dtype], field_id=100 + i, is_primary=fname == d.pk,
            nullable=opt.get("nullable", False), default_value=opt.get("default"),
            max_length=1000 if DataType.VARCHAR in (DataType[dtype], element) else 0,
            element_type=element, max_capacity=100 if element else 0,
            type_params={"enable_analyzer": "true", "enable_match": "true"}
            if opt.get("match") else {}))
    schema = CollectionSchema(name=name, fields=tuple(fields),
                              enable_dynamic_field=d.dynamic)
    columns = {f.name: _column(f, [r.get(f.name) for r in d.rows]) for f in schema.fields}
    if d.dynamic:
        columns[DYNAMIC_FIELD] = pa.array([json.dumps(r.get(DYNAMIC_FIELD, {})).encode()
                                           for r in d.rows], pa.large_binary())
    return schema, prepare_rows(schema, columns, len(d.rows), ts=1, allocate_ids=lambda n: n)


def text_indexes(schema: CollectionSchema, flt: Filter, table: pa.Table
                 ) -> dict[tuple[str, str], TextIndex]:
    """The text index of each field the filter's text_match and phrase_match read."""
    out = {}
    for name in flt.text_columns:
        f = schema.field(name)
        assert f is not None
        out[("text", name)] = build(table, name, field_analyzer(f.type_params, name))
    return out


def _column(f: FieldSchema, values: list[Any]) -> pa.Array:
    """A field's values as the gRPC layer hands them to prepare_rows: JSON as bytes,
    TIMESTAMPTZ and GEOMETRY as text (prepare_rows parses them), the rest in storage type."""
    if f.dtype == DataType.JSON:
        return pa.array([None if v is None else json.dumps(v).encode() for v in values],
                        pa.large_binary())
    if f.dtype in (DataType.TIMESTAMPTZ, DataType.GEOMETRY):
        return pa.array(values, pa.large_string())
    return pa.array(values, f.arrow_type)


def _slug(e: Example, seen: set[str]) -> str:
    text = e.expr.lower()
    for op, word in [("&&", " and "), ("||", " or "), ("==", " eq "), ("!=", " ne "),
                     (">=", " ge "), ("<=", " le "), (">", " gt "), ("<", " lt "),
                     ("=~", " re "), ("!~", " not re "), ("!", " bang "), ("%", " pct "),
                     ("\\", " bs ")]:
        text = text.replace(op, word)
    slug = re.sub(r"[^a-z0-9_]+", "-", text).strip("-")[:50].strip("-") or "blank"
    for candidate in [slug, f"{slug}-{e.dataset}", *(f"{slug}-{i}" for i in range(2, 99))]:
        if candidate not in seen:
            seen.add(candidate)
            return candidate
    raise AssertionError(slug)


_seen: set[str] = set()
PARAMS = [pytest.param(e, id=_slug(e, _seen),
                       marks=[pytest.mark.xfail(strict=True, reason=f"not yet: {e.gap}")]
                       if e.gap else [])
          for e in EXAMPLES]


@pytest.mark.parametrize("example", PARAMS)
def test_doc_example(example: Example) -> None:
    schema, table = collection(example.dataset)
    expect = example.expect
    if isinstance(expect, Refused):
        with pytest.raises(FilterInvalid, match=re.escape(expect.words)):
            compile_filter(example.expr, schema, example.params)
        return
    if example.expr.strip():
        flt = compile_filter(example.expr, schema, example.params)
        mask = flt.evaluate(table, None, text_indexes(schema, flt, table))
    else:  # a blank filter is no filter: the engine never compiles it (engine/read.py)
        mask = np.ones(table.num_rows, np.bool_)
    pks = table.column(DATASETS[example.dataset].pk).to_numpy()
    got = sorted(pks[mask].tolist())
    if isinstance(expect, Sample):
        assert len(got) == round(expect.factor * len(expect.of))
        assert set(got) <= set(expect.of)
    else:
        assert got == expect


def test_every_grammar_family_has_an_evaluated_example() -> None:
    evaluated = {f for e in EXAMPLES if not isinstance(e.expect, Refused) and not e.gap
                 for f in e.families}
    assert [f for f in FAMILIES if f not in evaluated] == []
