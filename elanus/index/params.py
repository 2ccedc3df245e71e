"""Build and search parameters of the quantized dense index types, checked as Milvus checks them.

Names, ranges and defaults are those of the Milvus 2.6 index pages (IVF_SQ8, IVF_PQ, IVF_RABITQ,
HNSW_SQ, HNSW_PQ, HNSW_PRQ, SCANN, DISKANN); where a page is silent, they are those Milvus's
index engine applies (HNSW_PQ's m defaults to 32, HNSW_PRQ's to 2; SCANN splits vectors into
2-dimensional sub-vectors, so its dim must be even). Build parameters arrive as the strings the
client sent and are checked at create_index, when the field's dim is known, and parsed again at
build time. Search parameters are a JSON object whose unknown keys are ignored, as Milvus ignores
them, and whose known keys are checked on every search; a top-k request is also held to Milvus's
rule that its candidate list (ef, search_list, reorder_k) be no shorter than offset + limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from elanus.errors import InvalidArgument

INT_MAX = 2**31 - 1
IVF_KINDS = ("IVF_SQ8", "IVF_PQ", "IVF_RABITQ", "SCANN")
HNSW_KINDS = ("HNSW_SQ", "HNSW_PQ", "HNSW_PRQ")
QUANTIZED_KINDS = (*IVF_KINDS, *HNSW_KINDS, "DISKANN")
# Scalar quantizers by Milvus name, ranked by precision: a refine must rank above the codes.
SQ_RANK = {"SQ4U": 1, "SQ6": 2, "SQ8": 3, "BF16": 4, "FP16": 4, "FP32": 5}
SQ_TYPES = ("SQ4U", "SQ6", "SQ8", "BF16", "FP16")
REFINE_TYPES = ("SQ6", "SQ8", "BF16", "FP16", "FP32")
SCANN_SUB_DIM = 2


@dataclass(frozen=True)
class BuildParams:
    """What one quantized index is built with, every default applied."""

    nlist: int = 128
    m: int = 0  # PQ sub-vectors (PRQ splits); 0 when the kind has none
    nbits: int = 8
    nrq: int = 2
    M: int = 30
    ef_construction: int = 360
    sq_type: str = "SQ8"
    refine_type: str = ""  # "" without refinement; "FP32" re-ranks on the segment's own rows
    with_raw_data: bool = True
    max_degree: int = 56
    search_list_size: int = 100
    pq_code_budget_gb_ratio: float = 0.125


@dataclass(frozen=True)
class SearchParams:
    nprobe: int = 8
    ef: int = 16
    refine_k: float = 1.0
    rbq_query_bits: int = 0
    reorder_k: int = 0
    search_list: int = 16


def build_params(kind: str, params: dict[str, str], dim: int) -> BuildParams:
    """Parse and check the build parameters of `kind` for vectors of `dim` dimensions.

    Raises:
        InvalidArgument: a value of the wrong type, out of its range, or not fitting `dim`.
    """
    if kind in IVF_KINDS:
        nlist = _int(params, "nlist", 128, 1, 65536)
        if kind == "IVF_PQ":
            m = _int(params, "m", None, 1, 65536)
            nbits = _int(params, "nbits", 8, 1, 64)
            _check_divides(dim, m)
            return BuildParams(nlist=nlist, m=m, nbits=nbits)
        if kind == "IVF_RABITQ":
            return BuildParams(nlist=nlist, refine_type=_refine(params, ""))
        if kind == "SCANN":
            if dim % SCANN_SUB_DIM:
                raise InvalidArgument(f"The dimension of a vector (dim) should be a multiple of "
                                      f"sub_dim. Dimension:{dim}, sub_dim:{SCANN_SUB_DIM}")
            return BuildParams(nlist=nlist, m=dim // SCANN_SUB_DIM, nbits=4,
                               with_raw_data=_bool(params, "with_raw_data", True))
        return BuildParams(nlist=nlist)
    if kind in HNSW_KINDS:
        big_m = _int(params, "M", 30, 2, 2048)
        efc = _int(params, "efConstruction", 360, 1, INT_MAX)
        if kind == "HNSW_SQ":
            sq_type = _choice(params, "sq_type", "SQ8", SQ_TYPES, "invalid scalar quantizer type")
            return BuildParams(M=big_m, ef_construction=efc, sq_type=sq_type,
                               refine_type=_refine(params, sq_type))
        m = _int(params, "m", 32 if kind == "HNSW_PQ" else 2, 1, 65536)
        nbits = _int(params, "nbits", 8, 1, 64)
        _check_divides(dim, m)
        nrq = _int(params, "nrq", 2, 1, 16) if kind == "HNSW_PRQ" else 2
        return BuildParams(M=big_m, ef_construction=efc, m=m, nbits=nbits, nrq=nrq,
                           refine_type=_refine(params, ""))
    if kind == "DISKANN":
        max_degree = _int(params, "max_degree", 56, 1, 512)
        search_list_size = _int(params, "search_list_size", 100, 1, INT_MAX)
        ratio = check_float(params, "pq_code_budget_gb_ratio", 0.125, 0.0, 0.25, low_open=True)
        check_float(params, "search_cache_budget_gb_ratio", 0.1, 0.0, 0.3, high_open=True)
        return BuildParams(max_degree=max_degree, search_list_size=search_list_size,
                           pq_code_budget_gb_ratio=ratio, m=diskann_pq_m(dim, ratio))
    raise ValueError(f"not a quantized index kind: {kind}")


def search_params(kind: str, params: dict[str, Any], k: int) -> SearchParams:
    """Parse and check the search parameters one index search for `k` hits uses.

    The candidate lists (ef, search_list, reorder_k) are widened to `k`: the same search also
    serves range searches, iterators and deepening rounds, which ask a segment for more hits
    than the request's top k; `check_top_k` holds a top-k request to Milvus's rule.

    Raises:
        InvalidArgument: a known key with a value of the wrong type or out of its range.
    """
    refine_k = check_float(params, "refine_k", 1.0, 1.0, math.inf, high_open=True)
    if kind in HNSW_KINDS:
        return SearchParams(ef=max(k, _int(params, "ef", 16, 1, INT_MAX)), refine_k=refine_k)
    if kind == "DISKANN":
        key = "search_list" if "search_list" in params else "search_list_size"
        return SearchParams(search_list=max(k, _int(params, key, 16, 1, INT_MAX)))
    nprobe = _int(params, "nprobe", 8, 1, 65536)
    if kind == "SCANN":
        return SearchParams(nprobe=nprobe, reorder_k=max(k, _int(params, "reorder_k", k, 1,
                                                                    INT_MAX)))
    if kind == "IVF_RABITQ":
        key = "rbq_query_bits" if "rbq_query_bits" in params else "rbq_bits_query"
        return SearchParams(nprobe=nprobe, refine_k=refine_k,
                            rbq_query_bits=_int(params, key, 0, 0, 8))
    return SearchParams(nprobe=nprobe)


def check_top_k(kind: str, params: dict[str, Any], k: int) -> None:
    """Refuse a top-k search whose candidate list is shorter than `k` (offset + limit), as
    Milvus refuses it, after the checks of `search_params`.

    Raises:
        InvalidArgument: e.g. "ef(5) should be larger than k(10)".
    """
    search_params(kind, params, k)
    names = {"HNSW_SQ": "ef", "HNSW_PQ": "ef", "HNSW_PRQ": "ef", "SCANN": "reorder_k",
             "DISKANN": "search_list" if "search_list" in params else "search_list_size"}
    name = names.get(kind)
    if name is None or params.get(name) in (None, ""):
        return
    value = _int(params, name, None, 1, INT_MAX)
    if value < k:
        shown = "search_list_size" if kind == "DISKANN" else name
        raise InvalidArgument(f"{shown}({value}) should be larger than k({k})")


def diskann_pq_m(dim: int, ratio: float) -> int:
    """PQ sub-vectors (one byte each) within `ratio` of a float32 row: the largest divisor of
    `dim` not above dim * 4 * ratio, at least 1."""
    budget = max(1, int(dim * 4 * ratio))
    return max(d for d in range(1, min(budget, dim) + 1) if dim % d == 0)


def _check_divides(dim: int, m: int) -> None:
    if dim % m:
        raise InvalidArgument(f"The dimension of a vector (dim) should be a multiple of the number "
                              f"of subquantizers (m). Dimension: {dim}, m: {m}")


def _refine(params: dict[str, str], codes: str) -> str:
    """The refine type when `refine` is on ("" when off): FP32 unless named; it must be more
    precise than the scalar quantizer `codes` (if any) it refines."""
    if not _bool(params, "refine", False):
        return ""
    refine_type = _choice(params, "refine_type", "FP32", (*REFINE_TYPES, "FLAT"),
                          "invalid refine type")
    refine_type = "FP32" if refine_type == "FLAT" else refine_type
    if codes and SQ_RANK[refine_type] <= SQ_RANK[codes]:
        raise InvalidArgument(f"refine_type {refine_type} should be of higher precision than "
                              f"sq_type {codes}")
    return refine_type


def _int(params: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise InvalidArgument(f"param '{name}' is required")
        return default
    try:
        value = int(raw) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        raise InvalidArgument(f"param '{name}' ({raw}) should be an integer")
    if not low <= value <= high:
        raise InvalidArgument(f"param '{name}' ({value}) should be in range [{low}, {high}]")
    return value


def check_float(params: dict[str, Any], name: str, default: float, low: float, high: float,
                low_open: bool = False, high_open: bool = False) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        raise InvalidArgument(f"param '{name}' ({raw}) should be a number")
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        span = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise InvalidArgument(f"param '{name}' ({raw}) should be in range {span}")
    return value


def _bool(params: dict[str, Any], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in ("true", "false"):
        raise InvalidArgument(f"param '{name}' ({raw}) should be a boolean")
    return text == "true"


def _choice(params: dict[str, Any], name: str, default: str, allowed: tuple[str, ...],
            error: str) -> str:
    value = str(params.get(name) or default).strip().upper()
    if value not in allowed:
        raise InvalidArgument(f"{error}: {params.get(name)}, supported: [{' '.join(allowed)}]")
    return value
