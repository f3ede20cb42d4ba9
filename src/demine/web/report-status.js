// The status page of a civilian's report (/report, /report/CODE): no inline script, no build
// step; strings from i18n/*.json ("report_status_*"). It shows what the status route says and
// nothing else: never a contact, a photo, a reviewer's name or reason.
const inCode = /\/report\/[^/]+\/?$/.test(location.pathname);
const root = inCode ? "../" : "";
let lang = localStorage.getItem("demine_lang") === "en" ? "en" : "uk";
let strings = {};
let last = null;

const t = (k) => strings[k] || k;

async function loadLang(next) {
  const r = await fetch(`${root}static/i18n/${next}.json`);
  strings = await r.json();
  lang = next;
  document.documentElement.lang = next;
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const b of document.querySelectorAll(".lang-btn")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === next));
  }
  render();
}

function render() {
  const label = document.getElementById("status-label");
  const text = document.getElementById("status-text");
  const upd = document.getElementById("status-updated");
  if (!last) return;
  if (last.error) {
    label.textContent = t(last.error);
    text.textContent = t("report_status_safety");
    upd.textContent = "";
    return;
  }
  label.textContent = `${last.code}: ${t("report_status_" + last.status)}`;
  text.textContent = last.text[lang];
  upd.textContent = t("report_status_updated").replace("{at}", last.updated_at);
}

async function check(code) {
  const clean = code.trim();
  if (!clean) return;
  const r = await fetch(`${root}api/v1/public/reports/${encodeURIComponent(clean)}`, {
    headers: { Accept: "application/json" },
  });
  if (r.status === 200) last = await r.json();
  else if (r.status === 404) last = { error: "report_status_unknown" };
  else if (r.status === 429) last = { error: "report_status_busy" };
  else last = { error: "report_status_failed" };
  document.getElementById("result").dataset.status = last.status || "error";
  render();
}

document.getElementById("code-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  check(document.getElementById("code").value);
});
for (const b of document.querySelectorAll(".lang-btn")) {
  b.addEventListener("click", () => {
    localStorage.setItem("demine_lang", b.dataset.lang);
    loadLang(b.dataset.lang);
  });
}

const given = inCode
  ? decodeURIComponent(location.pathname.split("/").filter(Boolean).pop())
  : new URLSearchParams(location.search).get("code");
await loadLang(lang);
if (given) {
  document.getElementById("code").value = given;
  await check(given);
}
document.body.dataset.ready = "1";
