"""Full-text search through pymilvus: BM25 functions in the schema, text queries, and scores
checked against a plain BM25 written out here (Milvus's definition: IDF ln(1 + (N - df + 0.5) /
(df + 0.5)) times each query term's count, term weight tf·(k1+1) / (tf + k1·(1 - b + b·dl /
avgdl))), with statistics over the collection's live rows through deletes, upserts,
compaction and restarts. The corpus is ASCII, where the standard analyzer is "runs of letters
and digits, lowercased", so the reference needs no analyzer of its own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymilvus import (
    AnnSearchRequest,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    MilvusException,
    RRFRanker,
    WeightedRanker,
)

from tests.conftest import Server

WORDS = ["vector", "database", "search", "index", "query", "milvus", "python", "faiss", "graph",
         "cluster", "segment", "filter", "text", "token", "analyzer", "score", "rank", "hybrid",
         "dense", "sparse"]
RNG = np.random.default_rng(7)
DOCS = [" ".join(RNG.choice(WORDS, int(RNG.integers(1, 14)))) for _ in range(80)]
QUERIES = ["vector search", "milvus text analyzer", "sparse dense hybrid rank",
           "graph of the cluster", "faiss faiss index"]
DIM = 4


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[A-Za-z0-9]+", text)]


def reference(docs: dict[int, str], query: str, k1: float = 1.2,
              b: float = 0.75) -> list[tuple[int, float]]:
    """BM25 over `docs` (id -> text), best first (ties by id); only docs sharing a term."""
    tfs = {i: Counter(_tokens(t)) for i, t in docs.items()}
    n = len(docs)
    avgdl = max(sum(sum(c.values()) for c in tfs.values()) / n, 1.0) if n else 1.0
    q = Counter(_tokens(query))
    df = {t: sum(1 for c in tfs.values() if t in c) for t in q}
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in q}
    out = []
    for i, c in tfs.items():
        dl = sum(c.values())
        terms = [t for t in q if t in c]
        if terms:
            out.append((i, sum(q[t] * idf[t] * c[t] * (k1 + 1) /
                               (c[t] + k1 * (1 - b + b * dl / avgdl)) for t in terms)))
    return sorted(out, key=lambda h: (-h[1], h[0]))


def _schema(milvus: Any, analyzer: dict[str, Any] | None = None) -> Any:
    schema = milvus.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=2000, enable_analyzer=True,
                     **({"analyzer_params": analyzer} if analyzer else {}))
    schema.add_field("part", DataType.INT64)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    return schema


def _create(milvus: Any, name: str, docs: list[str] = DOCS, index: bool = True,
            k1: float = 1.2, b: float = 0.75, analyzer: dict[str, Any] | None = None) -> None:
    params = milvus.prepare_index_params()
    params.add_index("dense", index_type="FLAT", metric_type="L2")
    if index:
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": k1, "bm25_b": b})
        milvus.create_collection(name, schema=_schema(milvus, analyzer), index_params=params)
    else:  # not loadable until the sparse field gets an index
        milvus.create_collection(name, schema=_schema(milvus, analyzer))
        milvus.create_index(name, params)
    if docs:
        milvus.insert(name, _rows(dict(enumerate(docs))))


def _rows(docs: dict[int, str]) -> list[dict[str, Any]]:
    return [{"id": i, "text": t, "part": i % 3, "dense": [float(i % 7), 1.0, 0.5, float(i % 2)]}
            for i, t in docs.items()]


def _search(milvus: Any, name: str, query: str, limit: int = 100,
            **kwargs: Any) -> list[tuple[int, float]]:
    res = milvus.search(name, data=[query], anns_field="sparse", limit=limit,
                        search_params=kwargs.pop("search_params", {}), **kwargs)
    return [(h["id"], h["distance"]) for h in res[0]]


def _check(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    """Same scores (float32), same order except among equal scores."""
    assert len(got) == len(want)
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)
    assert {i: round(s, 4) for i, s in got} == {i: round(s, 4) for i, s in want}


def test_scores_equal_the_reference_growing_and_sealed(milvus: Any, name: str) -> None:
    _create(milvus, name)
    docs = dict(enumerate(DOCS))
    for query in QUERIES:
        _check(_search(milvus, name, query), reference(docs, query))
    milvus.flush(name)
    more = {100 + i: t for i, t in enumerate(DOCS[:20])}
    milvus.insert(name, _rows(more))  # a sealed segment and a growing one
    docs.update(more)
    for query in QUERIES:
        got = _search(milvus, name, query)
        assert all(s > 0 for _, s in got)
        _check(got, reference(docs, query))


def test_docs_worked_example(milvus: Any, name: str) -> None:
    """Milvus's full-text search page: three documents, one question."""
    _create(milvus, name, docs=["information retrieval is a field of study.",
                                ("information retrieval focuses on finding relevant "
                                "information in large datasets."),
                                "data mining and information retrieval overlap in research."])
    got = _search(milvus, name, "whats the focus of information retrieval?",
                  search_params={"params": {"drop_ratio_search": 0.2}})
    assert [i for i, _ in got] == [0, 1, 2]
    assert [s for _, s in got] == pytest.approx([1.335293, 0.297260, 0.271506], rel=1e-5)


