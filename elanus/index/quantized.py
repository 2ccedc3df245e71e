"""Quantized dense indexes over one segment, on faiss: IVF_SQ8, IVF_PQ, IVF_RABITQ, SCANN,
HNSW_SQ, HNSW_PQ, HNSW_PRQ and DISKANN.

What each Milvus type is in faiss (`dim` the field's dimension):

    IVF_SQ8     IVF{nlist},SQ8
    IVF_PQ      IVF{nlist},PQ{m}x{nbits}
    IVF_RABITQ  RR{dim},IVF{nlist},RaBitQ: a random rotation, then 1-bit RaBitQ codes, as Milvus
    SCANN       IVF{nlist},PQ{dim/2}x4fsr: 4-bit PQ fast scan of the residuals of 2-dim sub-vectors
    HNSW_SQ     an HNSW graph whose storage is an IndexScalarQuantizer of sq_type
    HNSW_PQ     the same over an IndexPQ of m sub-vectors of nbits
    HNSW_PRQ    the same over an IndexProductResidualQuantizer: m splits, nrq residual stages of
                nbits each (faiss's index_factory has no HNSW_PRQ string, so it is assembled)
    DISKANN     the same over PQ codes of pq_code_budget_gb_ratio of a float32 row (one byte per
                sub-vector); graph degree max_degree (M = max_degree / 2), efConstruction
                search_list_size. Only the graph and the codes are held and stored; each search
                re-ranks its search_list candidates by exact distance on those candidate rows of
                the segment's memory-mapped vectors, as DiskANN reads full vectors from disk.
                (The build, like DiskANN's, holds the rows in RAM while it makes the graph.)

The HNSW graphs are built on the full-precision vectors, then their storage is swapped for the
codes, as Milvus's index engine builds HNSW_PRQ: the graph is as good as HNSW's, the memory that
of the codes.

Refinement (refine=true, or SCANN's with_raw_data): refine_type SQ6/SQ8/BF16/FP16 is a faiss
IndexRefine over scalar-quantized copies of the rows, and its scores are those codes' distances,
as in Milvus. FP32 refinement, SCANN's reorder and DISKANN re-rank on the segment's own raw rows
(see `elanus.index.rerank`): nothing more is stored, and the returned scores are exact. Without
refinement, scores are the codes' approximate distances, as Milvus returns them.

A segment with fewer rows than training needs (2^nbits for PQ codebooks, 16 for SCANN) builds no
structure: its index is answered by exact search, and stores only a header.

Serialized form: MAGIC, a little-endian u32 header length, a JSON header {"rerank": bool,
"exact": bool}, then faiss's serialization of the index (nothing when exact).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from elanus.index.params import (
    HNSW_KINDS,
    IVF_KINDS,
    BuildParams,
    SearchParams,
    build_params,
    search_params,
)
from elanus.index.rerank import exact_raw, rerank
from elanus.index.selection import Allowed, Selection
from elanus.index.vector import (
    Offsets,
    Scores,
    Vectors,
    _empty,
    _faiss,
    _pad,
    add_in_batches,
    add_to_graph,
    faiss_metric,
    filtering,
    prepare,
)

MAGIC = b"elanus-quantized\0"
DISKANN_PQ_ITERATIONS = 12  # k-means rounds per PQ codebook, as DiskANN trains its pivots
_SQ = {"SQ4U": "QT_4bit_uniform", "SQ6": "QT_6bit", "SQ8": "QT_8bit", "FP16": "QT_fp16",
       "BF16": "QT_bf16"}


class QuantizedIndex:
    """A quantized faiss index over one segment's vectors, re-ranked on the raw rows when its
    type says so (conventions: `elanus.index.vector`)."""

    def __init__(self, index: Any, metric: str, kind: str, base: Vectors, rerank: bool) -> None:
        self._index = index  # None: too few rows to train, every search is exact
        self.metric, self.kind = metric, kind
        self._base = base  # the segment's raw rows, possibly memory-mapped; never normalised
        self._rerank = rerank

    @property
    def num_rows(self) -> int:
        return len(self._base)

    def serialize(self) -> bytes:
        header = json.dumps({"rerank": self._rerank, "exact": self._index is None}).encode()
        body = b"" if self._index is None else _faiss.serialize_index(self._index).tobytes()
        return MAGIC + struct.pack("<I", len(header)) + header + body

    @classmethod
    def deserialize(cls, data: bytes, metric: str, kind: str, base: Vectors) -> QuantizedIndex:
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
            raise ValueError(f"not a {kind} index file")
        at = len(MAGIC)
        (size,) = struct.unpack_from("<I", data, at)
        header = json.loads(data[at + 4: at + 4 + size])
        body = np.frombuffer(data, dtype=np.uint8, offset=at + 4 + size)
        index = None if header["exact"] else _faiss.deserialize_index(body)
        if index is not None and index.ntotal != len(base):
            raise ValueError(f"{kind} index holds {index.ntotal} rows, the segment {len(base)}")
        return cls(index, metric, kind, base, bool(header["rerank"]))

    def search(self, queries: Vectors, k: int, allowed: Allowed = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        """Top k per query; `queries` are already prepared for the metric."""
        sp = search_params(self.kind, params or {}, k)
        n = self.num_rows
        plan = filtering(allowed, n, k)
        selection, passing = plan.allowed, plan.passing
        if plan.exact:
            return self._exact(queries, k, selection)
        kk = min(k, n)
        if kk == 0:
            return _empty(len(queries), k, self.metric)
        if self._index is None:
            return self._exact(queries, k, selection)
        wanted = min(n, max(kk, self._candidates(sp, kk)))
        search_params_, keepalive = self._faiss_params(sp, wanted, selection)
        scores, offsets = self._index.search(queries, wanted if self._rerank else kk,
                                             params=search_params_)
        del keepalive
        offsets = offsets.astype(np.int64)
        if self._rerank:
            offsets, scores = rerank(self._base, queries, offsets, kk, self.metric)
        if int((offsets[:, : min(kk, passing)] < 0).sum()):
            return self._exact(queries, k, selection)  # the index came back short
        if kk < k:
            return _pad(offsets, scores, k, self.metric)
        return offsets, scores.astype(np.float32)

    def _exact(self, queries: Vectors, k: int,
               selection: Selection | None) -> tuple[Offsets, Scores]:
        rows = None if selection is None else selection.rows
        return exact_raw(self._base, queries, k, self.metric, rows)

    def _candidates(self, sp: SearchParams, k: int) -> int:
        """How many hits the index is asked for before re-ranking on raw rows."""
        if self.kind == "DISKANN":
            return sp.search_list
        if self.kind == "SCANN":
            return sp.reorder_k
        refined = self._rerank or isinstance(self._index, _faiss.IndexRefine)
        return math.ceil(k * sp.refine_k) if refined else k

    def _faiss_params(self, sp: SearchParams, wanted: int,
                      selection: Selection | None) -> tuple[Any, tuple[Any, ...]]:
        """faiss search parameters nested as the index is (refine, rotation, IVF or HNSW), the
        filter as a bitmap selector at the bottom; the second value keeps them all alive."""
        leaf: Any
        if self.kind in HNSW_KINDS or self.kind == "DISKANN":
            ef = sp.search_list if self.kind == "DISKANN" else sp.ef
            leaf = _faiss.SearchParametersHNSW(efSearch=max(ef, wanted))
        elif self.kind == "IVF_RABITQ":
            leaf = _faiss.IVFRaBitQSearchParameters()
            leaf.nprobe, leaf.qb = sp.nprobe, sp.rbq_query_bits
        else:
            leaf = _faiss.SearchParametersIVF(nprobe=sp.nprobe)
        keep: list[Any] = [leaf]
        if selection is not None:
            leaf.sel = selection.selector
            keep.append(selection)
        outer = leaf
        if self.kind == "IVF_RABITQ":
            outer = _faiss.SearchParametersPreTransform()
            outer.index_params = leaf
            keep.append(outer)
        if isinstance(self._index, _faiss.IndexRefine):
            refine = _faiss.IndexRefineSearchParameters()
            refine.k_factor, refine.base_index_params = sp.refine_k, outer
            keep.append(refine)
            outer = refine
        return outer, tuple(keep)


def build_quantized(kind: str, vectors: Vectors, metric: str, params: dict[str, str],
                    cancelled: Callable[[], bool] | None = None) -> QuantizedIndex:
    """Build an index of `kind` over a segment's raw float32 rows `vectors`."""
    n, dim = vectors.shape
    bp = build_params(kind, params, dim)
    rerank = (bp.refine_type == "FP32" or kind == "DISKANN"
              or (kind == "SCANN" and bp.with_raw_data))
    if n < _min_rows(kind, bp):
        return QuantizedIndex(None, metric, kind, vectors, rerank)
    base = prepare(vectors, metric)
    fm = faiss_metric(metric)
    index = (_ivf(kind, bp, base, fm, cancelled) if kind in IVF_KINDS
             else _graph(kind, bp, base, fm, cancelled))
    if bp.refine_type and bp.refine_type != "FP32":
        index = _refined(index, bp.refine_type, base, fm)
    return QuantizedIndex(index, metric, kind, vectors, rerank)


