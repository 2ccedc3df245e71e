"""Schema evolution on collections that hold data: add a field, alter a field, enable the
dynamic field; stored rows read the new columns, and every change survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from tests.conftest import Server


def _populate(client, name: str) -> None:  # type: ignore[no-untyped-def]
    schema = client.create_schema(enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=8)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("vector", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index)
    client.insert(name, [{"id": i, "title": f"t{i}", "vector": [1, i]} for i in range(4)])
    client.flush(name)  # two sealed rows on disk, two in the WAL
    client.insert(name, [{"id": i, "title": f"t{i}", "vector": [1, i]} for i in range(4, 6)])


def _evolve(client, name: str) -> None:  # type: ignore[no-untyped-def]
    client.add_collection_field(name, "score", DataType.INT32, nullable=True, default_value=7)
    client.add_collection_field(name, "note", DataType.VARCHAR, max_length=16, nullable=True)
    client.alter_collection_field(name, "title", field_params={"max_length": 32})
    client.alter_collection_properties(name, {"dynamicfield.enabled": True})
    client.insert(name, [{"id": 10, "title": "a much longer title", "vector": [2, 0],
                          "score": 1, "note": "new", "color": "red"}])


def _check(client, name: str) -> None:  # type: ignore[no-untyped-def]
    fields = {f["name"]: f for f in client.describe_collection(name)["fields"]}
    assert fields["score"]["nullable"] and fields["score"]["default_value"].int_data == 7
    assert fields["title"]["params"]["max_length"] == 32
    assert client.describe_collection(name)["enable_dynamic_field"]
    rows = {r["id"]: r for r in client.query(name, filter="id >= 0",
                                             output_fields=["score", "note", "color", "title"])}
    assert [rows[i]["score"] for i in range(6)] == [7] * 6  # old rows read the default
    assert [rows[i]["note"] for i in range(6)] == [None] * 6
    assert rows[10]["score"] == 1 and rows[10]["color"] == "red"
    assert rows[10]["title"] == "a much longer title"
    assert [r["id"] for r in client.query(name, filter="score == 7")] == list(range(6))
    assert client.query(name, filter='color == "red"')[0]["id"] == 10
    hits = client.search(name, data=[[2, 0]], limit=1, output_fields=["note"])[0]
    assert hits[0]["id"] == 10 and hits[0]["entity"]["note"] == "new"


def test_evolved_schema_reads_old_rows_and_survives_restart(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    server = Server(data).start()
    try:
        client = MilvusClient(uri=server.uri)
        _populate(client, name)
        _evolve(client, name)
        _check(client, name)
        client.close()
    finally:
        server.stop()
    server = Server(data).start()  # the WAL replays rows logged before and after the change
    try:
        client = MilvusClient(uri=server.uri)
        _check(client, name)
        client.flush(name)
        client.compact(name)
        _check(client, name)
        client.close()
    finally:
        server.stop()


def test_schema_changes_follow_milvus_rules(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    with pytest.raises(MilvusException, match="added field must be nullable"):
        milvus.add_collection_field(name, "x", DataType.INT64)
    with pytest.raises(MilvusException, match="duplicated field name vector"):
        milvus.add_collection_field(name, "vector", DataType.INT64, nullable=True)
    with pytest.raises(MilvusException, match="not support to add pk field"):
        milvus.add_collection_field(name, "pk2", DataType.INT64, nullable=True, is_primary=True)
    with pytest.raises(MilvusException, match="max_length does not allow|can not modify the "
                                              "maxlength for non-string types"):
        milvus.alter_collection_field(name, "id", field_params={"max_length": 9})
    with pytest.raises(MilvusException, match="does not allow update in collection field param"):
        milvus.alter_collection_field(name, "vector", field_params={"dim": 9})
    with pytest.raises(MilvusException) as err:
        milvus.alter_collection_field(name, "vector", field_params={"mmap.enabled": True})
    assert err.value.code == 104 and "collection already loaded" in err.value.message
    with pytest.raises(MilvusException, match="dynamic schema cannot supported to be disabled"):
        milvus.alter_collection_properties(name, {"dynamicfield.enabled": False})
    milvus.release_collection(name)
    milvus.alter_collection_field(name, "vector", field_params={"mmap.enabled": True})
    vector = next(f for f in milvus.describe_collection(name)["fields"] if f["name"] == "vector")
    assert vector["params"]["mmap_enabled"] is True  # pymilvus renames the key
