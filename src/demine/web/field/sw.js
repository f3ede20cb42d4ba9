// demine field app: the service worker (scope /field/). It keeps the app shell on the device so
// that the app opens with no connection. The forms, the work area, the outbox and the photos
// are kept by the app in IndexedDB: answers of /api/ are never cached here.
// __VERSION__ is replaced by the server with a hash of every shell file (api/field.py), so a
// changed file installs a new worker, which drops the old cache when it activates.
const CACHE = "demine-field-__VERSION__";
// every file of the app shell, relative to this worker (tests/test_web_field.py checks that each
// exists and that every module field.html loads, directly or by import, is listed)
const SHELL = [
  "./",
  "manifest.webmanifest",
  "../static/field/field.css",
  "../static/field/forms.css",
  "../static/field/app.js",
  "../static/field/ui_common.js",
  "../static/field/ui_map.js",
  "../static/field/ui_record.js",
  "../static/field/ui_outbox.js",
  "../static/field/db.js",
  "../static/field/sync.js",
  "../static/field/forms.js",
  "../static/field/i18n/en.json",
  "../static/field/i18n/uk.json",
  "../static/field/icons/icon-192.png",
  "../static/field/icons/icon-512.png",
  "../static/vendor/maplibre-gl/maplibre-gl.mjs",
  "../static/vendor/maplibre-gl/maplibre-gl-worker.mjs",
  "../static/vendor/maplibre-gl/maplibre-gl.css",
];
const SCOPE = new URL("./", self.location.href).href;
const SHELL_URLS = new Set(SHELL.map((u) => new URL(u, self.location.href).href));
const STATIC = new URL("../static/", self.location.href).href;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((u) => new Request(u, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((n) => n.startsWith("demine-field-") && n !== CACHE).map((n) => caches.delete(n)),
      ))
      .then(() => self.clients.claim()),
  );
});

// the cached copy at once, a fresh one fetched in the background for next time
async function staleWhileRevalidate(event, request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  const fresh = fetch(request)
    .then((response) => {
      if (response.ok && response.type === "basic") cache.put(request, response.clone());
      return response;
    });
  if (cached) {
    event.waitUntil(fresh.catch(() => undefined));
    return cached;
  }
  return fresh;
}

// the page itself: the network first (a new version at once when online), the cached shell
// when offline or when the network has not answered in NAVIGATE_WAIT_MS (a weak signal)
const NAVIGATE_WAIT_MS = 4000;
async function navigate(event, request) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then((response) => {
    if (response.ok) cache.put(SCOPE, response.clone());
    return response;
  });
  const cached = await cache.match(SCOPE);
  if (!cached) return network;
  event.waitUntil(network.catch(() => undefined)); // the cache is refreshed even if late
  const late = new Promise((resolve) => setTimeout(() => resolve(cached), NAVIGATE_WAIT_MS));
  return Promise.race([network.catch(() => cached), late]);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return; // base-map tiles: the browser's own cache
  if (url.pathname.includes("/api/")) return; // never cached here: the app keeps its data
  if (request.mode === "navigate" && url.href.split(/[?#]/)[0] === SCOPE) {
    event.respondWith(navigate(event, request));
    return;
  }
  const bare = url.href.split(/[?#]/)[0];
  if (SHELL_URLS.has(bare) || bare.startsWith(STATIC)) {
    event.respondWith(staleWhileRevalidate(event, request));
  }
});
