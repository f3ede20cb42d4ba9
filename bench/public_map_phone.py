"""The public map on a phone over a slow link (issue 15, docs/map.md): how soon a person can read
the safety advice and use the check form, how soon hazards are drawn, and how many bytes a first
visit costs.

The profile is Lighthouse's mobile one, emulated by Chromium through the DevTools protocol: a
390 x 844 touch screen (device scale 3), 1.6 Mbit/s down (200,000 bytes/s), 750 kbit/s up,
150 ms round trip (``Network.emulateNetworkConditions``) and the CPU slowed 4 times
(``Emulation.setCPUThrottlingRate``). One unmeasured visit of each page comes first (``--warmup``:
a server's first requests import modules and open the store, which a running server has done
long before). Every run is a first visit: a new browser context, an empty
cache. A repeat visit (same context, reload) is measured after it: what revalidation costs.

What is measured, from the navigation's start (``performance.timeOrigin``):
- **text**: the later of the first contentful paint and the page's ``demine:text`` mark (the
  safety block and the check form readable); the run also checks that the safety block, with
  "101", lies within the first screen;
- **hazards**: the page's ``demine:hazards`` mark (hazard tiles loaded and drawn: the map's
  first ``idle`` after its hazards source loaded);
- **bytes**: the bytes sent to the phone until the hazards were drawn, and after a 2 s quiet
  period, counted on the wire (headers and bodies, the page's and its map worker's requests)
  by a TCP proxy between Chromium and the server.

The anchor, in the same run and on the same store: the public map as it was before this issue
(``--old-src``, a worktree of commit 7c4ce5b, made when missing), on the same profile. It sets
no marks: its text time is when its first heading got its text (polled every 50 ms), its
hazards time when its first hazard tile arrived (a lower bound of "drawn").

Goals (issue 15): text within 2 s, hazards within 5 s, first-load bytes under 700 KB.

    python bench/public_map_phone.py                 # 3 first visits of each page (demo store)
    python bench/public_map_phone.py --runs 1 --no-anchor
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402
import field_sync  # noqa: E402
from field_sync import Proxy  # noqa: E402

DOWN = 200_000  # bytes/s: 1.6 Mbit/s
UP = 93_750  # bytes/s: 750 kbit/s
RTT_MS = 150
CPU = 4
OLD_COMMIT = "7c4ce5b"
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
)
GOAL_TEXT_S, GOAL_HAZARDS_S, GOAL_BYTES = 2.0, 5.0, 700_000


def start_server(src: Path, location: str, log: Path) -> int:
    """``create_app`` of the demine at ``src`` under uvicorn, one worker."""
    return field_sync.start_server(location, log, src)[1]


def old_worktree(path: Path) -> Path:
    if not (path / "src" / "demine").is_dir():
        subprocess.run(
            ["git", "-C", str(c.ROOT), "worktree", "add", "--detach", str(path), OLD_COMMIT],
            check=True,
            capture_output=True,
        )
    return path / "src"


# the old page (before issue 15): no marks; its first heading's text, its first hazard tile
OLD_TEXT = "() => { const h = document.getElementById('place-heading'); "
OLD_TEXT += "return !!(h && h.textContent.trim()); }"
NEW_DONE = "() => document.documentElement.dataset.hazards === 'drawn'"
FIRST_SCREEN = """() => {
  const hits = [...document.querySelectorAll('body *')].filter((e) => {
    if (e.children.length) return false;
    if (!/\\b101\\b/.test(e.textContent || '')) return false;
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && r.bottom <= innerHeight;
  });
  return hits.length > 0;
}"""


def visit(browser: Any, proxy: Any, new: bool, lang: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{proxy.port}/"
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        user_agent=PHONE_UA,
        locale="uk-UA" if lang == "uk" else "en-GB",
    )
    try:
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": RTT_MS,
                "downloadThroughput": DOWN,
                "uploadThroughput": UP,
            },
        )
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU})
        wire: dict[str, int] = {"requests": 0}
        first_tile: list[float] = []
        t0: list[float] = []

        def finished(req: Any) -> None:  # the page's and its workers' requests
            wire["requests"] += 1
            if "/tiles/hazards/" in req.url and not first_tile and t0:
                first_tile.append(time.monotonic() - t0[0])

        page.on("requestfinished", finished)
        proxy.down = proxy.up = 0
        t0.append(time.monotonic())
        page.goto(url, wait_until="commit", timeout=120_000)
        if new:
            page.wait_for_function(NEW_DONE, timeout=120_000, polling=100)
            marks = page.evaluate(
                "() => Object.fromEntries(['demine:text', 'demine:hazards'].map((n) => "
                "[n, (performance.getEntriesByName(n)[0] || {}).startTime ?? null]))"
            )
            text_mark = marks["demine:text"]
            hazards_s = marks["demine:hazards"] / 1000
        else:
            page.wait_for_function(OLD_TEXT, timeout=120_000, polling=50)
            text_mark = page.evaluate("() => performance.now()")
            deadline = time.monotonic() + 120
            while not first_tile and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            hazards_s = first_tile[0] if first_tile else None
        bytes_at_hazards = proxy.down
        fcp = page.evaluate(
            "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
            " ?? null"
        )
        text_s = max(v for v in (fcp, text_mark) if v is not None) / 1000
        in_first_screen = bool(page.evaluate(FIRST_SCREEN))
        quiet, last = time.monotonic(), wire["requests"]
        while time.monotonic() - quiet < 2.0:
            page.wait_for_timeout(250)
            if wire["requests"] != last:
                quiet, last = time.monotonic(), wire["requests"]
        first_bytes, first_requests = proxy.down, wire["requests"]
        # a repeat visit: the same context, its cache; what revalidation costs
        proxy.down = 0
        page.reload(wait_until="load", timeout=120_000)
        page.wait_for_timeout(3000)
        return {
            "text_s": round(text_s, 3),
            "fcp_s": None if fcp is None else round(fcp / 1000, 3),
            "hazards_s": None if hazards_s is None else round(hazards_s, 3),
            "bytes_at_hazards": bytes_at_hazards,
            "bytes_first_visit": first_bytes,
            "requests_first_visit": first_requests,
            "bytes_repeat_visit": proxy.down,
            "safety_101_in_first_screen": in_first_screen,
        }
    finally:
        ctx.close()


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="unmeasured first visits of each page first (a server's first requests import "
        "modules and open the store: a running server has done that long before)",
    )
    ap.add_argument("--lang", choices=["uk", "en"], default="uk")
    ap.add_argument("--no-anchor", action="store_true", help="skip the old page")
    ap.add_argument("--old-src", type=Path, default=c.data_dir() / f"old-{OLD_COMMIT}")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(c.ROOT / "tests"))
    from demine.demo import build_demo_store
    from live import CHROMIUM, CHROMIUM_ARGS  # type: ignore[import-not-found]

    store = c.data_dir() / "phone-demo.gpkg"
    if not store.exists():
        build_demo_store(store)
    sides = [("this page", c.SRC, True)]
    if not args.no_anchor:
        sides.append((f"before issue 15 ({OLD_COMMIT})", old_worktree(args.old_src), False))
    ports = {
        name: start_server(src, str(store), c.data_dir() / f"phone-{i}.log")
        for i, (name, src, _) in enumerate(sides)
    }
    proxies = {name: Proxy(port) for name, port in ports.items()}  # counts the bytes sent
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in sides}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for k in range(args.warmup):
                for name, _, new in sides:
                    r = visit(browser, proxies[name], new, args.lang)
                    c.log(f"warm-up {k + 1} {name} (not counted): hazards {r['hazards_s']} s")
            for k in range(args.runs):  # interleaved: both sides see the same machine load
                for name, _, new in sides:
                    r = visit(browser, proxies[name], new, args.lang)
                    c.log(f"run {k + 1} {name}: {json.dumps(r)}")
                    results[name].append(r)
        finally:
            browser.close()

    rep = c.Report(
        "public_map_phone",
        "The public map on a phone (1.6 Mbit/s, 150 ms, CPU x4), first visit",
        False,
        params={
            "runs": args.runs,
            "warmup_visits": args.warmup,
            "lang": args.lang,
            "down_Bps": DOWN,
            "up_Bps": UP,
            "rtt_ms": RTT_MS,
            "cpu_slowdown": CPU,
            "store": "the synthetic demo (demine demo)",
        },
    )
    new = results["this page"]
    old_name = next((n for n in results if n != "this page"), None)
    old = results.get(old_name, []) if old_name else []
    rows = [
        ("safety text and check form readable (s)", "text_s", GOAL_TEXT_S, "< 2 s"),
        ("hazards drawn (s)", "hazards_s", GOAL_HAZARDS_S, "< 5 s"),
    ]
    for what, key, goal, goal_text in rows:
        m = median(new, key)
        rep.rows.append(
            c.Row(
                what,
                m,
                old_name or "none",
                median(old, key),
                goal=f"{goal_text} (met: {m is not None and m < goal})",
            )
        )
    b_new, b_old = median(new, "bytes_at_hazards"), median(old, "bytes_at_hazards")
    rep.details = {
        "runs": results,
        "median": {
            name: {
                k: median(rs, k)
                for k in (
                    "text_s",
                    "fcp_s",
                    "hazards_s",
                    "bytes_at_hazards",
                    "bytes_first_visit",
                    "requests_first_visit",
                    "bytes_repeat_visit",
                )
            }
            for name, rs in results.items()
        },
        "goals": {
            "text_s": GOAL_TEXT_S,
            "hazards_s": GOAL_HAZARDS_S,
            "first_load_bytes": GOAL_BYTES,
            "bytes_met": b_new is not None and b_new < GOAL_BYTES,
            "safety_101_in_first_screen": all(r["safety_101_in_first_screen"] for r in new),
        },
    }
    rep.notes.append(
        f"first-load bytes until hazards drawn: {b_new:,.0f} (old page: "
        f"{b_old if b_old is None else f'{b_old:,.0f}'}); goal < {GOAL_BYTES:,}"
    )
    rep.print()
    print(json.dumps(rep.details["median"], indent=2))
    print(f"results: {rep.write()}")


if __name__ == "__main__":
    main()
