"""Search modes beyond one query vector: search by primary keys (Milvus 2.6.9+)."""

from __future__ import annotations

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
