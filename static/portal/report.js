/*
 * Resident portal, report form. Plain ES5 for old in-app browsers (WeChat), no build step.
 *
 * - shows the extra questions of the chosen category only;
 * - makes photos smaller before upload (canvas, longest side <= 1600 px, JPEG) where the browser
 *   can replace the chosen files (DataTransfer); otherwise the originals are sent. When the
 *   resident ticks "keep the location stored in my photos", photos that fit the size limit are
 *   sent as they are (re-encoding would drop their location);
 * - sets the place from the phone's position or a tap on a small map of the resident's community
 *   (outlines only: no map tiles needed). Coordinates are stored in WGS-84;
 * - prevents a double submit (the server is idempotent anyway: one case per form load).
 */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) return;
  var MAX_SIDE = 1600, QUALITY = 0.85, MAX_BYTES = 10 * 1024 * 1024;
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
  var canReplace = false;
  try { canReplace = typeof DataTransfer === "function" && !!new DataTransfer().items && typeof File === "function"; } catch (e) { canReplace = false; }
  var canvasOk = !!(window.URL && URL.createObjectURL && document.createElement("canvas").getContext);

  function setBusy(delta) {
    busy += delta;
    if (submit) {
      submit.disabled = busy > 0;
      if (busy > 0) { submit.setAttribute("data-label", submit.getAttribute("data-label") || submit.textContent); submit.textContent = attr(form, "data-busy"); }
      else if (submit.getAttribute("data-label")) { submit.textContent = submit.getAttribute("data-label"); }
    }
  }

  function toBlob(canvas, done) {
    if (canvas.toBlob) { canvas.toBlob(done, "image/jpeg", QUALITY); return; }
    var data = canvas.toDataURL("image/jpeg", QUALITY).split(",");
    var bytes = atob(data[1]), buf = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) buf[i] = bytes.charCodeAt(i);
    done(new Blob([buf], {type: "image/jpeg"}));
  }

  function shrink(file, done) {
    if (!/^image\//.test(file.type || "") || (keep && keep.checked && file.size <= MAX_BYTES)) { done(file); return; }
    var url = URL.createObjectURL(file);
    var img = new Image();
    img.onload = function () {
      var w = img.naturalWidth || img.width, h = img.naturalHeight || img.height;
      var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(w * scale));
      canvas.height = Math.max(1, Math.round(h * scale));
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      toBlob(canvas, function (blob) {
        if (!blob) { done(file); return; }
        var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
        done(new File([blob], name, {type: "image/jpeg", lastModified: Date.now()}));
      });
    };
    img.onerror = function () { URL.revokeObjectURL(url); done(file); };  // the server will say what is wrong
    img.src = url;
  }

  function showPreviews(files) {
    if (!previews) return;
    previews.innerHTML = "";
    for (var i = 0; i < files.length; i++) {
      var fig = document.createElement("figure");
      if (/^image\//.test(files[i].type || "") && window.URL && URL.createObjectURL) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(files[i]);
        img.alt = files[i].name;
        fig.appendChild(img);
      }
      var cap = document.createElement("figcaption");
      cap.textContent = Math.max(1, Math.round(files[i].size / 1024)) + " KB";
      fig.appendChild(cap);
      previews.appendChild(fig);
    }
  }

  function process() {
    if (!canReplace || !canvasOk) { showPreviews(originals); return; }
    var out = new Array(originals.length), left = originals.length;
    if (!left) { showPreviews([]); return; }
    setBusy(1);
    originals.forEach(function (file, i) {
      shrink(file, function (result) {
        out[i] = result;
        left -= 1;
        if (left === 0) {
          var dt = new DataTransfer();
          for (var j = 0; j < out.length; j++) dt.items.add(out[j]);
          input.files = dt.files;
          showPreviews(out);
          setBusy(-1);
        }
      });
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
