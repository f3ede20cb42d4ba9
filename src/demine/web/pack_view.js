// The public map with an offline safety pack (issue 15; docs/publish.md "The map and a pack").
//
// A pack is named by the server (demine serve --pack-url: /api/v1/map/config's "pack"), by the
// page's address (?pack=URL: this site's, or https), or, with no server to ask, by the pack the
// person kept on this phone. Then:
// - the hazards layer draws from the pack's PMTiles archive (packStyle), and, with no demine
//   server at all (the page on a static host next to a pack), the map starts from pack.json
//   (packConfig) with the pack's settlements, roads and unverified reports;
// - a place check is answered by pack.lookup when the API cannot be reached (packCheck);
// - the "Keep this region on this phone" card (<section id="pack-card">) asks the service worker
//   (sw.js: keep-pack / drop-packs) to hold every file of the pack, so that the map, the check
//   and the walking warnings (walk_ui.js, whenPack) work with no connection in that region.
// app.js calls the hooks packConfig, packStyle, packCheck and packQuiet; nothing else of it is
// touched. The card's strings are its own (uk, en), following <html lang>.

const KEPT_KEY = "demine.pack"; // localStorage: the kept pack {url, id, created, bytes, region}

const TEXT = {
  en: {
    heading: "Keep this region on this phone",
    help:
      "Keeps this region's hazard map and the place check on this phone, so that they work with " +
      "no connection anywhere in the region (and the walking warnings too). It holds what was " +
      "recorded when the data was published, not since.",
    region: (name, date) => `${name}: data of ${date}.`,
    box: (b) => `The area ${b.map((v) => v.toFixed(2)).join(", ")} (W, S, E, N)`,
    size: (s) => `About ${s} on the phone.`,
    kept: (s, date) => `Kept on this phone: ${s}, data of ${date}.`,
    keep: "Keep on this phone",
    remove: "Remove from this phone",
    keeping: "Keeping the region on this phone…",
    removed: "Removed from this phone.",
    failed: (why) => `Could not keep the region: ${why}`,
    noWorker: "This browser cannot keep files for this page (no service worker here).",
    synthetic: "Synthetic demonstration data: not real hazards.",
    refused: (u) =>
      `The pack address “${u}” was refused: only this site's own addresses or https:// ones ` +
      "are read. The map shows the server's data.",
    unreadable: (u, why) => `The offline pack at “${u}” could not be read (${why}).`,
    answered: (date) => `The last check was answered from the offline pack (data of ${date}).`,
    outside: "This place is outside the offline pack's area: it cannot be checked here.",
  },
  uk: {
    heading: "Зберегти цей регіон на телефоні",
    help:
      "Зберігає карту небезпек цього регіону і перевірку місця на телефоні, щоб вони працювали " +
      "без зв’язку будь-де в регіоні (і попередження під час руху теж). Дані — ті, що були " +
      "зареєстровані на час публікації, не пізніші.",
    region: (name, date) => `${name}: дані на ${date}.`,
    box: (b) => `Територія ${b.map((v) => v.toFixed(2)).join(", ")} (З, П, С, Пн)`,
    size: (s) => `Займе на телефоні близько ${s}.`,
    kept: (s, date) => `Збережено на телефоні: ${s}, дані на ${date}.`,
    keep: "Зберегти на телефоні",
    remove: "Видалити з телефона",
    keeping: "Зберігаємо регіон на телефоні…",
    removed: "Видалено з телефона.",
    failed: (why) => `Не вдалося зберегти регіон: ${why}`,
    noWorker: "Цей браузер не може зберігати файли цієї сторінки (немає service worker).",
    synthetic: "Синтетичні демонстраційні дані: не справжні небезпеки.",
    refused: (u) =>
      `Адресу пакета «${u}» відхилено: читаються лише адреси цього сайту або https://. ` +
      "Карта показує дані сервера.",
    unreadable: (u, why) => `Не вдалося прочитати офлайн-пакет «${u}» (${why}).`,
    answered: (date) => `Останню перевірку виконано за офлайн-пакетом (дані на ${date}).`,
    outside: "Це місце поза територією офлайн-пакета: тут його не перевірити.",
  },
};

