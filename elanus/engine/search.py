"""Search execution: top k, range search, grouping search and search iterator pages.

Every mode is one plan. Per segment, in parallel threads (faiss releases the GIL), the allowed
rows (visible AND filter AND vector present) go to the segment's index, or to exact search when
it has none. The per-segment lists are merged by score in one sort over every query. One
selection then keeps, per query and in rank order: the best hit of each primary key, the hits
inside the score window (range search's radius and range_filter, an iterator's last bound), at
most `group_size` hits per group-by value, and the page `offset .. offset + limit`. When a
query's page is not full and some segment may hold more rows for it (its list came back full
and not yet past the window), every segment is searched again four times deeper, up to all its
passing rows. Output columns of the chosen rows are gathered with one Arrow `take` per segment.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine.bm25 import postings, text_of, weighed_queries
from elanus.engine.collection import Collection
from elanus.engine.partitioning import read_snapshot
from elanus.engine.read import (
    empty_table,
    filter_of,
    filter_selections,
    gather,
    newest_rows,
    plan_output,
    selected_rows,
)
from elanus.engine.requests import IteratorPage, SearchRequest, SearchResult
from elanus.engine.segment import SegmentView, search_base
from elanus.errors import InvalidArgument, MetricTypeMismatch
from elanus.expr.columns import validity
from elanus.index.factory import exact, prepare_queries
from elanus.index.registry import check_search, default_metric
from elanus.index.selection import Selection, narrowed
from elanus.index.sparse import BM25
from elanus.index.vector import larger_is_closer
from elanus.schema import CollectionSchema, DataType, FieldSchema
from elanus.schema.types import single_array
from elanus.schema.vectors import SparseRows

MAX_TOPK = 16384
MAX_GROUP_SIZE = 1024
GROWTH = 4  # how much deeper each further round searches
GROUP_TYPES = frozenset({DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32,
                         DataType.INT64, DataType.VARCHAR, DataType.TIMESTAMPTZ})
# Two scores this close (relative) may be one distance computed twice in different ways.
BOUND_TOLERANCE = 1e-5

_pool: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                                   thread_name_prefix="elanus-search")
    return _pool


@dataclass(frozen=True)
class Window:
    """The scores a hit may have, as goodness g (the score of a similarity, minus the score of
    a distance, so larger is always closer): lo < g, and g <= hi (g < hi when `hi_open`)."""

    lo: float = -math.inf
    hi: float = math.inf
    hi_open: bool = False

    @property
    def bounded(self) -> bool:
        return self.lo > -math.inf or self.hi < math.inf

    def holds(self, g: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        inside: npt.NDArray[np.bool_] = g > self.lo
        inside &= (g < self.hi) if self.hi_open else (g <= self.hi)
        return inside


def goodness(scores: npt.NDArray[np.float32], metric: str) -> npt.NDArray[np.float32]:
    return scores if larger_is_closer(metric) else -scores


def _window(metric: str, req: SearchRequest) -> Window:
    """The score window of a range search and of an iterator page, as goodness."""
    sign = 1.0 if larger_is_closer(metric) else -1.0
    lo, hi, hi_open = -math.inf, math.inf, False
    if req.radius is not None:
        lo = sign * req.radius
        if req.range_filter is not None:
            if larger_is_closer(metric) and not req.range_filter > req.radius:
                raise InvalidArgument(f"range_filter({req.range_filter:g}) must be greater than "
                                      f"radius({req.radius:g}) for IP/COSINE")
            if not larger_is_closer(metric) and not req.range_filter < req.radius:
                raise InvalidArgument(f"range_filter({req.range_filter:g}) must be less than "
                                      f"radius({req.radius:g}) for L2/HAMMING/JACCARD")
            hi = sign * req.range_filter
    page = req.iterator
    if page is not None and page.last_bound is not None:
        bound = sign * page.last_bound
        if page.seen is None:
            hi, hi_open = min(hi, bound), bound <= hi or hi_open
        else:  # rows at the bound not yet returned come next; `seen` ones are dropped
            hi = min(hi, bound + BOUND_TOLERANCE * max(1.0, abs(bound)))
    return Window(lo, hi, hi_open)


def _group_field(schema: CollectionSchema, req: SearchRequest) -> FieldSchema | None:
    if not req.group_by_field:
        return None
    f = schema.field(req.group_by_field)
    if f is None:
        raise InvalidArgument(f"groupBy field({req.group_by_field}) not found in schema")
    if f.dtype not in GROUP_TYPES:
        raise InvalidArgument(f"unsupported data type {f.dtype.milvus_name} for group by "
                              f"operator, field {f.name}")
    if not 1 <= req.group_size <= MAX_GROUP_SIZE:
        raise InvalidArgument(f"input group size:{req.group_size} is invalid, it should be in "
                              f"range [1, {MAX_GROUP_SIZE}]")
    return f


def _anns_field(schema: CollectionSchema, name: str) -> FieldSchema:
    vectors = schema.vector_fields
    if not name:
        if len(vectors) != 1:
            raise InvalidArgument("multiple anns_fields exist, please specify a anns_field in "
                                  "search_params")
        return vectors[0]
    f = schema.field(name)
    if f is None:
        raise InvalidArgument(f"failed to create query plan: failed to get field schema by "
                              f"name: fieldName({name}) not found")
    if not f.dtype.is_vector:
        raise InvalidArgument(f"field {name} is not a vector field")
    return f


def _check_queries(field: FieldSchema, queries: Any) -> Any:
    """Query vectors in the form the field is searched in, or the error Milvus gives."""
    if isinstance(queries, list):
        raise InvalidArgument(f"text search data can only search a BM25 function output "
                              f"field; field {field.name} is not one")
    if field.dtype == DataType.SPARSE_FLOAT_VECTOR:
        if not isinstance(queries, SparseRows):
            raise InvalidArgument(f"the search data of sparse vector field {field.name} must be "
                                  "sparse vectors")
        return queries
    if isinstance(queries, SparseRows):
        raise InvalidArgument(f"sparse search data cannot search {field.dtype.milvus_name} field "
                              f"{field.name}")
    binary = field.dtype == DataType.BINARY_VECTOR
    if binary != (queries.dtype == np.uint8):
        raise InvalidArgument(f"the search data type does not match the type "
                              f"{field.dtype.milvus_name} of field {field.name}")
    width = field.dim // 8 if binary else field.dim
    if queries.ndim != 2 or queries.shape[1] != width:
        got = (queries.shape[1] * (8 if binary else 1)) if queries.ndim == 2 else 0
        raise InvalidArgument(f"the dim ({got}) of search data is not equal to the dim "
                              f"({field.dim}) of field {field.name}")
    return np.ascontiguousarray(queries)


def _vectors_of(collection: Collection, field: FieldSchema, keys: pa.Array) -> Any:
    """The `field` vectors of the rows with these primary keys, in their order: the queries
    of a search by primary keys."""
    pk = collection.schema.primary
    if len(keys) == 0:
        raise InvalidArgument("search by primary keys needs at least one primary key")
    try:
        keys = keys.cast(pk.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidArgument(f"the primary keys of the search do not match the type "
                              f"{pk.dtype.milvus_name} of field {pk.name}") from None
    stored = newest_rows(collection, keys)
    where = pc.index_in(keys, value_set=stored.column(pk.name))
    vectors = stored.column(field.name).take(where)
    missing = pc.or_(where.is_null(), vectors.is_null()).to_numpy(zero_copy_only=False)
    if missing.any():
        absent = keys.filter(pa.array(missing)).to_pylist()
        raise InvalidArgument(f"primary keys {absent} of the search are not in the collection, "
                              f"or have no value in field {field.name}")
    return search_base(vectors, field)


@dataclass
class _Target:
    """One segment's part of a search: its rows, the rows allowed, how many pass."""

    seg: int
    view: SegmentView
    allowed: Selection | None
    passing: int


