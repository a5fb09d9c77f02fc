/* A grid's buildings coloured by whether a worker visited them in the month, over the grid
   outline; offline by default (vector outline, no tiles). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("coverage-data").textContent);
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var T = JSON.parse(document.getElementById("map-text").textContent);
  var gcj = cfg.tileCrs === "gcj02";
  var toDisplay = function (lat, lng) { return gcj ? CivicCoords.wgs84ToGcj02(lat, lng) : [lat, lng]; };

  var box = document.getElementById("coverage-map");
  var map = L.map(box, {zoomControl: true, attributionControl: !!cfg.tileUrl});
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

  if (data.grid.geometry) {
    var g = gcj ? CivicCoords.transformGeoJSON(data.grid.geometry, CivicCoords.wgs84ToGcj02) : data.grid.geometry;
    L.geoJSON(g, {interactive: false, style: {color: "#334155", weight: 2, fillOpacity: 0.05}}).addTo(all);
  }
  var visited = 0, unvisited = 0;
  data.buildings.forEach(function (b) {
    if (b.lat === null || b.lng === null) return;
    if (b.visited) visited += 1; else unvisited += 1;
    var m = L.circleMarker(toDisplay(b.lat, b.lng), {
      radius: 6, color: b.visited ? "#166534" : "#991b1b", weight: 1.5,
      fillColor: b.visited ? "#22c55e" : "#fca5a5", fillOpacity: 0.9,
    });
    m.bindPopup(function () {
      var div = el("div");
      div.appendChild(el("b", {}, b.name));
      div.appendChild(el("div", {"class": "small"}, b.visited ? T.visited : T.notVisited));
      if (b.visited) {
        var names = b.workers.map(function (id) { return data.workers[id] || ""; }).filter(Boolean).join("、");
        if (names) div.appendChild(el("div", {"class": "small muted"}, T.by + " " + names));
        div.appendChild(el("div", {"class": "small muted"}, b.sources.map(function (s) { return data.sources[s] || s; }).join(" · ")));
      }
      return div;
    });
    m.addTo(all);
    if (m._path) m._path.setAttribute("data-visited", b.visited ? "1" : "0");
  });
  box.dataset.visited = visited;
  box.dataset.unvisited = unvisited;
  if (all.getLayers().length) map.fitBounds(all.getBounds(), {padding: [16, 16], maxZoom: 18, animate: false});
})();
