"""GEOMETRY values: WKT parsed to WKB once, written back as Milvus writes WKT."""

from __future__ import annotations

import pyarrow as pa
import pytest
import shapely

from elanus.schema import geometry


@pytest.mark.parametrize("wkt, out", [
    ("POINT(13.399710 52.518010)", "POINT (13.39971 52.51801)"),
    ("POINT (0.1 0.30000000000000004)", "POINT (0.1 0.30000000000000004)"),
    ("POINT (1e20 -1.5e-7)", "POINT (100000000000000000000 -0.00000015)"),
    ("MULTIPOINT ((10 40), (40 30))", "MULTIPOINT (10 40, 40 30)"),
    ("MULTIPOINT (10 40, 40 30)", "MULTIPOINT (10 40, 40 30)"),
    ("POINT Z (1 2 3)", "POINT Z (1 2 3)"),
    ("POINT EMPTY", "POINT EMPTY"),
    ("POLYGON EMPTY", "POLYGON EMPTY"),
    ("polygon ((0 0, 1 0, 1 1, 0 0))", "POLYGON ((0 0, 1 0, 1 1, 0 0))"),
    ("GEOMETRYCOLLECTION (POINT (40 10), MULTIPOINT ((1 2)))",
     "GEOMETRYCOLLECTION (POINT (40 10), MULTIPOINT ((1 2)))"),
])
def test_wkt_is_stored_as_wkb_and_written_back_in_milvus_form(wkt: str, out: str) -> None:
    stored = geometry.parse(pa.array([wkt, None]))
    assert stored.type == pa.large_binary() and stored.null_count == 1
    assert shapely.equals(shapely.from_wkb(stored[0].as_py()), shapely.from_wkt(wkt)) or \
        "EMPTY" in wkt
    assert geometry.render(stored).to_pylist() == [out, None]


def test_wkb_input_is_checked_and_kept() -> None:
    wkb = shapely.to_wkb(shapely.from_wkt("LINESTRING (0 0, 1 1)"))
    stored = geometry.parse(pa.array([wkb], pa.binary()))
    assert geometry.render(stored).to_pylist() == ["LINESTRING (0 0, 1 1)"]
    with pytest.raises(ValueError, match="row 0"):
        geometry.parse(pa.array([b"\x01\x02"], pa.binary()))


@pytest.mark.parametrize("wkt", ["", "POINT ()", "POINT (abc def)", "LINESTRING (0 0)",
                                 "POLYGON ((0 0, 1 0, 1 1))", "POINT (1 2 3 4 5)", "CIRCLE (1)"])
def test_invalid_wkt_names_the_row(wkt: str) -> None:
    with pytest.raises(ValueError, match=r"syntax error: .*\(row 2: ") as err:
        geometry.parse(pa.array(["POINT (1 1)", None, wkt]))
    assert "\n" not in str(err.value)


def test_literal_is_prepared_and_checked() -> None:
    shape = geometry.literal("POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))")
    assert shapely.is_prepared(shape)
    with pytest.raises(ValueError, match="invalid WKT"):
        geometry.literal("POLYGON ((0 0")
