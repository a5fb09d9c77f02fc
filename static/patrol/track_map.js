/* A worker's day on the map: the track (simplified polylines, broken where the signal was lost),
   its start and end, and the places visited, over the grid outline. Offline by default (no tile
   server: vector outlines only); with MAP_TILE_CRS = gcj02 everything is shifted for display, as on
   the other maps. Labels come from the server and are only ever set as text. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("track-data").textContent);
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var T = JSON.parse(document.getElementById("map-text").textContent);
  var gcj = cfg.tileCrs === "gcj02";
  var toDisplay = function (lat, lng) { return gcj ? CivicCoords.wgs84ToGcj02(lat, lng) : [lat, lng]; };
  var COLOURS = {case: "#dc2626", verification: "#16a34a", registry: "#9333ea", building: "#d97706"};

  var box = document.getElementById("track-map");
  var map = L.map(box, {zoomControl: true, attributionControl: !!cfg.tileUrl, preferCanvas: false});
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, {maxZoom: 19, attribution: cfg.attribution || ""}).addTo(map);
  } else {
    box.classList.add("no-tiles");
  }
  map.setView(toDisplay(23.48, 111.3), 13);
  var all = L.featureGroup().addTo(map);

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  (data.outlines || []).forEach(function (o) {
    var g = gcj ? CivicCoords.transformGeoJSON(o.geometry, CivicCoords.wgs84ToGcj02) : o.geometry;
    L.geoJSON(g, {interactive: false, style: {color: "#64748b", weight: 2, fillOpacity: 0.05}}).addTo(all);
  });

  var vertices = 0;
  data.lines.forEach(function (line, i) {
    var pts = line.map(function (p) { return toDisplay(p[0], p[1]); });
    vertices += pts.length;
    var pl = L.polyline(pts, {color: "#2563eb", weight: 4, opacity: 0.85, lineJoin: "round"}).addTo(all);
    if (pl._path) pl._path.setAttribute("data-line", i);
  });
  if (data.lines.length) {
    var first = data.lines[0][0], lastLine = data.lines[data.lines.length - 1], last = lastLine[lastLine.length - 1];
    L.circleMarker(toDisplay(first[0], first[1]), {radius: 7, color: "#fff", weight: 2, fillColor: "#16a34a", fillOpacity: 1})
      .bindTooltip(T.start).addTo(all);
    L.circleMarker(toDisplay(last[0], last[1]), {radius: 7, color: "#fff", weight: 2, fillColor: "#1e293b", fillOpacity: 1})
      .bindTooltip(T.end).addTo(all);
  }

  data.visits.forEach(function (v) {
    var m = L.circleMarker(toDisplay(v.lat, v.lng), {
      radius: v.kind === "building" ? 5 : 8, color: "#fff", weight: 1.5,
      fillColor: COLOURS[v.kind] || "#475569", fillOpacity: 0.9,
    });
    m.bindPopup(function () {
      var div = el("div", {"class": "visit-popup"});
      div.appendChild(el("div", {"class": "small muted"}, (T.visitKinds[v.kind] || v.kind) + " · " + v.at.slice(11, 16)));
      div.appendChild(v.url ? el("a", {href: v.url}, v.label) : el("b", {}, v.label));
      if (v.detail) div.appendChild(el("div", {"class": "small"}, v.detail));
      return div;
    });
    m.addTo(all);
    if (m._path) m._path.setAttribute("data-visit", v.kind);
  });

  box.dataset.lines = data.lines.length;
  box.dataset.points = vertices;
  box.dataset.visits = data.visits.length;
  if (all.getLayers().length) map.fitBounds(all.getBounds(), {padding: [20, 20], maxZoom: 18, animate: false});
  window.CivicTrackMap = {map: map};
})();