def test_k1_b_and_autoindex(milvus: Any, name: str) -> None:
    _create(milvus, name, k1=2.0, b=0.3)
    docs = dict(enumerate(DOCS))
    _check(_search(milvus, name, QUERIES[2]), reference(docs, QUERIES[2], k1=2.0, b=0.3))
    milvus.flush(name)
    _check(_search(milvus, name, QUERIES[2]), reference(docs, QUERIES[2], k1=2.0, b=0.3))
    other = name + "_x"
    _create(milvus, other, index=False)
    params = milvus.prepare_index_params()
    params.add_index("sparse", index_type="AUTOINDEX")  # the metric defaults to BM25
    milvus.create_index(other, params)
    milvus.load_collection(other)
    assert milvus.describe_index(other, "sparse")["metric_type"] == "BM25"
    milvus.flush(other)
    _check(_search(milvus, other, QUERIES[1]), reference(docs, QUERIES[1]))


def test_statistics_follow_deletes_upserts_and_compaction(milvus: Any, name: str) -> None:
    _create(milvus, name)
    docs = dict(enumerate(DOCS))
    milvus.flush(name)
    gone = [i for i in docs if i % 4 == 0]
    milvus.delete(name, ids=gone)
    for i in gone:
        del docs[i]
    for query in QUERIES:
        _check(_search(milvus, name, query), reference(docs, query))
    changed = {i: "milvus milvus python" for i in (1, 2, 3)}
    milvus.upsert(name, _rows(changed))
    docs.update(changed)
    _check(_search(milvus, name, "milvus python"), reference(docs, "milvus python"))
    milvus.insert(name, _rows({500: "graph graph graph"}))
    milvus.flush(name)
    docs[500] = "graph graph graph"
    milvus.compact(name)
    for query in QUERIES:
        _check(_search(milvus, name, query), reference(docs, query))


def test_statistics_are_collection_wide(milvus: Any, name: str) -> None:
    """A filter or a partition narrows the hits, never the statistics."""
    _create(milvus, name)
    docs = dict(enumerate(DOCS))
    want = [(i, s) for i, s in reference(docs, QUERIES[0]) if i % 3 == 1]
    _check(_search(milvus, name, QUERIES[0], filter="part == 1"), want)
    _check(_search(milvus, name, QUERIES[0], filter="part == {p}",
                   filter_params={"p": 1}), want)


def test_top_k_offset_and_output_fields(milvus: Any, name: str) -> None:
    _create(milvus, name)
    want = reference(dict(enumerate(DOCS)), QUERIES[1])
    res = milvus.search(name, data=[QUERIES[1], QUERIES[0]], anns_field="sparse", limit=5,
                        search_params={"offset": 2}, output_fields=["*"])
    assert [h["distance"] for h in res[0]] == pytest.approx([s for _, s in want[2:7]],
                                                            rel=1e-5)
    assert set(res[0][0]["entity"]) == {"id", "text", "part", "dense"}
    assert len(res[1]) == 5
    with pytest.raises(MilvusException, match="not allowed to retrieve raw data of field "
                                              "sparse") as err:
        milvus.search(name, data=[QUERIES[0]], anns_field="sparse", limit=3,
                      output_fields=["sparse"])
    assert err.value.code == 65535
    with pytest.raises(MilvusException, match="not allowed to retrieve raw data of field "
                                              "sparse"):
        milvus.query(name, filter="id < 3", output_fields=["text", "sparse"])
    rows = milvus.query(name, filter="id < 3", output_fields=["*"])
    assert {"sparse"} & set(rows[0]) == set()


