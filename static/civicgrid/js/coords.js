/*
 * CivicGrid coordinate conversion: WGS-84 <-> GCJ-02.
 *
 * Plain browser script (no modules, no build step). Defines:
 *
 *   window.CivicCoords = {
 *     wgs84ToGcj02(lat, lng)   -> [lat, lng]
 *     gcj02ToWgs84(lat, lng)   -> [lat, lng]   (iterative, accurate inverse)
 *     outOfChina(lat, lng)     -> boolean
 *     transformGeoJSON(geojson, fn) -> new GeoJSON object
 *   }
 *
 * GCJ-02 ("Mars" coordinates) is the offset datum used by AMap/Tencent tiles.
 * Stored data is WGS-84: convert to GCJ-02 before drawing over such tiles and
 * convert clicked/drawn points back before submitting them.
 *
 * Same algorithm as civicgrid/core/coords.py (eviltransform / coordtransform
 * formulas, Krasovsky ellipsoid); keep both in step. Points outside a rough
 * bounding box of China are returned unchanged.
 *
 * GeoJSON positions are [lng, lat, ...]; fn is called as fn(lat, lng) and
 * must return [lat, lng].
 */
(function (global) {
  'use strict';

  var PI = Math.PI;
  var A = 6378245.0;
  var EE = 0.00669342162296594323;

  var MIN_LNG = 72.004, MAX_LNG = 137.8347;
  var MIN_LAT = 0.8293, MAX_LAT = 55.8271;

  var INVERSE_TOLERANCE = 1e-10;
  var INVERSE_MAX_ITERATIONS = 30;

  function outOfChina(lat, lng) {
    return !(lng >= MIN_LNG && lng <= MAX_LNG && lat >= MIN_LAT && lat <= MAX_LAT);
  }

  function transformLat(x, y) {
    var ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    ret += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    ret += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    ret += (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    return ret;
  }

  function transformLng(x, y) {
    var ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    ret += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    ret += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    ret += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    return ret;
  }

  // GCJ-02 minus WGS-84 offset [dLat, dLng] at a WGS-84 point (no bbox check).
  function delta(lat, lng) {
    var dLat = transformLat(lng - 105.0, lat - 35.0);
    var dLng = transformLng(lng - 105.0, lat - 35.0);
    var radLat = lat / 180.0 * PI;
    var magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * PI);
    dLng = (dLng * 180.0) / (A / sqrtMagic * Math.cos(radLat) * PI);
    return [dLat, dLng];
  }

  function wgs84ToGcj02(lat, lng) {
    if (outOfChina(lat, lng)) {
      return [lat, lng];
    }
    var d = delta(lat, lng);
    return [lat + d[0], lng + d[1]];
  }

  function gcj02ToWgs84(lat, lng) {
    if (outOfChina(lat, lng)) {
      return [lat, lng];
    }
    var d = delta(lat, lng);
    var wLat = lat - d[0];
    var wLng = lng - d[1];
    for (var i = 0; i < INVERSE_MAX_ITERATIONS; i++) {
      d = delta(wLat, wLng);
      var errLat = wLat + d[0] - lat;
      var errLng = wLng + d[1] - lng;
      wLat -= errLat;
      wLng -= errLng;
      if (Math.abs(errLat) < INVERSE_TOLERANCE && Math.abs(errLng) < INVERSE_TOLERANCE) {
        break;
      }
    }
    return [wLat, wLng];
  }

  // ------------------------------------------------------------------ GeoJSON

  var COORDINATE_DEPTH = {
    Point: 0,
    MultiPoint: 1,
    LineString: 1,
    MultiLineString: 2,
    Polygon: 2,
    MultiPolygon: 3
  };

  function clone(value) {
    if (Array.isArray(value)) {
      return value.map(clone);
    }
    if (value !== null && typeof value === 'object') {
      var out = {};
      for (var key in value) {
        if (Object.prototype.hasOwnProperty.call(value, key)) {
          out[key] = clone(value[key]);
        }
      }
      return out;
    }
    return value;
  }

  // Copy every member except `skip` and the (now stale) bbox.
  function copyMembers(obj, skip) {
    var out = {};
    for (var key in obj) {
      if (Object.prototype.hasOwnProperty.call(obj, key) && key !== skip && key !== 'bbox') {
        out[key] = clone(obj[key]);
      }
    }
    return out;
  }

  function convertPosition(position, fn) {
    if (!Array.isArray(position) || position.length < 2) {
      throw new TypeError('Invalid GeoJSON position: ' + JSON.stringify(position));
    }
    var r = fn(Number(position[1]), Number(position[0]));
    return [r[1], r[0]].concat(position.slice(2));
  }

  function convertCoordinates(coords, depth, fn) {
    if (depth === 0) {
      return convertPosition(coords, fn);
    }
    if (!Array.isArray(coords)) {
      throw new TypeError('Invalid GeoJSON coordinates: ' + JSON.stringify(coords));
    }
    return coords.map(function (c) { return convertCoordinates(c, depth - 1, fn); });
  }

  /*
   * Return a new GeoJSON object with every position converted by fn(lat, lng).
   * Accepts geometry objects (Point, MultiPoint, LineString, MultiLineString,
   * Polygon, MultiPolygon, GeometryCollection), Feature and FeatureCollection.
   * The input is not mutated; other members (properties, id, ...) are
   * deep-copied; a stale bbox is dropped; a null geometry stays null.
   */
  function transformGeoJSON(geojson, fn) {
    if (geojson === null || geojson === undefined) {
      return null;
    }
    if (typeof geojson !== 'object' || Array.isArray(geojson)) {
      throw new TypeError('Not a GeoJSON object');
    }
    var type = geojson.type;
    var out;
    if (Object.prototype.hasOwnProperty.call(COORDINATE_DEPTH, type)) {
      out = copyMembers(geojson, 'coordinates');
      out.coordinates = convertCoordinates(geojson.coordinates, COORDINATE_DEPTH[type], fn);
      return out;
    }
    if (type === 'GeometryCollection') {
      out = copyMembers(geojson, 'geometries');
      out.geometries = (geojson.geometries || []).map(function (g) { return transformGeoJSON(g, fn); });
      return out;
    }
    if (type === 'Feature') {
      out = copyMembers(geojson, 'geometry');
      out.geometry = transformGeoJSON(geojson.geometry, fn);
      return out;
    }
    if (type === 'FeatureCollection') {
      out = copyMembers(geojson, 'features');
      out.features = (geojson.features || []).map(function (f) { return transformGeoJSON(f, fn); });
      return out;
    }
    throw new TypeError('Unsupported GeoJSON type: ' + type);
  }

  global.CivicCoords = {
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
    outOfChina: outOfChina,
    transformGeoJSON: transformGeoJSON
  };
})(window);
