"""The catalog: the one source of truth for which collections, indexes and files exist.

Stored in SQLite (`catalog.sqlite` in the data directory) in WAL journal mode with
synchronous=FULL: every change is one transaction, durable when the call returns, and a crash
leaves either the old or the new state. Segment, delta and index files are written (and fsynced)
before the transaction that names them commits; files no transaction names are garbage, collected
later, never half of a collection.

Every row carries a CRC-32 of its values (column `crc`), checked whenever the row is read, so a
damaged catalog is reported as Corruption naming the table and row, never served; SQLite's
`quick_check` at open covers the page structure.

Values crossing this boundary are frozen dataclasses. Any thread may call; one lock serialises
access to the connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from elanus.errors import Corruption
from elanus.storage.files import checksum

FORMAT_KEY = "format"
FORMAT_VERSION = 2  # 2: partitions table, files by partition id

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (
    db TEXT NOT NULL,
    alias TEXT NOT NULL,
    collection_id INTEGER NOT NULL,
    crc INTEGER NOT NULL,
    PRIMARY KEY (db, alias)
);
CREATE TABLE IF NOT EXISTS databases (
    name TEXT PRIMARY KEY,
    id INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    properties TEXT NOT NULL,
    crc INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY,
    db TEXT NOT NULL,
    name TEXT NOT NULL,
    schema TEXT NOT NULL,
    properties TEXT NOT NULL,
    consistency_level INTEGER NOT NULL,
    num_shards INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    loaded INTEGER NOT NULL,
    checkpoint_lsn INTEGER NOT NULL,
    crc INTEGER NOT NULL,
    UNIQUE (db, name)
);
CREATE TABLE IF NOT EXISTS indexes (
    collection_id INTEGER NOT NULL,
    index_name TEXT NOT NULL,
    field_name TEXT NOT NULL,
    index_type TEXT NOT NULL,
    metric_type TEXT NOT NULL,
    params TEXT NOT NULL,
    crc INTEGER NOT NULL,
    PRIMARY KEY (collection_id, index_name)
);
CREATE TABLE IF NOT EXISTS partitions (
    collection_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    id INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    loaded INTEGER NOT NULL,
    crc INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name)
);
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY,
    collection_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    segment_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    checksum INTEGER NOT NULL,
    num_rows INTEGER NOT NULL,
    partition_id INTEGER NOT NULL,
    index_name TEXT NOT NULL,
    max_ts INTEGER NOT NULL,
    crc INTEGER NOT NULL
);
"""

_COLUMNS = {
    "meta": ("key", "value"),
    "databases": ("name", "id", "created_ts", "properties"),
    "aliases": ("db", "alias", "collection_id"),
    "collections": ("id", "db", "name", "schema", "properties", "consistency_level",
                    "num_shards", "created_ts", "loaded", "checkpoint_lsn"),
    "indexes": ("collection_id", "index_name", "field_name", "index_type", "metric_type",
                "params"),
    "partitions": ("collection_id", "name", "id", "created_ts", "loaded"),
    "files": ("key", "collection_id", "kind", "segment_id", "size", "checksum", "num_rows",
              "partition_id", "index_name", "max_ts"),
}


def _row_crc(table: str, values: Sequence[Any]) -> int:
    return checksum(json.dumps([table, *values], separators=(",", ":")).encode())


def _put(db: sqlite3.Connection, table: str, values: Sequence[Any]) -> None:
    """Insert or replace one row with its checksum."""
    marks = ",".join("?" * (len(values) + 1))
    db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({marks})",
               (*values, _row_crc(table, values)))


def _get(db: sqlite3.Connection, path: Path, table: str, where: str = "",
         args: Sequence[Any] = (), order: str = "rowid") -> list[tuple[Any, ...]]:
    """Rows of `table` (all columns but crc), each checked against its checksum."""
    cols = ", ".join(_COLUMNS[table])
    try:
        rows = db.execute(f"SELECT {cols}, crc FROM {table} {where} ORDER BY {order}",
                          tuple(args)).fetchall()
    except sqlite3.DatabaseError as exc:
        raise Corruption(str(path), f"table {table}: {exc}") from exc
    out = []
    for row in rows:
        values = row[:-1]
        if _row_crc(table, values) != row[-1]:
            raise Corruption(str(path), f"table {table}, row {values[0]!r}: checksum mismatch")
        out.append(values)
    return out


@dataclass(frozen=True)
class DatabaseRecord:
    name: str
    id: int
    created_ts: int
    properties: dict[str, str]


@dataclass(frozen=True)
class CollectionRecord:
    id: int
    db: str
    name: str
    schema: dict[str, Any]
    properties: dict[str, str]
    consistency_level: int
    num_shards: int
    created_ts: int
    loaded: bool
    checkpoint_lsn: int


@dataclass(frozen=True)
class PartitionRecord:
    collection_id: int
    name: str
    id: int
    created_ts: int
    loaded: bool = False


@dataclass(frozen=True)
class IndexRecord:
    collection_id: int
    index_name: str
    field_name: str
    index_type: str
    metric_type: str
    params: dict[str, str]


