// demine review page (issue 13): the authority's reviewers decide on submissions. Plain ES
// module, no build step; every UI string comes from i18n/*.json (keys "review_*"). The API
// token is kept in this tab's sessionStorage only and sent as "Authorization: Bearer"; it is
// never put in a URL.
import * as maplibregl from "./vendor/maplibre-gl/maplibre-gl.mjs";

const LANGS = ["en", "uk"];
const LANG_KEY = "demine.lang"; // shared with the map page
const TOKEN_KEY = "demine.review.token";
const STATES = ["submitted", "approved_operator", "returned", "draft", "approved", "rejected"];
const OPEN = ["submitted", "approved_operator"];
const AROUND_DEG = 0.03; // how far around the submission existing records are drawn (~2-3 km)
const COLORS = { submission: "#d81b60", candidate: "#f9a825", around: "#546e7a" };

const state = {
  lang: "en",
  strings: {},
  token: null,
  queue: [],
  filter: "submitted",
  sub: null, // the submission shown
  current: null, // the stored record it would change (properties + geometry), if any
  currentById: new Map(), // a batch's: id -> the stored record
  candidates: [],
  exif: [], // GeoJSON points of the attachments' EXIF locations
  map: null,
  mapReady: null,
  report: null, // {status, body}
  tab: "queue",
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
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const locale = () => (state.lang === "uk" ? "uk-UA" : "en-GB");
const fmtNumber = (n, digits = 0) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);
function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }).format(d) + " UTC";
}
const short = (id) => (id ? String(id).slice(-8) : "—");
const label = (prefix, v) => {
  const key = `${prefix}_${v}`;
  return state.strings[key] === undefined ? String(v) : t(key);
};

class HttpError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// every call with the token; a problem+json's detail (and its located faults) as the message
async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    let detail = data.detail || `${r.status} ${r.statusText}`;
    const faults = (data.errors || []).map((e) => [e.field, e.reason].filter(Boolean).join(": ")).filter(Boolean);
    if (faults.length) detail += ` (${faults.join("; ")})`;
    throw new HttpError(r.status, detail);
  }
  return data;
}

function announce(text) {
  // cleared first so that the same text twice is read twice
  const box = $("announce");
  box.textContent = "";
  window.setTimeout(() => { box.textContent = text; }, 30);
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
  const r = await fetch(`static/i18n/${lang}.json`);
  state.strings = await r.json();
  state.lang = lang;
  if (remember) {
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch {
      /* private mode: for this page only */
    }
  }
  document.documentElement.lang = lang;
  document.title = t("review_page_title");
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of e.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      e.setAttribute(attr, t(key));
    }
  }
  for (const b of document.querySelectorAll(".lang-btn")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  fillFilter();
  renderQueue();
  if (state.sub) renderDetail();
  if (state.report) renderReport();
  if (state.map) state.map.getCanvas().setAttribute("aria-label", t("review_map_label"));
  document.body.dataset.lang = lang;
}

function fillFilter() {
  const sel = $("state-filter");
  sel.replaceChildren(
    el("option", { value: "" }, t("review_state_all")),
    ...STATES.map((s) => el("option", { value: s }, label("review_state", s))),
  );
  sel.value = state.filter;
}

// --- signing in ---------------------------------------------------------------------------------

function savedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

async function signIn(token) {
  state.token = token;
  try {
    const body = await api(`api/v1/submissions${state.filter ? `?state=${state.filter}` : ""}`);
    state.queue = body.submissions;
  } catch (err) {
    state.token = null;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* nothing kept */
    }
    const msg = err.status === 401 ? t("review_bad_token", { detail: err.message })
      : err.status === 403 ? t("review_no_access", { detail: err.message })
      : t("review_error", { detail: err.message });
    $("signin-error").textContent = msg;
    $("token").setAttribute("aria-invalid", "true");
    $("token").focus();
    return false;
  }
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* kept in memory for this page only */
  }
  $("signin-error").textContent = "";
  $("token").value = "";
  $("token").removeAttribute("aria-invalid");
  $("signin").hidden = true;
  $("workspace").hidden = false;
  renderQueue();
  announce(t("review_signed_in", { n: state.queue.length }));
  $("queue-heading").setAttribute("tabindex", "-1");
  $("queue-heading").focus();
  document.body.dataset.signedIn = "true";
  return true;
}

