"""Every vector index kind behind one interface: build, load, and exact search without an index.

A segment's search base (see `elanus.engine.segment.search_base`) is float32 rows for the dense
types, packed bytes for binary vectors, or CSR rows for sparse vectors; queries come in the same
form. The kind names the structure: FLAT, HNSW, IVF_FLAT (dense, on faiss: `elanus.index.vector`);
IVF_SQ8, IVF_PQ, IVF_RABITQ, SCANN, HNSW_SQ, HNSW_PQ, HNSW_PRQ, DISKANN (dense, quantized:
`elanus.index.quantized`); BIN_FLAT, BIN_IVF_FLAT (binary); MINHASH_LSH (binary MinHash
signatures: `elanus.index.minhash`); SPARSE_INVERTED_INDEX, SPARSE_WAND (sparse).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from elanus.index.binary import build_binary, exact_binary, load_binary
from elanus.index.minhash import (
    MHJACCARD,
    MINHASH_KIND,
    build_minhash,
    element_bits,
    exact_minhash,
    load_minhash,
)
from elanus.index.params import QUANTIZED_KINDS
from elanus.index.quantized import build_quantized, load_quantized
from elanus.index.selection import Allowed
from elanus.index.sparse import SparseIndex
from elanus.index.vector import (
    Offsets,
    Scores,
    VectorIndex,
    build_dense,
    exact_search,
    load_dense,
    map_dense,
    normalized,
)
from elanus.schema.vectors import SparseRows

SearchBase = npt.NDArray[np.float32] | npt.NDArray[np.uint8] | SparseRows
BINARY_KINDS = ("BIN_FLAT", "BIN_IVF_FLAT")
SPARSE_KINDS = ("SPARSE_INVERTED_INDEX", "SPARSE_WAND")


def build_index(kind: str, base: SearchBase, metric: str, params: dict[str, str],
                cancelled: Callable[[], bool] | None = None) -> VectorIndex:
    """Build an index; a long build checks `cancelled()` as it goes (BuildCancelled)."""
    if kind in SPARSE_KINDS:
        assert isinstance(base, SparseRows)
        return SparseIndex.build(base, kind, params, metric)
    assert isinstance(base, np.ndarray)
    if kind == MINHASH_KIND:
        return build_minhash(base, metric, params, cancelled)  # type: ignore[arg-type]
    if kind in BINARY_KINDS:
        return build_binary(kind, base, metric, params, cancelled)  # type: ignore[arg-type]
    if kind in QUANTIZED_KINDS:
        return build_quantized(kind, base, metric, params, cancelled)  # type: ignore[arg-type]
    return build_dense(kind, base, metric, params, cancelled)  # type: ignore[arg-type]


def mappable(kind: str) -> bool:
    """Whether an index of this kind can be read in place from its file (`map_index`)."""
    return not (kind in SPARSE_KINDS or kind == MINHASH_KIND or kind in BINARY_KINDS
                or kind in QUANTIZED_KINDS)


def map_index(path: Path, metric: str, kind: str, base: SearchBase) -> VectorIndex:
    """A `mappable` index from the file its serialized form was written to, read in place."""
    assert mappable(kind) and isinstance(base, np.ndarray)
    return map_dense(path, metric, kind, base)  # type: ignore[arg-type]


def load_index(data: bytes, metric: str, kind: str, base: SearchBase) -> VectorIndex:
    """An index from its serialized form over the segment's search base."""
    if kind in SPARSE_KINDS:
        return SparseIndex.deserialize(data, kind, metric)
    assert isinstance(base, np.ndarray)
    if kind == MINHASH_KIND:
        return load_minhash(data, metric, base)  # type: ignore[arg-type]
    if kind in BINARY_KINDS:
        return load_binary(data, metric, kind, base)  # type: ignore[arg-type]
    if kind in QUANTIZED_KINDS:
        return load_quantized(data, metric, kind, base)  # type: ignore[arg-type]
    return load_dense(data, metric, kind, base)  # type: ignore[arg-type]


def prepare_queries(queries: Any, metric: str) -> Any:
    """Queries as the indexes search them: COSINE float rows unit-normalised."""
    if metric == "COSINE":
        return normalized(queries)
    return queries


def exact(base: SearchBase, queries: Any, k: int, metric: str,
          allowed: Allowed,
          params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
    """Brute-force top k over a segment's search base (already prepared for `metric`);
    `params` (the search's over the index's) give MinHash signatures their element width."""
    if isinstance(base, SparseRows):
        return SparseIndex.build(base, metric=metric).search(queries, k, allowed, params)
    if metric == MHJACCARD:
        return exact_minhash(base, queries, k, metric, allowed,  # type: ignore[arg-type]
                             element_bits(params or {}))
    if base.dtype == np.uint8:
        return exact_binary(base, queries, k, metric, allowed)  # type: ignore[arg-type]
    return exact_search(base, queries, k, metric, allowed)  # type: ignore[arg-type]
