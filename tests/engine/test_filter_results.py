"""Filter results kept by sealed segments: a repeated filter is evaluated once per segment,
and what is kept never shows a row a read should not see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from elanus.engine import segment as segment_module
from elanus.engine.engine import Engine
from elanus.engine.read import compiled_filter
from elanus.engine.requests import QueryRequest, SearchRequest
from elanus.engine.segment import FilterResults
from elanus.errors import FilterInvalid
from elanus.expr import plan as p
from elanus.expr.filter import Filter
from elanus.index.selection import Selection
from elanus.schema import CollectionSchema, DataType, FieldSchema

DIM = 8
ROWS = 600  # two sealed segments of 300 and a growing one of 0


def _columns(ids: np.ndarray) -> dict[str, pa.Array]:
    rng = np.random.default_rng(int(ids[0]))
    vectors = rng.random((len(ids), DIM), dtype=np.float32)
    # j.a is the number 1 on even keys and true on odd ones: equal in Python, not in Milvus
    return {
        "id": pa.array(ids.astype(np.int64)),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
        "num": pa.array(ids % 10, pa.int64()),
        "j": pa.array([json.dumps({"a": 1 if i % 2 == 0 else True}).encode() for i in ids],
                      pa.large_binary()),
    }


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = Engine(tmp_path / "data", auto_compaction=False)
    e.create_collection("default", CollectionSchema("c", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=DIM),
        FieldSchema("num", DataType.INT64),
        FieldSchema("j", DataType.JSON),
    )))
    e.create_index("default", "c", "vector", "", {"index_type": "HNSW", "metric_type": "L2"})
    e.load_collection("default", "c")
    for lo in range(0, ROWS, 300):
        e.insert("default", "c", _columns(np.arange(lo, lo + 300)), 300)
        e.flush("default", "c")
    yield e
    e.close()


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The filter text of every evaluation over a segment's table."""
    seen: list[str] = []
    evaluate = Filter.evaluate

    def counted(self: Filter, table: pa.Table, *args: Any, **kw: Any) -> Any:
        seen.append(self.text)
        return evaluate(self, table, *args, **kw)

    monkeypatch.setattr(Filter, "evaluate", counted)
    return seen


def _ids(e: Engine, flt: str, limit: int = 1000) -> list[int]:
    q = np.full((1, DIM), 0.5, dtype=np.float32)
    res = e.search(SearchRequest("default", "c", "vector", q, limit, filter=flt))
    return sorted(res.pks.to_pylist())


def _count(e: Engine, flt: str) -> int:
    res = e.query(QueryRequest("default", "c", flt, ("count(*)",)))
    assert res.count is not None
    return res.count


def test_a_repeated_filter_is_evaluated_once_per_sealed_segment(
        engine: Engine, evaluations: list[str]) -> None:
    first = _ids(engine, "num < 3")
    assert first == [i for i in range(ROWS) if i % 10 < 3]
    assert evaluations == ["num < 3"] * 2
    assert _ids(engine, "num < 3") == first
    assert _count(engine, "num < 3") == len(first)  # count(*) reads the same results
    assert evaluations == ["num < 3"] * 2
    assert _ids(engine, "num < 4") != first
    assert evaluations == ["num < 3"] * 2 + ["num < 4"] * 2


def test_deletes_after_a_result_is_kept_are_respected(engine: Engine) -> None:
    assert _count(engine, "num == 1") == 60
    engine.delete("default", "c", "id in [1, 11, 301]")
    assert _count(engine, "num == 1") == 57
    assert not {1, 11, 301} & set(_ids(engine, "num == 1"))


def test_filters_equal_in_python_but_not_in_milvus_keep_their_own_results(
        engine: Engine) -> None:
    ones = _ids(engine, 'j["a"] == 1')
    trues = _ids(engine, 'j["a"] == true')
    assert ones == list(range(0, ROWS, 2))
    assert trues == list(range(1, ROWS, 2))


