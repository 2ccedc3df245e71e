"""Geometry operators over a whole column: one GEOS call (through shapely) per filter node.

Each operator relates a row's geometry (A) to the filter's literal (B), on planar coordinates,
as OGC's DE-9IM defines them. The literal is prepared once and passed first, through each
operator's converse (A contains B is B within A), so GEOS tests every row against the prepared
shape. ST_DWITHIN measures meters, with x as longitude and y as latitude: between points by the
haversine great-circle distance, and from other shapes by their planar distance in degrees scaled
to meters at the literal's latitude. That is Milvus's definition, and its literal must be a point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from elanus.expr.columns import Mask
from elanus.schema import geometry

EARTH_RADIUS_M = 6_371_000.0
METERS_PER_DEGREE = 111_320.0

# ST_<op>(A, B) computed as f(B, A), the literal B first.
_CONVERSE: dict[str, Callable[..., Any]] = {
    "equals": shapely.equals, "contains": shapely.within, "within": shapely.contains,
    "intersects": shapely.intersects, "touches": shapely.touches, "crosses": shapely.crosses,
    "overlaps": shapely.overlaps,
}


def relate(op: str, geoms: geometry.Geometries, wkt: str, distance: float) -> Mask:
    """Rows whose geometry satisfies ST_<op> against the literal `wkt` (null rows: False)."""
    if op == "isvalid":
        return np.asarray(shapely.is_valid(geoms), dtype=np.bool_)
    literal = geometry.literal(wkt)
    if op == "dwithin":
        return _within_meters(geoms, literal, distance)
    return np.asarray(_CONVERSE[op](literal, geoms), dtype=np.bool_)


def _within_meters(geoms: geometry.Geometries, point: shapely.Point, meters: float) -> Mask:
    out = np.zeros(len(geoms), np.bool_)
    if point.is_empty:
        return out
    shapes = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    points = shapes & (shapely.get_type_id(geoms) == 0)
    qlon, qlat = np.radians(point.x), np.radians(point.y)
    rows = np.flatnonzero(points)
    if len(rows):
        lon = np.radians(shapely.get_x(geoms[rows]))
        lat = np.radians(shapely.get_y(geoms[rows]))
        h = np.sin((lat - qlat) / 2) ** 2 + np.cos(lat) * np.cos(qlat) * \
            np.sin((lon - qlon) / 2) ** 2
        out[rows] = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))) <= meters
    rows = np.flatnonzero(shapes & ~points)
    if len(rows):
        scale = METERS_PER_DEGREE * np.sqrt((1 + np.cos(qlat) ** 2) / 2)
        out[rows] = shapely.distance(geoms[rows], point) * scale <= meters
    return out
