"""pymilvus's ORM API (connections, Collection, utility), as older Milvus programs use it."""

from __future__ import annotations

import uuid

import numpy as np
from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility


def test_orm_program_runs_unchanged(served_uri: str) -> None:
    alias = f"orm_{uuid.uuid4().hex[:8]}"
    name = f"orm_{uuid.uuid4().hex[:8]}"
    connections.connect(alias=alias, uri=served_uri)
    try:
        fields = [
            FieldSchema("pk", DataType.INT64, is_primary=True, auto_id=True),
            FieldSchema("random", DataType.DOUBLE),
            FieldSchema("embeddings", DataType.FLOAT_VECTOR, dim=8),
        ]
        schema = CollectionSchema(fields, "hello_milvus is the simplest demo")
        hello = Collection(name, schema, using=alias, consistency_level="Strong")
        assert utility.has_collection(name, using=alias)
        rng = np.random.default_rng(19530)
        n = 300
        entities = [rng.random(n).tolist(), rng.random((n, 8), dtype=np.float32)]
        result = hello.insert(entities)
        assert result.insert_count == n and len(result.primary_keys) == n
        hello.flush()
        assert hello.num_entities == n
        hello.create_index("embeddings", {"index_type": "IVF_FLAT", "metric_type": "L2",
                                          "params": {"nlist": 16}})
        hello.load()
        hits = hello.search(entities[1][-2:], "embeddings",
                            {"metric_type": "L2", "params": {"nprobe": 16}}, limit=3,
                            output_fields=["random"])
        assert [h.ids[0] for h in hits] == result.primary_keys[-2:]
        rows = hello.query(expr="random > 0.5", output_fields=["random", "embeddings"])
        assert rows and all(r["random"] > 0.5 for r in rows)
        filtered = hello.search(entities[1][-2:], "embeddings", {"metric_type": "L2"}, limit=3,
                                expr="random > 0.5")
        assert all(len(h) == 3 for h in filtered)
        ids = result.primary_keys[:2]
        hello.delete(f"pk in [{ids[0]}, {ids[1]}]")
        assert hello.query(expr=f"pk in [{ids[0]}, {ids[1]}]") == []
        utility.drop_collection(name, using=alias)
        assert not utility.has_collection(name, using=alias)
    finally:
        connections.disconnect(alias)
