"""records.py: WAL record kinds round-trip through bytes; damage is Corruption."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elanus.errors import Corruption, InvalidArgument
from elanus.storage.records import DeleteRecord, InsertRecord, Record, decode, encode

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_TS = st.integers(min_value=0, max_value=2**63 - 1)


@st.composite
def insert_records(draw: st.DrawFn) -> InsertRecord:
    n = draw(st.integers(min_value=0, max_value=20))
    dim = draw(st.integers(min_value=1, max_value=8))
    floats = st.floats(width=32, allow_nan=False)
    table = pa.table({
        "id": pa.array(draw(st.lists(_INT64, min_size=n, max_size=n)), pa.int64()),
        "title": pa.array(draw(st.lists(st.none() | st.text(max_size=20), min_size=n, max_size=n)),
                          pa.string()),
        "vec": pa.array(draw(st.lists(st.lists(floats, min_size=dim, max_size=dim),
                                      min_size=n, max_size=n)), pa.list_(pa.float32(), dim)),
        "$ts": pa.array(draw(st.lists(_TS, min_size=n, max_size=n)), pa.uint64()),
    })
    return InsertRecord(draw(_INT64), draw(_INT64), table, draw(st.booleans()))


@st.composite
def delete_records(draw: st.DrawFn) -> DeleteRecord:
    if draw(st.booleans()):
        pks = pa.array(draw(st.lists(_INT64, max_size=20)), pa.int64())
    else:
        pks = pa.array(draw(st.lists(st.text(max_size=30), max_size=20)), pa.large_string())
    return DeleteRecord(draw(_INT64), draw(_TS), pks, draw(_INT64))


@settings(max_examples=40, deadline=None)
@given(insert_records() | delete_records())
def test_records_round_trip_through_bytes(record: Record) -> None:
    back = decode(encode(record))
    assert type(back) is type(record)
    assert back == record
    if isinstance(back, DeleteRecord):
        assert back.pks.type == record.pks.type  # type: ignore[union-attr]


def test_decoded_columns_are_read_in_place_from_the_payload() -> None:
    table = pa.table({"id": pa.array(range(1000), pa.int64()),
                      "$ts": pa.array([7] * 1000, pa.uint64())})
    payload = encode(InsertRecord(1, 7, table))
    record = decode(payload)
    assert isinstance(record, InsertRecord)
    buffer = record.table.column("id").chunk(0).buffers()[1]
    base = pa.py_buffer(payload).address
    assert base <= buffer.address < base + len(payload)  # zero copy
    assert buffer.address % 8 == 0


def test_every_truncation_is_corruption() -> None:
    payload = encode(InsertRecord(5, 8, pa.table({"id": pa.array([1, 2, 3], pa.int64())})))
    for cut in range(len(payload)):
        with pytest.raises(Corruption) as err:
            decode(payload[:cut], what=f"lsn {cut}")
        assert err.value.what == f"lsn {cut}"


@pytest.mark.parametrize("damage", [
    lambda b: bytes([9]) + b[1:],      # unknown kind
    lambda b: b[:1] + b"\x01" + b[2:],  # reserved byte
    lambda b: b[:12] + b"!" + b[13:],   # header not JSON
])
def test_damaged_prefix_is_corruption(damage) -> None:  # type: ignore[no-untyped-def]
    payload = encode(DeleteRecord(1, 2, pa.array([1], pa.int64())))
    with pytest.raises(Corruption):
        decode(damage(payload))


def test_delete_keys_must_be_int64_or_large_string() -> None:
    with pytest.raises(InvalidArgument):
        encode(DeleteRecord(1, 2, pa.array(["a"], pa.string())))