function signOut() {
  state.token = null;
  state.queue = [];
  state.sub = null;
  state.report = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* nothing kept */
  }
  $("workspace").hidden = true;
  $("detail").hidden = true;
  $("signin").hidden = false;
  document.body.dataset.signedIn = "false";
  announce(t("review_signed_out"));
  $("token").focus();
}

// --- the queue ----------------------------------------------------------------------------------

function quality(q) {
  if (!q || typeof q !== "object") return null;
  for (const k of ["score", "mean_score", "mean"]) if (typeof q[k] === "number") return q[k];
  return null;
}

async function loadQueue() {
  const q = state.filter ? `?state=${encodeURIComponent(state.filter)}` : "";
  try {
    state.queue = (await api(`api/v1/submissions${q}`)).submissions;
  } catch (err) {
    state.queue = [];
    $("queue-info").textContent = t("review_error", { detail: err.message });
    if (err.status === 401) signOut();
    return;
  }
  renderQueue();
}

function renderQueue() {
  const body = $("queue-body");
  if (!body) return;
  const rows = state.queue.map((s) => {
    const score = quality(s.quality);
    const open = el("button", {
      type: "button",
      class: "rv-link",
      "data-sid": s.id,
      "aria-label": t("review_open", { id: s.id }),
      "aria-current": state.sub && state.sub.id === s.id ? "true" : null,
      onclick: () => openSubmission(s.id),
    }, short(s.id));
    return el("tr", { "data-sid": s.id, class: state.sub && state.sub.id === s.id ? "rv-current" : null },
      el("td", {}, open),
      el("td", { "data-col": "state" }, el("span", { class: `rv-state rv-state-${s.state}` }, label("review_state", s.state))),
      el("td", {}, s.organisation),
      el("td", {}, label("review_kind", s.kind)),
      el("td", {}, label("review_action", s.action)),
      el("td", {}, fmtTime(s.created_at)),
      el("td", { class: "rv-num" }, score === null ? "—" : fmtNumber(score)),
    );
  });
  body.replaceChildren(...rows);
  $("queue-info").textContent = state.queue.length
    ? t("review_queue_count", { n: state.queue.length })
    : t("review_queue_empty");
  if (state.token) {
    $("whoami").textContent = t("review_signed_in_as");
  }
}

// --- one submission -----------------------------------------------------------------------------

async function openSubmission(sid) {
  $("decide-error").textContent = "";
  let sub;
  try {
    sub = await api(`api/v1/submissions/${encodeURIComponent(sid)}`);
  } catch (err) {
    announce(t("review_error", { detail: err.message }));
    return;
  }
  state.sub = sub;
  state.current = null;
  state.candidates = Array.isArray(sub.candidates) ? sub.candidates : [];
  state.currentById = new Map();
  if (sub.current && sub.current.type === "FeatureCollection") {
    // a batch: the stored records its features name
    for (const f of sub.current.features || []) state.currentById.set(String(f.id), { properties: f.properties || {}, geometry: f.geometry || null });
  } else if (sub.current && typeof sub.current === "object") {
    state.current = { properties: sub.current.properties || {}, geometry: sub.current.geometry || null };
  } else if (sub.target_id && sub.action !== "create") {
    try {
      const f = await api(`ogc/collections/${encodeURIComponent(sub.kind)}/items/${encodeURIComponent(sub.target_id)}`);
      state.current = { properties: f.properties || {}, geometry: f.geometry || null };
    } catch (err) {
      state.current = { properties: {}, geometry: null, error: err.message };
    }
  }
  $("reason").value = "";
  $("target").value = "";
  $("detail").hidden = false;
  renderQueue();
  renderDetail();
  $("detail-heading").focus();
  await loadAttachments(sub);
  await drawMap(sub);
  document.body.dataset.detail = sub.id;
}

