"""Warnings where you walk (issue 15 item 2), in headless Chromium against a live server, on
both backends: the public map's service worker keeps the page; "Start warnings" fetches the area
around the person while online; then, with no connection, the page is reloaded from the
device, the warnings started again from the area held on the phone, and Chromium's emulated
position walks a path towards a recorded hazard: nothing is raised while the person is far, the
warning (on screen, with "101", vibration asked for) when the path comes within the chosen
distance, the strongest one inside; walking back out clears it. An unverified civilian report
warns too; released land does not. The page's distances agree with the server's geodesic ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import shapely

from demine.api import create_app
from live import serve, wait_for
from sites import module_store

TIMEOUT = 30_000
LON, LAT = 30.5, 50.4  # the hazard's south-west corner; a square about 100 m a side
SQUARE = shapely.box(LON, LAT, LON + 0.0014, LAT + 0.0009)
RELEASED = shapely.box(LON - 0.01, LAT - 0.006, LON - 0.0086, LAT - 0.0051)  # on the path
REPORT = (LON + 0.02, LAT)  # an unverified report 1.4 km east
VIBRATIONS = """
window.__vibrations = [];
navigator.vibrate = (p) => { window.__vibrations.push(p); return true; };
"""
# the page's position error callbacks, so a test can lose the position (Chromium's emulation
# cannot say "position unavailable")
GEO_ERRORS = """
window.__geoErrors = [];
const watch = navigator.geolocation.watchPosition.bind(navigator.geolocation);
navigator.geolocation.watchPosition = (ok, err, opts) => {
  window.__geoErrors.push(err);
  return watch(ok, err, opts);
};
"""


def walking_phone(browser: Any, at: dict[str, float]) -> Any:
    """A phone's browser context standing at ``at``: position allowed, the service worker on."""
    return browser.new_context(
        viewport={"width": 390, "height": 844},
        permissions=["geolocation"],
        geolocation=at,
        locale="en-GB",
        service_workers="allow",
    )


