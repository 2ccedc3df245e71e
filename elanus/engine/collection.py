"""One collection's live state: schema, partitions, indexes, segments, and its write path.

Every segment belongs to one partition. A collection with a partition key has hidden partitions
`_default_0` ... `_default_{n-1}` and routes each row by a hash of its key (`routing`); otherwise
rows go to the partition the request names, `_default` when it names none.

Writes (insert, upsert, delete, flush, index changes) take the collection's write lock; reads take
a snapshot (segment views of the loaded partitions) under it and then run without it. Inserts go
to the WAL before they touch a growing segment, and the reply waits for the WAL. A flush seals
the growing generation: each partition's rows become an Arrow IPC file and the deletes since the
last flush a delta file; one catalog commit names them all and moves the collection's WAL
checkpoint past them. Indexes of sealed segments are built by the engine's index builder off
the request path; until then a sealed segment is searched exactly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from elanus.engine import routing
from elanus.engine.memory import return_freed_memory
from elanus.engine.rows import conform, prepare_rows
from elanus.engine.segment import GrowingSegment, SealedSegment, SegmentView
from elanus.engine.tso import compose, physical_ms
from elanus.errors import (
    CollectionNotFound,
    CollectionNotLoaded,
    Corruption,
    InvalidArgument,
    PartitionNotFound,
    PartitionNotLoaded,
    SchemaMismatch,
    UnexpectedError,
)
from elanus.index.vector import IndexSpec
from elanus.schema import (
    DEFAULT_PARTITION,
    TIMESTAMP_COLUMN,
    CollectionSchema,
    FieldSchema,
    timestamps,
    validate_partition_name,
)
from elanus.storage import records
from elanus.storage.catalog import Commit, FileRecord, PartitionRecord
from elanus.storage.segment_file import read_segment, write_segment

if TYPE_CHECKING:
    from elanus.engine.engine import Engine

log = logging.getLogger(__name__)

TTL_PROPERTY = "collection.ttl.seconds"
MANUAL_PARTITION_IN_KEY_MODE = ("not support manually specifying the partition names if "
                                "partition key mode is used")
MMAP_PROPERTY = "mmap.enabled"
TIMEZONE_PROPERTY = "timezone"


def check_property(key: str, value: str) -> None:
    """Refuse values of the properties elanus acts on that it could not act on."""
    if key == TTL_PROPERTY:
        try:
            ok = int(value) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise InvalidArgument(f"collection TTL is not a valid positive integer: {value}")
    if key == TIMEZONE_PROPERTY:
        try:
            timestamps.check_timezone(value)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
    if key == MMAP_PROPERTY and value.lower() not in ("true", "false"):
        raise InvalidArgument(f"invalid mmap.enabled value: {value}, expected true or false")


@dataclass(frozen=True)
class Snapshot:
    """A consistent read: segment snapshots and the timestamp they are read at."""

    views: list[SegmentView]
    ts: int
    expire_before: int = 0

    def visible(self) -> list[npt.NDArray[np.bool_] | None]:
        """Per segment, the rows this read sees (None: every row)."""
        return [v.visible(self.ts, self.expire_before) for v in self.views]


DELTA_PK = "pk"
DELTA_TS = "ts"
DELTA_PARTITION = "partition"  # 0: the tombstone applies in every partition


@dataclass
class _Deletes:
    """Tombstones not yet in a delta file: primary keys, delete timestamps, partition scopes."""

    pks: list[pa.Array] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)

    def add(self, pks: pa.Array, ts: int, partition_id: int) -> None:
        self.pks.append(pks)
        self.ts.append(ts)
        self.partitions.append(partition_id)

    def table(self, pk_type: pa.DataType) -> pa.Table:
        if not self.pks:
            return pa.table({DELTA_PK: pa.array([], type=pk_type),
                             DELTA_TS: pa.array([], type=pa.uint64()),
                             DELTA_PARTITION: pa.array([], type=pa.int64())})
        pks = pa.concat_arrays([p.cast(pk_type) for p in self.pks])
        counts = [len(p) for p in self.pks]
        ts = np.repeat(np.array(self.ts, dtype=np.uint64), counts)
        parts = np.repeat(np.array(self.partitions, dtype=np.int64), counts)
        return pa.table({DELTA_PK: pks, DELTA_TS: pa.array(ts), DELTA_PARTITION: pa.array(parts)})


@dataclass
class Generation:
    """Everything logged since the last seal began: a growing segment per partition written
    to, the tombstones, and the WAL records they came from. A flush seals a whole generation
    in one catalog commit, which moves the collection's WAL checkpoint past its records."""

    segments: dict[int, GrowingSegment] = field(default_factory=dict)  # by partition id
    deletes: _Deletes = field(default_factory=_Deletes)
    first_lsn: int = 0  # the first WAL record applied here; 0 while none is
    first_at: float = 0.0  # time.monotonic() of that record
    last_lsn: int = 0

    def note_lsn(self, lsn: int) -> None:
        """Record that WAL record `lsn` (an insert or a delete) is applied here."""
        if not self.first_lsn:
            self.first_lsn, self.first_at = lsn, time.monotonic()
        self.last_lsn = lsn

    @property
    def num_rows(self) -> int:
        return sum(s.num_rows for s in self.segments.values())

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments.values())

    @property
    def max_ts(self) -> int:
        return max((s.max_ts for s in self.segments.values()), default=0)


