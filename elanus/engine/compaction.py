"""Compaction: merge small sealed segments and drop deleted and expired rows, off the request path.

A plan is a group of sealed segments rewritten as one new segment. Executing it:
  1. take a timestamp T; read the sources (the loaded segments, or their files with every
     tombstone applied) and keep the rows visible at T (not deleted, not expired by the TTL);
  2. write the kept rows, with their original insert timestamps, as a new segment file;
  3. under the collection's write lock, one catalog commit adds the new segment and removes the
     sources, their index files, and delta files no remaining segment can need; tombstones that
     reached the sources after T are carried to the new segment in memory (they are in the WAL
     or a later delta file too, so a restart re-applies them);
  4. delete the replaced files; the index builder indexes the new segment.
A crash before step 3 leaves an unreferenced file (collected at the next open); after it, the
catalog names only the new segment. Reads never wait: they keep the segments they started with.

A delta file can only hold tombstones for segments sealed no later than itself (ids increase),
so once every segment older than a delta file is compacted away, the delta file is dropped.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine.segment import NEVER, SealedSegment, passing_rows, spelled_out
from elanus.storage.catalog import Commit, FileRecord
from elanus.storage.segment_file import write_segment

if TYPE_CHECKING:
    from elanus.engine.collection import Collection

log = logging.getLogger(__name__)

SMALL_SHARE = 0.5  # a segment under this share of the seal size is small
DELETED_SHARE = 0.2  # a segment with this share of rows deleted or expired is rewritten
# Small segments merge by size tiers (a tier spans a factor of TIER_FACTOR in row count), once
# a tier holds MIN_MERGE of them: a row is rewritten about once per tier it climbs, not once per
# flush.
TIER_BASE = 1
TIER_FACTOR = 4
MIN_MERGE = 4


@dataclass
class Plan:
    plan_id: int
    sources: list[int]
    targets: list[int] = field(default_factory=list)  # the new segments' ids, once written
    state: str = "Executing"  # "Executing" | "Completed" | "Failed"
    failure: str = ""


@dataclass
class Job:
    job_id: int
    collection_id: int
    plans: list[Plan] = field(default_factory=list)
    state: str = "Executing"


def _dropped_share(seg: SealedSegment, ts: int, expire_before: int) -> float:
    if seg.num_rows == 0:
        return 1.0
    kept = passing_rows(seg.snapshot().visible(ts, expire_before), seg.num_rows)
    return 1.0 - float(kept) / float(seg.num_rows)


def _tier(rows: int) -> int:
    return int(math.log(rows / TIER_BASE, TIER_FACTOR)) if rows > TIER_BASE else 0


def _pack(ids: list[int], rows: dict[int, int], limit: int) -> list[list[int]]:
    """Consecutive runs of `ids` holding at most `limit` rows each."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for sid in ids:
        n = rows[sid]
        if current and total + n > limit:
            groups.append(current)
            current, total = [], 0
        current.append(sid)
        total += n
    if current:
        groups.append(current)
    return groups


def plan_groups(collection: Collection, files: dict[int, FileRecord],
                segments: dict[int, SealedSegment], ts: int, major: bool) -> list[list[int]]:
    """Groups of segment ids worth rewriting together (each group up to the seal size).

    Major (manual) compaction packs every segment; automatic compaction merges small segments
    tier by tier (by the row counts the catalog keeps), and rewrites alone any segment with
    many deleted or expired rows (among `segments`, those read with their tombstones).
    """
    limit = collection.engine.seal_rows
    rows = {sid: f.num_rows for sid, f in files.items()}
    expire = collection.expire_before(ts)
    dirty = {sid for sid, s in segments.items()
             if _dropped_share(s, ts, expire) >= (1e-12 if major else DELETED_SHARE)}
    by_partition: dict[int, list[int]] = {}
    for sid in sorted(files):  # segments merge only within their partition
        by_partition.setdefault(files[sid].partition_id, []).append(sid)
    groups: list[list[int]] = []
    for ids in by_partition.values():
        if major:
            groups += _pack(ids, rows, limit)
            continue
        tiers: dict[int, list[int]] = {}
        for sid in ids:
            if rows[sid] < limit * SMALL_SHARE:
                tiers.setdefault(_tier(rows[sid]), []).append(sid)
        groups += [g for tier in tiers.values() if len(tier) >= MIN_MERGE
                   for g in _pack(tier, rows, limit)]
    grouped = {sid for g in groups for sid in g}
    groups = [g for g in groups if len(g) > 1 or g[0] in dirty]
    groups += [[sid] for sid in sorted(dirty - grouped)]
    return groups


