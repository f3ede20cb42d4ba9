// demine public map. Plain ES modules, no build step. Every UI string comes from i18n/*.json;
// the page's HTML holds readable defaults (and the safety block in both languages), so nothing
// waits for this module. MapLibre (about 1 MB) is imported after the first paint.
import { parseCoordinates, looksLikeName } from "./coords.js";
import { initReportForm, reportPickAt } from "./report_form.js";
import { packCheck, packConfig, packQuiet, packStyle } from "./pack_view.js"; // an offline pack

let maplibregl = null; // the module, once loaded (startMap)
performance.mark("demine:text"); // the safety block and the check form are in the HTML

const LANGS = ["en", "uk"];
const LANG_KEY = "demine.lang";
const COLORS = { CHA: "#7a0019", SHA: "#1f4e99", closed: "#1a7f44", eo: "#6a3d9a", unverified: "#6a1b9a" };
// the risk shading: both ends at least 3:1 against the map's background (WCAG 1.4.11)
const RAMP = [0, "#d94801", 0.5, "#a63603", 1, "#4d1a02"];
// layers that draw hazards (queried by the tests and for clicks)
const HAZARD_LAYERS = ["hazards-risk", "hazards-unknown", "hazards-closed", "hazards-line", "hazards-dot"];
const CLICK_LAYERS = [...HAZARD_LAYERS, "eo-points", "unverified-points"];

const state = {
  lang: "en",
  strings: {},
  config: null,
  map: null,
  risk: {},
  drawing: false,
  picking: false,
  route: [],
  hits: [],
  lastPlace: null, // {el, data} to re-render on a language change
  lastRoute: null,
  popup: null, // the open popup and the element to give focus back to when it closes
  popupReturn: null,
  reportPicking: false,
};

// --- small helpers ------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function t(key, vars = {}) {
  let s = state.strings[key];
  if (s === undefined) s = key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? `{${k}}` : String(vars[k])));
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v; // CSSOM: allowed by the page's CSP, style="" is not
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmtNumber = (n, digits = 0, fixed = false) =>
  new Intl.NumberFormat(state.lang === "uk" ? "uk-UA" : "en-GB", {
    maximumFractionDigits: digits,
    minimumFractionDigits: fixed ? digits : 0,
  }).format(n);
const fmtPct = (p) =>
  new Intl.NumberFormat(state.lang === "uk" ? "uk-UA" : "en-GB", {
    style: "percent",
    maximumFractionDigits: p > 0 && p < 0.01 ? 1 : 0,
  }).format(p);

async function getJSON(url, options) {
  let r;
  try {
    r = await fetch(url, options);
  } catch (err) {
    const e = new Error(err.message);
    e.offline = true;
    throw e;
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(body.detail || `${r.status} ${r.statusText}`);
    e.status = r.status;
    throw e;
  }
  return body;
}

// An error in the page's language: the server's own words (English) only on the English page
function errorText(err) {
  if (!err) return t("error_unknown");
  if (err.offline || err.name === "TypeError") return t("error_offline");
  const s = err.status;
  const key = s === 429 ? "error_busy" : s === 404 ? "error_not_found" : s === 413 ? "error_too_big"
    : s >= 500 ? "error_server" : s >= 400 ? "error_refused" : "error_unknown";
  const text = t(key);
  return state.lang === "en" && err.message && s ? `${text} (${err.message})` : text;
}

// a geolocation failure (GeolocationPositionError codes 1-3), in the page's language
function geoErrorText(err) {
  const code = err && err.code;
  return t(code === 1 ? "geo_denied" : code === 3 ? "geo_timeout" : "geo_unavailable");
}

function setStatus(text) {
  $("status").textContent = text || "";
}

// --- language -----------------------------------------------------------------------------------

function initialLang() {
  let saved = null;
  try {
    saved = localStorage.getItem(LANG_KEY);
  } catch {
    saved = null;
  }
  if (LANGS.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("uk") ? "uk" : "en";
}

async function setLang(lang, remember) {
  state.strings = await getJSON(`static/i18n/${lang}.json`);
  state.lang = lang;
  if (remember) {
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  }
  document.documentElement.lang = lang;
  document.documentElement.dataset.lang = lang; // hides the safety text of the other language
  document.title = t("page_title");
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of e.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      e.setAttribute(attr, t(key));
    }
  }
  for (const b of document.querySelectorAll(".lang-btn")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }
  for (const sel of document.querySelectorAll("select[data-radii]")) fillRadii(sel);
  renderBanner();
  renderBasemapNote();
  renderInView();
  if (state.map) {
    state.map.getCanvas().setAttribute("aria-label", t("map_label"));
    labelControls();
  }
  if (state.lastPlace) renderAnswer($("place-result"), state.lastPlace, "place");
  if (state.lastRoute) renderAnswer($("route-result"), state.lastRoute, "route");
  updateRouteInfo();
}

function fillRadii(sel) {
  const current = sel.value || sel.dataset.default;
  sel.replaceChildren(
    ...sel.dataset.radii.split(",").map((r) => el("option", { value: r }, t("metres", { n: fmtNumber(Number(r)) }))),
  );
  sel.value = current;
}

function renderBanner() {
  const c = state.config;
  const banner = $("synthetic-banner");
  if (!c || !c.synthetic) {
    banner.hidden = true;
    return;
  }
  const [first, second] = state.lang === "uk" ? [c.notice_uk, c.notice] : [c.notice, c.notice_uk];
  $("banner-first").textContent = first || "";
  $("banner-second").textContent = second || "";
  $("banner-first").lang = state.lang;
  $("banner-second").lang = state.lang === "uk" ? "en" : "uk";
  banner.hidden = false;
}

// --- statistics panel: figures from /api/v1/stats, charts (SVG) from /api/v1/stats/chart/ -----

const STATS_CHARTS = ["released", "devices"];
const statsState = { open: false, data: null, error: null };

const statsKm2 = (m2) => t("stats_km2", { n: fmtNumber(m2 / 1e6, 3, true) });
// casualty counts under 5 arrive as the string "<5": shown as they are; a total made of a year
// with a small count arrives as "withheld" (docs/statistics.md)
const statsCount = (v) => (typeof v === "number" ? fmtNumber(v) : String(v));

function renderStats() {
  const box = $("stats-figures");
  if (statsState.error) {
    box.replaceChildren(el("dt", {}, t("stats_error", { reason: statsState.error })));
    return;
  }
  const d = statsState.data;
  if (!d) {
    box.replaceChildren(el("dt", {}, t("loading")));
    return;
  }
  const rows = [
    ["stats_released", statsKm2(d.released_m2)],
    ["stats_cancelled", statsKm2(d.cancelled_m2)],
    ["stats_reduced", statsKm2(d.reduced_m2)],
    ["stats_cleared", statsKm2(d.cleared_m2)],
    ["stats_open", statsCount(d.hazards.open)],
    ["stats_remaining", statsKm2(d.hazards.remaining_m2)],
    ["stats_devices", statsCount(d.devices.total)],
    ["stats_accidents", statsCount(d.accidents.total)],
    ["stats_casualties", d.casualties.total === "withheld" ? t("stats_withheld") : statsCount(d.casualties.total)],
    ["stats_eo_reports", statsCount(d.eo_reports.total)],
    ["stats_eore", statsCount(d.eore.beneficiaries)],
  ];
  box.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", { "data-stat": k }, v)]));
  for (const name of STATS_CHARTS) {
    const src = `api/v1/stats/chart/${name}.svg?lang=${state.lang}`;
    const img = $(`stats-chart-${name}`);
    if (img.getAttribute("src") !== src) img.setAttribute("src", src);
  }
}

async function loadStats() {
  statsState.error = null;
  renderStats();
  try {
    statsState.data = await getJSON("api/v1/stats");
  } catch (err) {
    statsState.error = errorText(err);
  }
  renderStats();
  document.body.dataset.statsReady = "true";
}

