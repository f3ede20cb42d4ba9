// demine field app: what every part of the page shares — the state, the strings (i18n/*.json,
// the app's own; form labels come from the form specifications), small DOM helpers and the
// announcement region.

export const LANGS = ["en", "uk"];
// the server's root (the page is at ROOT/field/): API calls go to ROOT/api/v1/...
export const BASE = new URL("../", window.location.href).href.replace(/\/$/, "");

export const state = {
  db: null,
  lang: "en",
  strings: {},
  token: null,
  role: null,
  forms: [], // cached specifications (db "forms")
  area: [], // cached work area entries (db "area")
  items: [], // the outbox
  online: navigator.onLine,
  syncFailed: false, // the last sync found no connection
  syncing: false,
  view: "area",
};

export const $ = (id) => document.getElementById(id);

export function t(key, vars = {}) {
  let s = state.strings[key];
  if (s === undefined) s = key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? `{${k}}` : String(vars[k])));
}

export function el(tag, attrs = {}, ...children) {
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

export const locale = () => (state.lang === "uk" ? "uk-UA" : "en-GB");
export const fmtNumber = (n, digits = 0) =>
  new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

// a text in the page's language from a {"en", "uk"} object of the form specification
export const tr = (obj) => (obj && typeof obj === "object" ? obj[state.lang] || obj.en || "" : obj || "");

export function formTitle(kind) {
  const spec = state.forms.find((f) => f.kind === kind);
  return spec ? tr(spec.title) : kind;
}

export function announce(text) {
  // cleared first so that the same text twice is read twice
  const box = $("announce");
  box.textContent = "";
  window.setTimeout(() => { box.textContent = text; }, 30);
}

export async function loadStrings(lang) {
  const r = await fetch(`../static/field/i18n/${lang}.json`);
  state.strings = await r.json();
  state.lang = lang;
  document.documentElement.lang = lang;
  document.title = t("page_title");
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of e.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      e.setAttribute(attr, t(key));
    }
  }
  for (const b of document.querySelectorAll(".lang-btn")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  document.body.dataset.lang = lang;
}

// what the app must tell the user about a sync's summary (F2's sync())
export function syncSummary(s) {
  if (s.auth_failed) return t("sync_auth_failed");
  if (s.offline) return t("sync_offline");
  if (s.error) return t("sync_error", { detail: s.error });
  return t("sync_done", {
    sent: s.sent || 0,
    already: s.already || 0,
    conflicts: s.conflicts || 0,
    invalid: s.invalid || 0,
    photos: s.photos || 0,
    pulled: s.pulled || 0,
  });
}