def _droppable(collection: Collection, files: dict[int, FileRecord]) -> list[int]:
    """Segments that may hold rows to drop: with a TTL or deletes not yet flushed, any; else
    those a delete file can hit (sealed before it, or compacted from tombstones older than
    its newest). Caller holds the collection's lock."""
    if collection.ttl_seconds or any(g.deletes.pks for g in (*collection.sealing,
                                                             collection.growing)):
        return list(files)
    deltas = [f for f in collection.files if f.kind == "delta"]
    return [sid for sid, f in files.items() if any(_can_hit(d, f) for d in deltas)]


def _read_sources(collection: Collection, groups: list[list[int]],
                  segments: dict[int, SealedSegment]) -> list[list[int]]:
    """Read the segments of `groups` not read yet (the loaded one where a load came meanwhile);
    returns the groups whose segments all still exist (a drop may have removed some)."""
    with collection.lock:
        files = {f.segment_id: f for f in collection.files if f.kind == "segment"}
        groups = [g for g in groups if all(sid in files for sid in g)]
        wanted = [sid for g in groups for sid in g if sid not in segments]
        segments.update({sid: collection.sealed[sid] for sid in wanted
                         if sid in collection.sealed})
        missing = [files[sid] for sid in wanted if sid not in segments]
        if missing:
            segments.update(collection.open_sealed(missing))
    return groups


def compact(collection: Collection, job: Job | None = None, major: bool = False,
            clustering: bool = False) -> Job | None:
    """Plan and execute compaction for `collection`; returns the job (None: nothing to do).
    Clustering compaction rewrites each partition's segments sorted by the clustering key.

    Segments not loaded are read only when they may hold rows to drop or are rewritten: a
    collection ingesting unloaded is not re-read at every seal."""
    engine = collection.engine
    with collection.compaction_lock:
        with collection.lock:
            files = {f.segment_id: f for f in collection.files if f.kind == "segment"}
            segments = {sid: collection.sealed[sid] for sid in files if sid in collection.sealed}
            check = list(files) if major or clustering else _droppable(collection, files)
            missing = [files[sid] for sid in check if sid not in segments]
            if missing:
                segments.update(collection.open_sealed(missing))
            ts = engine.tso.allocate()
        key = next((f.name for f in collection.schema.fields if f.is_clustering_key), "")
        if clustering:
            by_partition: dict[int, list[int]] = {}
            for sid in sorted(files):
                by_partition.setdefault(files[sid].partition_id, []).append(sid)
            groups = list(by_partition.values())
        else:
            groups = plan_groups(collection, files, segments, ts, major)
        groups = _read_sources(collection, groups, segments)
        if job is None:
            if not groups:
                return None
            job = Job(engine.catalog.next_id("compaction"), collection.id)
        job.plans = [Plan(job.job_id * 1000 + i, g) for i, g in enumerate(groups)]
        for plan in job.plans:
            try:
                _execute(collection, plan, {sid: segments[sid] for sid in plan.sources},
                         {sid: files[sid] for sid in plan.sources}, ts,
                         key if clustering else "")
                plan.state = "Completed"
            except Exception as exc:
                plan.state, plan.failure = "Failed", str(exc)
                log.exception("compaction plan %d of %s failed", plan.plan_id, collection.name)
        job.state = "Completed"
    engine.index_builder.schedule(collection)
    return job


