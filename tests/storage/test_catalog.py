"""The catalog: one transaction per change, every row checksummed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from elanus.errors import Corruption
from elanus.storage.catalog import (
    FORMAT_KEY,
    Catalog,
    CollectionRecord,
    Commit,
    FileRecord,
    IndexRecord,
    PartitionRecord,
)


def _catalog(tmp_path: Path) -> Catalog:
    cat = Catalog(tmp_path / "catalog.sqlite")
    cat.create_collection(CollectionRecord(1, "default", "books", {"name": "books"}, {}, 2, 1,
                                           100, False, 0),
                          [PartitionRecord(1, "_default", 1, 100), PartitionRecord(1, "p", 2, 101)])
    cat.add_index(IndexRecord(1, "vector", "vector", "HNSW", "L2", {"M": "16"}))
    cat.commit(Commit(1, add=[FileRecord("collections/1/segments/2.arrow", 1, "segment", 2,
                                         10, 1234, 5, partition_id=1),
                              FileRecord("collections/1/segments/3.arrow", 1, "segment", 3,
                                         10, 1234, 6, partition_id=2)], checkpoint_lsn=7))
    cat.set_meta("max_ts", "99")
    return cat


def test_changes_round_trip_and_survive_reopen(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat.set_loaded(1, True)
    assert cat.next_id("segment", 3) == 1 and cat.next_id("segment") == 4
    cat.close()
    again = Catalog(tmp_path / "catalog.sqlite")
    (rec,) = again.collections()
    assert (rec.loaded, rec.checkpoint_lsn) == (True, 7)
    assert again.files()[0].num_rows == 5
    assert again.indexes()[0].params == {"M": "16"}
    assert again.get_meta("max_ts") == "99"
    again.set_partitions_loaded(1, {2: True}, collection_loaded=False)
    assert [(p.name, p.id, p.loaded) for p in again.partitions()] == [("_default", 1, False),
                                                                     ("p", 2, True)]
    assert not again.collections()[0].loaded
    assert again.drop_partition(1, 2) == ["collections/1/segments/3.arrow"]
    assert [p.name for p in again.partitions()] == ["_default"]
    assert again.drop_collection(1) == ["collections/1/segments/2.arrow"]
    assert again.collections() == [] and again.files() == [] and again.partitions() == []
    again.close()


@pytest.mark.parametrize("table, column", [("collections", "checkpoint_lsn"),
                                           ("files", "num_rows"), ("indexes", "params"),
                                           ("partitions", "loaded"), ("meta", "value")])
def test_a_changed_row_is_reported_by_table(tmp_path: Path, table: str, column: str) -> None:
    _catalog(tmp_path).close()
    raw = sqlite3.connect(tmp_path / "catalog.sqlite")
    value = "'{\"M\": \"32\"}'" if column == "params" else "'12345'"
    where = " WHERE key = 'max_ts'" if table == "meta" else ""
    raw.execute(f"UPDATE {table} SET {column} = {value}{where}")
    raw.commit()
    raw.close()
    cat = Catalog(tmp_path / "catalog.sqlite")
    with pytest.raises(Corruption) as err:
        {"collections": cat.collections, "files": cat.files, "indexes": cat.indexes,
         "partitions": cat.partitions, "meta": lambda: cat.get_meta("max_ts")}[table]()
    assert f"table {table}" in str(err.value) and "catalog.sqlite" in str(err.value)
    cat.close()


def test_a_damaged_file_is_reported(tmp_path: Path) -> None:
    _catalog(tmp_path).close()
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(Corruption) as err:
        Catalog(path)
    assert "catalog.sqlite" in str(err.value)


def test_a_catalog_of_another_format_is_refused(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat.set_meta(FORMAT_KEY, "1")
    cat.close()
    with pytest.raises(Corruption, match="catalog format 1"):
        Catalog(tmp_path / "catalog.sqlite")
