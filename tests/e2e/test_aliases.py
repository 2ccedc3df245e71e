"""Aliases address collections everywhere; rename keeps data and indexes."""

from __future__ import annotations

import pytest
from pymilvus import MilvusException


def test_alias_addresses_the_collection_and_can_move(milvus, name: str) -> None:
    old, new, alias = f"{name}_v1", f"{name}_v2", f"{name}_live"
    for coll, ident in ((old, 1), (new, 2)):
        milvus.create_collection(coll, dimension=2)
        milvus.insert(coll, [{"id": ident, "vector": [1, 0]}])
    milvus.create_alias(old, alias)
    milvus.create_alias(old, alias)  # the same alias again: succeeds
    assert milvus.query(alias, filter="id >= 0")[0]["id"] == 1
    assert milvus.search(alias, data=[[1, 0]], limit=1)[0][0]["id"] == 1
    milvus.insert(alias, [{"id": 10, "vector": [0, 1]}])
    assert sorted(r["id"] for r in milvus.query(old, filter="id >= 0")) == [1, 10]
    assert milvus.describe_alias(alias)["collection_name"] == old
    assert milvus.list_aliases(old)["aliases"] == [alias]
    assert alias in milvus.describe_collection(old)["aliases"]
    assert milvus.has_collection(alias)
    milvus.alter_alias(new, alias)  # switch traffic to the new collection
    assert milvus.query(alias, filter="id >= 0")[0]["id"] == 2
    with pytest.raises(MilvusException, match="because it has associated aliases"):
        milvus.drop_collection(new)
    with pytest.raises(MilvusException, match="cannot drop the collection via alias"):
        milvus.drop_collection(alias)
    with pytest.raises(MilvusException) as err:
        milvus.create_alias(old, alias)
    assert err.value.code == 1602 and "alias already exist" in err.value.message
    with pytest.raises(MilvusException, match="conflicts with an existing alias"):
        milvus.create_collection(alias, dimension=2)
    with pytest.raises(MilvusException) as err:
        milvus.create_alias(new, old)
    assert err.value.code == 1601 and "alias and collection name conflict" in err.value.message
    milvus.drop_alias(alias)
    milvus.drop_alias(alias)  # dropping a missing alias: succeeds
    with pytest.raises(MilvusException) as err:
        milvus.describe_alias(alias)
    assert err.value.code == 1600
    milvus.drop_collection(new)


def test_rename_keeps_rows_and_index(milvus, name: str) -> None:
    milvus.create_collection(name, dimension=2)
    milvus.insert(name, [{"id": i, "vector": [1, i]} for i in range(5)])
    milvus.flush(name)
    renamed = f"{name}_renamed"
    milvus.rename_collection(name, renamed)
    assert not milvus.has_collection(name)
    assert milvus.describe_collection(renamed)["collection_name"] == renamed
    assert len(milvus.query(renamed, filter="id >= 0")) == 5
    assert milvus.list_indexes(renamed) == ["vector"]
    milvus.create_collection(name, dimension=2)
    with pytest.raises(MilvusException, match="duplicated new collection name"):
        milvus.rename_collection(renamed, name)
