// demine: the land-status extract check (docs/extract.md). Plain ES module, no build step.
// The file given is sent as it is to POST api/v1/extracts/verify; the answer is shown in the
// chosen language. Its strings are here, in both languages (the page has no others).
const LANGS = ["uk", "en"];
const LANG_KEY = "demine.lang"; // shared with the map page
const TEXT = {
  uk: {
    title: "Перевірка витягу про стан земельної ділянки",
    not_safe: "Витяг показує лише те, що зареєстровано. Відсутність записів не є доказом безпеки.",
    help: "Оберіть або перетягніть сюди файл витягу (PDF, HTML або JSON). Підпис і записи перевіряє сервер органу, що видав витяг.",
    expect: "Очікується витяг № {id} з QR-коду.",
    file: "Файл витягу",
    paste: "…або вставте JSON витягу",
    check: "Перевірити",
    checking: "Перевіряємо…",
    none: "Оберіть файл або вставте JSON витягу.",
    ok: "Підпис дійсний. Відтоді записи для цього місця не змінилися.",
    changed: "Підпис дійсний, але записи для цього місця змінилися з {date}: {n}. Попросіть новий витяг.",
    not_extract: "Це не витяг demine, або його пошкоджено.",
    unknown_key: "Підпис зроблено невідомим ключем: витяг видав не цей орган.",
    bad_signature: "Підпис НЕДІЙСНИЙ: витяг змінено або підроблено.",
    changed_file: "Підпис НЕДІЙСНИЙ: вміст документа змінено.",
    revoked: "Ключ, яким підписано витяг, відкликано: витяг недійсний.",
    other_id: "Увага: це інший витяг, ніж той, на який вказує QR-код ({id}).",
    error: "Не вдалося перевірити: {status}. Спробуйте ще раз.",
    too_large: "Файл завеликий: витяг не більший за 10 МіБ.",
    id: "Номер витягу", issued: "Видано (UTC)", as_of: "Станом на", authority: "Видав", key: "Ключ",
    added: "додано", removed: "вилучено", changed_rec: "змінено",
    hazards: "небезпечна територія", releases: "вивільнення території", eo_reports: "повідомлення про вибухонебезпечний предмет", activities: "роботи",
    safety: "Якщо ви побачили вибухонебезпечний предмет: не торкайтеся і не наближайтеся, поверніться тим самим шляхом і зателефонуйте 101.",
  },
  en: {
    title: "Check a land-status extract",
    not_safe: "An extract states only what is recorded. No record is not proof of safety.",
    help: "Choose or drop an extract file here (PDF, HTML or JSON). The issuing authority's server checks its signature and records.",
    expect: "Expecting extract {id} from the QR code.",
    file: "Extract file",
    paste: "…or paste the extract's JSON",
    check: "Check",
    checking: "Checking…",
    none: "Choose a file or paste an extract's JSON.",
    ok: "The signature is valid. The records for this place have not changed since.",
    changed: "The signature is valid, but the records for this place have changed since {date}: {n}. Ask for a new extract.",
    not_extract: "This is not a demine extract, or it is damaged.",
    unknown_key: "Signed with an unknown key: this authority did not issue it.",
    bad_signature: "The signature is NOT valid: the extract was changed or forged.",
    changed_file: "The signature is NOT valid: the document's content was changed.",
    revoked: "The key that signed this extract was revoked: the extract is not valid.",
    other_id: "Note: this is another extract than the one the QR code names ({id}).",
    error: "Could not check it: {status}. Please try again.",
    too_large: "The file is too large: an extract is at most 10 MiB.",
    id: "Extract number", issued: "Issued (UTC)", as_of: "As of", authority: "Issued by", key: "Key",
    added: "added", removed: "removed", changed_rec: "changed",
    hazards: "hazardous area", releases: "land release", eo_reports: "explosive object report", activities: "activity",
    safety: "If you see an explosive object: do not touch or approach it, leave the way you came, and call 101.",
  },
};
const MAX_BYTES = 10 * 1024 * 1024;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const expected = params.get("extract");
const expectedDigest = (params.get("digest") || "").toLowerCase();
let lang = "uk";
let last = null; // the last answer {kind, data}

