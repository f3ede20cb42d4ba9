// demine field app (issue 14): record hazards, finds, reports ... offline on a phone; the outbox
// is sent as submissions for review when a connection returns. Plain ES modules, no build step.
// The app's strings: i18n/*.json; the forms: the server's form specifications (forms.js); the
// device's data (token, forms, work area, outbox, photos): IndexedDB (db.js); sending: sync.js.
// The page's shell is kept by the service worker (/field/sw.js) so that it opens offline.
import { DB_NAME, getMeta, listArea, listForms, openDb, setMeta } from "./db.js";
import { fetchForms, refreshArea } from "./sync.js";
import { $, BASE, LANGS, announce, el, fmtNumber, fmtTime, formTitle, loadStrings, state, t, tr } from "./ui_common.js";
import { fitBbox, initMap, relabel, resize, showArea, showMapNote, viewBbox } from "./ui_map.js";
import { fillKinds, initRecord, recording, relabelRecord, startEdit, startItem, tapped } from "./ui_record.js";
import { initOutbox, refreshOutbox, renderOutbox, runSync, unsent } from "./ui_outbox.js";

const MAX_BOX_DEG = 1; // the server's limit of a work area (docs/field.md)
const VIEWS = ["area", "record", "outbox"];
let details = null; // the work-area feature shown

// --- the network --------------------------------------------------------------------------------

function renderNet() {
  state.online = navigator.onLine;
  const off = !state.online || state.syncFailed;
  const net = $("net");
  net.dataset.online = String(!off);
  net.textContent = !state.online ? t("net_offline") : state.syncFailed ? t("net_no_server") : t("net_online");
  document.body.dataset.online = String(!off);
  showMapNote();
}

async function apiGet(path) {
  return fetch(`${BASE}/${path}`, { headers: { Accept: "application/json", Authorization: `Bearer ${state.token}` } });
}

// --- language -----------------------------------------------------------------------------------

async function setLang(lang) {
  await loadStrings(lang);
  if (state.db) await setMeta(state.db, "lang", lang);
  renderNet();
  relabel();
  if (state.token) {
    renderOutbox();
    relabelRecord();
    renderArea();
    renderDetails();
  }
}

