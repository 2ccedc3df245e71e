"""Half-precision, int8, binary and sparse vectors: encodings and indexes against brute force."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from elanus.index.binary import build_binary, exact_binary, load_binary
from elanus.index.factory import build_index, exact, load_index
from elanus.index.sparse import SparseIndex
from elanus.schema import DataType
from elanus.schema.vectors import (
    SparseRows,
    check_sparse,
    decode_dense,
    encode_dense,
    fixed_rows,
    sparse_rows,
)

RNG = np.random.default_rng(7)


def test_float16_and_bfloat16_round_to_nearest() -> None:
    values = np.array([[1.0, -2.0, 0.1, 65504.0]], dtype=np.float32)
    half = encode_dense(values, DataType.FLOAT16_VECTOR)
    assert half.tobytes()[:4] == bytes.fromhex("003c00c0")  # what pymilvus sends for 1, -2
    assert np.array_equal(decode_dense(half, DataType.FLOAT16_VECTOR),
                          values.astype(np.float16).astype(np.float32))
    brain = encode_dense(values, DataType.BFLOAT16_VECTOR)
    assert brain.tobytes()[:4] == bytes.fromhex("803f00c0")
    back = decode_dense(brain, DataType.BFLOAT16_VECTOR)
    assert np.allclose(back, values, rtol=2 ** -8)
    # Ties go to even: 1 + 2**-8 lies halfway between two bfloat16 values.
    tie = np.array([[1 + 2 ** -8, 1 + 3 * 2 ** -8]], dtype=np.float32)
    assert decode_dense(encode_dense(tie, DataType.BFLOAT16_VECTOR),
                        DataType.BFLOAT16_VECTOR).tolist() == [[1.0, 1 + 2 ** -6]]
    with pytest.raises(ValueError):
        encode_dense(np.array([[1e6]], np.float32), DataType.FLOAT16_VECTOR)


def test_int8_values_must_be_whole_and_in_range() -> None:
    ok = encode_dense(np.array([[1, -2, 127]], np.float32), DataType.INT8_VECTOR)
    assert ok.tobytes() == bytes.fromhex("01fe7f")
    for bad in ([[0.5, 0, 0]], [[128, 0, 0]]):
        with pytest.raises(ValueError):
            encode_dense(np.array(bad, np.float32), DataType.INT8_VECTOR)


def _sparse_column(rows: list[dict[int, float]]) -> pa.Array:
    out = []
    for row in rows:
        pairs = sorted(row.items())
        out.append(b"".join(np.array([(i, v)], dtype=[("i", "<u4"), ("v", "<f4")]).tobytes()
                            for i, v in pairs))
    return pa.array(out, pa.large_binary())


def test_sparse_column_reads_as_csr_in_place() -> None:
    col = _sparse_column([{3: 0.5, 1: 1.0}, {}, {7: 2.0}])
    rows = sparse_rows(col.slice(0, 3))
    assert rows.indptr.tolist() == [0, 2, 2, 3]
    assert rows.indices.tolist() == [1, 3, 7] and rows.values.tolist() == [1.0, 0.5, 2.0]
    assert sparse_rows(col.slice(1, 2)).indices.tolist() == [7]
    assert check_sparse(rows) == ""
    unsorted = SparseRows(np.array([0, 2]), np.array([5, 2], np.uint32),
                          np.array([1, 1], np.float32))
    assert "ascending" in check_sparse(unsorted)


def _brute_sparse(base: list[dict[int, float]], query: dict[int, float]) -> list[float]:
    return [sum(v * row.get(i, 0.0) for i, v in query.items()) for row in base]


def test_sparse_index_is_exact_and_survives_serialization() -> None:
    base = [{int(i): float(v) for i, v in zip(RNG.choice(200, 8, replace=False), RNG.random(8))}
            for _ in range(300)]
    queries = base[:3] + [{5: 1.0, 6: 0.5}]
    rows, q = sparse_rows(_sparse_column(base)), sparse_rows(_sparse_column(queries))
    index = SparseIndex.build(rows)
    again = load_index(index.serialize(), "IP", "SPARSE_INVERTED_INDEX", rows)
    for searcher in (index, again):
        off, score = searcher.search(q, 10)
        for qi, query in enumerate(queries):
            brute = np.array(_brute_sparse(base, query), np.float32)
            hits = off[qi][off[qi] >= 0]
            assert len(hits) == min(10, int((brute > 0).sum()))  # only rows sharing a term
            assert np.allclose(score[qi][: len(hits)], np.sort(brute)[::-1][: len(hits)],
                               rtol=1e-5)
    allowed = np.zeros(300, dtype=bool)
    allowed[::2] = True
    off, _ = index.search(q, 5, allowed)
    assert ((off[off >= 0] % 2) == 0).all()


@pytest.mark.parametrize("metric", ["HAMMING", "JACCARD"])
def test_binary_search_matches_brute_force(metric: str) -> None:
    base = RNG.integers(0, 256, (500, 4), dtype=np.uint8)
    queries = base[:5] ^ np.uint8(1)
    bits_b = np.unpackbits(base, axis=1).astype(bool)
    bits_q = np.unpackbits(queries, axis=1).astype(bool)
    inter = (bits_q[:, None] & bits_b[None]).sum(-1)
    union = (bits_q[:, None] | bits_b[None]).sum(-1)
    brute = ((bits_q[:, None] ^ bits_b[None]).sum(-1) if metric == "HAMMING"
             else 1 - inter / np.maximum(union, 1))
    off, score = exact_binary(base, queries, 8, metric)
    assert np.allclose(score, np.sort(brute, axis=1)[:, :8], atol=1e-6)
    assert np.allclose(np.take_along_axis(brute, off, 1), score, atol=1e-6)
    allowed = np.arange(500) >= 250
    off, _ = exact_binary(base, queries, 8, metric, allowed)
    assert (off >= 250).all()


def test_binary_ivf_round_trips_and_finds_exact_matches() -> None:
    base = RNG.integers(0, 256, (2000, 8), dtype=np.uint8)
    index = build_binary("BIN_IVF_FLAT", base, "HAMMING", {"nlist": "16"})
    again = load_binary(index.serialize(), "HAMMING", "BIN_IVF_FLAT", base)
    off, score = again.search(base[:20], 1, None, {"nprobe": 16})
    assert off[:, 0].tolist() == list(range(20)) and (score[:, 0] == 0).all()
    flat = build_index("BIN_FLAT", base, "HAMMING", {})
    assert load_index(flat.serialize(), "HAMMING", "BIN_FLAT", base).num_rows == 2000


def test_exact_dispatches_on_the_search_base() -> None:
    dense = RNG.random((50, 4), dtype=np.float32)
    off, _ = exact(dense, dense[:2], 1, "L2", None)
    assert off[:, 0].tolist() == [0, 1]
    raw = fixed_rows(pa.array([b"\x01\x02", b"\x03\x04"], pa.binary(2)))
    assert raw.tolist() == [[1, 2], [3, 4]]
