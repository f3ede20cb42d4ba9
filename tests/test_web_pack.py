"""The offline safety pack in a browser (issue 15's acceptance): ``demine publish`` output served by
a plain static file server (tests/static_server.py: files and HTTP Range, no demine process) and
read by web/pack.js in headless Chromium gives the same point-lookup answers as the live API (a
live demine server) for 1,000 seeded random places, and MapLibre draws its hazards from the
PMTiles archive. Both backends."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import shape

import pack_data
from live import free_port, serve, wait_for

HERE = Path(__file__).parent
POINTS = 1000
RADII = (0.0, 25.0, 100.0, 250.0, 500.0, 1000.0, 5000.0)


@contextmanager
def static_host(root: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "static_server.py"), str(root), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def site(store: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The world published into ROOT/pack, next to web/ (demine's web files) and the test page,
    on a static host; and a live demine server on the same store."""
    import demine
    from demine.api import create_app
    from demine.services.publish import publish
    from demine.store.open import open_store

    world = pack_data.build(store)
    root = tmp_path / "root"
    root.mkdir()
    s = open_store(world.location)
    try:
        meta = publish(s, root / "pack", bbox=pack_data.BBOX, max_zoom=14)
    finally:
        s.close()
    (root / "web").symlink_to(Path(demine.__file__).parent / "web", target_is_directory=True)
    for name in ("web_pack_page.html", "web_pack_page.js"):
        (root / name).write_bytes((HERE / name).read_bytes())
    with (
        static_host(root) as static,
        serve(create_app(world.location, rate_limit_per_minute=0)) as api,
    ):
        yield {"world": world, "meta": meta, "static": static, "api": api}


def places(
    world: pack_data.PackWorld, n: int, seed: int = 1515
) -> list[tuple[float, float, float]]:
    """Seeded places: half near hazard edges (within about 300 m), a tenth inside hazards, a
    tenth on the pack's edges, the rest anywhere in its area; each with a radius."""
    rng = random.Random(seed)
    w, s, e, nn = pack_data.BBOX
    geoms = [shape(h["geometry"]) for h in world.hazards]
    out: list[tuple[float, float, float]] = []
    for i in range(n):
        k = i % 10
        if k < 5:
            g = rng.choice(geoms)
            p = g.boundary.interpolate(rng.random(), normalized=True)
            d = rng.choice((0.00005, 0.0005, 0.003))
            lon, lat = p.x + rng.uniform(-d, d), p.y + rng.uniform(-d, d)
        elif k == 5:
            g = rng.choice(geoms)
            p = shapely.point_on_surface(g)
            lon, lat = p.x + rng.uniform(-1e-4, 1e-4), p.y + rng.uniform(-1e-4, 1e-4)
        elif k == 6 and i % 20 < 10:  # the east edge, by the hazard just outside it
            lon, lat = e, rng.uniform(48.04, 48.06)
        elif k == 6:
            t = rng.random()
            lon, lat = rng.choice(
                [
                    (w, s + t * (nn - s)),
                    (e, s + t * (nn - s)),
                    (w + t * (e - w), s),
                    (w + t * (e - w), nn),
                ]
            )
        else:
            lon, lat = rng.uniform(w, e), rng.uniform(s, nn)
        lon, lat = min(max(lon, w), e), min(max(lat, s), nn)
        out.append((lat, lon, rng.choice(RADII)))
    return out


def api_answer(base: str, lat: float, lon: float, radius: float) -> dict[str, Any]:
    q = urllib.parse.urlencode({"lat": repr(lat), "lon": repr(lon), "radius": repr(radius)})
    with urllib.request.urlopen(f"{base}/api/v1/safety/point?{q}", timeout=30) as r:
        return dict(json.loads(r.read()))


HIT_KEYS = (
    "id",
    "inside",
    "warning_level",
    "name",
    "reference",
    "hazard_type",
    "status",
    "device_categories",
)


