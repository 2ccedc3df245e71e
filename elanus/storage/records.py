"""The WAL record kinds the engine writes, and their byte encoding.

A record is one WAL payload:

    offset  size  field
    0       1     kind: 1 insert, 2 delete
    1       1     zero
    2       2     header length h, unsigned little-endian
    4       8     body length b, unsigned little-endian
    12      h     header: UTF-8 JSON object (insert: collection_id, partition_id, upsert;
                  delete: collection_id, ts, partition_id)
    12+h    p     zero bytes padding 12+h up to a multiple of 8
    12+h+p  b     body: Arrow IPC stream of one table: an insert's rows (with their "$ts"
                  column), or a delete's primary keys as the single column "pk"

The payload ends with the body; the recorded body length makes any truncation detectable
(an Arrow stream cut at a message boundary would otherwise read as a shorter table).
The Arrow stream starts 8-byte aligned within the payload so that `decode` reads its buffers in
place (zero copy) from the payload bytes. Uncompressed: records are short-lived and the WAL is
on the write path.

Pure functions over immutable values; any thread may call them.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from elanus.errors import Corruption, InvalidArgument

INSERT = 1
DELETE = 2
_PREFIX = struct.Struct("<BBHQ")  # kind, zero, header length, body length
_ALIGN = 8
_PK_COLUMN = "pk"


@dataclass(frozen=True)
class InsertRecord:
    """Rows inserted into one partition; `table` already carries its "$ts" column.

    `partition_id` 0 routes every row by its partition key (a pure function of the key, so a
    replay routes as the first apply did). An upsert is one record, so it is applied whole or
    not at all: it first deletes the rows' primary keys at the rows' timestamp, then inserts
    them.
    """

    collection_id: int
    partition_id: int
    table: pa.Table
    upsert: bool = False


@dataclass(frozen=True)
class DeleteRecord:
    """Primary keys deleted from a collection at hybrid timestamp `ts`.

    `pks` is int64 or large_string, as the collection's primary key field. `partition_id` 0
    deletes in every partition, any other only in that one.
    """

    collection_id: int
    ts: int
    pks: pa.Array
    partition_id: int = 0


Record = InsertRecord | DeleteRecord


def encode(record: Record) -> bytes:
    """Encode a record as one WAL payload."""
    match record:
        case InsertRecord(collection_id, partition_id, table, upsert):
            kind, header = INSERT, {"collection_id": collection_id, "partition_id": partition_id}
            if upsert:
                header["upsert"] = True
        case DeleteRecord(collection_id, ts, pks, partition_id):
            if not (pa.types.is_int64(pks.type) or pa.types.is_large_string(pks.type)):
                raise InvalidArgument(f"delete primary keys must be int64 or large_string, "
                                      f"got {pks.type}")
            kind, header = DELETE, {"collection_id": collection_id, "ts": ts,
                                    "partition_id": partition_id}
            table = pa.table({_PK_COLUMN: pks})
        case _:
            raise InvalidArgument(f"not a WAL record: {type(record).__name__}")
    head = json.dumps(header, separators=(",", ":")).encode()
    if len(head) > 0xFFFF:
        raise InvalidArgument("WAL record header too long")
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    body = sink.getvalue()
    pad = bytes(-(_PREFIX.size + len(head)) % _ALIGN)
    return b"".join((_PREFIX.pack(kind, 0, len(head), body.size), head, pad, memoryview(body)))


def decode(data: bytes | memoryview, what: str = "wal record") -> Record:
    """Decode one WAL payload; `what` names it in errors (e.g. the WAL file and LSN).

    Raises:
        Corruption: the bytes are not a record this module wrote.
    """
    try:
        kind, zero, head_len, body_len = _PREFIX.unpack_from(data, 0)
        start = _PREFIX.size + head_len
        body_start = start + (-start % _ALIGN)
        if zero != 0:
            raise ValueError(f"reserved byte is {zero}")
        if len(data) != body_start + body_len:
            raise ValueError(f"{len(data)} bytes, expected {body_start + body_len}")
        header: dict[str, Any] = json.loads(bytes(data[_PREFIX.size:start]))
        table = pa.ipc.open_stream(pa.py_buffer(data)[body_start:]).read_all()
        if kind == INSERT:
            return InsertRecord(int(header["collection_id"]), int(header["partition_id"]), table,
                                bool(header.get("upsert", False)))
        if kind == DELETE:
            if table.column_names != [_PK_COLUMN]:
                raise ValueError(f"delete columns are {table.column_names}")
            return DeleteRecord(int(header["collection_id"]), int(header["ts"]),
                                table.column(0).combine_chunks(),
                                int(header.get("partition_id", 0)))
        raise ValueError(f"unknown record kind {kind}")
    except (struct.error, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise Corruption(what, f"undecodable record: {exc}") from exc
