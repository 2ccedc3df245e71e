"""Half-precision, binary and sparse vectors in the engine: sealed, indexed, reloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from elanus.engine.engine import Engine
from elanus.engine.requests import SearchRequest
from elanus.schema import CollectionSchema, DataType, FieldSchema
from elanus.schema.vectors import SparseRows, encode_dense, sparse_rows

N = 300


def _columns() -> dict[str, pa.Array]:
    rng = np.random.default_rng(5)
    half = encode_dense(rng.random((N, 8), dtype=np.float32), DataType.FLOAT16_VECTOR)
    bits = rng.integers(0, 256, (N, 2), dtype=np.uint8)
    pairs = np.zeros(N, dtype=[("i", "<u4"), ("v", "<f4")])
    pairs["i"], pairs["v"] = np.arange(N), 1.0  # row i holds dimension i only
    return {"id": pa.array(np.arange(N, dtype=np.int64)),
            "half": pa.array([r.tobytes() for r in half], pa.binary(16)),
            "bits": pa.array([r.tobytes() for r in bits], pa.binary(2)),
            "sparse": pa.array([p.tobytes() for p in pairs], pa.large_binary())}


def _search(e: Engine, field: str, queries: object, metric: str = "") -> list[int]:
    res = e.search(SearchRequest("default", "c", field, queries, 1, metric_type=metric))
    return res.pks.to_pylist()


@pytest.mark.parametrize("index", [
    {"half": "HNSW", "bits": "BIN_IVF_FLAT", "sparse": "SPARSE_WAND"},
    {"half": "FLAT", "bits": "BIN_FLAT", "sparse": "SPARSE_INVERTED_INDEX"},
])
def test_indexes_of_every_type_survive_a_restart(tmp_path: Path, index: dict[str, str]) -> None:
    e = Engine(tmp_path / "d", auto_compaction=False)
    e.create_collection("default", CollectionSchema("c", (
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("half", DataType.FLOAT16_VECTOR, dim=8),
        FieldSchema("bits", DataType.BINARY_VECTOR, dim=16),
        FieldSchema("sparse", DataType.SPARSE_FLOAT_VECTOR),
    )))
    for field, kind in index.items():
        e.create_index("default", "c", field, "", {"index_type": kind})
    e.load_collection("default", "c")
    cols = _columns()
    e.insert("default", "c", cols, N)
    e.flush("default", "c")
    assert e.wait_idle(60)
    assert all(i.state == "Finished" for f in index for i in e.describe_index("default", "c", f))
    e.close()
    again = Engine(tmp_path / "d", auto_compaction=False)
    try:
        seg = next(iter(again.collection("default", "c").sealed.values()))
        assert {f: seg.index(f).kind for f in index} == index  # type: ignore[union-attr]
        half = seg.vectors("half", N)
        assert _search(again, "half", np.asarray(half[7:8]), "COSINE") == [7]
        bits = np.frombuffer(cols["bits"][9].as_py(), np.uint8).reshape(1, 2)
        hit = again.search(SearchRequest("default", "c", "bits", bits, 1))
        assert hit.scores.tolist() == [0.0]  # row 9 itself, or a row with the same bits
        assert cols["bits"][hit.pks[0].as_py()].as_py() == cols["bits"][9].as_py()
        query = sparse_rows(cols["sparse"].slice(11, 1))
        assert isinstance(query, SparseRows) and _search(again, "sparse", query) == [11]
    finally:
        again.close()
