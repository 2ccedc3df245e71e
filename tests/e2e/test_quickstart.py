"""The Milvus quickstart, unchanged, against `elanus serve` and the embedded client."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import MilvusException


def _docs(n: int, dim: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    vectors = rng.random((n, dim), dtype=np.float32)
    subjects = ["history", "biology", "math"]
    return [{"id": i, "vector": vectors[i].tolist(), "text": f"doc {i}",
             "subject": subjects[i % 3]} for i in range(n)]


def test_server_version_is_a_milvus_version(milvus) -> None:
    assert milvus.get_server_version().startswith("v2.6")


def test_quickstart_create_insert_search_query_delete(milvus, name: str) -> None:
    milvus.create_collection(collection_name=name, dimension=8)
    assert milvus.has_collection(name)
    assert name in milvus.list_collections()
    assert milvus.get_load_state(name)["state"].name == "Loaded"

    docs = _docs(30, 8)
    res = milvus.insert(collection_name=name, data=docs)
    assert res["insert_count"] == 30
    assert list(res["ids"]) == list(range(30))

    hits = milvus.search(collection_name=name, data=[docs[4]["vector"]], limit=3,
                         output_fields=["text", "subject"])
    assert len(hits) == 1 and len(hits[0]) == 3
    top = hits[0][0]
    assert top["id"] == 4
    assert top["distance"] == pytest.approx(1.0, abs=1e-5)  # COSINE similarity with itself
    assert top["entity"] == {"text": "doc 4", "subject": "biology"}

    filtered = milvus.search(collection_name=name, data=[docs[4]["vector"]], limit=5,
                             filter="subject == 'history'", output_fields=["text", "subject"])
    assert len(filtered[0]) == 5
    assert all(h["entity"]["subject"] == "history" for h in filtered[0])

    rows = milvus.query(collection_name=name, filter="subject == 'history'",
                        output_fields=["text", "subject"])
    assert sorted(r["id"] for r in rows) == list(range(0, 30, 3))
    assert all(set(r) == {"id", "text", "subject"} for r in rows)

    got = milvus.get(collection_name=name, ids=[0, 2])
    assert sorted(r["id"] for r in got) == [0, 2]
    assert len(got[0]["vector"]) == 8

    deleted = milvus.delete(collection_name=name, ids=[0, 2])
    assert deleted["delete_count"] == 2
    deleted = milvus.delete(collection_name=name, filter="subject == 'biology'")
    assert deleted["delete_count"] == 10
    left = milvus.query(collection_name=name, filter="id >= 0", output_fields=["count(*)"])
    assert left[0]["count(*)"] == 18

    milvus.drop_collection(name)
    assert not milvus.has_collection(name)


def test_search_several_queries_and_metrics(milvus, name: str) -> None:
    for metric in ("L2", "IP", "COSINE"):
        coll = f"{name}_{metric.lower()}"
        milvus.create_collection(collection_name=coll, dimension=16, metric_type=metric)
        docs = _docs(200, 16, seed=1)
        milvus.insert(coll, docs)
        base = np.array([d["vector"] for d in docs], dtype=np.float32)
        queries = base[[5, 17, 99]]
        hits = milvus.search(coll, data=queries.tolist(), limit=4)
        assert len(hits) == 3
        for q, row in zip(queries, hits):
            if metric == "L2":
                want = np.argsort(((base - q) ** 2).sum(1))[:4]
                scores = np.sort(((base - q) ** 2).sum(1))[:4]
            elif metric == "IP":
                want = np.argsort(-(base @ q))[:4]
                scores = -np.sort(-(base @ q))[:4]
            else:
                unit = base / np.linalg.norm(base, axis=1, keepdims=True)
                sims = unit @ (q / np.linalg.norm(q))
                want = np.argsort(-sims)[:4]
                scores = -np.sort(-sims)[:4]
            assert [h["id"] for h in row] == want.tolist()
            assert [h["distance"] for h in row] == pytest.approx(scores.tolist(), rel=1e-4,
                                                                 abs=1e-4)


def test_describe_collection_matches_quick_setup(milvus, name: str) -> None:
    milvus.create_collection(collection_name=name, dimension=5)
    desc = milvus.describe_collection(name)
    assert desc["collection_name"] == name
    assert desc["enable_dynamic_field"] is True
    assert desc["auto_id"] is False
    fields = {f["name"]: f for f in desc["fields"]}
    assert set(fields) == {"id", "vector"}
    assert fields["id"]["is_primary"] is True
    assert fields["vector"]["params"]["dim"] == 5
    index = milvus.describe_index(name, index_name="vector")
    assert index["index_type"] == "AUTOINDEX"
    assert index["metric_type"] == "COSINE"
    assert milvus.list_indexes(name) == ["vector"]


def test_string_primary_key_and_auto_id(milvus, name: str) -> None:
    milvus.create_collection(collection_name=name, dimension=4, id_type="string",
                             max_length=64)
    res = milvus.insert(name, [{"id": f"k{i}", "vector": [0.1 * i, 1, 0, 0]}
                               for i in range(5)])
    assert list(res["ids"]) == [f"k{i}" for i in range(5)]
    assert sorted(r["id"] for r in milvus.get(name, ids=["k1", "k3"])) == ["k1", "k3"]

    auto = f"{name}_auto"
    milvus.create_collection(collection_name=auto, dimension=4, auto_id=True)
    res = milvus.insert(auto, [{"vector": [1, 0, 0, i]} for i in range(6)])
    ids = list(res["ids"])
    assert len(set(ids)) == 6 and all(isinstance(i, int) for i in ids)
    assert milvus.query(auto, filter="", limit=10, output_fields=["count(*)"])[0]["count(*)"] == 6


def test_upsert_replaces_rows(milvus, name: str) -> None:
    milvus.create_collection(collection_name=name, dimension=4)
    milvus.insert(name, [{"id": i, "vector": [1, 0, 0, 0], "tag": "old"} for i in range(4)])
    res = milvus.upsert(name, [{"id": i, "vector": [0, 1, 0, 0], "tag": "new"} for i in (1, 2, 7)])
    assert res["upsert_count"] == 3
    rows = milvus.query(name, filter="id >= 0", output_fields=["tag"])
    assert sorted((r["id"], r["tag"]) for r in rows) == [
        (0, "old"), (1, "new"), (2, "new"), (3, "old"), (7, "new")]


def test_query_limit_offset_and_count(milvus, name: str) -> None:
    milvus.create_collection(collection_name=name, dimension=3)
    milvus.insert(name, [{"id": i, "vector": [1, i, 0], "n": i} for i in range(50)])
    page = milvus.query(name, filter="n >= 10", output_fields=["n"], limit=5, offset=3)
    assert [r["id"] for r in page] == [13, 14, 15, 16, 17]
    count = milvus.query(name, filter="n < 20 and n % 2 == 0", output_fields=["count(*)"])
    assert count[0]["count(*)"] == 10
    stats = milvus.get_collection_stats(name)
    assert stats["row_count"] == 50


def test_flush_release_load_keep_data(milvus, name: str) -> None:
    milvus.create_collection(collection_name=name, dimension=4)
    milvus.insert(name, [{"id": i, "vector": [1, i, 0, 0]} for i in range(100)])
    milvus.flush(name)
    milvus.insert(name, [{"id": i, "vector": [1, i, 0, 0]} for i in range(100, 120)])
    milvus.release_collection(name)
    assert milvus.get_load_state(name)["state"].name == "NotLoad"
    with pytest.raises(MilvusException) as err:
        milvus.query(name, filter="id > 0", limit=3)
    assert err.value.code == 101
    milvus.load_collection(name)
    assert milvus.query(name, filter="", limit=500, output_fields=["count(*)"])[0]["count(*)"] == 120
    hits = milvus.search(name, data=[[1, 50, 0, 0]], limit=1)
    assert hits[0][0]["id"] in range(40, 120)


@pytest.mark.elanus_client
def test_elanus_client_with_a_uri_is_a_client_of_the_server(served_uri: str, name: str) -> None:
    import pymilvus

    import elanus

    client = elanus.MilvusClient(uri=served_uri)
    try:
        client.create_collection(name, dimension=3)
        client.insert(name, [{"id": 1, "vector": [1, 2, 3]}])
        other = pymilvus.MilvusClient(uri=served_uri)
        assert other.get(name, ids=[1])[0]["id"] == 1  # the same server saw the write
        other.close()
    finally:
        client.close()


@pytest.mark.elanus_client
def test_two_embedded_clients_of_one_path_share_the_engine(tmp_path, name: str) -> None:
    import elanus

    first = elanus.MilvusClient(str(tmp_path / "shared.db"))
    second = elanus.MilvusClient(str(tmp_path / "shared.db"))
    first.create_collection(name, dimension=2)
    first.insert(name, [{"id": 7, "vector": [0.5, 0.5]}])
    assert second.get(name, ids=[7])[0]["id"] == 7
    first.close()
    assert second.query(name, filter="id == 7")[0]["id"] == 7
    second.close()
    reopened = elanus.MilvusClient(str(tmp_path / "shared.db"))  # the data outlives the clients
    assert reopened.get(name, ids=[7])[0]["id"] == 7
    reopened.close()
