"""Databases: create, use, list, describe, alter, drop; collections live in one database."""

from __future__ import annotations

import uuid

import pytest
from pymilvus import MilvusException


@pytest.fixture
def db(milvus) -> str:
    name = f"db_{uuid.uuid4().hex[:8]}"
    milvus.create_database(name)
    return name


def test_collections_live_in_their_database(milvus, db: str, name: str) -> None:
    assert db in milvus.list_databases()
    milvus.create_collection(name, dimension=2)  # in "default"
    milvus.insert(name, [{"id": 1, "vector": [1, 0]}])
    milvus.use_database(db)
    assert name not in milvus.list_collections()
    milvus.create_collection(name, dimension=3)  # the same name, another database
    milvus.insert(name, [{"id": 2, "vector": [1, 0, 0]}, {"id": 3, "vector": [0, 1, 0]}])
    assert milvus.query(name, filter="", limit=10, output_fields=["count(*)"])[0]["count(*)"] == 2
    assert milvus.describe_collection(name)["fields"][1]["params"]["dim"] == 3
    milvus.use_database("default")
    assert milvus.query(name, filter="", limit=10, output_fields=["count(*)"])[0]["count(*)"] == 1


def test_drop_database_rules(milvus, db: str, name: str) -> None:
    milvus.use_database(db)
    milvus.create_collection(name, dimension=2)
    with pytest.raises(MilvusException, match="not empty, must drop all collections"):
        milvus.drop_database(db)
    milvus.drop_collection(name)
    milvus.use_database("default")
    milvus.drop_database(db)
    assert db not in milvus.list_databases()
    with pytest.raises(MilvusException, match="can not drop default database"):
        milvus.drop_database("default")
    with pytest.raises(MilvusException) as err:
        milvus.use_database(db)
    assert err.value.code == 800


def test_describe_and_alter_database(milvus, db: str) -> None:
    desc = milvus.describe_database(db)
    assert desc["name"] == db
    milvus.alter_database_properties(db, properties={"database.max.collections": 10})
    assert milvus.describe_database(db)["database.max.collections"] == "10"
    milvus.drop_database_properties(db, property_keys=["database.max.collections"])
    assert "database.max.collections" not in milvus.describe_database(db)
    with pytest.raises(MilvusException, match="database already exist"):
        milvus.create_database(db)
    with pytest.raises(MilvusException) as err:
        milvus.create_database("1bad")
    assert err.value.code == 802


def test_a_client_of_a_missing_database_gets_code_800(served_uri: str) -> None:
    from pymilvus import MilvusClient

    with pytest.raises(MilvusException) as err:
        client = MilvusClient(uri=served_uri, db_name="no_such_db")  # may fail here (2.6) ...
        client.list_collections()  # ... or on its first call (3.0)
    assert err.value.code == 800


@pytest.mark.parametrize("bad, words", [
    ("12-s", "the first character of a database name must be an underscore or letter"),
    ("  ", "the first character of a database name must be an underscore or letter"),
])
def test_drop_database_checks_the_name(milvus, bad: str, words: str) -> None:
    with pytest.raises(MilvusException, match=words) as err:
        milvus.drop_database(bad)
    assert err.value.code == 802
    milvus.drop_database("no_such_database")  # a valid missing name: nothing to do


def test_alter_database_needs_either_properties_or_delete_keys(milvus, db: str) -> None:
    with pytest.raises(MilvusException, match="expected to set either properties or delete keys"):
        milvus.alter_database_properties(db, {})
    with pytest.raises(MilvusException, match="expected to set either properties or delete keys"):
        milvus.drop_database_properties(db, [])
