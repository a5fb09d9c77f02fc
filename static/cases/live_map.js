/* Command center live map: the open cases in the user's scope as dots coloured by their deadline
   light, kept current without reloading by polling the feed for what changed since the last answer.
   Offline by default (no tile server: the area outlines give the picture); with MAP_TILE_CRS = gcj02
   points are shifted to GCJ-02 for display, as on the grid map. Case text from residents is only
   ever set as text (textContent), never as HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  var FEED = script.dataset.feed, QUERY = script.dataset.query || "", AREAS = script.dataset.areas;
  var INTERVAL = parseInt(script.dataset.interval || "10000", 10);
  var CLUSTER_ABOVE = 400;   // more markers than this on screen: group the nearby ones
  var CELL = 56;             // cluster cell, in screen pixels
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var T = JSON.parse(document.getElementById("map-text").textContent);
  var gcj = cfg.tileCrs === "gcj02";
  var toDisplay = function (lat, lng) { return gcj ? CivicCoords.wgs84ToGcj02(lat, lng) : [lat, lng]; };
  var COLOURS = {green: "#16a34a", yellow: "#eab308", red: "#dc2626", none: "#94a3b8"};
  var RANK = {red: 3, yellow: 2, green: 1, none: 0};

  var box = document.getElementById("live-map");
  var map = L.map(box, {zoomControl: true, attributionControl: !!cfg.tileUrl});
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, {maxZoom: 19, attribution: cfg.attribution || ""}).addTo(map);
  } else {
    box.classList.add("no-tiles");
  }
  map.setView(toDisplay(23.48, 111.3), 12);
  var outlines = L.featureGroup().addTo(map);
  var layer = L.featureGroup().addTo(map);
  var cases = {};        // id -> case from the feed
  var cursor = null, offset = 0, fitted = false, timer = null, busy = false;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function fmt(template, n) { return template.replace("%(n)s", n); }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); });
  }

  /* The light now, from the case's clock and the server's time (a case turns yellow or red as
     time passes, before any sweep touches it). */
  function lightOf(c) {
    if (!c.due_at) return "none";
    var now = Date.now() + offset;
    if (Date.parse(c.due_at) <= now) return "red";
    if (c.warn_at && Date.parse(c.warn_at) <= now) return "yellow";
    return "green";
  }

  function popup(c) {
    var div = el("div", {"class": "case-popup"});
    var a = el("a", {href: c.url}, c.title);
    div.appendChild(a);
    div.appendChild(el("div", {"class": "small muted"}, c.number));
    div.appendChild(el("div", {}, c.category + " · " + c.status_label));
    var light = lightOf(c);
    div.appendChild(el("span", {"class": "light light-" + light}, T.lights[light]));
    return div;
  }

  function drawCase(c) {
    var light = lightOf(c);
    var m = L.circleMarker(toDisplay(c.lat, c.lng), {
      radius: 7, color: "#1e293b", weight: 1, fillColor: COLOURS[light], fillOpacity: 0.9,
    });
    m.bindPopup(function () { return popup(c); });
    m.bindTooltip(c.title, {direction: "top"});
    m.addTo(layer);
    if (m._path) {
      m._path.setAttribute("data-case", c.id);
      m._path.setAttribute("data-light", light);
    }
  }

  function drawCluster(group) {
    var worst = "none", lat = 0, lng = 0;
    group.forEach(function (c) {
      var l = lightOf(c);
      if (RANK[l] > RANK[worst]) worst = l;
      lat += c.lat; lng += c.lng;
    });
    var m = L.circleMarker(toDisplay(lat / group.length, lng / group.length), {
      radius: Math.min(10 + Math.sqrt(group.length) * 2, 28), color: "#1e293b", weight: 2,
      fillColor: COLOURS[worst], fillOpacity: 0.75,
    });
    m.bindTooltip(String(group.length), {permanent: true, direction: "center", className: "cluster-label"});
    m.on("click", function () { map.setView(m.getLatLng(), Math.min(map.getZoom() + 2, 18)); });
    m.addTo(layer);
    if (m._path) {
      m._path.setAttribute("data-cluster", group.length);
      m._path.setAttribute("data-light", worst);
      m._path.setAttribute("aria-label", fmt(T.cluster, group.length));
    }
  }

  function render() {
    layer.clearLayers();
    var ids = Object.keys(cases);
    var bounds = map.getBounds().pad(0.2);
    var shown = ids.map(function (id) { return cases[id]; }).filter(function (c) {
      var p = toDisplay(c.lat, c.lng);
      return bounds.contains(p);
    });
    if (shown.length <= CLUSTER_ABOVE || map.getZoom() >= 17) {
      shown.forEach(drawCase);
    } else {
      var cells = {};
      shown.forEach(function (c) {
        var pt = map.latLngToLayerPoint(toDisplay(c.lat, c.lng));
        var key = Math.floor(pt.x / CELL) + ":" + Math.floor(pt.y / CELL);
        (cells[key] = cells[key] || []).push(c);
      });
      Object.keys(cells).forEach(function (k) {
        var g = cells[k];
        if (g.length === 1) drawCase(g[0]); else drawCluster(g);
      });
    }
    box.dataset.count = ids.length;
  }

  function status(text) { document.getElementById("map-status").textContent = text; }

  function showStatus(truncated) {
    var n = Object.keys(cases).length;
    var when = new Date(Date.now() + offset).toLocaleTimeString();
    status((truncated ? fmt(T.newest, n) : fmt(T.count, n)) + " · " + T.updated + " " + when);
  }

  function feedUrl(since) {
    var q = QUERY ? QUERY + "&" : "";
    return FEED + "?" + q + (since ? "since=" + encodeURIComponent(since) : "");
  }

  function apply(body) {
    offset = Date.parse(body.now) - Date.now();
    if (body.full) cases = {};
    body.cases.forEach(function (c) { cases[c.id] = c; });
    body.removed.forEach(function (id) { delete cases[id]; });
    cursor = body.cursor;
    if (body.full && !fitted && body.cases.length) {
      var b = L.latLngBounds(body.cases.map(function (c) { return toDisplay(c.lat, c.lng); }));
      map.fitBounds(b, {padding: [24, 24], maxZoom: 16, animate: false});
      fitted = true;
    }
    render();
    showStatus(body.truncated);
  }

  function load(since) {
    if (busy) return Promise.resolve();
    busy = true;
    return getJSON(feedUrl(since)).then(function (res) {
      if (!res.ok) throw new Error("feed");
      if (res.body.reset) { cursor = null; busy = false; return load(null); }
      apply(res.body);
    }).catch(function () { status(T.error); }).then(function () { busy = false; });
  }

  function poll() { return load(cursor); }

  function drawOutlines() {
    if (!AREAS) return;
    getJSON(AREAS + "?geometry=1&page_size=500&root=1").then(function (res) {
      if (!res.ok) return;
      var items = res.body.results;
      if (items.length === 1) {
        return getJSON(AREAS + "?geometry=1&page_size=500&parent=" + items[0].id).then(function (r) {
          draw(r.ok && r.body.results.length ? r.body.results : items);
        });
      }
      draw(items);
    }).catch(function () {});
    function draw(items) {
      items.forEach(function (a) {
        if (!a.geometry) return;
        var g = gcj ? CivicCoords.transformGeoJSON(a.geometry, CivicCoords.wgs84ToGcj02) : a.geometry;
        L.geoJSON(g, {interactive: false, style: {color: "#64748b", weight: 1, fill: false}}).addTo(outlines);
      });
      if (!fitted && outlines.getLayers().length && !Object.keys(cases).length) {
        map.fitBounds(outlines.getBounds(), {padding: [16, 16], animate: false});
      }
    }
  }

  map.on("zoomend moveend", render);
  drawOutlines();
  load(null).then(function () { timer = setInterval(poll, INTERVAL); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });

  window.CivicLiveMap = {map: map, cases: function () { return cases; }, poll: poll, lightOf: lightOf};
})();