function proposedOf(sub) {
  // [{label, current, properties, geometry}] — one per record the submission would write
  // (properties null: deleted); current: the stored record it changes, if any
  const p = sub.payload || {};
  const cur = state.current ? state.current.properties : {};
  if (sub.action === "delete") return [{ current: state.current, properties: null, geometry: null }];
  if (Array.isArray(p.features)) {
    return p.features.map((f, i) => ({
      label: f.id || f.source_id || `#${i + 1}`,
      current: (f.id && state.currentById.get(String(f.id))) || null,
      properties: f.properties || {},
      geometry: f.geometry || null,
    }));
  }
  if (p.changes && typeof p.changes === "object") {
    const props = { ...cur };
    for (const [k, v] of Object.entries(p.changes)) {
      if (v === null) delete props[k];
      else props[k] = v;
    }
    return [{ current: state.current, properties: props, geometry: p.geometry === undefined ? (state.current && state.current.geometry) : p.geometry }];
  }
  return [{ current: state.current, properties: p.properties || {}, geometry: p.geometry === undefined ? null : p.geometry }];
}

const show = (v) => (v === undefined || v === null || v === "" ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function diffTable(current, proposed, caption) {
  const cur = current || {};
  const keys = [...new Set([...Object.keys(cur), ...Object.keys(proposed || {})])].sort();
  const rows = keys.map((k) => {
    const a = cur[k];
    const b = proposed ? proposed[k] : undefined;
    const changed = !same(a, b);
    return el("tr", { class: changed ? "rv-changed" : null, "data-field": k, "data-changed": String(changed) },
      el("th", { scope: "row" }, k, changed ? el("span", { class: "rv-sr" }, ` (${t("review_changed")})`) : null),
      el("td", { "data-side": "current" }, show(a)),
      el("td", { "data-side": "proposed" }, proposed ? show(b) : t("review_deleted")),
    );
  });
  return el("table", { class: "rv-table rv-diff" },
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("review_field")),
      el("th", { scope: "col" }, t("review_current")),
      el("th", { scope: "col" }, t("review_proposed")))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: "3" }, t("review_no_fields")))),
  );
}

function renderDetail() {
  const s = state.sub;
  if (!s) return;
  $("detail-heading").textContent = t("review_detail_heading", { id: s.id });
  const q = quality(s.quality);
  const meta = [
    ["review_col_state", label("review_state", s.state)],
    ["review_col_organisation", s.organisation],
    ["review_submitter", s.submitter],
    ["review_col_kind", label("review_kind", s.kind)],
    ["review_col_action", label("review_action", s.action)],
    ["review_record", s.target_id || "—"],
    ["review_col_submitted", fmtTime(s.created_at)],
    ["review_col_quality", q === null ? "—" : fmtNumber(q)],
  ];
  $("detail-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", { "data-meta": k }, v)]));
  const faults = s.faults || [];
  const missing = (s.quality && Array.isArray(s.quality.missing)) ? s.quality.missing : [];
  $("detail-faults").replaceChildren(...[
    faults.length ? el("div", { class: "rv-faults" }, el("strong", {}, t("review_faults")),
      el("ul", {}, faults.map((f) => el("li", {}, [f.index !== null && f.index !== undefined ? `#${f.index + 1}` : null, f.field, f.reason].filter((x) => x !== null && x !== undefined).join(" — "))))) : null,
    missing.length ? el("p", { class: "help" }, t("review_missing", { fields: missing.join(", ") })) : null,
    (s.stale || s.conflict) ? el("p", { class: "rv-error", "data-conflict": "true" }, t("review_conflict", { base: (s.stale || s.conflict).base_revision, current: (s.stale || s.conflict).current_revision })) : null,
    (s.concurrent || []).length ? el("div", { class: "rv-faults", "data-concurrent": "true" }, el("strong", {}, t("review_concurrent")),
      el("ul", {}, s.concurrent.map((o) => el("li", {}, el("button", { type: "button", class: "linklike", "data-open": o.id },
        t("review_concurrent_item", { id: o.id.slice(0, 8), state: label("review_state", o.state), base: o.base_revision })))))) : null,
  ].filter(Boolean));
  for (const b of $("detail-faults").querySelectorAll("button[data-open]")) b.addEventListener("click", () => openSubmission(b.dataset.open));
  // the diff: current vs proposed
  const diff = $("diff");
  const items = proposedOf(s);
  const parts = [];
  if (state.current && state.current.error) parts.push(el("p", { class: "rv-error" }, t("review_current_error", { detail: state.current.error })));
  items.forEach((it, i) => {
    const caption = items.length > 1 ? t("review_feature", { n: i + 1, id: it.label }) : null;
    parts.push(diffTable(it.current ? it.current.properties : null, it.properties, caption));
    const geomChanged = it.properties !== null && it.current && it.current.geometry && it.geometry && !same(it.current.geometry, it.geometry);
    if (geomChanged) parts.push(el("p", { class: "rv-changed-note", "data-geometry-changed": "true" }, t("review_geometry_changed")));
  });
  diff.replaceChildren(...parts);
  renderCandidates();
  renderEvents();
  const open = OPEN.includes(s.state);
  for (const id of ["approve", "approve-update", "merge", "reject", "return", "reason", "target"]) $(id).disabled = !open;
  $("decide-heading").textContent = open ? t("review_decide_heading") : t("review_decided", { state: label("review_state", s.state) });
  updateButtons();
}

