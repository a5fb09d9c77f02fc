/* The small map on a case page: the case's point over its grid's outline, offline by default. */
(function () {
  "use strict";
  var loc = JSON.parse(document.getElementById("case-location").textContent);
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var box = document.getElementById("case-map");
  if (!box || loc.lat === null || loc.lng === null) return;
  var gcj = cfg.tileCrs === "gcj02";
  var toDisplay = function (lat, lng) { return gcj ? CivicCoords.wgs84ToGcj02(lat, lng) : [lat, lng]; };
  var map = L.map(box, {zoomControl: true, attributionControl: !!cfg.tileUrl, scrollWheelZoom: false});
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, {maxZoom: 19, attribution: cfg.attribution || ""}).addTo(map);
  } else {
    box.classList.add("no-tiles");
  }
  var point = toDisplay(loc.lat, loc.lng);
  if (loc.grid) {
    var g = gcj ? CivicCoords.transformGeoJSON(loc.grid, CivicCoords.wgs84ToGcj02) : loc.grid;
    var outline = L.geoJSON(g, {interactive: false, style: {color: "#64748b", weight: 2, fillOpacity: 0.06}}).addTo(map);
    map.fitBounds(outline.getBounds().extend(point), {padding: [12, 12], maxZoom: 17});
  } else {
    map.setView(point, 16);
  }
  L.circleMarker(point, {radius: 8, color: "#1e293b", weight: 2, fillColor: "#b91c1c", fillOpacity: 0.9}).addTo(map);
})();