function t(key, vars = {}) {
  const s = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? `{${k}}` : String(vars[k])));
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setLang(l) {
  lang = LANGS.includes(l) ? l : "uk";
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* private mode */ }
  document.documentElement.lang = lang;
  document.title = `${t("title")} — demine`;
  for (const [id, key] of [["title", "title"], ["not-safe", "not_safe"], ["help", "help"],
    ["file-label", "file"], ["paste-label", "paste"], ["check", "check"], ["safety", "safety"]]) {
    $(id).textContent = t(key);
  }
  if (expected) { $("expect").hidden = false; $("expect").textContent = t("expect", { id: expected }); }
  for (const b of document.querySelectorAll(".lang-btn")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }
  if (last) show(last);
}

function show(answer) {
  last = answer;
  const box = $("result");
  box.replaceChildren();
  if (answer.kind === "text") {
    box.append(el("p", "bad", t(answer.key, answer.vars)));
    return;
  }
  const d = answer.data;
  let cls = "bad";
  let msg = t(d.reason in TEXT.en ? d.reason : "not_extract");
  if (d.valid && d.changed) {
    cls = "changed";
    msg = t("changed", { date: d.as_of, n: d.changes.length });
  } else if (d.valid) {
    cls = "ok";
    msg = t("ok");
  }
  const div = el("div", cls);
  div.dataset.result = d.valid ? (d.changed ? "changed" : "valid") : "invalid";
  div.append(el("p", "", msg));
  const otherDigest = expectedDigest && !(d.digest || "").startsWith(expectedDigest);
  if (d.valid && expected && (d.extract_id !== expected || otherDigest)) div.append(el("p", "", t("other_id", { id: expected })));
  if (d.valid) {
    const dl = el("dl");
    for (const [k, v] of [["id", d.extract_id], ["issued", d.issued_at], ["as_of", d.as_of],
      ["authority", d.authority], ["key", d.key_id]]) {
      dl.append(el("dt", "", t(k)), el("dd", "", v ?? "—"));
    }
    div.append(dl);
  }
  if (d.changes && d.changes.length) {
    const ul = el("ul");
    for (const c of d.changes) {
      const what = c.change === "changed" ? t("changed_rec") : t(c.change);
      ul.append(el("li", "", `${what}: ${t(c.kind)} ${c.id}`));
    }
    div.append(ul);
  }
  box.append(div);
}

async function check(body) {
  show({ kind: "text", key: "checking" });
  $("result").firstChild.className = "";
  let r;
  try {
    r = await fetch("api/v1/extracts/verify", {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body,
    });
  } catch {
    show({ kind: "text", key: "error", vars: { status: "—" } });
    return;
  }
  if (r.ok) {
    show({ kind: "data", data: await r.json() });
  } else if (r.status === 400 || r.status === 422) {
    show({ kind: "text", key: "not_extract" });
  } else if (r.status === 413) {
    show({ kind: "text", key: "too_large" });
  } else {
    show({ kind: "text", key: "error", vars: { status: r.status } });
  }
}

async function submit(ev) {
  ev.preventDefault();
  const file = $("file").files[0];
  const text = $("paste").value.trim();
  if (file) {
    if (file.size > MAX_BYTES) { show({ kind: "text", key: "too_large" }); return; }
    await check(await file.arrayBuffer());
  } else if (text) {
    await check(new TextEncoder().encode(text));
  } else {
    show({ kind: "text", key: "none" });
  }
}

function init() {
  let saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch { /* private mode */ }
  for (const b of document.querySelectorAll(".lang-btn")) b.addEventListener("click", () => setLang(b.dataset.lang));
  $("form").addEventListener("submit", submit);
  $("file").addEventListener("change", () => { if ($("file").files[0]) $("form").requestSubmit(); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer.files[0];
    if (f) {
      if (f.size > MAX_BYTES) show({ kind: "text", key: "too_large" });
      else f.arrayBuffer().then(check);
    }
  });
  setLang(saved || (navigator.language || "").startsWith("en") ? (saved || "en") : "uk");
}

init();