@dataclass(frozen=True)
class FileRecord:
    """A checksummed file the catalog names: a segment, a delete log, or a segment's index."""

    key: str
    collection_id: int
    kind: str  # "segment" | "delta" | "index"
    segment_id: int
    size: int
    checksum: int
    num_rows: int
    partition_id: int = 0
    index_name: str = ""
    # delta files: the newest tombstone's timestamp; segments written by compaction: the
    # timestamp whose tombstones they absorbed (0 for segments sealed from growing ones)
    max_ts: int = 0


@dataclass
class Commit:
    """One catalog transaction's worth of file changes for a collection."""

    collection_id: int
    add: list[FileRecord] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    checkpoint_lsn: int | None = None


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            ok = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise Corruption(str(path), ok)
            fresh = not self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE name='collections'").fetchone()
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise Corruption(str(path), str(exc)) from exc
        if fresh:
            self.set_meta(FORMAT_KEY, str(FORMAT_VERSION))
        found = self.get_meta(FORMAT_KEY, "1")
        if found != str(FORMAT_VERSION):
            raise Corruption(str(path), f"catalog format {found}; this elanus reads format "
                                        f"{FORMAT_VERSION} only")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _read(self, table: str, where: str = "", args: Sequence[Any] = (),
              order: str = "rowid") -> list[tuple[Any, ...]]:
        with self._lock:
            return _get(self._db, self.path, table, where, args, order)

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str, default: str = "") -> str:
        rows = self._read("meta", "WHERE key=?", (key,))
        return str(rows[0][1]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            _put(db, "meta", (key, value))

    def next_id(self, kind: str, count: int = 1) -> int:
        """Allocate `count` consecutive ids of `kind`; returns the first. Durable."""
        key = f"next_{kind}"
        with self._tx() as db:
            rows = _get(db, self.path, "meta", "WHERE key=?", (key,))
            first = int(rows[0][1]) if rows else 1
            _put(db, "meta", (key, str(first + count)))
        return first

    # -- databases -------------------------------------------------------------------------

    def databases(self) -> list[DatabaseRecord]:
        try:
            return [DatabaseRecord(r[0], r[1], r[2], json.loads(r[3]))
                    for r in self._read("databases", order="id")]
        except ValueError as exc:
            raise Corruption(str(self.path), f"table databases: {exc}") from exc

    def put_database(self, rec: DatabaseRecord) -> None:
        with self._tx() as db:
            _put(db, "databases", (rec.name, rec.id, rec.created_ts, json.dumps(rec.properties)))

    def drop_database(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM databases WHERE name=?", (name,))

    # -- aliases ---------------------------------------------------------------------------

    def aliases(self) -> list[tuple[str, str, int]]:
        """(database, alias, collection id) for every alias."""
        return [(r[0], r[1], r[2]) for r in self._read("aliases")]

    def put_alias(self, db_name: str, alias: str, collection_id: int) -> None:
        with self._tx() as db:
            _put(db, "aliases", (db_name, alias, collection_id))

    def drop_alias(self, db_name: str, alias: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM aliases WHERE db=? AND alias=?", (db_name, alias))

    def rename_collection(self, collection_id: int, db_name: str, name: str,
                          schema: dict[str, Any]) -> None:
        with self._tx() as conn:
            self._update_collection(conn, collection_id, db=db_name, name=name,
                                    schema=json.dumps(schema))

    # -- collections -----------------------------------------------------------------------

    def collections(self) -> list[CollectionRecord]:
        try:
            return [CollectionRecord(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5],
                                     r[6], r[7], bool(r[8]), r[9])
                    for r in self._read("collections", order="id")]
        except ValueError as exc:
            raise Corruption(str(self.path), f"table collections: {exc}") from exc

    def create_collection(self, rec: CollectionRecord, partitions: list[PartitionRecord]) -> None:
        with self._tx() as db:
            _put(db, "collections", _collection_row(rec))
            for p in partitions:
                _put(db, "partitions", _partition_row(p))

    def drop_collection(self, collection_id: int) -> list[str]:
        """Forget a collection; returns the keys of its files, now garbage."""
        with self._tx() as db:
            keys = [r[0] for r in db.execute(
                "SELECT key FROM files WHERE collection_id=?", (collection_id,))]
            db.execute("DELETE FROM files WHERE collection_id=?", (collection_id,))
            db.execute("DELETE FROM aliases WHERE collection_id=?", (collection_id,))
            db.execute("DELETE FROM indexes WHERE collection_id=?", (collection_id,))
            db.execute("DELETE FROM partitions WHERE collection_id=?", (collection_id,))
            db.execute("DELETE FROM collections WHERE id=?", (collection_id,))
        return keys

    def _update_collection(self, conn: sqlite3.Connection, collection_id: int,
                           **changes: Any) -> None:
        rows = _get(conn, self.path, "collections", "WHERE id=?", (collection_id,))
        if not rows:
            return
        values = dict(zip(_COLUMNS["collections"], rows[0]))
        values.update(changes)
        _put(conn, "collections", tuple(values[c] for c in _COLUMNS["collections"]))

    def set_schema(self, collection_id: int, schema: dict[str, Any]) -> None:
        with self._tx() as db:
            self._update_collection(db, collection_id, schema=json.dumps(schema))

    def set_properties(self, collection_id: int, properties: dict[str, str]) -> None:
        with self._tx() as db:
            self._update_collection(db, collection_id, properties=json.dumps(properties))

    def set_loaded(self, collection_id: int, loaded: bool) -> None:
        with self._tx() as db:
            self._update_collection(db, collection_id, loaded=int(loaded))

    # -- partitions ------------------------------------------------------------------------

    def partitions(self) -> list[PartitionRecord]:
        return [PartitionRecord(r[0], r[1], r[2], r[3], bool(r[4]))
                for r in self._read("partitions", order="collection_id, id")]

    def put_partition(self, rec: PartitionRecord) -> None:
        with self._tx() as db:
            _put(db, "partitions", _partition_row(rec))

    def set_partitions_loaded(self, collection_id: int, loaded: dict[int, bool],
                              collection_loaded: bool | None = None) -> None:
        """Set the load flag of partitions (by id), and optionally the collection's, at once."""
        with self._tx() as db:
            for row in _get(db, self.path, "partitions", "WHERE collection_id=?",
                            (collection_id,)):
                rec = PartitionRecord(row[0], row[1], row[2], row[3], bool(row[4]))
                if rec.id in loaded:
                    _put(db, "partitions", _partition_row(replace(rec, loaded=loaded[rec.id])))
            if collection_loaded is not None:
                self._update_collection(db, collection_id, loaded=int(collection_loaded))

    def drop_partition(self, collection_id: int, partition_id: int) -> list[str]:
        """Forget a partition and its files; returns the keys of those files, now garbage."""
        with self._tx() as db:
            keys = [r[0] for r in db.execute(
                "SELECT key FROM files WHERE collection_id=? AND partition_id=?",
                (collection_id, partition_id))]
            db.execute("DELETE FROM files WHERE collection_id=? AND partition_id=?",
                       (collection_id, partition_id))
            db.execute("DELETE FROM partitions WHERE collection_id=? AND id=?",
                       (collection_id, partition_id))
        return keys

    # -- indexes ---------------------------------------------------------------------------

    def indexes(self) -> list[IndexRecord]:
        try:
            return [IndexRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))
                    for r in self._read("indexes")]
        except ValueError as exc:
            raise Corruption(str(self.path), f"table indexes: {exc}") from exc

    def add_index(self, ix: IndexRecord) -> None:
        with self._tx() as db:
            _put(db, "indexes", _index_row(ix))

    def drop_index(self, collection_id: int, index_name: str) -> list[str]:
        with self._tx() as db:
            keys = [r[0] for r in db.execute(
                "SELECT key FROM files WHERE collection_id=? AND kind='index' AND index_name=?",
                (collection_id, index_name))]
            db.execute("DELETE FROM files WHERE collection_id=? AND kind='index' AND index_name=?",
                       (collection_id, index_name))
            db.execute("DELETE FROM indexes WHERE collection_id=? AND index_name=?",
                       (collection_id, index_name))
        return keys

    # -- files -----------------------------------------------------------------------------

    def files(self, collection_id: int | None = None) -> list[FileRecord]:
        where, args = ("WHERE collection_id=?", (collection_id,)) if collection_id else ("", ())
        return [FileRecord(*r) for r in self._read("files", where, args, "segment_id, key")]

    def commit(self, c: Commit) -> None:
        """Apply one collection's file changes and checkpoint atomically.

        Raises:
            KeyError: the collection is gone (dropped meanwhile); nothing was changed.
        """
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM collections WHERE id=?",
                              (c.collection_id,)).fetchone():
                raise KeyError(f"collection {c.collection_id} is not in the catalog")
            for f in c.add:
                _put(db, "files", (f.key, f.collection_id, f.kind, f.segment_id, f.size,
                                   f.checksum, f.num_rows, f.partition_id, f.index_name, f.max_ts))
            for key in c.remove:
                db.execute("DELETE FROM files WHERE key=?", (key,))
            if c.checkpoint_lsn is not None:
                self._update_collection(db, c.collection_id, checkpoint_lsn=c.checkpoint_lsn)


def _collection_row(rec: CollectionRecord) -> tuple[Any, ...]:
    return (rec.id, rec.db, rec.name, json.dumps(rec.schema), json.dumps(rec.properties),
            rec.consistency_level, rec.num_shards, rec.created_ts, int(rec.loaded),
            rec.checkpoint_lsn)


def _partition_row(p: PartitionRecord) -> tuple[Any, ...]:
    return (p.collection_id, p.name, p.id, p.created_ts, int(p.loaded))


def _index_row(ix: IndexRecord) -> tuple[Any, ...]:
    return (ix.collection_id, ix.index_name, ix.field_name, ix.index_type, ix.metric_type,
            json.dumps(ix.params))
