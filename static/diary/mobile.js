/* The visit-record form of the phone app (/m/diary/new/). The record goes into the app's outbox
   (static/mobile/app.js: IndexedDB, an idempotency key made now, sent when there is signal) with
   the phone's time of writing. Households and people of the worker's own grid are found without
   signal (the page carries them); other searches go to the registry when online. */
(function () {
  "use strict";
  function init() {
    var form = document.getElementById("diary-form");
    var outbox = window.civicgridOutbox;
    if (!form || !outbox) return;
    var CONFIG = JSON.parse(document.getElementById("app-config").textContent);
    var D = CONFIG.diary, S = D.strings;
    function $(id) { return document.getElementById(id); }
    function show(el, text, cls) {
      el.hidden = !text; el.textContent = text || "";
      if (cls !== undefined) el.className = "msg " + cls;
    }
    var chosen = [];  // [{type: "households"|"people", id, label}]
    var photos = [];
    var err = $("d-error");

    // ---- the fields each kind uses --------------------------------------------------------------
    var kind = $("d-kind");
    function toggle() {
      var k = kind.value;
      $("d-mood-box").hidden = D.moodKinds.indexOf(k) < 0;
      $("d-severity-box").hidden = D.severityKinds.indexOf(k) < 0;
      $("d-attendees-box").hidden = D.meetingKinds.indexOf(k) < 0;
    }
    kind.addEventListener("change", toggle);
    toggle();

    // ---- household / person search ----------------------------------------------------------------
    var search = $("d-search"), results = $("d-results"), chips = $("d-chosen");
    search.placeholder = S.search;
    function renderChips() {
      chips.innerHTML = "";
      chosen.forEach(function (c, i) {
        var chip = document.createElement("span");
        chip.className = "chip"; chip.dataset.type = c.type; chip.dataset.id = c.id;
        chip.textContent = (c.type === "households" ? S.household + " " : "") + c.label;
        var x = document.createElement("button");
        x.type = "button"; x.className = "chip-remove"; x.textContent = "×"; x.title = S.remove;
        x.addEventListener("click", function () { chosen.splice(i, 1); renderChips(); });
        chip.appendChild(x); chips.appendChild(chip);
      });
    }
    function choose(row) {
      if (!chosen.some(function (c) { return c.type === row.type && c.id === row.id; })) chosen.push(row);
      search.value = ""; results.innerHTML = ""; renderChips();
    }
    function listRows(rows, note) {
      results.innerHTML = "";
      if (note) { var n = document.createElement("li"); n.className = "muted"; n.textContent = note; results.appendChild(n); }
      if (!rows.length && !note) { var e = document.createElement("li"); e.className = "muted"; e.textContent = S.none; results.appendChild(e); }
      rows.slice(0, 20).forEach(function (row) {
        var li = document.createElement("li"), b = document.createElement("button");
        b.type = "button"; b.className = "pick"; b.dataset.type = row.type; b.dataset.id = row.id;
        b.textContent = (row.type === "households" ? S.household + " " : "") + row.label;
        if (row.detail) { var d = document.createElement("span"); d.className = "muted"; d.textContent = " " + row.detail; b.appendChild(d); }
        b.addEventListener("click", function () { choose(row); });
        li.appendChild(b); results.appendChild(li);
      });
    }
    function localMatches(q) {
      var dir = D.directory, out = [];
      if (!dir) return null;
      var lower = q.toLowerCase();
      dir.households.forEach(function (h) {
        if (h[1].indexOf(q) >= 0 || (h[2] || "").indexOf(q) >= 0) out.push({type: "households", id: h[0], label: h[1], detail: h[2]});
      });
      dir.people.forEach(function (p) {
        if (p[1].indexOf(q) === 0 || (p[2] || "").indexOf(lower) === 0 || (p[4] || "").indexOf(q) >= 0) {
          out.push({type: "people", id: p[0], label: p[1], detail: p[4]});
        }
      });
      return out;
    }
    function remote(q) {
      var url = D.lookupUrl + "?q=" + encodeURIComponent(q) + "&type=";
      function get(type) {
        return fetch(url + type, {credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : {results: []}; })
          .then(function (body) { return (body.results || []).map(function (r) { return {type: type, id: r.id, label: r.label, detail: r.detail}; }); });
      }
      return Promise.all([get("households"), get("people")]).then(function (parts) { return parts[0].concat(parts[1]); });
    }
    var timer = null, seq = 0;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      var q = search.value.trim();
      if (!q) { results.innerHTML = ""; return; }
      timer = setTimeout(function () {
        var mine = ++seq, local = localMatches(q);
        if (local !== null) return listRows(local);
        if (!navigator.onLine) return listRows([], S.offlineSearch);
        listRows([], S.searching);
        remote(q).then(function (rows) { if (mine === seq) listRows(rows); }, function () { if (mine === seq) listRows([], S.offlineSearch); });
      }, 200);
    });
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });

    // ---- photos and location --------------------------------------------------------------------
    outbox.photoPicker($("d-photos"), $("d-thumbs"), err, photos);
    var where = $("d-where");
    function locate() {
      if (!navigator.geolocation) { where.textContent = S.noGeo; return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        $("d-lat").value = pos.coords.latitude.toFixed(6); $("d-lng").value = pos.coords.longitude.toFixed(6);
        where.textContent = S.located.replace("%(m)s", Math.round(pos.coords.accuracy || 0));
      }, function () { where.textContent = S.noGeo; }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    }
    locate();

    // ---- queue it ---------------------------------------------------------------------------------
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var summary = $("d-summary").value.trim();
      if (!kind.value) return show(err, S.chooseKind, "error");
      if (!summary) return show(err, S.writeSummary, "error");
      show(err, "");
      var ids = function (type) { return chosen.filter(function (c) { return c.type === type; }).map(function (c) { return c.id; }).join(","); };
      var meeting = D.meetingKinds.indexOf(kind.value) >= 0;  // the people chosen for a meeting attended it
      var fields = {
        kind: kind.value, summary: summary, content: $("d-content").value.trim(),
        occurred_at: new Date().toISOString(), lat: $("d-lat").value, lng: $("d-lng").value,
        households: ids("households"), people: meeting ? "" : ids("people"), attendees: meeting ? ids("people") : "",
        mood: $("d-mood-box").hidden ? "" : $("d-mood").value,
        severity: $("d-severity-box").hidden ? "" : $("d-severity").value,
        attendee_names: $("d-attendees-box").hidden ? "" : $("d-attendees").value.trim(),
        follow_up: $("d-follow").checked ? "1" : "0"
      };
      outbox.enqueue("diary", fields, photos.slice(), summary.slice(0, 30), {url: D.apiUrl, title: S.diary}).then(function () {
        show($("d-result"), S.queued, "success");
        form.reset(); chosen.length = 0; renderChips(); photos.length = 0; $("d-thumbs").innerHTML = ""; toggle(); locate();
      }, function (e2) { show(err, String(e2), "error"); });
    });

    // Keep this page for use without signal: the service worker caches pages of /m/ as they are
    // visited once it runs; the first visit happens before it does, so the page asks for itself.
    if (window.caches && navigator.serviceWorker && navigator.onLine) {
      navigator.serviceWorker.ready.then(function () { return caches.keys(); }).then(function (keys) {
        var key = keys.filter(function (k) { return k.indexOf("civicgrid-m-") === 0; }).pop();
        if (key) return caches.open(key).then(function (cache) { return cache.add(location.pathname); });
      }).catch(function () {});
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