def test_text_no_term_in_corpus_and_empty_text(milvus: Any, name: str) -> None:
    _create(milvus, name)
    milvus.insert(name, [{"id": 1000, "text": "", "part": 0, "dense": [0.0] * DIM}])
    assert _search(milvus, name, "zebra unicorn") == []
    assert _search(milvus, name, "") == []
    assert milvus.query(name, filter="id == 1000", output_fields=["text"])[0]["text"] == ""


def test_english_analyzer_stems(milvus: Any, name: str) -> None:
    """BM25's page: 'We are loving Milvus!' and 'who loves Milvus?' share 'love' and
    'milvus' under the english analyzer."""
    _create(milvus, name, docs=["We are loving Milvus!", "Cats sleep all day"],
            analyzer={"type": "english"})
    got = _search(milvus, name, "who loves Milvus?")
    assert [i for i, _ in got] == [0]


def test_drop_ratio_search_drops_the_lightest_query_terms(milvus: Any, name: str) -> None:
    _create(milvus, name)
    docs = dict(enumerate(DOCS))
    # Of two query terms, dropping half keeps the one with the larger weight: the rarer.
    df = {w: sum(1 for t in DOCS if w in _tokens(t)) for w in ("vector", "rank")}
    assert df["vector"] != df["rank"]
    rarer = min(df, key=lambda w: df[w])
    dropped = _search(milvus, name, "vector rank",
                      search_params={"params": {"drop_ratio_search": 0.5}})
    _check(dropped, reference(docs, rarer))
    assert len(_search(milvus, name, "vector rank")) > len(dropped)


def test_schema_errors(milvus: Any, name: str) -> None:
    def create(fields: list[tuple[str, Any, dict[str, Any]]], fn: Function) -> None:
        schema = milvus.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        for field, dtype, kw in fields:
            schema.add_field(field, dtype, **kw)
        schema.add_function(fn)
        milvus.create_collection(name, schema=schema)

    def bm25(inputs: list[str], outputs: list[str], **kw: Any) -> Function:
        return Function(name="f", function_type=FunctionType.BM25, input_field_names=inputs,
                        output_field_names=outputs, **kw)

    text = ("text", DataType.VARCHAR, {"max_length": 100, "enable_analyzer": True})
    sparse = ("sparse", DataType.SPARSE_FLOAT_VECTOR, {})
    # (pymilvus itself refuses wrong field types and missing fields before sending; those
    # checks of the server are in tests/schema/test_functions.py)
    cases = [
        ([("text", DataType.VARCHAR, {"max_length": 100}), sparse], bm25(["text"], ["sparse"]),
         "BM25 function input field must set enable_analyzer to true"),
        ([text, sparse], bm25(["text"], ["sparse"], params={"k": "v"}),
         "BM25 function accepts no params"),
        ([text, ("sparse", DataType.SPARSE_FLOAT_VECTOR, {"nullable": True})],
         bm25(["text"], ["sparse"]),
         "function output field cannot be nullable: function f, field sparse"),
    ]
    for fields, fn, message in cases:
        with pytest.raises(MilvusException, match=message):
            create(fields, fn)
        assert not milvus.has_collection(name)


