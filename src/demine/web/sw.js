// The public map's service worker (issue 15, docs/web.md "With no connection"), scope: the
// page's directory. Served by /sw.js with its shell list and version filled in: the version is
// a hash of every shell file, so a changed file installs a new worker and drops the old cache.
//
// - the page and its files: from the cache (kept at install), so the map opens offline;
// - what the map reads (its config, risk table, regions, strings, places, the unverified
//   layer) and the vector tiles it has shown: from the network, the last copy when offline;
// - an offline safety pack the person chose to keep ("keep this region"): whole files in the
//   cache; the map's range requests answered from them with or without a connection;
// - anything else (checks, reports, sign-in): the network only. Nothing private is cached:
//   the public map sends no token.
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const SHELL_CACHE = `demine-map-shell-${VERSION}`;
const DATA_CACHE = "demine-map-data";
const TILE_CACHE = "demine-map-tiles";
const PACK_CACHE = "demine-map-packs";
const MAX_TILES = 3000;
const DATA = [/\/api\/v1\/map\/(config|risk|regions)$/, /\/api\/v1\/public\/places$/,
  /\/api\/v1\/public\/reports\/unverified$/, /\/static\/i18n\/[a-z]+\.json$/];
const OURS = (name) => name.startsWith("demine-map-");

self.addEventListener("install", (event) => {
  event.waitUntil(
    // from the browser's HTTP cache where it can: the page has just loaded these files, so a
    // first visit does not pay for them twice (the page's own files are revalidated: a 304)
    caches.open(SHELL_CACHE).then((c) =>
      c.addAll(SHELL.map((u) => new Request(u, { cache: u.includes("/vendor/") ? "default" : "no-cache" }))),
    ),
  );
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (OURS(name) && name.startsWith("demine-map-shell-") && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

async function networkFirst(request, cacheName, trim) {
  try {
    const response = await fetch(request);
    if (response.ok && response.status === 200) {
      const copy = response.clone();
      caches.open(cacheName).then(async (c) => {
        await c.put(request, copy);
        if (trim) {
          const keys = await c.keys();
          for (const k of keys.slice(0, Math.max(0, keys.length - trim))) await c.delete(k);
        }
      });
    }
    return response;
  } catch (err) {
    const hit = await caches.match(request, { ignoreVary: true });
    if (hit) return hit;
    throw err;
  }
}

// the last kept archive read whole, so that the map's many range reads of one PMTiles file do
// not each read it again from Cache Storage
let lastBody = { key: null, body: null };

async function rangeFrom(response, header, key) {
  // a "bytes=a-b" request answered from a whole file held in the cache (the map's PMTiles
  // reader: a 206 with Content-Range and the length it asked for, the kept file's ETag)
  if (lastBody.key !== key) lastBody = { key, body: response.arrayBuffer() };
  let body;
  try {
    body = await lastBody.body;
  } catch (err) {
    lastBody = { key: null, body: null };
    throw err;
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const size = body.byteLength;
  if (!m) return new Response(body.slice(0), { status: 200, headers: response.headers });
  let start = m[1] === "" ? size - Number(m[2]) : Number(m[1]);
  let end = m[1] === "" || m[2] === "" ? size - 1 : Number(m[2]);
  start = Math.max(0, start);
  end = Math.min(size - 1, end);
  if (start > end) return new Response(null, { status: 416, headers: { "Content-Range": `bytes */${size}` } });
  const headers = new Headers(response.headers);
  headers.delete("Content-Encoding"); // the bytes held are the decoded ones
  headers.set("Content-Range", `bytes ${start}-${end}/${size}`);
  headers.set("Content-Length", String(end - start + 1));
  return new Response(body.slice(start, end + 1), { status: 206, headers });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  // only what anyone may read: a request with a token (the review page, a signed-in client)
  // goes to the network and is never kept
  if (request.method !== "GET" || request.headers.has("Authorization")) return;
  const url = new URL(request.url);
  const scope = new URL(self.registration.scope);
  const path = url.pathname;
  event.respondWith(
    (async () => {
      // a kept pack may be on another origin (a static host, a CDN)
      const packed = await caches.open(PACK_CACHE).then((c) => c.match(url.origin + path));
      if (packed) {
        const range = request.headers.get("Range");
        return range ? rangeFrom(packed, range, url.origin + path) : packed;
      }
      if (url.origin !== self.location.origin) return fetch(request);
      if (request.mode === "navigate" && path === scope.pathname) {
        try {
          return await fetch(request);
        } catch (err) {
          const page = await caches.match(scope.href, { ignoreSearch: true });
          if (page) return page;
          throw err;
        }
      }
      if (SHELL.includes(path.slice(scope.pathname.length)) || SHELL.includes(path)) {
        const hit = await caches.match(request, { ignoreSearch: true });
        if (hit) return hit;
      }
      if (DATA.some((re) => re.test(path))) return networkFirst(request, DATA_CACHE, 0);
      if (/\/tiles\/[^/]+\/\d+\/\d+\/\d+\.mvt$/.test(path)) return networkFirst(request, TILE_CACHE, MAX_TILES);
      return fetch(request);
    })(),
  );
});

// the page asks to keep (or drop) a region's offline safety pack: {type, urls: [...]}
self.addEventListener("message", (event) => {
  const msg = event.data || {};
  const reply = (body) => event.ports[0] && event.ports[0].postMessage(body);
  if (msg.type === "keep-pack" && Array.isArray(msg.urls)) {
    lastBody = { key: null, body: null };
    event.waitUntil(
      (async () => {
        try {
          const c = await caches.open(PACK_CACHE);
          let bytes = 0;
          for (const u of msg.urls) {
            const r = await fetch(u, { cache: "reload" });
            if (!r.ok) throw new Error(`${u}: ${r.status}`);
            const copy = r.clone();
            bytes += (await r.arrayBuffer()).byteLength;
            const key = new URL(u, self.location.href);
            key.search = "";
            await c.put(key.href, copy);
          }
          reply({ ok: true, bytes });
        } catch (err) {
          reply({ ok: false, error: String(err && err.message ? err.message : err) });
        }
      })(),
    );
  } else if (msg.type === "drop-packs") {
    lastBody = { key: null, body: null };
    event.waitUntil(caches.delete(PACK_CACHE).then(() => reply({ ok: true })));
  }
});