def run(collection: Collection, req: SearchRequest) -> SearchResult:
    schema = collection.schema
    field = _anns_field(schema, req.anns_field)
    spec = collection.index_on(field.name)
    fn = schema.function_of(field.name)
    unindexed = BM25 if fn is not None else default_metric(field.dtype)
    metric = spec.metric_type if spec else (req.metric_type or unindexed).upper()
    if fn is not None and (req.metric_type or BM25).upper() != BM25:
        raise InvalidArgument("must use BM25 metric type when searching against BM25 Function "
                              "output field")
    if req.metric_type and req.metric_type.upper() != metric:
        raise MetricTypeMismatch(metric, req.metric_type.upper())
    if not 1 <= req.limit <= MAX_TOPK:
        raise InvalidArgument(f"topk [{req.limit}] is invalid, it should be in range "
                              f"[1, {MAX_TOPK}], but got {req.limit}")
    if req.offset < 0 or req.offset + req.limit > MAX_TOPK:
        raise InvalidArgument(f"offset+limit should be in range [1, {MAX_TOPK}], but got "
                              f"{req.offset + req.limit}")
    window = _window(metric, req)
    group = _group_field(schema, req)
    if spec is not None and req.radius is None and req.iterator is None and group is None:
        check_search(spec, field.dtype, req.params, req.offset + req.limit)
    if fn is not None and req.query_keys is not None:
        raise InvalidArgument(f"search by primary keys is not supported on BM25 function "
                              f"output field {field.name}")
    queries = (text_of(req.queries, field) if fn is not None
               else _check_queries(field, req.queries if req.query_keys is None
                                   else _vectors_of(collection, field, req.query_keys)))
    out = plan_output(schema, req.output_fields, with_pk=False)
    flt = filter_of(req.filter, schema, req.filter_params)
    snap = read_snapshot(collection, "search", flt, req.partition_names, req.read_ts)
    selections = filter_selections(collection, snap, flt)
    if field.nullable:  # rows without a vector are never hits
        selections = [narrowed(s, validity(v.table.column(field.name))) if v.num_rows else s
                      for v, s in zip(snap.views, selections)]
    if req.iterator is not None and req.iterator.seen is not None:
        selections = [narrowed(s, ~pc.is_in(v.pks, value_set=req.iterator.seen).to_numpy(
                          zero_copy_only=False)) if v.num_rows else s
                      for v, s in zip(snap.views, selections)]
    passing = [selected_rows(v, s) for v, s in zip(snap.views, selections)]
    targets = [_Target(i, v, None if p == v.num_rows else s, p)
               for i, (v, s, p) in enumerate(zip(snap.views, selections, passing)) if p]
    nq = len(queries)
    pk_name = schema.primary.name
    if not targets:
        return SearchResult(pa.array([], type=schema.primary.arrow_type), np.empty(0, np.float32),
                            [0] * nq, empty_table(schema, out.columns), out.names, pk_name, metric,
                            out.dynamic_keys, snap.ts,
                            group_values=_no_values(group),
                            iterator=_next_page(req, metric, np.empty(0, np.float32),
                                                pa.array([], type=schema.primary.arrow_type), 0))
    params = req.params
    exact_params = {**(spec.params if spec else {}), **req.params}
    if fn is not None:  # the text's term weights and the corpus's mean length, at this ts
        queries, params = weighed_queries(collection, schema, fn, field, queries, snap.ts,
                                          exact_params)
        exact_params = params
    prepared = prepare_queries(queries, metric)
    need = req.offset + req.limit
    depth = need * (req.group_size if group is not None else 1)
    if window.hi < math.inf:
        depth *= 2
    if req.iterator is not None:
        depth = max(depth, req.iterator.depth)
    deepest = max(t.passing for t in targets)
    depth = min(depth, deepest)
    while True:
        ranked = _ranked(targets, field, metric, prepared, depth, params, window,
                         exact_params)
        chosen = _choose(ranked, snap.views, pk_name, group, req, window, metric)
        if depth >= deepest or not (chosen.short & ~ranked.exhausted).any():
            break
        depth = min(depth * GROWTH, deepest)
    off, seg, score, owner = chosen.off, chosen.seg, chosen.score, chosen.owner
    topks = np.bincount(owner, minlength=nq).tolist()
    if req.round_decimal >= 0:
        score = np.round(score, req.round_decimal)
    rows = (gather(snap.views, seg, off, out.columns) if out.columns
            else pa.table([pa.nulls(len(off))], names=["_"]).select([]))
    return SearchResult(chosen.pks, score.astype(np.float32), topks, rows, out.names, pk_name,
                        metric, out.dynamic_keys, snap.ts, group_values=chosen.groups,
                        iterator=_next_page(req, metric, chosen.score, chosen.pks, depth))


