"""The engine: databases of collections in one data directory, and everything done to them.

Data directory layout: `LOCK` (one writer process), `catalog.sqlite` (the source of truth),
`wal/` (write-ahead log), `objects/` (segment, delta and index files by key). Opening recovers:
the catalog names the collections and their files; loaded collections open their files; then the
WAL is replayed from the oldest collection checkpoint, applying each record exactly once (records
at or below a collection's checkpoint are already in its files; records of dropped collections
are skipped). Any thread may call any public method.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine import compaction, hybrid, read, search
from elanus.engine.collection import MMAP_PROPERTY, Collection, check_property
from elanus.engine.indexing import IndexBuilder
from elanus.engine.iterators import IteratorPages
from elanus.engine.limits import DEFAULT_SEAL_BYTES, DEFAULT_SEAL_ROWS
from elanus.engine.partial import merged_columns
from elanus.engine.partitioning import check_isolation_property
from elanus.engine.requests import (
    CollectionInfo,
    CollectionStats,
    HybridSearchRequest,
    IndexInfo,
    MutationResult,
    PartitionInfo,
    QueryRequest,
    QueryResult,
    SearchRequest,
    SearchResult,
    SegmentInfo,
)
from elanus.engine.scalar_indexing import json_path_keys
from elanus.engine.tso import TimestampOracle
from elanus.engine.worker import Worker
from elanus.errors import (
    AliasAlreadyExists,
    AliasConflict,
    AliasNotFound,
    CollectionAlreadyExists,
    CollectionLoaded,
    CollectionNotFound,
    Corruption,
    DatabaseNotFound,
    FieldNotFound,
    IndexAlreadyExists,
    IndexNotFound,
    InvalidArgument,
    UnexpectedError,
)
from elanus.index.registry import resolve
from elanus.index.vector import IndexSpec
from elanus.schema import (
    DEFAULT_PARTITION,
    MAX_PARTITIONS,
    CollectionSchema,
    DataType,
    FieldSchema,
    altered_field,
    partition_names,
    validate_added_field,
    validate_database_name,
    validate_name,
    validate_partition_name,
    validate_schema,
)
from elanus.schema.analyzers import Token, analyzer
from elanus.schema.functions import FunctionSchema, check_function_change
from elanus.schema.multi_analyzer import row_analyzers, text_analysis
from elanus.schema.types import single_array
from elanus.storage import records
from elanus.storage.catalog import (
    Catalog,
    CollectionRecord,
    DatabaseRecord,
    IndexRecord,
    PartitionRecord,
)
from elanus.storage.lock import DataDirLock
from elanus.storage.objectstore import LocalObjectStore
from elanus.storage.wal import Wal

log = logging.getLogger(__name__)

INDEX_PROPERTIES = frozenset({MMAP_PROPERTY})  # what alter_index_properties may change
DEFAULT_DB = "default"
FAULT_ENV = "ELANUS_FAULT"  # crash tests: the fault point at which to die
FAULT_EXIT = 86
TSO_LIMIT = "tso_limit"  # the catalog key of the timestamp oracle's durable limit
MAX_DATABASES = 64  # Milvus's rootCoord.maxDatabaseNum
SCHEMA_TS_KEY = "update_ts"  # in a collection's stored schema: the version of the schema
MAINTENANCE_SECONDS = 60.0
SEAL_IDLE_SECONDS = 600.0  # a growing segment older than this seals even when small
CONSISTENCY_BOUNDED = 2
DYNAMIC_PROPERTY = "dynamicfield.enabled"


class Engine:
    def __init__(self, data_dir: str | Path, *, seal_rows: int = DEFAULT_SEAL_ROWS,
                 seal_bytes: int = DEFAULT_SEAL_BYTES, auto_compaction: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._dir_lock = DataDirLock(self.data_dir)
        self.seal_rows = seal_rows  # a growing segment seals at this many rows ...
        self.seal_bytes = seal_bytes  # ... or this many bytes, whichever comes first
        self.auto_compaction = auto_compaction
        self.catalog = Catalog(self.data_dir / "catalog.sqlite")
        self.store = LocalObjectStore(self.data_dir / "objects")
        self.wal = Wal.open(self.data_dir / "wal")
        self.tso = TimestampOracle(int(self.catalog.get_meta(TSO_LIMIT, "0")),
                                   persist=lambda limit: self.catalog.set_meta(TSO_LIMIT,
                                                                               str(limit)))
        self.iterators = IteratorPages()
        self._lock = threading.RLock()
        self._collections: dict[tuple[str, str], Collection] = {}
        self._databases = {d.name: d for d in self.catalog.databases()}
        self._aliases = {(db, alias): cid for db, alias, cid in self.catalog.aliases()}
        if DEFAULT_DB not in self._databases:
            default = DatabaseRecord(DEFAULT_DB, 1, self.tso.allocate(), {})
            self.catalog.put_database(default)
            self._databases[DEFAULT_DB] = default
        self.index_builder = IndexBuilder(self)
        self._flusher = Worker("seal", Collection.flush)
        self._compactor = Worker("compaction", compaction.compact)
        self._jobs: dict[int, compaction.Job] = {}
        self._fault_point = os.environ.get(FAULT_ENV, "")
        self._closed = False
        self._recover()
        self._flusher.start()
        self._compactor.start()
        self._stopping = threading.Event()
        self._ticker = threading.Thread(target=self._maintain, name="elanus-maintenance",
                                        daemon=True)
        self._ticker.start()

    # -- lifecycle -------------------------------------------------------------------------

    def _recover(self) -> None:
        by_id: dict[int, Collection] = {}
        partitions: dict[int, list[PartitionRecord]] = {}
        for p in self.catalog.partitions():
            partitions.setdefault(p.collection_id, []).append(p)
        for rec in self.catalog.collections():
            c = Collection(self, rec.id, rec.db, CollectionSchema.from_dict(rec.schema),
                           rec.created_ts, rec.consistency_level, rec.num_shards,
                           rec.properties, rec.checkpoint_lsn, partitions.get(rec.id, []),
                           load_all=rec.loaded,
                           schema_ts=rec.schema.get(SCHEMA_TS_KEY, rec.created_ts))
            by_id[rec.id] = c
            self._collections[(rec.db, c.name)] = c
        for ix in self.catalog.indexes():
            if ix.collection_id in by_id:
                by_id[ix.collection_id].indexes[ix.index_name] = IndexSpec(
                    ix.index_name, ix.field_name, ix.index_type, ix.metric_type, ix.params)
        for f in self.catalog.files():
            if f.collection_id in by_id:
                by_id[f.collection_id].files.append(f)
        start = min((c.checkpoint_lsn for c in by_id.values()), default=self.wal.last_lsn)
        replayed = 0
        for lsn, payload in self.wal.replay(start):
            record = records.decode(payload)
            target = by_id.get(record.collection_id)
            if target is None or lsn <= target.checkpoint_lsn:
                continue
            target.apply(record, lsn)
            self.tso.raise_floor(target.growing.max_ts)
            if isinstance(record, records.DeleteRecord):
                self.tso.raise_floor(record.ts)
            replayed += 1
        self._collect_garbage()
        for c in by_id.values():
            loaded = [p.id for p in c.partitions.values() if p.loaded]
            if not loaded:
                continue
            try:
                c.load(loaded)
            except Corruption as exc:  # reported by name; the rest of the database serves
                log.error("collection %s stays released: %s", c.name, exc)
        for c in by_id.values():
            self.index_builder.schedule(c)
        log.info("recovered %d collections, replayed %d WAL records", len(by_id), replayed)

    def _collect_garbage(self) -> None:
        """Delete stored files no catalog entry names: a crash between writing a file and
        committing it, or a drop that did not finish deleting. Runs before background work."""
        named = {f.key for f in self.catalog.files()}
        garbage = [k for k in self.store.list("collections/") if k not in named]
        for key in garbage:
            self.store.delete(key)
        if garbage:
            log.info("collected %d unreferenced files", len(garbage))

    def close(self) -> None:
        """Stop background work and release the data directory; acknowledged data is kept."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._ticker.join(timeout=10)
        self._flusher.stop()
        self._compactor.stop()
        self.index_builder.stop()
        self.wal.close()
        self.catalog.close()
        self._dir_lock.close()

    def new_segment_id(self) -> int:
        return self.catalog.next_id("segment")

    def request_flush(self, collection: Collection) -> None:
        self._flusher.submit(collection)

    def _maintain(self) -> None:
        """Every minute: seal growing segments that have waited long enough (so the WAL stays
        short and restarts fast), and let the compactor drop rows a TTL has expired."""
        while not self._stopping.wait(MAINTENANCE_SECONDS):
            now = time.monotonic()
            with self._lock:
                collections = list(self._collections.values())
            for c in collections:
                if c.growing.first_lsn and now - c.growing.first_at > SEAL_IDLE_SECONDS:
                    self.request_flush(c)
                if c.ttl_seconds:
                    self.request_compaction(c)

    def request_compaction(self, collection: Collection) -> None:
        """Let the compactor look for small or much-deleted segments (automatic compaction)."""
        if self.auto_compaction:
            self._compactor.submit(collection)

    def fault(self, point: str) -> None:
        """Crash here, as kill -9 would, when the crash tests name this point."""
        if point == self._fault_point:
            log.error("fault injection: crashing at %s", point)
            os._exit(FAULT_EXIT)

    def wait_idle(self, timeout: float) -> bool:
        """Wait for background seals, compactions and index builds to finish (tests, bench)."""
        return all(w.wait_idle(timeout) for w in (self._flusher, self._compactor)) and \
            self.index_builder.wait_idle(timeout)

    def wal_checkpoint_moved(self) -> None:
        """Delete WAL files every collection has sealed past.

        Each collection is read under its own lock, where its writers take their LSNs: a
        collection with nothing unsealed then can only log records numbered from the WAL's
        next LSN on, so that is its bound.
        """
        with self._lock:
            collections = list(self._collections.values())
        bound = self.wal.next_lsn
        for c in collections:
            with c.lock:
                bound = min(bound, c.unsealed_lsn() or self.wal.next_lsn)
        self.wal.truncate_before(bound)

    # -- collections -----------------------------------------------------------------------

    def _check_db(self, db: str) -> str:
        db = db or DEFAULT_DB
        with self._lock:
            if db not in self._databases:
                raise DatabaseNotFound(db)
        return db

    # -- databases -------------------------------------------------------------------------

    def create_database(self, name: str, properties: dict[str, str] | None = None) -> None:
        validate_database_name(name)
        with self._lock:
            if name in self._databases:
                raise UnexpectedError(f"database already exist: {name}")
            if len(self._databases) >= MAX_DATABASES:
                raise UnexpectedError(f"database number ({len(self._databases)}) exceeds max "
                                      f"configuration ({MAX_DATABASES})")
            rec = DatabaseRecord(name, self.catalog.next_id("database") + 1, self.tso.allocate(),
                                 dict(properties or {}))
            self.catalog.put_database(rec)
            self._databases[name] = rec

    def drop_database(self, name: str) -> None:
        validate_database_name(name)
        with self._lock:
            if name == DEFAULT_DB:
                raise UnexpectedError("can not drop default database")
            if name not in self._databases:
                return  # Milvus: dropping a database that does not exist succeeds
            if any(db == name for db, _ in self._collections):
                raise UnexpectedError(f"database:{name} not empty, must drop all collections "
                                      "before drop database")
            self.catalog.drop_database(name)
            del self._databases[name]

    def list_databases(self) -> list[DatabaseRecord]:
        with self._lock:
            return sorted(self._databases.values(), key=lambda d: d.id)

    def describe_database(self, name: str) -> DatabaseRecord:
        name = self._check_db(name)
        with self._lock:
            return self._databases[name]

    def alter_database_properties(self, name: str, changes: dict[str, str],
                                  delete_keys: list[str]) -> None:
        name = self._check_db(name)
        if not changes and not delete_keys:
            raise InvalidArgument("alter database with empty properties and delete keys, "
                                  "expected to set either properties or delete keys")
        if changes and delete_keys:
            raise InvalidArgument("alter database operation cannot have both properties and "
                                  "delete keys")
        with self._lock:
            rec = self._databases[name]
            props = {k: v for k, v in rec.properties.items() if k not in delete_keys}
            props.update(changes)
            rec = DatabaseRecord(rec.name, rec.id, rec.created_ts, props)
            self.catalog.put_database(rec)
            self._databases[name] = rec

    def database_property(self, db: str, key: str) -> str:
        with self._lock:
            rec = self._databases.get(db)
            return rec.properties.get(key, "") if rec is not None else ""

    def collection(self, db: str, name: str) -> Collection:
        """A collection by name or by one of its aliases; Milvus checks the name first."""
        try:
            return self._lookup(db, name)
        except CollectionNotFound:
            validate_name(name, "collection")
            raise

    def _lookup(self, db: str, name: str) -> Collection:
        """A collection by name or alias, without checking the name (create_index's order)."""
        db = self._check_db(db)
        with self._lock:
            c = self._collections.get((db, name))
            if c is None and (db, name) in self._aliases:
                c = self._by_id(self._aliases[(db, name)])
        if c is None:
            raise CollectionNotFound(name, db)
        return c

    def _by_id(self, cid: int) -> Collection | None:
        return next((c for c in self._collections.values() if c.id == cid), None)

    # -- aliases ---------------------------------------------------------------------------

    def create_alias(self, db: str, collection: str, alias: str) -> None:
        db = self._check_db(db)
        validate_name(collection, "collection")
        validate_name(alias, "collection alias")
        with self._lock:
            c = self._alias_target(db, collection, alias)
            if (db, alias) in self._aliases:
                owner = self._by_id(self._aliases[(db, alias)])
                if owner is c:
                    return  # Milvus: re-creating an alias of the same collection succeeds
                raise AliasAlreadyExists(alias, owner.name if owner else "", db)
            self.catalog.put_alias(db, alias, c.id)
            self._aliases[(db, alias)] = c.id

    def alter_alias(self, db: str, collection: str, alias: str) -> None:
        db = self._check_db(db)
        validate_name(collection, "collection")
        validate_name(alias, "collection alias")
        with self._lock:
            c = self._alias_target(db, collection, alias)
            if (db, alias) not in self._aliases:
                raise AliasNotFound(alias, db)
            self.catalog.put_alias(db, alias, c.id)
            self._aliases[(db, alias)] = c.id

    def _alias_target(self, db: str, collection: str, alias: str) -> Collection:
        """The collection an alias is to name (not through another alias). Holds _lock."""
        c = self._collections.get((db, collection))
        if c is None:
            raise CollectionNotFound(collection, db)
        if (db, alias) in self._collections:
            raise AliasConflict(alias, db)
        return c

    def drop_alias(self, db: str, alias: str) -> None:
        db = self._check_db(db)
        validate_name(alias, "collection alias")
        with self._lock:
            if self._aliases.pop((db, alias), None) is not None:
                self.catalog.drop_alias(db, alias)

    def describe_alias(self, db: str, alias: str) -> tuple[str, str]:
        """(database, collection name) of an alias."""
        db = self._check_db(db)
        validate_name(alias, "collection alias")
        with self._lock:
            cid = self._aliases.get((db, alias))
            c = self._by_id(cid) if cid is not None else None
        if c is None:
            raise AliasNotFound(alias, db)
        return db, c.name

    def list_aliases(self, db: str, collection: str = "") -> list[str]:
        db = self._check_db(db)
        with self._lock:
            cid = None
            if collection:
                c = self._collections.get((db, collection))
                if c is None:
                    raise CollectionNotFound(collection, db)
                cid = c.id
            return sorted(a for (d, a), i in self._aliases.items()
                          if d == db and (cid is None or i == cid))

    def rename_collection(self, db: str, old: str, new: str, new_db: str = "") -> None:
        db = self._check_db(db)
        new_db = new_db or db
        validate_name(new, "collection")
        if (db, old) == (new_db, new):
            raise InvalidArgument("collection name or database name should be different")
        with self._lock:
            if new_db not in self._databases:
                raise UnexpectedError(f"target database:{new_db} not found")
            if (db, old) in self._aliases:
                raise UnexpectedError(f"unsupported use an alias to rename collection, "
                                      f"alias:{old}")
            c = self._collections.get((db, old))
            if c is None:
                raise CollectionNotFound(old, db)
            if (new_db, new) in self._aliases:
                raise UnexpectedError(f"cannot rename collection to an existing alias: {new}")
            if (new_db, new) in self._collections:
                raise UnexpectedError(f"duplicated new collection name {new_db}:{new} with other "
                                      "collection name or alias")
            if new_db != db and self.list_aliases(db, old):
                raise UnexpectedError("fail to rename db name, must drop all aliases of this "
                                      "collection before rename")
            with c.lock:
                schema = replace(c.schema, name=new)
                self.catalog.rename_collection(c.id, new_db, new,
                                               _schema_record(schema, c.schema_ts))
                c.schema, c.db = schema, new_db
                for seg in c.sealed.values():
                    seg.schema = schema
            del self._collections[(db, old)]
            self._collections[(new_db, new)] = c

    def create_collection(self, db: str, schema: CollectionSchema, *,
                          consistency_level: int = CONSISTENCY_BOUNDED, num_shards: int = 1,
                          properties: dict[str, str] | None = None,
                          num_partitions: int = 0) -> None:
        """Create a collection; with a partition key, `num_partitions` hidden partitions
        (0: Milvus's default), otherwise the one `_default` partition."""
        db = self._check_db(db)
        schema = validate_schema(schema)
        for key, value in (properties or {}).items():
            check_property(key, value)
        check_isolation_property(schema.name, any(f.is_partition_key for f in schema.fields),
                                 False, properties or {})
        names = partition_names(schema, num_partitions)
        with self._lock:
            if (db, schema.name) in self._aliases:
                raise UnexpectedError(f"collection name [{schema.name}] conflicts with an "
                                      "existing alias, please choose a unique name")
            existing = self._collections.get((db, schema.name))
            if existing is not None:
                if existing.schema.to_dict() == schema.to_dict():
                    return  # Milvus: re-creating with an identical schema succeeds
                raise CollectionAlreadyExists(schema.name, db)
            cid = self.catalog.next_id("collection")
            created = self.tso.allocate()
            rec = CollectionRecord(cid, db, schema.name, schema.to_dict(), properties or {},
                                   consistency_level, max(1, num_shards), created, False,
                                   self.wal.last_lsn)
            first = self.catalog.next_id("partition", len(names))
            partitions = [PartitionRecord(cid, n, first + i, created)
                          for i, n in enumerate(names)]
            self.catalog.create_collection(rec, partitions)
            self._collections[(db, schema.name)] = Collection(
                self, cid, db, schema, created, consistency_level, rec.num_shards,
                rec.properties, rec.checkpoint_lsn, partitions)

    def drop_collection(self, db: str, name: str) -> None:
        c = self.collection(db, name)
        with self._lock, c.lock:
            if (c.db, name) in self._aliases:
                raise UnexpectedError(f"cannot drop the collection via alias = {name}")
            aliases = sorted(a for (d, a), i in self._aliases.items() if i == c.id)
            if aliases:
                raise UnexpectedError(f"unable to drop the collection [{c.name}] because it has "
                                      f"associated aliases [{' '.join(aliases)}], please remove "
                                      "all aliases before dropping the collection")
            garbage = self.catalog.drop_collection(c.id)
            del self._collections[(c.db, name)]
            c.dropped = True  # background seals, compactions and builds now commit nothing
            c.release()
        self.fault("drop:after-commit")
        for key in garbage:
            self.store.delete(key)
        shutil.rmtree(self.store.root / "collections" / str(c.id), ignore_errors=True)
        self.wal_checkpoint_moved()

    def has_collection(self, db: str, name: str) -> bool:
        db = self._check_db(db)
        validate_name(name, "collection")
        with self._lock:
            return (db, name) in self._collections or (db, name) in self._aliases

    def list_collections(self, db: str) -> list[str]:
        db = self._check_db(db)
        with self._lock:
            return [c.name for c in sorted(self._collections.values(), key=lambda c: c.id)
                    if c.db == db]

    def describe_collection(self, db: str, name: str) -> CollectionInfo:
        c = self.collection(db, name)
        with c.lock:
            partitions = tuple(c.partitions)
        return CollectionInfo(c.id, c.db, c.name, c.schema, c.created_ts, c.consistency_level,
                              c.num_shards, dict(c.properties), partitions,
                              tuple(self.list_aliases(c.db, c.name)), c.schema_ts)

    # -- partitions ------------------------------------------------------------------------

    def create_partition(self, db: str, name: str, partition: str) -> None:
        c = self.collection(db, name)
        validate_partition_name(partition)
        with c.lock:
            c.check_live()
            if c.partition_key is not None:
                raise UnexpectedError("disable create partition if partition key mode is used")
            if partition in c.partitions:
                return  # Milvus: re-creating a partition succeeds and changes nothing
            if len(c.partitions) >= MAX_PARTITIONS:
                raise UnexpectedError(f"partition number ({len(c.partitions)}) exceeds max "
                                      f"configuration ({MAX_PARTITIONS}), collection: {c.name}")
            rec = PartitionRecord(c.id, partition, self.catalog.next_id("partition"),
                                  self.tso.allocate(), loaded=c.load_all)
            self.catalog.put_partition(rec)
            c.partitions[partition] = rec
            if c.load_all:  # Milvus loads partitions created in a loaded collection
                c.loaded_partitions.add(rec.id)

    def drop_partition(self, db: str, name: str, partition: str) -> None:
        c = self.collection(db, name)
        with c.lock:
            c.check_live()
            if c.partition_key is not None:
                raise UnexpectedError("disable drop partition if partition key mode is used")
            validate_partition_name(partition)
            rec = c.partitions.get(partition)
            if rec is None:
                return  # Milvus: dropping a partition that does not exist succeeds
            if rec.id in c.loaded_partitions:
                raise UnexpectedError("partition cannot be dropped, partition is loaded, please "
                                      "release it first")
            if partition == DEFAULT_PARTITION:
                raise UnexpectedError("default partition cannot be deleted")
            garbage = self.catalog.drop_partition(c.id, rec.id)
            c.forget_partition(rec.id, garbage)
        for key in garbage:
            self.store.delete(key)

    def has_partition(self, db: str, name: str, partition: str) -> bool:
        c = self.collection(db, name)
        validate_partition_name(partition)
        with c.lock:
            return partition in c.partitions

    def list_partitions(self, db: str, name: str) -> list[PartitionInfo]:
        c = self.collection(db, name)
        with c.lock:
            return [PartitionInfo(p.name, p.id, p.created_ts, p.id in c.loaded_partitions)
                    for p in c.partitions.values()]

    def partition_stats(self, db: str, name: str, partition: str) -> CollectionStats:
        c = self.collection(db, name)
        with c.lock:
            return CollectionStats(c.num_rows(c.partition(partition).id))

    def alter_collection_properties(self, db: str, name: str, changes: dict[str, str],
                                    delete_keys: list[str]) -> None:
        """Set and remove collection properties; TTL changes apply to the next read.
        `dynamicfield.enabled` is not a property but a schema change, alone in its call."""
        c = self.collection(db, name)
        if changes and delete_keys:
            raise InvalidArgument("cannot provide both DeleteKeys and ExtraParams")
        if DYNAMIC_PROPERTY in delete_keys:
            raise InvalidArgument(f"cannot delete key {DYNAMIC_PROPERTY}")
        if DYNAMIC_PROPERTY in changes:
            if len(changes) > 1:
                raise InvalidArgument("cannot alter dynamic schema with other properties at the "
                                      "same time")
            self._set_dynamic_field(c, changes[DYNAMIC_PROPERTY])
            return
        for key, value in changes.items():
            check_property(key, value)
        with c.lock:
            check_isolation_property(c.name, c.partition_key is not None,
                                     any(s.metric_type for s in c.indexes.values()), changes)
            if MMAP_PROPERTY in {*changes, *delete_keys} and c.loaded:
                verb = "alter" if changes else "delete"
                raise CollectionLoaded(c.name, f"can not {verb} mmap properties if collection "
                                                "loaded")
            props = {k: v for k, v in c.properties.items() if k not in delete_keys}
            props.update(changes)
            self.catalog.set_properties(c.id, props)
            c.properties = props

    def _set_dynamic_field(self, c: Collection, raw: str) -> None:
        enable = str(raw).lower()
        if enable not in ("true", "false"):
            raise InvalidArgument(f"invalid {DYNAMIC_PROPERTY} value: {raw}, expected true or "
                                  "false")
        with c.lock:
            if c.schema.enable_dynamic_field == (enable == "true"):
                return
            if enable == "false":
                raise InvalidArgument("dynamic schema cannot supported to be disabled")
            self._evolve(c, replace(c.schema, enable_dynamic_field=True))

    def _evolve(self, c: Collection, schema: CollectionSchema) -> None:
        """Commit a changed schema under a new version timestamp, then apply it to the live
        collection. Holds c.lock."""
        c.check_live()
        ts = self.tso.allocate()
        self.catalog.set_schema(c.id, _schema_record(schema, ts))
        c.evolve(schema, ts)

    def add_field(self, db: str, name: str, field: FieldSchema) -> None:
        """add_collection_field: a nullable field that existing rows read as its default."""
        c = self.collection(db, name)
        with c.lock:
            self._evolve(c, validate_added_field(c.schema, field))

    def change_function(self, db: str, name: str, change: str, function_name: str = "",
                        fn: FunctionSchema | None = None) -> None:
        """add_, alter_ and drop_collection_function (see `check_function_change`)."""
        c = self._lookup(db, name)
        with c.lock:
            check_function_change(c.schema, change, function_name, fn)

    def alter_field(self, db: str, name: str, field_name: str, changes: dict[str, str],
                    delete_keys: list[str]) -> None:
        """alter_collection_field: max_length, max_capacity, mmap.enabled of one field."""
        c = self.collection(db, name)
        with c.lock:
            f = c.schema.field(field_name)
            if f is None:
                raise FieldNotFound(field_name, name)
            mmap = "mmap.enabled" in delete_keys or bool({"mmap.enabled", "mmap_enabled"}
                                                         & set(changes))
            if mmap and c.loaded:
                verb = "alter" if changes else "drop"
                raise CollectionLoaded(c.name, f"can not {verb} collection field properties if "
                                                "collection loaded")
            new = altered_field(f, changes, delete_keys)
            fields = tuple(new if g.name == field_name else g for g in c.schema.fields)
            self._evolve(c, replace(c.schema, fields=fields))

    def collection_by_id(self, cid: int) -> Collection:
        with self._lock:
            found = self._by_id(cid)
        if found is None:
            raise CollectionNotFound(str(cid))
        return found

    # -- indexes ---------------------------------------------------------------------------

    def create_index(self, db: str, name: str, field_name: str, index_name: str,
                     params: dict[str, str]) -> None:
        c = self._lookup(db, name)
        f = c.schema.field(field_name)
        if f is None:
            if not c.schema.enable_dynamic_field:
                raise UnexpectedError(f"cannot create index on non-exist field: {field_name}")
            f = FieldSchema(field_name, DataType.JSON)  # a key of the dynamic field
        if index_name:
            validate_name(index_name, "index")
        spec = resolve(f, index_name or field_name, params,
                       bm25_output=c.schema.function_of(f.name) is not None)
        json_path = spec.params.get("json_path")
        if f.dtype == DataType.JSON:
            keys = json_path_keys(spec.params["json_path"], f.name)  # the path must parse
            if not index_name:  # Milvus names it by its field and keys: my_json/a/b
                spec = replace(spec, index_name="/".join([f.name, *map(str, keys)]))
        index_name = spec.index_name
        with c.lock:
            on_field = next((s for s in c.indexes.values() if s.field_name == field_name
                             and s.params.get("json_path") == json_path), None)
            if on_field is not None:
                if on_field.index_name == index_name and on_field.params == spec.params:
                    return  # identical re-creation succeeds, as in Milvus
                raise IndexAlreadyExists(field_name)
            if index_name in c.indexes:
                raise InvalidArgument(f"index name {index_name} already exists on another field")
            self.catalog.add_index(IndexRecord(c.id, index_name, field_name, spec.index_type,
                                               spec.metric_type, spec.params))
            c.indexes[index_name] = spec
        self.index_builder.schedule(c)

    def drop_index(self, db: str, name: str, index_name: str, field_name: str = "") -> None:
        c = self.collection(db, name)
        with c.lock:
            spec = c.indexes.get(index_name) if index_name else c.index_on(field_name)
            if c.loaded:
                raise UnexpectedError("index cannot be dropped, collection is loaded, please "
                                      "release it first")
            if spec is None:
                return  # Milvus: dropping an index that does not exist succeeds
            garbage = self.catalog.drop_index(c.id, spec.index_name)
            del c.indexes[spec.index_name]
            self.index_builder.failures.pop((c.id, spec.index_name), None)
            c.files = [f for f in c.files if f.key not in set(garbage)]
        for key in garbage:
            self.store.delete(key)

    def alter_index_properties(self, db: str, name: str, index_name: str,
                               changes: dict[str, str], delete_keys: list[str]) -> None:
        """Set or reset an index's properties; Milvus has one, `mmap.enabled`, which changes
        where the index lives, so the collection must be released first."""
        c = self.collection(db, name)
        if changes and delete_keys:
            raise InvalidArgument("cannot provide both DeleteKeys and ExtraParams")
        for key in [*changes, *delete_keys]:
            if key not in INDEX_PROPERTIES:
                raise InvalidArgument(f"{key} is not a configurable index property")
        for key, value in changes.items():
            check_property(key, value)
        with c.lock:
            spec = c.indexes.get(index_name)
            if spec is None:
                raise IndexNotFound("indexName", index_name)
            if c.loaded:
                verb = "alter" if changes else "delete"
                raise CollectionLoaded(c.name, f"can not {verb} mmap properties if collection "
                                                "loaded")
            params = {k: v for k, v in spec.params.items() if k not in delete_keys}
            params.update({k: v.lower() for k, v in changes.items()})
            altered = replace(spec, params=params)
            self.catalog.add_index(IndexRecord(c.id, altered.index_name, altered.field_name,
                                               altered.index_type, altered.metric_type, params))
            c.indexes[index_name] = altered
        self.index_builder.schedule(c)  # a build that raced the change is discarded: redo it

    def describe_index(self, db: str, name: str, index_name: str = "",
                       field_name: str = "") -> list[IndexInfo]:
        c = self.collection(db, name)
        with c.lock:
            specs = [s for s in c.indexes.values()
                     if (not index_name or s.index_name == index_name)
                     and (not field_name or s.field_name == field_name)]
            if not specs:
                raise IndexNotFound("indexName", index_name)
            # As Milvus counts them: rows of sealed (flushed) segments only.
            total = sum(f.num_rows for f in c.files if f.kind == "segment")
            infos = []
            for s in specs:
                done = sum(f.num_rows for f in c.files
                           if f.kind == "index" and f.index_name == s.index_name)
                pending = total - done if s.metric_type else 0
                failure = self.index_builder.failures.get((c.id, s.index_name), "")
                state = "Failed" if failure else ("Finished" if pending == 0 else "InProgress")
                infos.append(IndexInfo(s.index_name, s.field_name, s.index_type, s.metric_type,
                                       dict(s.params), total,
                                       done if s.metric_type else total, pending, state, failure))
        return infos

    # -- load ------------------------------------------------------------------------------

    def load_collection(self, db: str, name: str) -> None:
        self.load_partitions(db, name, [])

    def load_partitions(self, db: str, name: str, partitions: Sequence[str]) -> None:
        """Load the named partitions, or (none named) the whole collection, including the
        partitions created later."""
        c = self.collection(db, name)
        if partitions and c.partition_key is not None:
            raise UnexpectedError("disable load partitions if partition key mode is used")
        if not c.indexes:
            raise IndexNotFound("collection", name)
        bare = [f.name for f in c.schema.vector_fields if c.index_on(f.name) is None]
        if bare:
            raise UnexpectedError(f"there is no vector index on field: [{' '.join(bare)}], "
                                  "please create index firstly")
        with c.lock:
            ids = c.partition_ids(partitions)
            c.load(ids)
            if not partitions:
                c.load_all = True
            self.catalog.set_partitions_loaded(c.id, dict.fromkeys(ids, True),
                                               True if not partitions else None)

    def release_collection(self, db: str, name: str) -> None:
        self.release_partitions(db, name, [])

    def release_partitions(self, db: str, name: str, partitions: Sequence[str]) -> None:
        """Release the named partitions, or (none named) the whole collection."""
        c = self.collection(db, name)
        if partitions and c.partition_key is not None:
            raise UnexpectedError("disable release partitions if partition key mode is used")
        with c.lock:
            ids = c.partition_ids(partitions)
            c.release(ids)
            c.load_all = False
            self.catalog.set_partitions_loaded(c.id, dict.fromkeys(ids, False), False)

    def load_state(self, db: str, name: str, partitions: Sequence[str] = ()) -> bool:
        """Whether the named partitions are all loaded; none named: whether any is."""
        c = self.collection(db, name)
        with c.lock:
            if not partitions:
                return c.loaded
            return set(c.partition_ids(partitions)) <= c.loaded_partitions

    # -- writes ----------------------------------------------------------------------------

    def insert(self, db: str, name: str, columns: dict[str, pa.Array], num_rows: int,
               upsert: bool = False, partition: str = "", schema_ts: int = 0,
               partial: bool = False) -> MutationResult:
        """Insert rows, or upsert them; a `partial` upsert keeps the stored values of the
        fields its rows leave out."""
        c = self.collection(db, name)
        if num_rows <= 0:
            raise InvalidArgument("the number of rows to insert must be positive")
        keys = columns.get(c.schema.primary.name) if upsert else None
        if keys is not None and pc.count_distinct(keys).as_py() < len(keys):
            raise InvalidArgument("duplicate primary keys are not allowed in the same batch")
        if partial:
            with c.lock:  # no write lands between reading the stored rows and the upsert
                merged = merged_columns(c, columns, num_rows)
                table, ts = c.insert(merged, num_rows, upsert=True, partition=partition,
                                     schema_ts=schema_ts)
        else:
            table, ts = c.insert(columns, num_rows, upsert=upsert, partition=partition,
                                 schema_ts=schema_ts)
        ids = single_array(table.column(c.schema.primary.name))
        if upsert:
            return MutationResult(ids, upsert_count=num_rows, timestamp=ts)
        return MutationResult(ids, insert_count=num_rows, timestamp=ts)

    def delete(self, db: str, name: str, filter_text: str,
               params: dict[str, object] | None = None, partition: str = "") -> MutationResult:
        """Delete by filter, in one partition or (none named) in all."""
        c = self.collection(db, name)
        flt = read.delete_plan(c, filter_text, params or {})
        listed = read.listed_pks(c, flt)
        if listed is not None:
            # `pk in [...]` needs no loaded collection, and Milvus counts the keys it was given.
            _, ts = c.delete(listed, partition)
            return MutationResult(pa.array([], type=c.pk_type), delete_count=len(listed),
                                  timestamp=ts)
        pks = read.matching_pks(c, flt, partition)
        count, ts = c.delete(pks, partition) if len(pks) else (0, self.tso.allocate())
        return MutationResult(pa.array([], type=c.pk_type), delete_count=count, timestamp=ts)

    def flush(self, db: str, name: str) -> list[int]:
        return self.collection(db, name).flush()

    def truncate_collection(self, db: str, name: str) -> None:
        """Remove every row, keeping the schema, indexes and load state."""
        c = self.collection(db, name)
        garbage = c.truncate()
        for key in garbage:
            self.store.delete(key)
        self.wal_checkpoint_moved()

    # -- compaction ------------------------------------------------------------------------

    def compact(self, db: str, name: str, clustering: bool = False) -> int:
        """Start a manual compaction (major, or clustering by the clustering key); returns its
        job id at once."""
        c = self.collection(db, name)
        if clustering and not any(f.is_clustering_key for f in c.schema.fields):
            raise InvalidArgument("the collection has no clustering key: clustering compaction "
                                  "needs one")
        job = compaction.Job(self.catalog.next_id("compaction"), c.id)
        with self._lock:
            self._jobs[job.job_id] = job
        self._compactor.submit(c, lambda: compaction.compact(c, job, major=True,
                                                             clustering=clustering))
        return job.job_id

    def compaction_job(self, job_id: int) -> compaction.Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    # -- reads -----------------------------------------------------------------------------

    def run_analyzer(self, texts: list[str], params: str = "", db: str = DEFAULT_DB,
                     collection: str = "", field_name: str = "",
                     analyzer_names: Sequence[str] = ()) -> list[list[Token]]:
        """Each text's tokens: by `params`, or by the analyzer of a collection's field (of a
        multi-language field: the one `analyzer_names` names, one for all texts or one each,
        else its default)."""
        if not collection:
            chosen = analyzer(params)
            return [chosen.tokens(text) for text in texts]
        c = self.collection(db, collection)
        f = c.schema.field(field_name)
        if f is None:
            raise FieldNotFound(field_name, collection)
        analysis = text_analysis(c.schema, f)
        if len(analyzer_names) not in (0, 1, len(texts)):
            raise InvalidArgument(f"the number of analyzer names ({len(analyzer_names)}) must "
                                  f"be 1 or the number of texts ({len(texts)})")
        names = list(analyzer_names) * (len(texts) if len(analyzer_names) == 1 else 1)
        per_text = row_analyzers(analysis, names or [None] * len(texts), len(texts))
        return [a.tokens(text) for a, text in zip(per_text, texts)]

    def search(self, req: SearchRequest) -> SearchResult:
        if req.iterator is not None:
            req = replace(req, iterator=self.iterators.resume(req.iterator))
        result = search.run(self.collection(req.db, req.collection), req)
        if result.iterator is not None:
            self.iterators.keep(result.iterator)
        return result

    def hybrid_search(self, req: HybridSearchRequest) -> SearchResult:
        """Several searches of one collection, fused into one ranking by `req.ranker`."""
        return hybrid.run(self.collection(req.db, req.collection), req)

    def query(self, req: QueryRequest) -> QueryResult:
        return read.query(self.collection(req.db, req.collection), req)

    def segment_infos(self, db: str, name: str) -> list[SegmentInfo]:
        """Every segment of a collection: flushed files, segments being sealed, growing ones."""
        c = self.collection(db, name)
        with c.lock:
            indexed = {f.segment_id: f.index_name for f in c.files if f.kind == "index"}
            out = [SegmentInfo(f.segment_id, f.num_rows, "Flushed", f.segment_id in c.sealed,
                               indexed.get(f.segment_id, ""), f.partition_id)
                   for f in c.files if f.kind == "segment"]
            out += [SegmentInfo(s.id, s.num_rows, "Sealed", s.partition_id in c.loaded_partitions,
                                partition_id=s.partition_id)
                    for g in c.sealing for s in g.segments.values()]
            out += [SegmentInfo(s.id, s.num_rows, "Growing", s.partition_id in c.loaded_partitions,
                                partition_id=s.partition_id)
                    for s in c.growing.segments.values() if s.num_rows]
        return out

    def collection_stats(self, db: str, name: str) -> CollectionStats:
        return CollectionStats(self.collection(db, name).num_rows())


def _schema_record(schema: CollectionSchema, ts: int) -> dict[str, object]:
    """A schema as the catalog stores it, with its version timestamp."""
    return {**schema.to_dict(), SCHEMA_TS_KEY: ts}
