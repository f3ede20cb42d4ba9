// demine field app: recording — a new record, an edit of a work-area record, or a correction of
// an outbox item. The form comes from the kind's specification (forms.js); the geometry is
// captured here (the phone's position with its accuracy, or a tap on the map); photos from the
// camera are kept as Blobs in IndexedDB. Saving puts a "pending" item in the outbox.
import { deleteItem, getPhoto, listPhotos, putItem, putPhoto, uuid7 } from "./db.js";
import { readForm, renderForm, showFaults, validate } from "./forms.js";
import { $, announce, el, fmtNumber, state, t, tr } from "./ui_common.js";
import { showDraft } from "./ui_map.js";

// a reference field -> the work-area layer its choices come from
const REFERENCES = { hazard_id: "hazards", activity_id: "activities" };
const LABEL_FIELDS = ["name", "reference", "local_id", "activity_type", "hazard_type"];

let rec = null; // what is being recorded (null: the panel is idle)
let onSaved = () => {};

export function initRecord({ saved }) {
  onSaved = saved;
  $("kind").addEventListener("change", () => startNew($("kind").value));
  $("geo-here").addEventListener("click", addPosition);
  $("geo-undo").addEventListener("click", () => {
    if (!rec) return;
    rec.capture.coords.pop();
    rec.capture.acc.pop();
    rec.capture.closed = false;
    geometryChanged();
  });
  $("geo-close").addEventListener("click", () => {
    if (!rec || rec.capture.coords.length < 3) {
      $("geom-status").textContent = t("geom_need_three");
      return;
    }
    rec.capture.closed = true;
    geometryChanged();
  });
  $("geo-clear").addEventListener("click", () => {
    if (!rec) return;
    Object.assign(rec.capture, { coords: [], acc: [], closed: false });
    geometryChanged();
  });
  $("photos").addEventListener("change", () => {
    if (!rec) return;
    for (const f of $("photos").files) rec.newPhotos.push(f);
    $("photos").value = "";
    renderPhotos();
  });
  $("save").addEventListener("click", save);
  $("cancel").addEventListener("click", () => {
    rec = null;
    fillKinds();
    renderIdle();
  });
}

export const recording = () => rec !== null;

// the forms the role may fill in, cached on the device
export function fillKinds() {
  const sel = $("kind");
  const keep = rec && rec.mode === "new" ? rec.kind : "";
  sel.replaceChildren(
    el("option", { value: "" }, t("record_choose")),
    ...state.forms.map((f) => el("option", { value: f.kind }, tr(f.title))),
  );
  sel.value = keep;
  sel.disabled = Boolean(rec && rec.mode !== "new");
}

function references() {
  const out = {};
  for (const [field, layer] of Object.entries(REFERENCES)) {
    const entry = state.area.find((a) => a.layer === layer);
    if (!entry) continue;
    out[field] = entry.collection.features.map((f) => {
      const p = f.properties || {};
      const name = LABEL_FIELDS.map((k) => p[k]).find((v) => v);
      return { value: String(f.id), label: name ? `${name} (${String(f.id).slice(-6)})` : String(f.id) };
    });
  }
  return out;
}

const specOf = (kind) => state.forms.find((f) => f.kind === kind);

function emptyCapture(spec) {
  return { type: spec.geometry, coords: [], acc: [], closed: false };
}

export function startNew(kind) {
  const spec = specOf(kind);
  if (!spec) {
    rec = null;
    renderIdle();
    return;
  }
  rec = { mode: "new", kind, spec, capture: emptyCapture(spec), newPhotos: [], oldPhotos: [], values: {} };
  renderRecord();
}

// an edit of a record of the work area: only the changed fields are sent, with its revision
function valuesOf(spec, properties) {
  const values = {};
  for (const f of spec.fields) {
    const v = (properties || {})[f.name];
    if (v !== undefined && v !== null) values[f.name] = v;
  }
  return values;
}

// the form's reading of a record's values (what an edit is compared with)
function readingOf(spec, values) {
  return readForm(renderForm(spec, { lang: state.lang, values, references: references(), idPrefix: "base" }), spec);
}

export function startEdit(feature) {
  const kind = feature.properties._layer;
  const spec = specOf(kind);
  if (!spec) return false;
  const values = valuesOf(spec, feature.properties);
  rec = {
    mode: "edit", kind, spec, capture: emptyCapture(spec), newPhotos: [], oldPhotos: [], values,
    recordId: feature.properties._id, revision: feature.properties.revision,
  };
  rec.initial = readingOf(spec, values);
  renderRecord();
  return true;
}