def _execute(collection: Collection, plan: Plan, sources: dict[int, SealedSegment],
             files: dict[int, FileRecord], ts: int, cluster_by: str = "") -> None:
    """Rewrite `sources` as new segments: one, or (clustering by a key) the rows sorted by that
    key and cut into segments of at most the seal size, so each holds a narrow key range."""
    engine = collection.engine
    expire = collection.expire_before(ts)
    kept_masks = {sid: spelled_out(s.snapshot().visible(ts, expire), s.num_rows)
                  for sid, s in sources.items()}
    parts = [s.snapshot().table.filter(pa.array(kept_masks[sid])) for sid, s in sources.items()]
    table = pa.concat_tables(parts).combine_chunks() if parts else None
    order = None
    if table is not None and cluster_by:
        order = pc.sort_indices(table, sort_keys=[(cluster_by, "ascending", "at_end")]
                                ).to_numpy()
        table = table.take(pa.array(order))
    partition_id = files[plan.sources[0]].partition_id
    commit = Commit(collection.id)
    loaded = partition_id in collection.loaded_partitions  # checked again under the lock
    outputs: list[SealedSegment] = []
    rows = table.num_rows if table is not None else 0
    step = engine.seal_rows if cluster_by else max(rows, 1)
    for start in range(0, rows, step):
        assert table is not None
        new_id = engine.new_segment_id()
        plan.targets.append(new_id)
        key = f"collections/{collection.id}/segments/{new_id}.arrow"
        info = write_segment(engine.store, key, table.slice(start, step).combine_chunks())
        # It absorbed every tombstone up to `ts`: delta files need not cover it below that.
        commit.add.append(FileRecord(key, collection.id, "segment", new_id, info.size,
                                     info.checksum, info.num_rows, partition_id, max_ts=ts))
        output = collection.written(commit.add[-1], loaded)
        if output is not None:
            outputs.append(output)
    engine.fault("compaction:before-commit")
    with collection.lock:
        if collection.dropped or partition_id not in collection.partition_ids():
            collection._discard(commit.add)  # collection or partition dropped meanwhile
            return
        replaced = {f.key for f in collection.files
                    if f.segment_id in sources and f.kind in ("segment", "index")}
        remaining = [f for f in collection.files
                     if f.kind == "segment" and f.segment_id not in sources] + commit.add
        commit.remove = sorted(replaced | _stale_deltas(collection.files, remaining))
        engine.catalog.commit(commit)
        collection.files = [f for f in collection.files if f.key not in set(commit.remove)]
        collection.files.extend(commit.add)
        if partition_id in collection.loaded_partitions:
            # Tombstones that reached the sources after they were read: taken from the
            # segments loaded now (a reload may have replaced the ones compaction read).
            live = {sid: collection.sealed.get(sid, s) for sid, s in sources.items()}
            outputs = outputs or [collection._sealed(f) for f in commit.add]  # loaded meanwhile
            for sid in sources:
                collection.sealed.pop(sid, None)
            _carry_late_tombstones(live, kept_masks, outputs, order)
            for seg in outputs:
                collection.sealed[seg.id] = seg
    engine.fault("compaction:after-commit")
    for key in commit.remove:
        engine.store.delete(key)


def _stale_deltas(files: list[FileRecord], segments: list[FileRecord]) -> set[str]:
    """Delta files no remaining segment can need.

    A delta file's tombstones can hit a segment sealed no later than itself (a smaller id, and
    no tombstones absorbed), or a compaction output that absorbed tombstones only up to a time
    before the delta's newest one.
    """
    return {f.key for f in files
            if f.kind == "delta" and not any(_can_hit(f, s) for s in segments)}


def _can_hit(delta: FileRecord, segment: FileRecord) -> bool:
    """Whether the tombstones of `delta` can apply to `segment`'s rows (see _stale_deltas)."""
    return ((segment.max_ts == 0 and segment.segment_id < delta.segment_id)
            or (segment.max_ts != 0 and segment.max_ts < delta.max_ts))


def _carry_late_tombstones(sources: dict[int, SealedSegment], kept: dict[int, np.ndarray],
                           outputs: list[SealedSegment], order: np.ndarray | None) -> None:
    """Tombstones that reached the sources after the compaction read them, onto the rows of
    the outputs (in the order the outputs hold them)."""
    stamps = [s.delete_stamps()[kept[sid]] for sid, s in sources.items()]
    late = np.concatenate(stamps) if stamps else np.empty(0, np.uint64)
    if order is not None:
        late = late[order]
    start = 0
    for seg in outputs:
        part = late[start: start + seg.num_rows]
        hit = part != NEVER
        if hit.any():
            seg.stamp_deletes(np.flatnonzero(hit), part[hit])
        start += seg.num_rows