const lang = () => (document.documentElement.lang === "uk" ? "uk" : "en");
const t = (key, ...args) => {
  const v = TEXT[lang()][key];
  return typeof v === "function" ? v(...args) : v;
};

const state = { pack: null, url: null, noApi: false, refused: null, error: null, tileFn: null, tilesUrl: null };
let resolvePack;
const packPromise = new Promise((r) => (resolvePack = r));

/** The pack the map reads (its openPack object), or null: once the page knows. */
export const whenPack = () => packPromise;
/** True when there is no demine server behind the page (a static host): its errors are noise. */
export const packQuiet = () => state.noApi;

/** ?pack=URL of the page: {url} (resolved), {error: text} when refused, or null. */
export function packParam(href = globalThis.location.href) {
  const raw = new URL(href).searchParams.get("pack");
  if (raw === null || raw.trim() === "") return null;
  let u;
  try {
    u = new URL(raw.trim(), href);
  } catch {
    return { error: raw };
  }
  const here = new URL(href);
  const same = u.origin === here.origin && (u.protocol === "http:" || u.protocol === "https:");
  if (!(same || u.protocol === "https:") || u.username || u.password) return { error: raw };
  u.hash = "";
  u.search = "";
  return { url: u.href };
}

function kept() {
  try {
    return JSON.parse(localStorage.getItem(KEPT_KEY) || "null");
  } catch {
    return null;
  }
}

function setKept(v) {
  try {
    if (v) localStorage.setItem(KEPT_KEY, JSON.stringify(v));
    else localStorage.removeItem(KEPT_KEY);
  } catch {
    /* a private window: the card forgets, the worker still holds the files */
  }
}

/** The map's config with the pack: app.js passes the promise of GET /api/v1/map/config. */
export async function packConfig(apiConfig) {
  const param = packParam();
  if (param && param.error) state.refused = param.error;
  let config = null;
  let apiErr = null;
  try {
    config = await apiConfig;
  } catch (err) {
    apiErr = err;
  }
  const url = (param && param.url) || (config && config.pack && config.pack.url) || (!config && kept()?.url) || null;
  if (!url) {
    resolvePack(null);
    mountCard();
    if (apiErr) throw apiErr;
    return config;
  }
  try {
    const { openPack } = await import("./pack.js");
    const pack = await openPack(url);
    // the PMTiles protocol's handler, registered with MapLibre in packStyle (synchronously)
    state.tilesUrl = await pack.registerProtocol({ addProtocol: (_, fn) => (state.tileFn = fn) });
    state.pack = pack;
    state.url = new URL(url, globalThis.location.href).href;
  } catch (err) {
    state.error = { url, why: String(err && err.message ? err.message : err) };
  }
  resolvePack(state.pack);
  mountCard();
  if (!state.pack) {
    if (apiErr) throw apiErr;
    return config;
  }
  if (!config) {
    state.noApi = true;
    config = configOf(state.pack.meta);
  }
  return { ...config, pack: { url: state.url } };
}

function configOf(meta) {
  // what /api/v1/map/config would say, from pack.json: no server, no base map, no regions
  const ids = ["hazards", "settlements", "roads"].filter((id) => meta.layers && id in meta.layers);
  return {
    synthetic: Boolean(meta.synthetic),
    notice: meta.synthetic ? meta.synthetic_notice : null,
    notice_uk: null, // pack.json holds the synthetic notice in English only
    tile_url: null,
    tile_attribution: null,
    bounds: meta.bbox,
    collections: ids.map((id) => ({ id, title: id, geometry_type: "geometry", tiles: "", tilejson: "" })),
    regions: null,
    role: "public",
  };
}

/** The map's style with the pack: hazards (and, with no server, the reference layers and the
 * unverified reports) from its PMTiles archive. */