// a correction of an outbox item (invalid, returned, or not yet sent)
export async function startItem(item) {
  const spec = specOf(item.kind);
  if (!spec) return false;
  const capture = emptyCapture(spec);
  const g = item.geometry;
  if (g && g.type === "Point") capture.coords = [g.coordinates];
  else if (g && g.type === "Polygon") {
    capture.coords = g.coordinates[0].slice(0, -1);
    capture.closed = true;
  }
  capture.acc = capture.coords.map((_, i) => (item.accuracy_m ? item.accuracy_m[i] ?? null : null));
  const oldPhotos = await listPhotos(state.db, item.client_id);
  let values = item.properties || {};
  let initial = null;
  if (item.action === "update") {
    // the changes over the record as the work area has it (if it does): compared with it again
    const entry = state.area.find((a) => a.layer === item.kind);
    const feature = entry && entry.collection.features.find((f) => String(f.id) === String(item.record_id));
    const base = valuesOf(spec, feature ? feature.properties : {});
    initial = readingOf(spec, base);
    values = { ...base, ...values };
  }
  rec = { mode: "item", kind: item.kind, spec, capture, newPhotos: [], oldPhotos, values, item, initial };
  renderRecord();
  const faults = (item.faults || []).map(faultOf).filter(Boolean);
  if (faults.length) showFaults(rec.form, faults);
  return true;
}

// a server fault ({field: "items[3].properties.status", reason}) as the form's
function faultOf(f) {
  const where = String(f.field || "");
  const m = where.match(/properties\.([A-Za-z0-9_]+)/);
  if (m) return { field: m[1], message: f.reason || f.message || "" };
  return null;
}

function renderIdle() {
  $("form-host").replaceChildren();
  $("record-body").hidden = true;
  $("record-heading").textContent = t("record_heading");
  showDraft(null);
}

function renderRecord() {
  fillKinds();
  $("kind").value = rec.kind;
  $("record-body").hidden = false;
  const title = tr(rec.spec.title);
  $("record-heading").textContent = rec.mode === "edit" ? t("record_edit_heading", { title })
    : rec.mode === "item" ? t("record_item_heading", { title }) : t("record_new_heading", { title });
  rec.form = renderForm(rec.spec, { lang: state.lang, values: rec.values, references: references(), idPrefix: "f" });
  rec.form.id = "record-form";
  rec.form.addEventListener("submit", (e) => e.preventDefault());
  $("form-host").replaceChildren(rec.form);
  const geom = rec.spec.geometry;
  $("geometry").hidden = !geom;
  $("geo-here").textContent = geom === "Polygon" ? t("geom_add_position") : t("geom_use_position");
  $("geo-undo").hidden = geom !== "Polygon";
  $("geo-close").hidden = geom !== "Polygon";
  $("geom-help").textContent = geom === "Polygon" ? t("geom_polygon_help") : t("geom_point_help");
  $("record-error").textContent = "";
  renderPhotos();
  geometryChanged();
}

// keep what the form holds when the language changes
export function relabelRecord() {
  if (!rec) {
    renderIdle();
    fillKinds();
    return;
  }
  rec.values = { ...rec.values, ...readForm(rec.form, rec.spec) };
  renderRecord();
}

function geometryChanged() {
  const c = rec.capture;
  const known = c.acc.filter((a) => typeof a === "number");
  const tapped = c.acc.length - known.length;
  const parts = [];
  if (!c.coords.length) parts.push(rec.initial ? t("geom_keep") : t("geom_none"));
  else if (c.type === "Point") parts.push(t("geom_point_set"));
  else parts.push(t(c.closed ? "geom_closed" : "geom_vertices", { n: c.coords.length }));
  if (known.length) parts.push(t("geom_worst", { m: fmtNumber(Math.max(...known), 1) }));
  if (tapped) parts.push(t("geom_tapped", { n: tapped }));
  $("geom-status").textContent = parts.join(" · ");
  $("geom-list").replaceChildren(...c.coords.map((p, i) => el("li", {},
    `${p[1].toFixed(6)}, ${p[0].toFixed(6)} — `,
    typeof c.acc[i] === "number" ? t("geom_accuracy", { m: fmtNumber(c.acc[i], 1) }) : t("geom_by_hand"))));
  showDraft(c);
}

// a tap on the map while recording: the point, or one more vertex (placed by hand: no accuracy)
export function tapped(lngLat) {
  if (!rec || !rec.spec.geometry) return;
  place(lngLat, null);
}

function place(lngLat, accuracy) {
  const c = rec.capture;
  if (c.type === "Point") {
    c.coords = [lngLat];
    c.acc = [accuracy];
  } else {
    if (c.closed) c.closed = false;
    c.coords.push(lngLat);
    c.acc.push(accuracy);
  }
  geometryChanged();
}

function addPosition() {
  if (!rec) return;
  if (!navigator.geolocation) {
    $("geom-status").textContent = t("geom_no_gps");
    return;
  }
  $("geom-status").textContent = t("geom_locating");
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      if (!rec) return;
      const acc = Math.round(pos.coords.accuracy * 10) / 10;
      place([pos.coords.longitude, pos.coords.latitude], acc);
      announce(t("geom_position_added", { m: fmtNumber(acc, 1) }));
    },
    (err) => { $("geom-status").textContent = t("geom_gps_error", { detail: err.message }); },
    { enableHighAccuracy: true, timeout: 30000, maximumAge: 0 },
  );
}