function initStats() {
  const toggle = $("stats-toggle");
  if (!toggle) return;
  toggle.addEventListener("click", () => {
    statsState.open = !statsState.open;
    toggle.setAttribute("aria-expanded", String(statsState.open));
    $("stats-body").hidden = !statsState.open;
    if (statsState.open && !statsState.data) loadStats();
  });
  // the figures and the charts' labels follow the page's language
  new MutationObserver(() => {
    if (statsState.open) renderStats();
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
}

// --- the map ------------------------------------------------------------------------------------

function absolute(path) {
  // not new URL(): it would escape the {z}/{x}/{y} of a tile template
  return /^https?:/.test(path) ? path : window.location.origin + path;
}

function graticule(bounds) {
  const [w, s, e, n] = bounds.map((v, i) => (i % 2 ? Math.max(-85, Math.min(85, v)) : v));
  const lines = [];
  for (let x = Math.floor(w) - 1; x <= Math.ceil(e) + 1; x += 1) {
    lines.push([[x, Math.floor(s) - 1], [x, Math.ceil(n) + 1]]);
  }
  for (let y = Math.floor(s) - 1; y <= Math.ceil(n) + 1; y += 1) {
    lines.push([[Math.floor(w) - 1, y], [Math.ceil(e) + 1, y]]);
  }
  return { type: "Feature", properties: {}, geometry: { type: "MultiLineString", coordinates: lines } };
}

// the reference layers drawn when there is no base map (tile collections of the store)
const REFERENCE = ["settlements", "roads"];

// The reference layers drawn when there is no base map: the store's settlements and roads, so
// people can find their place.
function referenceStyle(config) {
  const ids = new Set(config.collections.map((c) => c.id));
  const sources = {};
  const layers = [];
  if (config.tile_url) return { sources, layers };
  for (const c of config.collections) {
    if (!REFERENCE.includes(c.id)) continue;
    sources[`ref-${c.id}`] = { type: "vector", tiles: [absolute(c.tiles)], minzoom: 0, maxzoom: 16 };
  }
  if (ids.has("roads")) {
    layers.push({ id: "ref-roads", type: "line", source: "ref-roads", "source-layer": "roads",
      paint: { "line-color": "#8d8d8d", "line-width": ["interpolate", ["linear"], ["zoom"], 6, 0.6, 14, 3] } });
  }
  if (ids.has("settlements")) {
    layers.push(
      { id: "ref-settlements", type: "circle", source: "ref-settlements", "source-layer": "settlements",
        filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 2, 14, 6], "circle-color": "#ffffff",
          "circle-stroke-color": "#424242", "circle-stroke-width": 1.5 } },
      { id: "ref-settlements-area", type: "line", source: "ref-settlements", "source-layer": "settlements",
        filter: ["==", ["geometry-type"], "Polygon"], paint: { "line-color": "#616161", "line-width": 1 } },
    );
  }
  return { sources, layers };
}

function buildStyle(config) {
  const sources = {
    graticule: { type: "geojson", data: graticule(config.bounds) },
    check: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
    unverified: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
  };
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#eef2f3" } }];
  const ids = new Set(config.collections.map((c) => c.id));
  if (config.tile_url) {
    sources.basemap = {
      type: "raster",
      tiles: [config.tile_url],
      tileSize: 256,
      attribution: config.tile_attribution || "",
    };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  } else {
    layers.push({
      id: "graticule",
      type: "line",
      source: "graticule",
      paint: { "line-color": "#c9d2d6", "line-width": 0.6 },
    });
    // no base map: the store's settlements and roads, so people can find their place; added
    // once the hazards are drawn (addContext)
  }
  for (const c of config.collections) {
    if (c.id !== "hazards" && c.id !== "eo_reports") continue;
    sources[c.id] = { type: "vector", tiles: [absolute(c.tiles)], minzoom: 0, maxzoom: 16 };
  }
  const isPoly = ["==", ["geometry-type"], "Polygon"];
  const open = ["==", ["get", "status"], "open"];
  if (ids.has("hazards")) {
    const src = { source: "hazards", "source-layer": "hazards" };
    layers.push(
      // known risk: shaded by p_any_live (set once /api/v1/map/risk answers)
      { id: "hazards-risk", type: "fill", ...src, filter: ["all", isPoly, open, ["in", ["get", "id"], ["literal", []]]],
        paint: { "fill-color": RAMP[1], "fill-opacity": 0.85 } },
      // unknown risk: hatched, "unknown — not safe"
      { id: "hazards-unknown", type: "fill", ...src, filter: ["all", isPoly, open],
        paint: { "fill-pattern": "hatch", "fill-opacity": 1 } },
      // released (closed) hazards: green horizontal lines, not a flat tint: told from the risk
      // shading by the pattern as well as the hue (deuteranopia)
      { id: "hazards-closed", type: "fill", ...src, filter: ["all", isPoly, ["!", open]],
        paint: { "fill-pattern": "released" } },
      { id: "hazards-line", type: "line", ...src, filter: ["all", isPoly, ["!=", ["get", "hazard_type"], "SHA"]],
        paint: { "line-color": ["case", open, COLORS.CHA, COLORS.closed], "line-width": ["case", open, 2.5, 1.5] } },
      { id: "hazards-line-sha", type: "line", ...src, filter: ["all", isPoly, ["==", ["get", "hazard_type"], "SHA"]],
        paint: { "line-color": ["case", open, COLORS.SHA, COLORS.closed], "line-width": ["case", open, 2.5, 1.5],
          "line-dasharray": [2, 1.5] } },
      { id: "hazards-dot", type: "circle", ...src, filter: ["==", ["geometry-type"], "Point"],
        paint: {
          "circle-radius": 6,
          "circle-color": ["case", ["!", open], COLORS.closed, ["==", ["get", "hazard_type"], "SHA"], COLORS.SHA, COLORS.CHA],
          "circle-stroke-color": "#ffffff", "circle-stroke-width": 2,
        } },
      // the last check's hazards: a black line with a white core, seen on every shading
      { id: "hazards-hit", type: "line", ...src, filter: ["in", ["get", "id"], ["literal", []]],
        paint: { "line-color": "#000000", "line-width": 7 } },
      { id: "hazards-hit-core", type: "line", ...src, filter: ["in", ["get", "id"], ["literal", []]],
        paint: { "line-color": "#ffffff", "line-width": 2.5 } },
    );
    HAZARD_LAYERS.push("hazards-line-sha");
    CLICK_LAYERS.push("hazards-line-sha");
  }
  if (ids.has("eo_reports")) {
    layers.push({
      id: "eo-points", type: "circle", source: "eo_reports", "source-layer": "eo_reports",
      paint: { "circle-radius": 6, "circle-color": COLORS.eo, "circle-stroke-color": "#fff", "circle-stroke-width": 2 },
    });
  }
  // civilians' reports not checked yet (GET /api/v1/public/reports/unverified): a purple "?"
  layers.push({
    id: "unverified-points", type: "symbol", source: "unverified",
    layout: { "icon-image": "unverified", "icon-allow-overlap": true, "icon-ignore-placement": true },
  });
  layers.push(
    { id: "check-area", type: "fill", source: "check", filter: ["==", ["get", "role"], "radius"],
      paint: { "fill-color": "#0b57d0", "fill-opacity": 0.08 } },
    { id: "check-outline", type: "line", source: "check", filter: ["==", ["get", "role"], "radius"],
      paint: { "line-color": "#0b57d0", "line-width": 1.5, "line-dasharray": [3, 2] } },
    { id: "check-route", type: "line", source: "check", filter: ["==", ["get", "role"], "route"],
      paint: { "line-color": "#0b57d0", "line-width": 3 } },
    { id: "check-points", type: "circle", source: "check", filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 6, "circle-color": "#0b57d0", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } },
  );
  return { version: 8, sources, layers };
}

function canvasImage(size, draw) {
  const c = document.createElement("canvas");
  c.width = size;
  c.height = size;
  const g = c.getContext("2d");
  draw(g, size);
  return g.getImageData(0, 0, size, size);
}