export function packStyle(style, maplibregl) {
  if (!state.pack) return style;
  if (!packStyle.registered) {
    maplibregl.addProtocol("pmtiles", state.tileFn);
    packStyle.registered = true;
  }
  const attribution = (state.pack.meta.credits || []).join("; ") || undefined;
  style.sources.hazards = { type: "vector", url: state.tilesUrl, ...(attribution ? { attribution } : {}) };
  const inPack = (id) => Boolean(state.pack.meta.layers && id in state.pack.meta.layers);
  for (const id of ["settlements", "roads"]) {
    if (!inPack(id) || !style.sources[`ref-${id}`]) continue;
    for (const layer of style.layers) if (layer.source === `ref-${id}`) layer.source = "hazards";
    delete style.sources[`ref-${id}`];
  }
  if (state.noApi && inPack("unverified_reports")) {
    const at = style.layers.findIndex((l) => l.id === "unverified-points");
    style.layers.splice(at < 0 ? style.layers.length : at, 0, {
      id: "pack-unverified", type: "symbol", source: "hazards", "source-layer": "unverified_reports",
      layout: { "icon-image": "unverified", "icon-allow-overlap": true, "icon-ignore-placement": true },
    });
  }
  return style;
}

/** A place check: the API's answer (``ask()``), or the pack's when the API cannot be reached
 * (no connection, no server, a server error). A place outside the pack is said so. */
export async function packCheck(ask, lat, lon, radius) {
  const box = document.getElementById("place-result");
  if (!state.pack) return ask();
  if (!state.noApi) {
    try {
      const data = await ask();
      if (box) box.dataset.source = "api";
      return data;
    } catch (err) {
      if (!(err.offline || err.name === "TypeError" || err.status === 404 || err.status >= 500)) throw err;
    }
  }
  let data;
  try {
    data = await state.pack.lookup(lat, lon, Math.min(radius, state.pack.meta.lookup.max_radius_m));
  } catch (err) {
    const e = new Error(err instanceof RangeError ? t("outside") : String(err.message || err));
    e.status = 400;
    throw e;
  }
  if (box) box.dataset.source = "pack";
  answered = true;
  renderCard();
  return data;
}

// --- the card ------------------------------------------------------------------------------------

let card = null;
let answered = false;
const ui = {};
let busy = null; // "keeping" | "removed" | {failed: why} | null

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function fmtBytes(n) {
  const f = new Intl.NumberFormat(lang() === "uk" ? "uk-UA" : "en-GB", { maximumFractionDigits: 1 });
  const uk = lang() === "uk";
  if (n >= 1e6) return `${f.format(n / 1e6)} ${uk ? "МБ" : "MB"}`;
  return `${f.format(Math.max(1, Math.round(n / 1e3)))} ${uk ? "КБ" : "KB"}`;
}

function fmtDate(iso) {
  try {
    return new Intl.DateTimeFormat(lang() === "uk" ? "uk-UA" : "en-GB", { dateStyle: "long" }).format(new Date(iso));
  } catch {
    return String(iso);
  }
}

function regionName(meta) {
  const r = meta.region;
  if (r) return lang() === "uk" ? r.name : r.name_en || r.name;
  return t("box", meta.bbox);
}

/** Every file of the pack, as absolute URLs: pack.json, the archive, each index block, and the
 * reader's vendored scripts. */
export async function packFiles(pack, base) {
  const { vendorFiles } = await import("./pack.js");
  const ix = pack.meta.lookup;
  const bits = Uint8Array.from(atob(ix.present), (c) => c.charCodeAt(0));
  const urls = [new URL("pack.json", base).href, pack.tilesUrl];
  for (let r = 0; r < ix.rows; r++) {
    for (let c = 0; c < ix.cols; c++) {
      const i = r * ix.cols + c;
      if ((bits[i >> 3] >> (i & 7)) & 1) {
        urls.push(new URL(ix.path.replace("{bx}", ix.x0 + c).replace("{by}", ix.y0 + r), base).href);
      }
    }
  }
  return [...urls, ...vendorFiles()];
}

async function worker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    await navigator.serviceWorker.register(new URL("sw.js", document.baseURI).href);
  } catch {
    return null; // no worker here (a static host)
  }
  const reg = await navigator.serviceWorker.ready;
  return reg.active;
}

