// The offline safety pack reader (docs/publish.md): a pack written by `demine publish DIR`,
// served by any static host, answers "which recorded hazards are within R metres of this place"
// with the answer GET /api/v1/safety/point gives, and draws its tiles in MapLibre, with no
// demine server.
//
//   import { openPack } from "./pack.js";
//   const pack = await openPack("https://cdn.example.org/packs/donetsk/");
//   const answer = await pack.lookup(48.0, 37.8, 500);   // {warning_level, hazards, notice, ...}
//   const url = await pack.registerProtocol(maplibregl);  // "pmtiles://https://.../hazards.pmtiles"
//
// The distances are the server's (demine.geo.geodesy.distance_to_geometries): the place and each
// hazard's edges (densified to 0.01°, as GEOS segmentize does) are projected into the azimuthal
// equidistant projection on WGS 84 that the server centres on the place's 0.25° grid point
// (PROJ's aeqd: Karney's geodesic from the centre), and the planar distance is taken there
// (0 inside). The geodesics are GeographicLib's (vendor/geographiclib), the same algorithm as
// PROJ's. Rounding (0.1 m, half to even), levels and messages follow demine.services.safety.
//
// A place outside the pack's area, or a radius over the pack's max_radius_m, is refused (an
// Error naming it): the pack only knows the hazards within that radius of its area. A block of
// the index that cannot be fetched is an error too, never "no hazard".

const FORMAT_VERSION = 1;
const GRID = 0.25; // the server's projection centre grid (demine.geo.geodesy._GRID)
const SEGMENT_DEG = 0.01; // edges densified to this many degrees (distance_to_geometries)
const M_PER_DEG_LAT = 110_574.0; // demine.services.safety._M_PER_DEG_LAT
const EPS10 = 1e-10;

const loaded = new Map();

function loadScript(url, name) {
  // a classic script (the vendored builds define a global); CSP: script-src 'self' allows it
  if (globalThis[name]) return Promise.resolve(globalThis[name]);
  if (!loaded.has(url)) {
    loaded.set(url, new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = url;
      s.onload = () => (globalThis[name] ? resolve(globalThis[name]) : reject(new Error(`${url} did not define ${name}`)));
      s.onerror = () => reject(new Error(`cannot load ${url}`));
      document.head.appendChild(s);
    }));
  }
  return loaded.get(url);
}

const vendor = (path) => new URL(`./vendor/${path}`, import.meta.url).href;
const GEODESIC = "geographiclib/geographiclib-geodesic.min.js";
const PMTILES = "pmtiles/pmtiles.js";

// the vendored scripts a pack's reader loads: kept with a pack on the phone (pack_view.js), not
// in the map's own offline shell (a phone that keeps no pack never loads them)
export const vendorFiles = () => [vendor(GEODESIC), vendor(PMTILES)];

// --- numbers as Python gives them ------------------------------------------------------------

function roundHalfEven(v) {
  // Python's round(v) for a float: to the nearest integer, ties to even
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function round1(x) {
  // Python's round(x, 1): the decimal nearest the exact double, ties (x*4 odd) to even
  const q = x * 4;
  if (Number.isInteger(q) && Math.abs(q) % 2 === 1) {
    const t = x * 10; // exact: k + 0.5
    return roundHalfEven(t) / 10;
  }
  return Number(x.toFixed(1));
}

// --- the server's search window (demine.services.safety.search_bbox, geo.geodesy.lon_boxes) --

function searchBoxes(lat, lon, radiusM) {
  const dlat = (radiusM / M_PER_DEG_LAT) * 1.01 + 1e-7;
  const c = Math.cos((Math.min(89.9, Math.abs(lat) + dlat) * Math.PI) / 180);
  const dlon = c <= 1e-9 ? 180.0 : Math.min(180.0, (radiusM / (111_320.0 * c)) * 1.01 + 1e-7);
  let [x0, y0, x1, y1] = [lon - dlon, Math.max(-90.0, lat - dlat), lon + dlon, Math.min(90.0, lat + dlat)];
  if (x1 - x0 >= 360.0) return [[-180.0, y0, 180.0, y1]];
  const k = Math.floor((x0 + 180.0) / 360.0);
  x0 -= 360.0 * k;
  x1 -= 360.0 * k;
  if (x1 <= 180.0) return [[x0, y0, x1, y1]];
  return [[x0, y0, 180.0, y1], [-180.0, y0, x1 - 360.0, y1]];
}

const meets = (a, b) => a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];

// --- the projection and planar distances (PROJ aeqd, GEOS densify and distance) ------------

function aeqd(geod, lon0, lat0) {
  // PROJ's ellipsoidal aeqd (oblique/equatorial): x = s12 sin(azi1), y = s12 cos(azi1)
  return (lon, lat) => {
    const dl = lon - lon0;
    if (Math.abs(dl) < EPS10 * 57.29577951308232 && Math.abs(lat - lat0) < EPS10 * 57.29577951308232) return [0, 0];
    const r = geod.Inverse(lat0, 0, lat, dl);
    const a = (r.azi1 * Math.PI) / 180;
    return [r.s12 * Math.sin(a), r.s12 * Math.cos(a)];
  };
}

