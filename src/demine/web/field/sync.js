// The field app's sync with the server (issue 14, docs/field.md "Sync"). Plain ES module.
//
// sync({db, base, token, onProgress, fetchImpl, inFlight = 2, timeoutMs}) -> summary
//   1. photos of pending items: SHA-256, POST /api/v1/uploads once (upload_id kept at once),
//      GET it when resuming to learn `received`, PUT chunks of at most 1 MiB from there,
//      `received` saved after each chunk; an expired or unknown upload (404) begins again;
//   2. the pending items in requests of at most 200 items, 50 photos and under 8 MiB; each
//      answer sets the item's state (stored/already -> sent, conflict, invalid + faults);
//   (photos go PHOTOS_IN_FLIGHT at a time; a request with no answer within a minute plus its
//   bytes at 4 kB/s, or `timeoutMs`, counts as a lost link: offline, resumable);
//   3. pull from meta.cursor while `more`: each change kept in `changes`, the item with its
//      client_id gets the decision's state (returned/approved/rejected) and reason.
//   summary: {sent, already, conflicts, invalid, photos, bytes_sent, pulled, offline,
//   auth_failed, error}. A network failure never throws: it answers offline: true and every
//   step is resumable (the next sync goes on where this one stopped; the server's answers to
//   anything sent twice are `already` and "what has come"). A 401 answers auth_failed: true
//   and changes nothing. One sync at a time: a call while one runs gets the running one.
// refreshArea({db, base, token, bbox, layers}) -> {layers: {name: count}, error?, offline?}
// fetchForms({db, base, token}) -> [kind]   (throws: .status = 401 / 403; .offline = true)

import * as store from "./db.js";

export const CHUNK = 1024 * 1024; // bytes of one PUT (the server's max_chunk_bytes)
export const MAX_ITEMS = 200; // items of one outbox request
export const MAX_REQUEST_PHOTOS = 50; // photos of one outbox request
export const MAX_BODY = 8 * 1024 * 1024; // bytes of one outbox request (strictly under)
export const PULL_LIMIT = 500;
export const PHOTOS_IN_FLIGHT = 2; // uploads at once: one's round trips hide in the other's bytes
const STALL_MS = 60_000; // a request's answer may take this long, plus its bytes at...
const SLOWEST_BPS = 4_000; // ...this rate (bytes a second: a very poor 2G link)
const RECHECK_MS = 40 * 3600 * 1000; // a finished upload older than this is asked about again
const DECIDED = new Set(["returned", "approved", "rejected"]);
const enc = new TextEncoder();

class Offline extends Error {}
class AuthFailed extends Error {}
class HttpError extends Error {
  constructor(status, data) {
    const why = data && (data.detail || data.title) ? data.detail || data.title : `HTTP ${status}`;
    super(`${status}: ${why}`);
    this.status = status;
    this.data = data;
  }
}

function byteLength(body) {
  if (body === undefined || body === null) return 0;
  if (typeof body === "string") return enc.encode(body).length;
  if (body instanceof Blob) return body.size;
  return body.byteLength || 0;
}

/** One request. Throws Offline for a network failure, AuthFailed for 401; answers
 * {status, data, headers} for any other status (data: the JSON body or null). */
async function call(ctx, method, path, { json, body, headers = {} } = {}) {
  const h = { ...headers };
  if (ctx.token) h.Authorization = `Bearer ${ctx.token}`;
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    h["Content-Type"] = "application/json";
  }
  const size = byteLength(payload);
  ctx.bytes += size; // what leaves the device, answered or not
  // a stalled link is a lost one: the time allowed grows with what is sent (a slow link)
  const abort = new AbortController();
  const limit = ctx.timeoutMs ?? STALL_MS + (size * 1000) / SLOWEST_BPS;
  const timer = setTimeout(() => abort.abort(), limit);
  let resp;
  let text;
  try {
    resp = await ctx.fetchImpl(ctx.base + path, {
      method, headers: h, body: payload, cache: "no-store", credentials: "omit",
      signal: abort.signal,
    });
    text = await resp.text();
  } catch (e) {
    const why = abort.signal.aborted ? `no answer in ${Math.round(limit / 1000)} s` : e && e.message ? e.message : e;
    throw new Offline(String(why));
  } finally {
    clearTimeout(timer);
  }
  if (resp.status === 401) throw new AuthFailed("the server refused the token (401)");
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  return { status: resp.status, data, headers: resp.headers };
}

