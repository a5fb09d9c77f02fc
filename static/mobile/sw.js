/* The grid worker app's service worker (served by /m/sw.js, which prepends SHELL and VERSION).
   Pages under /m/: network first, the cached copy without signal; a page may ask for more pages to
   be kept (message {keep: [urls]}). Static files: cache first.
   POSTs and API calls are never cached or answered from the cache. */
/* global SHELL, VERSION */
"use strict";
var CACHE = "civicgrid-m-" + VERSION;

function cacheable(response) {
  return response && response.ok && !response.redirected && response.type === "basic";
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, {credentials: "same-origin"}).then(function (response) {
        if (cacheable(response)) return cache.put(url, response);
      }).catch(function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("civicgrid-m-") === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

// A page asks for pages of the app to be kept (my tasks: the verify pages it lists). Only pages
// under /m/ of this origin, fetched as the signed-in worker, kept like a visited page.
self.addEventListener("message", function (event) {
  var urls = (event.data && event.data.keep) || [];
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.slice(0, 100).map(function (href) {
      var url = new URL(href, self.location.origin);
      if (url.origin !== self.location.origin || url.pathname.indexOf("/m/") !== 0) return null;
      return fetch(url.pathname, {credentials: "same-origin"}).then(function (response) {
        if (cacheable(response)) return cache.put(url.pathname, response);
      }).catch(function () {});
    }));
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) {
      return hit || fetch(request).then(function (response) {
        if (cacheable(response)) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      });
    }));
    return;
  }
  if (request.mode === "navigate" && url.pathname.indexOf("/m/") === 0) {
    event.respondWith(fetch(request).then(function (response) {
      if (cacheable(response)) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (hit) {
        return hit || caches.match(SHELL[0]);
      });
    }));
  }
});
