"""The field app's sync over a slow link (issue 14, docs/field.md "Sync"): an outbox of 1,000
records with 200 photos of 1 MB each, sent by the app's own ``sync.js`` from headless Chromium
to a live server (GeoPackage store) over an emulated 1 Mbit/s link with 300 ms latency.

Two scenarios, run at the same time (two servers and stores, two browser contexts each with its
own emulation and its own counting proxy):

- **whole**: one ``sync()`` from start to done;
- **interrupted**: the link goes (Chromium's emulation offline *and* the proxy's connections
  cut) when half the data's bytes have gone up; then back, and a new ``sync()`` finishes it.

What is measured: the time to done and the bytes the browser sent up, counted on the wire by a
TCP proxy between Chromium and the server (request lines, headers and bodies: every byte of
the TCP streams towards the server; the bytes coming back are counted too). The anchors, same
run, same data: the **data bytes** (the photos' bytes + the records' JSON as the device holds
them) and the **ideal time** (data bytes at 1 Mbit/s = 125,000 bytes/s, no latency). Goal:
bytes sent ≤ 1.1 × data; the interrupted run stores each record and each photo once.

The link: Chromium's network emulation through the DevTools protocol
(``Network.emulateNetworkConditions``: 125,000 bytes/s down and up, 300 ms latency), unless
``--throttle proxy`` (the proxy's token bucket at the same rate each way + 150 ms each way).
``--verify`` first times one 1,000,000-byte upload under the emulation (it must take ≥ 8 s,
else Chromium does not throttle uploads and ``--throttle proxy`` is the honest choice).

    python bench/field_sync.py --verify
    python bench/field_sync.py --records 50 --photos 10      # a quick run
    python bench/field_sync.py                               # 1,000 records, 200 photos
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

RATE = 125_000  # bytes a second: 1 Mbit/s
LATENCY_MS = 300
PHOTO_BYTES = 1_000_000
SIDES = ["north", "south", "east", "west"]
HARNESS_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<script type="module" src="/__harness__.js"></script></head><body>bench</body></html>"""
HARNESS_JS = """
import * as db from "/static/field/db.js";
import * as sync from "/static/field/sync.js";
window.fieldDb = db;
window.fieldSync = sync;
window.__ready = true;
"""
POPULATE = """
async ([records, photoEvery, nPhotos, photoSize, baseB64]) => {
  const d = await fieldDb.openDb();
  window.__db = d;
  const base = Uint8Array.from(atob(baseB64), (ch) => ch.charCodeAt(0));
  function photo() {
    const parts = [base.subarray(0, 2)];
    let need = photoSize - base.length;
    while (need > 0) {
      let n = Math.min(need, 65537);
      if (need - n > 0 && need - n < 4) n -= 4;
      const seg = new Uint8Array(n);
      seg[0] = 0xff; seg[1] = 0xfe; seg[2] = (n - 2) >> 8; seg[3] = (n - 2) & 0xff;
      crypto.getRandomValues(seg.subarray(4));
      parts.push(seg);
      need -= n;
    }
    parts.push(base.subarray(2));
    return new Blob(parts, {type: "image/jpeg"});
  }
  let json = 0, photos = 0, photoBytes = 0;
  const enc = new TextEncoder();
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const cid = fieldDb.uuid7();
    const ids = [];
    if (photos < nPhotos && i % photoEvery === 0 && r.kind === "finds") {
      const blob = photo();
      const id = fieldDb.uuid7();
      await fieldDb.putPhoto(d, {id, client_id: cid, blob, filename: `IMG_${i}.jpg`,
                                 content_type: "image/jpeg", size: blob.size, accuracy_m: 4.0});
      ids.push(id);
      photos += 1;
      photoBytes += blob.size;
    }
    const item = {client_id: cid, ...r};
    json += enc.encode(JSON.stringify(item)).length;
    await fieldDb.putItem(d, {...item, photos: ids, state: "pending"});
  }
  await fieldDb.setMeta(d, "token", window.__token);
  return {json, photos, photoBytes};
}
"""
START = """(inFlight) => {
  window.__result = null; window.__progress = null;
  const opts = {db: window.__db, onProgress: (p) => { window.__progress = p; }};
  if (inFlight) opts.inFlight = inFlight;
  fieldSync.sync(opts)
    .then((s) => { window.__result = s; });
  return true;
}"""


# --- a counting (and optionally throttling) TCP proxy ---------------------------------------


