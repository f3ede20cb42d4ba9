// The field app's storage on the device (issue 14, docs/field.md): one IndexedDB database,
// "demine-field", version 1. Plain ES module, no dependencies.
//
// Object stores (keyPath):
//   outbox  (client_id)  the records the team made: {client_id (uuid v7), kind, action,
//                        record_id, base_revision, properties, geometry, accuracy_m,
//                        captured_at, photos: [photo id], state, submission_id, faults,
//                        reason, created_at, updated_at}
//   photos  (id)         {id, client_id, blob, filename, content_type, size, sha256,
//                        upload_id, received, done, taken_at, accuracy_m}
//   forms   (kind)       the form specifications (GET /api/v1/forms/{kind}) + fetched_at, etag
//   area    (layer)      the work area: {layer, bbox, fetched_at, collection}
//   changes (id)         the pull's changes (id = the submission's id)
//   meta    (key)        {key, value}: device, token, cursor, lang, bbox, role, last_sync
//
// Every function returns a Promise.

export const DB_NAME = "demine-field";
export const DB_VERSION = 1;
export const STATES = [
  "draft", "pending", "sent", "conflict", "invalid", "returned", "approved", "rejected",
];
const STORES = {
  outbox: "client_id",
  photos: "id",
  forms: "kind",
  area: "layer",
  changes: "id",
  meta: "key",
};

function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("the IndexedDB transaction was aborted"));
  });
}

/** Open (and on first use create) the database. `name` is for tests only. */
export function openDb(name = DB_NAME) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      for (const [store, keyPath] of Object.entries(STORES)) {
        if (db.objectStoreNames.contains(store)) continue;
        const os = db.createObjectStore(store, { keyPath });
        if (store === "outbox") os.createIndex("state", "state");
        if (store === "photos") os.createIndex("client_id", "client_id");
      }
    };
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => db.close(); // a newer app version wants the database
      resolve(db);
    };
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error("the field database is open in another tab of an older version"));
  });
}

async function get(db, store, key) {
  const v = await done(db.transaction(store).objectStore(store).get(key));
  return v === undefined ? null : v;
}

async function put(db, store, value) {
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).put(value);
  await finished(tx);
  return value;
}

async function del(db, store, key) {
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).delete(key);
  await finished(tx);
}

async function all(db, store, index = null, key = undefined) {
  const os = db.transaction(store).objectStore(store);
  const src = index ? os.index(index) : os;
  return done(key === undefined ? src.getAll() : src.getAll(key));
}

function hex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. */
export function uuid7() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function now() {
  return new Date().toISOString();
}

// --- meta ---------------------------------------------------------------------------------

export async function getMeta(db, key) {
  const row = await get(db, "meta", key);
  return row === null ? null : row.value;
}

export async function setMeta(db, key, value) {
  await put(db, "meta", { key, value });
  return value;
}

// --- outbox -------------------------------------------------------------------------------

/** Store an outbox item (created_at kept, updated_at set now); answers the stored item. */
export async function putItem(db, item) {
  if (!item || typeof item.client_id !== "string") throw new Error("an outbox item needs a client_id");
  const t = now();
  const row = {
    kind: null, action: "create", record_id: null, base_revision: null, properties: {},
    geometry: null, accuracy_m: null, captured_at: t, photos: [], state: "pending",
    submission_id: null, faults: [], reason: null,
    ...item,
    created_at: item.created_at || t,
    updated_at: t,
  };
  return put(db, "outbox", row);
}

export function getItem(db, clientId) {
  return get(db, "outbox", clientId);
}

/** The outbox, oldest first; of one state if given. */
export async function listItems(db, state) {
  const rows = state ? await all(db, "outbox", "state", state) : await all(db, "outbox");
  return rows.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
}

/** Remove an item and its photos. */
export async function deleteItem(db, clientId) {
  const photos = await listPhotos(db, clientId);
  const tx = db.transaction(["outbox", "photos"], "readwrite");
  tx.objectStore("outbox").delete(clientId);
  for (const p of photos) tx.objectStore("photos").delete(p.id);
  await finished(tx);
}

// --- photos -------------------------------------------------------------------------------

export function putPhoto(db, photo) {
  if (!photo || typeof photo.id !== "string") throw new Error("a photo needs an id");
  const row = {
    client_id: null, filename: "photo.jpg", content_type: "image/jpeg", sha256: null,
    upload_id: null, received: 0, done: false, taken_at: now(), accuracy_m: null,
    ...photo,
  };
  if (row.size === undefined || row.size === null) row.size = row.blob ? row.blob.size : 0;
  return put(db, "photos", row);
}

export function getPhoto(db, id) {
  return get(db, "photos", id);
}

export function listPhotos(db, clientId) {
  return clientId === undefined || clientId === null
    ? all(db, "photos")
    : all(db, "photos", "client_id", clientId);
}

export function deletePhoto(db, id) {
  return del(db, "photos", id);
}

// --- forms --------------------------------------------------------------------------------

export function putForm(db, spec) {
  return put(db, "forms", { fetched_at: now(), ...spec });
}

export function getForm(db, kind) {
  return get(db, "forms", kind);
}

export function listForms(db) {
  return all(db, "forms");
}

export function deleteForm(db, kind) {
  return del(db, "forms", kind);
}

// --- work area ----------------------------------------------------------------------------

export function putArea(db, entry) {
  return put(db, "area", { fetched_at: now(), ...entry });
}

export function listArea(db) {
  return all(db, "area");
}

export async function clearArea(db) {
  const tx = db.transaction("area", "readwrite");
  tx.objectStore("area").clear();
  await finished(tx);
}

/** Replace the whole work area in one transaction (entries: [{layer, bbox, collection}]). */
export async function replaceArea(db, entries) {
  const tx = db.transaction("area", "readwrite");
  const os = tx.objectStore("area");
  os.clear();
  const t = now();
  for (const e of entries) os.put({ fetched_at: t, ...e });
  await finished(tx);
}

// --- pulled changes -----------------------------------------------------------------------

export function putChange(db, change) {
  return put(db, "changes", change);
}

export function listChanges(db) {
  return all(db, "changes");
}
