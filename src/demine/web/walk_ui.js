// The "Warnings where you walk" card of the public map (issue 15; docs/web.md). It fills the
// page's <section id="walk-card"> and follows the page's language (<html lang>). The logic is
// walk.js's; this module only shows it.
import { AreaSource, Alarm, DEFAULT_DISTANCE, DISTANCES, PackSource, Walker } from "./walk.js";
import { whenPack } from "./pack_view.js";

const TEXT = {
  en: {
    heading: "Warnings where you walk",
    help:
      "While this is on, your phone warns you (on screen, with sound and vibration) when you " +
      "come within the chosen distance of a recorded hazard or of an unverified report by a " +
      "civilian. The area around you is kept on the phone, so it keeps warning with no " +
      "connection. It cannot know of hazards nobody has reported: no warning is not proof of " +
      "safety. Keep the screen on.",
    distance: "Warn me within",
    metres: (n) => `${n} m`,
    start: "Start warnings",
    stop: "Stop warnings",
    waiting: "Waiting for your position…",
    fetching: "Fetching the hazards around you…",
    clear: (d, acc) => `No recorded hazard or report within ${d} m (position ± ${acc} m).`,
    rough: (acc) => `Your position is too rough to warn reliably (± ${acc} m). Stay on known paths.`,
    nodata:
      "There is no hazard data on this phone for where you are: warnings are off here. " +
      "Connect to the internet once to fetch the area.",
    held: (n, r, when) => `On this phone: ${n} hazards and ${r} reports around you, fetched ${when}.`,
    truncated: "The area holds more hazards than the phone could fetch: some may be missing.",
    pack: (where, when) => `Hazards from the offline pack of ${where}, published ${when}.`,
    denied: "The browser was not allowed to use your position: allow it in the site settings.",
    unavailable: "Your position is not available now. Warnings resume when it is.",
    unsupported: "This browser cannot give your position.",
    near: (what, d) =>
      `DANGER: ${what} ${d} m away. Stop. Do not go further. Go back the way you came. ` +
      "Call 101.",
    inside:
      "DANGER: you are inside a recorded hazard area. Stop. Do not touch anything. Go back " +
      "exactly the way you came, step by step. Call 101.",
    hazard: "a recorded hazard",
    report: "an unverified report of an explosive object",
    off: "Warnings are off.",
  },
  uk: {
    heading: "Попередження під час руху",
    help:
      "Поки це ввімкнено, телефон попереджає вас (на екрані, звуком і вібрацією), коли ви " +
      "наближаєтеся на вибрану відстань до зареєстрованої небезпечної території або до " +
      "неперевіреного повідомлення цивільних. Дані про місцевість навколо вас зберігаються на " +
      "телефоні, тож попередження працюють і без зв’язку. Телефон не знає про небезпеки, про " +
      "які ніхто не повідомив: відсутність попередження не доводить безпечність. Не вимикайте " +
      "екран.",
    distance: "Попереджати за",
    metres: (n) => `${n} м`,
    start: "Увімкнути попередження",
    stop: "Вимкнути попередження",
    waiting: "Очікуємо ваше місцезнаходження…",
    fetching: "Завантажуємо дані про небезпеки навколо вас…",
    clear: (d, acc) =>
      `У межах ${d} м немає зареєстрованих небезпек чи повідомлень (точність ± ${acc} м).`,
    rough: (acc) =>
      `Місцезнаходження визначено надто грубо (± ${acc} м), щоб надійно попереджати. ` +
      "Тримайтеся відомих стежок.",
    nodata:
      "На телефоні немає даних про небезпеки для місця, де ви є: тут попередження не працюють. " +
      "Підключіться до інтернету хоча б раз, щоб завантажити місцевість.",
    held: (n, r, when) =>
      `На телефоні: небезпечних територій — ${n}, повідомлень — ${r} навколо вас; завантажено ${when}.`,
    truncated:
      "Небезпек у цій місцевості більше, ніж телефон зміг завантажити: деяких може бракувати.",
    pack: (where, when) => `Небезпеки з офлайн-пакета «${where}», опублікованого ${when}.`,
    denied:
      "Браузеру не дозволено визначати ваше місцезнаходження: дозвольте це в налаштуваннях сайту.",
    unavailable: "Місцезнаходження зараз недоступне. Попередження відновляться, щойно воно з’явиться.",
    unsupported: "Цей браузер не може визначити ваше місцезнаходження.",
    near: (what, d) =>
      `НЕБЕЗПЕКА: ${what} за ${d} м. Зупиніться. Не йдіть далі. Поверніться тим шляхом, ` +
      "яким прийшли. Телефонуйте 101.",
    inside:
      "НЕБЕЗПЕКА: ви на зареєстрованій небезпечній території. Зупиніться. Нічого не торкайтеся. " +
      "Поверніться точно тим шляхом, яким прийшли, крок за кроком. Телефонуйте 101.",
    hazard: "зареєстрована небезпечна територія",
    report: "неперевірене повідомлення про вибухонебезпечний предмет",
    off: "Попередження вимкнено.",
  },
};