function ok(r) {
  if (r.status < 200 || r.status >= 300) throw new HttpError(r.status, r.data);
  return r.data;
}

async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  let s = "";
  for (const b of new Uint8Array(digest)) s += b.toString(16).padStart(2, "0");
  return s;
}

async function update(db, row, changes, putFn) {
  // write over the stored row (the UI may have changed other fields meanwhile)
  const fresh = (await (putFn === store.putItem ? store.getItem(db, row.client_id) : store.getPhoto(db, row.id))) || row;
  const next = { ...fresh, ...changes };
  await putFn(db, next);
  return next;
}

// --- 1. photos ----------------------------------------------------------------------------

async function beginUpload(ctx, photo) {
  const r = await call(ctx, "POST", "/api/v1/uploads", {
    json: {
      filename: photo.filename || "photo.jpg",
      content_type: photo.content_type || photo.blob.type || "application/octet-stream",
      size: photo.size,
      sha256: photo.sha256,
    },
  });
  const d = ok(r);
  return update(ctx.db, photo, { upload_id: d.upload_id, received: 0, done: false }, store.putPhoto);
}

async function uploadPhoto(ctx, photo, progress) {
  if (!photo.blob) throw new Error(`photo ${photo.id} has no data on this device`);
  if (photo.size !== photo.blob.size) photo = await update(ctx.db, photo, { size: photo.blob.size }, store.putPhoto);
  if (!photo.sha256) {
    photo = await update(ctx.db, photo, { sha256: await sha256Hex(photo.blob) }, store.putPhoto);
  }
  let fresh = false;
  if (!photo.upload_id) {
    photo = await beginUpload(ctx, photo);
    fresh = true;
  }
  let received = photo.received || 0;
  if (!fresh) {
    // resuming: the server says what has come (an answer lost on the way is not resent)
    const r = await call(ctx, "GET", `/api/v1/uploads/${encodeURIComponent(photo.upload_id)}`);
    if (r.status === 404) {
      photo = await beginUpload(ctx, photo); // expired or unknown: begin again
    } else {
      const d = ok(r);
      received = d.received;
      if (d.complete) received = photo.size;
    }
    if (r.status === 404) received = 0;
  }
  let restarts = 0;
  while (received < photo.size) {
    const end = Math.min(received + CHUNK, photo.size);
    const r = await call(ctx, "PUT", `/api/v1/uploads/${encodeURIComponent(photo.upload_id)}`, {
      body: photo.blob.slice(received, end),
      headers: {
        "Content-Range": `bytes ${received}-${end - 1}/${photo.size}`,
        "Content-Type": "application/octet-stream",
      },
    });
    if (r.status === 200) {
      received = r.data.received;
      photo = await update(ctx.db, photo, { received }, store.putPhoto);
      progress();
      continue;
    }
    if (r.status === 409 || r.status === 404 || r.status === 422) {
      if (++restarts > 3) throw new HttpError(r.status, r.data);
      if (r.status === 409) {
        // the server has a different count than we thought: ask it
        received = ok(await call(ctx, "GET", `/api/v1/uploads/${encodeURIComponent(photo.upload_id)}`)).received;
      } else {
        // gone (404) or the bytes did not match the declared hash (422, dropped): again
        if (r.status === 422) photo = await update(ctx.db, photo, { sha256: await sha256Hex(photo.blob) }, store.putPhoto);
        photo = await beginUpload(ctx, photo);
        received = 0;
      }
      continue;
    }
    throw new HttpError(r.status, r.data);
  }
  return update(ctx.db, photo, { received: photo.size, done: true, done_at: store.now(), error: null }, store.putPhoto);
}

