/* Patrol track recording on the grid worker's phone (工作轨迹).

   Only while on duty, and only after the worker consented: "start duty" asks the server (which
   refuses without consent to the current text; the consent screen then shows), and the bar at the
   top ("正在记录轨迹", with a stop button) stays visible for as long as positions are recorded.

   Positions from navigator.geolocation.watchPosition are kept at most one per minIntervalMs, saved
   in IndexedDB (database "civicgrid-track", separate from the report outbox of app.js), moved into
   batches that each get an idempotency key when they are made, and uploaded when there is signal.
   A batch that was sent but whose answer was lost is sent again with the same key: the server
   stores it once. Ending duty without signal is remembered and sent (with the time of the tap)
   when the signal returns.

   Vanilla JS, no build step; strings come translated from the page (#track-config). */
(function () {
  "use strict";
  var cfgEl = document.getElementById("track-config");
  if (!cfgEl) return;
  var C = JSON.parse(cfgEl.textContent);
  var S = C.strings;
  var DB_NAME = "civicgrid-track", BATCH_MAX = 500;
  var state = null;            // {user, shiftId, startedAt, pendingEnd: {shift, at} | null}
  var watchId = null, lastKept = 0, uploaded = 0, flushing = null, signedOut = false;

  function $(id) { return document.getElementById(id); }
  // fmt, uuid4 and csrfToken are app.js's (every page with the duty bar loads it first).
  var fmt = window.civicgridApp.fmt, uuid4 = window.civicgridApp.uuid4, csrfToken = window.civicgridApp.csrfToken;
  function message(text, cls) {
    var el = $("track-msg");
    if (!el) return;
    el.hidden = !text; el.textContent = text || "";
    el.className = "msg " + (cls || "");
  }
  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: {"Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return {status: r.status, ok: r.ok, body: data}; });
    });
  }
  function urlFor(template, shiftId) { return template.replace("/0/", "/" + shiftId + "/"); }

  // ---- IndexedDB -----------------------------------------------------------------------------------
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          var d = req.result;
          d.createObjectStore("points", {keyPath: "id", autoIncrement: true});
          d.createObjectStore("batches", {keyPath: "key"});
          d.createObjectStore("state", {keyPath: "user"});
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function tx(stores, mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(stores, mode), out;
        fn(t, function (value) { out = value; });
        t.oncomplete = function () { resolve(out); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }
  function loadState() {
    return tx(["state"], "readonly", function (t, done) {
      var req = t.objectStore("state").get(C.userId);
      req.onsuccess = function () { done(req.result || null); };
    });
  }
  function saveState() {
    return tx(["state"], "readwrite", function (t) {
      if (state) t.objectStore("state").put(state); else t.objectStore("state").delete(C.userId);
    });
  }
  function addPoint(p) {
    return tx(["points"], "readwrite", function (t) { t.objectStore("points").add(p); });
  }
  /* Move up to BATCH_MAX buffered points of one shift into a new batch, in one transaction: a point
     is either waiting or in exactly one batch, never lost and never in two. */
  function makeBatch() {
    return tx(["points", "batches"], "readwrite", function (t, done) {
      var picked = [], shift = null;
      var req = t.objectStore("points").openCursor();
      req.onsuccess = function () {
        var cur = req.result;
        if (cur && picked.length < BATCH_MAX) {
          var p = cur.value;
          if (p.user === C.userId && (shift === null || p.shift === shift)) {
            shift = p.shift;
            picked.push({t: p.t, lat: p.lat, lng: p.lng, acc: p.acc, speed: p.speed});
            cur.delete();
          }
          cur.continue();
          return;
        }
        if (picked.length) {
          t.objectStore("batches").put({key: uuid4(), user: C.userId, shift: shift, points: picked,
                                        created: Date.now(), attempts: 0, nextAt: 0});
        }
        done(picked.length);
      };
    });
  }
  function allOf(store) {
    return tx([store], "readonly", function (t, done) {
      var req = t.objectStore(store).getAll();
      req.onsuccess = function () {
        done((req.result || []).filter(function (x) { return x.user === C.userId; }));
      };
    });
  }
  function putBatch(b) { return tx(["batches"], "readwrite", function (t) { t.objectStore("batches").put(b); }); }
  function dropBatch(key) { return tx(["batches"], "readwrite", function (t) { t.objectStore("batches").delete(key); }); }
  function clearAll() {
    return Promise.all([allOf("points"), allOf("batches")]).then(function (res) {
      return tx(["points", "batches"], "readwrite", function (t) {
        res[0].forEach(function (p) { t.objectStore("points").delete(p.id); });
        res[1].forEach(function (b) { t.objectStore("batches").delete(b.key); });
      });
    });
  }
  function pendingCount() {
    return Promise.all([allOf("points"), allOf("batches")]).then(function (res) {
      return res[0].length + res[1].reduce(function (n, b) { return n + b.points.length; }, 0);
    });
  }

  // ---- the indicator ---------------------------------------------------------------------------------
  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }
  function render() {
    var on = !!(state && state.shiftId);
    var bar = $("track-bar"), off = $("track-off");
    if (bar) {
      bar.hidden = !on;
      bar.dataset.shift = on ? state.shiftId : "";
      bar.dataset.recorded = on ? state.recorded || 0 : 0;
      if (on) {
        $("track-bar-stats").textContent = fmt(S.onDutySince, {
          time: clock(Date.now() - (state.startedAt || Date.now())), n: state.recorded || 0
        });
      }
    }
    document.body.classList.toggle("tracking", on);
    if (off) off.hidden = on || !!$("duty-panel");
    var panel = $("duty-panel");
    if (panel) {
      panel.dataset.onDuty = on ? "1" : "0";
      $("duty-state").textContent = on ? S.onDuty : S.offDuty;
      $("duty-start").hidden = on;
      $("duty-end").hidden = !on;
    }
    pendingCount().then(function (n) {
      var el = $("track-pending");
      if (el) el.textContent = n;
      if (bar) bar.dataset.pending = n;
    }).catch(function () {});
  }

  // ---- recording ---------------------------------------------------------------------------------------
  function onPosition(pos) {
    if (!state || !state.shiftId) return;
    var t = Math.round(pos.timestamp || Date.now());
    if (t - lastKept < C.minIntervalMs) return;
    lastKept = t;
    var c = pos.coords;
    addPoint({user: C.userId, shift: state.shiftId, t: t, lat: c.latitude, lng: c.longitude,
              acc: c.accuracy, speed: (c.speed === null || isNaN(c.speed)) ? null : c.speed})
      .then(function () {
        if (!state) return;
        state.recorded = (state.recorded || 0) + 1;  // shown in the bar on every page of the app
        state.lastT = t;  // the interval holds across pages too
        return saveState();
      }).then(render, render);
  }
  function onGeoError(err) {
    message(err && err.code === 1 ? S.geoDenied : S.noGeo, "warning");
  }
  function startWatching() {
    if (watchId !== null) return;
    if (!navigator.geolocation) { message(S.noGeo, "warning"); return; }
    watchId = navigator.geolocation.watchPosition(onPosition, onGeoError,
      {enableHighAccuracy: true, maximumAge: 5000, timeout: 60000});
  }
  function stopWatching() {
    if (watchId !== null && navigator.geolocation) navigator.geolocation.clearWatch(watchId);
    watchId = null;
  }

  // ---- uploading ---------------------------------------------------------------------------------------
  function sendBatch(b) {
    return api("POST", urlFor(C.pointsUrl, b.shift), {key: b.key, points: b.points}).then(function (res) {
      if (res.status === 200 || res.status === 201) {
        uploaded += res.body.accepted || 0;
        showToday(res.body.shift);
        return dropBatch(b.key).then(function () { return "ok"; });
      }
      if (res.status === 401 || res.status === 403) { signedOut = true; message(S.signIn, "warning"); return "stop"; }
      if (res.status >= 400 && res.status < 500) {
        // Refused as a whole (the shift is gone, a malformed batch): retrying cannot help.
        message(fmt(S.failed, {detail: res.body.detail || res.status}), "error");
        return dropBatch(b.key).then(function () { return "dropped"; });
      }
      throw new Error("server " + res.status);
    }).catch(function () {  // no signal, or the server failed: the same batch (same key) later
      b.attempts += 1;
      b.nextAt = Date.now() + Math.min(300000, 5000 * Math.pow(2, b.attempts - 1));
      return putBatch(b).then(function () { return "retry"; });
    });
  }
  function sendEnd() {
    if (!state || !state.pendingEnd) return Promise.resolve("ok");
    var end = state.pendingEnd;
    return api("POST", urlFor(C.endUrl, end.shift), {ended_at: end.at}).then(function (res) {
      if (res.ok || res.status === 404) {
        state.pendingEnd = null;
        if (!state.shiftId) state = null;
        return saveState().then(function () { return "ok"; });
      }
      if (res.status === 401 || res.status === 403) { signedOut = true; message(S.signIn, "warning"); }
      return "stop";
    }).catch(function () { return "retry"; });
  }
  /* Batch what is buffered, send every batch that is due (oldest first), then a pending end. */
  function flush(force) {
    if (flushing) return flushing;
    flushing = (function loop() {
      return makeBatch().then(function (n) { return n ? loop() : null; });
    })().then(function () {
      return allOf("batches");
    }).then(function (batches) {
      var now = Date.now();
      batches.sort(function (a, b) { return a.created - b.created; });
      var chain = Promise.resolve("ok");
      batches.forEach(function (b) {
        if (!force && b.nextAt > now) return;
        chain = chain.then(function (last) { return last === "stop" ? "stop" : sendBatch(b); });
      });
      return chain;
    }).then(function (last) {
      return last === "stop" ? last : sendEnd();
    }).catch(function () {}).then(function () {
      flushing = null;
      render();
    });
    return flushing;
  }

  function showToday(shift) {
    if (!shift) return;
    var points = $("today-points");
    if (points && shift.point_count !== undefined && state && shift.id === state.shiftId) {
      points.textContent = shift.point_count;
    }
  }

  // ---- duty: start, end, consent, withdraw ------------------------------------------------------------
  function begin(shift) {
    var pendingEnd = state && state.pendingEnd && state.pendingEnd.shift !== shift.id ? state.pendingEnd : null;
    state = {user: C.userId, shiftId: shift.id, startedAt: Date.parse(shift.started_at) || Date.now(),
             pendingEnd: pendingEnd, recorded: shift.point_count || 0};
    return saveState().then(function () { startWatching(); render(); });
  }
  function stopLocally() {
    stopWatching();
    if (state && state.shiftId) {
      state.pendingEnd = {shift: state.shiftId, at: new Date().toISOString()};
      state.shiftId = null;
    }
    return saveState().then(render);
  }
  function showConsent(text) {
    var box = $("consent");
    if (!box || !text) return;
    $("consent-title").textContent = text.title;
    $("consent-body").textContent = text.body;
    $("consent-accept").dataset.version = text.version;
    box.hidden = false;
    box.scrollIntoView({block: "start"});
  }
  function startDuty() {
    message(S.starting, "");
    // An end still waiting to be sent goes first, or the server would hand that shift back.
    return flush(true).then(function () {
      return api("POST", C.shiftsUrl, {key: uuid4()});
    }).then(function (res) {
      if (res.status === 409 && res.body.code === "consent_required") {
        message("", "");
        return api("GET", C.meUrl).then(function (me) { showConsent(me.body.text); });
      }
      if (!res.ok) { message(fmt(S.failed, {detail: res.body.detail || res.status}), "error"); return; }
      var box = $("consent");
      if (box) box.hidden = true;
      message(S.started, "success");
      return begin(res.body);
    }).catch(function () { message(S.needSignal, "warning"); });
  }
  function endDuty() {
    return stopLocally().then(function () {
      message(S.ended, "success");
      return flush(true);
    });
  }
  function acceptConsent() {
    var version = $("consent-accept").dataset.version;
    return api("POST", C.consentUrl, {version: version}).then(function (res) {
      if (res.status === 409) {
        message(S.consentStale, "warning");
        return api("GET", C.meUrl).then(function (me) { showConsent(me.body.text); });
      }
      if (!res.ok) { message(fmt(S.failed, {detail: res.body.detail || res.status}), "error"); return; }
      $("consent").hidden = true;
      return startDuty();
    }).catch(function () { message(S.needSignal, "warning"); });
  }
  function withdraw() {
    if (!window.confirm(S.withdrawConfirm)) return Promise.resolve();
    stopWatching();
    return flush(true).then(function () {
      return api("POST", C.withdrawUrl, {});
    }).then(function (res) {
      if (!res.ok) { message(fmt(S.failed, {detail: res.body.detail || res.status}), "error"); return; }
      state = null;
      return Promise.all([saveState(), clearAll()]).then(function () {
        message(S.withdrawn, "success");
        var info = $("consent-info");
        if (info) info.hidden = true;
        render();
      });
    }).catch(function () { message(S.needSignal, "warning"); });
  }

  /* The server decides: a shift ended there (consent withdrawn on another device, closed as
     stale) stops recording here; a shift running there (this phone lost its storage) resumes. */
  function reconcile() {
    return api("GET", C.meUrl).then(function (res) {
      if (!res.ok) return;
      var shift = res.body.shift;
      if (state && state.shiftId && (!shift || shift.id !== state.shiftId)) {
        stopWatching();
        state.shiftId = null;
        message(S.endedElsewhere, "warning");
        return saveState().then(render);
      }
      if (shift && (!state || !state.shiftId) && !(state && state.pendingEnd && state.pendingEnd.shift === shift.id)) {
        return begin(shift);
      }
    }).catch(function () {});
  }

  function bind(id, fn) {
    var el = $(id);
    if (el) el.addEventListener("click", function (e) { e.preventDefault(); fn(); });
  }
  bind("duty-start", startDuty);
  bind("duty-end", endDuty);
  bind("track-stop", endDuty);
  bind("consent-accept", acceptConsent);
  bind("consent-decline", function () { $("consent").hidden = true; });
  bind("consent-withdraw", withdraw);

  loadState().then(function (saved) {
    state = saved;
    lastKept = state && state.lastT || 0;
    if (state && state.shiftId) startWatching();
    render();
    return navigator.onLine ? reconcile() : null;
  }).then(function () { return flush(true); }).catch(function () { render(); });

  setInterval(function () { if (!signedOut && navigator.onLine) flush(false); }, C.uploadEveryMs);
  setInterval(function () { if (state && state.shiftId) render(); }, 1000);
  window.addEventListener("online", function () { signedOut = false; flush(true); });
  document.addEventListener("visibilitychange", function () { if (document.hidden) flush(true); });

  window.civicgridTrack = {
    flush: flush, state: function () { return state; }, pending: pendingCount,
    recorded: function () { return state && state.recorded || 0; }, uploaded: function () { return uploaded; }
  };
})();
