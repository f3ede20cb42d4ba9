// "Report an explosive object" on the public map (issue 15, docs/civilian-reports.md): the
// place (a tap on the map, typed coordinates read by coords.js, or the phone's position with its
// accuracy), what was seen (pictures of the server's object types), a photo, when, and an
// optional contact with consent. Sent with report_client.js (proof of work, post, photo); the
// answer is the tracking code and a link to its status page. The form never asks anyone to go
// closer, touch or move anything: its first lines repeat the safety block.
import { parseCoordinates } from "./coords.js";
import { sendReport, uploadPhoto } from "./report_client.js";

const MAX_PHOTO = 10 * 1024 * 1024;
let ui = null; // the page's helpers: t, el, errorText, geoErrorText, fmtCoord, setPicking, flyTo
const place = { lat: null, lon: null, accuracy: null, how: null };
let sending = false;

const $ = (id) => document.getElementById(id);

function showPlace() {
  const box = $("report-place");
  if (place.lat === null) {
    box.textContent = "";
    return;
  }
  const where = ui.fmtCoord(place.lat, place.lon);
  box.textContent = typeof place.accuracy === "number"
    ? ui.t("report_place_accuracy", { place: where, m: Math.round(place.accuracy) })
    : ui.t("report_place_chosen", { place: where });
}

function setPlace(lat, lon, accuracy, how) {
  Object.assign(place, { lat, lon, accuracy, how });
  showPlace();
}

// a tap on the map while the form waits for one (app.js calls it)
export function reportPickAt(lat, lon) {
  setPlace(Number(lat.toFixed(6)), Number(lon.toFixed(6)), null, "map");
  $("report-q").value = ui.fmtCoord(lat, lon);
  $("report-q").focus();
}

function localNow() {
  const d = new Date();
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function fail(text) {
  const box = $("report-result");
  box.className = "result level-none";
  box.replaceChildren(ui.el("p", { class: "error" }, text));
}

// the server names each fault (422 errors: [{field, reason}]); the page names the field in its
// own language (the reason is the server's English, shown on the English page only)
function refusedText(err) {
  const faults = err.problem && Array.isArray(err.problem.errors) ? err.problem.errors : null;
  if (err.status === 422 && faults && faults.length) {
    const names = faults.map((f) => ui.code("report_field_", f.field) || f.field);
    return ui.t("report_refused", { fields: names.join(", ") });
  }
  if (err.status === 409) return ui.t("report_again");
  return ui.errorText(err);
}

function readForm() {
  if (place.lat === null) {
    const typed = $("report-q").value.trim();
    if (!typed) return { error: ui.t("report_need_place") };
    const got = parseCoordinates(typed);
    if (got.error) return { error: ui.t(got.error, got.vars) };
    setPlace(got.lat, got.lon, null, "typed");
  }
  const type = document.querySelector("input[name='object_type']:checked");
  if (!type) return { error: ui.t("report_need_object") };
  const when = $("report-when").value;
  const seen = when ? new Date(when) : new Date();
  if (Number.isNaN(seen.getTime())) return { error: ui.t("report_bad_when") };
  if (seen.getTime() > Date.now() + 5 * 60_000) return { error: ui.t("report_future") };
  const contact = $("report-contact").value.trim();
  const consent = $("report-consent").checked;
  if (contact && !consent) return { error: ui.t("report_need_consent") };
  const photo = $("report-photo").files && $("report-photo").files[0];
  if (photo && photo.size > MAX_PHOTO) return { error: ui.t("report_photo_big") };
  if (photo && !["image/jpeg", "image/png"].includes(photo.type)) return { error: ui.t("report_photo_type") };
  return {
    fields: {
      lat: place.lat,
      lon: place.lon,
      accuracy_m: typeof place.accuracy === "number" ? Math.min(100_000, Math.round(place.accuracy)) : null,
      place_text: $("report-place-text").value.trim() || null,
      object_type: type.value,
      seen_at: seen.toISOString(),
      description: $("report-description").value.trim() || null,
      contact: contact || null,
      contact_consent: Boolean(contact && consent),
    },
    photo,
  };
}

async function submit(e) {
  e.preventDefault();
  if (sending) return;
  const got = readForm();
  if (got.error) {
    fail(got.error);
    return;
  }
  sending = true;
  $("report-send").disabled = true;
  const box = $("report-result");
  box.className = "result";
  box.replaceChildren(ui.el("p", {}, ui.t("report_sending")));
  try {
    const sent = await sendReport("", got.fields);
    let photoNote = null;
    if (got.photo) {
      box.replaceChildren(ui.el("p", {}, ui.t("report_sending_photo")));
      try {
        await uploadPhoto("", sent, got.photo);
        photoNote = ui.t("report_photo_sent");
      } catch (err) {
        photoNote = ui.t("report_photo_failed", { reason: refusedText(err) });
      }
    }
    const link = sent.page_url || `report/${encodeURIComponent(sent.code)}`;
    box.className = "result level-sent";
    box.replaceChildren(
      ui.el("p", { class: "msg" }, ui.t("report_sent")),
      ui.el("p", {}, ui.t("report_code"), " ", ui.el("strong", { class: "code", "data-code": sent.code }, sent.code)),
      ui.el("p", {}, ui.el("a", { href: link, class: "code-link" }, ui.t("report_status_link"))),
      photoNote ? ui.el("p", { class: "help" }, photoNote) : null,
      ui.el("p", { class: "answer-safety" }, ui.t("report_after")),
    );
    window.demine.reportCode = sent.code;
    ui.sent(got.fields);
  } catch (err) {
    fail(refusedText(err));
  } finally {
    sending = false;
    $("report-send").disabled = false;
  }
}

export function initReportForm(helpers) {
  ui = helpers;
  const toggle = $("report-toggle");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    $("report-body").hidden = !open;
    if (open && !$("report-when").value) $("report-when").value = localNow();
    if (!open) ui.setPicking(false);
  });
  $("report-pick").addEventListener("click", () => {
    ui.setPicking($("report-pick").getAttribute("aria-pressed") !== "true");
  });
  $("report-locate").addEventListener("click", () => {
    if (!navigator.geolocation) {
      fail(ui.t("geo_unavailable"));
      return;
    }
    $("report-place").textContent = ui.t("report_locating");
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setPlace(Number(pos.coords.latitude.toFixed(6)), Number(pos.coords.longitude.toFixed(6)), pos.coords.accuracy, "device");
        $("report-q").value = ui.fmtCoord(pos.coords.latitude, pos.coords.longitude);
        ui.flyTo(pos.coords.latitude, pos.coords.longitude);
      },
      (err) => {
        $("report-place").textContent = "";
        fail(ui.geoErrorText(err));
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
    );
  });
  // typing coordinates replaces a tapped or located place
  $("report-q").addEventListener("input", () => {
    Object.assign(place, { lat: null, lon: null, accuracy: null, how: null });
    const got = parseCoordinates($("report-q").value);
    if (!got.error) setPlace(got.lat, got.lon, null, "typed");
    else showPlace();
  });
  $("report-form").addEventListener("submit", submit);
  new MutationObserver(showPlace).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
}