function renderEvents() {
  const s = state.sub;
  $("events").replaceChildren(...(s.events || []).map((e) => el("li", {},
    el("strong", {}, label("review_state", e.state)), " — ", e.actor, ", ", fmtTime(e.at),
    e.reason ? el("span", { class: "rv-reason" }, `: ${e.reason}`) : null)));
}

function renderCandidates() {
  const box = $("candidates");
  const cands = state.candidates;
  if (!cands.length) {
    box.replaceChildren(el("p", { class: "help", "data-empty": "candidates" }, t("review_no_candidates")));
    return;
  }
  const create = state.sub.action === "create";
  box.replaceChildren(el("ul", { class: "rv-candidates" }, cands.map((c) => {
    const why = [...(c.matches || []), ...(c.reasons || [])].join(", ") || c.why || "";
    const dist = typeof c.distance_m === "number" ? t("review_distance", { n: fmtNumber(c.distance_m) }) : null;
    return el("li", { "data-candidate": c.id },
      el("span", { class: "rv-cand-id" }, label("review_kind", c.kind || state.sub.kind), " ", c.id),
      dist ? el("span", {}, ` — ${dist}`) : null,
      why ? el("span", { class: "help" }, ` — ${why}`) : null,
      create ? el("button", { type: "button", class: "rv-use", "aria-label": t("review_use_candidate_label", { id: c.id }),
        onclick: () => { $("target").value = c.id; updateButtons(); $("target").focus(); } }, t("review_use_candidate")) : null,
    );
  })));
}

// --- attachments (the submission's, and those of the record it changes) ------------------------

