"""The public map reads an offline safety pack (issue 15; docs/publish.md "The map and a pack"),
in headless Chromium, on both backends: a small store published (``demine publish``, a small
box) onto a plain static host (tests/static_server.py) next to the map's own files.

- With no demine server at all (the page and the pack on the static host, ``?pack=pack/``) the
  map draws its hazards from the pack's PMTiles archive and a place check is answered from it.
- On a demine server started with a pack URL (another origin), the page reads the pack through
  its CSP; "Keep this region on this phone" makes the service worker hold it; with no connection
  the page reloads from the phone, draws the pack's hazards (range reads answered by the worker),
  answers a check and raises a walking warning from the pack.
- ``?pack=`` with a foreign http:// address is refused, said on the page, and never fetched.
- ``--pack-url`` (create_app's pack_url) shows in /api/v1/map/config and the page's connect-src;
  bad ones are refused naming the option.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import shapely

from live import serve, wait_for
from sites import module_store
from test_web_pack import static_host
from test_web_walk import walking_phone

LON, LAT = 37.70, 48.00  # the hazard's south-west corner: a square about 100 m a side
SQUARE = shapely.box(LON, LAT, LON + 0.0014, LAT + 0.0009)
OTHER = shapely.box(37.72, 48.02, 37.723, 48.022)
BBOX = (37.65, 47.95, 37.75, 48.05)
M_PER_DEG_LAT = 111_200.0  # near 48° N
INSIDE = (LAT + 0.0004, LON + 0.0007)


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    import demine
    from demine.api import create_app
    from demine.ids import uuid7
    from demine.model.schema import Record
    from demine.services.publish import publish
    from demine.store.open import open_store

    with module_store(request.param, tmp_path_factory, "packmap", organisations={}, users={}) as (
        location,
        _,
    ):
        root = tmp_path_factory.mktemp("packroot")
        s = open_store(location)
        try:
            ids = []
            for name, geom in (("Field by the well", SQUARE), ("Orchard", OTHER)):
                rec = Record(
                    "hazards",
                    uuid7(),
                    {"name": name, "hazard_type": "CHA", "status": "open"},
                    shapely.MultiPolygon([geom]),
                )
                ids.append(rec.id)
                s.upsert("hazards", [rec], actor="t")
            s.set_setting("synthetic", True)
            meta = publish(s, root / "pack", bbox=BBOX, max_zoom=12)
        finally:
            s.close()
        web = Path(demine.__file__).parent / "web"
        (root / "static").symlink_to(web, target_is_directory=True)
        (root / "index.html").write_bytes((web / "index.html").read_bytes())
        with static_host(root) as static:
            pack_url = f"{static}/pack/"
            with serve(create_app(location, rate_limit_per_minute=0, pack_url=pack_url)) as api:
                yield {
                    "location": location,
                    "static": static,
                    "api": api,
                    "pack_url": pack_url,
                    "meta": meta,
                    "hazard": ids[0],
                }


def _rendered_hazards(page: Any) -> list[str]:
    return list(
        page.evaluate(
            "() => { const m = window.demine.map; "
            "const layers = window.demine.hazardLayers.filter((id) => m.getLayer(id)); "
            "return m.queryRenderedFeatures({layers}).map((f) => f.properties.id); }"
        )
    )


def _hazards_drawn_at_the_square(page: Any) -> list[str]:
    """The ids of the hazards the map draws once it shows the square at zoom 15."""
    page.evaluate(
        f"() => window.demine.map.jumpTo({{center: [{LON + 0.0007}, {LAT + 0.00045}], zoom: 15}})"
    )
    return list(
        wait_for(
            page,
            "(() => { const m = window.demine.map; if (!m.loaded()) return null; "
            "const ids = m.queryRenderedFeatures({layers: window.demine.hazardLayers"
            ".filter((id) => m.getLayer(id))}).map((f) => f.properties.id); "
            "return ids.length ? ids : null; })()",
            60_000,
        )
    )


def _check(page: Any, lat: float, lon: float) -> dict[str, str]:
    page.fill("#place-q", f"{lat}, {lon}")
    page.click("#place-check")
    return dict(
        wait_for(
            page,
            "(() => { const b = document.getElementById('place-result'); "
            "return /level-(inside|danger|caution|none)/.test(b.className) "
            "&& {cls: b.className, text: b.textContent, source: b.dataset.source || ''}; })()",
        )
    )


def test_with_no_server_the_map_draws_and_checks_from_the_pack(
    browser: Any, site: dict[str, Any]
) -> None:
    ctx = browser.new_context(viewport={"width": 900, "height": 700}, locale="en-GB")
    try:
        page = ctx.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{site['static']}/index.html?pack=pack/")
        wait_for(page, "document.documentElement.dataset.hazards === 'drawn'", 60_000)
        drawn = _hazards_drawn_at_the_square(page)
        assert site["hazard"] in drawn, drawn
        assert any(u.endswith("/pack/hazards.pmtiles") for u in requests)
        assert not any("/tiles/hazards/" in u for u in requests)
        # the card: the pack's date, the synthetic label; no worker on a static host
        card = page.inner_text("#pack-card")
        assert "Keep this region on this phone" in card
        assert "Synthetic demonstration data" in card
        got = _check(page, *INSIDE)
        assert "level-inside" in got["cls"] and got["source"] == "pack", got
        assert "Field by the well" in got["text"]
        assert "answered from the offline pack" in page.inner_text("#pack-status")
        # a place outside the pack is said so, not answered "none"
        page.fill("#place-q", "47.5, 37.7")
        page.click("#place-check")
        msg = wait_for(
            page,
            "(() => { const e = document.querySelector('#place-result .error'); "
            "return e && e.textContent; })()",
        )
        assert "outside the offline pack" in msg
        # in Ukrainian, the card follows the page's language
        page.click("button.lang-btn[data-lang='uk']")
        wait_for(page, "document.getElementById('pack-heading').textContent.includes('Зберегти')")
        assert "Синтетичні" in page.inner_text("#pack-card")
    finally:
        ctx.close()


def _south_of_square(metres: float) -> dict[str, float]:
    return {"latitude": LAT - metres / M_PER_DEG_LAT, "longitude": LON + 0.0007, "accuracy": 5}


def test_a_kept_region_works_with_no_connection(browser: Any, site: dict[str, Any]) -> None:
    ctx = walking_phone(browser, _south_of_square(1000))
    try:
        page = ctx.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(site["api"] + "/")
        wait_for(page, "document.documentElement.dataset.hazards === 'drawn'", 60_000)
        assert any(u == site["pack_url"] + "hazards.pmtiles" for u in requests), requests
        wait_for(page, "!!navigator.serviceWorker.controller")
        wait_for(page, "!document.getElementById('pack-card').hidden")
        box = page.locator("#pack-keep").bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44
        page.click("#pack-keep")
        wait_for(page, "document.getElementById('pack-card').dataset.kept === 'true'", 60_000)
        kept = page.inner_text("#pack-what")
        assert "Kept on this phone" in kept, kept
        assert page.is_visible("#pack-remove")

        ctx.set_offline(True)
        page.reload()
        wait_for(page, "document.documentElement.dataset.hazards === 'drawn'", 60_000)
        drawn = _hazards_drawn_at_the_square(page)
        assert site["hazard"] in drawn, drawn
        got = _check(page, *INSIDE)
        assert "level-inside" in got["cls"] and got["source"] == "pack", got
        # walking warnings from the pack's index, offline
        page.click("#walk-toggle")
        ctx.set_geolocation(_south_of_square(1000))
        wait_for(
            page,
            "document.getElementById('walk-status').textContent.startsWith('No recorded hazard')",
        )
        assert "offline pack" in page.inner_text("#walk-held")
        ctx.set_geolocation(_south_of_square(60))
        alert = wait_for(
            page,
            "(() => { const a = document.getElementById('walk-alert').textContent; "
            "return a.length > 0 && a; })()",
        )
        assert alert.startswith("DANGER: a recorded hazard 60 m away"), alert
        # removing it: the worker drops the files, the card says so
        ctx.set_offline(False)
        page.click("#pack-remove")
        wait_for(page, "document.getElementById('pack-card').dataset.kept === 'false'")
        assert "Removed from this phone" in page.inner_text("#pack-status")
        left = page.evaluate("async () => (await caches.keys()).includes('demine-map-packs')")
        assert left is False
    finally:
        ctx.close()


def test_a_foreign_http_pack_is_refused(browser: Any, site: dict[str, Any]) -> None:
    ctx = browser.new_context(locale="en-GB")
    try:
        page = ctx.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(site["api"] + "/?pack=http://evil.example/packs/x/")
        msg = wait_for(
            page,
            "(() => { const c = document.getElementById('pack-card'); "
            "return !c.hidden && document.getElementById('pack-status').textContent; })()",
        )
        assert "http://evil.example/packs/x/" in msg and "refused" in msg, msg
        wait_for(page, "document.documentElement.dataset.hazards === 'drawn'", 60_000)
        hosts = {urlsplit(u).hostname for u in requests}
        assert "evil.example" not in hosts, hosts
    finally:
        ctx.close()


def test_the_pack_url_in_the_config_and_the_policy(store: Any) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from demine.api import create_app
    from demine.cli.app import app as cli_app
    from demine.errors import ValidationError

    location = store.location
    store.close()
    url = "https://cdn.example.org/packs/east"
    with TestClient(create_app(location, pack_url=url)) as client:
        r = client.get("/api/v1/map/config")
        assert r.status_code == 200 and r.json()["pack"] == {"url": url + "/"}
        csp = client.get("/").headers["content-security-policy"]
        connect = next(d for d in csp.split("; ") if d.startswith("connect-src"))
        assert connect == "connect-src 'self' https://cdn.example.org", csp
        img = next(d for d in csp.split("; ") if d.startswith("img-src"))
        assert "cdn.example.org" not in img
    with TestClient(create_app(location, pack_url="/packs/east/")) as client:
        assert client.get("/api/v1/map/config").json()["pack"] == {"url": "/packs/east/"}
        assert "connect-src 'self';" in client.get("/").headers["content-security-policy"]
    with TestClient(create_app(location)) as client:
        assert client.get("/api/v1/map/config").json()["pack"] is None
    for bad, why in (
        ("ftp://cdn.example.org/p/", "https://"),
        ("packs/east", "starts with /"),
        ("https://user:pw@cdn.example.org/p/", "user or password"),
        ("https://cdn.example.org/p/?x=1", "query"),
        ("https:///p/", "host"),
    ):
        with pytest.raises(ValidationError, match=why):
            create_app(location, pack_url=bad)
        r = CliRunner().invoke(
            cli_app, ["--db", location, "serve", "--pack-url", bad, "--port", "1"]
        )
        assert r.exit_code == 1 and "--pack-url" in r.output and why in r.output, r.output


@pytest.mark.parametrize("lang", ["uk", "en"])
def test_the_pack_card_passes_axe_on_a_phone(browser: Any, site: dict[str, Any], lang: str) -> None:
    """The card shown when a pack is named: axe-core WCAG 2.2 AA, no violation, as the rest of
    the page (tests/test_web_public_a11y.py, where no pack is named and the card is hidden)."""
    from test_web_public_a11y import _check as axe_check
    from test_web_public_map import PHONE

    ctx = browser.new_context(locale="uk-UA" if lang == "uk" else "en-GB", **PHONE)
    try:
        page = ctx.new_page()
        page.goto(f"{site['static']}/index.html?pack=pack/")
        wait_for(page, "document.documentElement.dataset.hazards === 'drawn'", 60_000)
        assert page.is_visible("#pack-card")
        assert page.evaluate("document.documentElement.lang") == lang
        axe_check(page, f"the pack card ({lang}, phone)")
    finally:
        ctx.close()
