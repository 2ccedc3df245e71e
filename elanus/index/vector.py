"""Dense float vector indexes over one segment, on faiss.

Rows are segment offsets 0..n-1; the segment maps offsets to primary keys. Scores are Milvus's:
squared Euclidean distance for L2 (smaller is closer), inner product for IP and cosine similarity
for COSINE (larger is closer). COSINE vectors are normalised once at build time and queries at
search time, so it runs as inner product. A missing hit has offset -1.

`allowed` selects offsets (filter AND NOT deleted): a `Selection`, which keeps what searches
derive from it, or a plain boolean mask. When few rows pass, the
search is exact over the survivors, so a filtered search returns min(k, passing) hits whatever
the selectivity; otherwise the index searches with a faiss ID selector, and falls back to exact
search if the index comes back short. faiss releases the GIL, so segments search in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from elanus.errors import InvalidArgument
from elanus.index.selection import Allowed, Selection, as_selection

_faiss: Any = faiss  # faiss's bundled type stubs lag its Python API
Offsets = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]

METRICS = ("L2", "IP", "COSINE")
# Below this share of passing rows, exact search over the survivors is both faster and exact.
EXACT_BELOW_FRACTION = 0.05
EXACT_BELOW_ROWS = 2_048
MAX_EF_WIDENING = 4.0  # a filtered HNSW search widens ef by up to this much (see FaissIndex)
BLAS_QUERIES = 20  # faiss's distance_compute_blas_threshold: from this many queries, one GEMM
MAX_SHARED_PARAMS = 64  # unfiltered search parameter objects an index keeps for reuse


def faiss_metric(metric: str) -> int:
    return faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT


def larger_is_closer(metric: str) -> bool:
    """IP, COSINE (and BM25) are similarities; L2, HAMMING and JACCARD are distances."""
    return metric not in ("L2", "HAMMING", "JACCARD")


def normalized(vectors: Vectors) -> Vectors:
    """Unit-norm copies of the rows (zero rows stay zero), as float32 C-contiguous."""
    out = np.array(vectors, dtype=np.float32, copy=True, order="C")
    faiss.normalize_L2(out)
    return out


def prepare(vectors: Vectors, metric: str) -> Vectors:
    """Vectors as the index stores and searches them for `metric`."""
    if metric == "COSINE":
        return normalized(vectors)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def over_survivors(search: Callable[[Any, Any, int, str], tuple[Offsets, Scores]], base: Any,
                   queries: Any, k: int, metric: str,
                   allowed: Selection | npt.NDArray[np.bool_]) -> tuple[Offsets, Scores]:
    """`search` run over the `allowed` rows of `base` only, its offsets mapped back to rows."""
    survivors = (allowed if isinstance(allowed, Selection) else Selection(allowed)).rows
    if len(survivors) == 0 or k == 0:
        return _empty(len(queries), k, metric)
    sub_offsets, scores = search(base[survivors], queries, k, metric)
    offsets = np.where(sub_offsets >= 0, survivors[np.maximum(sub_offsets, 0)], -1)
    return offsets.astype(np.int64), scores


def exact_search(base: Vectors, queries: Vectors, k: int, metric: str,
                 allowed: Allowed = None) -> tuple[Offsets, Scores]:
    """Brute-force top k over `base` (already prepared for `metric`), optionally restricted.
    A few queries read the allowed rows in place; many gather them once for matrix products."""
    selection = as_selection(allowed)
    if selection is not None:
        if len(queries) < BLAS_QUERIES:
            return exact_rows(base, queries, k, metric, selection.rows)
        return over_survivors(exact_search, base, queries, k, metric, selection)
    if len(base) == 0 or k == 0:
        return _empty(len(queries), k, metric)
    kk = min(k, len(base))
    scores, offsets = faiss.knn(queries, base, kk, metric=faiss_metric(metric))
    if kk < k:
        return _pad(offsets, scores, k, metric)
    return offsets.astype(np.int64), scores.astype(np.float32)


def exact_rows(base: Vectors, queries: Vectors, k: int, metric: str,
               rows: npt.NDArray[np.intp]) -> tuple[Offsets, Scores]:
    """Brute-force top k over the `rows` of `base` (prepared for `metric`), which faiss reads
    where they are: nothing is gathered, and of a memory-mapped base only those rows are read."""
    nq, kk = len(queries), min(k, len(rows))
    if kk == 0:
        return _empty(nq, k, metric)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    b = np.ascontiguousarray(base, dtype=np.float32)
    subset = np.ascontiguousarray(rows, dtype=np.int64)
    scores = np.empty((nq, kk), dtype=np.float32)
    offsets = np.empty((nq, kk), dtype=np.int64)
    knn = _faiss.knn_L2sqr_by_idx if metric == "L2" else _faiss.knn_inner_products_by_idx
    with openmp_threads(nq):  # it splits the queries between threads
        knn(faiss.swig_ptr(q), faiss.swig_ptr(b), faiss.swig_ptr(subset), b.shape[1], nq,
            len(b), len(subset), kk, faiss.swig_ptr(scores), faiss.swig_ptr(offsets), 0)
    return _pad(offsets, scores, k, metric) if kk < k else (offsets, scores)


@contextmanager
def openmp_threads(most: int) -> Iterator[None]:
    """At most `most` OpenMP threads for the faiss calls the calling thread makes inside. A team
    larger than the work has its idle members spin beside it, on cores the segments searched
    in parallel (and, served, the clients) need: a query filtered to 1% of 1M rows searches
    25% faster with one thread than with two. OpenMP keeps this setting per thread."""
    before = _faiss.omp_get_max_threads()
    if most >= before:
        yield
        return
    _faiss.omp_set_num_threads(max(1, most))
    try:
        yield
    finally:
        _faiss.omp_set_num_threads(before)


def _empty(nq: int, k: int, metric: str) -> tuple[Offsets, Scores]:
    fill = -np.inf if larger_is_closer(metric) else np.inf
    return np.full((nq, k), -1, dtype=np.int64), np.full((nq, k), fill, dtype=np.float32)


def _pad(offsets: Any, scores: Any, k: int, metric: str) -> tuple[Offsets, Scores]:
    out_o, out_s = _empty(len(offsets), k, metric)
    out_o[:, : offsets.shape[1]] = offsets
    out_s[:, : scores.shape[1]] = scores
    return out_o, out_s


@dataclass(frozen=True)
class Filtering:
    """How an index serves a filtered search: the rows allowed (None: every row passes), how
    many pass, and whether so few pass that exact search over them is both faster and exact."""

    allowed: Selection | None
    passing: int
    exact: bool


def filtering(allowed: Allowed, n: int, k: int) -> Filtering:
    selection = as_selection(allowed)
    if selection is None or selection.passing == n:
        return Filtering(None, n, False)
    passing = selection.passing
    exact = passing <= max(k, EXACT_BELOW_ROWS) or passing < n * EXACT_BELOW_FRACTION
    return Filtering(selection, passing, exact)


@dataclass(frozen=True)
class IndexSpec:
    """A Milvus index definition on one field, as stored in the catalog."""

    index_name: str
    field_name: str
    index_type: str  # as the user gave it, e.g. "AUTOINDEX", "HNSW"
    metric_type: str  # "" for scalar indexes
    params: dict[str, str]  # every user-given key/value, for describe_index


class VectorIndex(Protocol):
    """Search structure over one sealed segment's vectors (conventions: the module docstring)."""

    metric: str
    kind: str

    @property
    def num_rows(self) -> int: ...

    def serialize(self) -> bytes: ...

    def search(self, queries: Any, k: int, allowed: Allowed = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        """Return (offsets, scores), both shaped (len(queries), k); a missing hit is -1.
        `queries` are in the form of the segment's search base (float32 rows, packed bytes,
        or sparse rows)."""
        ...


FLAT_MARKER = b"elanus-flat-v1"  # a FLAT index stores nothing: it searches the segment itself


def map_dense(path: Path, metric: str, kind: str, base: Vectors) -> VectorIndex:
    """A dense index from the file its serialized form was written to (`load_dense`'s)."""
    if kind == "FLAT":
        return load_dense(path.read_bytes(), metric, kind, base)
    return FaissIndex.map_file(path, metric, kind, base)


def load_dense(data: bytes, metric: str, kind: str, base: Vectors) -> VectorIndex:
    """A dense index from its serialized form over the segment's raw float32 rows `base`."""
    if kind == "FLAT":
        if data != FLAT_MARKER:
            raise ValueError("not a FLAT index file")
        return FlatIndex(prepare(base, metric), metric)
    return FaissIndex.deserialize(data, metric, kind, base)


class FlatIndex:
    """FLAT: exact search over the segment's own (memory-mapped) vectors; nothing to build,
    nothing to store, nothing to load."""

    kind = "FLAT"

    def __init__(self, base: Vectors, metric: str) -> None:
        self._base, self.metric = base, metric

    @property
    def num_rows(self) -> int:
        return len(self._base)

    def serialize(self) -> bytes:
        return FLAT_MARKER

    def search(self, queries: Vectors, k: int, allowed: Allowed = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        return exact_search(self._base, queries, k, self.metric, allowed)


class FaissIndex:
    """A built faiss index over one segment's vectors for one metric.

    Filtered searches that keep few rows are exact over the survivors, read in place. An HNSW
    index reads them from its own flat storage, so the rows are neither copied per search nor
    held twice; other kinds keep the prepared rows for it. Otherwise the index searches with a
    bitmap selector of the survivors, and HNSW widens its beam as the share of passing rows shrinks
    (ef times up to MAX_EF_WIDENING), which keeps recall@10 above 0.95 down to a few percent.
    """

    def __init__(self, index: Any, metric: str, kind: str, base: Vectors) -> None:
        self._index = index
        self.metric = metric
        self.kind = kind  # "HNSW" | "IVF_FLAT"
        self._raw = base  # the segment's rows (prepared lazily, and only without flat storage)
        self._prepared: Vectors | None = None
        # HNSW's flat storage: the prepared rows, searched in place by exact search
        self._stored: Vectors | None = None
        if kind == "HNSW":
            flat = _faiss.downcast_index(index.storage)
            self._stored = _faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(
                flat.ntotal, flat.d)
        self._shared_params: dict[int, Any] = {}  # unfiltered search parameters, by ef / nprobe

    @property
    def num_rows(self) -> int:
        return int(self._index.ntotal)

    def serialize(self) -> bytes:
        return bytes(faiss.serialize_index(self._index).tobytes())

    @classmethod
    def deserialize(cls, data: bytes, metric: str, kind: str, base: Vectors) -> FaissIndex:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        return cls(index, metric, kind, base)

    @classmethod
    def map_file(cls, path: Path, metric: str, kind: str, base: Vectors) -> FaissIndex:
        """The index in a file `serialize` wrote, read in place: faiss memory-maps its vector
        storage (HNSW's flat codes), so loading copies nothing and the operating system pages
        it in."""
        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), metric, kind, base)

    def search(self, queries: Vectors, k: int, allowed: Allowed = None,
               params: dict[str, Any] | None = None) -> tuple[Offsets, Scores]:
        """Top k per query; `queries` are already prepared for the metric."""
        n = self.num_rows
        plan = filtering(allowed, n, k)
        if plan.exact:
            return self._exact(queries, k, plan)
        search_params = self._search_params(k, params or {}, plan, n)
        kk = min(k, n)
        if kk == 0:
            return _empty(len(queries), k, self.metric)
        scores, offsets = self._index.search(queries, kk, params=search_params)
        offsets = offsets.astype(np.int64)
        if plan.allowed is not None and int((offsets[:, :min(kk, plan.passing)] < 0).sum()):
            return self._exact(queries, k, plan)
        if kk < k:
            return _pad(offsets, scores, k, self.metric)
        return offsets, scores.astype(np.float32)

    def _exact(self, queries: Vectors, k: int, plan: Filtering) -> tuple[Offsets, Scores]:
        assert plan.allowed is not None
        if self._stored is None:
            if self._prepared is None:
                self._prepared = prepare(self._raw, self.metric)
            return exact_search(self._prepared, queries, k, self.metric, plan.allowed)
        return exact_search(self._stored, queries, k, self.metric, plan.allowed)

    def _search_params(self, k: int, params: dict[str, Any], plan: Filtering, n: int) -> Any:
        """faiss search parameters; a filtered search's selector reads `plan.allowed`, which
        must outlive the search."""
        knob = 0  # HNSW: ef, IVF_FLAT: nprobe
        if self.kind == "HNSW":
            ef = max(int(params.get("ef", 0) or 0), k, 16)
            share = plan.passing / max(n, 1)
            widen = min(MAX_EF_WIDENING, max(1.0, 0.5 / share))
            knob = int(ef * widen)
        elif self.kind == "IVF_FLAT":
            knob = int(params.get("nprobe", 8) or 8)
        if plan.allowed is None:  # faiss only reads them: one object serves every such search
            shared = self._shared_params.get(knob)
            if shared is None:
                if len(self._shared_params) >= MAX_SHARED_PARAMS:
                    self._shared_params.clear()
                shared = self._shared_params[knob] = self._new_params(knob)
            return shared
        sp = self._new_params(knob)
        sp.sel = plan.allowed.selector  # faiss keeps no Python reference: the caller does
        return sp

    def _new_params(self, knob: int) -> Any:
        if self.kind == "HNSW":
            return _faiss.SearchParametersHNSW(efSearch=knob)
        if self.kind == "IVF_FLAT":
            return _faiss.SearchParametersIVF(nprobe=knob)
        return _faiss.SearchParameters()


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidArgument(f"param '{name}' ({raw}) should be an integer") from None
    if not low <= value <= high:
        raise InvalidArgument(f"param '{name}' ({value}) should be in range [{low}, {high}]")
    return value