def _no_values(group: FieldSchema | None) -> pa.Array | None:
    return pa.array([], type=group.arrow_type) if group is not None else None


@dataclass
class _Ranking:
    """Every query's hits over all segments, best first: (nq, width) arrays, offset -1 where
    there is no hit; `exhausted[q]`: no segment holds more rows for query q."""

    off: npt.NDArray[np.int64]
    score: npt.NDArray[np.float32]
    seg: npt.NDArray[np.int32]
    exhausted: npt.NDArray[np.bool_]
    # Per query, the score (as goodness) past which some segment holds rows not yet read:
    # hits worse than it may rank behind rows no list has yet. None for one segment: its list
    # is its exact best `width` rows, so nothing unread can outrank a hit in it.
    horizon: npt.NDArray[np.float32] | None
    sources: tuple[int, ...]  # the segments searched (`seg` values)
    repeats: bool  # two hits may have one primary key (several segments, or a key stored twice)


def _ranked(targets: list[_Target], field: FieldSchema, metric: str, queries: Any, depth: int,
            params: dict[str, Any], window: Window, exact_params: dict[str, Any]) -> _Ranking:
    """Every segment's top `depth` for every query, merged. Segments with an index search it
    with the search's `params`; the others are searched exactly (`exact_params`: the index's
    build params under the search's, for what exact search needs of them)."""
    cosine = metric == "COSINE"

    def one(t: _Target) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        k = min(depth, t.passing)
        index = t.view.index(field.name)
        if index is not None:
            return index.search(queries, k, t.allowed, params)
        if field.dtype == DataType.SPARSE_FLOAT_VECTOR:
            return postings(t.view, field, metric).search(queries, k, t.allowed, exact_params)
        return exact(t.view.vectors(field.name, cosine), queries, k, metric, t.allowed,
                     exact_params)

    # The calling thread searches the first segment while pool threads search the others
    # (faiss releases the GIL); a single segment never leaves the calling thread.
    rest = [_threads().submit(one, t) for t in targets[1:]]
    lists = [one(targets[0])] + [f.result() for f in rest]
    nq = len(queries)
    exhausted = np.ones(nq, dtype=bool)
    horizon = np.full(nq, -np.inf, dtype=np.float32) if len(targets) > 1 else None
    for t, (off, score) in zip(targets, lists):
        if not off.shape[1] or off.shape[1] >= t.passing:
            continue  # every passing row of the segment is in its list
        more = off[:, -1] >= 0  # a full list: the segment may hold more rows
        worst = goodness(score[:, -1], metric)
        if window.lo > -math.inf:  # the list went past the radius already
            more &= worst > window.lo
        exhausted &= ~more
        if horizon is not None:
            horizon = np.where(more, np.maximum(horizon, worst), horizon)
    offs = [o for o, _ in lists]
    scores = [s for _, s in lists]
    segs = [np.full(o.shape, t.seg, dtype=np.int32) for t, o in zip(targets, offs)]
    off, score, seg = _merge(offs, scores, segs, metric)
    repeats = len(targets) > 1 or not targets[0].view.distinct_keys
    return _Ranking(off, score, seg, exhausted, horizon, tuple(t.seg for t in targets), repeats)


