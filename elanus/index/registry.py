"""Milvus index names and parameters, validated as Milvus validates them.

`resolve` turns a create_index request (field type, index type, metric, params) into an
`IndexSpec` or raises InvalidArgument / Unsupported. An index without index_type is AUTOINDEX,
on vector and scalar fields alike. AUTOINDEX on a float vector builds HNSW; on a scalar field it
is an inverted index. Index types Milvus has and elanus does not serve yet are refused with a
clear error, never accepted and ignored.

The dense types serve every index type Milvus 2.6 lists for them; INT8_VECTOR serves all but
IVF_RABITQ and DISKANN, which Milvus's index engine registers for float vectors only.
"""

from __future__ import annotations

from dataclasses import dataclass

from elanus.errors import InvalidArgument, Unsupported
from elanus.index.binary import BINARY_METRICS
from elanus.index.minhash import MINHASH_KIND, MINHASH_METRICS, check_minhash_params
from elanus.index.params import QUANTIZED_KINDS, build_params, check_top_k
from elanus.index.sparse import BM25, SPARSE_METRICS, bm25_params
from elanus.index.vector import METRICS, IndexSpec
from elanus.schema import DataType, FieldSchema

DEFAULT_FLOAT_METRIC = "COSINE"


@dataclass(frozen=True)
class VectorFamily:
    """The index types and metrics Milvus allows on a family of vector types."""

    kinds: dict[str, str]  # index type -> structure built ("AUTOINDEX" included)
    metrics: tuple[str, ...]
    default_metric: str
    # Milvus's proxy error for a metric outside `metrics` ({} is the metric), checked before
    # anything else; empty: the generic "not found or not supported" error.
    metric_error: str = ""


_DENSE_KINDS = {"FLAT": "FLAT", "HNSW": "HNSW", "IVF_FLAT": "IVF_FLAT", "AUTOINDEX": "HNSW",
                **{kind: kind for kind in QUANTIZED_KINDS}}
DENSE = VectorFamily(_DENSE_KINDS, METRICS, DEFAULT_FLOAT_METRIC,
                     "float vector index does not support metric type: {}")
INT8 = VectorFamily({k: v for k, v in _DENSE_KINDS.items() if k not in ("IVF_RABITQ", "DISKANN")},
                    METRICS, DEFAULT_FLOAT_METRIC)
BINARY = VectorFamily({"BIN_FLAT": "BIN_FLAT", "BIN_IVF_FLAT": "BIN_IVF_FLAT",
                       MINHASH_KIND: MINHASH_KIND, "AUTOINDEX": "BIN_FLAT"},
                      (*BINARY_METRICS, *MINHASH_METRICS), "HAMMING",
                      "binary vector index does not support metric type: {}")
# The metrics an index type is limited to, beyond its family's.
ONLY_METRICS = {MINHASH_KIND: MINHASH_METRICS, "BIN_IVF_FLAT": BINARY_METRICS}
SPARSE = VectorFamily({"SPARSE_INVERTED_INDEX": "SPARSE_INVERTED_INDEX",
                       "SPARSE_WAND": "SPARSE_WAND", "AUTOINDEX": "SPARSE_INVERTED_INDEX"},
                      SPARSE_METRICS, "IP", "only IP is the supported metric type for sparse index")
# What each served vector index type builds, across the families.
VECTOR_KINDS: dict[str, str] = {**DENSE.kinds, **BINARY.kinds, **SPARSE.kinds,
                                "AUTOINDEX": "HNSW"}
AUTOINDEX_BUILD = {"M": "18", "efConstruction": "240"}
KNOWN_VECTOR_TYPES = frozenset({
    "IVF_RABITQ_FASTSCAN", "AISAQ", "GPU_CAGRA", "GPU_IVF_FLAT", "GPU_IVF_PQ",
    "GPU_BRUTE_FORCE",
})


def family(dtype: DataType) -> VectorFamily:
    if dtype == DataType.BINARY_VECTOR:
        return BINARY
    if dtype == DataType.SPARSE_FLOAT_VECTOR:
        return SPARSE
    if dtype == DataType.INT8_VECTOR:
        return INT8
    return DENSE


def default_metric(dtype: DataType) -> str:
    """The metric a search uses on a field without an index when it names none."""
    return family(dtype).default_metric
