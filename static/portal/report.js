/*
 * Resident portal, report form. Plain ES5 for old in-app browsers (WeChat), no build step.
 *
 * - shows the extra questions of the chosen category only;
 * - makes photos smaller before upload (CivicPhotos, civicgrid/js/photos.js: longest side
 *   <= 1600 px, JPEG) where the browser can; otherwise the originals are sent. When the resident
 *   ticks "keep the location stored in my photos", photos that fit the size limit are sent as they
 *   are (re-encoding would drop their location);
 * - sets the place from the phone's position or a tap on a small map of the resident's community
 *   (outlines only: no map tiles needed). Coordinates are stored in WGS-84;
 * - prevents a double submit (the server is idempotent anyway: one case per form load).
 */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) return;
  var MAX_BYTES = 10 * 1024 * 1024;
  var submit = document.getElementById("submit-report");
  var busy = 0;

  function attr(el, name) { return el ? el.getAttribute(name) : ""; }

  // ---- the chosen category's questions ---------------------------------------------------------
  var select = document.getElementById("id_category");
  var groups = form.querySelectorAll("fieldset.questions");
  function showQuestions() {
    for (var i = 0; i < groups.length; i++) {
      groups[i].style.display = attr(groups[i], "data-category") === select.value ? "" : "none";
    }
  }
  if (select) {
    select.addEventListener("change", showQuestions);
    showQuestions();
  }

  // ---- photos ----------------------------------------------------------------------------------
  var input = document.getElementById("id_photos");
  var keep = document.getElementById("id_keep_photo_location");
  var previews = document.getElementById("photo-previews");
  var originals = [];
  var SIDES = {longSide: 1600, keep: function (file) { return keep && keep.checked && file.size <= MAX_BYTES; }};

  function setBusy(delta) {
    busy += delta;
    if (submit) {
      submit.disabled = busy > 0;
      if (busy > 0) { submit.setAttribute("data-label", submit.getAttribute("data-label") || submit.textContent); submit.textContent = attr(form, "data-busy"); }
      else if (submit.getAttribute("data-label")) { submit.textContent = submit.getAttribute("data-label"); }
    }
  }

  function process() {
    var shrinking = CivicPhotos.willShrink(originals);
    if (shrinking) setBusy(1);
    CivicPhotos.prepare(input, originals, SIDES, function (out) {
      CivicPhotos.showPreviews(previews, out);
      if (shrinking) setBusy(-1);
    });
  }

  if (input) {
    input.addEventListener("change", function () {
      originals = Array.prototype.slice.call(input.files || []);
      process();
    });
  }
  if (keep) keep.addEventListener("change", function () { if (originals.length) process(); });

  // ---- place -----------------------------------------------------------------------------------
  var latInput = document.getElementById("id_lat"), lngInput = document.getElementById("id_lng");
  var status = document.getElementById("location-status");
  var box = document.getElementById("report-map");
  var map = null, marker = null;
  var cfg = {}, data = {};
  try {
    cfg = JSON.parse(document.getElementById("map-config").textContent) || {};
    data = JSON.parse(document.getElementById("report-map-data").textContent) || {};
  } catch (e) { /* no map */ }
  var gcj = cfg.tileCrs === "gcj02" && window.CivicCoords;
  function toDisplay(lat, lng) { return gcj ? CivicCoords.wgs84ToGcj02(lat, lng) : [lat, lng]; }
  function fromDisplay(lat, lng) { return gcj ? CivicCoords.gcj02ToWgs84(lat, lng) : [lat, lng]; }

  function setPoint(lat, lng, pan) {
    latInput.value = lat.toFixed(7);
    lngInput.value = lng.toFixed(7);
    if (status) status.textContent = attr(status, "data-set") + " " + lat.toFixed(5) + ", " + lng.toFixed(5);
    if (!map) return;
    var p = toDisplay(lat, lng);
    if (!marker) {
      marker = L.circleMarker(p, {radius: 9, color: "#1e293b", weight: 2, fillColor: "#b91c1c", fillOpacity: 0.9}).addTo(map);
    } else {
      marker.setLatLng(p);
    }
    if (pan) map.setView(p, Math.max(map.getZoom(), 16));
  }

  if (box && window.L) {
    map = L.map(box, {attributionControl: !!cfg.tileUrl, scrollWheelZoom: false});
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, {maxZoom: 19, attribution: cfg.attribution || ""}).addTo(map);
    }
    var outlines = L.featureGroup().addTo(map);
    var shape = function (geometry, style) {
      if (!geometry) return;
      var g = gcj ? CivicCoords.transformGeoJSON(geometry, CivicCoords.wgs84ToGcj02) : geometry;
      L.geoJSON(g, {interactive: false, style: style}).addTo(outlines);
    };
    (data.grids || []).forEach(function (g) { shape(g.geometry, {color: "#94a3b8", weight: 1, fillOpacity: 0.04}); });
    if (data.community) shape(data.community.geometry, {color: "#475569", weight: 2, fill: false});
    if (outlines.getLayers().length) {
      map.fitBounds(outlines.getBounds(), {padding: [8, 8]});
    } else if (data.community && data.community.centre) {
      map.setView(toDisplay(data.community.centre[0], data.community.centre[1]), 15);
    } else {
      map.setView([35, 105], 4);
    }
    map.on("click", function (e) {
      var w = fromDisplay(e.latlng.lat, e.latlng.lng);
      setPoint(w[0], w[1], false);
    });
  }
  if (latInput && latInput.value && lngInput.value) {
    setPoint(parseFloat(latInput.value), parseFloat(lngInput.value), true);
  } else if (status) {
    status.textContent = attr(status, "data-unset");
  }

  var locate = document.getElementById("locate-me");
  if (locate) {
    locate.addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = attr(locate, "data-no-geo"); return; }
      status.textContent = attr(locate, "data-busy");
      navigator.geolocation.getCurrentPosition(function (pos) {
        setPoint(pos.coords.latitude, pos.coords.longitude, true);
      }, function () {
        status.textContent = attr(locate, "data-failed");
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
  }

  // ---- one submit ------------------------------------------------------------------------------
  form.addEventListener("submit", function (e) {
    if (busy > 0) { e.preventDefault(); return; }
    if (submit) {
      submit.disabled = true;
      submit.textContent = attr(form, "data-sending");
    }
  });
  window.addEventListener("pageshow", function () { if (submit && busy === 0) submit.disabled = false; });
})();