def _merge(offs: list[npt.NDArray[np.int64]], scores: list[npt.NDArray[np.float32]],
           segs: list[npt.NDArray[np.int32]], metric: str,
           ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int32]]:
    """Every query's per-segment lists merged into one ranking, best first (-1: no hit)."""
    if len(offs) == 1:  # one segment's list is already ranked
        return offs[0], scores[0], segs[0]
    off: npt.NDArray[np.int64] = np.concatenate(offs, axis=1)
    score: npt.NDArray[np.float32] = np.concatenate(scores, axis=1)
    seg: npt.NDArray[np.int32] = np.concatenate(segs, axis=1)
    order_key = np.where(off < 0, np.inf, -goodness(score, metric))
    order = np.argsort(order_key, axis=1, kind="stable")
    return (np.take_along_axis(off, order, axis=1), np.take_along_axis(score, order, axis=1),
            np.take_along_axis(seg, order, axis=1))


@dataclass
class _Chosen:
    """The hits a search returns, flattened in reply order, and which queries came up short."""

    off: npt.NDArray[np.int64]
    seg: npt.NDArray[np.int32]
    score: npt.NDArray[np.float32]
    owner: npt.NDArray[np.int64]
    short: npt.NDArray[np.bool_]
    pks: pa.Array  # the primary key of each hit
    groups: pa.Array | None  # grouping search: the group-by value of each hit


