"""Property: the vectorized evaluator and the plain-Python reference select the same rows."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elanus.expr import compile_filter, parse, to_text
from tests.expr.reference import SCHEMA
from tests.expr.strategies import EXPRESSIONS, ROWS, table

SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(rows=ROWS, expression=EXPRESSIONS, chunks=st.integers(1, 3))
def test_evaluator_matches_reference(rows: list[dict[str, Any]], expression: Any,
                                     chunks: int) -> None:
    text = expression.render()
    mask = compile_filter(text, SCHEMA).evaluate(table(rows, chunks))
    want = [expression.check(row)[0] for row in rows]
    assert mask.tolist() == want, text


@SETTINGS
@given(rows=ROWS, expression=EXPRESSIONS)
def test_cached_decoding_gives_the_same_rows(rows: list[dict[str, Any]], expression: Any) -> None:
    compiled = compile_filter(expression.render(), SCHEMA)
    data, cache = table(rows), {}
    first = compiled.evaluate(data, cache)
    again = compiled.evaluate(data, cache)
    assert np.array_equal(first, again)
    assert np.array_equal(first, compiled.evaluate(data))


@settings(max_examples=200, deadline=None)
@given(expression=EXPRESSIONS)
def test_printed_tree_parses_back_to_itself(expression: Any) -> None:
    tree = parse(expression.render())
    assert parse(to_text(tree)) == tree
