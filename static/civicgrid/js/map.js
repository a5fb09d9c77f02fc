/* Grid map: the area tree on Leaflet with drill-down. Works with no tile server (offline);
   with MAP_TILE_CRS = gcj02 the WGS-84 geometry is shifted to GCJ-02 for display and clicks are
   shifted back before they are sent to the server. */
(function () {
  "use strict";
  var script = document.currentScript;
  var API = script.dataset.api, LOCATE = script.dataset.locate, BUILDINGS = script.dataset.buildings;
  var PLACES = script.dataset.places;
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var T = JSON.parse(document.getElementById("map-text").textContent);
  var gcj = cfg.tileCrs === "gcj02";
  var toDisplay = function (lat, lng) { return gcj ? CivicCoords.wgs84ToGcj02(lat, lng) : [lat, lng]; };
  var fromDisplay = function (lat, lng) { return gcj ? CivicCoords.gcj02ToWgs84(lat, lng) : [lat, lng]; };

  var map = L.map("map", {zoomControl: true, attributionControl: !!cfg.tileUrl, preferCanvas: false});
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, {maxZoom: 19, attribution: cfg.attribution || ""}).addTo(map);
  } else {
    document.getElementById("map").classList.add("no-tiles");
  }
  map.setView(toDisplay(23.48, 111.3), 12);

  var layer = L.featureGroup().addTo(map);
  var marker = null;
  // The map is aria-busy from the start of an area's load until the view has moved to it (the
  // "moveend" of its fitBounds): until then a shape is not yet where a click on the screen lands.
  var mapEl = document.getElementById("map"), pending = 0, settled = Promise.resolve();
  mapEl.setAttribute("aria-busy", "true");
  var trail = [];   // [{id, name}] from the top visible area down to the current node
  var colours = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f", "#be185d"];

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); });
  }

  function displayGeometry(geom) {
    return gcj ? CivicCoords.transformGeoJSON(geom, CivicCoords.wgs84ToGcj02) : geom;
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderTrail() {
    var nav = document.getElementById("trail");
    nav.textContent = "";
    var all = el("a", {href: "#", "data-id": ""}, T.all);
    all.addEventListener("click", function (ev) { ev.preventDefault(); trail = []; load(null); });
    nav.appendChild(all);
    trail.forEach(function (node, i) {
      nav.appendChild(document.createTextNode(" › "));
      var a = el("a", {href: "#", "data-id": node.id}, node.name);
      a.addEventListener("click", function (ev) { ev.preventDefault(); trail = trail.slice(0, i + 1); load(node); });
      nav.appendChild(a);
    });
  }

  function showInfo(node, items) {
    document.getElementById("panel-title").textContent = node ? node.name : T.all;
    var info = document.getElementById("panel-info");
    info.textContent = "";
    if (node) {
      info.appendChild(el("div", {}, T.code + ": " + node.code));
      if (node.level === "grid") info.appendChild(el("div", {"class": "worker"}, T.worker + ": " + (node.grid_worker_name || T.none)));
    }
    var list = document.getElementById("children");
    list.textContent = "";
    if (!items.length && node) list.appendChild(el("li", {"class": "muted"}, T.noChildren));
    items.forEach(function (area) {
      var li = el("li");
      var a = el("a", {href: "#", "data-code": area.code}, area.name);
      a.addEventListener("click", function (ev) { ev.preventDefault(); drill(area); });
      li.appendChild(a);
      li.appendChild(el("small", {"class": "muted"}, " " + area.code));
      list.appendChild(li);
    });
  }

  function draw(items, node) {
    layer.clearLayers();
    items.forEach(function (area, i) {
      if (!area.geometry) return;
      var poly = L.geoJSON(displayGeometry(area.geometry), {
        style: {color: colours[i % colours.length], weight: 2, fillOpacity: 0.18},
      });
      var label = items.length <= 20;  // few areas: name them on the map
      poly.eachLayer(function (l) {
        l.options.areaCode = area.code;
        l.bindTooltip(area.name, label ? {permanent: true, direction: "center", className: "area-label"} : {sticky: true});
        l.on("click", function () { drill(area); });
      });
      poly.addTo(layer);
      poly.eachLayer(function (l) { if (l._path) l._path.setAttribute("data-code", area.code); });
    });
    if (!items.some(function (a) { return a.geometry; }) && node && node.geometry) {
      L.geoJSON(displayGeometry(node.geometry), {style: {color: "#334155", weight: 3, fillOpacity: 0.08}}).addTo(layer);
    }
    if (layer.getLayers().length) {
      // fitBounds ends with one "moveend", animated or not (also when the view does not change).
      settled = new Promise(function (done) { map.once("moveend", done); });
      map.fitBounds(layer.getBounds(), {padding: [16, 16]});
    }
  }

  function load(node) {
    pending += 1;
    mapEl.setAttribute("aria-busy", "true");
    return show(node).then(function () { return settled; }).finally(function () {
      pending -= 1;
      if (!pending) mapEl.setAttribute("aria-busy", "false");
    });
  }

  function show(node) {
    renderTrail();
    var url = API + "?geometry=1&page_size=500&" + (node ? "parent=" + node.id : "root=1");
    return getJSON(url).then(function (res) {
      if (!res.ok) { showInfo(node, []); document.getElementById("panel-info").textContent = res.body.detail || T.error; return; }
      var items = res.body.results;
      if (!node && items.length === 1) return drill(items[0]);  // one top area: open it at once
      if (node && !items.length) {
        // A leaf (grid): show it alone, with its buildings when the user may see them.
        return getJSON(API + node.id + "/").then(function (r) {
          draw([r.body], r.body); showInfo(r.body, []);
          if (BUILDINGS) return showBuildings(node.id);
        });
      }
      draw(items, node);
      showInfo(node, items);
      document.getElementById("map").dataset.level = items.length ? items[0].level : "";
    }).catch(function () { document.getElementById("panel-info").textContent = T.error; });
  }

  function showBuildings(gridId) {
    return getJSON(BUILDINGS + "?area=" + gridId + "&page_size=500").then(function (res) {
      if (!res.ok) return;
      res.body.results.forEach(function (b) {
        if (b.lat === null || b.lng === null) return;
        var m = L.circleMarker(toDisplay(b.lat, b.lng), {radius: 6, color: "#b91c1c", weight: 2, fillOpacity: 0.7});
        var box = el("div");
        var link = el("a", {href: PLACES + "?building=" + b.id}, b.name);
        box.appendChild(link);
        box.appendChild(el("div", {"class": "muted"}, T.houses + ": " + b.house_count));
        m.bindPopup(box);
        m.addTo(layer);
        if (m._path) m._path.setAttribute("data-building", b.id);
      });
    });
  }

  function drill(area) {
    trail.push({id: area.id, name: area.name, code: area.code, level: area.level, grid_worker_name: area.grid_worker_name});
    return load(trail[trail.length - 1]);
  }

  function locate(lat, lng) {
    return getJSON(LOCATE + "?lat=" + encodeURIComponent(lat) + "&lng=" + encodeURIComponent(lng)).then(function (res) {
      if (marker) map.removeLayer(marker);
      if (!res.ok) {
        document.getElementById("panel-info").textContent = res.body.detail || T.error;
        return;
      }
      trail = res.body.ancestors.concat([res.body.grid]).map(function (a) { return {id: a.id, name: a.name, code: a.code, level: a.level}; });
      return load(trail[trail.length - 1]).then(function () {
        marker = L.marker(toDisplay(lat, lng)).addTo(map);
      });
    });
  }

  document.getElementById("locate-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var parts = document.getElementById("locate-input").value.split(/[,，\s]+/).filter(Boolean).map(Number);
    if (parts.length !== 2 || parts.some(isNaN)) { document.getElementById("panel-info").textContent = T.badPoint; return; }
    locate(parts[0], parts[1]);
  });
  map.on("contextmenu", function (ev) {
    var p = fromDisplay(ev.latlng.lat, ev.latlng.lng);
    locate(p[0], p[1]);
  });

  window.CivicMap = {map: map, load: load, drill: drill, locate: locate};
  load(null);
})();