SCALAR_TYPES: dict[str, frozenset[DataType]] = {
    "AUTOINDEX": frozenset(DataType) - {DataType.JSON},
    "INVERTED": frozenset({DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32,
                           DataType.INT64, DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR,
                           DataType.ARRAY}),
    "STL_SORT": frozenset({DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
                           DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR,
                           DataType.TIMESTAMPTZ}),
    "TRIE": frozenset({DataType.VARCHAR}),
    "BITMAP": frozenset({DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32,
                         DataType.INT64, DataType.VARCHAR, DataType.ARRAY}),
    "RTREE": frozenset({DataType.GEOMETRY}),
    "NGRAM": frozenset({DataType.VARCHAR}),
}
KNOWN_SCALAR_TYPES = frozenset({"HYBRID", "MARISA-TRIE", "ASCENDING", "SORT"})
JSON_INDEX_TYPES = frozenset({"AUTOINDEX", "INVERTED"})
# json_cast_type values served, and the values a path index keeps for each.
JSON_CASTS = {"BOOL": "bool", "DOUBLE": "number", "VARCHAR": "str"}
KNOWN_JSON_CASTS = frozenset({"ARRAY_BOOL", "ARRAY_DOUBLE", "ARRAY_VARCHAR", "JSON"})
MAX_GRAM = 8  # bytes an n-gram of the NGRAM index packs into one integer


@dataclass(frozen=True)
class BuildPlan:
    kind: str  # the structure built: "FLAT", "HNSW", "IVF_PQ", ... (see elanus.index.factory)
    params: dict[str, str]


def resolve(f: FieldSchema, index_name: str, params: dict[str, str],
            bm25_output: bool = False) -> IndexSpec:
    """Validate a create_index request on field `f`; `params` is every key the client sent.
    `bm25_output`: `f` is a BM25 function's output, indexed under the BM25 metric only."""
    params = {k: str(v) for k, v in params.items()}
    index_type = (params.get("index_type") or "AUTOINDEX").upper()
    params["index_type"] = index_type
    if bm25_output:
        metric = (params.get("metric_type") or BM25).upper()
        if metric != BM25:
            raise InvalidArgument(f"index metric type of BM25 function output field must be "
                                  f"BM25, got {metric}")
        if index_type not in SPARSE.kinds:
            raise InvalidArgument(f"data type {f.dtype.milvus_name} can't build with this "
                                  f"index {index_type}")
        params["metric_type"] = BM25
        bm25_params(params)
        return IndexSpec(index_name, f.name, index_type, BM25, params)
    if f.dtype.is_vector:
        return _vector_spec(f, index_name, index_type, params)
    return _scalar_spec(f, index_name, index_type, params)


def _vector_spec(f: FieldSchema, index_name: str, index_type: str,
                 params: dict[str, str]) -> IndexSpec:
    fam = family(f.dtype)
    if index_type not in fam.kinds:
        if index_type in KNOWN_VECTOR_TYPES:
            served = ", ".join(fam.kinds)
            raise Unsupported(f"index type {index_type} is not supported by this elanus build "
                              f"yet; use {served}")
        if index_type in VECTOR_KINDS:
            raise InvalidArgument(f"data type {f.dtype.milvus_name} can't build with this "
                                  f"index {index_type}")
        raise InvalidArgument(f"invalid index type: {index_type}")
    allowed = ONLY_METRICS.get(index_type, fam.metrics)
    metric = (params.get("metric_type") or allowed[0] if index_type in ONLY_METRICS
              else params.get("metric_type") or fam.default_metric).upper()
    if metric not in fam.metrics and fam.metric_error:
        raise InvalidArgument(fam.metric_error.format(metric), "valid index params",
                              "invalid index params")
    if metric not in allowed:
        raise InvalidArgument(f"metric type {metric} not found or not supported, supported: "
                              f"[{' '.join(allowed)}]")
    params["metric_type"] = metric
    plan = build_plan(index_type, params, f.dtype)
    if plan.kind == "HNSW":
        _check_int(plan.params, "M", 2, 2048)
        _check_int(plan.params, "efConstruction", 1, 2**31 - 1)
    if plan.kind in ("IVF_FLAT", "BIN_IVF_FLAT"):
        _check_int(plan.params, "nlist", 1, 65536)
    if plan.kind in QUANTIZED_KINDS:
        build_params(plan.kind, plan.params, f.dim)
    if plan.kind == MINHASH_KIND:
        check_minhash_params(f.dim, plan.params)
    return IndexSpec(index_name, f.name, index_type, metric, params)


