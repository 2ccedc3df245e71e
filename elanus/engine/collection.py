"""One collection's live state: schema, indexes, segments, and its write path.

Writes (insert, upsert, delete, flush, index changes) take the collection's write lock; reads take
`segments()` (a list of segment snapshots) without it. Inserts go to the WAL before they touch a
growing segment, and the reply waits for the WAL. A flush seals the growing segment: its rows
become an Arrow IPC file and the deletes since the last flush a delta file; one catalog commit
names both and moves the collection's WAL checkpoint past them. Indexes of sealed segments are
built by the engine's index builder off the request path; until then a sealed segment is searched
exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from elanus.engine.rows import prepare_rows
from elanus.engine.segment import GrowingSegment, SealedSegment, SegmentView
from elanus.engine.tso import compose, physical_ms
from elanus.errors import CollectionNotFound, CollectionNotLoaded, Corruption, InvalidArgument
from elanus.index.vector import IndexSpec
from elanus.schema import TIMESTAMP_COLUMN, CollectionSchema
from elanus.storage import records
from elanus.storage.catalog import Commit, FileRecord
from elanus.storage.segment_file import read_segment, write_segment

if TYPE_CHECKING:
    from elanus.engine.engine import Engine

log = logging.getLogger(__name__)

DEFAULT_PARTITION = "_default"
TTL_PROPERTY = "collection.ttl.seconds"
MMAP_PROPERTY = "mmap.enabled"


def check_property(key: str, value: str) -> None:
    """Refuse values of the properties elanus acts on that it could not act on."""
    if key == TTL_PROPERTY:
        try:
            ok = int(value) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise InvalidArgument(f"collection TTL is not a valid positive integer: {value}")
    if key == MMAP_PROPERTY and value.lower() not in ("true", "false"):
        raise InvalidArgument(f"invalid mmap.enabled value: {value}, expected true or false")


@dataclass(frozen=True)
class Snapshot:
    """A consistent read: segment snapshots and the timestamp they are read at."""

    views: list[SegmentView]
    ts: int
    expire_before: int = 0

    def visible(self) -> list[npt.NDArray[np.bool_]]:
        return [v.visible(self.ts, self.expire_before) for v in self.views]
DELTA_PK = "pk"
DELTA_TS = "ts"


@dataclass(frozen=True)
class Sealing:
    segment: GrowingSegment
    deletes: _Deletes


@dataclass
class _Deletes:
    """Tombstones not yet in a delta file: primary keys and their delete timestamps."""

    pks: list[pa.Array]
    ts: list[int]

    def table(self, pk_type: pa.DataType) -> pa.Table:
        if not self.pks:
            return pa.table({DELTA_PK: pa.array([], type=pk_type),
                             DELTA_TS: pa.array([], type=pa.uint64())})
        pks = pa.concat_arrays([p.cast(pk_type) for p in self.pks])
        ts = np.repeat(np.array(self.ts, dtype=np.uint64), [len(p) for p in self.pks])
        return pa.table({DELTA_PK: pks, DELTA_TS: pa.array(ts)})


class Collection:
    def __init__(self, engine: Engine, cid: int, db: str, schema: CollectionSchema,
                 created_ts: int, consistency_level: int, num_shards: int,
                 properties: dict[str, str], checkpoint_lsn: int) -> None:
        self.engine = engine
        self.id, self.db, self.schema = cid, db, schema
        self.created_ts, self.consistency_level = created_ts, consistency_level
        self.num_shards, self.properties = num_shards, properties
        self.checkpoint_lsn = checkpoint_lsn
        self.indexes: dict[str, IndexSpec] = {}  # by index name
        self.files: list[FileRecord] = []  # committed segment, delta and index files
        self.loaded = False
        self.lock = threading.RLock()
        self.growing = GrowingSegment(engine.new_segment_id(), DEFAULT_PARTITION, schema)
        # Sealed in memory, file commit in progress (or failed and waiting for the next flush):
        # each with the tombstones logged while it grew. Readers, loads and the WAL see them.
        self.sealing: list[Sealing] = []
        self.dropped = False
        self.sealed: dict[int, SealedSegment] = {}  # loaded sealed segments
        self.pending = _Deletes([], [])
        self._flush_lock = threading.Lock()
        self.compaction_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def pk_type(self) -> pa.DataType:
        return self.schema.primary.arrow_type

    def index_on(self, field: str) -> IndexSpec | None:
        return next((s for s in self.indexes.values() if s.field_name == field), None)

    # -- writes ----------------------------------------------------------------------------

    def insert(self, columns: dict[str, pa.Array], num_rows: int, upsert: bool = False,
               ) -> tuple[pa.Table, int]:
        """Validate, log and apply rows; returns (rows as stored, timestamp)."""
        with self.lock:
            self._check_live()
            ts = self.engine.tso.allocate()
            table = prepare_rows(self.schema, columns, num_rows, ts, self.engine.tso.allocate,
                                 upsert=upsert)
            record = records.InsertRecord(self.id, DEFAULT_PARTITION, table, upsert)
            lsn = self.engine.wal.submit(records.encode(record))
            self.growing.note_lsn(lsn)  # pins the WAL before anything else can fail
            self.apply(record, lsn)
        # The reply waits for the disk, the collection does not: concurrent writers share fsyncs.
        self.engine.wal.wait_durable(lsn)
        return table, ts

    def delete(self, pks: pa.Array) -> tuple[int, int]:
        """Delete live rows with these primary keys; returns (deleted count, timestamp)."""
        with self.lock:
            self._check_live()
            ts = self.engine.tso.allocate()
            record = records.DeleteRecord(self.id, ts, pks.cast(self.pk_type))
            lsn = self.engine.wal.submit(records.encode(record))
            self.growing.note_lsn(lsn)
            count = self.apply_delete(record.pks, ts, lsn)
        self.engine.wal.wait_durable(lsn)
        return count, ts

    def apply(self, record: records.Record, lsn: int) -> None:
        """Apply one logged record (live, or replayed from the WAL on restart)."""
        if isinstance(record, records.DeleteRecord):
            self.apply_delete(record.pks, record.ts, lsn)
            return
        table = record.table
        if record.upsert:
            pks = table.column(self.schema.primary.name).combine_chunks()
            self.apply_delete(pks, int(table.column(TIMESTAMP_COLUMN)[0].as_py()), lsn)
        self.growing.append(table, lsn)
        if (self.growing.num_rows >= self.engine.seal_rows
                or self.growing.nbytes >= self.engine.seal_bytes):
            self.engine.request_flush(self)

    def apply_delete(self, pks: pa.Array, ts: int, lsn: int) -> int:
        count = sum(s.apply_delete(pks, ts) for s in self._all_segments())
        self.pending.pks.append(pks)
        self.pending.ts.append(ts)
        self.growing.note_lsn(lsn)
        return count

    def _check_live(self) -> None:
        if self.dropped:
            raise CollectionNotFound(self.name, self.db)

    def _all_segments(self) -> list[GrowingSegment | SealedSegment]:
        return [*self.sealed.values(), *(s.segment for s in self.sealing), self.growing]

    def unsealed_lsn(self) -> int:
        """The oldest WAL record not yet in a committed file (0: none). Caller holds the lock."""
        lsns = [s.segment.first_lsn for s in self.sealing] + [self.growing.first_lsn]
        return min((n for n in lsns if n), default=0)

    # -- flush -----------------------------------------------------------------------------

    def flush(self) -> list[int]:
        """Seal the growing segment into files and commit them; returns the sealed ids.

        Seals commit in log order: one that failed (a full disk, say) stays readable, keeps its
        WAL records pinned, and is retried first by the next flush.
        """
        with self._flush_lock:
            with self.lock:
                self._check_live()
                if self.growing.first_lsn:
                    next_id = self.engine.new_segment_id()
                    self.sealing.append(Sealing(self.growing, self.pending))
                    self.growing = GrowingSegment(next_id, DEFAULT_PARTITION, self.schema)
                    self.pending = _Deletes([], [])
                queue = list(self.sealing)
            sealed_ids: list[int] = []
            for item in queue:
                sealed_ids += self._seal(item)
            return sealed_ids

    def _seal(self, item: Sealing) -> list[int]:
        seg, deletes = item.segment, item.deletes
        store, commit = self.engine.store, Commit(self.id, checkpoint_lsn=seg.last_lsn)
        sealed_ids: list[int] = []
        view = seg.snapshot()
        sealed = None
        if view.num_rows:
            key = f"collections/{self.id}/segments/{seg.id}.arrow"
            # One record batch: the sealed file then maps as one zero-copy chunk per column.
            info = write_segment(store, key, view.table.combine_chunks())
            commit.add.append(FileRecord(key, self.id, "segment", seg.id, info.size,
                                         info.checksum, info.num_rows, seg.partition))
            sealed = SealedSegment(seg.id, seg.partition, self.schema, self._read(
                key, info.size, info.checksum), key)
            sealed_ids.append(seg.id)
        self.engine.fault("seal:segment-written")
        if deletes.pks:
            delta_id = self.engine.new_segment_id()
            key = f"collections/{self.id}/deltas/{delta_id}.arrow"
            info = write_segment(store, key, deletes.table(self.pk_type))
            commit.add.append(FileRecord(key, self.id, "delta", delta_id, info.size,
                                         info.checksum, info.num_rows, max_ts=max(deletes.ts)))
        self.engine.fault("seal:before-commit")
        with self.lock:
            if self.dropped:
                self._discard(commit)
                return []
            self.engine.catalog.commit(commit)
            self.files.extend(commit.add)
            self.checkpoint_lsn = seg.last_lsn
            self.sealing.remove(item)  # in the same step as its sealed form appears: no reader
            if sealed is not None and self.loaded:  # sees the rows twice or not at all
                # Deletes the rows saw while growing (or while being sealed) carry over.
                sealed.delete_stamps()[:] = seg.delete_stamps()[: sealed.num_rows]
                self.sealed[sealed.id] = sealed
        self.engine.fault("seal:after-commit")
        self.engine.wal_checkpoint_moved()
        if sealed is not None:
            self.engine.index_builder.schedule(self)
            self.engine.request_compaction(self)
        return sealed_ids

    def _discard(self, commit: Commit) -> None:
        """Files written for a collection dropped meanwhile: delete them, commit nothing."""
        for f in commit.add:
            self.engine.store.delete(f.key)

    def truncate(self) -> list[str]:
        """Forget every row in one catalog commit; returns the keys of the files now garbage."""
        with self._flush_lock, self.compaction_lock, self.lock:
            garbage = [f.key for f in self.files]
            checkpoint = max(self.checkpoint_lsn, self.growing.last_lsn,
                             *(s.segment.last_lsn for s in self.sealing))
            self.sealing = []
            self.engine.catalog.commit(Commit(self.id, remove=garbage,
                                              checkpoint_lsn=checkpoint))
            self.files, self.sealed, self.checkpoint_lsn = [], {}, checkpoint
            self.growing = GrowingSegment(self.engine.new_segment_id(), DEFAULT_PARTITION,
                                          self.schema)
            self.pending = _Deletes([], [])
        return garbage

    def _read(self, key: str, size: int, checksum: int) -> pa.Table:
        # Sealed files are memory-mapped unless the collection sets mmap.enabled to false: the
        # operating system then pages column data in and out, so collections larger than RAM
        # can be served.
        mmap = self.properties.get(MMAP_PROPERTY, "true").lower() != "false"
        return read_segment(self.engine.store, key, size=size, checksum=checksum, mmap=mmap)

    # -- load / release --------------------------------------------------------------------

    def open_sealed(self, files: list[FileRecord]) -> dict[int, SealedSegment]:
        """Read these segment files with every tombstone that applies to them (delta files and
        deletes not yet flushed). Caller holds the write lock."""
        segments = {f.segment_id: SealedSegment(f.segment_id, f.partition, self.schema,
                                                self._read(f.key, f.size, f.checksum), f.key)
                    for f in files}
        for f in self.files:
            if f.kind == "delta":
                self._apply_delta(segments.values(), self._read(f.key, f.size, f.checksum))
        for item in self.sealing:  # tombstones whose delta file is not committed yet
            self._apply_delta(segments.values(), item.deletes.table(self.pk_type))
        self._apply_delta(segments.values(), self.pending.table(self.pk_type))
        return segments

    def load(self) -> None:
        """Open every sealed segment, its indexes and delete logs; idempotent."""
        with self.lock:
            if self.loaded:
                return
            segments = self.open_sealed([f for f in self.files if f.kind == "segment"])
            broken = []
            for f in self.files:
                if f.kind == "index" and f.segment_id in segments:
                    try:
                        self.engine.index_builder.attach(self, segments[f.segment_id], f)
                    except Corruption as exc:  # derived data: report it, rebuild it
                        log.error("%s; the index is rebuilt", exc)
                        broken.append(f.key)
            if broken:
                self.engine.catalog.commit(Commit(self.id, remove=broken))
                self.files = [f for f in self.files if f.key not in set(broken)]
            self.sealed = segments
            self.loaded = True
        self.engine.index_builder.schedule(self)

    @staticmethod
    def _apply_delta(segments: Iterable[SealedSegment], delta: pa.Table) -> None:
        """Apply a delete log's tombstones, one timestamp at a time (oldest first)."""
        if delta.num_rows == 0:
            return
        pks = delta.column(DELTA_PK).combine_chunks()
        ts = delta.column(DELTA_TS).to_numpy()
        for t in np.unique(ts):
            chosen = pks.filter(pa.array(ts == t))
            for seg in segments:
                seg.apply_delete(chosen, int(t))

    def release(self) -> None:
        with self.lock:
            self.sealed = {}
            self.loaded = False

    # -- reads -----------------------------------------------------------------------------

    def snapshot(self, operation: str = "query", read_ts: int = 0) -> Snapshot:
        """What a read sees: every segment and the timestamp it reads at.

        The read timestamp is taken under the write lock, where writes take theirs and apply,
        so every write with an earlier timestamp is already applied: a read at T sees exactly
        the rows inserted at or before T and not deleted by then. Every consistency level's
        guarantee (Strong: now; Bounded: now minus the staleness bound; Session: the client's
        last write; Eventually: none) is therefore met at once, and reads are served at the
        newest timestamp, as Milvus serves them at its newest safe timestamp.
        """
        with self.lock:
            if not self.loaded:
                raise CollectionNotLoaded(self.id, operation)
            segs = self._all_segments()
            ts = read_ts or self.engine.tso.allocate()
        return Snapshot([s.snapshot() for s in segs], ts, self.expire_before(ts))

    def expire_before(self, ts: int) -> int:
        """With a TTL (`collection.ttl.seconds`), rows older than this timestamp are expired."""
        ttl = self.ttl_seconds
        return compose(max(physical_ms(ts) - ttl * 1000, 0)) if ttl > 0 else 0

    @property
    def ttl_seconds(self) -> int:
        raw = self.properties.get(TTL_PROPERTY, "0")
        try:
            return max(int(raw), 0)
        except ValueError:
            return 0

    def num_rows(self) -> int:
        """Rows stored (deleted rows included until compaction, as Milvus counts them)."""
        with self.lock:
            sealed = sum(f.num_rows for f in self.files if f.kind == "segment")
            growing = [*(s.segment for s in self.sealing), self.growing]
            return sealed + sum(s.num_rows for s in growing)
