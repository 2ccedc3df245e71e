"""The ST_ operators, vectorized, against a row-by-row reference on random shapes."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
import shapely

from elanus.expr.filter import compile_filter
from elanus.expr.spatial import EARTH_RADIUS_M, relate
from elanus.schema import CollectionSchema, DataType, FieldSchema, geometry

RELATIONS = ["equals", "contains", "crosses", "intersects", "overlaps", "touches", "within"]


def _shapes(rng: np.random.Generator, n: int) -> list[shapely.Geometry | None]:
    """Points, segments, boxes and triangles on a small integer grid, so that every relation
    (touching edges, shared vertices, equal shapes) turns up."""
    out: list[shapely.Geometry | None] = []
    for _ in range(n):
        x, y, w, h = (int(v) for v in rng.integers(0, 6, 4))
        kind = rng.integers(0, 5)
        if kind == 0:
            out.append(shapely.Point(x, y))
        elif kind == 1:
            out.append(shapely.LineString([(x, y), (x + w + 1, y + h)]))
        elif kind == 2:
            out.append(shapely.box(x, y, x + w + 1, y + h + 1))
        elif kind == 3:
            out.append(shapely.Polygon([(x, y), (x + w + 1, y), (x, y + h + 1)]))
        else:
            out.append(None)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_relations_match_a_row_by_row_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = _shapes(rng, 300)
    geoms = np.array(rows, dtype=object)
    for literal in [s for s in _shapes(rng, 12) if s is not None]:
        for op in RELATIONS:
            expected = [g is not None and bool(getattr(g, op)(literal)) for g in rows]
            got = relate(op, geoms, shapely.to_wkt(literal), 0.0)
            assert got.tolist() == expected, (op, literal.wkt)


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def test_dwithin_measures_points_in_meters_on_the_sphere() -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(13.0, 13.8, 500), rng.uniform(52.2, 52.8, 500)
    geoms = shapely.points(lon, lat)
    for meters in (0.0, 1_000.0, 10_000.0, 40_000.0):
        got = relate("dwithin", geoms, "POINT (13.4 52.5)", meters)
        expected = [_haversine(13.4, 52.5, x, y) <= meters for x, y in zip(lon, lat)]
        assert got.tolist() == expected
    assert relate("dwithin", geoms[:1], f"POINT ({lon[0]} {lat[0]})", 0.0).tolist() == [True]


def test_dwithin_scales_planar_degrees_for_other_shapes() -> None:
    line = np.array([shapely.from_wkt("LINESTRING (0 1, 10 1)"), None,
                     shapely.from_wkt("POINT EMPTY")], dtype=object)
    # One degree of latitude away, at the equator: 111,320 m.
    assert relate("dwithin", line, "POINT (5 0)", 111_319.0).tolist() == [False, False, False]
    assert relate("dwithin", line, "POINT (5 0)", 111_321.0).tolist() == [True, False, False]


def _schema() -> CollectionSchema:
    return CollectionSchema("c", (FieldSchema("id", DataType.INT64, is_primary=True),
                                  FieldSchema("geo", DataType.GEOMETRY, nullable=True),
                                  FieldSchema("v", DataType.FLOAT_VECTOR, dim=2)))


def test_filters_combine_spatial_operators_with_nulls() -> None:
    table = pa.table({"id": pa.array([1, 2, 3, 4]),
                      "geo": geometry.parse(pa.array(["POINT (1 1)", "POINT (5 5)", None,
                                                      "LINESTRING (0 0, 9 9)"]))})
    box = "'POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))'"

    def rows(expr: str) -> list[int]:
        mask = compile_filter(expr, _schema()).evaluate(table)
        return [i + 1 for i in np.flatnonzero(mask)]

    assert rows(f"ST_WITHIN(geo, {box})") == [1]
    assert rows(f"ST_INTERSECTS(geo, {box})") == [1, 4]
    assert rows(f"not ST_INTERSECTS(geo, {box})") == [2]  # the null row passes neither
    assert rows(f"ST_INTERSECTS(geo, {box}) or geo is null") == [1, 3, 4]
    assert rows("ST_ISVALID(geo) and id > 1") == [2, 4]