M_PER_DEG_LAT = 111_250.0  # near 50.4° N


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from demine.ids import uuid7
    from demine.model.schema import Record
    from demine.services import civilian, pow
    from demine.store.open import open_store

    with module_store(request.param, tmp_path_factory, "walk", organisations={}, users={}) as (
        location,
        _,
    ):
        s = open_store(location)
        try:
            s.upsert(
                "hazards",
                [
                    Record(
                        "hazards",
                        uuid7(),
                        {"name": "Field by the well", "hazard_type": "CHA", "status": "open"},
                        shapely.MultiPolygon([SQUARE]),  # as PostGIS's column holds them
                    ),
                    Record(
                        "hazards",
                        uuid7(),
                        {
                            "name": "Cleared orchard",
                            "hazard_type": "CHA",
                            "status": "closed",
                            "closed_on": "2025-05-01",
                        },
                        shapely.MultiPolygon([RELEASED]),
                    ),
                ],
                actor="t",
            )
            s.set_setting(pow.BITS_SETTING, 0)
            civilian.submit(
                s,
                {
                    "challenge": pow.challenge(s)["challenge"],
                    "nonce": "0",
                    "lon": REPORT[0],
                    "lat": REPORT[1],
                    "object_type": "shell",
                    "seen_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        finally:
            s.close()
        with serve(create_app(location)) as url:
            yield url


def _south_of_square(metres: float) -> dict[str, float]:
    """A position ``metres`` due south of the square's south edge, in the middle."""
    return {
        "latitude": LAT - metres / M_PER_DEG_LAT,
        "longitude": LON + 0.0007,
        "accuracy": 5,
    }


def _state(page: Any) -> dict[str, str]:
    out: dict[str, str] = page.evaluate(
        "() => ({status: document.getElementById('walk-status').textContent, "
        "alert: document.getElementById('walk-alert').textContent, "
        "held: document.getElementById('walk-held').textContent})"
    )
    return out


def _move(page: Any, ctx: Any, where: dict[str, float], want: str) -> dict[str, str]:
    ctx.set_geolocation(where)
    return dict(
        wait_for(
            page,
            "(() => { const s = document.getElementById('walk-status').textContent, "
            "a = document.getElementById('walk-alert').textContent; "
            f"return ({want}) ? {{status: s, alert: a}} : null; }})()",
            TIMEOUT,
        )
    )


def test_the_page_warns_offline_along_a_path(browser: Any, site: str) -> None:
    ctx = walking_phone(browser, _south_of_square(1000))
    try:
        ctx.add_init_script(VIBRATIONS)
        ctx.add_init_script(GEO_ERRORS)
        page = ctx.new_page()
        page.goto(site + "/")
        wait_for(page, "!!navigator.serviceWorker.controller")  # it claims the page
        page.click("#walk-toggle")
        got = _move(page, ctx, _south_of_square(1000), "s.startsWith('No recorded hazard')")
        assert "within 100 m" in got["status"] and got["alert"] == ""
        held = _state(page)["held"]
        assert "1 hazards and 1 reports" in held, held  # the released land is not held

        # no connection from here on: the page itself comes from the phone
        ctx.set_offline(True)
        page.reload()
        wait_for(page, "!!document.getElementById('walk-toggle')")
        assert "101" in page.inner_text("body")
        page.click("#walk-toggle")
        # across the released land: no warning
        released_mid = {
            "latitude": (RELEASED.bounds[1] + RELEASED.bounds[3]) / 2,
            "longitude": (RELEASED.bounds[0] + RELEASED.bounds[2]) / 2,
            "accuracy": 5,
        }
        got = _move(page, ctx, released_mid, "s.startsWith('No recorded hazard')")
        assert got["alert"] == ""
        for far in (600, 300, 150, 120):
            got = _move(page, ctx, _south_of_square(far), "s.startsWith('No recorded hazard')")
            assert got["alert"] == "", far
        assert page.evaluate("window.__vibrations.length") == 0
        got = _move(page, ctx, _south_of_square(80), "a.length > 0")
        assert got["alert"].startswith("DANGER: a recorded hazard 80 m away"), got
        assert "Go back the way you came" in got["alert"] and "Call 101" in got["alert"]
        assert page.evaluate("window.__vibrations.length") == 1
        got = _move(
            page,
            ctx,
            {"latitude": LAT + 0.0004, "longitude": LON + 0.0007, "accuracy": 5},
            "a.includes('inside')",
        )
        assert "Do not touch anything" in got["alert"]
        assert page.evaluate("window.__vibrations.length") == 2
        assert page.get_by_role("alert").inner_text() == got["alert"]
        # the position is lost (no fix in time, a tunnel): the warning stays, only a new fix
        # may end it
        page.evaluate("window.__geoErrors.forEach((f) => f({code: 2, message: 'lost'}))")
        lost = _state(page)
        assert lost["status"].startswith("Your position is not available now"), lost
        assert "Do not touch anything" in lost["alert"], lost
        # back out and away: the warning ends (beyond the distance and its margin)
        got = _move(page, ctx, _south_of_square(200), "a === '' && s.startsWith('No recorded')")
        assert got["status"].startswith("No recorded hazard")
        # an unverified civilian report warns too
        near_report = {
            "latitude": REPORT[1] - 60 / M_PER_DEG_LAT,
            "longitude": REPORT[0],
            "accuracy": 5,
        }
        got = _move(page, ctx, near_report, "a.length > 0")
        assert "unverified report" in got["alert"]
        # in Ukrainian
        page.evaluate("document.documentElement.lang = 'uk'")
        uk = wait_for(
            page,
            "(() => { const a = document.getElementById('walk-alert').textContent; "
            "return a.includes('НЕБЕЗПЕКА') && a; })()",
        )
        assert "101" in uk and "неперевірене повідомлення" in uk
    finally:
        ctx.close()


def test_a_place_with_no_data_on_the_phone_says_so(browser: Any, site: str) -> None:
    ctx = browser.new_context(
        permissions=["geolocation"],
        geolocation={"latitude": 48.0, "longitude": 24.0, "accuracy": 10},
        locale="en-GB",
    )
    try:
        page = ctx.new_page()
        page.goto(site + "/")
        wait_for(page, "!!document.getElementById('walk-toggle')")
        ctx.set_offline(True)
        page.click("#walk-toggle")
        got = _move(
            page,
            ctx,
            {"latitude": 48.0, "longitude": 24.0, "accuracy": 10},
            "s.startsWith('There is no hazard data')",
        )
        assert got["alert"] == ""
    finally:
        ctx.close()


def test_the_pages_distances_agree_with_the_servers(browser: Any, site: str) -> None:
    """walk.js's local-plane distances against demine.geo.geodesy (the safety API's), for
    polygons across Ukraine and points up to 3 km away: within 0.5 m."""
    import random

    import numpy as np

    from demine.geo.geodesy import distance_to_geometries

    rng = random.Random(4)
    cases = []
    while len(cases) < 300:
        cx, cy, r = rng.uniform(22, 40), rng.uniform(44.5, 52), rng.uniform(0.0005, 0.01)
        n = rng.randint(4, 12)
        angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(n))
        poly = shapely.Polygon(
            [
                (
                    cx + r * math.cos(a) * rng.uniform(0.5, 1.5),
                    cy + r * math.sin(a) * rng.uniform(0.5, 1.5),
                )
                for a in angles
            ]
        )
        if not poly.is_valid:
            continue
        px, py = cx + rng.uniform(-0.04, 0.04), cy + rng.uniform(-0.03, 0.03)
        if len(cases) % 5 == 0:  # every fifth inside
            inner = poly.representative_point()
            px, py = inner.x, inner.y
        d = float(distance_to_geometries(px, py, np.asarray([poly], dtype=object))[0])
        if d < 3000:
            cases.append({"lat": py, "lon": px, "g": shapely.geometry.mapping(poly), "d": d})
    page = browser.new_page()
    try:
        page.goto(site + "/")
        got = page.evaluate(
            """async (cases) => {
              const w = await import(new URL("static/walk.js", document.baseURI).href);
              return cases.map((c) => w.distanceTo(c.lat, c.lon, JSON.parse(JSON.stringify(c.g))));
            }""",
            [
                {
                    **c,
                    "g": {
                        "type": "Polygon",
                        "coordinates": [list(map(list, c["g"]["coordinates"][0]))],
                    },
                }
                for c in cases
            ],
        )
    finally:
        page.close()
    worst = max(abs(g["distance_m"] - c["d"]) for g, c in zip(got, cases, strict=True))
    assert worst < 0.5, worst
    assert all((g["distance_m"] == 0) == (c["d"] == 0) for g, c in zip(got, cases, strict=True))
    assert sum(c["d"] == 0 for c in cases) >= 60  # some points inside


def test_the_service_worker_keeps_every_file_the_page_loads(browser: Any, site: str) -> None:
    """/sw.js's shell list (found from index.html and the modules' imports) holds every file of
    the page the browser loaded (its own and MapLibre's): none would be missing offline."""
    import json
    import re
    import urllib.request

    with urllib.request.urlopen(site + "/sw.js") as r:
        text = r.read().decode()
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", text, re.S).group(1))  # type: ignore[union-attr]
    assert "__VERSION__" not in text and re.search(r'const VERSION = "[0-9a-f]{16}"', text)
    ctx = browser.new_context(locale="uk-UA")
    try:
        page = ctx.new_page()
        page.goto(site + "/")
        wait_for(page, "document.documentElement.dataset.hazards === 'drawn'")
        loaded = page.evaluate(
            "() => performance.getEntriesByType('resource').map((e) => e.name)"
            ".concat([location.href])"
        )
    finally:
        ctx.close()
    # the worker matches a file whatever its query (MapLibre's worker is loaded with ?v=)
    ours = sorted(
        {
            u.removeprefix(site + "/").split("?")[0]
            for u in loaded
            if u.startswith(site + "/static/")
        }
    )
    assert ours, loaded
    missing = [u for u in ours if u not in shell]
    assert not missing, f"loaded but not kept offline: {missing}"