// the map's own pictures: patterns and symbols, drawn here (no sprite sheet to fetch)
const IMAGES = {
  // unknown risk: red diagonal hatching
  hatch: () => canvasImage(12, (g, n) => {
    g.fillStyle = "rgba(255, 255, 255, 0.35)";
    g.fillRect(0, 0, n, n);
    g.strokeStyle = "#b3001b";
    g.lineWidth = 2;
    g.beginPath();
    for (let o = -n; o <= n; o += n / 2) {
      g.moveTo(o, n);
      g.lineTo(o + n, 0);
    }
    g.stroke();
  }),
  // released land: green horizontal lines
  released: () => canvasImage(10, (g, n) => {
    g.fillStyle = "rgba(255, 255, 255, 0.25)";
    g.fillRect(0, 0, n, n);
    g.fillStyle = "#1a7f44";
    g.fillRect(0, 0, n, 2);
    g.fillRect(0, n / 2, n, 2);
  }),
  // an unverified civilian report: a purple ring with a "?"
  unverified: () => canvasImage(26, (g, n) => {
    g.fillStyle = "#ffffff";
    g.beginPath();
    g.arc(n / 2, n / 2, n / 2 - 1, 0, 2 * Math.PI);
    g.fill();
    g.strokeStyle = COLORS.unverified;
    g.lineWidth = 3;
    g.beginPath();
    g.arc(n / 2, n / 2, n / 2 - 2.5, 0, 2 * Math.PI);
    g.stroke();
    g.fillStyle = COLORS.unverified;
    g.font = "bold 16px sans-serif";
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText("?", n / 2, n / 2 + 1);
  }),
  // an accident: a black triangle with a white edge (never a red dot like a hazard)
  accident: () => canvasImage(22, (g, n) => {
    g.beginPath();
    g.moveTo(n / 2, 1);
    g.lineTo(n - 1, n - 2);
    g.lineTo(1, n - 2);
    g.closePath();
    g.fillStyle = "#ffffff";
    g.fill();
    g.beginPath();
    g.moveTo(n / 2, 5);
    g.lineTo(n - 5, n - 4);
    g.lineTo(5, n - 4);
    g.closePath();
    g.fillStyle = "#1b1b1b";
    g.fill();
  }),
};

// the shade of a hazard: its p_any_live (analysts), else the middle of its band (everyone else
// sees the chance as a band only: see docs/risk-model.md)
function riskShade(r) {
  if (typeof r.p_any_live === "number") return r.p_any_live;
  if (typeof r.p_any_live_low === "number" && typeof r.p_any_live_high === "number") {
    return (r.p_any_live_low + r.p_any_live_high) / 2;
  }
  return null;
}

function applyRisk(risk) {
  const map = state.map;
  const known = [];
  const shade = ["match", ["get", "id"]];
  for (const [id, r] of Object.entries(risk.hazards || {})) {
    const p = riskShade(r);
    if (!r.known || p === null) continue;
    known.push(id);
    shade.push(id, p);
  }
  const open = ["==", ["get", "status"], "open"];
  const isPoly = ["==", ["geometry-type"], "Polygon"];
  const isKnown = ["in", ["get", "id"], ["literal", known]];
  map.setFilter("hazards-risk", ["all", isPoly, open, isKnown]);
  map.setFilter("hazards-unknown", ["all", isPoly, open, ["!", isKnown]]);
  if (known.length) {
    shade.push(0);
    map.setPaintProperty("hazards-risk", "fill-color", ["interpolate", ["linear"], shade, ...RAMP]);
  }
}

function showHits(ids) {
  state.hits = ids;
  for (const id of ["hazards-hit", "hazards-hit-core"]) {
    if (state.map && state.map.getLayer(id)) state.map.setFilter(id, ["in", ["get", "id"], ["literal", ids]]);
  }
}

function setCheckShapes(features) {
  const src = state.map && state.map.getSource("check");
  if (src) src.setData({ type: "FeatureCollection", features });
}

function circlePolygon(lon, lat, radius) {
  const R = 6371008.8;
  const ring = [];
  const d = radius / R;
  const la = (lat * Math.PI) / 180;
  const lo = (lon * Math.PI) / 180;
  for (let i = 0; i <= 64; i += 1) {
    const b = (2 * Math.PI * i) / 64;
    const la2 = Math.asin(Math.sin(la) * Math.cos(d) + Math.cos(la) * Math.sin(d) * Math.cos(b));
    const lo2 = lo + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(la), Math.cos(d) - Math.sin(la) * Math.sin(la2));
    ring.push([(lo2 * 180) / Math.PI, (la2 * 180) / Math.PI]);
  }
  return { type: "Feature", properties: { role: "radius" }, geometry: { type: "Polygon", coordinates: [ring] } };
}

// --- popups -------------------------------------------------------------------------------------

function hazardTitle(p) {
  return p.name || p.reference || t("unnamed_hazard");
}

function detailsList(rows) {
  return el("dl", {}, rows.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
}

// a code in the page's language: a known key, else the code itself (data, not a word of ours)
function code(prefix, v) {
  if (v === undefined || v === null || v === "") return null;
  const key = `${prefix}${v}`;
  return state.strings[key] !== undefined ? t(key) : String(v);
}

// device categories: a list or "ap_blast,at" -> "anti-personnel mine (blast), anti-vehicle mine"
function devicesText(v) {
  const items = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [];
  const names = items.map((x) => String(x).trim()).filter(Boolean).map((x) => code("layer_cat_", x));
  return names.length ? names.join(", ") : null;
}

function hazardBody(p) {
  return [
    el("h3", {}, hazardTitle(p)),
    detailsList([
      ["field_type", code("type_", p.hazard_type)],
      ["field_status", code("status_", p.status)],
      ["field_reference", p.reference],
      ["field_devices", devicesText(p.device_categories)],
      ["field_area", typeof p.area_m2 === "number" ? t("hectares", { n: fmtNumber(p.area_m2 / 10000, 1) }) : null],
      ["field_admin_area", p.admin_area],
      ["field_organisation", p.organisation],
      ["field_reported_on", recordDate(p.reported_on)],
      ["field_closed_on", recordDate(p.closed_on)],
      ["field_evidence", p.evidence],
    ]),
  ];
}

function riskBody(d) {
  const r = d.risk;
  const box = el("div", { class: "risk" }, el("strong", {}, t("risk_heading", { date: r.date })));
  const status = d.properties.status;
  if (status && status !== "open") {
    box.append(el("p", {}, t("risk_released")));
  } else if (!r.known || !r.estimate) {
    box.append(el("p", { class: "unknown" }, t("risk_unknown")));
  } else {
    const e = r.estimate;
    if (typeof e.p_any_live === "number") {
      box.append(el("p", {}, t("risk_p", { p: fmtPct(e.p_any_live), lo: fmtPct(e.p_any_live_p05), hi: fmtPct(e.p_any_live_p95) })));
    } else {
      box.append(el("p", {}, t("risk_band", { lo: fmtPct(e.p_any_live_low), hi: fmtPct(e.p_any_live_high) })));
    }
    if (typeof e.expected_live === "number") {
      box.append(el("p", {}, t("risk_expected", {
        n: fmtNumber(e.expected_live, 1), lo: fmtNumber(e.expected_live_p05, 1), hi: fmtNumber(e.expected_live_p95, 1),
      })));
    }
    if (typeof e.live_count_p05 === "number") {
      box.append(el("p", { class: "risk-count" }, t("risk_count", {
        lo: fmtNumber(e.live_count_p05, 0), hi: fmtNumber(e.live_count_p95, 0),
      })));
    }
  }
  box.append(el("p", { class: "help" }, t("risk_caveat")));
  const lines = [...(r.notes || []), ...(r.assumptions || [])];
  if (lines.length && state.lang === "en") {
    box.append(el("details", {}, el("summary", {}, t("assumptions")), el("ul", { lang: "en" }, lines.map((a) => el("li", {}, a)))));
  } else if (lines.length) {
    box.append(el("p", { class: "help" }, t("assumptions_elsewhere")));
  }
  return box;
}

// the land-release account of a hazard (GET /api/v1/hazards/{id}/release), filled in when it
// comes; if it does not, the block goes away and the rest of the popup stays as it is
const RELEASE_TYPES = ["cancelled", "reduced", "cleared"];

function releaseArea(m2) {
  if (typeof m2 !== "number") return null;
  if (Math.abs(m2) < 10000) return t("release_m2", { n: fmtNumber(Math.round(m2)) });
  return t("hectares", { n: fmtNumber(m2 / 10000, 2) });
}

function releaseActivity(a) {
  const what = a.activity_type ? t(`layer_activity_${a.activity_type}`) : t("layer_activity");
  let s = t("release_ongoing", { activity: what });
  if (a.organisation) s += ` — ${a.organisation}`;
  if (a.started_on) s += t("release_since", { date: recordDate(a.started_on) });
  return s;
}

function renderRelease(box, a) {
  const area = typeof a.area_m2 === "number" ? a.area_m2 : 0;
  const released = typeof a.released_m2 === "number" ? a.released_m2 : 0;
  const share = area > 0 ? Math.min(1, Math.max(0, released / area)) : 0;
  const by = a.by_type || {};
  const label = t("release_share", { p: fmtPct(share) });
  const rows = [
    ["release_area", releaseArea(a.area_m2), "area"],
    ...RELEASE_TYPES.map((k) => [`release_${k}`, releaseArea(by[k] || 0), k]),
    ["release_remaining", releaseArea(a.remaining_m2), "remaining"],
  ].filter(([, v]) => v !== null);
  const children = [
    el("strong", {}, t("release_heading")), " ", el("span", { class: "release-share" }, label),
    el("div", {
      class: "release-bar", role: "progressbar", "aria-label": label,
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(share * 100)),
    }, el("span", { style: `width: ${(share * 100).toFixed(1)}%` })),
    el("dl", {}, rows.map(([k, v, c]) => [
      el("dt", { "data-release": c }, t(k), RELEASE_TYPES.includes(c) ? el("span", { class: "release-how" }, t(`${k}_how`)) : null),
      el("dd", { "data-release": c }, v),
    ])),
  ];
  if (a.status === "closed") {
    children.push(el("p", { class: "release-state" }, a.closed_on ? t("release_closed_on", { date: recordDate(a.closed_on) }) : t("release_closed")));
  } else if (a.status === "handed_over") {
    children.push(el("p", { class: "release-state" }, a.handed_over_on ? t("release_handed_over_on", { date: recordDate(a.handed_over_on) }) : t("release_handed_over")));
  } else {
    const ongoing = (a.activities || []).filter((x) => x.status === "ongoing").reverse();
    for (const x of ongoing) children.push(el("p", { class: "release-activity" }, releaseActivity(x)));
  }
  box.replaceChildren(...children);
}