function initialLang(saved) {
  if (LANGS.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("uk") ? "uk" : "en";
}

// --- signing in and out -------------------------------------------------------------------------

async function signIn(token) {
  const error = $("signin-error");
  error.textContent = "";
  state.token = token;
  let r;
  try {
    // the sync routes answer field teams and operators only: 401 a wrong token, 403 a role
    r = await apiGet("api/v1/sync/pull?limit=1");
  } catch {
    state.token = null;
    error.textContent = t("signin_offline");
    return false;
  }
  if (!r.ok) {
    state.token = null;
    const body = await r.json().catch(() => ({}));
    error.textContent = r.status === 401 ? t("signin_bad_token")
      : r.status === 403 ? t("signin_wrong_role") : t("signin_error", { detail: body.detail || r.status });
    $("token").setAttribute("aria-invalid", "true");
    $("token").focus();
    return false;
  }
  await setMeta(state.db, "token", token);
  try {
    const config = await (await apiGet("api/v1/map/config")).json();
    state.role = config.role;
    await setMeta(state.db, "role", config.role);
    await setMeta(state.db, "map_config", { tile_url: config.tile_url, tile_attribution: config.tile_attribution });
  } catch {
    /* the role is shown only */
  }
  try {
    await setMeta(state.db, "form_order", await fetchForms({ db: state.db, base: BASE, token }));
  } catch (err) {
    error.textContent = t("signin_error", { detail: err.message });
    return false;
  }
  $("token").value = "";
  $("token").removeAttribute("aria-invalid");
  await enterApp();
  announce(t("signed_in", { n: state.forms.length }));
  return true;
}

async function signOut() {
  const n = unsent().length;
  if (!window.confirm(n ? t("signout_confirm_unsent", { n }) : t("signout_confirm"))) return;
  const lang = state.lang;
  state.db.close();
  await new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(DB_NAME);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
  state.db = await openDb();
  await setMeta(state.db, "lang", lang);
  Object.assign(state, { token: null, role: null, forms: [], area: [], items: [] });
  $("app").hidden = true;
  $("signin").hidden = false;
  $("outbox-badge").hidden = true;
  document.body.dataset.signedIn = "false";
  announce(t("signed_out"));
  $("token").focus();
}

// --- the app ------------------------------------------------------------------------------------

async function enterApp() {
  state.role = (await getMeta(state.db, "role")) || state.role;
  await loadForms();
  state.area = await listArea(state.db);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("outbox-badge").hidden = false;
  $("whoami").textContent = state.role ? t("whoami", { role: t(`role_${state.role}`) }) : "";
  let config = (await getMeta(state.db, "map_config")) || null;
  if (navigator.onLine) {
    try {
      const r = await apiGet("api/v1/map/config");
      if (r.ok) {
        const c = await r.json();
        config = { tile_url: c.tile_url, tile_attribution: c.tile_attribution };
        await setMeta(state.db, "map_config", config);
      }
    } catch {
      /* offline after all: the cached one */
    }
  }
  initMap({ config, onTap });
  showMapNote();
  fillKinds();
  await refreshOutbox();
  await showArea(state.area);
  const bbox = await getMeta(state.db, "bbox");
  if (bbox) fitBbox(bbox);
  renderArea();
  showView(state.view);
  document.body.dataset.signedIn = "true";
  if (navigator.onLine) runSync(false);
}

// the cached forms, in the server's order (hazards first)
async function loadForms() {
  const order = (await getMeta(state.db, "form_order")) || [];
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  state.forms = (await listForms(state.db)).sort((a, b) => rank(a.kind) - rank(b.kind));
}

function showView(view) {
  state.view = view;
  for (const v of VIEWS) {
    $(`panel-${v}`).hidden = v !== view;
    $(`tab-${v}`).setAttribute("aria-current", v === view ? "page" : "false");
  }
  $("map-wrap").hidden = view === "outbox";
  document.body.dataset.view = view;
  resize();
}

function onTap({ lngLat, features }) {
  if (state.view === "record") {
    tapped(lngLat);
    return;
  }
  if (state.view !== "area" || !features.length) return;
  const f = features[0];
  const entry = state.area.find((a) => a.layer === f.properties._layer);
  const full = entry && entry.collection.features.find((x) => String(x.id) === f.properties._id);
  if (!full) return;
  details = { ...full, properties: { ...full.properties, _layer: entry.layer, _id: String(full.id) } };
  renderDetails();
  $("details-heading").focus();
}

function renderDetails() {
  const box = $("details");
  if (!details) {
    box.hidden = true;
    return;
  }
  const kind = details.properties._layer;
  const spec = state.forms.find((f) => f.kind === kind);
  const rows = [];
  const labels = new Map((spec ? spec.fields : []).map((f) => [f.name, tr(f.label)]));
  for (const [k, v] of Object.entries(details.properties)) {
    if (k.startsWith("_") || v === null || v === undefined || v === "") continue;
    rows.push(el("dt", {}, k === "revision" ? t("details_revision") : labels.get(k) || k), el("dd", {}, String(v)));
  }
  $("details-heading").textContent = formTitle(kind);
  $("details-list").replaceChildren(...rows);
  $("details-edit").hidden = !spec;
  box.hidden = false;
}

function renderArea() {
  const info = $("area-info");
  if (!state.area.length) {
    info.replaceChildren(el("p", { class: "help" }, t("area_none")));
    return;
  }
  const fetched = state.area.map((a) => a.fetched_at).filter(Boolean).sort()[0];
  const counts = state.area.map((a) => el("li", {}, t("area_layer_count", {
    layer: formTitle(a.layer), n: fmtNumber((a.collection.features || []).length),
  })));
  info.replaceChildren(el("p", {}, t("area_fetched", { when: fmtTime(fetched) })), el("ul", { class: "fd-counts" }, counts));
}

async function useView() {
  const bbox = viewBbox();
  const msg = $("area-msg");
  if (bbox[2] - bbox[0] > MAX_BOX_DEG || bbox[3] - bbox[1] > MAX_BOX_DEG) {
    msg.textContent = t("area_too_big", { max: MAX_BOX_DEG });
    return;
  }
  if (!navigator.onLine) {
    msg.textContent = t("area_offline");
    return;
  }
  msg.textContent = t("area_fetching");
  $("use-view").disabled = true;
  try {
    const result = await refreshArea({ db: state.db, base: BASE, token: state.token, bbox });
    if (result && result.error) {
      msg.textContent = t("area_error", { detail: result.error });
      return;
    }
    await setMeta(state.db, "form_order", await fetchForms({ db: state.db, base: BASE, token: state.token }));
    await loadForms();
    state.area = await listArea(state.db);
    fillKinds();
    await showArea(state.area);
    renderArea();
    msg.textContent = "";
    const n = state.area.reduce((s, a) => s + (a.collection.features || []).length, 0);
    announce(t("area_done", { n }));
    document.body.dataset.area = String(Number(document.body.dataset.area || 0) + 1);
  } catch (err) {
    msg.textContent = t("area_error", { detail: err.message || String(err) });
  } finally {
    $("use-view").disabled = false;
  }
}

// --- start --------------------------------------------------------------------------------------

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("sw.js", { scope: "./" })
    .then(() => navigator.serviceWorker.ready)
    .then(() => { document.body.dataset.sw = "ready"; })
    .catch(() => { document.body.dataset.sw = "failed"; });
}

async function boot() {
  registerWorker();
  state.db = await openDb();
  await loadStrings(initialLang(await getMeta(state.db, "lang")));
  renderNet();
  for (const b of document.querySelectorAll(".lang-btn")) b.addEventListener("click", () => setLang(b.dataset.lang));
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("token").value.trim();
    if (token) signIn(token);
  });
  $("signout").addEventListener("click", signOut);
  for (const v of VIEWS) $(`tab-${v}`).addEventListener("click", () => showView(v));
  $("outbox-badge").addEventListener("click", () => showView("outbox"));
  $("use-view").addEventListener("click", useView);
  $("details-close").addEventListener("click", () => { details = null; renderDetails(); });
  $("details-edit").addEventListener("click", () => {
    if (details && startEdit(details)) showView("record");
  });
  initRecord({ saved: async () => { await refreshOutbox(); showView("outbox"); } });
  initOutbox({
    edit: async (item) => { if (await startItem(item)) showView("record"); },
    synced: async () => { /* the outbox is redrawn by runSync */ },
  });
  window.addEventListener("online", () => { state.syncFailed = false; renderNet(); runSync(false); });
  window.addEventListener("offline", renderNet);
  document.addEventListener("field-net", renderNet);
  state.token = await getMeta(state.db, "token");
  if (state.token) await enterApp();
  else $("signin").hidden = false;
  if (recording()) showView("record");
  document.body.dataset.ready = "true";
}

boot();