def test_index_and_search_errors(milvus: Any, name: str) -> None:
    _create(milvus, name, index=False)
    params = milvus.prepare_index_params()
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    with pytest.raises(MilvusException, match="index metric type of BM25 function output "
                                              "field must be BM25, got IP"):
        milvus.create_index(name, params)
    params = milvus.prepare_index_params()
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"bm25_k1": 5})
    with pytest.raises(MilvusException, match="bm25_k1"):
        milvus.create_index(name, params)
    params = milvus.prepare_index_params()
    params.add_index("sparse", index_type="SPARSE_WAND", metric_type="BM25")
    milvus.create_index(name, params)
    milvus.load_collection(name)
    with pytest.raises(MilvusException, match="must use BM25 metric type when searching "
                                              "against BM25 Function output field"):
        milvus.search(name, data=["vector"], anns_field="sparse", limit=3,
                      search_params={"metric_type": "IP"})
    with pytest.raises(MilvusException, match="text search data"):
        milvus.search(name, data=["vector"], anns_field="dense", limit=3)
    with pytest.raises(MilvusException, match="please provide varchar/text for BM25 Function "
                                              "based search, got FloatVector") as err:
        milvus.search(name, data=[[0.1] * DIM], anns_field="sparse", limit=3)
    assert err.value.code == 1100
    params = milvus.prepare_index_params()
    params.add_index("dense", index_type="HNSW", metric_type="BM25")
    milvus.release_collection(name)
    milvus.drop_index(name, "dense")
    with pytest.raises(MilvusException, match="float vector index does not support metric "
                                              "type: BM25"):
        milvus.create_index(name, params)
    params = milvus.prepare_index_params()
    params.add_index("text", index_type="INVERTED_INDEX")
    with pytest.raises(MilvusException, match="invalid index type: INVERTED_INDEX") as err:
        milvus.create_index(name, params)
    assert err.value.code == 1100
    with pytest.raises(MilvusException):  # pymilvus refuses the output field in a row
        milvus.insert(name, [{"id": 1, "text": "x", "part": 0, "dense": [0.0] * DIM,
                              "sparse": {1: 1.0}}])


def test_collection_function_changes_answer_as_milvus(milvus: Any, name: str) -> None:
    """Milvus 2.6 adds, alters and drops only TEXTEMBEDDING functions; BM25 ones are refused."""
    _create(milvus, name, docs=[])
    fn = Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                  output_field_names=["sparse"])
    other = Function(name="bm25b", function_type=FunctionType.BM25,
                     input_field_names=["text"], output_field_names=["sparse"])
    with pytest.raises(MilvusException, match="Currently does not support adding BM25 "
                                              "function"):
        milvus.add_collection_function(name, other)
    with pytest.raises(MilvusException, match="Currently does not support alter BM25 "
                                              "function"):
        milvus.alter_collection_function(name, "bm25", fn)
    with pytest.raises(MilvusException, match="Currently does not support droping BM25 "
                                              "function"):
        milvus.drop_collection_function(name, "bm25")
    milvus.drop_collection_function(name, "not_there")  # Milvus accepts it
    assert [f["name"] for f in milvus.describe_collection(name)["functions"]] == ["bm25"]


def test_describe_shows_the_function(milvus: Any, name: str) -> None:
    _create(milvus, name, docs=[])
    info = milvus.describe_collection(name)
    fn = info["functions"][0]
    assert (fn["name"], fn["type"], fn["input_field_names"], fn["output_field_names"]) == \
        ("bm25", FunctionType.BM25, ["text"], ["sparse"])
    sparse = next(f for f in info["fields"] if f["name"] == "sparse")
    assert sparse.get("is_function_output") is True


