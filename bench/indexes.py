"""Milvus vector index types as the benchmarks build and search them, and their faiss twins.

For each index type (Milvus's names): the build parameters (`build_params`), the search-parameter
sweep (`sweep`), and the raw faiss index standing for it (`faiss_recipe`, `build_faiss`,
`faiss_params`), the yardstick the benchmarks compare elanus with. COSINE is inner product on
normalised rows. Imported as `indexes` by index_bench.py and suite.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from datasets import K

HNSW_M, EF_CONSTRUCTION = 16, 200
DISKANN_DEGREE, DISKANN_BUILD_LIST = 56, 100
AUTO_M, AUTO_EF_CONSTRUCTION = 18, 240  # what elanus's AUTOINDEX builds on float vectors
NRQ, NBITS = 2, 8
INDEX_TYPES = ("FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "IVF_RABITQ", "HNSW", "HNSW_SQ",
               "HNSW_PQ", "HNSW_PRQ", "SCANN", "DISKANN", "AUTOINDEX")
NPROBES = (1, 4, 16, 64)
EFS = (16, 32, 64, 128, 256)


def nlist_for(rows: int) -> int:
    """The power of two nearest sqrt(rows): 128 at 20,000 rows, 1024 at 1,000,000."""
    return int(2 ** round(math.log2(max(4.0, math.sqrt(rows)))))


def pq_m_for(dim: int) -> int:
    """PQ sub-vectors: the largest divisor of dim not above dim / 8 (48 at 384-d, 16 at 128-d).

    dim / 4 trains four-dimensional codebooks, which faiss does about 25 times slower at 384-d
    (~50 s on 2 cores for 20,000 rows) for little recall; the PRQ of HNSW_PRQ gets the same code
    size (m / nrq splits of nrq bytes)."""
    return max(d for d in range(1, max(1, dim // 8) + 1) if dim % d == 0)


def build_params(index_type: str, rows: int, dim: int, nlist: int, pq_m: int) -> dict[str, Any]:
    nlist = nlist or nlist_for(rows)
    pq_m = pq_m or pq_m_for(dim)
    graph = {"M": HNSW_M, "efConstruction": EF_CONSTRUCTION}
    return {
        "FLAT": {},
        "IVF_FLAT": {"nlist": nlist},
        "IVF_SQ8": {"nlist": nlist},
        "IVF_PQ": {"nlist": nlist, "m": pq_m, "nbits": NBITS},
        "IVF_RABITQ": {"nlist": nlist, "refine": True, "refine_type": "SQ8"},
        "HNSW": graph,
        "HNSW_SQ": {**graph, "sq_type": "SQ8", "refine": True, "refine_type": "FP32"},
        "HNSW_PQ": {**graph, "m": pq_m, "nbits": NBITS, "refine": True, "refine_type": "FP32"},
        "HNSW_PRQ": {**graph, "m": max(1, pq_m // NRQ), "nbits": NBITS, "nrq": NRQ},
        "SCANN": {"nlist": nlist, "with_raw_data": True},
        "DISKANN": {"max_degree": DISKANN_DEGREE, "search_list_size": DISKANN_BUILD_LIST},
        "AUTOINDEX": {},
    }[index_type]


def sweep(index_type: str) -> list[dict[str, Any]]:
    """The search parameters of each point of an index type's sweep."""
    if index_type in ("IVF_FLAT", "IVF_SQ8", "IVF_PQ"):
        return [{"nprobe": p} for p in NPROBES]
    if index_type == "IVF_RABITQ":
        # rbq_query_bits 0 (Milvus's default) searches with the float query; 4 quantizes it
        return [*({"nprobe": p, "refine_k": 2} for p in NPROBES),
                {"nprobe": 64, "refine_k": 4}, {"nprobe": 64, "refine_k": 2, "rbq_query_bits": 4}]
    if index_type == "SCANN":
        return [*({"nprobe": p, "reorder_k": 100} for p in NPROBES),
                {"nprobe": 64, "reorder_k": 200}]
    if index_type == "DISKANN":
        return [{"search_list": s} for s in (16, 32, 64, 100, 200)]
    if index_type.startswith("HNSW"):
        return [{"ef": e} for e in EFS]
    return [{}]  # FLAT; AUTOINDEX with the engine's default search parameters