Cells = tuple[npt.NDArray[np.intp], ...]  # (query, rank) cells of a ranking, as np.nonzero gives


def _choose(ranked: _Ranking, views: list[SegmentView], pk_name: str,
            group: FieldSchema | None, req: SearchRequest, window: Window,
            metric: str) -> _Chosen:
    """Per query, in rank order: the best hit of each primary key inside the window, then the
    page (or, grouping, the groups) `offset .. offset + limit`. Works on the (nq, width)
    ranking itself: a hit's rank among its query's kept hits is a running count along its row."""
    keep = ranked.off >= 0
    if ranked.horizon is not None or window.bounded:
        g = goodness(ranked.score, metric)
        if ranked.horizon is not None:
            keep &= g >= ranked.horizon[:, None]
        if window.bounded:
            keep &= window.holds(g)
    keys = _HitKeys.of(ranked, views, keep, pk_name)
    if ranked.repeats:  # a key inserted twice: each query keeps its best hit of the key
        keep &= ~_repeated(keys.codes, keep)
    if group is not None:
        kept = np.nonzero(keep)
        groups = single_array(gather(views, ranked.seg[kept], ranked.off[kept],
                                     (group.name,)).column(group.name))
        return _choose_groups(ranked.off[kept], ranked.seg[kept], ranked.score[kept], kept[0],
                              keys.at(kept), groups, len(keep), req)
    need = req.offset + req.limit
    rank = np.cumsum(keep, axis=1)  # 1 for a query's best kept hit, 2 for the next, ...
    page = keep & (rank <= need)
    if req.offset:
        page &= rank > req.offset
    cells = np.nonzero(page)
    return _Chosen(ranked.off[cells], ranked.seg[cells], ranked.score[cells], cells[0],
                   rank[:, -1] < need, keys.at(cells), None)


@dataclass
class _HitKeys:
    """The primary keys of a ranking's hits. `codes` (nq, width): an integer per hit, equal
    exactly where the keys are (any value where there is no hit). Integer keys are their own
    codes; VARCHAR keys are `text`, the keys of the hits in row order, coded by `_codes`, and
    `place` gives each hit's position in `text`."""

    codes: npt.NDArray[np.int64]
    text: pa.Array | None = None
    place: npt.NDArray[np.int64] | None = None

    @classmethod
    def of(cls, ranked: _Ranking, views: list[SegmentView], hit: npt.NDArray[np.bool_],
           pk_name: str) -> _HitKeys:
        if views[0].keys is None:
            cells = np.nonzero(hit)
            text = single_array(gather(views, ranked.seg[cells], ranked.off[cells],
                                       (pk_name,)).column(pk_name))
            codes = np.zeros(hit.shape, dtype=np.int64)
            codes[cells] = _codes(text)
            place = np.zeros(hit.shape, dtype=np.int64)
            place[cells] = np.arange(len(text))
            return cls(codes, text, place)
        if len(ranked.sources) == 1:  # offsets of -1 (no hit) read some key: never used
            return cls(np.asarray(views[ranked.sources[0]].keys)[ranked.off])
        codes = np.zeros(hit.shape, dtype=np.int64)
        for s in ranked.sources:
            cells = np.nonzero(hit & (ranked.seg == s))
            codes[cells] = np.asarray(views[s].keys)[ranked.off[cells]]
        return cls(codes)

    def at(self, cells: Cells) -> pa.Array:
        """The primary keys of the hits in these cells, in their order."""
        if self.text is None:
            return pa.array(self.codes[cells])
        assert self.place is not None
        return self.text.take(pa.array(self.place[cells]))