async function loadAttachments(sub) {
  const box = $("attachments");
  state.exif = [];
  const lists = [];
  const sources = [];
  // a submission's own files, then those of the record it changes
  sources.push([`api/v1/submissions/${encodeURIComponent(sub.id)}/attachments`, "submission"]);
  if (sub.target_id && sub.action !== "create") {
    sources.push([`api/v1/records/${encodeURIComponent(sub.kind)}/${encodeURIComponent(sub.target_id)}/attachments`, "record"]);
  }
  for (const [url, from] of sources) {
    try {
      const body = await api(url);
      lists.push(...(body.attachments || []).map((a) => ({ ...a, _from: from })));
    } catch {
      /* none, or no such route on this server */
    }
  }
  if (!lists.length) {
    box.replaceChildren(el("p", { class: "help", "data-empty": "attachments" }, t("review_no_attachments")));
    return;
  }
  const exifPoints = [];
  box.replaceChildren(el("ul", { class: "rv-attachments" }, lists.map((a) => {
    const exif = a.exif || {};
    const where = typeof exif.lat === "number" && typeof exif.lon === "number"
      ? t("review_exif_at", { lat: exif.lat.toFixed(5), lon: exif.lon.toFixed(5) }) : t("review_exif_none");
    if (typeof exif.lat === "number" && typeof exif.lon === "number") exifPoints.push([exif.lon, exif.lat]);
    return el("li", { "data-attachment": a.attachment_id },
      el("strong", {}, a.filename || a.attachment_id), " ",
      el("span", { class: "help" }, `${a.content_type || ""}, ${t(a._from === "record" ? "review_att_record" : "review_att_submission")}`),
      el("br"),
      a.exif ? el("span", { "data-exif": "location" }, where) : el("span", { class: "help" }, t("review_exif_withheld")),
      exif.time ? el("span", {}, ` — ${t("review_exif_time", { time: exif.time })}`) : null,
    );
  })));
  state.exif = exifPoints.map((c) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: c } }));
  setSource("exif", state.exif);
}

// --- the map ------------------------------------------------------------------------------------

function emptyFC() {
  return { type: "FeatureCollection", features: [] };
}

function setSource(name, features) {
  const src = state.map && state.map.getSource(name);
  if (src) src.setData({ type: "FeatureCollection", features });
}

function layersFor(source, color, width) {
  return [
    { id: `${source}-fill`, type: "fill", source, filter: ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]],
      paint: { "fill-color": color, "fill-opacity": 0.2 } },
    { id: `${source}-line`, type: "line", source, filter: ["!=", ["geometry-type"], "Point"],
      paint: { "line-color": color, "line-width": width } },
    { id: `${source}-point`, type: "circle", source, filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 6, "circle-color": color, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } },
  ];
}