function releaseBlock(hazardId) {
  const box = el("div", { class: "release", "aria-live": "polite" });
  if (!hazardId) return box;
  getJSON(`api/v1/hazards/${encodeURIComponent(hazardId)}/release`)
    .then((a) => renderRelease(box, a))
    .catch(() => box.remove()) // no account (an old server, the network): the popup stays without it
    .finally(() => { box.dataset.state = "done"; });
  return box;
}

// the popup's first line: where the chosen place is against this hazard (issue 15)
function hazardLead(p, how) {
  const open = !p.status || p.status === "open";
  const key = !open ? "lead_released" : how === "inside" ? "lead_inside" : how === "near" ? "lead_near" : "lead_hazard";
  return el("p", { class: open ? "lead lead-danger" : "lead" }, t(key));
}

const INSIDE_LAYERS = ["hazards-risk", "hazards-unknown", "hazards-closed"];

function closePopup() {
  if (state.popup) state.popup.remove();
}

async function openPopup(feature, lngLat, how = null) {
  closePopup();
  const p = feature.properties || {};
  const body = el("div", { class: "popup", role: "dialog", "aria-label": t("popup_label") });
  const back = document.activeElement && document.activeElement !== document.body ? document.activeElement : null;
  // the popup stands above the place, inside the map: the place is moved near the map's
  // bottom and the popup may be as tall as the map above it (on a phone the map is short)
  const h = state.map.getContainer().clientHeight;
  state.map.easeTo({ center: lngLat, offset: [0, Math.max(0, h / 2 - 50)], duration: 0 });
  const popup = new maplibregl.Popup({ maxWidth: "340px", closeButton: true, focusAfterOpen: true, anchor: "bottom" })
    .setLngLat(lngLat)
    .setDOMContent(body)
    .addTo(state.map);
  const content = popup.getElement().querySelector(".maplibregl-popup-content");
  if (content) content.style.maxHeight = `${Math.max(160, h - 80)}px`;
  state.popup = popup;
  state.popupReturn = back;
  const close = popup.getElement().querySelector(".maplibregl-popup-close-button");
  if (close) {
    close.setAttribute("aria-label", t("popup_close"));
    close.setAttribute("title", t("popup_close"));
  }
  popup.on("close", () => {
    const inside = popup.getElement() && popup.getElement().contains(document.activeElement);
    if (state.popup === popup) state.popup = null;
    let to = state.popupReturn;
    state.popupReturn = null;
    // the "in view" list is drawn again when the map moves: the same hazard's new button
    if (to && !to.isConnected && to.dataset && to.dataset.hazardId) {
      to = document.querySelector(`#inview-list button[data-hazard-id="${CSS.escape(to.dataset.hazardId)}"]`);
    }
    if (to && to.isConnected && (inside || document.activeElement === document.body)) to.focus();
  });
  window.demine.popupOpen = true;
  popup.on("close", () => { window.demine.popupOpen = Boolean(state.popup); });
  const layer = feature.layer.id;
  if (RECORD_POINT_LAYERS.includes(layer) || RECORD_AREA_LAYERS.includes(layer)) {
    body.append(...recordPopup(layer, p));
    return popup;
  }
  if (layer === "unverified-points") {
    body.append(
      el("p", { class: "lead lead-danger" }, t("unverified_lead")),
      el("h3", {}, t("legend_unverified")),
      detailsList([
        ["report_object", code("obj_", p.object_type)],
        ["field_reported_on", recordDate(p.reported_on)],
      ]),
    );
    return popup;
  }
  if (layer === "eo-points") {
    body.append(
      el("p", { class: "lead lead-danger" }, t("eo_lead")),
      el("h3", {}, t("eo_report")),
      detailsList([
        ["field_reported_on", recordDate(p.reported_at)],
        ["field_description", p.description],
        ["field_devices", code("layer_cat_", p.device_category)],
      ]),
    );
    return popup;
  }
  const where = how || (INSIDE_LAYERS.includes(layer) ? "inside" : layer === "hazards-dot" ? "near" : "hazard");
  body.append(hazardLead(p, where), ...hazardBody(p), el("p", { class: "help" }, t("loading")));
  try {
    const d = await getJSON(`api/v1/map/hazards/${encodeURIComponent(p.id)}`);
    body.replaceChildren(hazardLead(d.properties, where), riskBody(d), ...hazardBody(d.properties), releaseBlock(p.id));
  } catch (err) {
    body.lastChild.textContent = errorText(err);
  }
  body.dataset.loaded = "true";
  return popup;
}

// --- checks -------------------------------------------------------------------------------------

function levelText(level) {
  return t(`level_${level}`);
}

function renderAnswer(box, data, what) {
  const uk = state.lang === "uk";
  box.className = `result level-${data.warning_level}`;
  // the API's messages speak of a place; a route gets its own words for the same levels
  // (the page's own words: they name whom to call and use the standard's terms)
  const lvl = data.warning_level;
  const msg = lvl === "none" ? (uk ? data.message_uk : data.message)
    : t(`${what === "route" ? "route" : "place"}_level_${lvl}`);
  const children = [];
  if (data.place_at) {
    children.push(el("p", { class: "help" }, t("checked_at", { place: data.place_name || fmtCoord(data.place_at.lat, data.place_at.lon) })));
  }
  if (!data.hazards.length) {
    // the page's own words for "none": they name the radius and say it is no proof of safety
    children.push(
      el("p", { class: "none" }, t(what === "place" ? "place_none" : "route_none", { radius: fmtNumber(data.radius_m) })),
      el("p", {}, t("not_proof")),
    );
  } else {
    children.push(el("p", { class: "msg" }, msg));
    children.push(el("p", { class: "answer-safety" }, t("answer_safety")));
    children.push(el("p", {}, t("found", { radius: fmtNumber(data.radius_m), n: data.hazards.length })));
    children.push(
      el("ul", {}, data.hazards.map((h) =>
        el("li", { "data-hazard-id": h.id },
          el("strong", {}, hazardTitle(h)), " — ",
          h.inside ? t("inside") : t("distance", { d: fmtNumber(h.distance_m) }),
          h.hazard_type ? ` · ${code("abbr_", h.hazard_type)}` : "",
          " ",
          el("button", { type: "button", class: "linkish", onclick: () => zoomToHazard(h.id) }, t("show_on_map")),
        ))),
    );
  }
  children.push(el("p", { class: "notice" }, t("answer_notice")));
  box.replaceChildren(...children);
  if (box.getBoundingClientRect && box.scrollIntoView) box.scrollIntoView({ block: "nearest" });
}

async function zoomToHazard(id) {
  try {
    const d = await getJSON(`api/v1/map/hazards/${encodeURIComponent(id)}`);
    if (d.bbox && state.map) state.map.fitBounds([[d.bbox[0], d.bbox[1]], [d.bbox[2], d.bbox[3]]], { padding: 60, maxZoom: 16 });
  } catch (err) {
    setStatus(errorText(err));
  }
}