def load_quantized(data: bytes, metric: str, kind: str, base: Vectors) -> QuantizedIndex:
    """A quantized index from its serialized form over the segment's raw float32 rows."""
    return QuantizedIndex.deserialize(data, metric, kind, base)


def _min_rows(kind: str, bp: BuildParams) -> int:
    """Rows a build needs: one per PQ centroid (2^nbits), else one."""
    if kind in ("IVF_PQ", "HNSW_PQ", "HNSW_PRQ", "DISKANN", "SCANN"):
        return 1 << bp.nbits
    return 1


def _ivf(kind: str, bp: BuildParams, base: Vectors, fm: int,
         cancelled: Callable[[], bool] | None) -> Any:
    n, dim = base.shape
    nlist = max(1, min(bp.nlist, n))  # a small segment gets one list per row at most
    spec = {"IVF_SQ8": f"IVF{nlist},SQ8", "IVF_PQ": f"IVF{nlist},PQ{bp.m}x{bp.nbits}",
            "IVF_RABITQ": f"RR{dim},IVF{nlist},RaBitQ", "SCANN": f"IVF{nlist},PQ{bp.m}x4fsr"}
    index = _faiss.index_factory(dim, spec[kind], fm)
    ivf = _faiss.downcast_index(_faiss.extract_index_ivf(index))
    ivf.cp.min_points_per_centroid = 1  # small segments train without faiss's warnings
    if kind in ("IVF_PQ", "SCANN"):
        ivf.pq.cp.min_points_per_centroid = 1
    if kind == "IVF_PQ":
        ivf.do_polysemous_training = False  # only for Hamming pre-filtering, which is unused
    index.train(base)
    add_in_batches(index, base, cancelled)
    return index