class BuildCancelled(Exception):
    """An index build given up because its builder is stopping."""


ADD_BATCH = 4096  # rows added to a faiss index between checks for cancellation


def add_in_batches(index: Any, rows: Any, cancelled: Callable[[], bool] | None) -> None:
    """index.add(rows) in batches, raising BuildCancelled between them once `cancelled()`."""
    for start in range(0, len(rows), ADD_BATCH):
        if cancelled is not None and cancelled():
            raise BuildCancelled()
        index.add(rows[start: start + ADD_BATCH])


def add_to_graph(index: Any, rows: Any, cancelled: Callable[[], bool] | None) -> None:
    """index.add(rows) in one call, for HNSW graphs: faiss inserts a call's rows level by level,
    top levels first, and splitting the rows into batches makes a worse graph (recall@10 0.920
    against 0.932 at ef=16 on 20,000 x 384). So a stop waits for the graph under way."""
    if cancelled is not None and cancelled():
        raise BuildCancelled()
    index.add(rows)


def build_dense(kind: str, vectors: Vectors, metric: str, params: dict[str, str],
                cancelled: Callable[[], bool] | None = None) -> VectorIndex:
    """Build an index of `kind` ("FLAT", "HNSW", "IVF_FLAT") over raw float32 rows."""
    base = prepare(vectors, metric)
    if kind == "FLAT":
        return FlatIndex(base, metric)
    n, dim = base.shape
    fm = faiss_metric(metric)
    index: Any
    if kind == "HNSW":
        m = _int_param(params, "M", 16, 2, 2048)
        efc = _int_param(params, "efConstruction", 200, 1, 2**31 - 1)
        index = faiss.IndexHNSWFlat(dim, m, fm)
        index.hnsw.efConstruction = efc
    elif kind == "IVF_FLAT":
        nlist = _int_param(params, "nlist", 128, 1, 65536)
        nlist = max(1, min(nlist, n))
        index = faiss.index_factory(dim, f"IVF{nlist},Flat", fm)
        index.cp.min_points_per_centroid = 1
        index.train(base)
    else:
        raise ValueError(f"unknown index kind {kind}")
    (add_to_graph if kind == "HNSW" else add_in_batches)(index, base, cancelled)
    return FaissIndex(index, metric, kind, base)