def test_random_samples_are_drawn_anew_each_time(engine: Engine, evaluations: list[str]) -> None:
    for _ in range(3):
        _count(engine, "random_sample(0.5)")
    assert len(evaluations) == 6


def test_kept_results_are_bounded_and_the_least_recently_used_goes_first() -> None:
    table = pa.table({"x": [1, 2]})
    results = FilterResults()
    kept = [Selection(np.array([True, i % 2 == 0])) for i in range(segment_module.FILTER_RESULTS)]
    for i, s in enumerate(kept):
        results.put(f"f{i}", table, s)
    assert results.get("f0", table) is kept[0]  # f0 is now the most recently used
    results.put("late", table, Selection(np.array([False, False])))
    assert results.get("f1", table) is None
    assert results.get("f0", table) is kept[0]
    assert results.get("late", table) is not None
    assert results.get("late", pa.table({"x": [1, 2]})) is None  # read from another table


def test_text_match_leaves_the_primary_key_index_unbuilt(tmp_path: Path) -> None:
    """The text index is laid over the segment's scalar indexes without reading them: the
    primary key index (built on its first lookup) is built only by filters on the key."""
    e = Engine(tmp_path / "data", auto_compaction=False)
    e.create_collection("default", CollectionSchema("t", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=DIM),
        FieldSchema("text", DataType.VARCHAR, max_length=64,
                    type_params={"enable_analyzer": "true", "enable_match": "true"}),
    )))
    e.create_index("default", "t", "vector", "", {"index_type": "FLAT", "metric_type": "L2"})
    e.load_collection("default", "t")
    ids = np.arange(100)
    e.insert("default", "t", {
        "id": pa.array(ids), "vector": _columns(ids + 1)["vector"],
        "text": pa.array(["red apple" if i % 3 == 0 else "green pear" for i in ids]),
    }, 100)
    e.flush("default", "t")
    (segment,) = e.collection("default", "t").sealed.values()
    cache = segment.filter_cache
    assert cache is not None
    res = e.query(QueryRequest("default", "t", "text_match(text, 'apple')", ("count(*)",)))
    assert res.count == 34
    assert "primary-key-index" not in cache
    res = e.query(QueryRequest("default", "t", "text_match(text, 'apple') and id < 10",
                               ("count(*)",)))
    assert res.count == 4
    assert "primary-key-index" in cache
    e.close()


STATIC = CollectionSchema("static", (
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
    FieldSchema("age", DataType.INT8),
))


def test_compiled_filters_are_kept_per_text_schema_and_parameters() -> None:
    first = compiled_filter("age > {low}", STATIC, {"low": 1})
    assert compiled_filter("age > {low}", STATIC, {"low": 1}) is first
    with pytest.raises(FilterInvalid, match="type mismatch"):  # True is not the kept 1
        compiled_filter("age > {low}", STATIC, {"low": True})
    assert compiled_filter("age > {low}", STATIC, {"low": 2}).plan == \
        p.Compare(">", p.ColumnValue("age", "int"), 2)
    evolved = CollectionSchema("static", (*STATIC.fields,
                                          FieldSchema("extra", DataType.INT64, nullable=True)))
    again = compiled_filter("age > {low}", evolved, {"low": 1})
    assert again is not first and again.plan == first.plan
    with pytest.raises(FilterInvalid):  # a field the first schema lacks is not found there
        compiled_filter("extra > 1", STATIC, {})
    assert compiled_filter("extra > 1", evolved, {}).columns == frozenset({"extra"})


def test_long_filters_are_not_kept_compiled() -> None:
    ids = list(range(2000))
    first = compiled_filter("age in {ids}", STATIC, {"ids": ids})
    assert compiled_filter("age in {ids}", STATIC, {"ids": ids}) is not first
    assert compiled_filter("age in [1, 2]", STATIC, {}) is compiled_filter("age in [1, 2]",
                                                                           STATIC, {})
