// Warnings where you walk (issue 15, docs/web.md "Warnings where you walk").
//
// The page watches the phone's position and warns, by text on screen, sound and vibration,
// when the person comes within a chosen distance of a recorded hazard or an unverified
// civilian report. It uses hazard data held on the device (the area around the person, fetched
// once while online and kept in the browser's Cache Storage; or an offline safety pack), so it
// keeps warning with no connection.
//
// Distances are measured in a local plane around the person (an azimuthal projection on the
// WGS 84 ellipsoid's radii of curvature at that latitude): within the 10 km this module looks
// at, it is within about 0.1 % (1 m at 1 km) of the geodesic distance the server computes, and
// a warning adds the position's accuracy to the distance it checks (a rough fix warns sooner).

export const DISTANCES = [50, 100, 200, 500];
export const DEFAULT_DISTANCE = 100;
export const AREA_RADIUS_M = 5000; // the area fetched around the person
export const CLEAR_MARGIN_M = 25; // a warning ends only this far beyond the distance
export const ROUGH_FIX_M = 150; // a fix less accurate than this cannot clear a warning
const CACHE = "demine-walk-v1";
const MAX_PAGES = 10; // of up to 1,000 hazards each
const AREA_KEY = "/__demine__/walk-area.json";
const A = 6378137.0;
const E2 = 6.69437999014e-3;

// --- geometry in a local plane ------------------------------------------------------------------

function radii(lat) {
  const s = Math.sin((lat * Math.PI) / 180);
  const w = Math.sqrt(1 - E2 * s * s);
  return { m: (A * (1 - E2)) / (w * w * w), n: A / w }; // meridian, prime vertical
}

function planeOf(lat0, lon0) {
  const { m, n } = radii(lat0);
  const kx = ((n * Math.cos((lat0 * Math.PI) / 180)) * Math.PI) / 180;
  const ky = (m * Math.PI) / 180;
  return ([lon, lat]) => {
    let dl = lon - lon0;
    if (dl > 180) dl -= 360; // a hazard across the antimeridian from the person
    if (dl < -180) dl += 360;
    return [dl * kx, (lat - lat0) * ky];
  };
}

function segDist(ax, ay, bx, by) {
  // distance from the origin to the segment a-b
  const dx = bx - ax, dy = by - ay;
  const len = dx * dx + dy * dy;
  let t = len > 0 ? -(ax * dx + ay * dy) / len : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(ax + t * dx, ay + t * dy);
}