async function ensureMap() {
  if (state.mapReady) return state.mapReady;
  state.mapReady = (async () => {
    let config = null;
    try {
      config = await api("api/v1/map/config");
    } catch {
      config = { bounds: [-180, -85, 180, 85] };
    }
    const sources = { around: { type: "geojson", data: emptyFC() }, candidates: { type: "geojson", data: emptyFC() },
      submission: { type: "geojson", data: emptyFC() }, exif: { type: "geojson", data: emptyFC() } };
    const layers = [{ id: "background", type: "background", paint: { "background-color": "#eef2f3" } }];
    if (config.tile_url) {
      sources.basemap = { type: "raster", tiles: [config.tile_url], tileSize: 256, attribution: config.tile_attribution || "" };
      layers.push({ id: "basemap", type: "raster", source: "basemap" });
    }
    if (config.regions) {
      const url = /^https?:/.test(config.regions.url) ? config.regions.url : window.location.origin + config.regions.url;
      sources.regions = { type: "geojson", data: url, attribution: config.regions.attribution };
      layers.push({ id: "regions", type: "line", source: "regions", paint: { "line-color": "#78909c", "line-width": 0.8 } });
    }
    layers.push(...layersFor("around", COLORS.around, 1.2), ...layersFor("candidates", COLORS.candidate, 2.5),
      ...layersFor("submission", COLORS.submission, 3));
    layers.push({ id: "exif-point", type: "circle", source: "exif",
      paint: { "circle-radius": 4, "circle-color": "#000", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
    const map = new maplibregl.Map({
      container: "review-map",
      style: { version: 8, sources, layers },
      center: [0, 0],
      zoom: 1,
      attributionControl: { compact: true },
      dragRotate: false,
      pitchWithRotate: false,
      maxZoom: 19,
    });
    map.touchZoomRotate.disableRotation();
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
    map.getCanvas().setAttribute("aria-label", t("review_map_label"));
    state.map = map;
    window.review.map = map;
    await new Promise((resolve) => map.once("load", resolve));
    return map;
  })();
  return state.mapReady;
}

function coordsOf(g, out = []) {
  if (!g) return out;
  if (g.type === "GeometryCollection") g.geometries.forEach((x) => coordsOf(x, out));
  else {
    const walk = (c) => (typeof c[0] === "number" ? out.push(c) : c.forEach(walk));
    walk(g.coordinates);
  }
  return out;
}

function bboxOf(geoms) {
  const pts = geoms.flatMap((g) => coordsOf(g));
  if (!pts.length) return null;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

async function drawMap(sub) {
  let map;
  try {
    map = await ensureMap();
  } catch (err) {
    window.review.mapError = String(err);
    return;
  }
  if (state.sub !== sub) return;
  const items = proposedOf(sub);
  const geoms = items.map((i) => i.geometry).filter(Boolean);
  if (!geoms.length && state.current && state.current.geometry) geoms.push(state.current.geometry);
  setSource("submission", geoms.map((g) => ({ type: "Feature", properties: { role: "submission" }, geometry: g })));
  // candidates: their stored geometry
  const candFeats = [];
  for (const c of state.candidates) {
    try {
      const f = await api(`ogc/collections/${encodeURIComponent(c.kind || sub.kind)}/items/${encodeURIComponent(c.id)}`);
      if (f.geometry) candFeats.push({ type: "Feature", properties: { id: c.id }, geometry: f.geometry });
    } catch {
      /* gone, or not readable */
    }
  }
  setSource("candidates", candFeats);
  const box = bboxOf([...geoms, ...candFeats.map((f) => f.geometry)]);
  let around = [];
  if (box) {
    const [w, s, e, n] = [box[0] - AROUND_DEG, box[1] - AROUND_DEG, box[2] + AROUND_DEG, box[3] + AROUND_DEG];
    try {
      const fc = await api(`ogc/collections/${encodeURIComponent(sub.kind)}/items?bbox=${[w, s, e, n].map((v) => v.toFixed(6)).join(",")}&limit=200`);
      const skip = new Set([sub.target_id, ...state.candidates.map((c) => c.id)]);
      around = (fc.features || []).filter((f) => f.geometry && !skip.has(f.id))
        .map((f) => ({ type: "Feature", properties: { id: f.id }, geometry: f.geometry }));
    } catch {
      around = [];
    }
    map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 40, maxZoom: 16, duration: 0 });
  }
  setSource("around", around);
  setSource("exif", state.exif); // where the attachments' photos were taken
  window.review.drawn = {
    submission: geoms.length, candidates: candFeats.length, around: around.length, exif: state.exif.length, sid: sub.id,
  };
}

// --- deciding -----------------------------------------------------------------------------------

function updateButtons() {
  const s = state.sub;
  const open = s && OPEN.includes(s.state);
  const hasReason = $("reason").value !== "";
  const hasTarget = $("target").value.trim() !== "";
  $("reject").disabled = !open || !hasReason;
  $("return").disabled = !open || !hasReason;
  const create = s && s.action === "create";
  $("approve-update").disabled = !open || !hasTarget || !create;
  $("merge").disabled = !open || !hasTarget || !create || !hasReason;
}

async function decide(action) {
  const s = state.sub;
  const reason = $("reason").value;
  const target = $("target").value.trim();
  const body = {};
  if (reason !== "") body.reason = reason;
  let path = "approve";
  if (action === "reject" || action === "return") path = action;
  if (action === "update") body.update = target;
  if (action === "merge") body.merge_into = target;
  $("decide-error").textContent = "";
  let result;
  try {
    result = await api(`api/v1/submissions/${encodeURIComponent(s.id)}/${path}`, { method: "POST", body });
  } catch (err) {
    $("decide-error").textContent = t("review_refused", { detail: err.message });
    return;
  }
  const ids = Array.isArray(result.ids) ? result.ids.join(", ") : "";
  const msg = {
    approve: t("review_done_approved", { id: s.id, ids }),
    update: t("review_done_updated", { id: s.id, target }),
    merge: t("review_done_merged", { id: s.id, target }),
    reject: t("review_done_rejected", { id: s.id }),
    return: t("review_done_returned", { id: s.id }),
  }[action];
  await loadQueue();
  await openSubmission(s.id);
  announce(msg);
  window.review.decisions += 1;
}

// --- the report ---------------------------------------------------------------------------------

async function loadReport() {
  $("report").replaceChildren(el("p", { class: "help" }, t("review_loading")));
  try {
    state.report = { status: 200, body: await api("api/v1/submissions/report") };
  } catch (err) {
    state.report = { status: err.status, detail: err.message };
  }
  renderReport();
  document.body.dataset.report = String(state.report.status);
}

function renderReport() {
  const box = $("report");
  const r = state.report;
  if (!r) return;
  if (r.status === 404 || r.status === 405) {
    box.replaceChildren(el("p", { "data-report": "unavailable" }, t("review_report_unavailable")));
    return;
  }
  if (r.status !== 200) {
    box.replaceChildren(el("p", { class: "rv-error" }, t("review_error", { detail: r.detail })));
    return;
  }
  const orgs = r.body.organisations || [];
  const hours = (v) => (typeof v === "number" ? t("review_hours", { n: fmtNumber(v, 1) }) : "—");
  const rows = orgs.map((o) => el("tr", { "data-org": o.code },
    el("th", { scope: "row" }, o.name ? `${o.name} (${o.code})` : o.code),
    el("td", {}, Object.entries(o.by_state || {}).map(([k, n]) => `${label("review_state", k)}: ${fmtNumber(n)}`).join(", ") || "—"),
    el("td", { class: "rv-num" }, hours(o.approved_median_hours)),
    el("td", { class: "rv-num" }, hours(o.approved_p90_hours)),
    el("td", { class: "rv-num" }, typeof o.quality_mean === "number" ? fmtNumber(o.quality_mean, 1) : "—"),
    el("td", {}, Object.entries(o.missing || {}).map(([k, n]) => `${k}: ${fmtNumber(n)}`).join(", ") || "—"),
  ));
  box.replaceChildren(...[
    el("table", { class: "rv-table" },
      el("thead", {}, el("tr", {}, ["review_report_org", "review_report_by_state", "review_report_median",
        "review_report_p90", "review_report_quality", "review_report_missing"].map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: "6" }, t("review_report_empty"))))),
    r.body.generated_at ? el("p", { class: "help" }, t("review_report_generated", { at: fmtTime(r.body.generated_at) })) : null,
  ].filter(Boolean));
}