async function photosPhase(ctx, pending) {
  const todo = [];
  const nowMs = Date.now();
  for (const item of pending) {
    for (const p of await store.listPhotos(ctx.db, item.client_id)) {
      if (p.done && p.done_at && nowMs - Date.parse(p.done_at) > RECHECK_MS) {
        // a finished upload not yet sent with its item may have expired on the server
        const r = await call(ctx, "GET", `/api/v1/uploads/${encodeURIComponent(p.upload_id)}`);
        if (r.status === 404) {
          todo.push(await update(ctx.db, p, { upload_id: null, received: 0, done: false }, store.putPhoto));
        }
        continue;
      }
      if (!p.done) todo.push(p);
    }
  }
  let n = 0;
  const report = () => ctx.progress({ phase: "photos", done: n, total: todo.length });
  report();
  let next = 0;
  let stop = null; // the first network or token failure stops every lane
  async function lane() {
    while (stop === null && next < todo.length) {
      const p = todo[next++];
      try {
        await uploadPhoto(ctx, p, report);
        ctx.summary.photos += 1;
      } catch (e) {
        if (e instanceof Offline || e instanceof AuthFailed) {
          stop = stop || e;
          return;
        }
        // this photo cannot go (too large, refused): its item waits, the others go on
        ctx.summary.error = `photo ${p.filename}: ${e.message}`;
        await update(ctx.db, p, { error: e.message }, store.putPhoto);
      }
      n += 1;
      report();
    }
  }
  const lanes = [];
  for (let i = 0; i < Math.min(ctx.inFlight, todo.length); i++) lanes.push(lane());
  await Promise.all(lanes);
  if (stop) throw stop;
}

// --- 2. outbox ----------------------------------------------------------------------------

function wire(item, photoRows) {
  return {
    client_id: item.client_id,
    kind: item.kind,
    action: item.action || "create",
    record_id: item.record_id ?? null,
    base_revision: item.base_revision ?? null,
    properties: item.properties || {},
    geometry: item.geometry ?? null,
    accuracy_m: item.accuracy_m ?? null,
    captured_at: item.captured_at ?? null,
    photos: (item.photos || []).map((id) => photoRows.get(id).upload_id),
  };
}