class Collection:
    def __init__(self, engine: Engine, cid: int, db: str, schema: CollectionSchema,
                 created_ts: int, consistency_level: int, num_shards: int,
                 properties: dict[str, str], checkpoint_lsn: int,
                 partitions: list[PartitionRecord], load_all: bool = False,
                 schema_ts: int = 0) -> None:
        self.engine = engine
        self.id, self.db, self.schema = cid, db, schema
        # The schema's version: the timestamp of its last change (Milvus's update_timestamp).
        self.schema_ts = schema_ts or created_ts
        self.created_ts, self.consistency_level = created_ts, consistency_level
        self.num_shards, self.properties = num_shards, properties
        self.checkpoint_lsn = checkpoint_lsn
        self.partitions = {p.name: p for p in sorted(partitions, key=lambda p: p.id)}
        # load_collection was called: partitions created later are loaded at once, as in Milvus.
        self.load_all = load_all
        self.loaded_partitions: set[int] = set()
        self.indexes: dict[str, IndexSpec] = {}  # by index name
        self.files: list[FileRecord] = []  # committed segment, delta and index files
        self.lock = threading.RLock()
        self.growing = Generation()
        # Generations sealed in memory, file commit in progress (or failed and waiting for the
        # next flush), oldest first. Readers, loads and the WAL see them.
        self.sealing: list[Generation] = []
        self.dropped = False
        self.sealed: dict[int, SealedSegment] = {}  # sealed segments of loaded partitions
        self._flush_lock = threading.Lock()
        self.compaction_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def pk_type(self) -> pa.DataType:
        return self.schema.primary.arrow_type

    @property
    def loaded(self) -> bool:
        """Some partition is loaded (Milvus reports such a collection as loaded)."""
        return bool(self.loaded_partitions)

    @property
    def timezone(self) -> str:
        """The time zone TIMESTAMPTZ text without an offset is read in, and reads are written
        in: the collection's `timezone` property, else its database's, else UTC."""
        return self.properties.get(TIMEZONE_PROPERTY) or \
            self.engine.database_property(self.db, TIMEZONE_PROPERTY) or timestamps.UTC

    @property
    def partition_key(self) -> FieldSchema | None:
        return next((f for f in self.schema.fields if f.is_partition_key), None)

    def partition(self, name: str) -> PartitionRecord:
        found = self.partitions.get(name)
        if found is None:
            validate_partition_name(name)  # Milvus checks the name before looking it up
            raise PartitionNotFound(name, self.name)
        return found

    def partition_ids(self, names: Sequence[str] = ()) -> list[int]:
        """Ids of the named partitions, or (none named) of every partition in creation order,
        which for a partition-key collection is its hidden partitions by slot."""
        if names:
            return [self.partition(name).id for name in names]
        return [p.id for p in self.partitions.values()]

    def index_on(self, field: str) -> IndexSpec | None:
        return next((s for s in self.indexes.values() if s.field_name == field), None)

    # -- writes ----------------------------------------------------------------------------

    def insert(self, columns: dict[str, pa.Array], num_rows: int, upsert: bool = False,
               partition: str = "", schema_ts: int = 0) -> tuple[pa.Table, int]:
        """Validate, log and apply rows; returns (rows as stored, timestamp). A client that
        names the schema version it prepared the rows for (`schema_ts`) must name the current
        one."""
        with self.lock:
            self.check_live()
            if schema_ts and schema_ts != self.schema_ts:
                raise SchemaMismatch(self.name)
            partition_id = self._target(partition)
            ts = self.engine.tso.allocate()
            table = prepare_rows(self.schema, columns, num_rows, ts, self.engine.tso.allocate,
                                 upsert=upsert, timezone=self.timezone)
            record = records.InsertRecord(self.id, partition_id, table, upsert)
            lsn = self.engine.wal.submit(records.encode(record))
            self.growing.note_lsn(lsn)  # pins the WAL before anything else can fail
            self.apply(record, lsn)
        # The reply waits for the disk, the collection does not: concurrent writers share fsyncs.
        self.engine.wal.wait_durable(lsn)
        return table, ts

    def _target(self, partition: str) -> int:
        """The partition id rows go to; 0 routes them by their partition key."""
        if self.partition_key is not None:
            if partition:
                raise UnexpectedError(MANUAL_PARTITION_IN_KEY_MODE)
            return 0
        if partition:
            validate_partition_name(partition)
        return self.partition(partition or DEFAULT_PARTITION).id

    def delete(self, pks: pa.Array, partition: str = "") -> tuple[int, int]:
        """Delete live rows with these primary keys (in one partition, or in all); returns
        (deleted count, timestamp)."""
        with self.lock:
            self.check_live()
            partition_id = self._target(partition) if partition else 0
            ts = self.engine.tso.allocate()
            record = records.DeleteRecord(self.id, ts, pks.cast(self.pk_type), partition_id)
            lsn = self.engine.wal.submit(records.encode(record))
            self.growing.note_lsn(lsn)
            count = self.apply_delete(record.pks, ts, lsn, partition_id)
        self.engine.wal.wait_durable(lsn)
        return count, ts

    def apply(self, record: records.Record, lsn: int) -> None:
        """Apply one logged record (live, or replayed from the WAL on restart)."""
        if isinstance(record, records.DeleteRecord):
            self.apply_delete(record.pks, record.ts, lsn, record.partition_id)
            return
        table = conform(record.table, self.schema)  # logged under an older schema, maybe
        if record.partition_id:
            if record.partition_id not in self.partition_ids():
                return  # replayed after its partition was dropped
            groups = [(record.partition_id, table)]
        else:
            key = self.partition_key
            if key is None:
                raise Corruption(f"collection {self.id}", "an insert routed by partition key, "
                                 "but the collection has no partition key")
            by_slot = self.partition_ids()
            slot_of_row = routing.slots(table.column(key.name), len(by_slot))
            groups = [(by_slot[slot], table.take(pa.array(rows)))
                      for slot, rows in routing.split(slot_of_row)]
        if record.upsert:
            # The replaced rows are deleted where the new ones may land: the given partition,
            # or every partition when a partition key routes them.
            pks = table.column(self.schema.primary.name).combine_chunks()
            self.apply_delete(pks, int(table.column(TIMESTAMP_COLUMN)[0].as_py()), lsn,
                              record.partition_id)
        for partition_id, rows in groups:
            self._growing_segment(partition_id).append(rows)
        self.growing.note_lsn(lsn)
        if (self.growing.num_rows >= self.engine.seal_rows
                or self.growing.nbytes >= self.engine.seal_bytes):
            self.engine.request_flush(self)

    def _growing_segment(self, partition_id: int) -> GrowingSegment:
        seg = self.growing.segments.get(partition_id)
        if seg is None:
            seg = GrowingSegment(self.engine.new_segment_id(), partition_id, self.schema)
            self.growing.segments[partition_id] = seg
        return seg

    def apply_delete(self, pks: pa.Array, ts: int, lsn: int, partition_id: int = 0) -> int:
        count = sum(s.apply_delete(pks, ts) for s in self._all_segments()
                    if not partition_id or s.partition_id == partition_id)
        self.growing.deletes.add(pks, ts, partition_id)
        self.growing.note_lsn(lsn)
        return count

    def check_live(self) -> None:
        if self.dropped:
            raise CollectionNotFound(self.name, self.db)

    def _all_segments(self) -> list[GrowingSegment | SealedSegment]:
        growing = [s for g in (*self.sealing, self.growing) for s in g.segments.values()]
        return [*self.sealed.values(), *growing]

    def unsealed_lsn(self) -> int:
        """The oldest WAL record not yet in a committed file (0: none). Caller holds the lock."""
        lsns = [g.first_lsn for g in (*self.sealing, self.growing)]
        return min((n for n in lsns if n), default=0)

    # -- flush -----------------------------------------------------------------------------

    def flush(self) -> list[int]:
        """Seal the growing generation into files and commit them; returns the sealed ids.

        Seals commit in log order: one that failed (a full disk, say) stays readable, keeps its
        WAL records pinned, and is retried first by the next flush.
        """
        with self._flush_lock:
            with self.lock:
                self.check_live()
                if self.growing.first_lsn:
                    self.sealing.append(self.growing)
                    self.growing = Generation()
                queue = list(self.sealing)
            sealed_ids: list[int] = []
            while queue:
                sealed_ids += self._seal(queue.pop(0))
            return_freed_memory()  # the sealed generations' columns, held for reuse
            return sealed_ids

    def _seal(self, gen: Generation) -> list[int]:
        store, commit = self.engine.store, Commit(self.id, checkpoint_lsn=gen.last_lsn)
        written: list[tuple[GrowingSegment, FileRecord, SealedSegment | None]] = []
        for partition_id, seg in gen.segments.items():
            view = seg.snapshot()
            if not view.num_rows:
                continue
            key = f"collections/{self.id}/segments/{seg.id}.arrow"
            # One record batch: the sealed file then maps as one zero-copy chunk per column.
            info = write_segment(store, key, view.table.combine_chunks())
            record = FileRecord(key, self.id, "segment", seg.id, info.size, info.checksum,
                                info.num_rows, partition_id)
            commit.add.append(record)
            loaded = partition_id in self.loaded_partitions
            written.append((seg, record, self.written(record, loaded)))
        self.engine.fault("seal:segment-written")
        if gen.deletes.pks:
            delta_id = self.engine.new_segment_id()
            key = f"collections/{self.id}/deltas/{delta_id}.arrow"
            info = write_segment(store, key, gen.deletes.table(self.pk_type))
            commit.add.append(FileRecord(key, self.id, "delta", delta_id, info.size,
                                         info.checksum, info.num_rows, max_ts=max(gen.deletes.ts)))
        self.engine.fault("seal:before-commit")
        with self.lock:
            if self.dropped:
                self._discard(commit.add)
                return []
            live = set(self.partition_ids())
            orphans = [f for f in commit.add if f.kind == "segment" and f.partition_id not in live]
            self._discard(orphans)  # segments of partitions dropped meanwhile
            commit.add = [f for f in commit.add if f not in orphans]
            self.engine.catalog.commit(commit)
            self.files.extend(commit.add)
            self.checkpoint_lsn = gen.last_lsn
            self.sealing.remove(gen)  # in the same step as its sealed form appears: no reader
            for seg, record, sealed in written:  # sees the rows twice or not at all
                if record.partition_id in self.loaded_partitions:
                    sealed = sealed or self._sealed(record)  # loaded meanwhile
                    # Deletes the rows saw while growing (or while being sealed) carry over.
                    sealed.stamp_deletes(slice(None), seg.delete_stamps()[: sealed.num_rows])
                    self.sealed[sealed.id] = sealed
        self.engine.fault("seal:after-commit")
        self.engine.wal_checkpoint_moved()
        sealed_ids = [seg.id for seg, record, _ in written if record.partition_id in live]
        if sealed_ids:
            self.engine.index_builder.schedule(self)
            self.engine.request_compaction(self)
        return sealed_ids

    def _discard(self, files: list[FileRecord]) -> None:
        """Files written for a collection or partition dropped meanwhile: delete them."""
        for f in files:
            self.engine.store.delete(f.key)

    def truncate(self) -> list[str]:
        """Forget every row in one catalog commit; returns the keys of the files now garbage."""
        with self._flush_lock, self.compaction_lock, self.lock:
            garbage = [f.key for f in self.files]
            checkpoint = max(self.checkpoint_lsn, self.growing.last_lsn,
                             *(g.last_lsn for g in self.sealing))
            self.sealing = []
            self.engine.catalog.commit(Commit(self.id, remove=garbage,
                                              checkpoint_lsn=checkpoint))
            self.files, self.checkpoint_lsn = [], checkpoint
            self.sealed = {}
            self.growing = Generation()
        return garbage

    def evolve(self, schema: CollectionSchema, ts: int) -> None:
        """Adopt a changed schema (a field added, the dynamic field enabled, a length raised),
        version `ts`: stored rows read the added columns as their defaults. Caller holds the
        lock and has committed the schema to the catalog."""
        self.schema, self.schema_ts = schema, ts
        for seg in self._all_segments():
            seg.set_schema(schema)

    def forget_partition(self, partition_id: int, garbage: list[str]) -> None:
        """Drop a partition's in-memory state once the catalog has forgotten it. Caller holds
        the lock. A generation being sealed keeps its segment; the seal then skips it."""
        self.partitions = {n: p for n, p in self.partitions.items() if p.id != partition_id}
        self.files = [f for f in self.files if f.key not in set(garbage)]
        self.growing.segments.pop(partition_id, None)

    def written(self, f: FileRecord, keep: bool) -> SealedSegment | None:
        """A file just written, read back and verified before it is committed; kept (mapped)
        as a sealed segment only to serve it (`keep`: its partition is loaded)."""
        if keep:
            return self._sealed(f)
        self._read(f.key, f.size, f.checksum)  # a torn or corrupt write fails here
        return None

    def _sealed(self, f: FileRecord) -> SealedSegment:
        """Segment file `f` read (verified) as a sealed segment, without tombstones."""
        return SealedSegment(f.segment_id, f.partition_id, self.schema,
                             self._read(f.key, f.size, f.checksum), f.key)

    def _read(self, key: str, size: int, checksum: int) -> pa.Table:
        # Sealed files are memory-mapped unless the collection sets mmap.enabled to false: the
        # operating system then pages column data in and out, so collections larger than RAM
        # can be served.
        return read_segment(self.engine.store, key, size=size, checksum=checksum,
                            mmap=self.mmap_enabled)

    @property
    def mmap_enabled(self) -> bool:
        """Whether sealed files are read in place (`mmap.enabled`, true unless set false)."""
        return self.properties.get(MMAP_PROPERTY, "true").lower() != "false"

    def index_mmap(self, spec: IndexSpec) -> bool:
        """Whether the files of index `spec` are read in place: its own `mmap.enabled`, else
        the collection's."""
        return spec.params.get(MMAP_PROPERTY, str(self.mmap_enabled)).lower() != "false"

    # -- load / release --------------------------------------------------------------------

    def open_sealed(self, files: list[FileRecord]) -> dict[int, SealedSegment]:
        """Read these segment files with every tombstone that applies to them (delta files and
        deletes not yet flushed). Caller holds the write lock."""
        segments = {f.segment_id: self._sealed(f) for f in files}
        for f in self.files:
            if f.kind == "delta":
                self._apply_delta(segments.values(), self._read(f.key, f.size, f.checksum))
        for gen in self.sealing:  # tombstones whose delta file is not committed yet
            self._apply_delta(segments.values(), gen.deletes.table(self.pk_type))
        self._apply_delta(segments.values(), self.growing.deletes.table(self.pk_type))
        return segments

    def load(self, partition_ids: Iterable[int] | None = None) -> None:
        """Open the sealed segments of these partitions (None: all), their indexes and delete
        logs; partitions already loaded stay as they are."""
        with self.lock:
            wanted = set(partition_ids if partition_ids is not None else self.partition_ids())
            wanted -= self.loaded_partitions
            if not wanted:
                return
            segments = self.open_sealed([f for f in self.files
                                         if f.kind == "segment" and f.partition_id in wanted])
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
            self.sealed.update(segments)
            self.loaded_partitions |= wanted
        self.engine.index_builder.schedule(self)

    @staticmethod
    def _apply_delta(segments: Iterable[SealedSegment], delta: pa.Table) -> None:
        """Apply a delete log's tombstones one delete at a time, oldest first (a row takes the
        timestamp of the first tombstone that hits it)."""
        if delta.num_rows == 0:
            return
        pks = delta.column(DELTA_PK).combine_chunks()
        ts = delta.column(DELTA_TS).to_numpy()
        scope = delta.column(DELTA_PARTITION).to_numpy()
        targets = list(segments)
        for t in np.unique(ts):
            at = ts == t
            for p in np.unique(scope[at]):
                chosen = pks.filter(pa.array(at & (scope == p)))
                for seg in targets:
                    if p == 0 or seg.partition_id == p:
                        seg.apply_delete(chosen, int(t))

    def release(self, partition_ids: Iterable[int] | None = None) -> None:
        with self.lock:
            gone = set(partition_ids) if partition_ids is not None else set(self.loaded_partitions)
            self.sealed = {sid: s for sid, s in self.sealed.items() if s.partition_id not in gone}
            self.loaded_partitions -= gone

    # -- reads -----------------------------------------------------------------------------

    def snapshot(self, operation: str = "query", read_ts: int = 0,
                 partitions: Sequence[str] = ()) -> Snapshot:
        """What a read sees: the segments of the named partitions (none named: every loaded
        one) and the timestamp it reads at.

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
            chosen = self.loaded_partitions
            if partitions:
                chosen = set(self.partition_ids(partitions))
                missing = sorted(chosen - self.loaded_partitions)
                if missing:
                    raise PartitionNotLoaded(missing[0], operation)
            segs = [s for s in self._all_segments() if s.partition_id in chosen]
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

    def num_rows(self, partition_id: int = 0) -> int:
        """Rows stored in one partition (0: in all), deleted rows included until compaction,
        as Milvus counts them."""
        with self.lock:
            sealed = sum(f.num_rows for f in self.files if f.kind == "segment"
                         and (not partition_id or f.partition_id == partition_id))
            growing = [s for g in (*self.sealing, self.growing) for s in g.segments.values()
                       if not partition_id or s.partition_id == partition_id]
            return sealed + sum(s.num_rows for s in growing)