def test_hybrid_keyword_and_dense(milvus: Any, name: str) -> None:
    """Milvus's hybrid search tutorial: BM25 on text and a dense vector, fused by RRF and by
    weights; checked against the fusion of the two plain searches computed here."""
    _create(milvus, name)
    dense_q = [1.0, 1.0, 0.5, 0.0]
    text = milvus.search(name, data=[QUERIES[1]], anns_field="sparse", limit=10)[0]
    dense = milvus.search(name, data=[dense_q], anns_field="dense", limit=10)[0]
    reqs = [AnnSearchRequest([QUERIES[1]], "sparse", {"metric_type": "BM25"}, 10),
            AnnSearchRequest([dense_q], "dense", {"metric_type": "L2"}, 10)]
    got = milvus.hybrid_search(name, reqs, RRFRanker(60), limit=5)[0]
    rrf: dict[int, float] = {}
    for hits in (text, dense):
        for rank, h in enumerate(hits):
            rrf[h["id"]] = rrf.get(h["id"], 0.0) + 1.0 / (60 + rank + 1)
    want = sorted(rrf.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [round(h["distance"], 6) for h in got] == [round(s, 6) for _, s in want]
    got = milvus.hybrid_search(name, reqs, WeightedRanker(0.7, 0.3), limit=5)[0]
    weighted: dict[int, float] = {}
    for hits, w, sign in ((text, 0.7, 1.0), (dense, 0.3, -1.0)):
        for h in hits:  # Weighted normalises: arctan for BM25/IP, 1 - 2/pi*atan for L2
            norm = (2 / math.pi * math.atan(h["distance"]) if sign > 0
                    else 1 - 2 / math.pi * math.atan(h["distance"]))
            weighted[h["id"]] = weighted.get(h["id"], 0.0) + w * norm
    want = sorted(weighted.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [round(h["distance"], 5) for h in got] == [round(s, 5) for _, s in want]


def test_statistics_survive_a_restart(tmp_path: Path) -> None:
    server = Server(tmp_path / "data").start()
    docs = dict(enumerate(DOCS))
    try:
        client = MilvusClient(uri=server.uri)
        _create(client, "c")
        client.flush("c")
        client.insert("c", _rows({200: "vector vector search"}))  # growing, in the WAL
        client.delete("c", ids=[1, 2, 3])
        docs[200] = "vector vector search"
        for i in (1, 2, 3):
            del docs[i]
        before = _search(client, "c", QUERIES[0])
        client.close()
    finally:
        server.stop()
    server = Server(tmp_path / "data", port=server.port).start()
    try:
        client = MilvusClient(uri=server.uri)
        client.load_collection("c")
        after = _search(client, "c", QUERIES[0])
        _check(after, reference(docs, QUERIES[0]))
        assert after == before
        client.close()
    finally:
        server.stop()


MULTI = {"analyzers": {"english": {"type": "english"}, "chinese": {"type": "chinese"},
                       "default": {"tokenizer": "whitespace", "filter": ["lowercase"]}},
         "by_field": "language", "alias": {"en": "english", "cn": "chinese"}}


def _multi_schema(milvus: Any, multi: dict[str, Any]) -> Any:
    schema = milvus.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("language", DataType.VARCHAR, max_length=16)
    schema.add_field("text", DataType.VARCHAR, max_length=500, enable_analyzer=True,
                     multi_analyzer_params=multi)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    return schema


def test_multi_language_analyzers(milvus: Any, name: str) -> None:
    """Milvus's multi-language analyzers page: each row analyzed by its language's analyzer,
    queries by the one `analyzer_name` names (else the default)."""
    schema = _multi_schema(milvus, MULTI)
    params = milvus.prepare_index_params()
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    milvus.create_collection(name, schema=schema, index_params=params)
    milvus.insert(name, [
        {"id": 0, "language": "en", "text": "Machine learning models require large datasets"},
        {"id": 1, "language": "english", "text": "Artificial intelligence is transforming"},
        {"id": 2, "language": "cn", "text": "人工智能正在改变技术领域"},
        {"id": 3, "language": "fr", "text": "Apprentissage Machine models"},
        {"id": 4, "language": "chinese", "text": "机器学习模型需要大型数据集"},
    ])

    def ids(query: str, analyzer_name: str | None = None) -> list[int]:
        sp: dict[str, Any] = {"metric_type": "BM25"}
        if analyzer_name:
            sp["analyzer_name"] = analyzer_name
        res = milvus.search(name, data=[query], anns_field="sparse", limit=5, search_params=sp)
        return [h["id"] for h in res[0]]

    assert ids("machine learning", "english") == [0]  # stems: machin, learn
    assert ids("人工智能", "cn") == [2]
    assert ids("models") == [3]  # the default analyzer keeps "models": only row 3 has it
    assert ids("Machine", "fr") == [3]  # no "fr" analyzer: the default one
    tokens = milvus.run_analyzer(["Machine learning models", "人工智能正在改变"],
                                 collection_name=name, field_name="text",
                                 analyzer_names=["en", "cn"])
    assert [list(t.tokens) for t in tokens] == [["machin", "learn", "model"],
                                                 ["人工", "智能", "人工智能", "正在", "改变"]]
    assert list(milvus.run_analyzer("Machine learning", collection_name=name,
                                    field_name="text").tokens) == ["machine", "learning"]
    bad = _multi_schema(milvus, dict(MULTI, analyzers={"english": {"type": "english"}}))
    with pytest.raises(MilvusException, match="default"):
        milvus.create_collection(name + "_bad", schema=bad)
