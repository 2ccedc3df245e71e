"""Range, grouping and paged searches against a plain-Python reference over random data:
several segments, repeated primary keys, null group values, filters, every page."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from elanus.engine.engine import Engine
from elanus.engine.requests import IteratorPage, SearchRequest
from elanus.schema import CollectionSchema, DataType, FieldSchema

DIM = 4


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Four segments (three sealed, one growing) of 150 rows; keys 0..499, the keys of the
    last 100 rows repeat keys of earlier segments (the newer row replaces the older one)."""
    e = Engine(tmp_path_factory.mktemp("plans") / "d", auto_compaction=False)
    e.create_collection("default", CollectionSchema("c", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=DIM),
        FieldSchema("g", DataType.INT64, nullable=True),
    )))
    e.create_index("default", "c", "v", "", {"index_type": "FLAT", "metric_type": "L2"})
    e.load_collection("default", "c")
    rng = np.random.default_rng(11)
    ids = np.concatenate([np.arange(500), rng.choice(450, 100, replace=False)])
    vectors = rng.normal(size=(600, DIM)).astype(np.float32)
    groups = rng.integers(0, 12, 600)
    null = rng.random(600) < 0.1
    for lo in range(0, 600, 150):
        sl = slice(lo, lo + 150)
        e.insert("default", "c", {
            "id": pa.array(ids[sl]),
            "v": pa.FixedSizeListArray.from_arrays(pa.array(vectors[sl].ravel()), DIM),
            "g": pa.array(groups[sl], mask=null[sl]),
        }, 150, upsert=True)
        if lo < 450:
            e.flush("default", "c")
    # the live row of each key is its last one
    last = {int(k): i for i, k in enumerate(ids)}
    rows = np.array(sorted(last.values()))
    live = {"id": ids[rows], "v": vectors[rows],
            "g": [None if null[r] else int(groups[r]) for r in rows]}
    yield e, live
    e.close()


def _reference(live: dict, query: np.ndarray, keep: np.ndarray) -> list[tuple[int, float, object]]:
    d = ((live["v"] - query) ** 2).sum(axis=1)
    order = [i for i in np.argsort(d, kind="stable") if keep[i]]
    return [(live["id"][i].item(), float(d[i]), live["g"][i]) for i in order]


def _search(e: Engine, queries: np.ndarray, **kw: object):  # type: ignore[no-untyped-def]
    return e.search(SearchRequest("default", "c", "v", queries, **kw))  # type: ignore[arg-type]


def _per_query(res) -> list[list[int]]:  # type: ignore[no-untyped-def]
    pks, out, at = res.pks.to_pylist(), [], 0
    for n in res.topks:
        out.append(pks[at: at + n])
        at += n
    return out


@pytest.mark.parametrize("seed", range(6))
def test_grouping_matches_the_reference(world, seed: int) -> None:  # type: ignore[no-untyped-def]
    e, live = world
    rng = np.random.default_rng(seed)
    queries = rng.normal(size=(3, DIM)).astype(np.float32)
    limit, size, offset = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
    res = _search(e, queries, limit=limit, group_by_field="g", group_size=size, offset=offset,
                  strict_group_size=True)
    everything = np.ones(len(live["id"]), dtype=bool)
    for q, got in zip(queries, _per_query(res)):
        groups: dict[object, list[int]] = {}
        for pk, _, g in _reference(live, q, everything):
            if len(groups.setdefault(g, [])) < size:
                groups[g].append(pk)
        want = [pk for members in list(groups.values())[offset: offset + limit]
                for pk in members]
        assert got == want


@pytest.mark.parametrize("seed", range(6))
def test_range_with_filter_matches_the_reference(world, seed: int) -> None:  # type: ignore[no-untyped-def]
    e, live = world
    rng = np.random.default_rng(100 + seed)
    query = rng.normal(size=(1, DIM)).astype(np.float32)
    radius, inner = float(rng.uniform(3, 8)), float(rng.uniform(0, 2))
    res = _search(e, query, limit=200, filter="g > 3", radius=radius, range_filter=inner)
    keep = np.array([g is not None and g > 3 for g in live["g"]])
    want = [pk for pk, d, _ in _reference(live, query[0], keep) if inner <= d < radius][:200]
    assert res.pks.to_pylist() == want


