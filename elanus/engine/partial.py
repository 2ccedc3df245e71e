"""Upsert in merge mode (`partial_update`): fields a request leaves out keep their stored values.

As Milvus does, the newest visible row of each primary key is read at the latest timestamp, the
fields the request carries replace its values, the dynamic field is merged key by key (keys in
the request are set, the others kept), and the merged rows are upserted. A key with no stored
row is inserted: the fields left out take their default values, or null, and a field with
neither fails the write as an insert would. Every step works on whole columns.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from elanus.engine import read
from elanus.engine.collection import Collection
from elanus.engine.rows import absent_column
from elanus.errors import DataInvalid
from elanus.expr.jsonpath import merge_objects
from elanus.schema import DYNAMIC_FIELD


def merged_columns(c: Collection, columns: dict[str, pa.Array], num_rows: int
                   ) -> dict[str, pa.Array]:
    """The full columns of a partial upsert. Caller holds the collection's lock, so no write
    lands between the read and the upsert."""
    pk = c.schema.primary
    if pk.name not in columns:
        raise DataInvalid(f"the primary key field {pk.name} is required for a partial update")
    try:
        keys = columns[pk.name].cast(pk.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataInvalid(f"the data type of field {pk.name} does not match: expected "
                          f"{pk.dtype.milvus_name}, got {columns[pk.name].type} ({exc})") from None
    stored = read.newest_rows(c, keys)
    where = pc.index_in(keys, value_set=stored.column(pk.name))  # null: a new key
    found = where.is_valid()
    fresh = num_rows - pc.sum(found.cast(pa.int64())).as_py()
    out = dict(columns)
    for f in c.schema.fields:
        if f.name in columns or f.name in c.schema.function_outputs:  # outputs: recomputed
            continue
        kept = stored.column(f.name).take(where).combine_chunks()
        if fresh:
            kept = pc.if_else(found, kept, absent_column(f, num_rows, c.timezone))
        out[f.name] = kept
    if c.schema.enable_dynamic_field:
        kept = stored.column(DYNAMIC_FIELD).take(where).combine_chunks()
        patch = columns.get(DYNAMIC_FIELD)
        out[DYNAMIC_FIELD] = kept if patch is None else merge_objects(kept, patch)
    return out