def _repeated(codes: npt.NDArray[np.int64], hit: npt.NDArray[np.bool_]
              ) -> npt.NDArray[np.bool_]:
    """The hits (cells of `hit`) whose query ranks a hit of the same key before them."""
    nq, width = hit.shape
    flat = np.flatnonzero(hit)  # row by row, best first within a row
    owner, key = flat // width, codes.ravel()[flat]
    order = np.lexsort((key, owner))  # stable: a key's best ranked hit comes first
    o, k = owner[order], key[order]
    again = (o[1:] == o[:-1]) & (k[1:] == k[:-1])
    out = np.zeros(nq * width, dtype=bool)
    out[flat[order[1:][again]]] = True
    return out.reshape(nq, width)


def _choose_groups(off: npt.NDArray[np.int64], seg: npt.NDArray[np.int32],
                   score: npt.NDArray[np.float32], owner: npt.NDArray[np.int64],
                   pks: pa.Array, values: pa.Array, nq: int, req: SearchRequest) -> _Chosen:
    """Grouping search: the groups ranked offset .. offset+limit by their best hit, each with
    its best `group_size` hits, group after group, given the kept hits' primary keys and
    group-by values."""
    codes = _codes(values)
    n = len(owner)
    # Rank of each hit within its (query, group), and of each group within its query, both
    # in hit order (hits are ranked best first within each query).
    pair = owner * (int(codes.max()) + 2 if n else 1) + codes
    order = np.lexsort((np.arange(n), pair))
    sorted_pair = pair[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_pair[1:] != sorted_pair[:-1]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    within = np.empty(n, dtype=np.int64)
    within[order] = np.arange(n) - run_start
    first = within == 0
    firsts_before = np.concatenate([[0], np.cumsum(np.bincount(owner, weights=first,
                                                               minlength=nq))[:-1]])
    rank_if_first = np.cumsum(first) - 1 - firsts_before[owner].astype(np.int64)
    first_of = np.empty(n, dtype=np.int64)
    first_of[order] = order[run_start]
    group_rank = rank_if_first[first_of]
    need = req.offset + req.limit
    member = (within < req.group_size) & (group_rank < need)
    select = member & (group_rank >= req.offset)
    groups = np.bincount(owner, weights=first, minlength=nq)
    short = groups < need
    if req.strict_group_size:  # every chosen group full, or the search goes deeper
        counts = np.bincount(owner[member] * need + group_rank[member],
                             minlength=nq * need).reshape(nq, need)
        exists = np.arange(need)[None, :] < groups[:, None]
        short |= ((counts < req.group_size) & exists).any(axis=1)
    idx = np.flatnonzero(select)
    idx = idx[np.lexsort((within[idx], group_rank[idx], owner[idx]))]
    taken = pa.array(idx)
    return _Chosen(off[idx], seg[idx], score[idx], owner[idx], short, pks.take(taken),
                   values.take(taken))


def _codes(values: pa.Array) -> npt.NDArray[np.int64]:
    """An integer per value, equal exactly where the values are (null is a value of its
    own): group-by values, VARCHAR primary keys."""
    encoded = pc.dictionary_encode(values, null_encoding="encode").indices
    codes: npt.NDArray[np.int64] = encoded.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes


def _next_page(req: SearchRequest, metric: str, scores: npt.NDArray[np.float32],
               pks: pa.Array, depth: int) -> IteratorPage | None:
    """A search iterator's position after this page: the last hit's score is the next bound,
    and the rows at that bound already returned are left out of the next page."""
    page = req.iterator
    if page is None:
        return None
    if len(scores) == 0:
        return IteratorPage(page.token, page.last_bound, page.seen, depth)
    bound = float(scores[-1])
    g = goodness(scores, metric)
    g_bound = float(g[-1])
    near = np.abs(g - g_bound) <= BOUND_TOLERANCE * max(1.0, abs(g_bound))
    seen = pks.filter(pa.array(near))
    if page.last_bound is not None and page.seen is not None and \
            abs(page.last_bound - bound) <= BOUND_TOLERANCE * max(1.0, abs(bound)):
        seen = pa.concat_arrays([page.seen.cast(seen.type), seen])
    return IteratorPage(page.token, bound, seen, depth)