def test_iterator_pages_cover_every_live_row_once(world) -> None:  # type: ignore[no-untyped-def]
    e, live = world
    query = np.zeros((1, DIM), dtype=np.float32)
    page: IteratorPage | None = IteratorPage()
    got: list[int] = []
    for _ in range(40):
        res = _search(e, query, limit=37, iterator=page)
        if not res.topks[0]:
            break
        got += res.pks.to_pylist()
        page = IteratorPage(res.iterator.token, res.iterator.last_bound)  # as pymilvus sends it
    assert got == [pk for pk, _, _ in _reference(live, query[0],
                                                 np.ones(len(live["id"]), dtype=bool))]


@pytest.fixture(scope="module")
def repeats(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Collections whose keys repeat by plain insert (both rows stay live): "many" has two
    sealed segments and a growing one with keys shared across them, "one" a single sealed
    segment holding some keys twice, "distinct" a single sealed segment of distinct keys, and
    "text" VARCHAR keys repeated across two sealed segments."""
    e = Engine(tmp_path_factory.mktemp("repeats") / "d", auto_compaction=False)
    rng = np.random.default_rng(5)
    layouts = {
        "many": [rng.integers(0, 120, 100), rng.integers(0, 120, 100), rng.integers(0, 120, 60)],
        "one": [np.concatenate([np.arange(100), rng.integers(0, 100, 50)])],
        "distinct": [rng.permutation(150)],
        "text": [rng.integers(0, 90, 80), rng.integers(0, 90, 80)],
    }
    worlds = {}
    for name, parts in layouts.items():
        text = name == "text"
        e.create_collection("default", CollectionSchema(name, (
            FieldSchema("id", DataType.VARCHAR if text else DataType.INT64, is_primary=True,
                        max_length=8),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=DIM),
            FieldSchema("g", DataType.INT64),
        )))
        e.create_index("default", name, "v", "", {"index_type": "FLAT", "metric_type": "L2"})
        e.load_collection("default", name)
        ids = np.concatenate(parts)
        vectors = rng.normal(size=(len(ids), DIM)).astype(np.float32)
        groups = rng.integers(0, 10, len(ids))
        at = 0
        for i, part in enumerate(parts):
            sl = slice(at, at + len(part))
            keys = pa.array([f"k{k}" for k in part]) if text else pa.array(part)
            e.insert("default", name, {
                "id": keys,
                "v": pa.FixedSizeListArray.from_arrays(pa.array(vectors[sl].ravel()), DIM),
                "g": pa.array(groups[sl]),
            }, len(part))
            if name != "many" or i < len(parts) - 1:
                e.flush("default", name)
            at += len(part)
        keys_out = np.array([f"k{k}" for k in ids]) if text else ids
        worlds[name] = {"id": keys_out, "v": vectors, "g": groups}
    yield e, worlds
    e.close()


@pytest.mark.parametrize("name", ["many", "one", "distinct", "text"])
@pytest.mark.parametrize("seed", range(4))
def test_top_k_pages_match_the_reference(repeats, name: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Each query's page offset .. offset+limit of its best hit per key, best first."""
    e, worlds = repeats
    live = worlds[name]
    rng = np.random.default_rng(200 + seed)
    queries = rng.normal(size=(3, DIM)).astype(np.float32)
    limit, offset = int(rng.integers(1, 9)), int(rng.integers(0, 5))
    filtered = bool(seed % 2)
    res = e.search(SearchRequest("default", name, "v", queries, limit=limit, offset=offset,
                                 filter="g > 3" if filtered else ""))
    keep = live["g"] > 3 if filtered else np.ones(len(live["id"]), dtype=bool)
    assert len(res.topks) == len(queries)
    for q, got in zip(queries, _per_query(res)):
        best: list[object] = []
        for pk, _, _ in _reference(live, q, keep):
            if pk not in best:
                best.append(pk)
        assert got == best[offset: offset + limit]