const lang = () => (document.documentElement.lang === "uk" ? "uk" : "en");
const t = (key, ...args) => {
  const v = TEXT[lang()][key];
  return typeof v === "function" ? v(...args) : v;
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children);
  return e;
}

async function fetchJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${r.status}`);
  return r.json();
}

function when(iso) {
  try {
    return new Intl.DateTimeFormat(lang() === "uk" ? "uk-UA" : "en-GB", {
      dateStyle: "medium",
      timeStyle: "short",
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

function packWhere(m) {
  const r = m.region;
  return r ? (lang() === "uk" ? r.name : r.name_en || r.name) : m.lookup.covers.map((v) => v.toFixed(2)).join(", ");
}

export function mountWalk(card) {
  let source = new AreaSource(fetchJSON);
  const alarm = new Alarm();
  const heading = el("h2", { id: "walk-heading" });
  const help = el("p", { class: "help" });
  const label = el("label", { for: "walk-distance" });
  const select = el("select", { id: "walk-distance" });
  const button = el("button", { type: "button", id: "walk-toggle", class: "primary", "aria-pressed": "false" });
  const status = el("p", { id: "walk-status", class: "walk-status", role: "status", "aria-live": "polite" });
  const held = el("p", { id: "walk-held", class: "help" });
  const alertBox = el("div", { id: "walk-alert", class: "walk-alert", role: "alert" });
  card.setAttribute("aria-labelledby", "walk-heading");
  card.replaceChildren(heading, help, el("div", { class: "grid" }, label, select), button, status, held, alertBox);

  let walker = null;
  let last = { state: "off", detail: {} };
  let fetching = false;
  let warned = null; // the last "near" or "inside" state, while no fix has ended it

  function render() {
    heading.textContent = t("heading");
    help.textContent = t("help");
    label.textContent = t("distance");
    const chosen = Number(select.value) || DEFAULT_DISTANCE;
    select.replaceChildren(
      ...DISTANCES.map((d) => el("option", { value: String(d), selected: d === chosen }, t("metres", d))),
    );
    button.textContent = walker ? t("stop") : t("start");
    button.setAttribute("aria-pressed", walker ? "true" : "false");
    const { state, detail } = last;
    const acc = Math.round(detail.accuracy ?? 0);
    const d = Number(select.value) || DEFAULT_DISTANCE;
    status.textContent =
      fetching ? t("fetching")
      : state === "waiting" ? t("waiting")
      : state === "clear" ? t("clear", d, acc)
      : state === "rough" ? t("rough", acc)
      : state === "no-data" ? t("nodata")
      : state === "error" ? t(detail.code || "unavailable")
      : state === "off" ? (walker ? "" : t("off"))
      : "";
    const area = source.area;
    held.textContent = area && area.pack
      ? t("pack", packWhere(area.pack), when(area.pack.created))
      : area
      ? t(
          "held",
          area.features.filter((f) => f.kind === "hazard").length,
          area.features.filter((f) => f.kind === "report").length,
          when(area.fetched_at),
        ) + (area.truncated ? ` ${t("truncated")}` : "")
      : "";
    // a lost position (an error) keeps the last warning: only a new fix may end it
    if (state === "near" || state === "inside") warned = last;
    else if (state !== "error") warned = null;
    const danger = warned !== null;
    card.classList.toggle("walk-danger", danger);
    if (!danger) alertBox.textContent = "";
    else if (warned.state === "inside") alertBox.textContent = t("inside");
    else {
      const n = warned.detail.nearest || {};
      alertBox.textContent = t("near", t(n.kind === "report" ? "report" : "hazard"), Math.max(0, Math.round(n.distance_m ?? 0)));
    }
  }

  async function onState(state, detail) {
    last = { state, detail };
    if (state === "no-data" && navigator.onLine && !fetching && walker) {
      fetching = true;
      render();
      try {
        await source.fetch(detail.lat, detail.lon);
      } catch {
        /* offline after all: keep what the phone holds */
      }
      fetching = false;
      if (walker) walker.fix(detail.lat, detail.lon, detail.accuracy);
      return;
    }
    render();
  }

  button.addEventListener("click", async () => {
    if (walker) {
      walker.stop();
      walker = null;
      render();
      return;
    }
    alarm.unlock(); // the press is the gesture browsers need before a sound
    const pack = await whenPack(); // an offline safety pack named for the map: its hazards
    if (pack && !(source instanceof PackSource)) source = new PackSource(pack, source);
    await source.load();
    walker = new Walker({
      source,
      distance: Number(select.value) || DEFAULT_DISTANCE,
      onState,
      alert: (state) => alarm.ring(state === "inside"),
    });
    walker.start();
    if ("wakeLock" in navigator) navigator.wakeLock.request("screen").catch(() => {});
    render();
  });
  select.addEventListener("change", () => {
    if (walker) walker.distance = Number(select.value);
    render();
  });
  new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  source.load().then(render);
  render();
  return { get source() { return source; }, get walker() { return walker; } };
}

const card = document.getElementById("walk-card");
if (card) mountWalk(card);
