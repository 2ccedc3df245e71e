"""GEOMETRY fields through pymilvus: WKT in and out, the ST_ operators, RTREE, Milvus's errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from tests.conftest import Server

SHAPES = {
    1: "POINT (13.403683 52.520711)",
    2: "POLYGON ((30 10, 40 40, 20 40, 10 20, 30 10))",
    3: "LINESTRING (10 10, 20 20, 10 40)",
    4: "MULTIPOINT ((10 40), (40 30))",
    5: "POINT (13.41 52.52)",
    6: "MULTIPOLYGON (((30 20, 45 40, 10 40, 30 20)), ((15 5, 40 10, 10 20, 5 10, 15 5)))",
    7: "GEOMETRYCOLLECTION (POINT (40 10), LINESTRING (10 10, 20 20, 10 40))",
    8: None,
    9: "MULTILINESTRING ((10 10, 20 20, 10 40), (40 40, 30 30, 40 20, 30 10))",
}
# As Milvus writes them back: shortest digits, MULTIPOINT members without parentheses.
RETURNED = {**SHAPES, 4: "MULTIPOINT (10 40, 40 30)"}


def _collection(milvus, name: str, **geo: object) -> None:  # type: ignore[no-untyped-def]
    schema = milvus.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("geo", DataType.GEOMETRY, **geo)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    index = milvus.prepare_index_params()
    index.add_index("vec", metric_type="L2")
    milvus.create_collection(name, schema=schema, index_params=index)


def _ids(milvus, name: str, expr: str, **kw: object) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(r["id"] for r in milvus.query(name, filter=expr, **kw))


def _populate(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    _collection(milvus, name, nullable=True)
    milvus.insert(name, [{"id": i, "geo": wkt, "vec": [i, 0]} for i, wkt in SHAPES.items()])


def _check_filters(milvus, name: str) -> None:  # type: ignore[no-untyped-def]
    rows = {r["id"]: r["geo"] for r in milvus.query(name, filter="id > 0",
                                                    output_fields=["geo"])}
    assert rows == RETURNED
    assert _ids(milvus, name, "ST_CONTAINS(geo, 'POINT (30 30)')") == [2, 6, 9]
    assert _ids(milvus, name, "st_within(geo, 'POLYGON ((0 0, 25 0, 25 55, 0 55, 0 0))')") \
        == [1, 3, 5]
    assert _ids(milvus, name, "ST_INTERSECTS(geo, 'LINESTRING (0 0, 50 50)')") == [2, 3, 6, 7, 9]
    assert _ids(milvus, name, "ST_CROSSES(geo, 'LINESTRING (0 30, 50 30)')") == [2, 3, 4, 6, 7, 9]
    assert _ids(milvus, name, "ST_TOUCHES(geo, 'POINT (10 40)')") == [3, 6, 7, 9]
    assert _ids(milvus, name, "ST_OVERLAPS(geo, 'POLYGON ((35 35, 60 35, 60 60, 35 60, 35 35))')") \
        == [2, 6]
    assert _ids(milvus, name, "ST_EQUALS(geo, {wkt})",
                filter_params={"wkt": "MULTIPOINT ((40 30), (10 40))"}) == [4]
    # About 434 m apart on the sphere (haversine; x is longitude, y latitude).
    assert _ids(milvus, name, "ST_DWITHIN(geo, 'POINT (13.403683 52.520711)', 400)") == [1]
    assert _ids(milvus, name, "ST_DWITHIN(geo, 'POINT (13.403683 52.520711)', 450)") == [1, 5]
    assert _ids(milvus, name, "geo IS NULL") == [8]
    assert _ids(milvus, name, "not ST_CONTAINS(geo, 'POINT (30 30)')") \
        == [1, 3, 4, 5, 7]  # a null geometry passes neither the operator nor its negation
    assert _ids(milvus, name, "ST_ISVALID(geo)") == [1, 2, 3, 4, 5, 6, 7, 9]
    hits = milvus.search(name, data=[[0, 0]], limit=3, output_fields=["geo"],
                         filter="ST_INTERSECTS(geo, 'POLYGON ((0 0, 50 0, 50 50, 0 50, 0 0))')")
    assert [(h["id"], h["entity"]["geo"]) for h in hits[0]] == \
        [(i, RETURNED[i]) for i in (2, 3, 4)]


def test_geometry_round_trips_and_filters_growing_and_sealed(milvus, name: str) -> None:
    _populate(milvus, name)
    _check_filters(milvus, name)
    milvus.flush(name)
    _check_filters(milvus, name)


def test_geometry_default_value_fills_missing_and_null_rows(milvus, name: str) -> None:
    _collection(milvus, name, nullable=True, default_value="POINT (0 0)")
    milvus.insert(name, [{"id": 1, "geo": None, "vec": [0, 0]}, {"id": 2, "vec": [0, 0]},
                         {"id": 3, "geo": "POINT (1 1)", "vec": [0, 0]}])
    rows = {r["id"]: r["geo"] for r in milvus.query(name, filter="id > 0", output_fields=["geo"])}
    assert rows == {1: "POINT (0 0)", 2: "POINT (0 0)", 3: "POINT (1 1)"}
    assert _ids(milvus, name, "geo is null") == []


@pytest.mark.parametrize("wkt", ["", "POINT ()", "POINT (abc def)", "LINESTRING (0 0)",
                                 "POLYGON ((0 0, 1 0, 1 1))", "POINT (1 2 3 4 5)"])
def test_invalid_wkt_is_refused_on_insert(milvus, name: str, wkt: str) -> None:
    _collection(milvus, name)
    with pytest.raises(MilvusException, match="syntax error") as err:
        milvus.insert(name, [{"id": 1, "geo": "POINT (1 1)", "vec": [0, 0]},
                             {"id": 2, "geo": wkt, "vec": [0, 0]}])
    assert err.value.code == 1100
    assert milvus.query(name, filter="id > 0") == []


@pytest.mark.parametrize("expr, words", [
    ("ST_CONTAINS(id, 'POINT (1 1)')",
     "spatial operation are only supported on geometry fields now"),
    ("ST_DWITHIN(id, 'POINT (1 1)', 5)", "ST_DWITHIN operation are only supported on geometry"),
    ("ST_CONTAINS(geo, 'POINT (1')", "invalid WKT"),
    ("ST_DWITHIN(geo, 'LINESTRING (0 0, 1 1)', 5)", "must be a POINT"),
    ("ST_DWITHIN(geo, 'POINT (0 0)', -1)", "distance parameter must be non-negative"),
    ("ST_DWITHIN(geo, 'POINT (0 0)', 'far')", "distance parameter must be a numeric value"),
    ("geo == 'POINT (0 0)'", "only by the ST_ operators"),
])
def test_bad_geometry_filters_are_refused(milvus, name: str, expr: str, words: str) -> None:
    _collection(milvus, name)
    with pytest.raises(MilvusException, match=words) as err:
        milvus.query(name, filter=expr)
    assert err.value.code == 1100


def test_rtree_index_is_for_geometry_fields(milvus, name: str) -> None:
    _populate(milvus, name)
    milvus.release_collection(name)
    index = milvus.prepare_index_params()
    index.add_index("geo", index_type="RTREE", index_name="geo_rtree")
    milvus.create_index(name, index)
    assert milvus.describe_index(name, "geo_rtree")["index_type"] == "RTREE"
    for field, kind, words in [("id", "RTREE", "RTREE index can only be built on geometry field, got Int64"),
                               ("geo", "INVERTED", "INVERTED are not supported on Geometry")]:
        index = milvus.prepare_index_params()
        index.add_index(field, index_type=kind)
        with pytest.raises(MilvusException, match=words):
            milvus.create_index(name, index)
    milvus.load_collection(name)
    _check_filters(milvus, name)


@pytest.mark.parametrize("role", ["is_primary", "is_partition_key", "is_clustering_key"])
def test_geometry_cannot_be_a_key(milvus, name: str, role: str) -> None:
    from pymilvus import CollectionSchema, FieldSchema

    fields = [FieldSchema("geo", DataType.GEOMETRY, **{role: True}),
              FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)]
    if role != "is_primary":
        fields.insert(0, FieldSchema("id", DataType.INT64, is_primary=True))
    with pytest.raises(Exception, match="(?i)type"):  # pymilvus or the server refuses it
        milvus.create_collection(name, schema=CollectionSchema(fields))


def test_geometry_survives_restart_and_compaction(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    for round_ in range(2):
        server = Server(data).start()
        try:
            client = MilvusClient(uri=server.uri)
            if round_ == 0:
                _populate(client, name)  # left in the WAL only
            else:
                _check_filters(client, name)
                client.flush(name)
                client.compact(name)
            _check_filters(client, name)
            client.close()
        finally:
            server.stop()
