/* The grid worker's phone app: an outbox in IndexedDB (reports and verifications made without signal
   wait there, each with the idempotency key made when it was created, and are sent when the signal
   returns), photo compression on the phone, the report form with its map, the verify form.
   Vanilla JS, no build step. Strings come translated from the page (#app-config). */
(function () {
  "use strict";
  var CONFIG = JSON.parse(document.getElementById("app-config").textContent);
  var S = CONFIG.strings;
  var DB_NAME = "civicgrid-mobile", STORE = "outbox";
  var MAX_SIDE = 1600, QUALITY = 0.8, PERIOD = 15000;
  var flushing = false, signedOut = false;

  function fmt(text, args) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return args[k] === undefined ? "" : args[k]; });
  }
  function $(id) { return document.getElementById(id); }
  function show(el, text, cls) {
    if (!el) return;
    el.hidden = !text; el.textContent = text || "";
    if (cls !== undefined) el.className = "msg " + cls;
  }
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("#csrf input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  // For the app's other scripts (track.js, deferred: it runs after this one).
  window.civicgridApp = {fmt: fmt, uuid4: uuid4, csrfToken: csrfToken};

  // ---- IndexedDB outbox -------------------------------------------------------------------------
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE, {keyPath: "key"}); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function tx(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(STORE, mode), store = t.objectStore(STORE), out;
        var req = fn(store);
        if (req) req.onsuccess = function () { out = req.result; };
        t.oncomplete = function () { resolve(out); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }
  function allItems() {
    // Only the signed-in worker's items: another account on the same phone neither sees nor sends them.
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).filter(function (it) { return it.user === CONFIG.userId; })
        .sort(function (a, b) { return a.created - b.created; });
    });
  }
  function putItem(item) { return tx("readwrite", function (s) { return s.put(item); }); }
  function deleteItem(key) { return tx("readwrite", function (s) { return s.delete(key); }); }

  // Other kinds of item (e.g. diary records) bring their endpoint and the title the list shows:
  // extra = {url, title}; the server's "detail" then says what was recorded.
  function enqueue(kind, fields, photos, label, extra) {
    var item = {
      key: uuid4(), user: CONFIG.userId, kind: kind, fields: fields, photos: photos, label: label,
      url: (extra && extra.url) || null, title: (extra && extra.title) || null,
      created: Date.now(), attempts: 0, nextAt: 0, error: null
    };
    return putItem(item).then(function () { render(); flush(); return item; });
  }

  function render() {
    return allItems().then(function (items) {
      var ind = $("outbox-indicator"), list = $("outbox-list");
      if (ind) {
        ind.hidden = !items.length;
        ind.textContent = items.length ? fmt(S.waiting, {n: items.length}) : "";
        ind.dataset.count = items.length;
      }
      if (!list) return;
      list.innerHTML = "";
      $("outbox").hidden = !items.length;
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.dataset.key = item.key;
        li.textContent = (item.title || (item.kind === "verify" ? S.verify : S.report)) + ": " + item.label + " ";
        if (item.error) {
          var err = document.createElement("span");
          err.className = "error"; err.textContent = fmt(S.failed, {detail: item.error});
          li.appendChild(err);
          var btn = document.createElement("button");
          btn.type = "button"; btn.className = "discard"; btn.textContent = S.discard;
          btn.addEventListener("click", function () {
            if (window.confirm(S.discardConfirm)) deleteItem(item.key).then(render);
          });
          li.appendChild(btn);
        }
        list.appendChild(li);
      });
    });
  }

  function formData(item) {
    var data = new FormData();
    data.append("key", item.key);
    Object.keys(item.fields).forEach(function (k) { data.append(k, item.fields[k]); });
    (item.photos || []).forEach(function (blob, i) { data.append("photos", blob, "photo" + (i + 1) + ".jpg"); });
    return data;
  }

  function sendOne(item) {
    var url = item.url || (item.kind === "verify" ? CONFIG.verifyUrl : CONFIG.reportUrl);
    return fetch(url, {
      method: "POST", body: formData(item), credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json"}
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 200 || response.status === 201) {
          return deleteItem(item.key).then(function () {
            status(item.url && body.detail ? body.detail
              : fmt(response.status === 201 ? S.sent : S.already, {number: body.number || ""}), "success");
            return "ok";
          });
        }
        if (response.status === 401 || response.status === 403) {
          signedOut = true; status(S.signIn, "warning"); return "stop";
        }
        if (response.status >= 400 && response.status < 500) {
          item.error = body.detail || String(response.status);  // kept for the worker to fix or discard
          return putItem(item).then(function () { return "error"; });
        }
        throw new Error("server " + response.status);
      });
    }).catch(function () {
      item.attempts += 1;
      item.nextAt = Date.now() + Math.min(300000, 5000 * Math.pow(2, item.attempts - 1));
      return putItem(item).then(function () {
        status(navigator.onLine ? S.retry : S.offline, "warning");
        return "retry";
      });
    });
  }

  function flush(force) {
    if (flushing) return Promise.resolve();
    // Without signal nothing is tried (the "online" event flushes): no attempt is used up, and a
    // request cannot slip out while the phone reports no network.
    if (navigator.onLine === false) { status(S.offline, "warning"); return render(); }
    flushing = true;
    return allItems().then(function (items) {
      var now = Date.now();
      var due = items.filter(function (it) { return !it.error && (force || it.nextAt <= now); });
      var chain = Promise.resolve("ok");
      due.forEach(function (item) {
        chain = chain.then(function (last) { return last === "stop" ? "stop" : sendOne(item); });
      });
      return chain;
    }).catch(function () {}).then(function () { flushing = false; return render(); });
  }

  function status(text, cls) { show($("net-status"), text, cls); }

  window.addEventListener("online", function () { signedOut = false; flush(true); });
  window.addEventListener("offline", function () { status(S.offline, "warning"); });
  setInterval(function () { if (!signedOut) flush(); }, PERIOD);
  // Signing out drops the cached pages (they show cases); waiting items stay for their worker.
  Array.prototype.forEach.call(document.querySelectorAll("form[action*='logout']"), function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.caches || f.dataset.cleared) return;
      e.preventDefault();
      caches.keys().then(function (ks) {
        return Promise.all(ks.filter(function (k) { return k.indexOf("civicgrid-m-") === 0; })
          .map(function (k) { return caches.delete(k); }));
      }).catch(function () {}).then(function () { f.dataset.cleared = "1"; f.submit(); });
    });
  });
  if ("serviceWorker" in navigator && CONFIG.swUrl) {
    navigator.serviceWorker.register(CONFIG.swUrl, {scope: CONFIG.swUrl.replace(/sw\.js$/, "")}).catch(function () {});
    // "My tasks" with signal: the verify pages it lists are kept on the phone, so that a case can
    // be verified on site without signal even if its page was not opened before.
    var toVerify = document.querySelectorAll("#to-verify a[href]");
    if (toVerify.length && navigator.onLine) {
      navigator.serviceWorker.ready.then(function (reg) {
        var urls = Array.prototype.map.call(toVerify, function (a) { return a.getAttribute("href"); });
        if (reg.active) reg.active.postMessage({keep: urls});
      });
    }
  }

  // ---- photos: compressed on the phone ----------------------------------------------------------
  function compress(file) {
    return new Promise(function (resolve, reject) {
      var img = new Image(), url = URL.createObjectURL(file);
      img.onload = function () {
        URL.revokeObjectURL(url);
        var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
        canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) { blob ? resolve(blob) : reject(new Error("encode")); }, "image/jpeg", QUALITY);
      };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }
  function photoPicker(input, thumbs, errorEl, store) {
    if (!input) return;
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      show(errorEl, files.length ? S.compressing : "", "");
      Promise.all(files.map(function (f) {
        return compress(f).then(function (blob) {
          store.push(blob);
          var img = document.createElement("img"); img.src = URL.createObjectURL(blob); thumbs.appendChild(img);
        }, function () { throw new Error(S.photoNotImage + " " + f.name); });
      })).then(function () { show(errorEl, ""); }, function (e) { show(errorEl, e.message, "error"); });
      input.value = "";
    });
  }

  // ---- report form ------------------------------------------------------------------------------
  function questionField(q) {
    var wrap = document.createElement("div"), id = "q-" + q.code, input;
    var label = document.createElement("label");
    label.htmlFor = id; label.textContent = q.label + (q.required ? " *" : "");
    wrap.appendChild(label);
    if (q.type === "singlevaluelist" || q.type === "multivaluelist") {
      input = document.createElement("select");
      if (q.type === "multivaluelist") input.multiple = true;
      else input.appendChild(new Option("—", ""));
      (q.values || []).forEach(function (v) { input.appendChild(new Option(v.name, v.key)); });
    } else if (q.type === "text") {
      input = document.createElement("textarea"); input.rows = 3;
    } else {
      input = document.createElement("input");
      input.type = q.type === "number" ? "number" : q.type === "datetime" ? "datetime-local" : "text";
      if (q.type === "number") input.step = "any";
    }
    input.id = id; input.dataset.code = q.code; input.dataset.type = q.type;
    wrap.appendChild(input);
    if (q.help) { var p = document.createElement("p"); p.className = "q-help"; p.textContent = q.help; wrap.appendChild(p); }
    return wrap;
  }
  function answers(box) {
    var out = {};
    Array.prototype.forEach.call(box.querySelectorAll("[data-code]"), function (el) {
      var v;
      if (el.multiple) v = Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
      else if (el.dataset.type === "datetime" && el.value) v = el.value.length === 16 ? el.value + ":00" : el.value;
      else v = el.value;
      if (v !== "" && !(Array.isArray(v) && !v.length)) out[el.dataset.code] = v;
    });
    return out;
  }

  function reportPage() {
    var form = $("report-form");
    if (!form) return;
    var select = $("r-category"), box = $("r-questions"), err = $("r-error"), photos = [];
    var byId = {};
    CONFIG.categories.forEach(function (c) {
      byId[c.id] = c;
      select.appendChild(new Option(c.kind + " · " + c.name, c.id));
    });
    select.addEventListener("change", function () {
      box.innerHTML = "";
      var c = byId[select.value];
      if (c) c.questions.forEach(function (q) { box.appendChild(questionField(q)); });
    });
    photoPicker($("r-photos"), $("r-thumbs"), err, photos);

    // The map: no tiles (works without signal); the grid outline and a draggable marker.
    var grid = CONFIG.grid, map = null, marker = null, gridLabel = $("r-grid");
    function setPoint(lat, lng, locate) {
      $("r-lat").value = lat.toFixed(6); $("r-lng").value = lng.toFixed(6);
      if (marker) marker.setLatLng([lat, lng]);
      if (!locate || !navigator.onLine) return;
      fetch(CONFIG.locateUrl + "?lat=" + lat + "&lng=" + lng, {credentials: "same-origin"}).then(function (r) {
        return r.json().then(function (body) {
          gridLabel.textContent = r.ok ? fmt(S.grid, {name: body.grid.name}) : (body.detail || S.outside);
        });
      }).catch(function () {});
    }
    if (window.L && $("r-map")) {
      var centre = grid && grid.lat ? [grid.lat, grid.lng] : [23.4769, 111.2790];
      map = L.map("r-map", {attributionControl: false}).setView(centre, 16);
      if (grid && grid.geometry) {
        var outline = L.geoJSON(grid.geometry, {style: {color: "#b71c1c", weight: 2, fillOpacity: 0.05}}).addTo(map);
        map.fitBounds(outline.getBounds());
      }
      marker = L.marker(centre, {draggable: true, icon: L.divIcon({className: "pin", iconSize: [22, 22], iconAnchor: [11, 11]})}).addTo(map);
      marker.on("dragend", function () { var p = marker.getLatLng(); setPoint(p.lat, p.lng, true); });
      map.on("click", function (e) { setPoint(e.latlng.lat, e.latlng.lng, true); });
    }
    if (navigator.geolocation) {
      gridLabel.textContent = S.locating;
      navigator.geolocation.getCurrentPosition(function (pos) {
        setPoint(pos.coords.latitude, pos.coords.longitude, true);
        if (map) map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 16));
        if (!navigator.onLine && grid) gridLabel.textContent = fmt(S.grid, {name: grid.name});
      }, function () { gridLabel.textContent = S.noGeo; }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    } else {
      gridLabel.textContent = S.noGeo;
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var description = $("r-description").value.trim();
      if (!select.value) return show(err, S.chooseCategory, "error");
      if (!description) return show(err, S.describe, "error");
      if (!$("r-lat").value) return show(err, S.needLocation, "error");
      show(err, "");
      var fields = {
        category: select.value, description: description,
        lat: $("r-lat").value, lng: $("r-lng").value, answers: JSON.stringify(answers(box))
      };
      enqueue("report", fields, photos.slice(), description.slice(0, 30)).then(function () {
        show($("r-result"), S.queued, "success");
        form.reset(); box.innerHTML = ""; photos.length = 0; $("r-thumbs").innerHTML = "";
      }, function (e2) { show(err, String(e2), "error"); });
    });
  }

  // ---- verify form ------------------------------------------------------------------------------
  function verifyPage() {
    var form = $("verify-form");
    if (!form) return;
    var err = $("v-error"), photos = [];
    photoPicker($("v-photos"), $("v-thumbs"), err, photos);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var passed = form.querySelector("input[name=passed]:checked").value, note = $("v-note").value.trim();
      if (passed === "0" && !note) return show(err, S.sayWhy, "error");
      show(err, "");
      enqueue("verify", {case: CONFIG.caseId, passed: passed, note: note}, photos.slice(), document.title).then(function () {
        show($("v-result"), S.queued, "success");
        form.hidden = true;
      }, function (e2) { show(err, String(e2), "error"); });
    });
  }

  reportPage();
  verifyPage();
  render().then(function () { flush(true); });
  window.civicgridOutbox = {flush: flush, items: allItems, enqueue: enqueue, photoPicker: photoPicker};
})();