def label(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "default"


def faiss_recipe(index_type: str, bp: dict[str, Any], dim: int) -> str:
    """The faiss index standing for `index_type` (index_factory notation where it has one)."""
    nlist, m = bp.get("nlist"), bp.get("m")
    return {
        "FLAT": "Flat",
        "IVF_FLAT": f"IVF{nlist},Flat",
        "IVF_SQ8": f"IVF{nlist},SQ8",
        "IVF_PQ": f"IVF{nlist},PQ{m}x{NBITS}",
        "IVF_RABITQ": f"RR{dim},IVF{nlist},RaBitQ,Refine(SQ8)",
        "HNSW": f"HNSW{HNSW_M}",
        "HNSW_SQ": f"HNSW{HNSW_M} graph, SQ8 codes, RFlat",
        "HNSW_PQ": f"HNSW{HNSW_M} graph, PQ{m}x{NBITS} codes, RFlat",
        "HNSW_PRQ": f"HNSW{HNSW_M} graph, PRQ{m}x{NRQ}x{NBITS} codes",
        "SCANN": f"IVF{nlist},PQ{dim // 2}x4fs,RFlat",
        "DISKANN": f"HNSW{DISKANN_DEGREE // 2} efConstruction {DISKANN_BUILD_LIST}",
        "AUTOINDEX": f"HNSW{AUTO_M} efConstruction {AUTO_EF_CONSTRUCTION}",
    }[index_type]


def build_faiss(index_type: str, base: np.ndarray, metric: str, bp: dict[str, Any]
                ) -> tuple[Any, list[Any]]:
    """The faiss twin of `index_type` over `base` (already normalised for COSINE), and the
    objects it points into, which must outlive it.

    HNSW_SQ/PQ/PRQ build their graph on the raw rows (HNSW16, efConstruction 200), then search it
    through the codes: building it through PQ or PRQ distances takes minutes on 2 cores. PRQ
    codebooks train without refinement (faiss's default refinement takes ~8 minutes here).
    """
    import faiss

    n, dim = base.shape
    fm = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
    if index_type in ("HNSW", "DISKANN", "AUTOINDEX"):
        m, efc = {"HNSW": (HNSW_M, EF_CONSTRUCTION), "AUTOINDEX": (AUTO_M, AUTO_EF_CONSTRUCTION),
                  "DISKANN": (DISKANN_DEGREE // 2, DISKANN_BUILD_LIST)}[index_type]
        index = faiss.IndexHNSWFlat(dim, m, fm)
        index.hnsw.efConstruction = efc
        index.add(base)
        return index, []
    if index_type in ("HNSW_SQ", "HNSW_PQ", "HNSW_PRQ"):
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, fm)
        graph.hnsw.efConstruction = EF_CONSTRUCTION
        graph.add(base)
        if index_type == "HNSW_SQ":
            codes = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, fm)
        elif index_type == "HNSW_PQ":
            codes = faiss.IndexPQ(dim, bp["m"], NBITS, fm)
        else:
            codes = faiss.IndexProductResidualQuantizer(dim, bp["m"], NRQ, NBITS, fm)
            for i in range(bp["m"]):
                rq = faiss.downcast_AdditiveQuantizer(codes.prq.subquantizer(i))
                rq.train_type = faiss.ResidualQuantizer.Train_default
        codes.train(base)
        codes.add(base)
        index = faiss.IndexHNSW(codes, HNSW_M)
        index.hnsw = graph.hnsw  # a copy: the raw rows go with `graph`
        index.ntotal, index.is_trained = n, True
        if bp.get("refine"):
            return faiss.IndexRefineFlat(index, faiss.swig_ptr(base)), [index, codes]
        return index, [codes]
    if index_type == "FLAT":
        index = faiss.IndexFlat(dim, fm)
    else:
        recipe = faiss_recipe(index_type, bp, dim)
        index = faiss.index_factory(dim, recipe, fm)
        if index_type == "IVF_PQ":  # Hamming pre-filtering, which is never used here
            faiss.downcast_index(index).do_polysemous_training = False
        index.train(base)
    index.add(base)
    return index, []


def faiss_params(index_type: str, params: dict[str, Any], sel: Any) -> tuple[Any, list[Any]]:
    """faiss search parameters for one sweep point (nested as the index is), the filter selector
    at the bottom; the second value keeps the nested objects alive."""
    import faiss

    leaf: Any
    if index_type == "FLAT":
        leaf = faiss.SearchParameters()
    elif index_type == "IVF_RABITQ":
        leaf = faiss.IVFRaBitQSearchParameters()
        leaf.nprobe, leaf.qb = params["nprobe"], params.get("rbq_query_bits", 0)
    elif "nprobe" in params:
        leaf = faiss.SearchParametersIVF()
        leaf.nprobe = params["nprobe"]
    else:  # graphs: ef, DISKANN's search_list, or elanus's default (16) for AUTOINDEX
        leaf = faiss.SearchParametersHNSW()
        leaf.efSearch = max(params.get("ef", 0), params.get("search_list", 0), 16, K)
    if sel is not None:
        leaf.sel = sel
    keep, outer = [leaf], leaf
    if index_type == "IVF_RABITQ":
        outer = faiss.SearchParametersPreTransform()
        outer.index_params = leaf
        keep.append(outer)
    factor = {"IVF_RABITQ": params.get("refine_k", 1), "HNSW_SQ": 1, "HNSW_PQ": 1,
              "SCANN": params.get("reorder_k", K) / K}.get(index_type)
    if factor is not None:
        refine = faiss.IndexRefineSearchParameters()
        refine.k_factor, refine.base_index_params = float(factor), outer
        keep.append(refine)
        outer = refine
    return outer, keep