class Bucket:
    """A token bucket shared by the connections of one direction."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.next = 0.0

    async def take(self, n: int) -> None:
        now = time.monotonic()
        start = max(now, self.next)
        self.next = start + n / self.rate
        if self.next > now:
            await asyncio.sleep(self.next - now)


class Proxy:
    """127.0.0.1:port -> the server; counts bytes each way; ``cut()`` drops every connection."""

    def __init__(self, target: int, rate: float | None = None, delay: float = 0.0) -> None:
        self.target = target
        self.up = 0
        self.down = 0
        self.rate = rate
        self.delay = delay  # seconds each way
        self.conns: set[asyncio.StreamWriter] = set()
        self.blocked = False
        self.loop = asyncio.new_event_loop()
        self.port = 0
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            srv = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = srv.sockets[0].getsockname()[1]
            self.buckets = (Bucket(self.rate), Bucket(self.rate)) if self.rate else None
            started.set()
            async with srv:
                await srv.serve_forever()

        self.loop.run_until_complete(main())

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, up: bool) -> None:
        q: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def writer() -> None:
            while True:
                due, data = await q.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self.buckets:
                    await self.buckets[0 if up else 1].take(len(data))
                w.write(data)
                await w.drain()
            w.close()

        task = asyncio.ensure_future(writer())
        try:
            while True:
                data = await r.read(16384)
                if not data:
                    break
                if up:
                    self.up += len(data)
                else:
                    self.down += len(data)
                await q.put((time.monotonic() + self.delay, data))
        except (ConnectionError, OSError):
            pass
        await q.put((0.0, b""))
        with contextlib.suppress(ConnectionError, OSError):
            await task

    async def _client(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        if self.blocked:  # the link is down: Chromium's own retries go nowhere either
            cw.transport.abort()
            return
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            cw.close()
            return
        self.conns.update((cw, sw))
        await asyncio.gather(self._pipe(cr, sw, True), self._pipe(sr, cw, False))
        self.conns.discard(cw)
        self.conns.discard(sw)

    def cut(self) -> None:
        """The link goes: every connection dropped, new ones refused until ``restore``."""
        self.blocked = True

        def close_all() -> None:
            for w in list(self.conns):
                w.transport.abort()
            self.conns.clear()

        self.loop.call_soon_threadsafe(close_all)

    def restore(self) -> None:
        self.blocked = False


# --- the server --------------------------------------------------------------------------


def _fulfil(ctype: str, body: str) -> Any:
    def handler(route: Any) -> None:
        route.fulfill(status=200, content_type=ctype, body=body)

    return handler


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_store(where: Path) -> tuple[str, str]:
    """A GeoPackage store with HALO and its field team's token."""
    from demine.services.access import new_token
    from demine.services.setup import init_store
    from demine.store.open import open_store

    location = str(where)
    s = open_store(location)
    try:
        init_store(s)
        s.add_organisation("HALO", "The HALO Trust", "operator")
        s.add_user("team1", "field", "HALO")
        token, digest = new_token()
        s.add_token("team1", digest)
    finally:
        s.close()
    return location, token


