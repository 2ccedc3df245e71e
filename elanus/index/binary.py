"""Binary vector search: HAMMING and JACCARD distances over packed bit rows (smaller is closer).

Exact HAMMING search runs on a faiss binary flat index; JACCARD (1 - |a AND b| / |a OR b|, and 0
between two all-zero rows) is computed with numpy popcounts in chunks. BIN_IVF_FLAT is faiss's
binary inverted file; it answers HAMMING searches without a filter, and anything else (JACCARD,
or a filtered search, which faiss's binary IVF cannot restrict) is answered exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from elanus.index.minhash import MHJACCARD, element_bits, exact_minhash
from elanus.index.selection import Allowed, as_selection
from elanus.index.vector import (
    Offsets,
    Scores,
    _empty,
    _faiss,
    _int_param,
    _pad,
    add_in_batches,
    over_survivors,
)

Bits = npt.NDArray[np.uint8]
BINARY_METRICS = ("HAMMING", "JACCARD")
_CHUNK_BYTES = 32 << 20  # the popcount buffer of one JACCARD chunk


def _hamming(base: Bits, queries: Bits, k: int) -> tuple[Offsets, Scores]:
    index = faiss.IndexBinaryFlat(base.shape[1] * 8)
    index.add(np.ascontiguousarray(base))
    dist, off = index.search(np.ascontiguousarray(queries), k)
    return off.astype(np.int64), dist.astype(np.float32)


def _jaccard(base: Bits, queries: Bits, k: int) -> tuple[Offsets, Scores]:
    n, width = base.shape
    q_bits = np.bitwise_count(queries).sum(axis=1, dtype=np.int64)
    b_bits = np.bitwise_count(base).sum(axis=1, dtype=np.int64)
    dist = np.empty((len(queries), n), dtype=np.float32)
    step = max(1, _CHUNK_BYTES // max(1, len(queries) * width))
    for lo in range(0, n, step):
        chunk = base[lo: lo + step]
        inter = np.bitwise_count(queries[:, None, :] & chunk[None, :, :]).sum(axis=2,
                                                                            dtype=np.int64)
        union = q_bits[:, None] + b_bits[None, lo: lo + step] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            dist[:, lo: lo + step] = np.where(union > 0, 1.0 - inter / np.maximum(union, 1), 0.0)
    kk = min(k, n)
    part = np.argpartition(dist, kk - 1, axis=1)[:, :kk]
    part_d = np.take_along_axis(dist, part, axis=1)
    order = np.argsort(part_d, axis=1, kind="stable")
    return (np.take_along_axis(part, order, axis=1).astype(np.int64),
            np.take_along_axis(part_d, order, axis=1))


def exact_binary(base: Bits, queries: Bits, k: int, metric: str,
                 allowed: Allowed = None) -> tuple[Offsets, Scores]:
    """Brute-force top k over packed rows, optionally restricted to `allowed` rows."""
    if allowed is not None:
        return over_survivors(exact_binary, base, queries, k, metric, allowed)
    if len(base) == 0 or k == 0:
        return _empty(len(queries), k, metric)
    kk = min(k, len(base))
    off, score = (_hamming if metric == "HAMMING" else _jaccard)(base, queries, kk)
    return _pad(off, score, k, metric) if kk < k else (off, score)


class BinaryIndex:
    """BIN_FLAT (exact; nothing stored but a marker) or BIN_IVF_FLAT over one segment."""

    def __init__(self, base: Bits, metric: str, kind: str, ivf: Any = None) -> None:
        self._base, self.metric, self.kind, self._ivf = base, metric, kind, ivf

    @property
    def num_rows(self) -> int:
        return len(self._base)

    def serialize(self) -> bytes:
        if self._ivf is None:
            return BIN_FLAT_MARKER
        return bytes(faiss.serialize_index_binary(self._ivf).tobytes())

    def search(self, queries: Bits, k: int, allowed: Allowed = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        if self.metric == MHJACCARD:  # BIN_FLAT over MinHash signatures
            return exact_minhash(self._base, queries, k, self.metric, allowed,
                                 element_bits(params or {}))
        selection = as_selection(allowed)
        every_row = selection is None or selection.passing == self.num_rows
        if self._ivf is None or self.metric != "HAMMING" or not every_row:
            return exact_binary(self._base, queries, k, self.metric, selection)
        n = self.num_rows
        kk = min(k, n)
        if kk == 0:
            return _empty(len(queries), k, self.metric)
        nprobe = int((params or {}).get("nprobe", 8) or 8)
        sp = _faiss.SearchParametersIVF(nprobe=nprobe)
        dist, off = self._ivf.search(np.ascontiguousarray(queries), kk, params=sp)
        off, score = off.astype(np.int64), dist.astype(np.float32)
        return _pad(off, score, k, self.metric) if kk < k else (off, score)


BIN_FLAT_MARKER = b"elanus-bin-flat-v1"


def build_binary(kind: str, base: Bits, metric: str, params: dict[str, str],
                 cancelled: Callable[[], bool] | None = None) -> BinaryIndex:
    if kind == "BIN_FLAT":
        return BinaryIndex(base, metric, kind)
    n, width = base.shape
    nlist = max(1, min(_int_param(params, "nlist", 128, 1, 65536), n))
    quantizer: Any = faiss.IndexBinaryFlat(width * 8)
    ivf = faiss.IndexBinaryIVF(quantizer, width * 8, nlist)
    ivf.own_fields = True  # the IVF index frees its quantizer ...
    quantizer.this.disown()  # ... so Python must not
    if n:
        ivf.train(np.ascontiguousarray(base))
        add_in_batches(ivf, np.ascontiguousarray(base), cancelled)
    return BinaryIndex(base, metric, kind, ivf)


def load_binary(data: bytes, metric: str, kind: str, base: Bits) -> BinaryIndex:
    if kind == "BIN_FLAT":
        if data != BIN_FLAT_MARKER:
            raise ValueError("not a BIN_FLAT index file")
        return BinaryIndex(base, metric, kind)
    ivf = faiss.deserialize_index_binary(np.frombuffer(data, dtype=np.uint8))
    return BinaryIndex(base, metric, kind, ivf)