/** Pending items whose photos are all uploaded, as the wire shape, in batches. */
async function batches(ctx, pending, device) {
  const out = [];
  let cur = [];
  let curPhotos = 0;
  const overhead = enc.encode(JSON.stringify({ device, items: [] })).length;
  let curBytes = overhead;
  for (const item of pending) {
    const rows = new Map((await store.listPhotos(ctx.db, item.client_id)).map((p) => [p.id, p]));
    const ids = item.photos || [];
    if (!ids.every((id) => rows.has(id) && rows.get(id).done && rows.get(id).upload_id)) continue;
    const w = wire(item, rows);
    const size = enc.encode(JSON.stringify(w)).length + 1; // + the comma
    if (
      cur.length &&
      (cur.length + 1 > MAX_ITEMS || curPhotos + ids.length > MAX_REQUEST_PHOTOS || curBytes + size >= MAX_BODY)
    ) {
      out.push(cur);
      cur = [];
      curPhotos = 0;
      curBytes = overhead;
    }
    cur.push(w);
    curPhotos += ids.length;
    curBytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

async function outboxPhase(ctx, pending, device) {
  const parts = await batches(ctx, pending, device);
  const total = parts.reduce((a, b) => a + b.length, 0);
  let n = 0;
  ctx.progress({ phase: "outbox", done: 0, total });
  for (const part of parts) {
    const d = ok(await call(ctx, "POST", "/api/v1/sync/outbox", { json: { device, items: part } }));
    for (const a of d.items || []) {
      const item = await store.getItem(ctx.db, a.client_id);
      if (!item) continue;
      const changes = { submission_id: a.submission_id ?? item.submission_id, faults: a.faults || [] };
      if (a.status === "stored") {
        ctx.summary.sent += 1;
        changes.state = "sent";
      } else if (a.status === "already") {
        ctx.summary.already += 1;
        changes.state = a.conflict ? "conflict" : DECIDED.has(a.state) ? a.state : "sent";
      } else if (a.status === "conflict") {
        ctx.summary.conflicts += 1;
        changes.state = "conflict";
      } else if (await lostUploads(ctx, item, a.faults || [])) {
        // its photos' uploads are gone from the server (expired, unknown): they go again
        // with the next sync, and so does the item (still pending)
        ctx.summary.error = ctx.summary.error || `photos of ${item.client_id} to upload again`;
      } else {
        ctx.summary.invalid += 1;
        changes.state = "invalid";
      }
      if (a.conflict) changes.conflict = a.conflict;
      await update(ctx.db, item, changes, store.putItem);
    }
    n += part.length;
    ctx.progress({ phase: "outbox", done: n, total });
  }
}

const PHOTO_FAULT = /^items\[\d+\]\.photos\[(\d+)\]$/;
const GONE = /no upload|expired/i;

/** An invalid answer whose only faults are photos the server no longer has: reset those
 * photos (uploaded again by the next sync) and answer true. */
async function lostUploads(ctx, item, faults) {
  if (!faults.length) return false;
  const which = [];
  for (const f of faults) {
    const m = PHOTO_FAULT.exec(f.field || "");
    if (!m || !GONE.test(f.reason || f.message || "")) return false;
    which.push(Number(m[1]));
  }
  for (const j of which) {
    const p = await store.getPhoto(ctx.db, (item.photos || [])[j]);
    if (p) await update(ctx.db, p, { upload_id: null, received: 0, done: false }, store.putPhoto);
  }
  return true;
}

// --- 3. pull ------------------------------------------------------------------------------

async function pullPhase(ctx) {
  let more = true;
  let guard = 0;
  while (more && guard++ < 10000) {
    const cursor = await store.getMeta(ctx.db, "cursor");
    const q = `limit=${PULL_LIMIT}` + (cursor ? `&since=${encodeURIComponent(cursor)}` : "");
    const d = ok(await call(ctx, "GET", `/api/v1/sync/pull?${q}`));
    for (const c of d.changes || []) {
      await store.putChange(ctx.db, c);
      ctx.summary.pulled += 1;
      if (!c.client_id) continue;
      const item = await store.getItem(ctx.db, c.client_id);
      if (item && DECIDED.has(c.state)) {
        await update(ctx.db, item, { state: c.state, reason: c.reason ?? null, submission_id: c.id }, store.putItem);
      }
    }
    await store.setMeta(ctx.db, "cursor", d.cursor);
    more = Boolean(d.more);
    ctx.progress({ phase: "pull", done: ctx.summary.pulled, total: ctx.summary.pulled });
  }
}

// --- sync ---------------------------------------------------------------------------------

let running = null;

/** Send the outbox, pull the decisions. One at a time; see the module's text. */
export function sync(opts) {
  if (running) return running;
  running = run(opts).finally(() => {
    running = null;
  });
  return running;
}

async function run({
  db, base = "", token, onProgress = () => {}, fetchImpl, inFlight = PHOTOS_IN_FLIGHT, timeoutMs,
} = {}) {
  const summary = {
    sent: 0, already: 0, conflicts: 0, invalid: 0, photos: 0, bytes_sent: 0, pulled: 0,
    offline: false, auth_failed: false, error: null,
  };
  const ctx = {
    db, base, summary, bytes: 0, inFlight: Math.max(1, inFlight), timeoutMs,
    token: token ?? (await store.getMeta(db, "token")),
    fetchImpl: fetchImpl || ((...a) => fetch(...a)),
    progress: (p) => {
      summary.bytes_sent = ctx.bytes;
      try {
        onProgress({ ...p, bytes_sent: ctx.bytes });
      } catch {
        /* the UI's trouble, not the sync's */
      }
    },
  };
  try {
    let device = await store.getMeta(db, "device");
    if (!device) device = await store.setMeta(db, "device", store.uuid7());
    const pending = await store.listItems(db, "pending");
    if (pending.length) {
      await photosPhase(ctx, pending);
      await outboxPhase(ctx, pending, device);
    }
    await pullPhase(ctx);
    await store.setMeta(db, "last_sync", store.now());
  } catch (e) {
    if (e instanceof Offline) {
      summary.offline = true;
      summary.error = `offline: ${e.message}`;
    } else if (e instanceof AuthFailed) {
      summary.auth_failed = true;
      summary.error = e.message;
    } else {
      summary.error = e && e.message ? e.message : String(e);
    }
  }
  summary.bytes_sent = ctx.bytes;
  return summary;
}

/** Is a sync running now? */
export function syncing() {
  return running !== null;
}

// --- the work area and the forms ----------------------------------------------------------

function bboxText(bbox) {
  return (Array.isArray(bbox) ? bbox : String(bbox).split(",")).map(Number).join(",");
}

/** Fetch the work area (records and reference layers in the box) into the `area` store. */
export async function refreshArea({
  db, base = "", token, bbox, layers, fetchImpl, onProgress = () => {},
} = {}) {
  const ctx = {
    db, base, bytes: 0,
    token: token ?? (await store.getMeta(db, "token")),
    fetchImpl: fetchImpl || ((...a) => fetch(...a)),
  };
  const box = bboxText(bbox);
  let q = `bbox=${encodeURIComponent(box)}`;
  if (layers && layers.length) q += `&layers=${encodeURIComponent([].concat(layers).join(","))}`;
  let r;
  onProgress({ phase: "area", done: 0, total: 1, bytes_sent: 0 });
  try {
    r = await call(ctx, "GET", `/api/v1/sync/area?${q}`);
  } catch (e) {
    if (e instanceof Offline) return { layers: {}, offline: true, error: `offline: ${e.message}` };
    const err = new Error(e.message);
    err.status = 401;
    throw err;
  }
  if (r.status !== 200) {
    const why = r.data && (r.data.detail || r.data.title);
    return { layers: {}, status: r.status, error: why || `HTTP ${r.status}` };
  }
  const entries = Object.entries(r.data.layers || {}).map(([layer, collection]) => ({
    layer, bbox: r.data.bbox, collection,
  }));
  await store.replaceArea(db, entries);
  await store.setMeta(db, "bbox", r.data.bbox);
  const counts = {};
  for (const e of entries) counts[e.layer] = e.collection.features.length;
  onProgress({ phase: "area", done: 1, total: 1, bytes_sent: ctx.bytes });
  return { layers: counts };
}

/** Fetch the forms the role fills in (only those whose version changed) into `forms`. */
export async function fetchForms({ db, base = "", token, fetchImpl } = {}) {
  const ctx = {
    db, base, bytes: 0,
    token: token ?? (await store.getMeta(db, "token")),
    fetchImpl: fetchImpl || ((...a) => fetch(...a)),
  };
  const fail = (e) => {
    const err = new Error(e.message);
    if (e instanceof Offline) err.offline = true;
    else if (e instanceof AuthFailed) err.status = 401;
    else if (e.status) err.status = e.status;
    return err;
  };
  try {
    const list = ok(await call(ctx, "GET", "/api/v1/forms")).forms || [];
    const kinds = list.map((f) => f.kind);
    for (const f of list) {
      const have = await store.getForm(db, f.kind);
      if (have && have.version === f.version) continue;
      const headers = have && have.etag ? { "If-None-Match": have.etag } : {};
      const r = await call(ctx, "GET", `/api/v1/forms/${encodeURIComponent(f.kind)}`, { headers });
      if (r.status === 304 && have) {
        await store.putForm(db, { ...have, fetched_at: store.now() });
        continue;
      }
      const spec = ok(r);
      await store.putForm(db, { ...spec, etag: r.headers.get("ETag"), fetched_at: store.now() });
    }
    for (const old of await store.listForms(db)) {
      if (!kinds.includes(old.kind)) await store.deleteForm(db, old.kind); // no longer the role's
    }
    return kinds;
  } catch (e) {
    throw fail(e);
  }
}