function renderPhotos() {
  const n = rec.oldPhotos.length + rec.newPhotos.length;
  $("photo-list").replaceChildren(
    ...rec.oldPhotos.map((p) => el("li", {}, p.filename || p.id)),
    ...rec.newPhotos.map((f) => el("li", {}, f.name || "photo")),
  );
  $("photo-count").textContent = t("photos_count", { n });
}

function geometry() {
  const c = rec.capture;
  if (!c.coords.length) return null;
  if (c.type === "Point") return { type: "Point", coordinates: c.coords[0] };
  return { type: "Polygon", coordinates: [[...c.coords, c.coords[0]]] };
}

function accuracies() {
  const c = rec.capture;
  if (!c.coords.length) return null;
  // one a position of the ring, the closing one as its first vertex
  return c.type === "Polygon" ? [...c.acc, c.acc[0]] : [...c.acc];
}

async function save() {
  if (!rec) return;
  const values = readForm(rec.form, rec.spec);
  const isUpdate = rec.initial !== null && rec.initial !== undefined;
  let faults = validate(rec.spec, values, state.lang);
  // an update sends its changes only: a field it leaves empty is not required of it
  if (isUpdate) faults = faults.filter((f) => values[f.field] !== undefined || rec.initial[f.field] !== undefined);
  $("record-error").textContent = "";
  if (faults.length) {
    showFaults(rec.form, faults);
    $("record-error").textContent = t("record_faults", { n: faults.length });
    return;
  }
  const c = rec.capture;
  if (c.type === "Polygon" && c.coords.length && c.coords.length < 3) {
    $("record-error").textContent = t("geom_need_three");
    return;
  }
  if (rec.spec.geometry && rec.spec.geometry_required && !isUpdate && !c.coords.length) {
    $("record-error").textContent = t("geom_required");
    $("geo-here").focus();
    return;
  }
  let properties = values;
  if (isUpdate) {
    properties = {};
    for (const f of rec.spec.fields) {
      const before = rec.initial[f.name];
      const now = values[f.name];
      if (JSON.stringify(before) !== JSON.stringify(now)) properties[f.name] = now === undefined ? null : now;
    }
    if (!Object.keys(properties).length && !c.coords.length) {
      $("record-error").textContent = t("record_unchanged");
      return;
    }
  }
  const now = new Date().toISOString();
  const old = rec.mode === "item" ? rec.item : null;
  // a returned item goes back as a new submission: a new client id (docs/field.md)
  const fresh = !old || old.state === "returned" || old.state === "rejected" || old.state === "conflict";
  const item = {
    client_id: fresh ? uuid7() : old.client_id,
    kind: rec.kind,
    action: old ? old.action : rec.mode === "edit" ? "update" : "create",
    record_id: old ? old.record_id : rec.mode === "edit" ? rec.recordId : null,
    base_revision: old ? old.base_revision : rec.mode === "edit" ? rec.revision : null,
    properties,
    geometry: geometry(),
    accuracy_m: accuracies(),
    captured_at: old && !fresh ? old.captured_at : now,
    photos: [],
    state: "pending",
    submission_id: null,
    faults: [],
    reason: null,
    created_at: old && !fresh ? old.created_at : now,
    updated_at: now,
  };
  const photoIds = [];
  for (const p of rec.oldPhotos) {
    if (fresh) {
      // already attached to the returned submission: a new upload for the new one
      const full = await getPhoto(state.db, p.id);
      const copy = { ...full, id: uuid7(), client_id: item.client_id, sha256: null, upload_id: null, received: 0, done: false };
      await putPhoto(state.db, copy);
      photoIds.push(copy.id);
    } else photoIds.push(p.id);
  }
  const accNow = c.acc.filter((a) => typeof a === "number");
  for (const f of rec.newPhotos) {
    const photo = {
      id: uuid7(), client_id: item.client_id, blob: f, filename: f.name || "photo.jpg",
      content_type: f.type || "image/jpeg", size: f.size, sha256: null, upload_id: null,
      received: 0, done: false, taken_at: now, accuracy_m: accNow.length ? Math.max(...accNow) : null,
    };
    await putPhoto(state.db, photo);
    photoIds.push(photo.id);
  }
  item.photos = photoIds;
  await putItem(state.db, item);
  if (old && fresh) await deleteItem(state.db, old.client_id);
  const kind = tr(rec.spec.title);
  rec = null;
  renderIdle();
  fillKinds();
  announce(t("record_saved", { kind, n: photoIds.length }));
  await onSaved(item);
}
