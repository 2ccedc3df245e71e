"""Vectorized decoding of JSON columns: the value at one path, typed per row.

JSON fields and the dynamic field `$meta` are stored as large_binary columns of UTF-8 JSON text.
A filter on `j["a"][0]` needs, for every row, the type of the value found there and the value
itself. Rows disagree freely (`"a": 1` in one row, `"a": "x"` in the next, no `"a"` at all in a
third), so no single Arrow type fits the column, and Arrow's own JSON reader rejects such
columns. Decoding is done instead by DuckDB's JSON functions (yyjson, C++, multi-threaded) over
the Arrow column without copying it, one query per path, no Python per row: each row yields a
`Kind` plus the value in the one typed array that fits it.

Paths are JSON pointers, as Milvus resolves them (`/a/0/b`; an integer key indexes an array or
names an object key "0"). Numbers keep their JSON kind: integers that fit int64 are INT (exact
in `ints`, approximate in `floats`), every other number is FLOAT.

Thread-safety: any thread may call `decode_values` / `decode_elements`; each call runs on its
own DuckDB connection to one shared in-memory database.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from elanus.errors import Corruption, DataInvalid, Unsupported

Key = str | int


class Kind(enum.IntEnum):
    MISSING = 0   # the column is null, or nothing is at the path
    NULL = 1      # JSON null
    BOOL = 2
    INT = 3
    FLOAT = 4
    STRING = 5
    ARRAY = 6
    OBJECT = 7


@dataclass(frozen=True)
class JsonValues:
    """One value per row. Each typed array holds meaningful values only where `kind` says."""

    kind: npt.NDArray[np.uint8]
    ints: npt.NDArray[np.int64]        # Kind.INT
    floats: npt.NDArray[np.float64]    # Kind.INT and Kind.FLOAT
    bools: npt.NDArray[np.bool_]       # Kind.BOOL
    strings: pa.Array                  # large_string; Kind.STRING, null elsewhere
    lengths: npt.NDArray[np.int64]     # Kind.ARRAY: element count

    def __len__(self) -> int:
        return len(self.kind)


@dataclass(frozen=True)
class JsonElements:
    """The elements of the JSON arrays found at a path: element i belongs to row rows[i]."""

    rows: npt.NDArray[np.int64]
    values: JsonValues


def pointer(keys: tuple[Key, ...]) -> str:
    """The RFC 6901 JSON pointer for a Milvus path: ("a", 0, "x/y") -> "/a/0/x~1y"."""
    return "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in keys)


def decode_values(column: pa.Array | pa.ChunkedArray, keys: tuple[Key, ...]) -> JsonValues:
    """The value at `keys` in every row of a JSON text column."""
    n = len(column)
    if n == 0:
        return _empty_values(0)
    result = _run(column, _DECODE.format(values="SELECT r, json_extract(j, $1) AS v FROM src"),
                  pointer(keys))
    rows = result.column("r").to_numpy()
    if len(rows) != n or not (n < 2 or bool(np.all(rows[1:] > rows[:-1]))):
        result = result.take(pa.array(np.argsort(rows, kind="stable")))
    return _typed(result)


def decode_elements(column: pa.Array | pa.ChunkedArray, keys: tuple[Key, ...]) -> JsonElements:
    """The elements of the array at `keys` in every row where that value is an array."""
    if len(column) == 0:
        return JsonElements(np.empty(0, np.int64), _empty_values(0))
    elements = """
        SELECT r, unnest(json_extract(x, '$[*]')) AS v
        FROM (SELECT r, json_extract(j, $1) AS x FROM src)
        WHERE json_type(x) = 'ARRAY'"""
    result = _run(column, _DECODE.format(values=elements), pointer(keys))
    return JsonElements(result.column("r").to_numpy().astype(np.int64, copy=False),
                        _typed(result))


def decode_array_elements(column: pa.Array | pa.ChunkedArray, keys: tuple[Key, ...]
                          ) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """(row, compact JSON text) of every element that is itself an array, in the arrays at
    `keys`: what `json_contains(x, [1, 2])` compares."""
    if len(column) == 0:
        return np.empty(0, np.int64), pa.array([], pa.large_string())
    query = """
        SELECT r, v ->> '$' AS a FROM (
            SELECT r, unnest(json_extract(x, '$[*]')) AS v
            FROM (SELECT r, json_extract(j, $1) AS x FROM src) WHERE json_type(x) = 'ARRAY')
        WHERE json_type(v) = 'ARRAY'"""
    result = _run(column, query, pointer(keys))
    return (result.column("r").to_numpy().astype(np.int64, copy=False),
            result.column("a").combine_chunks().cast(pa.large_string()))


# Typed output for each JSON value v of the rows `{values}` yields; kind codes are Kind's.
# The type and the unquoted text are computed once per value, in the inner projection.
_DECODE = """
    SELECT r,
        CASE t WHEN 'NULL' THEN 1 WHEN 'BOOLEAN' THEN 2 WHEN 'BIGINT' THEN 3 WHEN 'UBIGINT' THEN 3
            WHEN 'DOUBLE' THEN 4 WHEN 'VARCHAR' THEN 5 WHEN 'ARRAY' THEN 6 WHEN 'OBJECT' THEN 7
            ELSE CASE WHEN t IS NULL THEN 0 ELSE 4 END END::UTINYINT AS k,
        CASE WHEN t = 'VARCHAR' THEN s END AS s,
        CASE WHEN t NOT IN ('NULL', 'BOOLEAN', 'VARCHAR', 'ARRAY', 'OBJECT')
            THEN TRY_CAST(s AS DOUBLE) END AS f,
        CASE WHEN t IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(s AS BIGINT) END AS i,
        CASE WHEN t = 'BOOLEAN' THEN s = 'true' END AS b,
        CASE WHEN t = 'ARRAY' THEN json_array_length(v) END AS n
    FROM (SELECT r, v, json_type(v) AS t, v ->> '$' AS s FROM ({values}))"""


def _typed(result: pa.Table) -> JsonValues:
    kind = result.column("k").to_numpy().astype(np.uint8, copy=True)
    ints_col = result.column("i")
    # Integers beyond int64 (large unsigned ones) are FLOAT, as Milvus reads them as double.
    big = (kind == Kind.INT) & ~ints_col.is_valid().to_numpy(zero_copy_only=False)
    kind[big] = Kind.FLOAT
    return JsonValues(
        kind=kind,
        ints=ints_col.fill_null(0).to_numpy().astype(np.int64, copy=False),
        floats=result.column("f").fill_null(0.0).to_numpy().astype(np.float64, copy=False),
        bools=result.column("b").fill_null(False).to_numpy(zero_copy_only=False),
        strings=result.column("s").combine_chunks().cast(pa.large_string()),
        lengths=result.column("n").fill_null(0).to_numpy().astype(np.int64, copy=False),
    )


def _empty_values(n: int) -> JsonValues:
    return JsonValues(np.zeros(n, np.uint8), np.zeros(n, np.int64), np.zeros(n, np.float64),
                      np.zeros(n, np.bool_), pa.nulls(n, pa.large_string()),
                      np.zeros(n, np.int64))


_lock = threading.Lock()
_database = None


def _connection() -> Any:
    """A new connection to the shared in-memory database (DuckDB imported on first use)."""
    global _database
    with _lock:
        if _database is None:
            try:
                import duckdb
            except ImportError:
                raise Unsupported("filters on JSON and dynamic fields need the duckdb "
                                  "package") from None
            _database = duckdb.connect(":memory:")
        return _database.cursor()


def _run(column: pa.Array | pa.ChunkedArray, query: str, path: str) -> pa.Table:
    try:
        text = column.cast(pa.large_string())
    except pa.ArrowInvalid as exc:
        raise Corruption("JSON column", f"not UTF-8 text: {exc}") from None
    n = len(column)
    src = pa.table({"r": pa.array(np.arange(n, dtype=np.int64)), "j": text})
    con = _connection()
    try:
        con.register("src", src)
        return con.sql(query, params=[path]).to_arrow_table()
    except Exception as exc:  # duckdb.Error: the column holds text that is not JSON
        if type(exc).__module__.startswith(("duckdb", "_duckdb")):
            raise Corruption("JSON column", f"cannot decode JSON: {exc}") from None
        raise
    finally:
        con.close()


def merge_objects(base: pa.Array, patch: pa.Array) -> pa.Array:
    """Per row, the JSON object `base` with the keys of `patch` set over it (a null or
    missing object reads as {}); large_binary JSON text, like the dynamic field."""
    n = len(base)
    src = pa.table({"b": base.cast(pa.large_string()), "p": patch.cast(pa.large_string()),
                    "r": pa.array(np.arange(n, dtype=np.int64))})
    con = _connection()
    try:
        con.register("src", src)
        merged = con.sql("SELECT json_merge_patch(coalesce(b, '{}'), coalesce(p, '{}'))::VARCHAR "
                         "AS m FROM src ORDER BY r").to_arrow_table().column("m")
    except Exception as exc:  # duckdb.Error: a value that is not JSON
        if type(exc).__module__.startswith(("duckdb", "_duckdb")):
            raise DataInvalid(f"invalid JSON in the dynamic field: {exc}") from None
        raise
    finally:
        con.close()
    return merged.combine_chunks().cast(pa.large_binary())
