"""Coordinate conversion between WGS-84 and GCJ-02.

GCJ-02 (the "Mars" coordinate system) is the obfuscated datum that Chinese
map providers such as AMap (Gaode) and Tencent use for their tiles and
geocoders. Data captured by GPS (and stored by CivicGrid) is WGS-84, so it
must be shifted to GCJ-02 before it is drawn over those tiles, and points
picked on such a map must be shifted back before they are stored.

The forward formula is the widely used public approximation (as in
``eviltransform`` / ``coordtransform``): Krasovsky 1940 ellipsoid parameters
``a = 6378245.0`` and ``ee = 0.00669342162296594323`` with the
``transform_lat`` / ``transform_lng`` polynomials. Points outside a rough
bounding box of China are returned unchanged.

The inverse has no closed form; :func:`gcj02_to_wgs84` solves it by fixed-point
iteration, which converges to well below 1e-7 degrees (about 1 cm) in a few
steps, instead of the common one-step approximation that can be off by a
metre or more.

The same algorithm is implemented in JavaScript in
``static/civicgrid/js/coords.js`` (``window.CivicCoords``); keep both in step.

All functions take and return ``(lat, lng)`` in degrees; GeoJSON positions are
``[lng, lat]`` (optionally followed by an altitude, which is preserved).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "A",
    "EE",
    "gcj02_to_wgs84",
    "out_of_china",
    "transform_geojson",
    "wgs84_to_gcj02",
]

#: Semi-major axis of the Krasovsky 1940 ellipsoid, in metres.
A = 6378245.0
#: Eccentricity squared of the Krasovsky 1940 ellipsoid.
EE = 0.00669342162296594323

# Rough bounding box of China used by the reference implementations.
_MIN_LNG, _MAX_LNG = 72.004, 137.8347
_MIN_LAT, _MAX_LAT = 0.8293, 55.8271

# Inverse iteration: stop when the residual is below this (degrees).
_INVERSE_TOLERANCE = 1e-10
_INVERSE_MAX_ITERATIONS = 30

CoordFn = Callable[[float, float], tuple[float, float]]


def out_of_china(lat: float, lng: float) -> bool:
    """Return True if the point lies outside the rough bounding box of China.

    Such points are not shifted by either conversion.
    """
    return not (_MIN_LNG <= lng <= _MAX_LNG and _MIN_LAT <= lat <= _MAX_LAT)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _delta(lat: float, lng: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84 offset (dlat, dlng) in degrees at a WGS-84 point.

    No bounding-box check: callers decide whether the point is in China.
    """
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = math.sin(rad_lat)
    magic = 1 - EE * magic * magic
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((A * (1 - EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lat, d_lng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Convert a WGS-84 point to GCJ-02. Returns ``(lat, lng)``.

    Points outside China are returned unchanged.
    """
    if out_of_china(lat, lng):
        return lat, lng
    d_lat, d_lng = _delta(lat, lng)
    return lat + d_lat, lng + d_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Convert a GCJ-02 point back to WGS-84. Returns ``(lat, lng)``.

    Solves ``wgs84_to_gcj02(w) == (lat, lng)`` for ``w`` by fixed-point
    iteration starting from the one-step approximation; the result satisfies
    the forward conversion to better than 1e-9 degrees. Points outside China
    are returned unchanged.
    """
    if out_of_china(lat, lng):
        return lat, lng
    d_lat, d_lng = _delta(lat, lng)
    w_lat, w_lng = lat - d_lat, lng - d_lng
    for _ in range(_INVERSE_MAX_ITERATIONS):
        d_lat, d_lng = _delta(w_lat, w_lng)
        err_lat = w_lat + d_lat - lat
        err_lng = w_lng + d_lng - lng
        w_lat -= err_lat
        w_lng -= err_lng
        if abs(err_lat) < _INVERSE_TOLERANCE and abs(err_lng) < _INVERSE_TOLERANCE:
            break
    return w_lat, w_lng


# --------------------------------------------------------------------------- GeoJSON

# Nesting depth of the "coordinates" array below a single position.
_COORDINATE_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def _convert_position(position: Any, fn: CoordFn) -> list[Any]:
    if not isinstance(position, list | tuple) or len(position) < 2:
        raise ValueError(f"Invalid GeoJSON position: {position!r}")
    lng, lat = position[0], position[1]
    new_lat, new_lng = fn(float(lat), float(lng))
    return [new_lng, new_lat, *position[2:]]


def _convert_coordinates(coords: Any, depth: int, fn: CoordFn) -> list[Any]:
    if depth == 0:
        return _convert_position(coords, fn)
    if not isinstance(coords, list | tuple):
        raise ValueError(f"Invalid GeoJSON coordinates: {coords!r}")
    return [_convert_coordinates(c, depth - 1, fn) for c in coords]


def _copy_members(obj: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    # "bbox" is dropped: it would be stale after the coordinates move.
    return {k: copy.deepcopy(v) for k, v in obj.items() if k not in skip and k != "bbox"}


def transform_geojson(geometry: dict[str, Any] | None, fn: CoordFn) -> dict[str, Any] | None:
    """Return a new GeoJSON object with every position converted by ``fn``.

    ``fn`` is called as ``fn(lat, lng)`` and must return ``(lat, lng)``, e.g.
    :func:`wgs84_to_gcj02` or :func:`gcj02_to_wgs84`. GeoJSON positions are
    ``[lng, lat, ...]``; extra elements (altitude) are kept.

    Supports Point, MultiPoint, LineString, MultiLineString, Polygon,
    MultiPolygon and GeometryCollection, and also Feature and
    FeatureCollection (other members such as ``properties`` and ``id`` are
    deep-copied). The input is never mutated and shares nothing with the
    result. A stale ``bbox`` member is dropped. ``None`` (a Feature's null
    geometry) maps to ``None``.

    Raises ``ValueError`` for an unknown type or malformed coordinates.
    """
    if geometry is None:
        return None
    if not isinstance(geometry, dict):
        raise ValueError(f"Not a GeoJSON object: {geometry!r}")
    gtype = geometry.get("type")
    if gtype in _COORDINATE_DEPTH:
        out = _copy_members(geometry, {"coordinates"})
        out["coordinates"] = _convert_coordinates(geometry.get("coordinates"), _COORDINATE_DEPTH[gtype], fn)
        return out
    if gtype == "GeometryCollection":
        out = _copy_members(geometry, {"geometries"})
        out["geometries"] = [transform_geojson(g, fn) for g in geometry.get("geometries", [])]
        return out
    if gtype == "Feature":
        out = _copy_members(geometry, {"geometry"})
        out["geometry"] = transform_geojson(geometry.get("geometry"), fn)
        return out
    if gtype == "FeatureCollection":
        out = _copy_members(geometry, {"features"})
        out["features"] = [transform_geojson(f, fn) for f in geometry.get("features", [])]
        return out
    raise ValueError(f"Unsupported GeoJSON type: {gtype!r}")