def test_pack_answers_like_the_live_api_and_draws_its_hazards(
    site: dict[str, Any], browser: Any
) -> None:
    world: pack_data.PackWorld = site["world"]
    ctx = browser.new_context(viewport={"width": 900, "height": 700})
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{site['static']}/web_pack_page.html?pack=pack/")
    wait_for(page, "window.demoPack !== undefined")
    pts = places(world, POINTS)
    t0 = time.monotonic()
    got = page.evaluate(
        "async (pts) => { const out = []; for (const [lat, lon, r] of pts) "
        "out.push(await window.demoPack.lookup(lat, lon, r)); return out; }",
        [list(p) for p in pts],
    )
    js_s = time.monotonic() - t0
    want = [api_answer(site["api"], lat, lon, r) for lat, lon, r in pts]
    n_hits = n_inside = n_edge_hits = 0
    max_rounded = 0.0
    for (lat, lon, r), a, b in zip(pts, want, got, strict=True):
        where = (lat, lon, r)
        assert b["warning_level"] == a["warning_level"], (where, a, b)
        assert (b["message"], b["message_uk"]) == (a["message"], a["message_uk"]), where
        assert (b["notice"], b["notice_uk"], b["synthetic"]) == (
            a["notice"],
            a["notice_uk"],
            a["synthetic"],
        )
        assert b["radius_m"] == a["radius_m"] and (b["lat"], b["lon"]) == (a["lat"], a["lon"])
        assert [h["id"] for h in b["hazards"]] == [h["id"] for h in a["hazards"]], (where, a, b)
        for ha, hb in zip(a["hazards"], b["hazards"], strict=True):
            assert {k: hb[k] for k in HIT_KEYS} == {k: ha[k] for k in HIT_KEYS}, (where, ha, hb)
            diff = abs(hb["distance_m"] - ha["distance_m"])
            assert diff <= 0.01, (where, ha, hb)
            max_rounded = max(max_rounded, diff)
        n_hits += bool(a["hazards"])
        n_inside += any(h["inside"] for h in a["hazards"])
        w, s, e, n = pack_data.BBOX
        n_edge_hits += bool(a["hazards"]) and (lon in (w, e) or lat in (s, n))
    # the sample reaches what matters: places inside hazards, near them, and at the pack's edge
    assert n_hits >= POINTS * 0.4 and n_inside >= POINTS * 0.08 and n_edge_hits >= 20, (
        n_hits,
        n_inside,
        n_edge_hits,
    )
    assert any(world.outside_id in [h["id"] for h in a["hazards"]] for a in want)
    # the unrounded distances: the JS measure against the server's, for every hit
    from demine.geo.geodesy import distance_to_geometries

    geoms = {h["id"]: h["geometry"] for h in world.hazards}
    pairs = [
        (lat, lon, h["id"])
        for (lat, lon, _), a in zip(pts, want, strict=True)
        for h in a["hazards"]
    ]
    js = page.evaluate(
        "async ([pairs, geoms]) => { const out = []; for (const [lat, lon, id] of pairs) "
        "out.push(await window.distanceM(lat, lon, geoms[id])); return out; }",
        [[list(p) for p in pairs], geoms],
    )
    worst = 0.0
    for (lat, lon, hid), d in zip(pairs, js, strict=True):
        ref = float(distance_to_geometries(lon, lat, [shape(geoms[hid])])[0])
        worst = max(worst, abs(d - ref))
    assert worst < 1e-6, worst  # metres
    print(
        f"\n{POINTS} places: {n_hits} with hits ({n_inside} inside, {n_edge_hits} at the edge), "
        f"{len(pairs)} hits; JS lookups {js_s:.1f} s; max |JS - server| distance {worst:.2e} m "
        f"(unrounded), {max_rounded} m (as answered)"
    )
    # a place outside the pack, or a radius over its max, is refused, not answered "none"
    bad = page.evaluate(
        "async () => { const out = []; for (const a of [[47.0, 37.7, 100], [48.0, 37.7, 6000]]) "
        "{ try { await window.demoPack.lookup(...a); out.push('answered'); } "
        "catch (e) { out.push(e.message); } } return out; }"
    )
    assert "outside this pack's area" in bad[0] and "max_radius_m" in bad[1], bad
    # the map: MapLibre draws the hazards from the PMTiles archive
    wait_for(page, "document.documentElement.dataset.map === 'idle'", 60_000)
    drawn = set(
        page.evaluate(
            "() => window.packMap.querySourceFeatures('pack', {sourceLayer: 'hazards'})"
            ".map(f => f.properties.id).filter(Boolean)"
        )
    )
    published = {h["id"] for h in world.hazards}
    inside = {
        h["id"]
        for h in world.hazards
        if shapely.box(*pack_data.BBOX).contains(shape(h["geometry"]))
    }
    assert inside <= drawn <= published, (len(inside), len(drawn), inside - drawn)
    rendered = page.evaluate(
        "() => window.packMap.queryRenderedFeatures({layers: ['hazards', 'hazard-points']})"
        ".map(f => f.properties.id)"
    )
    assert set(rendered) & inside, "no hazard rendered on the map"
    # everything came from the static host: no demine server was asked
    assert requests and all(
        u.startswith(site["static"]) for u in requests if u.startswith("http")
    ), [u for u in requests if not u.startswith(site["static"])]
    assert any("hazards.pmtiles" in u for u in requests)
    assert not errors, errors
    ctx.close()
