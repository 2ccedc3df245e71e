"""GEOMETRY values: WKT text at the API, WKB bytes in storage, GEOS (through shapely) for work.

Clients send Well-Known Text (`POINT (13.4 52.5)`, `POLYGON ((...))`, every OGC simple-feature
type); it is parsed once on insert and stored as Well-Known Binary in a large_binary column, as
Milvus stores it. Reads turn the WKB back into WKT. Filters decode a column into shapely
geometries and test them against one literal geometry with GEOS's vectorized predicates, the
literal prepared so each test is cheap. Every conversion here is one shapely call over a whole
column; no Python runs per row.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import shapely

STORAGE = pa.large_binary()
Geometries = npt.NDArray[np.object_]  # shapely geometries; None where the row is null


def parse(values: pa.Array) -> pa.Array:
    """WKT strings as WKB bytes (nulls stay null); raises ValueError naming the first bad value.
    WKB input (bytes) is checked and kept."""
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        geoms = _decode(values, shapely.from_wkb)
    else:
        geoms = _decode(values.cast(pa.large_string()), shapely.from_wkt)
    return encode(geoms)


def encode(geoms: Geometries) -> pa.Array:
    """Shapely geometries (None for null) as a WKB column."""
    wkb = shapely.to_wkb(geoms, output_dimension=3, byte_order=1)
    return pa.array(wkb, type=STORAGE, from_pandas=True)


def _decode(values: pa.Array, reader: Any) -> Geometries:
    raw = values.to_numpy(zero_copy_only=False)
    geoms: Geometries = reader(raw, on_invalid="ignore")
    bad = np.flatnonzero(shapely.is_missing(geoms) & values.is_valid().to_numpy(
        zero_copy_only=False))
    if len(bad):
        row = int(bad[0])
        try:
            reader(raw[row], on_invalid="raise")
            detail = "not a geometry"
        except shapely.errors.ShapelyError as exc:
            detail = str(exc).strip()
        raise ValueError(f"invalid Geometry data, transform to wkb failed: syntax error: "
                         f"{detail} (row {row}: {raw[row]!r})")
    return geoms


def decode(column: pa.Array) -> Geometries:
    """A WKB column as shapely geometries, None for nulls."""
    return shapely.from_wkb(column.to_numpy(zero_copy_only=False))  # type: ignore[no-any-return]


def render(column: pa.Array) -> pa.Array:
    """A WKB column as WKT text (large_string), nulls kept, written as Milvus writes it: the
    shortest digits that read back to the same double, without exponents, and MULTIPOINT
    members without their own parentheses (`MULTIPOINT (10 40, 40 30)`)."""
    geoms = decode(column)
    text = pa.array(shapely.to_wkt(geoms, rounding_precision=17, trim=True),
                    type=pa.large_string(), from_pandas=True)
    multipoints = shapely.get_type_id(geoms) == _MULTIPOINT
    if multipoints.any():
        text = pc.if_else(pa.array(multipoints),
                          pc.replace_substring_regex(text, r"\(([^()]*)\)", r"\1"), text)
    exponents = pc.match_substring_regex(text, r"\de").to_numpy(zero_copy_only=False)
    if exponents.any():  # rare: |x| >= 1e16 or < 1e-4; written out in full, row by row
        rows = np.flatnonzero(exponents.astype(np.bool_))
        fixed = [_EXPONENT.sub(_positional, text[int(i)].as_py()) for i in rows]
        text = pc.replace_with_mask(text, pa.array(exponents.astype(np.bool_)),
                                    pa.array(fixed, type=pa.large_string()))
    return text


_MULTIPOINT = 4
_EXPONENT = re.compile(r"-?\d+(?:\.\d+)?e[-+]?\d+")


def _positional(match: re.Match[str]) -> str:
    return np.format_float_positional(float(match.group()), unique=True, trim="-")


def literal(text: str) -> shapely.Geometry:
    """A WKT literal of a filter or a default value, prepared for repeated tests."""
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.ShapelyError as exc:
        raise ValueError(f"invalid WKT {text!r}: {exc}") from None
    if geom is None:
        raise ValueError(f"invalid WKT {text!r}")
    shapely.prepare(geom)
    return geom
