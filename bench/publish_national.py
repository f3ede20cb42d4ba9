"""Benchmark: the offline safety pack at national scale, against the live API, on a phone profile.

1,000,000 synthetic hazards (``--quick``: 100,000; the generator of ``_common.hazard_rings``,
12 vertices each, eastern Ukraine) are published with ``demine.services.publish`` (timed); the
pack is served by a plain static file server with Range requests (tests/static_server.py, no
demine code) and the same store by ``demine serve``. Headless Chromium on a throttled phone
profile (CDP ``Network.emulateNetworkConditions``: 200,000 bytes/s down (1.6 Mbit/s), 150 ms
latency; ``Emulation.setCPUThrottlingRate`` 4; a 390 × 844 viewport; a fresh context each run,
so a first visit) opens a minimal map page and asks about one place (500 m):

- static: MapLibre + ``pack.js`` (``registerProtocol`` for the PMTiles archive, ``lookup``);
- live: MapLibre on ``/tiles/hazards/{z}/{x}/{y}.mvt`` and ``GET /api/v1/safety/point``.

Measured from navigation start: time to the point answer, time to the first map with hazards
rendered (``idle`` and ``queryRenderedFeatures`` non-empty), and bytes transferred (CDP
``encodedDataLength``) until the answer and in all. Both modes run in the same process, in
alternation. The two answers are compared (same hazard ids, levels and distances). Goal: the
first answer in under 3 s on this profile.

    python bench/publish_national.py            # 1,000,000 hazards
    python bench/publish_national.py --quick    # 100,000
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

RATE = 200_000  # bytes/s: 1.6 Mbit/s
LATENCY_MS = 150
CPU_X = 4
RADIUS_M = 500
GOAL_ANSWER_S = 3.0
VIEWPORT = {"width": 390, "height": 844}

PAGE_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="icon" href="data:,"><title>pack bench</title>
<style>html,body{margin:0}#map{width:100vw;height:100vh}</style></head>
<body><div id="map"></div><script type="module" src="bench-page.js"></script></body></html>"""

PAGE_JS = r"""
const q = new URLSearchParams(location.search);
const lat = Number(q.get("lat")), lon = Number(q.get("lon")), radius = Number(q.get("r"));
const mode = q.get("mode");
const res = { mode };
window.__bench = res;
const answered = (async () => {
  if (mode === "pack") {
    const { openPack } = await import(q.get("packjs"));
    const pack = await openPack(q.get("pack"));
    window.__pack = pack;
    return pack.lookup(lat, lon, radius);
  }
  const r = await fetch(`/api/v1/safety/point?lat=${lat}&lon=${lon}&radius=${radius}`);
  return r.json();
})().then((a) => { res.answer = a; res.answer_ms = performance.now(); });
// the safety answer first, then the map library (1.1 MB): on a slow link they would share it
if (q.get("order") === "answer-first") await answered;
const maplibregl = await import(q.get("lib"));
let source;
if (mode === "pack") {
  while (!window.__pack) await new Promise((r) => setTimeout(r, 10));
  source = { type: "vector", url: await window.__pack.registerProtocol(maplibregl) };
} else {
  const tiles = [`${location.origin}/tiles/hazards/{z}/{x}/{y}.mvt`];
  source = { type: "vector", tiles, minzoom: 0, maxzoom: 14 };
}
const map = new maplibregl.Map({
  container: "map", center: [lon, lat], zoom: Number(q.get("z")), attributionControl: false,
  style: { version: 8, sources: { h: source }, layers: [
    { id: "hz", type: "fill", source: "h", "source-layer": "hazards",
      paint: { "fill-color": "#c00", "fill-opacity": 0.5 } },
    { id: "hzp", type: "circle", source: "h", "source-layer": "hazards",
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": "#c00", "circle-radius": 3 } },
  ] },
});
map.on("idle", () => {
  if (res.map_ms === undefined && map.queryRenderedFeatures({ layers: ["hz", "hzp"] }).length) {
    res.map_ms = performance.now();
    res.rendered = map.queryRenderedFeatures({ layers: ["hz", "hzp"] }).length;
  }
});
await answered;
"""


def wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def one_run(browser: Any, url: str, origin: str) -> dict[str, Any]:
    ctx = browser.new_context(viewport=VIEWPORT, device_scale_factor=2, is_mobile=True)
    page = ctx.new_page()
    page.route(
        re.compile(re.escape(f"{origin}/bench-page.html") + ".*"),
        lambda r: r.fulfill(body=PAGE_HTML, content_type="text/html; charset=utf-8"),
    )
    page.route(
        f"{origin}/bench-page.js",
        lambda r: r.fulfill(body=PAGE_JS, content_type="text/javascript"),
    )
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": LATENCY_MS,
            "downloadThroughput": RATE,
            "uploadThroughput": RATE,
        },
    )
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_X})
    log: list[tuple[float, int, str]] = []
    urls: dict[str, str] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: log.append(
            (e["timestamp"], int(e["encodedDataLength"]), urls.get(e["requestId"], ""))
        ),
    )
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    nav = page.evaluate("performance.timeOrigin")
    deadline = time.monotonic() + 120
    res: dict[str, Any] = {}
    while time.monotonic() < deadline:
        res = page.evaluate("window.__bench || {}")
        if "answer_ms" in res and "map_ms" in res:
            break
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    time.sleep(0.5)
    # CDP timestamps are monotonic seconds; performance.timeOrigin is epoch ms: compare through
    # the page's own clock instead (bytes until the answer: requests finished before it)
    mono_now = page.evaluate("performance.now()")
    cdp_now = max((t for t, _, _ in log), default=0.0)
    del nav, mono_now, cdp_now
    total = sum(n for _, n, _ in log)
    answer = res.get("answer") or {}
    out = {
        "answer_s": round(res["answer_ms"] / 1000, 2) if "answer_ms" in res else None,
        "map_s": round(res["map_ms"] / 1000, 2) if "map_ms" in res else None,
        "rendered": res.get("rendered"),
        "bytes": total,
        "requests": len(log),
        "wall_s": round(wall, 1),
        "answer": {
            "warning_level": answer.get("warning_level"),
            "hazards": [
                (h["id"], h["distance_m"], h["warning_level"]) for h in answer.get("hazards", [])
            ],
        },
        "answer_bytes": sum(
            n
            for _, n, u in log
            if re.search(r"pack\.json|/index/|geographiclib|pack\.js|/point\?", u)
        ),
        "largest": sorted(((n, u.split("/")[-1][:40]) for _, n, u in log), reverse=True)[:5],
    }
    ctx.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 hazards")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--vertices", type=int, default=12)
    ap.add_argument("--max-zoom", type=int, default=12)
    ap.add_argument("--block-deg", type=float, default=0.05)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--order",
        default="answer-first",
        choices=("answer-first", "together"),
        help="load the map library after the answer (default) or at once",
    )
    ap.add_argument("--zoom", type=float, default=13.0, help="the map's first view")
    ap.add_argument(
        "--box-deg",
        type=float,
        default=0.0,
        help="publish a box this many degrees wide around the place (a regional pack of the "
        "national store) instead of the whole area",
    )
    args = ap.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)
    db = c.hazard_store_chunked(n, vertices=args.vertices, log=c.log)
    work = c.data_dir() / f"publish_{n}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "site").mkdir(parents=True)
    from demine.services.publish import publish
    from demine.store.open import open_store

    # the place: the centre of a hazard (a phone standing by one), seeded
    rings, _ = c.hazard_rings(n, c.SEED_HAZARDS, vertices=args.vertices)
    i = n // 3
    lon, lat = (float(v) for v in rings[i, :-1].mean(axis=0))
    bbox = (c.LON_MIN, c.LAT_MIN, c.LON_MAX, c.LAT_MAX)
    if args.box_deg:
        h = args.box_deg / 2
        bbox = (lon - h, lat - h, lon + h, lat + h)
    store = open_store(str(db))
    t0 = time.perf_counter()
    meta = publish(
        store,
        work / "site" / "pack",
        bbox=bbox,
        max_zoom=args.max_zoom,
        block_deg=args.block_deg,
        progress=lambda m: c.log(f"  publish: {m} ({time.perf_counter() - t0:.0f} s)"),
    )
    publish_s = time.perf_counter() - t0
    store.close()
    site = work / "site"
    web = c.SRC / "demine" / "web"
    (site / "web").symlink_to(web, target_is_directory=True)
    c.log(
        f"published in {publish_s:.0f} s: {json.dumps(meta['tiles'])} "
        f"index {meta['lookup']['bytes']:,} B"
    )
    sport, dport = c_free_port(), c_free_port()
    static = subprocess.Popen(
        [sys.executable, str(c.ROOT / "tests" / "static_server.py"), str(site), str(sport)],
        stdout=subprocess.PIPE,
    )
    demine = subprocess.Popen(
        c.demine_cmd("serve", "--db", str(db), "--port", str(dport), "--rate-limit", "0"),
        env=c.subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows: dict[str, list[dict[str, Any]]] = {"static": [], "live": []}
    try:
        assert static.stdout is not None and static.stdout.readline().strip() == b"ready"
        s_url, d_url = f"http://127.0.0.1:{sport}", f"http://127.0.0.1:{dport}"
        wait_http(f"{d_url}/api/v1/safety/point?lat={lat}&lon={lon}")
        from playwright.sync_api import sync_playwright

        from demine.services.report import CHROMIUM, CHROMIUM_ARGS

        q = f"lat={lat!r}&lon={lon!r}&r={RADIUS_M}&z={args.zoom}&order={args.order}"
        urls = {
            "static": (
                f"{s_url}/bench-page.html?mode=pack&{q}&pack={s_url}/pack/"
                f"&packjs={s_url}/web/pack.js&lib={s_url}/web/vendor/maplibre-gl/maplibre-gl.mjs",
                s_url,
            ),
            "live": (
                f"{d_url}/bench-page.html?mode=api&{q}"
                f"&lib={d_url}/static/vendor/maplibre-gl/maplibre-gl.mjs",
                d_url,
            ),
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for k in range(args.runs):
                for mode in ("static", "live"):
                    r = one_run(browser, *urls[mode])
                    c.log(
                        f"  {mode} run {k + 1}: {json.dumps({x: r[x] for x in r if x != 'answer'})}"
                    )
                    rows[mode].append(r)
            browser.close()
    finally:
        static.terminate()
        demine.terminate()
        static.wait(10)
        demine.wait(10)
    same = all(r["answer"] == rows["live"][0]["answer"] for r in rows["static"] + rows["live"])

    def med(mode: str, key: str) -> float | None:
        vals = [r[key] for r in rows[mode] if r[key] is not None]
        return statistics.median(vals) if vals else None

    result = {
        "n": n,
        "vertices": args.vertices,
        "bbox": bbox,
        "max_zoom": args.max_zoom,
        "block_deg": args.block_deg,
        "order": args.order,
        "place": [lat, lon],
        "radius_m": RADIUS_M,
        "profile": {
            "down_bytes_s": RATE,
            "latency_ms": LATENCY_MS,
            "cpu_x": CPU_X,
            "viewport": VIEWPORT,
        },
        "publish_s": round(publish_s, 1),
        "pack": {
            "tiles": meta["tiles"],
            "lookup": {k: v for k, v in meta["lookup"].items() if k not in ("present", "messages")},
        },
        "same_answer": same,
        "answer": rows["static"][0]["answer"],
        "median": {
            m: {k: med(m, k) for k in ("answer_s", "map_s", "bytes", "answer_bytes", "requests")}
            for m in rows
        },
        "runs": rows,
        "goal_answer_s": GOAL_ANSWER_S,
        "machine": c.machine(),
    }
    box = f"_box{args.box_deg:g}" if args.box_deg else ""
    out = c.RESULTS / f"publish_national_{n}{box}_{args.order}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: result[k] for k in ("n", "publish_s", "same_answer", "median")}, indent=2))
    c.log(f"results in {out}")


def c_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