function densify(coords, tol) {
  // GEOS Densifier::densifyPoints (repeated points dropped)
  const out = [];
  const push = (p) => {
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  };
  for (let i = 0; i < coords.length - 1; i++) {
    const p0 = coords[i];
    const p1 = coords[i + 1];
    push(p0);
    const dx = p1[0] - p0[0];
    const dy = p1[1] - p0[1];
    const len = Math.sqrt(dx * dx + dy * dy);
    if (len <= tol) continue;
    const n = Math.ceil(len / tol);
    const segLen = len / n;
    for (let j = 1; j < n; j++) {
      const f = (j * segLen) / len;
      push([p0[0] + f * dx, p0[1] + f * dy]);
    }
  }
  if (coords.length) push(coords[coords.length - 1]);
  return out;
}

function ptSeg(p, a, b) {
  // GEOS Distance::pointToSegment
  if (a[0] === b[0] && a[1] === b[1]) return Math.sqrt((p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2);
  const len2 = (b[0] - a[0]) * (b[0] - a[0]) + (b[1] - a[1]) * (b[1] - a[1]);
  const r = ((p[0] - a[0]) * (b[0] - a[0]) + (p[1] - a[1]) * (b[1] - a[1])) / len2;
  if (r <= 0.0) return Math.sqrt((p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2);
  if (r >= 1.0) return Math.sqrt((p[0] - b[0]) ** 2 + (p[1] - b[1]) ** 2);
  const s = ((a[1] - p[1]) * (b[0] - a[0]) - (a[0] - p[0]) * (b[1] - a[1])) / len2;
  return Math.abs(s) * Math.sqrt(len2);
}

function lineDist(p, pts) {
  if (pts.length === 1) return Math.sqrt((p[0] - pts[0][0]) ** 2 + (p[1] - pts[0][1]) ** 2);
  let d = Infinity;
  for (let i = 0; i < pts.length - 1; i++) d = Math.min(d, ptSeg(p, pts[i], pts[i + 1]));
  return d;
}

function inRing(p, ring) {
  // crossing number; a place on an edge is measured at 0 by lineDist anyway
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function polyDist(p, rings) {
  if (!rings.length) return Infinity;
  let d = Infinity;
  for (const r of rings) d = Math.min(d, lineDist(p, r));
  if (d === 0) return 0;
  if (inRing(p, rings[0]) && !rings.slice(1).some((h) => inRing(p, h))) return 0;
  return d;
}

function geomDist(p, g, fwd) {
  // the planar distance from the projected place p to the geometry g (GeoJSON, lon/lat)
  const line = (cs) => densify(cs, SEGMENT_DEG).map((c) => fwd(c[0], c[1]));
  switch (g.type) {
    case "Point": return lineDist(p, [fwd(g.coordinates[0], g.coordinates[1])]);
    case "MultiPoint": return Math.min(Infinity, ...g.coordinates.map((c) => lineDist(p, [fwd(c[0], c[1])])));
    case "LineString": return lineDist(p, line(g.coordinates));
    case "MultiLineString": return Math.min(Infinity, ...g.coordinates.map((l) => lineDist(p, line(l))));
    case "Polygon": return polyDist(p, g.coordinates.map(line));
    case "MultiPolygon": return Math.min(Infinity, ...g.coordinates.map((poly) => polyDist(p, poly.map(line))));
    case "GeometryCollection": return Math.min(Infinity, ...g.geometries.map((m) => geomDist(p, m, fwd)));
    default: throw new Error(`unknown geometry type ${g.type}`);
  }
}

// --- the answer (demine.services.safety.level, answer, Hit.to_dict) --------------------------

function level(distanceM, radiusM, dangerM) {
  if (distanceM === null) return "none";
  if (distanceM === 0) return "inside";
  return distanceM <= Math.min(dangerM, radiusM) ? "danger" : "caution";
}

function bitSet(b64) {
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

async function geodesicWGS84() {
  return (await loadScript(vendor(GEODESIC), "geodesic")).Geodesic.WGS84;
}

export async function distanceM(lat, lon, geometry) {
  // metres from a place to a GeoJSON geometry, unrounded, as the server measures them
  // (demine.geo.geodesy.distance_to_geometries)
  const fwd = aeqd(await geodesicWGS84(), roundHalfEven(lon / GRID) * GRID, roundHalfEven(lat / GRID) * GRID);
  return geomDist(fwd(lon, lat), geometry, fwd);
}

export async function openPack(baseUrl) {
  const base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`, globalThis.location?.href);
  const res = await fetch(new URL("pack.json", base));
  if (!res.ok) throw new Error(`cannot read ${new URL("pack.json", base)}: HTTP ${res.status}`);
  const meta = await res.json();
  if (meta.format !== "demine-pack" || meta.format_version !== FORMAT_VERSION) {
    throw new Error(`not a demine pack of format ${FORMAT_VERSION}: ${meta.format} ${meta.format_version}`);
  }
  const ix = meta.lookup;
  const present = bitSet(ix.present);
  const blocks = new Map();
  let geod = null;

  const hasBlock = (bx, by) => {
    const c = bx - ix.x0;
    const r = by - ix.y0;
    if (c < 0 || r < 0 || c >= ix.cols || r >= ix.rows) return false;
    const i = r * ix.cols + c;
    return (present[i >> 3] >> (i & 7)) & 1;
  };

  const block = (bx, by) => {
    const key = `${bx}_${by}`;
    if (!blocks.has(key)) {
      const url = new URL(ix.path.replace("{bx}", bx).replace("{by}", by), base);
      const p = fetch(url).then(async (r) => {
        if (!r.ok) throw new Error(`cannot read the pack's index block ${url}: HTTP ${r.status}`);
        const body = await r.json();
        if (body.pack !== meta.id) throw new Error(`index block ${url} is of another pack (${body.pack}, not ${meta.id})`);
        return body.hazards;
      });
      p.catch(() => blocks.delete(key)); // a failed fetch is tried again next time
      blocks.set(key, p);
    }
    return blocks.get(key);
  };

  async function lookup(lat, lon, radiusM = 500) {
    lat = Number(lat);
    lon = Number(lon);
    radiusM = Number(radiusM);
    if (!(Number.isFinite(lat) && lat >= -90 && lat <= 90)) throw new RangeError(`latitude ${lat} is outside -90..90`);
    if (!(Number.isFinite(lon) && lon >= -180 && lon <= 180)) throw new RangeError(`longitude ${lon} is outside -180..180`);
    if (!(Number.isFinite(radiusM) && radiusM >= 0 && radiusM <= ix.max_radius_m)) {
      throw new RangeError(`radius ${radiusM} m is outside 0..${ix.max_radius_m} m (this pack's max_radius_m)`);
    }
    const [w, s, e, n] = ix.covers;
    if (lon < w || lon > e || lat < s || lat > n) {
      throw new RangeError(`the place ${lat}, ${lon} is outside this pack's area (${w},${s},${e},${n})`);
    }
    if (!geod) geod = await geodesicWGS84();
    const boxes = searchBoxes(lat, lon, radiusM);
    const wanted = [];
    for (const b of boxes) {
      for (let bx = Math.floor(b[0] / ix.block_deg); bx <= Math.floor(b[2] / ix.block_deg); bx++) {
        for (let by = Math.floor(b[1] / ix.block_deg); by <= Math.floor(b[3] / ix.block_deg); by++) {
          if (hasBlock(bx, by)) wanted.push(block(bx, by));
        }
      }
    }
    const seen = new Map();
    for (const list of await Promise.all(wanted)) {
      for (const h of list) if (!seen.has(h.id) && boxes.some((b) => meets(h.b, b))) seen.set(h.id, h);
    }
    const lon0 = roundHalfEven(lon / GRID) * GRID;
    const lat0 = roundHalfEven(lat / GRID) * GRID;
    const fwd = aeqd(geod, lon0, lat0);
    const p = fwd(lon, lat);
    const found = [];
    for (const h of seen.values()) {
      const d = geomDist(p, h.g, fwd);
      if (d <= radiusM) found.push([d, h]);
    }
    found.sort((a, b) => a[0] - b[0] || (a[1].id < b[1].id ? -1 : a[1].id > b[1].id ? 1 : 0));
    const hits = found.map(([d, h]) => ({
      id: h.id,
      distance_m: round1(d),
      inside: d === 0,
      ...Object.fromEntries(ix.hit_fields.map((k) => [k, h.p[k] ?? null])),
    }));
    const nearest = hits.length ? Math.min(...hits.map((h) => h.distance_m)) : null;
    const lv = level(nearest, radiusM, ix.danger_m);
    for (const h of hits) h.warning_level = level(h.distance_m, radiusM, ix.danger_m);
    const msg = ix.messages[lv];
    return {
      lat,
      lon,
      radius_m: radiusM,
      warning_level: lv,
      message: msg.en,
      message_uk: msg.uk,
      hazards: hits,
      synthetic: meta.synthetic,
      notice: meta.notice,
      notice_uk: meta.notice_uk,
      pack: { id: meta.id, created: meta.created },
    };
  }

  const tilesUrl = new URL(meta.tiles.path, base).href;

  async function registerProtocol(maplibregl) {
    // MapLibre reads the PMTiles archive by HTTP Range requests: a source of
    // {type: "vector", url: <the returned URL>}, its layers named as in meta.layers
    const pm = await loadScript(vendor(PMTILES), "pmtiles");
    if (!registerProtocol.protocol) {
      registerProtocol.protocol = new pm.Protocol();
      maplibregl.addProtocol("pmtiles", registerProtocol.protocol.tile);
    }
    return `pmtiles://${tilesUrl}`;
  }

  return { meta, lookup, registerProtocol, tilesUrl };
}