function ringInfo(ring) {
  // [distance from the origin to the ring, origin inside the ring]
  let d = Infinity, inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    d = Math.min(d, segDist(xj, yj, xi, yi));
    if ((yi > 0) !== (yj > 0) && 0 < ((xj - xi) * (0 - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return [d, inside];
}

function polygonInfo(rings) {
  const [d0, in0] = ringInfo(rings[0]);
  let d = d0, inside = in0;
  for (const hole of rings.slice(1)) {
    const [dh, inh] = ringInfo(hole);
    d = Math.min(d, dh);
    if (inh) inside = false;
  }
  return { distance_m: inside ? 0 : d, inside };
}

/** The distance (m) from the person at lat/lon to a GeoJSON geometry, and whether inside. */
export function distanceTo(lat, lon, geometry) {
  const p = planeOf(lat, lon);
  const ring = (r) => r.map(p);
  const g = geometry || {};
  const best = (list) =>
    list.reduce(
      (a, b) => (b.inside || b.distance_m < a.distance_m ? (a.inside ? a : b) : a),
      { distance_m: Infinity, inside: false },
    );
  switch (g.type) {
    case "Point": {
      const [x, y] = p(g.coordinates);
      return { distance_m: Math.hypot(x, y), inside: false };
    }
    case "MultiPoint":
      return best(g.coordinates.map((c) => distanceTo(lat, lon, { type: "Point", coordinates: c })));
    case "LineString": {
      const pts = ring(g.coordinates);
      let d = Infinity;
      for (let i = 1; i < pts.length; i++) d = Math.min(d, segDist(...pts[i - 1], ...pts[i]));
      return { distance_m: d, inside: false };
    }
    case "MultiLineString":
      return best(g.coordinates.map((c) => distanceTo(lat, lon, { type: "LineString", coordinates: c })));
    case "Polygon":
      return polygonInfo(g.coordinates.map(ring));
    case "MultiPolygon":
      return best(g.coordinates.map((rs) => polygonInfo(rs.map(ring))));
    case "GeometryCollection":
      return best(g.geometries.map((x) => distanceTo(lat, lon, x)));
    default:
      return { distance_m: Infinity, inside: false };
  }
}

// --- the data held on the device ---------------------------------------------------------------

function bboxAround(lat, lon, r) {
  const dLat = r / 111_000;
  const dLon = r / (111_000 * Math.max(0.05, Math.cos((lat * Math.PI) / 180)));
  return [lon - dLon, lat - dLat, lon + dLon, lat + dLat].map((v) => +v.toFixed(5));
}

/**
 * Hazards and unverified reports around a place, fetched once while online and kept in Cache
 * Storage, so that a reload with no connection still has them. ``fetchJSON(url)`` is the page's
 * fetch (it throws on a network error or an error answer).
 */
export class AreaSource {
  constructor(fetchJSON, { hazardsUrl, reportsUrl } = {}) {
    this.fetchJSON = fetchJSON;
    this.hazardsUrl = hazardsUrl || ((b) => `ogc/collections/hazards/items?bbox=${b.join(",")}&limit=1000&f=json`);
    this.reportsUrl = reportsUrl || ((b) => `api/v1/public/reports/unverified?bbox=${b.join(",")}`);
    this.area = null; // {bbox, fetched_at, features: [{kind, id, name, geometry}], truncated}
  }

  async load() {
    if (this.area) return this.area;
    try {
      const c = await caches.open(CACHE);
      const r = await c.match(AREA_KEY);
      if (r) this.area = await r.json();
    } catch {
      /* no Cache Storage (a private window): the area lives in memory only */
    }
    return this.area;
  }

  covers(lat, lon, margin = 0) {
    const b = this.area && this.area.bbox;
    if (!b) return false;
    const [w, s, e, n] = bboxAround(lat, lon, margin);
    return w >= b[0] && s >= b[1] && e <= b[2] && n <= b[3];
  }

  /** Fetch the area around lat/lon (online); keep it. */
  async fetch(lat, lon) {
    const bbox = bboxAround(lat, lon, AREA_RADIUS_M);
    const pages = async (url) => {
      // the hazards of the area, page after page (at most MAX_PAGES)
      const features = [];
      let next = url;
      for (let i = 0; i < MAX_PAGES && next; i++) {
        const page = await this.fetchJSON(next);
        features.push(...(page.features || []));
        const link = (page.links || []).find((l) => l.rel === "next");
        next = link ? link.href : null;
      }
      return { features, truncated: Boolean(next) };
    };
    const [hz, rp] = await Promise.all([
      pages(this.hazardsUrl(bbox)),
      this.fetchJSON(this.reportsUrl(bbox)).catch(() => ({ features: [] })),
    ]);
    // as the safety check does: only open hazards warn (released land does not)
    const keep = (kind) => (f) => ({
      kind: kind === "hazard" && !(f.properties && f.properties.status === "open") ? "released" : kind,
      id: f.id ?? (f.properties && f.properties.id) ?? null,
      name: (f.properties && f.properties.name) || null,
      geometry: f.geometry,
    });
    const features = [
      ...(hz.features || []).map(keep("hazard")).filter((f) => f.kind === "hazard"),
      ...(rp.features || []).map(keep("report")),
    ].filter((f) => f.geometry);
    this.area = {
      bbox,
      fetched_at: new Date().toISOString(),
      features,
      truncated: Boolean(hz.truncated || rp.truncated),
    };
    try {
      const c = await caches.open(CACHE);
      await c.put(AREA_KEY, new Response(JSON.stringify(this.area), { headers: { "Content-Type": "application/json" } }));
    } catch {
      /* kept in memory only */
    }
    return this.area;
  }

  /** What lies within ``radius`` metres of lat/lon, nearest first. */
  near(lat, lon, radius) {
    const out = [];
    for (const f of (this.area && this.area.features) || []) {
      const d = distanceTo(lat, lon, f.geometry);
      if (d.inside || d.distance_m <= radius) out.push({ ...d, kind: f.kind, id: f.id, name: f.name });
    }
    return out.sort((a, b) => (b.inside - a.inside) || a.distance_m - b.distance_m);
  }
}

/**
 * Hazards from an offline safety pack (pack.js's openPack object), anywhere in its area, with no
 * connection: its lookup index answers as the safety API does (the server's distances). Outside
 * the pack's area, and for unverified civilian reports (the index holds hazards only), it asks
 * ``fallback`` (an AreaSource) when there is one. The same interface as AreaSource.
 */
export class PackSource {
  constructor(pack, fallback = null) {
    this.pack = pack;
    this.fallback = fallback;
    this.area = null;
  }

  async load() {
    if (this.fallback) await this.fallback.load();
    const m = this.pack.meta;
    this.area = { bbox: m.lookup.covers, fetched_at: m.created, pack: m, features: [], truncated: false };
    return this.area;
  }

  inPack(lat, lon) {
    // the index knows every hazard within max_radius_m of its area: the place alone must be in
    const [w, s, e, n] = this.pack.meta.lookup.covers;
    return lon >= w && lon <= e && lat >= s && lat <= n;
  }

  covers(lat, lon, margin = 0) {
    return this.inPack(lat, lon) || Boolean(this.fallback && this.fallback.covers(lat, lon, margin));
  }

  fetch(lat, lon) {
    return this.fallback ? this.fallback.fetch(lat, lon) : Promise.resolve(this.area);
  }

  async near(lat, lon, radius) {
    const other = this.fallback && this.fallback.covers(lat, lon, 0) ? this.fallback.near(lat, lon, radius) : [];
    if (!this.inPack(lat, lon)) return other;
    const r = Math.min(radius, this.pack.meta.lookup.max_radius_m);
    const answer = await this.pack.lookup(lat, lon, r);
    const hits = answer.hazards.map((h) => ({ distance_m: h.distance_m, inside: h.inside, kind: "hazard", id: h.id, name: h.name }));
    return [...hits, ...other.filter((f) => f.kind === "report")]
      .sort((a, b) => (b.inside - a.inside) || a.distance_m - b.distance_m);
  }
}

// --- the watcher --------------------------------------------------------------------------------

/**
 * Watches the position and decides the state: "off", "waiting" (no fix yet), "clear", "near"
 * (within the distance of a hazard or report), "inside" (inside a recorded hazard), "rough"
 * (the fix is too rough to say it is clear), "no-data" (the person is outside the area held).
 * ``onState(state, detail)`` is called on every fix; ``alert(state, detail)`` once on each
 * change into "near" or "inside" (or from "near" to "inside").
 */
export class Walker {
  constructor({ source, distance = DEFAULT_DISTANCE, onState, alert, geolocation }) {
    this.source = source;
    this.distance = distance;
    this.onState = onState || (() => {});
    this.alert = alert || (() => {});
    this.geo = geolocation || (typeof navigator !== "undefined" ? navigator.geolocation : null);
    this.watchId = null;
    this.state = "off";
  }

  start() {
    if (!this.geo) {
      this.onState("error", { code: "unsupported" });
      return;
    }
    this.state = "waiting";
    this.onState("waiting", {});
    this.watchId = this.geo.watchPosition(
      (pos) => this.fix(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy),
      (err) => this.onState("error", { code: err.code === 1 ? "denied" : "unavailable" }),
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 },
    );
  }

  stop() {
    if (this.watchId !== null && this.geo) this.geo.clearWatch(this.watchId);
    this.watchId = null;
    this.state = "off";
    this.onState("off", {});
  }

  /** One position fix; fixes are taken one after another (a source may answer later). */
  fix(lat, lon, accuracy) {
    this.chain = (this.chain || Promise.resolve())
      .then(() => this.decide(lat, lon, accuracy))
      .catch((err) => this.onState("error", { code: "unavailable", error: String(err) }));
    return this.chain;
  }

  async decide(lat, lon, accuracy) {
    const acc = Number.isFinite(accuracy) ? Math.max(0, accuracy) : ROUGH_FIX_M;
    const detail = { lat, lon, accuracy: acc };
    let next;
    if (!(await this.source.covers(lat, lon, this.distance + Math.min(acc, ROUGH_FIX_M)))) {
      next = "no-data";
    } else {
      const hits = await this.source.near(lat, lon, this.distance + acc + CLEAR_MARGIN_M);
      detail.hits = hits;
      const nearest = hits[0];
      const inside = hits.some((h) => h.inside && h.kind === "hazard");
      const within = hits.filter((h) => h.inside || h.distance_m - acc <= this.distance);
      const was = this.state === "near" || this.state === "inside";
      if (inside) next = "inside";
      else if (within.length) next = "near";
      else if (was && nearest && nearest.distance_m - acc <= this.distance + CLEAR_MARGIN_M) next = this.state;
      else if (was && acc > ROUGH_FIX_M) next = this.state; // too rough to say it is clear
      else if (acc > ROUGH_FIX_M) next = "rough";
      else next = "clear";
      detail.nearest = nearest || null;
    }
    const prev = this.state;
    this.state = next;
    if ((next === "near" || next === "inside") && next !== prev && !(prev === "inside" && next === "near")) {
      this.alert(next, detail);
    }
    this.onState(next, detail);
    return next;
  }
}

// --- sound and vibration -----------------------------------------------------------------------

/** An alarm that works once the person has pressed a button (browsers need that gesture). */
export class Alarm {
  constructor() {
    this.ctx = null;
  }

  unlock() {
    const AC = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!AC || this.ctx) return;
    try {
      this.ctx = new AC();
      if (this.ctx.state === "suspended") this.ctx.resume();
    } catch {
      this.ctx = null;
    }
  }

  ring(strong) {
    if (navigator.vibrate) navigator.vibrate(strong ? [400, 150, 400, 150, 400] : [300, 150, 300]);
    const ctx = this.ctx;
    if (!ctx) return;
    const t = ctx.currentTime;
    for (let i = 0; i < (strong ? 3 : 2); i++) {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.0001, t + i * 0.4);
      g.gain.exponentialRampToValueAtTime(0.5, t + i * 0.4 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.4 + 0.3);
      o.connect(g).connect(ctx.destination);
      o.start(t + i * 0.4);
      o.stop(t + i * 0.4 + 0.32);
    }
  }
}
