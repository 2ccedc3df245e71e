"""The catalog: the one source of truth for which collections, indexes and files exist.

Stored in SQLite (`catalog.sqlite` in the data directory) in WAL journal mode with
synchronous=FULL: every change is one transaction, durable when the call returns, and a crash
leaves either the old or the new state. Segment, delta and index files are written (and fsynced)
before the transaction that names them commits; files no transaction names are garbage, collected
later, never half of a collection.

Values crossing this boundary are frozen dataclasses. Any thread may call; one lock serialises
access to the connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elanus.errors import Corruption

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY,
    db TEXT NOT NULL,
    name TEXT NOT NULL,
    schema TEXT NOT NULL,
    properties TEXT NOT NULL,
    consistency_level INTEGER NOT NULL,
    num_shards INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    loaded INTEGER NOT NULL DEFAULT 0,
    checkpoint_lsn INTEGER NOT NULL DEFAULT 0,
    UNIQUE (db, name)
);
CREATE TABLE IF NOT EXISTS indexes (
    collection_id INTEGER NOT NULL,
    index_name TEXT NOT NULL,
    field_name TEXT NOT NULL,
    index_type TEXT NOT NULL,
    metric_type TEXT NOT NULL,
    params TEXT NOT NULL,
    PRIMARY KEY (collection_id, index_name)
);
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY,
    collection_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    segment_id INTEGER NOT NULL,
    partition TEXT NOT NULL,
    index_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    checksum INTEGER NOT NULL,
    num_rows INTEGER NOT NULL
);
"""


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
    partition: str = "_default"
    index_name: str = ""


@dataclass
class Commit:
    """One catalog transaction's worth of file changes for a collection."""

    collection_id: int
    add: list[FileRecord] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    checkpoint_lsn: int | None = None
    max_ts: int | None = None


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            ok = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise Corruption(str(path), str(exc)) from exc
        if ok != "ok":
            raise Corruption(str(path), ok)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str, default: str = "") -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def next_id(self, kind: str, count: int = 1) -> int:
        """Allocate `count` consecutive ids of `kind`; returns the first. Durable."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key=?", (f"next_{kind}",)).fetchone()
            first = int(row[0]) if row else 1
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"next_{kind}", str(first + count)))
        return first

    # -- collections -----------------------------------------------------------------------

    def collections(self) -> list[CollectionRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, db, name, schema, properties, consistency_level, num_shards, "
                "created_ts, loaded, checkpoint_lsn FROM collections ORDER BY id").fetchall()
        return [CollectionRecord(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5], r[6],
                                 r[7], bool(r[8]), r[9]) for r in rows]

    def create_collection(self, rec: CollectionRecord, indexes: list[IndexRecord]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO collections VALUES (?,?,?,?,?,?,?,?,?,?)",
                (rec.id, rec.db, rec.name, json.dumps(rec.schema), json.dumps(rec.properties),
                 rec.consistency_level, rec.num_shards, rec.created_ts, int(rec.loaded),
                 rec.checkpoint_lsn))
            for ix in indexes:
                self._insert_index(db, ix)

    def drop_collection(self, collection_id: int) -> list[str]:
        """Forget a collection; returns the keys of its files, now garbage."""
        with self._tx() as db:
            keys = [r[0] for r in db.execute(
                "SELECT key FROM files WHERE collection_id=?", (collection_id,))]
            db.execute("DELETE FROM files WHERE collection_id=?", (collection_id,))
            db.execute("DELETE FROM indexes WHERE collection_id=?", (collection_id,))
            db.execute("DELETE FROM collections WHERE id=?", (collection_id,))
        return keys

    def set_loaded(self, collection_id: int, loaded: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE collections SET loaded=? WHERE id=?", (int(loaded), collection_id))

    # -- indexes ---------------------------------------------------------------------------

    def indexes(self) -> list[IndexRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT collection_id, index_name, field_name, index_type, metric_type, params "
                "FROM indexes ORDER BY rowid").fetchall()
        return [IndexRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def add_index(self, ix: IndexRecord) -> None:
        with self._tx() as db:
            self._insert_index(db, ix)

    @staticmethod
    def _insert_index(db: sqlite3.Connection, ix: IndexRecord) -> None:
        db.execute("INSERT INTO indexes VALUES (?,?,?,?,?,?)",
                   (ix.collection_id, ix.index_name, ix.field_name, ix.index_type,
                    ix.metric_type, json.dumps(ix.params)))

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
        sql = ("SELECT key, collection_id, kind, segment_id, size, checksum, num_rows, partition, "
               "index_name FROM files")
        args: tuple[Any, ...] = ()
        if collection_id is not None:
            sql += " WHERE collection_id=?"
            args = (collection_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY segment_id, key", args).fetchall()
        return [FileRecord(*r) for r in rows]

    def commit(self, c: Commit) -> None:
        """Apply one collection's file changes and checkpoint atomically."""
        with self._tx() as db:
            for f in c.add:
                db.execute("INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?)",
                           (f.key, f.collection_id, f.kind, f.segment_id, f.partition,
                            f.index_name, f.size, f.checksum, f.num_rows))
            for key in c.remove:
                db.execute("DELETE FROM files WHERE key=?", (key,))
            if c.checkpoint_lsn is not None:
                db.execute("UPDATE collections SET checkpoint_lsn=? WHERE id=?",
                           (c.checkpoint_lsn, c.collection_id))
            if c.max_ts is not None:
                row = db.execute("SELECT value FROM meta WHERE key='max_ts'").fetchone()
                if row is None or int(row[0]) < c.max_ts:
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('max_ts', ?)", (str(c.max_ts),))