function fmtCoord(lat, lon) {
  return `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
}

function placeError(box, text) {
  state.lastPlace = null;
  box.className = "result level-none";
  box.replaceChildren(el("p", { class: "error" }, text));
}

// the place field: coordinates (coords.js), else a place name (GET /api/v1/public/places)
async function submitPlace() {
  const q = $("place-q").value;
  const box = $("place-result");
  $("place-options").hidden = true;
  const got = parseCoordinates(q);
  if (got.error && looksLikeName(q)) {
    await searchPlaces(q.trim());
    return;
  }
  if (got.error) {
    placeError(box, t(got.error, got.vars));
    return;
  }
  await checkPlace(got.lat, got.lon, true);
}

async function searchPlaces(q) {
  const box = $("place-result");
  const list = $("place-options");
  box.className = "result";
  box.replaceChildren(el("p", {}, t("searching")));
  let places;
  try {
    places = (await getJSON(`api/v1/public/places?q=${encodeURIComponent(q)}&limit=8`)).places || [];
  } catch (err) {
    placeError(box, err.status === 404 ? t("places_unavailable") : errorText(err));
    return;
  }
  if (!places.length) {
    placeError(box, t("places_none", { q }));
    return;
  }
  if (places.length === 1) {
    choosePlace(places[0]);
    return;
  }
  box.className = "result";
  box.replaceChildren(el("p", {}, t("places_found", { n: places.length })));
  list.replaceChildren(...places.map((pl) => el("li", {}, el("button", {
    type: "button", class: "option",
    onclick: () => { list.hidden = true; choosePlace(pl); },
  }, pl.name, " ", el("span", { class: "help" }, code("place_kind_", pl.kind))))));
  list.hidden = false;
  list.querySelector("button").focus();
}

function choosePlace(pl) {
  $("place-q").value = pl.name;
  const b = Array.isArray(pl.bbox) && pl.bbox.length === 4 ? pl.bbox : null;
  if (pl.kind === "region" || (b && (b[2] - b[0] > 0.2 || b[3] - b[1] > 0.2))) {
    // a region is no place to check with a radius: show it, and ask for the place itself
    if (state.map && b) state.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20 });
    const box = $("place-result");
    state.lastPlace = null;
    box.className = "result";
    box.replaceChildren(el("p", {}, t("place_region_shown", { name: pl.name })));
    return;
  }
  if (state.map && Array.isArray(pl.bbox) && pl.bbox.length === 4 && pl.bbox[0] !== pl.bbox[2]) {
    state.map.fitBounds([[pl.bbox[0], pl.bbox[1]], [pl.bbox[2], pl.bbox[3]]], { padding: 40, maxZoom: 14 });
  }
  checkPlace(pl.lat, pl.lon, !(Array.isArray(pl.bbox) && pl.bbox[0] !== pl.bbox[2]), pl.name);
}

async function checkPlace(lat, lon, fly = false, name = null) {
  const radius = Number($("place-radius").value);
  const box = $("place-result");
  state.placeAt = { lat, lon };
  box.className = "result";
  box.replaceChildren(el("p", {}, t("checking")));
  if (fly && state.map) state.map.easeTo({ center: [lon, lat], zoom: Math.max(state.map.getZoom(), 13) });
  setCheckShapes([
    circlePolygon(lon, lat, radius),
    { type: "Feature", properties: { role: "place" }, geometry: { type: "Point", coordinates: [lon, lat] } },
  ]);
  try {
    const data = await packCheck(() => getJSON(`api/v1/safety/point?lat=${lat}&lon=${lon}&radius=${radius}`), lat, lon, radius);
    data.place_name = name;
    data.place_at = { lat, lon };
    state.lastPlace = data;
    renderAnswer(box, data, "place");
    showHits(data.hazards.map((h) => h.id));
  } catch (err) {
    placeError(box, errorText(err));
  }
}

function setPlace(lngLat) {
  $("place-q").value = fmtCoord(lngLat.lat, lngLat.lng);
  checkPlace(Number(lngLat.lat.toFixed(6)), Number(lngLat.lng.toFixed(6)));
}

// --- routes -------------------------------------------------------------------------------------

function updateRouteInfo() {
  const n = state.route.length;
  const info = $("route-info");
  if (info) info.textContent = state.drawing ? `${t("drawing")} ${t("route_points", { n })}` : n ? t("route_points", { n }) : "";
  $("route-draw").setAttribute("aria-pressed", String(state.drawing));
  $("route-undo").disabled = !(state.drawing && n > 0);
  $("route-finish").disabled = n < 2;
  const features = [];
  if (n >= 2) features.push({ type: "Feature", properties: { role: "route" }, geometry: { type: "LineString", coordinates: state.route } });
  if (state.drawing) {
    for (const c of state.route) features.push({ type: "Feature", properties: { role: "vertex" }, geometry: { type: "Point", coordinates: c } });
  }
  if (state.map && (n || state.drawing)) setCheckShapes(features);
}

function setDrawing(on) {
  state.drawing = on;
  if (on) {
    state.picking = false;
    $("pick").setAttribute("aria-pressed", "false");
  }
  if (state.map) {
    state.map.getCanvas().style.cursor = on ? "crosshair" : "";
    if (on) state.map.doubleClickZoom.disable();
    else state.map.doubleClickZoom.enable();
  }
  updateRouteInfo();
}

async function checkRoute() {
  const box = $("route-result");
  if (state.route.length < 2) {
    box.className = "result level-none";
    box.replaceChildren(el("p", { role: "alert" }, t("need_two_points")));
    return;
  }
  setDrawing(false);
  box.className = "result";
  box.replaceChildren(el("p", {}, t("checking")));
  try {
    const data = await getJSON("api/v1/safety/route", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ route: { type: "LineString", coordinates: state.route }, radius: Number($("route-radius").value) }),
    });
    state.lastRoute = data;
    renderAnswer(box, data, "route");
    showHits(data.hazards.map((h) => h.id));
  } catch (err) {
    state.lastRoute = null;
    box.replaceChildren(el("p", { role: "alert" }, errorText(err)));
  }
}

function clearRoute() {
  state.route = [];
  state.lastRoute = null;
  $("route-result").replaceChildren();
  $("route-file").value = "";
  setDrawing(false);
  setCheckShapes([]);
  showHits([]);
}

const validPos = (c) => Array.isArray(c) && c.length >= 2 && Math.abs(c[0]) <= 180 && Math.abs(c[1]) <= 90 && c.every(Number.isFinite);

function parseGpx(text) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) throw new Error("not valid XML");
  let pts = [...doc.getElementsByTagNameNS("*", "trkpt")];
  if (!pts.length) pts = [...doc.getElementsByTagNameNS("*", "rtept")];
  return pts.map((p) => [Number(p.getAttribute("lon")), Number(p.getAttribute("lat"))]);
}

function linesOf(g) {
  if (!g || typeof g !== "object") return [];
  switch (g.type) {
    case "FeatureCollection": return (g.features || []).flatMap(linesOf);
    case "Feature": return linesOf(g.geometry);
    case "GeometryCollection": return (g.geometries || []).flatMap(linesOf);
    case "LineString": return [g.coordinates || []];
    case "MultiLineString": return g.coordinates || [];
    default: return [];
  }
}

function parseGeoJSON(text) {
  // several lines are joined end to end: the joining segments can only add hazards (conservative)
  return linesOf(JSON.parse(text)).flat().map((c) => [Number(c[0]), Number(c[1])]);
}

async function loadRouteFile(file) {
  const box = $("route-result");
  try {
    const text = await file.text();
    const isGpx = /\.gpx$/i.test(file.name) || text.trimStart().startsWith("<");
    const coords = (isGpx ? parseGpx(text) : parseGeoJSON(text)).filter(validPos);
    if (coords.length < 2) throw Object.assign(new Error(t("file_no_line")), { ours: true });
    setDrawing(false);
    state.route = coords;
    updateRouteInfo();
    $("route-info").textContent = t("file_loaded", { name: file.name, n: coords.length });
    const lons = coords.map((c) => c[0]);
    const lats = coords.map((c) => c[1]);
    state.map?.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]], { padding: 60, maxZoom: 15 });
    await checkRoute();
  } catch (err) {
    state.lastRoute = null;
    box.className = "result level-none";
    const reason = err.ours || state.lang === "en" ? err.message : t("file_unreadable");
    box.replaceChildren(el("p", { role: "alert" }, t("file_error", { reason })));
  }
}

// --- record layers: land released, ongoing activities, accidents, EORE sessions -----------------
// Drawn from the public tiles when the caller may read the collection, each group toggled from
// the "Layers" card. Accidents show place, date, type and device category only: casualty
// figures are never shown per accident (victims' data is restricted; see docs/privacy.md).

const RECORD_COLORS = {
  cancelled: "#a6d96a", reduced: "#66bd63", cleared: "#1a9850",
  activity: "#e66101", civilian: "#d7301f", demining: "#fdae61", eore: "#01665e",
};
const RECORD_GROUPS = [
  { id: "releases", collection: "releases", label: "layer_releases", layers: ["releases-fill", "releases-line"] },
  { id: "activities", collection: "activities", label: "layer_activities", layers: ["activities-line"] },
  { id: "accidents", collection: "accidents", label: "layer_accidents", layers: ["accidents-points"] },
  { id: "eore", collection: "eore_sessions", label: "layer_eore", layers: ["eore-points"] },
];
// popups: points first, then hazards, then released land and worksites under them
const RECORD_POINT_LAYERS = ["accidents-points", "eore-points"];
const RECORD_AREA_LAYERS = ["releases-fill", "activities-line"];

function recordLayerSpecs(group) {
  const src = (c) => ({ source: `rec-${c}`, "source-layer": c });
  switch (group.id) {
    case "releases":
      return [
        // released land: green lines (a pattern, not only a hue: told from hazards under
        // deuteranopia) and a dashed outline; the three release types by the outline's width
        { id: "releases-fill", type: "fill", ...src("releases"), filter: ["==", ["geometry-type"], "Polygon"],
          paint: { "fill-pattern": "released" } },
        { id: "releases-line", type: "line", ...src("releases"),
          paint: { "line-color": COLORS.closed, "line-dasharray": [3, 2],
            "line-width": ["match", ["get", "release_type"], "cancelled", 1.5, "reduced", 2.5, 3.5] } },
      ];
    case "activities":
      return [
        { id: "activities-line", type: "line", ...src("activities"), filter: ["==", ["get", "status"], "ongoing"],
          paint: { "line-color": RECORD_COLORS.activity, "line-width": 2.5, "line-dasharray": [1, 1] } },
      ];
    case "accidents":
      return [
        // a black triangle: never a red dot that could be read as a hazard
        { id: "accidents-points", type: "symbol", ...src("accidents"),
          layout: { "icon-image": "accident", "icon-allow-overlap": true } },
      ];
    default:
      return [
        { id: "eore-points", type: "circle", ...src("eore_sessions"),
          paint: { "circle-radius": 5, "circle-color": RECORD_COLORS.eore, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } },
      ];
  }
}

function addRecordLayers(map, config) {
  const byId = new Map(config.collections.map((c) => [c.id, c]));
  const shown = {};
  for (const group of RECORD_GROUPS) {
    const c = byId.get(group.collection);
    if (!c) continue;
    if (!map.getSource(`rec-${c.id}`)) {
      map.addSource(`rec-${c.id}`, { type: "vector", tiles: [absolute(c.tiles)], minzoom: 0, maxzoom: 16 });
    }
    // land and worksites under the hazards' outlines; points under the check overlay
    const polygonal = group.id === "releases" || group.id === "activities";
    const before = [polygonal ? "hazards-line" : "check-area", "check-area"].find((id) => map.getLayer(id));
    for (const spec of recordLayerSpecs(group)) {
      map.addLayer({ ...spec, layout: { ...(spec.layout || {}), visibility: group.on ? "visible" : "none" } }, before);
      if (spec.id !== "releases-line") {
        CLICK_LAYERS.push(spec.id);
        map.on("mouseenter", spec.id, () => { if (!state.drawing && !state.picking) map.getCanvas().style.cursor = "pointer"; });
        map.on("mouseleave", spec.id, () => { if (!state.drawing && !state.picking) map.getCanvas().style.cursor = ""; });
      }
    }
    shown[group.id] = group.layers;
  }
  window.demine.recordLayers = shown;
  renderRecordLegend(map, shown);
}

function renderRecordLegend(map, shown) {
  const card = $("layers-card");
  const list = $("layers-list");
  if (!card || !list) return;
  const items = [];
  for (const group of RECORD_GROUPS) {
    if (!shown[group.id]) continue;
    // for the public only hazards and reports are on at first (issue 15); the rest on a tick
    const box = el("input", { type: "checkbox", id: `layer-toggle-${group.id}`, checked: Boolean(group.on), "data-layer-group": group.id });
    box.addEventListener("change", () => {
      for (const id of group.layers) map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none");
    });
    const label = el("label", { for: box.id }, el("span", { class: `sw sw-layer-${group.id}`, "aria-hidden": "true" }),
      el("span", { "data-i18n": group.label }, t(group.label)));
    const li = el("li", {}, box, label);
    if (group.id === "releases") {
      li.append(el("ul", { class: "sub" }, ["cancelled", "reduced", "cleared"].map((k) =>
        el("li", {}, el("span", { class: `sw sw-release-${k}`, "aria-hidden": "true" }),
          el("span", { "data-i18n": `layer_release_${k}` }, t(`layer_release_${k}`))))));
    }
    items.push(li);
  }
  list.replaceChildren(...items);
  card.hidden = items.length === 0;
}

function pickFeature(feats) {
  // a point (accident, EORE session, EO report) over a hazard, a hazard over released land
  const rank = (f) => (RECORD_POINT_LAYERS.includes(f.layer.id) || f.layer.id === "eo-points" ? 0
    : RECORD_AREA_LAYERS.includes(f.layer.id) ? 2 : 1);
  return [...feats].sort((a, b) => rank(a) - rank(b))[0];
}

// a record's date as stored: a day (a date-time shows its day), or a legacy partial date kept
// as such: "2019", "2019-05" (May 2019), "unknown" (docs/data-model.md, partial dates)
function recordDate(v) {
  if (typeof v !== "string") return v;
  if (v === "unknown") return t("date_unknown");
  if (v.length === 7) {
    const m = Number(v.slice(5, 7));
    return t("date_month", { month: t(`month_${m}`), year: v.slice(0, 4) });
  }
  return v.slice(0, 10);
}

function recordPopup(layerId, p) {
  if (layerId === "accidents-points") {
    return [
      el("h3", {}, t("layer_accident")),
      detailsList([
        ["layer_field_date", recordDate(p.occurred_at)],
        ["layer_field_accident_type", p.accident_type ? t(`layer_accident_${p.accident_type}`) : null],
        ["field_devices", code("layer_cat_", p.device_category)],
        ["layer_field_place", p.admin_area],
      ]),
      el("p", { class: "help" }, t("layer_accident_note")),
    ];
  }
  if (layerId === "eore-points") {
    const people = ["girls", "boys", "women", "men"].filter((k) => typeof p[k] === "number");
    const total = people.reduce((n, k) => n + p[k], 0);
    return [
      el("h3", {}, t("layer_eore_session")),
      detailsList([
        ["layer_field_date", recordDate(p.held_on)],
        ["layer_field_place", [p.place, p.admin_area].filter(Boolean).join(", ")],
        ["field_organisation", p.organisation],
        ["layer_field_delivery", p.delivery ? t(`layer_delivery_${p.delivery}`) : null],
        ["layer_field_beneficiaries", people.length ? t("layer_beneficiaries", {
          n: fmtNumber(total), girls: p.girls ?? "–", boys: p.boys ?? "–", women: p.women ?? "–", men: p.men ?? "–",
        }) : null],
      ]),
    ];
  }
  if (layerId === "releases-fill") {
    return [
      el("h3", {}, p.release_type ? t(`layer_release_${p.release_type}`) : t("layer_releases")),
      detailsList([
        ["layer_field_date", p.released_on],
        ["field_organisation", p.organisation],
        ["field_reference", p.reference],
        ["field_area", typeof p.area_m2 === "number" ? t("hectares", { n: fmtNumber(p.area_m2 / 10000, 1) }) : null],
      ]),
    ];
  }
  return [
    el("h3", {}, t("layer_activity")),
    detailsList([
      ["field_type", p.activity_type ? t(`layer_activity_${p.activity_type}`) : null],
      ["field_organisation", p.organisation],
      ["layer_field_started", p.started_on],
    ]),
  ];
}

// --- wiring -------------------------------------------------------------------------------------

function onMapClick(e) {
  const map = state.map;
  if (state.drawing) {
    state.route.push([Number(e.lngLat.lng.toFixed(6)), Number(e.lngLat.lat.toFixed(6))]);
    updateRouteInfo();
    return;
  }
  if (state.reportPicking) {
    setReportPicking(false);
    reportPickAt(e.lngLat.lat, e.lngLat.lng);
    return;
  }
  if (state.picking) {
    state.picking = false;
    $("pick").setAttribute("aria-pressed", "false");
    map.getCanvas().style.cursor = "";
    setStatus("");
    setPlace(e.lngLat);
    return;
  }
  const layers = CLICK_LAYERS.filter((id) => map.getLayer(id));
  const feats = map.queryRenderedFeatures(e.point, { layers });
  if (feats.length) openPopup(pickFeature(feats), e.lngLat);
  else setPlace(e.lngLat);
}

function wireUi() {
  for (const b of document.querySelectorAll(".lang-btn")) {
    b.addEventListener("click", () => setLang(b.dataset.lang, true));
  }
  $("place-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submitPlace();
  });
  $("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    $("place-q").focus();
  });
  $("pick").addEventListener("click", () => {
    state.picking = !state.picking;
    if (state.picking) setDrawing(false);
    $("pick").setAttribute("aria-pressed", String(state.picking));
    if (state.map) state.map.getCanvas().style.cursor = state.picking ? "crosshair" : "";
    setStatus(state.picking ? t("pick_armed") : "");
  });
  $("locate").addEventListener("click", () => {
    if (!navigator.geolocation) {
      setStatus(t("geo_unavailable"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setPlace({ lat: pos.coords.latitude, lng: pos.coords.longitude });
        state.map?.flyTo({ center: [pos.coords.longitude, pos.coords.latitude], zoom: 14 });
      },
      (err) => setStatus(geoErrorText(err)),
      { enableHighAccuracy: true, timeout: 15000 },
    );
  });
  $("route-draw").addEventListener("click", () => {
    if (!state.drawing) {
      state.route = [];
      state.lastRoute = null;
      $("route-result").replaceChildren();
    }
    setDrawing(!state.drawing);
  });
  $("route-undo").addEventListener("click", () => {
    state.route.pop();
    updateRouteInfo();
  });
  $("route-finish").addEventListener("click", checkRoute);
  $("route-clear").addEventListener("click", clearRoute);
  $("route-file").addEventListener("change", (e) => {
    const f = e.target.files && e.target.files[0];
    if (f) loadRouteFile(f);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (state.popup) {
      closePopup(); // focus goes back where it was (the popup's "close" handler)
      return;
    }
    if (state.drawing || state.picking || state.reportPicking) {
      state.picking = false;
      $("pick").setAttribute("aria-pressed", "false");
      setReportPicking(false);
      setStatus("");
      setDrawing(false);
    }
  });
}

function setReportPicking(on) {
  state.reportPicking = on;
  if (on) {
    state.picking = false;
    $("pick").setAttribute("aria-pressed", "false");
    setDrawing(false);
  }
  $("report-pick").setAttribute("aria-pressed", String(on));
  if (state.map) state.map.getCanvas().style.cursor = on ? "crosshair" : "";
  setStatus(on ? t("report_pick_armed") : "");
}

// --- what the map draws under the hazards, said in the legend -----------------------------------

function renderBasemapNote() {
  const c = state.config;
  const note = $("basemap-note");
  if (!c || !note) return;
  if (c.tile_url) {
    note.textContent = t("basemap_yes", { credit: c.tile_attribution || "" });
    return;
  }
  const ids = new Set(c.collections.map((x) => x.id));
  const have = REFERENCE.filter((id) => ids.has(id)).map((id) => t(`ref_${id}`));
  if (c.regions) have.push(t("ref_regions"));
  note.textContent = have.length ? t("basemap_none", { layers: have.join(", ") }) : t("basemap_nothing");
}

// --- MapLibre's own controls in the page's language ---------------------------------------------

function mapLocale() {
  return {
    "NavigationControl.ZoomIn": t("ctl_zoom_in"),
    "NavigationControl.ZoomOut": t("ctl_zoom_out"),
    "NavigationControl.ResetBearing": t("ctl_reset_bearing"),
    "AttributionControl.ToggleAttribution": t("ctl_attribution"),
    "AttributionControl.MapFeedback": t("ctl_feedback"),
    "ScaleControl.Meters": t("ctl_m"),
    "ScaleControl.Kilometers": t("ctl_km"),
    "Popup.Close": t("popup_close"),
    "Map.Title": t("map_title"),
  };
}

function labelControls() {
  const root = state.map && state.map.getContainer();
  if (!root) return;
  const names = {
    ".maplibregl-ctrl-zoom-in": "ctl_zoom_in",
    ".maplibregl-ctrl-zoom-out": "ctl_zoom_out",
    ".maplibregl-ctrl-attrib-button": "ctl_attribution",
    ".maplibregl-popup-close-button": "popup_close",
  };
  for (const [sel, key] of Object.entries(names)) {
    for (const b of root.querySelectorAll(sel)) {
      b.setAttribute("title", t(key));
      b.setAttribute("aria-label", t(key));
    }
  }
  // the scale's unit: MapLibre writes it on each move, with its locale; keep ours in step
  if (state.map._locale) Object.assign(state.map._locale, mapLocale());
}

// --- civilians' reports not checked yet: GET /api/v1/public/reports/unverified ------------------
// The route takes boxes of at most 2 degrees a side: the view is cut into 2-degree cells
// (at most 12, nearest the centre first), each asked once a minute at most.

const CELL = 2;
const MAX_CELLS = 12;
const unverifiedCells = new Map(); // "x,y" -> {at, features}

async function loadUnverified() {
  const map = state.map;
  if (!map) return;
  const b = map.getBounds();
  const c = map.getCenter();
  const cells = [];
  for (let x = Math.floor(b.getWest() / CELL); x * CELL < b.getEast(); x += 1) {
    for (let y = Math.floor(Math.max(-90, b.getSouth()) / CELL); y * CELL < Math.min(90, b.getNorth()); y += 1) {
      const d = Math.hypot(x * CELL + 1 - c.lng, y * CELL + 1 - c.lat);
      cells.push({ x, y, d });
    }
  }
  cells.sort((p, q) => p.d - q.d);
  const now = Date.now();
  const wanted = cells.slice(0, MAX_CELLS).filter(({ x, y }) => {
    const got = unverifiedCells.get(`${x},${y}`);
    return !got || now - got.at > 60_000;
  });
  await Promise.all(wanted.map(async ({ x, y }) => {
    const w = Math.max(-180, x * CELL);
    const e = Math.min(180, x * CELL + CELL);
    try {
      const fc = await getJSON(`api/v1/public/reports/unverified?bbox=${w},${y * CELL},${e},${y * CELL + CELL}`);
      unverifiedCells.set(`${x},${y}`, { at: now, features: fc.features || [] });
    } catch {
      /* an old server without the route, or offline: the layer stays as it was */
    }
  }));
  drawUnverified();
}

// the reports this page sent: drawn at once (the layer is cached a minute by HTTP)
const sentHere = [];

function drawUnverified() {
  const features = [...unverifiedCells.values()].flatMap((v) => v.features);
  const near = (f, g) => Math.abs(f.geometry.coordinates[0] - g.geometry.coordinates[0]) < 1e-5
    && Math.abs(f.geometry.coordinates[1] - g.geometry.coordinates[1]) < 1e-5;
  for (const g of sentHere) if (!features.some((f) => near(f, g))) features.push(g);
  state.map?.getSource("unverified")?.setData({ type: "FeatureCollection", features });
  window.demine.unverified = features.length;
}

function reportSent(fields) {
  sentHere.push({
    type: "Feature",
    geometry: { type: "Point", coordinates: [fields.lon, fields.lat] },
    properties: { status: "unverified", object_type: fields.object_type, reported_on: new Date().toISOString().slice(0, 10) },
  });
  drawUnverified();
}

// --- "Hazardous areas in view": the map's hazards as buttons, for keyboards and screen readers --

const MAX_IN_VIEW = 25;

function featureCentre(f) {
  const pts = [];
  const walk = (c) => (typeof c[0] === "number" ? pts.push(c) : c.forEach(walk));
  walk(f.geometry.coordinates);
  const xs = pts.map((q) => q[0]);
  const ys = pts.map((q) => q[1]);
  return { lng: (Math.min(...xs) + Math.max(...xs)) / 2, lat: (Math.min(...ys) + Math.max(...ys)) / 2 };
}

function hazardsInView() {
  const map = state.map;
  if (!map) return [];
  const layers = HAZARD_LAYERS.filter((id) => map.getLayer(id));
  const seen = new Map();
  for (const f of map.queryRenderedFeatures({ layers })) {
    const id = f.properties.id;
    if (id && !seen.has(id)) seen.set(id, f);
  }
  return [...seen.values()];
}

function renderInView() {
  const list = $("inview-list");
  if (!list || !state.map) return;
  const all = hazardsInView();
  const open = all.filter((f) => f.properties.status === "open");
  const shown = [...open, ...all.filter((f) => f.properties.status !== "open")].slice(0, MAX_IN_VIEW);
  const items = shown.map((f) => {
    const p = f.properties;
    const label = [hazardTitle(p), code("abbr_", p.hazard_type), code("status_", p.status)].filter(Boolean).join(" · ");
    return el("li", {}, el("button", {
      type: "button", class: "option", "data-hazard-id": p.id,
      onclick: () => openPopup(f, featureCentre(f), "hazard"),
    }, label));
  });
  if (all.length > shown.length) items.push(el("li", { class: "help" }, t("inview_more", { n: all.length - shown.length })));
  if (!all.length) items.push(el("li", { class: "help" }, t("inview_none")));
  list.replaceChildren(...items);
}

// the URL MapLibre builds for its worker (its version in the query: see tests/test_web_public_map.py)
export const MAPLIBRE_WORKER = "static/vendor/maplibre-gl/maplibre-gl-worker.mjs?v=6.17.0";

// What helps people find their place — the reference layers (settlements, roads) and the
// regions' outlines (for orientation at country scale, up to zoom 8: closer, the settlements
// and roads or the base map say where one is) — added once the hazards are drawn: on a phone
// the hazards' tiles are fetched and laid out first, and the map's "load" never waits for these.
function addContext(map, config) {
  if (map.getSource("regions") || map.getLayer("ref-roads") || map.getLayer("ref-settlements")) return;
  // under the records: before the first layer that is not the background or a reference layer
  const base = ["background", "basemap", "graticule"];
  const under = () => {
    const l = map.getStyle().layers.find((x) => !base.includes(x.id) && !x.id.startsWith("ref-"));
    return l && l.id;
  };
  const ref = referenceStyle(config);
  for (const [id, src] of Object.entries(ref.sources)) map.addSource(id, src);
  for (const layer of ref.layers) map.addLayer(layer, under());
  if (!config.regions) return;
  map.addSource("regions", { type: "geojson", data: absolute(config.regions.url), attribution: config.regions.attribution });
  const before = under();
  map.addLayer({
    id: "regions",
    type: "line",
    source: "regions",
    maxzoom: 8,
    paint: { "line-color": config.tile_url ? "#455a64" : "#607d8b", "line-width": 1 },
  }, before);
}

// "Hazards drawn" (the phone benchmark's mark): the first frame drawn once every hazard tile of
// the view has loaded, whatever else is still loading.
function watchHazardsDrawn(map, config) {
  if (!config.collections.some((c) => c.id === "hazards")) {
    map.once("load", () => addContext(map, config));
    return;
  }
  const drawn = () => {
    if (!map.getSource("hazards") || !map.isSourceLoaded("hazards")) return;
    map.off("render", drawn);
    window.demine.hazardsDrawn = true;
    performance.mark("demine:hazards");
    document.documentElement.dataset.hazards = "drawn";
    addContext(map, config);
  };
  map.on("render", drawn);
}

async function loadMapLibrary() {
  // The module is already on its way (index.html preloads it). Its worker is fetched as soon
  // as the module has arrived — not alongside it: on a slow link the module then arrives
  // sooner and runs while the worker downloads — into the HTTP cache (the vendored files are
  // cacheable for a day), where MapLibre's worker finds it. The stylesheet after the first
  // paint: the page's text never waits for it.
  const warmWorker = () => fetch(MAPLIBRE_WORKER).then((r) => r.arrayBuffer()).catch(() => {});
  const pre = document.querySelector('link[rel="modulepreload"][href$="maplibre-gl.mjs"]');
  if (!pre || performance.getEntriesByName(pre.href).length) warmWorker();
  else {
    pre.addEventListener("load", warmWorker, { once: true });
    pre.addEventListener("error", warmWorker, { once: true });
  }
  const module = import("./vendor/maplibre-gl/maplibre-gl.mjs");
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  document.head.append(el("link", { rel: "stylesheet", href: "static/vendor/maplibre-gl/maplibre-gl.css" }));
  maplibregl = await module;
}

function startMap(config) {
  const [w, s, e, n] = config.bounds;
  const map = new maplibregl.Map({
    container: "map",
    style: packStyle(buildStyle(config), maplibregl),
    bounds: [[w, Math.max(s, -85)], [e, Math.min(n, 85)]],
    fitBoundsOptions: { padding: 10 },
    attributionControl: { compact: true },
    locale: mapLocale(),
    // at most 2 device pixels per CSS pixel: a phone's screen of 3 would draw 2.25 times the
    // pixels for lines and shading no one can tell apart (and a phone pays it in time and battery)
    pixelRatio: Math.min(window.devicePixelRatio || 1, 2),
    dragRotate: false,
    pitchWithRotate: false,
    maxZoom: 19,
  });
  state.map = map;
  window.demine.map = map;
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.getCanvas().setAttribute("aria-label", t("map_label"));
  if (window.matchMedia("(max-width: 760px)").matches) {
    // on a phone the attribution starts folded (the (i) button opens it)
    map.once("load", () => map.getContainer().querySelector(".maplibregl-compact-show")?.classList.remove("maplibregl-compact-show"));
  }
  // the pictures before any layer needs them (a symbol laid out without its image stays blank)
  const addImages = () => {
    for (const [id, draw] of Object.entries(IMAGES)) if (!map.hasImage(id)) map.addImage(id, draw());
  };
  try {
    addImages();
  } catch {
    /* the style is not ready yet: on "styledata" below */
  }
  map.on("styledata", addImages);
  map.on("styleimagemissing", (e) => {
    if (IMAGES[e.id] && !map.hasImage(e.id)) map.addImage(e.id, IMAGES[e.id]());
  });
  watchHazardsDrawn(map, config);
  map.on("click", onMapClick);
  for (const id of CLICK_LAYERS) {
    map.on("mouseenter", id, () => { if (!state.drawing && !state.picking) map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { if (!state.drawing && !state.picking) map.getCanvas().style.cursor = ""; });
  }
  return new Promise((resolve) => map.once("load", resolve));
}

async function main() {
  window.demine = {
    map: null, ready: false, hazardLayers: HAZARD_LAYERS, error: null, parseCoordinates, popupOpen: false,
    // a record's details as a click on it would open them (the tests open every demo record's)
    showDetails: (layer, properties, at) => openPopup({ layer: { id: layer }, properties }, { lng: at[0], lat: at[1] }),
  };
  const library = loadMapLibrary(); // starts now, after the first paint; nothing below waits for it
  const config = packConfig(getJSON("api/v1/map/config"));
  wireUi();
  initStats();
  initReportForm({
    t, el, errorText, geoErrorText, fmtCoord, code,
    setPicking: setReportPicking,
    sent: reportSent,
    flyTo: (lat, lon) => state.map?.easeTo({ center: [lon, lat], zoom: Math.max(state.map.getZoom(), 13) }),
  });
  try {
    await setLang(initialLang(), false);
  } catch (err) {
    setStatus(errorText(err)); // the HTML's own text stays
  }
  try {
    state.config = await config;
  } catch (err) {
    setStatus(errorText(err));
    window.demine.error = String(err);
    return;
  }
  renderBanner();
  renderBasemapNote();
  try {
    await library;
    await startMap(state.config);
    addRecordLayers(state.map, state.config);
  } catch (err) {
    setStatus(t("error_webgl"));
    window.demine.error = String(err);
    return;
  }
  const map = state.map;
  let moved = true;
  map.on("moveend", () => {
    moved = true;
    loadUnverified();
  });
  map.on("idle", () => {
    if (moved) {
      moved = false;
      renderInView();
    }
  });
  loadUnverified();
  try {
    state.risk = await getJSON("api/v1/map/risk");
    if (map.getLayer("hazards-risk")) applyRisk(state.risk);
  } catch (err) {
    if (!packQuiet()) setStatus(errorText(err));
  }
  map.once("idle", () => {
    window.demine.ready = true;
    document.body.dataset.ready = "true";
  });
  map.triggerRepaint();
}

main();