def _graph(kind: str, bp: BuildParams, base: Vectors, fm: int,
           cancelled: Callable[[], bool] | None) -> Any:
    """An HNSW graph built on the full-precision rows, its storage then swapped for codes."""
    n, dim = base.shape
    m_graph = max(2, bp.max_degree // 2) if kind == "DISKANN" else bp.M
    flat = _faiss.IndexHNSWFlat(dim, m_graph, fm)
    flat.hnsw.efConstruction = bp.search_list_size if kind == "DISKANN" else bp.ef_construction
    add_to_graph(flat, base, cancelled)
    storage = _codes(kind, bp, dim, fm)
    storage.train(base)
    add_in_batches(storage, base, cancelled)
    index = _faiss.IndexHNSW(storage, m_graph)
    index.hnsw = flat.hnsw  # copies the graph; the flat copy of the rows is dropped with `flat`
    index.ntotal, index.is_trained = n, True
    storage.this.disown()
    index.own_fields = True
    return index


def _codes(kind: str, bp: BuildParams, dim: int, fm: int) -> Any:
    if kind == "HNSW_SQ":
        qtype = getattr(_faiss.ScalarQuantizer, _SQ[bp.sq_type])
        return _faiss.IndexScalarQuantizer(dim, qtype, fm)
    if kind == "HNSW_PRQ":
        prq = _faiss.IndexProductResidualQuantizer(dim, bp.m, bp.nrq, bp.nbits, fm)
        for i in range(bp.m):
            rq = _faiss.downcast_AdditiveQuantizer(prq.prq.subquantizer(i))
            rq.train_type = _faiss.ResidualQuantizer.Train_default  # no codebook refinement
            rq.cp.min_points_per_centroid = 1
        return prq
    pq = _faiss.IndexPQ(dim, bp.m, bp.nbits, fm)
    pq.pq.cp.min_points_per_centroid = 1
    if kind == "DISKANN":
        pq.pq.cp.niter = DISKANN_PQ_ITERATIONS
    pq.do_polysemous_training = False
    return pq


def _refined(index: Any, refine_type: str, base: Vectors, fm: int) -> Any:
    """`index` behind a faiss IndexRefine over scalar-quantized copies of the rows."""
    dim = base.shape[1]
    qtype = getattr(_faiss.ScalarQuantizer, _SQ[refine_type])
    codes = _faiss.IndexScalarQuantizer(dim, qtype, fm)
    codes.train(base)
    codes.add(base)
    refined = _faiss.IndexRefine(index, codes)
    index.this.disown()
    codes.this.disown()
    refined.own_fields = True
    return refined
