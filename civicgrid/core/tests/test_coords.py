"""Tests for civicgrid.core.coords (WGS-84 <-> GCJ-02 conversion).

Plain pytest functions, no Django needed:
    python -m pytest -p no:django -q civicgrid/core/tests/test_coords.py
"""

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.core.coords import gcj02_to_wgs84, out_of_china, transform_geojson, wgs84_to_gcj02


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance in metres between two (lat, lng) points."""
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


# --------------------------------------------------------------------------- reference values


def test_tiananmen_reference_value():
    lat, lng = wgs84_to_gcj02(39.908823, 116.397470)
    assert lat == pytest.approx(39.910226, abs=1e-5)
    assert lng == pytest.approx(116.403712, abs=1e-5)


def test_matches_gcoord_reference_values():
    # Values from the gcoord (hujiulong/gcoord) test suite for the point lng 123, lat 45.
    lat, lng = wgs84_to_gcj02(45.0, 123.0)
    assert lat == pytest.approx(45.00197815, abs=1e-8)
    assert lng == pytest.approx(123.00607541, abs=1e-8)
    lat, lng = gcj02_to_wgs84(45.0, 123.0)
    assert lat == pytest.approx(44.99804071, abs=1e-6)
    assert lng == pytest.approx(122.99395597, abs=1e-6)


def test_wuzhou_point_shifts_a_few_hundred_metres():
    wgs = (23.4769, 111.2790)
    gcj = wgs84_to_gcj02(*wgs)
    assert 300 < _metres(wgs, gcj) < 900
    # In southern China the GCJ-02 offset is roughly south-east.
    assert gcj[0] < wgs[0]
    assert gcj[1] > wgs[1]
    back = gcj02_to_wgs84(*gcj)
    assert back == pytest.approx(wgs, abs=1e-9)


def test_inverse_is_better_than_one_step_approximation():
    # The naive inverse (gcj - delta(gcj)) is off by up to ~1e-5 degrees; ours is exact.
    wgs = (39.908823, 116.397470)
    gcj = wgs84_to_gcj02(*wgs)
    one_step = wgs84_to_gcj02(*gcj)
    naive = (2 * gcj[0] - one_step[0], 2 * gcj[1] - one_step[1])
    assert max(abs(naive[0] - wgs[0]), abs(naive[1] - wgs[1])) > 1e-7
    back = gcj02_to_wgs84(*gcj)
    assert max(abs(back[0] - wgs[0]), abs(back[1] - wgs[1])) < 1e-9


# --------------------------------------------------------------------------- round trip

inside_china = st.tuples(
    st.floats(min_value=1.0, max_value=55.5, allow_nan=False, allow_infinity=False),
    st.floats(min_value=72.5, max_value=137.5, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=500, database=None, deadline=None)
@given(inside_china)
def test_round_trip_wgs_gcj_wgs(point):
    lat, lng = point
    gcj = wgs84_to_gcj02(lat, lng)
    assert gcj != (lat, lng)
    back = gcj02_to_wgs84(*gcj)
    assert abs(back[0] - lat) < 1e-6
    assert abs(back[1] - lng) < 1e-6
    # And the other way round: forward(inverse(p)) == p.
    again = wgs84_to_gcj02(*gcj02_to_wgs84(lat, lng))
    assert abs(again[0] - lat) < 1e-7
    assert abs(again[1] - lng) < 1e-7


@settings(max_examples=200, database=None, deadline=None)
@given(inside_china)
def test_offset_is_bounded(point):
    gcj = wgs84_to_gcj02(*point)
    # The GCJ-02 shift is at most on the order of a kilometre.
    assert _metres(point, gcj) < 1500


# --------------------------------------------------------------------------- outside China


@pytest.mark.parametrize(
    "lat,lng",
    [
        (51.5074, -0.1278),  # London
        (40.7128, -74.0060),  # New York
        (-33.8688, 151.2093),  # Sydney
        (35.6762, 139.6503),  # Tokyo (east of the box)
        (60.0, 100.0),  # north of the box
        (0.5, 110.0),  # south of the box
        (30.0, 70.0),  # west of the box
    ],
)
def test_outside_china_unchanged(lat, lng):
    assert out_of_china(lat, lng)
    assert wgs84_to_gcj02(lat, lng) == (lat, lng)
    assert gcj02_to_wgs84(lat, lng) == (lat, lng)


def test_out_of_china_bbox_edges():
    assert not out_of_china(39.9, 116.4)
    assert not out_of_china(23.4769, 111.2790)
    assert out_of_china(30.0, 72.0)
    assert not out_of_china(30.0, 72.01)
    assert out_of_china(30.0, 137.84)
    assert out_of_china(0.8, 110.0)
    assert out_of_china(55.83, 110.0)


# --------------------------------------------------------------------------- GeoJSON

P1 = [111.2790, 23.4769]
P2 = [111.2800, 23.4780]
P3 = [111.2810, 23.4769]
RING = [P1, P2, P3, P1]

GEOMETRIES = {
    "Point": {"type": "Point", "coordinates": P1},
    "MultiPoint": {"type": "MultiPoint", "coordinates": [P1, P2]},
    "LineString": {"type": "LineString", "coordinates": [P1, P2, P3]},
    "MultiLineString": {"type": "MultiLineString", "coordinates": [[P1, P2], [P2, P3]]},
    "Polygon": {"type": "Polygon", "coordinates": [RING, list(reversed(RING))]},
    "MultiPolygon": {"type": "MultiPolygon", "coordinates": [[RING], [RING, RING]]},
}


def _positions(coords):
    """Yield every position in a nested coordinates array."""
    if isinstance(coords[0], int | float):
        yield coords
    else:
        for c in coords:
            yield from _positions(c)


def _shape(coords):
    if isinstance(coords[0], int | float):
        return len(coords)
    return [_shape(c) for c in coords]


@pytest.mark.parametrize("gtype", sorted(GEOMETRIES))
def test_transform_geojson_each_geometry_type(gtype):
    geom = GEOMETRIES[gtype]
    original = copy.deepcopy(geom)
    out = transform_geojson(geom, wgs84_to_gcj02)

    assert geom == original  # input not mutated
    assert out is not geom
    assert out["type"] == gtype
    assert _shape(out["coordinates"]) == _shape(geom["coordinates"])
    src = list(_positions(geom["coordinates"]))
    dst = list(_positions(out["coordinates"]))
    assert len(src) == len(dst)
    for (lng, lat), converted in zip(src, dst, strict=True):
        exp_lat, exp_lng = wgs84_to_gcj02(lat, lng)
        assert converted == [exp_lng, exp_lat]
        assert converted != [lng, lat]

    # Round trip back to WGS-84.
    back = transform_geojson(out, gcj02_to_wgs84)
    for (lng, lat), (b_lng, b_lat) in zip(src, _positions(back["coordinates"]), strict=True):
        assert b_lat == pytest.approx(lat, abs=1e-9)
        assert b_lng == pytest.approx(lng, abs=1e-9)


def test_transform_geojson_calls_fn_with_lat_lng():
    calls = []

    def fn(lat, lng):
        calls.append((lat, lng))
        return lat + 1, lng + 2

    out = transform_geojson({"type": "LineString", "coordinates": [[100.0, 30.0], [101.0, 31.0]]}, fn)
    assert calls == [(30.0, 100.0), (31.0, 101.0)]
    assert out["coordinates"] == [[102.0, 31.0], [103.0, 32.0]]


def test_transform_geojson_keeps_altitude_and_drops_stale_bbox():
    geom = {
        "type": "Point",
        "coordinates": [111.279, 23.4769, 42.5],
        "bbox": [111.279, 23.4769, 111.279, 23.4769],
    }
    out = transform_geojson(geom, wgs84_to_gcj02)
    assert out["coordinates"][2] == 42.5
    assert len(out["coordinates"]) == 3
    assert "bbox" not in out


def test_transform_geojson_feature_collection_and_geometry_collection():
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": 7, "properties": {"name": "grid A"}, "geometry": GEOMETRIES["Polygon"]},
            {"type": "Feature", "properties": None, "geometry": None},
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "GeometryCollection", "geometries": [GEOMETRIES["Point"]]},
            },
        ],
    }
    original = copy.deepcopy(fc)
    out = transform_geojson(fc, wgs84_to_gcj02)
    assert fc == original
    f0, f1, f2 = out["features"]
    assert f0["id"] == 7
    assert f0["properties"] == {"name": "grid A"}
    assert f0["properties"] is not fc["features"][0]["properties"]
    assert f0["geometry"] == transform_geojson(GEOMETRIES["Polygon"], wgs84_to_gcj02)
    assert f1["geometry"] is None
    assert f2["geometry"]["geometries"][0] == transform_geojson(GEOMETRIES["Point"], wgs84_to_gcj02)


def test_transform_geojson_outside_china_identity():
    geom = {"type": "LineString", "coordinates": [[-0.1278, 51.5074], [2.3522, 48.8566]]}
    assert transform_geojson(geom, wgs84_to_gcj02) == geom


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "Circle", "coordinates": [0, 0]},
        {"type": "Point", "coordinates": [1.0]},
        {"type": "LineString", "coordinates": [1.0, 2.0]},
        "not a dict",
    ],
)
def test_transform_geojson_rejects_invalid(bad):
    with pytest.raises(ValueError):
        transform_geojson(bad, wgs84_to_gcj02)
