"""A small fixed table covering every column kind, nulls, and JSON rows that disagree on types."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from tests.expr.strategies import table

ROWS: list[dict[str, Any]] = [
    {"i32": 1, "i64": 10, "d": 0.5, "s": "apple", "b": True,
     "j": {"a": 1, "b": "x", "tags": ["red", "blue"], "n": {"m": 3}},
     "arr": [1, 2, 3], "sarr": ["a", "b"], "$meta": {"color": "red", "size": 3}},
    {"i32": 2, "i64": None, "d": 1.5, "s": "banana", "b": False, "j": {"a": "1", "tags": [1, 2]},
     "arr": [], "sarr": ["c"], "$meta": {"color": "blue", "size": 3.5}},
    {"i32": None, "i64": 30, "d": None, "s": None, "b": None, "j": None,
     "arr": None, "sarr": None, "$meta": {}},
    {"i32": 4, "i64": -40, "d": -2.0, "s": "apricot", "b": True, "j": {"a": 2.5, "tags": ["red"]},
     "arr": [5], "sarr": [], "$meta": {"color": "red", "size": "big"}},
    {"i32": -5, "i64": 50, "d": 3.0, "s": "50%", "b": False, "j": [1, 2],
     "arr": [2, 2], "sarr": ["a"], "$meta": {"color": None, "size": [1, 2]}},
    {"i32": 0, "i64": 0, "d": 0.0, "s": "", "b": True, "j": {"a": True, "b": None},
     "arr": [3, 1], "sarr": ["b", "a"], "$meta": {"size": 2}},
]


@pytest.fixture(params=[1, 3], ids=["one-chunk", "three-chunks"])
def things(request: pytest.FixtureRequest) -> pa.Table:
    return table(ROWS, chunks=request.param)
