"""Property: with scalar indexes on every field, filters select exactly the rows a scan does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings

from elanus.engine.scalar_indexing import build
from elanus.expr import compile_filter
from elanus.expr.columns import TableReader
from elanus.expr.indexed import answer
from elanus.index.vector import IndexSpec
from tests.expr.reference import SCHEMA
from tests.expr.strategies import EXPRESSIONS, ROWS, table

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SPECS = [IndexSpec(f"ix_{name}", name, kind, "", params) for name, kind, params in [
    ("i32", "STL_SORT", {}), ("i64", "INVERTED", {}), ("d", "STL_SORT", {}),
    ("s", "TRIE", {}), ("s", "NGRAM", {"min_gram": "1", "max_gram": "2"}),
    ("b", "BITMAP", {}), ("arr", "INVERTED", {}), ("sarr", "BITMAP", {}),
    *[("j", "INVERTED", {"json_path": f"j{path}", "json_cast_type": cast})
      for path in ('["a"]', '["b"]', '["a"][0]', '["0"]') for cast in ("double", "varchar", "bool")],
]]


def _indexes(data: pa.Table) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for spec in SPECS:
        out.update(build(SCHEMA, spec, data))
    return out


@SETTINGS
@given(rows=ROWS, expression=EXPRESSIONS)
def test_indexes_select_the_rows_a_scan_selects(rows: list[dict[str, Any]],
                                                expression: Any) -> None:
    text = expression.render()
    compiled = compile_filter(text, SCHEMA)
    data = table(rows)
    scanned = compiled.evaluate(data)
    indexed = compiled.evaluate(data, indexes=_indexes(data))
    assert np.array_equal(scanned, indexed), text
    want = [expression.check(row)[0] for row in rows]
    assert indexed.tolist() == want, text


def test_indexed_forms_skip_the_scan() -> None:
    rows = [{"i32": i % 5, "i64": i, "d": i / 2, "s": f"ab{i}", "b": i % 2 == 0,
             "j": {"a": i, "b": str(i)}, "arr": [i, i + 1], "sarr": ["x"], "$meta": {}}
            for i in range(20)]
    data = table(rows)
    reader = TableReader(data, indexes=_indexes(data))
    for text in ["i32 < 3", "i64 in [1, 2, 2.5]", "d >= 2.5", 's like "ab1%"', 's like "%b1_"',
                 'j["a"] < 4', 'j["b"] == "3"', 'j["a"] in [1, 2.0, "x"]',
                 "array_contains_all(arr, [3, 4])", "b != true"]:
        plan = compile_filter(text, SCHEMA).plan
        assert answer(plan, reader) is not None, text
