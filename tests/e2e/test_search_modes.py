"""Search modes beyond one query vector: search by primary keys, range and grouping search,
iterators; and run_analyzer."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from pymilvus import DataType, MilvusException


def _collection(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    milvus.create_collection(name, dimension=2)
    milvus.insert(name, [{"id": i, "vector": [1.0, i / 10], "color": "red" if i % 2 else "blue"}
                         for i in range(10)])


@pytest.mark.parametrize("sealed", [False, True])
def test_search_by_primary_keys_uses_their_vectors(milvus, name: str, sealed: bool) -> None:
    _collection(milvus, name)
    if sealed:
        milvus.flush(name)
    by_keys = milvus.search(name, ids=[3, 7], limit=3)
    by_vectors = milvus.search(name, data=[[1.0, 0.3], [1.0, 0.7]], limit=3)
    assert [[h["id"] for h in q] for q in by_keys] == [[h["id"] for h in q] for q in by_vectors]
    assert [q[0]["id"] for q in by_keys] == [3, 7]
    filtered = milvus.search(name, ids=[3], limit=2, filter='color == "blue"',
                             output_fields=["color"])[0]
    assert [(h["id"], h["entity"]["color"]) for h in filtered] == [(4, "blue"), (2, "blue")]


def test_search_by_missing_primary_key_is_refused(milvus, name: str) -> None:
    _collection(milvus, name)
    with pytest.raises(MilvusException, match=r"primary keys \[99\] of the search are not in") \
            as err:
        milvus.search(name, ids=[5, 99], limit=3)
    assert err.value.code == 1100


def test_search_by_varchar_keys_of_a_binary_field(milvus, name: str) -> None:
    schema = milvus.create_schema()
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=8)
    schema.add_field("b", DataType.BINARY_VECTOR, dim=16)
    index = milvus.prepare_index_params()
    index.add_index("b", index_type="BIN_FLAT", metric_type="HAMMING")
    milvus.create_collection(name, schema=schema, index_params=index)
    rows = np.random.default_rng(1).integers(0, 256, (20, 2), dtype=np.uint8)
    milvus.insert(name, [{"pk": f"k{i}", "b": rows[i].tobytes()} for i in range(20)])
    hits = milvus.search(name, ids=["k4", "k9"], anns_field="b", limit=1)
    assert [q[0]["pk"] for q in hits] == ["k4", "k9"]
    assert [q[0]["distance"] for q in hits] == [0.0, 0.0]


def _scored(milvus, name: str, metric: str, index: str = "FLAT", n: int = 400,  # type: ignore[no-untyped-def]
            dim: int = 8, seal: bool = True) -> np.ndarray:
    """A collection of `n` random vectors (doc = id % 7, tag = "t{id % 3}"); returns them."""
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("doc", DataType.INT64)
    schema.add_field("tag", DataType.VARCHAR, max_length=8, nullable=True)
    params = milvus.prepare_index_params()
    params.add_index("vector", index_type=index, metric_type=metric,
                     params={"M": 16, "efConstruction": 100} if index == "HNSW" else {})
    milvus.create_collection(name, schema=schema, index_params=params)
    vectors = np.random.default_rng(7).normal(size=(n, dim)).astype(np.float32)
    half = n // 2
    for lo, hi in ((0, half), (half, n)):  # two segments when sealed
        milvus.insert(name, [{"id": i, "vector": vectors[i].tolist(), "doc": i % 7,
                              "tag": None if i % 10 == 0 else f"t{i % 3}"} for i in range(lo, hi)])
        if seal:
            milvus.flush(name)
    return vectors


def _exact(vectors: np.ndarray, query: np.ndarray, metric: str) -> np.ndarray:
    if metric == "L2":
        return ((vectors - query) ** 2).sum(axis=1)
    if metric == "IP":
        return vectors @ query
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit @ (query / np.linalg.norm(query))


@pytest.mark.parametrize("metric, radius, range_filter", [
    ("L2", 8.0, 4.0), ("IP", 1.0, 3.0), ("COSINE", 0.2, 0.6)])
@pytest.mark.parametrize("index", ["FLAT", "HNSW"])
def test_range_search_returns_the_hits_inside_the_ring(milvus, name: str, metric: str,
                                                       radius: float, range_filter: float,
                                                       index: str) -> None:
    vectors = _scored(milvus, name, metric, index)
    query = vectors[5]
    scores = _exact(vectors, query, metric)
    if metric == "L2":
        inside = (scores >= range_filter) & (scores < radius)
    else:
        inside = (scores > radius) & (scores <= range_filter)
    want = np.flatnonzero(inside)
    assert 20 < len(want) < 300  # the ring excludes the closest rows and the far ones
    hits = milvus.search(name, data=[query.tolist()], limit=len(want) + 10,
                         search_params={"metric_type": metric,
                                        "params": {"radius": radius,
                                                   "range_filter": range_filter, "ef": 500}})[0]
    got = [h["id"] for h in hits]
    assert len(got) == len(set(got))
    found = len(set(got) & set(want.tolist())) / len(want)
    assert found >= (1.0 if index == "FLAT" else 0.95)
    assert set(got) <= set(want.tolist())
    ranked = [h["distance"] for h in hits]
    assert ranked == sorted(ranked, reverse=metric != "L2")
    # limit caps the ring's hits, best first
    top = milvus.search(name, data=[query.tolist()], limit=5,
                        search_params={"params": {"radius": radius,
                                                  "range_filter": range_filter}})[0]
    assert [h["id"] for h in top] == got[:5]


def test_range_search_with_a_filter_and_only_a_radius(milvus, name: str) -> None:
    vectors = _scored(milvus, name, "L2", seal=False)
    query = vectors[0]
    scores = _exact(vectors, query, "L2")
    keep = (scores < 6.0) & (np.arange(len(vectors)) % 7 == 3)
    hits = milvus.search(name, data=[query.tolist()], limit=100, filter="doc == 3",
                         search_params={"params": {"radius": 6.0}})[0]
    assert sorted(h["id"] for h in hits) == np.flatnonzero(keep).tolist()


@pytest.mark.parametrize("metric, radius, range_filter, text", [
    ("L2", 1.0, 2.0, r"range_filter\(2\) must be less than radius\(1\) for L2/HAMMING/JACCARD"),
    ("COSINE", 0.6, 0.5,
     r"range_filter\(0.5\) must be greater than radius\(0.6\) for IP/COSINE"),
])
def test_range_filter_on_the_wrong_side_of_radius_is_refused(milvus, name: str, metric: str,
                                                             radius: float, range_filter: float,
                                                             text: str) -> None:
    vectors = _scored(milvus, name, metric, n=20, seal=False)
    with pytest.raises(MilvusException, match=text) as err:
        milvus.search(name, data=[vectors[0].tolist()], limit=3,
                      search_params={"params": {"radius": radius, "range_filter": range_filter}})
    assert err.value.code == 1100


def _groups_reference(vectors: np.ndarray, query: np.ndarray, keys: list, limit: int,
                      size: int) -> list[list[int]]:
    order = np.argsort(((vectors - query) ** 2).sum(axis=1), kind="stable")
    groups: dict = {}
    for i in order.tolist():
        groups.setdefault(keys[i], [])
        if len(groups[keys[i]]) < size:
            groups[keys[i]].append(i)
    return list(groups.values())[:limit]


@pytest.mark.parametrize("sealed", [False, True])
def test_grouping_search_returns_the_best_groups_each_with_its_best_hits(milvus, name: str,
                                                                         sealed: bool) -> None:
    vectors = _scored(milvus, name, "L2", seal=sealed)
    query = vectors[11] + 0.01
    hits = milvus.search(name, data=[query.tolist()], limit=4, group_by_field="doc",
                         group_size=3, strict_group_size=True, output_fields=["doc"])[0]
    want = _groups_reference(vectors, query, [i % 7 for i in range(len(vectors))], 4, 3)
    assert [h["id"] for h in hits] == [i for g in want for i in g]
    assert [h["entity"]["doc"] for h in hits] == [i % 7 for g in want for i in g]
    single = milvus.search(name, data=[query.tolist()], limit=5, group_by_field="doc")[0]
    assert [h["id"] for h in single] == [g[0] for g in _groups_reference(
        vectors, query, [i % 7 for i in range(len(vectors))], 5, 1)]
    paged = milvus.search(name, data=[query.tolist()], limit=2, offset=1, group_by_field="doc")[0]
    assert [h["id"] for h in paged] == [h["id"] for h in single[1:3]]


def test_grouping_by_a_nullable_varchar_counts_null_as_a_group(milvus, name: str) -> None:
    vectors = _scored(milvus, name, "L2")
    query = vectors[20]
    tags = [None if i % 10 == 0 else f"t{i % 3}" for i in range(len(vectors))]
    hits = milvus.search(name, data=[query.tolist()], limit=10, group_by_field="tag",
                         group_size=2, output_fields=["tag"])[0]
    want = _groups_reference(vectors, query, tags, 10, 2)
    assert len(want) == 4  # t0, t1, t2 and null
    assert [h["id"] for h in hits] == [i for g in want for i in g]
    assert {h["entity"]["tag"] for h in hits} == {None, "t0", "t1", "t2"}


def test_grouping_search_refuses_unusable_fields(milvus, name: str) -> None:
    vectors = _scored(milvus, name, "L2", n=20, seal=False)
    for field, text in (("nope", r"groupBy field\(nope\) not found"),
                        ("vector", "unsupported data type FloatVector for group by")):
        with pytest.raises(MilvusException, match=text) as err:
            milvus.search(name, data=[vectors[0].tolist()], limit=3, group_by_field=field)
        assert err.value.code == 1100


@pytest.mark.parametrize("index", ["FLAT", "HNSW"])
def test_search_iterator_returns_every_row_once_in_rank_order(milvus, name: str,
                                                              index: str) -> None:
    vectors = _scored(milvus, name, "L2", index, n=3000)
    query = vectors[0] + 0.05
    iterator = milvus.search_iterator(name, data=[query.tolist()], batch_size=256,
                                      filter="doc != 4", search_params={"params": {"ef": 64}},
                                      output_fields=["doc"])
    ids, distances = [], []
    for _ in range(100):
        page = iterator.next()
        if len(page) == 0:
            break
        ids += [h["id"] for h in page]
        distances += [h["distance"] for h in page]
        assert all(h["entity"]["doc"] != 4 for h in page)
    want = [i for i in range(3000) if i % 7 != 4]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == want
    if index == "FLAT":
        assert distances == sorted(distances)
        order = np.argsort(_exact(vectors, query, "L2")[want], kind="stable")
        assert ids[:50] == [want[i] for i in order[:50]]


def test_search_iterator_goes_past_16384_rows_and_through_ties(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2, metric_type="IP")
    # 20,000 rows and only 50 distinct vectors: 400 rows share every score
    distinct = np.random.default_rng(3).normal(size=(50, 2))
    for lo in range(0, 20000, 5000):
        milvus.insert(name, [{"id": i, "vector": distinct[i % 50].tolist()}
                             for i in range(lo, lo + 5000)])
    iterator = milvus.search_iterator(name, data=[[1.0, 0.5]], batch_size=1000, limit=19500)
    ids = []
    for _ in range(40):
        page = iterator.next()
        if page is None or len(page) == 0:  # past the limit pymilvus answers None
            break
        ids += [h["id"] for h in page]
    assert len(ids) == 19500
    assert len(set(ids)) == 19500


def test_search_iterator_reads_at_its_first_timestamp(milvus, name: str) -> None:
    _scored(milvus, name, "L2", n=200, seal=False)
    iterator = milvus.search_iterator(name, data=[[0.0] * 8], batch_size=50)
    first = iterator.next()
    milvus.insert(name, [{"id": 1000 + i, "vector": [0.0] * 8, "doc": 0, "tag": None}
                         for i in range(10)])
    milvus.delete(name, ids=[h["id"] for h in first][:5] + [150])
    ids = [h["id"] for h in first]
    for _ in range(10):
        page = iterator.next()
        if len(page) == 0:
            break
        ids += [h["id"] for h in page]
    assert sorted(ids) == list(range(200))


def test_query_iterator_pages_past_16384_rows_in_key_order(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    for lo in range(0, 20000, 5000):
        milvus.insert(name, [{"id": i, "vector": [1.0, 0.0], "odd": i % 2}
                             for i in range(lo, lo + 5000)])
    iterator = milvus.query_iterator(name, batch_size=3000, filter="odd == 1",
                                     output_fields=["odd"])
    first = iterator.next()
    milvus.insert(name, [{"id": 30001, "vector": [1.0, 0.0], "odd": 1}])
    ids = [r["id"] for r in first]
    for _ in range(10):
        page = iterator.next()
        if not page:
            break
        ids += [r["id"] for r in page]
    assert ids == list(range(1, 20000, 2))


@pytest.mark.parametrize("level", ["Bounded", "Eventually", "Session"])
def test_iterators_under_every_consistency_level(milvus, name: str, level: str) -> None:
    # an iterator reads every page at its first page's timestamp, whatever the level
    milvus.create_collection(name, dimension=2, consistency_level=level)
    milvus.insert(name, [{"id": i, "vector": [1.0, i / 50]} for i in range(50)])
    pages = milvus.search_iterator(name, data=[[1.0, 0.0]], batch_size=20)
    ids = []
    for _ in range(10):
        page = pages.next()
        if page is None or len(page) == 0:
            break
        ids += [h["id"] for h in page]
    assert sorted(ids) == list(range(50))
    rows = milvus.query_iterator(name, batch_size=20, filter="id >= 0")
    got = []
    for _ in range(10):
        page = rows.next()
        if not page:
            break
        got += [r["id"] for r in page]
    assert got == list(range(50))


def test_run_analyzer_by_params_and_by_field(milvus, name: str) -> None:
    tokens = milvus.run_analyzer("The Milvus vector database is built for scale!",
                                 analyzer_params={"type": "english"})
    assert list(tokens.tokens) == ["milvus", "vector", "databas", "built", "scale"]
    detailed = milvus.run_analyzer(["the café"], analyzer_params={"type": "standard"},
                                   with_detail=True, with_hash=True)[0]
    cafe = detailed.tokens[1].dict
    assert cafe == {"token": "café", "start_offset": 4, "end_offset": 9, "position": 1,
                    "position_length": 1,
                    "hash": zlib.crc32("café".encode()) % 0xFFFFFFFF}  # Milvus's term hash
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=200, enable_analyzer=True,
                     analyzer_params={"tokenizer": "whitespace", "filter": ["lowercase"]})
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    milvus.create_collection(name, schema=schema)
    by_field = milvus.run_analyzer(["Milvus Rocks!"], collection_name=name, field_name="text")
    assert list(by_field[0].tokens) == ["milvus", "rocks!"]
    with pytest.raises(MilvusException, match="unsupported analyzer type: klingon") as err:
        milvus.run_analyzer("x", analyzer_params={"type": "klingon"})
    assert err.value.code == 1100
