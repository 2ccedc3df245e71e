"""Values crossing into and out of the engine: requests and results, frozen dataclasses.

The protocol edges build requests from the wire and encode results back; the engine makes every
decision in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

if TYPE_CHECKING:
    from elanus.engine.hybrid import Ranker


@dataclass(frozen=True)
class MutationResult:
    ids: pa.Array  # primary keys of the inserted or upserted rows (empty for deletes)
    insert_count: int = 0
    delete_count: int = 0
    upsert_count: int = 0
    timestamp: int = 0


@dataclass(frozen=True)
class SearchRequest:
    db: str
    collection: str
    anns_field: str  # "" means the collection's only vector field
    # float32 (nq, dim) for dense fields, uint8 (nq, dim/8) for binary ones, SparseRows; or
    # None when `query_keys` names the rows whose vectors are the queries
    queries: Any
    limit: int
    metric_type: str = ""  # "" means the index's metric
    filter: str = ""
    filter_params: dict[str, Any] = field(default_factory=dict)
    output_fields: tuple[str, ...] = ()
    offset: int = 0
    params: dict[str, Any] = field(default_factory=dict)  # ef, nprobe, radius ...
    partition_names: tuple[str, ...] = ()
    round_decimal: int = -1
    query_keys: Any = None  # pa.Array of primary keys: search by the vectors of these rows
    read_ts: int = 0  # 0: read at the newest timestamp (iterators pin their first one)
    radius: float | None = None  # range search: hits strictly closer than this ...
    range_filter: float | None = None  # ... and no closer than this
    group_by_field: str = ""  # grouping search: at most `group_size` hits per value
    group_size: int = 1
    strict_group_size: bool = False
    iterator: IteratorPage | None = None  # a page of a search iterator (pymilvus's v2)


@dataclass(frozen=True)
class IteratorPage:
    """Where a search iterator stands: the hits after `last_bound` (a score), less the rows
    `seen` (primary keys) at that bound; `depth` is how many ranked rows the last page read."""

    token: str = ""  # "" on the first page: the engine names the iterator
    last_bound: float | None = None
    seen: Any = None  # pa.Array of primary keys, or None
    depth: int = 0


@dataclass(frozen=True)
class SearchResult:
    """Hits of every query, flattened in query order: query i owns `topks[i]` hits."""

    pks: pa.Array
    scores: npt.NDArray[np.float32]
    topks: list[int]
    fields: pa.Table  # output columns, one row per hit
    output_fields: tuple[str, ...]  # names as the reply should list them
    primary_field: str
    metric_type: str
    dynamic_keys: tuple[str, ...] | None = None  # dynamic keys asked for by name; None = all
    read_ts: int = 0  # the timestamp the search read at
    group_values: pa.Array | None = None  # grouping search: each hit's group-by value
    iterator: IteratorPage | None = None  # a search iterator's position after this page


@dataclass(frozen=True)
class HybridSearchRequest:
    """Several searches of one collection fused by a ranker (MilvusClient.hybrid_search).

    Each sub-search keeps its own field, queries, metric, params, filter and limit; the
    hybrid request's partitions and output fields apply to all of them, and its limit and
    offset page the fused ranking.
    """

    db: str
    collection: str
    searches: tuple[SearchRequest, ...]
    ranker: Ranker
    limit: int
    offset: int = 0
    output_fields: tuple[str, ...] = ()
    partition_names: tuple[str, ...] = ()
    round_decimal: int = -1


@dataclass(frozen=True)
class QueryRequest:
    db: str
    collection: str
    filter: str
    output_fields: tuple[str, ...] = ()
    limit: int = -1  # -1: no limit
    offset: int = 0
    filter_params: dict[str, Any] = field(default_factory=dict)
    partition_names: tuple[str, ...] = ()
    read_ts: int = 0  # 0: read at the newest timestamp


@dataclass(frozen=True)
class QueryResult:
    fields: pa.Table  # one row per result row, output columns only
    output_fields: tuple[str, ...]
    dynamic_keys: tuple[str, ...] | None = None
    count: int | None = None  # set for count(*) queries
    read_ts: int = 0  # the timestamp the query read at


@dataclass(frozen=True)
class CollectionStats:
    row_count: int


@dataclass(frozen=True)
class IndexInfo:
    index_name: str
    field_name: str
    index_type: str
    metric_type: str
    params: dict[str, str]
    total_rows: int
    indexed_rows: int
    pending_index_rows: int
    state: str  # "Finished" | "InProgress" | "Failed"
    fail_reason: str = ""


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    db: str
    name: str
    schema: Any  # elanus.schema.CollectionSchema
    created_ts: int
    consistency_level: int
    num_shards: int
    properties: dict[str, str]
    partitions: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    schema_ts: int = 0  # the timestamp of the schema's last change


@dataclass(frozen=True)
class SegmentInfo:
    segment_id: int
    num_rows: int
    state: str  # "Growing" | "Sealed" (sealing) | "Flushed"
    loaded: bool
    index_name: str = ""
    partition_id: int = 0


@dataclass(frozen=True)
class PartitionInfo:
    name: str
    id: int
    created_ts: int
    loaded: bool