def _stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def start_server(
    location: str, log: Path, src: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``create_app`` over ``location`` under uvicorn (one worker), demine from ``src`` (this
    tree by default); stopped when the run ends, whatever happens."""
    port = _free_port()
    code = (
        "import sys, uvicorn; from demine.api.app import create_app; "
        "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
        "log_level='warning')"
    )
    with log.open("wb") as out:
        p = subprocess.Popen(
            [sys.executable, "-c", code, location, str(port)],
            env={**c.subprocess_env(), **({"PYTHONPATH": str(src)} if src else {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    atexit.register(_stop, p)  # whatever happens to the run, the server goes with it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return p, port
        except OSError:
            time.sleep(0.2)
    p.kill()
    raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")


# --- the data ----------------------------------------------------------------------------


def base_jpeg() -> bytes:
    from PIL import Image

    rnd = random.Random(11)
    im = Image.frombytes("RGB", (160, 120), rnd.randbytes(160 * 120 * 3))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def records(n: int, seed: int = 5) -> list[dict[str, Any]]:
    """Mixed kinds with realistic properties: 30 % hazards (walked polygons, 12-40 vertices,
    an accuracy each), 45 % finds, 25 % EO reports; around Kharkiv oblast."""
    import math

    rnd = random.Random(seed)
    devices = ["ap-blast-persistent", "ap-frag-persistent", "at-persistent", "ied", "uxo"]
    out: list[dict[str, Any]] = []
    for i in range(n):
        x, y = 36.0 + rnd.random() * 0.9, 49.5 + rnd.random() * 0.9
        t = f"2026-05-{1 + i % 28:02d}T{8 + i % 9:02d}:{i % 60:02d}:{(7 * i) % 60:02d}Z"
        r = rnd.random()
        if r < 0.30:
            k = rnd.randint(12, 40)
            rad = rnd.uniform(0.0008, 0.004)
            ring = []
            for j in range(k):
                a = 2 * math.pi * j / k
                f = rnd.uniform(0.75, 1.0)
                ring.append(
                    [round(x + rad * f * math.cos(a), 7), round(y + rad * f * math.sin(a), 7)]
                )
            ring.append(ring[0])
            out.append(
                {
                    "kind": "hazards",
                    "action": "create",
                    "properties": {
                        "hazard_type": rnd.choice(["SHA", "CHA"]),
                        "status": "open",
                        "name": f"Field {i} near the tree line, {rnd.choice(SIDES)} side",
                        "device_categories": rnd.choice(["ap_blast", "at", "uxo", "ap_blast,uxo"]),
                        "reported_on": t[:10],
                        "evidence": "Craters and a destroyed vehicle seen; a farmer reports "
                        "an AT mine",
                        "notes": f"Walked the perimeter with the team leader; marking posts "
                        f"every 25 m ({i})",
                    },
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "accuracy_m": [round(rnd.uniform(2.5, 12.0), 1) for _ in ring],
                    "captured_at": t,
                }
            )
        elif r < 0.75:
            out.append(
                {
                    "kind": "finds",
                    "action": "create",
                    "properties": {
                        "device_type": rnd.choice(devices),
                        "state": rnd.choice(["live", "unknown", "deactivated_intact"]),
                        "found_at": t,
                        "depth_cm": rnd.randint(0, 30),
                        "notes": f"Found by detector, lane {i % 17}, marked with a red post",
                    },
                    "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
                    "accuracy_m": [round(rnd.uniform(2.0, 9.0), 1)],
                    "captured_at": t,
                }
            )
        else:
            out.append(
                {
                    "kind": "eo_reports",
                    "action": "create",
                    "properties": {
                        "reported_at": t,
                        "status": "new",
                        "description": "Unexploded mortar round by the road to the village, "
                        "half buried",
                        "reporter_name": f"Resident {i}",
                        "notes": "Reported to the team at the checkpoint",
                    },
                    "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
                    "accuracy_m": [round(rnd.uniform(3.0, 25.0), 1)],
                    "captured_at": t,
                }
            )
    return out


# --- one scenario ------------------------------------------------------------------------


class Scenario:
    def __init__(
        self,
        name: str,
        browser: Any,
        work: Path,
        recs: list[dict[str, Any]],
        n_photos: int,
        throttle: str,
        interrupt: bool,
        in_flight: int | None = None,
    ) -> None:
        self.name = name
        self.interrupt = interrupt
        self.in_flight = in_flight
        self.location, self.token = make_store(work / f"{name}.gpkg")
        self.server, port = start_server(self.location, work / f"{name}-server.log")
        try:
            if throttle == "proxy":
                self.proxy = Proxy(port, RATE, LATENCY_MS / 2000)
            else:
                self.proxy = Proxy(port)
            self.url = f"http://127.0.0.1:{self.proxy.port}"
            self.ctx = browser.new_context()
            self.page = self.ctx.new_page()
            for path, ctype, body in (
                ("/__harness__.html", "text/html", HARNESS_HTML),
                ("/__harness__.js", "text/javascript", HARNESS_JS),
            ):
                self.page.route(self.url + path, _fulfil(ctype, body))
            self.page.goto(self.url + "/__harness__.html")
            for _ in range(600):
                if self.page.evaluate("window.__ready === true"):
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("the harness did not load the field modules")
            self.page.evaluate(f"window.__token = {json.dumps(self.token)}")
            t0 = time.perf_counter()
            got = self.page.evaluate(
                POPULATE, [recs, 1, n_photos, PHOTO_BYTES, base64.b64encode(base_jpeg()).decode()]
            )
            self.populate_s = time.perf_counter() - t0
            self.json_bytes = int(got["json"])
            self.photos = int(got["photos"])
            self.photo_bytes = int(got["photoBytes"])
            self.data = self.json_bytes + self.photo_bytes
            self.cdp = self.ctx.new_cdp_session(self.page)
            self.cdp.send("Network.enable")
            self.throttled = throttle == "chromium"
            self.link(online=True)
            self.legs: list[dict[str, Any]] = []
            self.leg_start = 0.0
            self.up0 = 0
            self.t_start = 0.0
            self.done = False
            self.cut_at: int | None = None
        except BaseException:  # the server is ours: never left running
            self.server.kill()
            raise

    def link(self, *, online: bool) -> None:
        if online:
            self.proxy.restore()
        if self.throttled or not online:
            self.cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": not online,
                    "latency": LATENCY_MS if self.throttled else 0,
                    "downloadThroughput": RATE if self.throttled else -1,
                    "uploadThroughput": RATE if self.throttled else -1,
                },
            )
        elif not self.throttled:
            self.cdp.send(
                "Network.emulateNetworkConditions",
                {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            )

    def start(self) -> None:
        self.t_start = self.leg_start = time.perf_counter()
        self.up0, self.down0 = self.proxy.up, self.proxy.down
        self.page.evaluate(START, self.in_flight)

    def poll(self) -> None:
        if self.done:
            return
        up = self.proxy.up - self.up0
        if self.interrupt and self.cut_at is None and not self.legs and up >= self.data // 2:
            self.cut_at = up
            self.link(online=False)
            self.proxy.cut()
        res = self.page.evaluate("window.__result")
        if res is None:
            return
        now = time.perf_counter()
        self.legs.append(
            {
                "seconds": round(now - self.leg_start, 1),
                "up_bytes": self.proxy.up - self.up0,
                "down_bytes": self.proxy.down - self.down0,
                "summary": res,
            }
        )
        if res["offline"] and len(self.legs) < 5:
            c.log(f"{self.name}: offline after {self.legs[-1]['up_bytes']:,} bytes up: resuming")
            self.link(online=True)
            self.leg_start = time.perf_counter()
            self.up0, self.down0 = self.proxy.up, self.proxy.down
            self.page.evaluate(START, self.in_flight)
            return
        self.done = True
        self.seconds = now - self.t_start

    def progress(self) -> str:
        p = self.page.evaluate("window.__progress")
        t = time.perf_counter() - self.t_start
        return f"{self.name}: {t:7.1f} s, {self.proxy.up:,} bytes up, {p}"

    def check(self) -> dict[str, Any]:
        """What the server holds: each record and photo once?"""
        from demine.services.submitting import SUBMISSION
        from demine.store.open import open_store

        s = open_store(self.location)
        try:
            subs = list(s.submissions())
            cids = {x["client_id"] for x in subs}
            atts = [a for x in subs for a in s.attachments(SUBMISSION, x["id"])]
        finally:
            s.close()
        return {
            "submissions": len(subs),
            "distinct_client_ids": len(cids),
            "duplicate_submissions": len(subs) - len(cids),
            "attachments": len(atts),
            "distinct_photos": len({a["sha256"] for a in atts}),
            "duplicate_photos": len(atts) - len({a["sha256"] for a in atts}),
            "attachment_bytes": sum(a["size"] for a in atts),
        }

    def close(self) -> None:
        self.ctx.close()
        self.server.terminate()
        self.server.wait(20)


def verify(browser: Any, work: Path) -> dict[str, Any]:
    """Does Chromium's emulation throttle an upload? One 1,000,000-byte photo's sync."""
    sc = Scenario("verify", browser, work, records(1, 3)[:0] + [_find()], 1, "chromium", False)
    try:
        sc.start()
        while not sc.done:
            time.sleep(0.2)
            sc.poll()
        out = {
            "seconds": round(sc.seconds, 2),
            "up_bytes": sc.legs[-1]["up_bytes"],
            "ideal_s": round(sc.data / RATE, 2),
            "throttles_uploads": sc.seconds >= 8.0,
            "summary": sc.legs[-1]["summary"],
        }
    finally:
        sc.close()
    return out


def _find() -> dict[str, Any]:
    return {
        "kind": "finds",
        "action": "create",
        "properties": {"device_type": "uxo", "state": "live", "found_at": "2026-05-01T10:00:00Z"},
        "geometry": {"type": "Point", "coordinates": [36.2, 49.9]},
        "accuracy_m": [4.0],
        "captured_at": "2026-05-01T10:00:00Z",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--throttle", choices=["chromium", "proxy"], default="chromium")
    ap.add_argument("--verify", action="store_true", help="only time one throttled upload")
    ap.add_argument("--only", choices=["whole", "interrupted"], default=None)
    ap.add_argument(
        "--in-flight", type=int, default=None, help="photo uploads at once (sync.js's default: 2)"
    )
    ap.add_argument("--tag", default="", help="a suffix of the result file's name")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(c.ROOT / "tests"))
    from live import CHROMIUM, CHROMIUM_ARGS  # type: ignore[import-not-found]

    work = Path(tempfile.mkdtemp(prefix="field_sync_", dir=c.data_dir()))
    machine = c.machine()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            if args.verify:
                out = verify(browser, work)
                c.log(json.dumps(out, indent=2))
                (c.RESULTS / "field_sync-verify.json").write_text(
                    json.dumps({"machine": machine, "verify": out}, indent=2) + "\n"
                )
                return
            recs = records(args.records)
            # photos go with finds: the first finds get one each
            finds = [i for i, r in enumerate(recs) if r["kind"] == "finds"]
            if len(finds) < args.photos:
                raise SystemExit(f"{len(finds)} finds for {args.photos} photos: more records")
            names = ["whole", "interrupted"] if args.only is None else [args.only]
            scs = []
            for name in names:
                c.log(
                    f"{name}: store, server, {args.records} records + {args.photos} photos "
                    "into IndexedDB"
                )
                scs.append(
                    Scenario(
                        name,
                        browser,
                        work,
                        recs,
                        args.photos,
                        args.throttle,
                        name == "interrupted",
                        args.in_flight,
                    )
                )
                c.log(
                    f"{name}: populated in {scs[-1].populate_s:.1f} s; data {scs[-1].data:,} bytes"
                )
            for sc in scs:
                sc.start()
            last = time.monotonic()
            while not all(sc.done for sc in scs):
                time.sleep(0.5)
                for sc in scs:
                    sc.poll()
                if time.monotonic() - last > 60:
                    last = time.monotonic()
                    for sc in scs:
                        c.log(sc.progress())
            rows = []
            for sc in scs:
                up = sum(leg["up_bytes"] for leg in sc.legs)
                down = sum(leg["down_bytes"] for leg in sc.legs)
                ideal = sc.data / RATE
                row = {
                    "scenario": sc.name,
                    "records": args.records,
                    "photos": sc.photos,
                    "data_bytes": sc.data,
                    "data_json_bytes": sc.json_bytes,
                    "data_photo_bytes": sc.photo_bytes,
                    "seconds": round(sc.seconds, 1),
                    "ideal_seconds": round(ideal, 1),
                    "time_ratio": round(sc.seconds / ideal, 3),
                    "up_bytes": up,
                    "down_bytes": down,
                    "bytes_ratio": round(up / sc.data, 4),
                    "goal_bytes_ratio": 1.1,
                    "met": up <= 1.1 * sc.data,
                    "cut_at_up_bytes": sc.cut_at,
                    "legs": sc.legs,
                    "server": sc.check(),
                    "populate_seconds": round(sc.populate_s, 1),
                }
                rows.append(row)
                c.log(
                    f"{sc.name:12s} {row['seconds']:8.1f} s (ideal {row['ideal_seconds']:.1f} s, "
                    f"{row['time_ratio']:.3f}x)  up {up:,} B / data {sc.data:,} B = "
                    f"{row['bytes_ratio']:.4f}x  (goal <= 1.1: "
                    f"{'met' if row['met'] else 'NOT met'})"
                    f"  server {row['server']}"
                )
            quick = args.records != 1000 or args.photos != 200
            tag = ("-quick" if quick else "") + (f"-{args.tag}" if args.tag else "")
            dest = c.RESULTS / f"field_sync{tag}.json"
            dest.write_text(
                json.dumps(
                    {
                        "machine": machine,
                        "photos_in_flight": args.in_flight or "sync.js default",
                        "link": {
                            "throttle": args.throttle,
                            "bytes_per_s": RATE,
                            "latency_ms": LATENCY_MS,
                        },
                        "rows": rows,
                    },
                    indent=2,
                )
                + "\n"
            )
            c.log(f"wrote {dest}")
            for sc in scs:
                sc.close()
        finally:
            browser.close()


if __name__ == "__main__":
    os.environ.setdefault("DEMINE_USER", "bench")
    main()