function selectTab(name) {
  state.tab = name;
  for (const tab of ["queue", "report"]) {
    const on = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(on));
    $(`tab-${tab}`).tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
  }
  if (name === "report") loadReport();
  else if (state.map) state.map.resize();
}

// --- wiring -------------------------------------------------------------------------------------

function wire() {
  for (const b of document.querySelectorAll(".lang-btn")) b.addEventListener("click", () => setLang(b.dataset.lang, true));
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("token").value.trim();
    if (!token) {
      $("signin-error").textContent = t("review_token_missing");
      $("token").focus();
      return;
    }
    signIn(token);
  });
  $("signout").addEventListener("click", signOut);
  $("state-filter").addEventListener("change", (e) => {
    state.filter = e.target.value;
    loadQueue();
  });
  $("reason").addEventListener("input", updateButtons);
  $("target").addEventListener("input", updateButtons);
  $("approve").addEventListener("click", () => decide("approve"));
  $("approve-update").addEventListener("click", () => decide("update"));
  $("merge").addEventListener("click", () => decide("merge"));
  $("reject").addEventListener("click", () => decide("reject"));
  $("return").addEventListener("click", () => decide("return"));
  $("tab-queue").addEventListener("click", () => selectTab("queue"));
  $("tab-report").addEventListener("click", () => selectTab("report"));
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const next = state.tab === "queue" ? "report" : "queue";
      selectTab(next);
      $(`tab-${next}`).focus();
    });
  }
}

async function main() {
  window.review = { map: null, ready: false, decisions: 0, drawn: null, mapError: null };
  wire();
  await setLang(initialLang(), false);
  const token = savedToken();
  if (token) await signIn(token);
  window.review.ready = true;
  document.body.dataset.ready = "true";
}

main();