function ask(sw, msg) {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (e) => resolve(e.data || {});
    sw.postMessage(msg, [ch.port2]);
  });
}

async function keep() {
  const pack = state.pack;
  busy = "keeping";
  renderCard();
  const sw = await worker();
  if (!sw) {
    busy = { failed: t("noWorker") };
    renderCard();
    return;
  }
  const before = kept();
  if (before && before.id !== pack.meta.id) await ask(sw, { type: "drop-packs" }); // one pack kept
  const got = await ask(sw, { type: "keep-pack", urls: await packFiles(pack, state.url) });
  if (got.ok) {
    const m = pack.meta;
    setKept({ url: state.url, id: m.id, created: m.created, bytes: got.bytes, region: m.region });
    busy = null;
  } else {
    busy = { failed: got.error || "?" };
  }
  renderCard();
}

async function remove() {
  const sw = await worker();
  if (sw) await ask(sw, { type: "drop-packs" });
  setKept(null);
  busy = "removed";
  renderCard();
}

function mountCard() {
  card = document.getElementById("pack-card");
  if (!card) return;
  ui.heading = el("h2", { id: "pack-heading" });
  ui.synthetic = el("p", { id: "pack-synthetic", class: "pack-synthetic", role: "note" });
  ui.help = el("p", { class: "help" });
  ui.what = el("p", { id: "pack-what" });
  ui.keep = el("button", { type: "button", id: "pack-keep", class: "primary" });
  ui.remove = el("button", { type: "button", id: "pack-remove" });
  ui.status = el("p", { id: "pack-status", class: "pack-status", role: "status", "aria-live": "polite" });
  ui.keep.addEventListener("click", () => keep().catch((e) => ((busy = { failed: String(e.message || e) }), renderCard())));
  ui.remove.addEventListener("click", () => remove());
  card.setAttribute("aria-labelledby", "pack-heading");
  card.replaceChildren(ui.heading, ui.synthetic, ui.help, ui.what, el("div", { class: "buttons" }, ui.keep, ui.remove), ui.status);
  new MutationObserver(renderCard).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  renderCard();
}

function renderCard() {
  if (!card) return;
  const pack = state.pack;
  const problem = state.refused ? t("refused", state.refused) : state.error ? t("unreadable", state.error.url, state.error.why) : "";
  card.hidden = !pack && !problem;
  ui.heading.textContent = t("heading");
  ui.status.classList.toggle("error", Boolean(problem) || Boolean(busy && busy.failed));
  if (!pack) {
    for (const x of [ui.synthetic, ui.help, ui.what, ui.keep, ui.remove]) x.hidden = true;
    ui.status.setAttribute("role", "alert");
    ui.status.textContent = problem;
    return;
  }
  const m = pack.meta;
  const k = kept();
  const isKept = Boolean(k && k.id === m.id);
  ui.synthetic.hidden = !m.synthetic;
  ui.synthetic.textContent = m.synthetic ? t("synthetic") : "";
  ui.help.hidden = false;
  ui.help.textContent = t("help");
  ui.what.hidden = false;
  const size = (m.tiles.bytes || 0) + (m.lookup.bytes || 0) + 4000;
  ui.what.textContent = `${t("region", regionName(m), fmtDate(m.created))} ${
    isKept ? t("kept", fmtBytes(k.bytes), fmtDate(m.created)) : t("size", fmtBytes(size))}`;
  ui.keep.hidden = false;
  ui.keep.textContent = t("keep");
  ui.keep.disabled = busy === "keeping" || isKept;
  ui.remove.hidden = !k;
  ui.remove.textContent = t("remove");
  const lines = [];
  if (problem) lines.push(problem);
  if (busy === "keeping") lines.push(t("keeping"));
  else if (busy === "removed") lines.push(t("removed"));
  else if (busy && busy.failed) lines.push(t("failed", busy.failed));
  if (answered) lines.push(t("answered", fmtDate(m.created)));
  ui.status.textContent = lines.join(" ");
  card.dataset.kept = isKept ? "true" : "false";
}