def _scalar_spec(f: FieldSchema, index_name: str, index_type: str,
                 params: dict[str, str]) -> IndexSpec:
    if f.dtype == DataType.JSON:
        return _json_spec(f, index_name, index_type, params)
    allowed = SCALAR_TYPES.get(index_type)
    if allowed is None:
        if index_type in VECTOR_KINDS or index_type in KNOWN_VECTOR_TYPES:
            raise InvalidArgument(f"data type {f.dtype.milvus_name} can't build with this index "
                                  f"{index_type}")
        if index_type in KNOWN_SCALAR_TYPES:
            raise Unsupported(f"scalar index type {index_type} is not supported by this elanus "
                              "build yet")
        raise InvalidArgument("", "valid index", f"invalid index type: {index_type}")
    if f.dtype not in allowed:
        if index_type == "RTREE":
            raise InvalidArgument("RTREE index can only be built on geometry field, got "
                                  f"{f.dtype.milvus_name}")
        raise InvalidArgument(f"{index_type} are not supported on {f.dtype.milvus_name} field")
    params.pop("metric_type", None)
    if index_type == "NGRAM":
        low = _int_param(params, "min_gram", 1, MAX_GRAM)
        high = _int_param(params, "max_gram", 1, MAX_GRAM)
        if low > high:
            raise InvalidArgument(f"min_gram ({low}) should not be greater than max_gram "
                                  f"({high})")
    return IndexSpec(index_name, f.name, index_type, "", params)


def _json_spec(f: FieldSchema, index_name: str, index_type: str,
               params: dict[str, str]) -> IndexSpec:
    """A JSON path index: INVERTED (or AUTOINDEX) on the values at `json_path`, read as
    `json_cast_type`."""
    if index_type not in JSON_INDEX_TYPES:
        if index_type in SCALAR_TYPES or index_type in VECTOR_KINDS:
            raise InvalidArgument(f"{index_type} are not supported on JSON field")
        raise InvalidArgument("", "valid index", f"invalid index type: {index_type}")
    for key, what in (("json_cast_type", "cast type"), ("json_path", "json path")):
        if not params.get(key):
            raise InvalidArgument(f"json index must specify {what}: missing parameter"
                                  f"[missing_param={key}]", "valid index params",
                                  "invalid index params")
    cast = params["json_cast_type"].upper()
    if cast in KNOWN_JSON_CASTS or params.get("json_cast_function"):
        raise Unsupported(f"JSON index with json_cast_type {cast} or a json_cast_function is "
                          "not supported by this elanus build yet; use BOOL, DOUBLE or VARCHAR")
    if cast not in JSON_CASTS:
        raise InvalidArgument(f"json_cast_type {params['json_cast_type']} is not supported, "
                              f"supported: [{' '.join([*JSON_CASTS, *sorted(KNOWN_JSON_CASTS)])}]")
    params.pop("metric_type", None)
    return IndexSpec(index_name, f.name, index_type, "", params)


def _int_param(params: dict[str, str], name: str, low: int, high: int) -> int:
    if name not in params:
        raise InvalidArgument(f"param '{name}' is required")
    _check_int(params, name, low, high)
    return int(params[name])


def build_plan(index_type: str, params: dict[str, str],
               dtype: DataType = DataType.FLOAT_VECTOR) -> BuildPlan:
    kind = family(dtype).kinds[index_type]
    build = dict(AUTOINDEX_BUILD) if kind == "HNSW" and index_type == "AUTOINDEX" else {}
    build.update({k: v for k, v in params.items() if k not in ("index_type", "metric_type")})
    return BuildPlan(kind, build)


def check_search(spec: IndexSpec, dtype: DataType, params: dict[str, object], k: int) -> None:
    """Check a top-k search's params against the index on its field, as Milvus does before
    searching (k is offset + limit); unknown keys are ignored."""
    kind = build_plan(spec.index_type, spec.params, dtype).kind
    if kind in QUANTIZED_KINDS:
        check_top_k(kind, params, k)


def _check_int(params: dict[str, str], name: str, low: int, high: int) -> None:
    if name not in params:
        return
    try:
        value = int(params[name])
    except ValueError:
        raise InvalidArgument(f"param '{name}' ({params[name]}) should be an integer") from None
    if not low <= value <= high:
        raise InvalidArgument(f"param '{name}' ({value}) should be in range [{low}, {high}]")
