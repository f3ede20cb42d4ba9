// A civilian's report from the browser (issue 15, docs/civilian-reports.md): get a
// proof-of-work challenge, solve it with WebCrypto, post the report, upload its photo. No
// account, no third-party service. The public map (next session) builds its form on this;
// the status page's tests drive it. `base`: the server's root URL ("" or "../" or an origin).
//
//   import { sendReport, uploadPhoto } from "./report_client.js";
//   const got = await sendReport("", { lat, lon, accuracy_m, object_type, seen_at, ... });
//   if (photo) await uploadPhoto("", got, photo);   // got.code is the tracking code
//
// The safety text every screen of a report says: never an instruction to touch or move it.
export const SAFETY = {
  en: "Do not touch or approach. Leave the way you came. Call 101.",
  uk: "Не торкайтеся і не наближайтеся. Відходьте тим самим шляхом, яким прийшли. Телефонуйте 101.",
};
export const OBJECT_TYPES = [
  "mine", "tripwire", "shell", "rocket", "grenade", "submunition", "bomb", "unknown",
];

const API = "api/v1/public/reports";
const BATCH = 512; // digests awaited together: WebCrypto is asynchronous, one by one is slow

function url(base, path) {
  return `${base || ""}${path}`;
}

async function problem(r) {
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  const err = new Error((body && body.detail) || `HTTP ${r.status}`);
  err.status = r.status;
  err.problem = body;
  return err;
}

export async function getChallenge(base) {
  const r = await fetch(url(base, `${API}/challenge`), { cache: "no-store" });
  if (!r.ok) throw await problem(r);
  return r.json();
}

function zeroBits(bytes) {
  let n = 0;
  for (const b of bytes) {
    if (b === 0) { n += 8; continue; }
    return n + Math.clz32(b) - 24;
  }
  return n;
}

// The nonce: the smallest hex counter whose sha256(challenge + ":" + nonce) has `difficulty`
// leading zero bits. `onProgress(tried)` after each batch; `signal` to give up.
export async function solve(challenge, difficulty, { onProgress, signal } = {}) {
  const enc = new TextEncoder();
  const prefix = `${challenge}:`;
  for (let start = 0; ; start += BATCH) {
    if (signal && signal.aborted) throw new DOMException("stopped", "AbortError");
    const nonces = [];
    for (let i = start; i < start + BATCH; i++) nonces.push(i.toString(16));
    const digests = await Promise.all(
      nonces.map((n) => crypto.subtle.digest("SHA-256", enc.encode(prefix + n))),
    );
    for (let i = 0; i < digests.length; i++) {
      if (zeroBits(new Uint8Array(digests[i])) >= difficulty) return nonces[i];
    }
    if (onProgress) onProgress(start + BATCH);
  }
}

// Post a report: fields as the route takes them (lat, lon, accuracy_m, place_text,
// object_type, seen_at, description, contact, contact_consent). Returns the server's answer:
// {code, status, status_url, page_url, upload_token, upload_expires_in, solve_ms}.
export async function sendReport(base, fields, opts = {}) {
  const ch = await getChallenge(base);
  const t0 = performance.now();
  const nonce = await solve(ch.challenge, ch.difficulty, opts);
  const solveMs = performance.now() - t0;
  const r = await fetch(url(base, API), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ ...fields, challenge: ch.challenge, nonce }),
  });
  if (r.status !== 201) throw await problem(r);
  return { ...(await r.json()), solve_ms: solveMs };
}

// The photo (a File or Blob: JPEG or PNG, at most 10 MiB) of a report just sent.
export async function uploadPhoto(base, sent, photo) {
  const r = await fetch(url(base, `${API}/${encodeURIComponent(sent.code)}/photo`), {
    method: "POST",
    headers: { "X-Upload-Token": sent.upload_token, "Content-Type": photo.type || "image/jpeg" },
    body: photo,
  });
  if (r.status !== 201) throw await problem(r);
  return r.json();
}

export async function getStatus(base, code) {
  const r = await fetch(url(base, `${API}/${encodeURIComponent(code)}`), { cache: "no-store" });
  if (!r.ok) throw await problem(r);
  return r.json();
}
