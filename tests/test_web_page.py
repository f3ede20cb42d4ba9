"""The public map page in a real browser (Playwright + Debian's chromium, headless).

Each test loads the page from a uvicorn server over a SYNTHETIC demo store and fails on any
console error. Screenshots are kept under test-artifacts/ (git-ignored) at the repo root.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from live import serve, wait_for

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
READY_MS = 60_000  # software WebGL on a small CI machine is slow


@dataclass
class Site:
    url: str
    db: Path
    hazard: dict[str, Any]  # an open demo hazard: id, name, lat, lon (inside it)
    far: tuple[float, float]  # (lat, lon) with no hazard within 5 km


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:

    from demine.api.app import create_app
    from demine.demo import build_demo_store
    from demine.services.safety import check_point
    from demine.store.gpkg import GeoPackageStore

    db = tmp_path_factory.mktemp("web") / "demo.gpkg"
    build_demo_store(db)
    store = GeoPackageStore(db)
    try:
        rec = next(r for r in store.list("hazards") if r.properties["status"] == "open")
        rp = rec.geometry.representative_point()
        hazard = {"id": rec.id, "name": rec.properties["name"], "lat": rp.y, "lon": rp.x}
        far = (45.3, 31.6)  # the Black Sea, inside the demo bounds
        assert not check_point(store, far[0], far[1], 5000.0), "the far point has a hazard"
    finally:
        store.close()

    with serve(create_app(str(db))) as url:
        yield Site(url, db, hazard, far)


class Page:
    """A page of the map with its console errors collected."""

    def __init__(self, browser: Any, site: Site, **context: Any) -> None:
        self.context = browser.new_context(
            viewport=context.pop("viewport", {"width": 1280, "height": 800}),
            locale=context.pop("locale", "en-GB"),
            # the page's service worker would answer requests out of Playwright's sight (its
            # page.route): tests/test_web_walk.py is where it works
            service_workers=context.pop("service_workers", "block"),
            **context,
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.site = site

    def open(self) -> Any:
        self.page.goto(self.site.url + "/")
        self.wait_ready()
        return self.page

    def wait_ready(self) -> None:
        wait_for(
            self.page,
            "window.demine && (window.demine.ready === true || window.demine.error)",
            timeout=READY_MS,
        )
        err = self.page.evaluate("window.demine.error")
        assert not err, f"the page failed to start: {err}"

    def idle(self) -> None:
        self.page.evaluate(
            "() => new Promise(r => { const m = window.demine.map;"
            " if (m.loaded() && !m.isMoving()) { m.once('idle', r); m.triggerRepaint(); }"
            " else m.once('idle', r); })"
        )

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"))

    def close(self) -> None:
        self.context.close()
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Page]:
    p = Page(browser, site)
    yield p
    p.close()


def _jump(p: Page, lat: float, lon: float, zoom: float) -> None:
    p.page.evaluate(f"window.demine.map.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}}})")
    p.idle()


def _click_lonlat(p: Page, lon: float, lat: float) -> None:
    xy = p.page.evaluate(
        f"(() => {{ const q = window.demine.map.project([{lon}, {lat}]); return [q.x, q.y]; }})()"
    )
    box = p.page.locator("#map canvas").bounding_box()
    p.page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def _offset(lat: float, lon: float, east_m: float) -> tuple[float, float]:
    return lat, lon + east_m / (111_320.0 * math.cos(math.radians(lat)))


# --- tests --------------------------------------------------------------------------------------


def test_page_loads_hazards_render_and_banner(page: Page, site: Site) -> None:
    pg = page.open()
    banner = pg.locator("#synthetic-banner")
    assert banner.is_visible()
    assert "SYNTHETIC DEMO DATA" in banner.inner_text()
    assert "СИНТЕТИЧНІ" in banner.inner_text()  # both languages
    ids = pg.evaluate(
        "(() => { const m = window.demine.map;"
        " const layers = window.demine.hazardLayers.filter(l => m.getLayer(l));"
        " return m.queryRenderedFeatures({layers}).map(f => f.properties.id); })()"
    )
    assert len(ids) > 0, "no hazard rendered on the map"
    page.shot("overview")

    # zoomed in on a hazard: its polygon renders with the risk or unknown shading
    h = site.hazard
    _jump(page, h["lat"], h["lon"], 14)
    ids = pg.evaluate(
        "(() => { const m = window.demine.map;"
        " return m.queryRenderedFeatures({layers: ['hazards-risk', 'hazards-unknown']})"
        ".map(f => f.properties.id); })()"
    )
    assert h["id"] in ids
    page.shot("hazard-zoomed")


def test_popup_shows_details_and_risk(page: Page, site: Site) -> None:
    pg = page.open()
    h = site.hazard
    _jump(page, h["lat"], h["lon"], 15)
    _click_lonlat(page, h["lon"], h["lat"])
    popup = pg.locator(".maplibregl-popup .popup")
    popup.locator(".risk").wait_for(timeout=15_000)
    text = popup.inner_text()
    assert h["name"] in text
    assert "Residual risk" in text
    # the public sees the chance as a band, never a figure or an expected number (issue 10)
    assert "Chance that at least one device is still live: between" in text, text
    assert "Expected live devices" not in text and "Beta(" not in text
    page.shot("popup")


def test_analyst_popup_shows_the_predictive_count_apart(browser: Any, site: Site) -> None:
    """An analyst's popup gives the predictive range of the number of live devices on a line of
    its own, labelled apart from the interval of the expected number."""
    from demine.services.access import new_token
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(site.db)
    try:
        store.add_user("u_popup", "analyst")
        token, th = new_token()
        store.add_token("u_popup", th)
    finally:
        store.close()
    page = Page(browser, site, extra_http_headers={"Authorization": f"Bearer {token}"})
    try:
        pg = page.open()
        h = site.hazard
        _jump(page, h["lat"], h["lon"], 15)
        _click_lonlat(page, h["lon"], h["lat"])
        popup = pg.locator(".maplibregl-popup .popup")
        popup.locator(".risk").wait_for(timeout=15_000)
        count = popup.locator(".risk-count")
        count.wait_for(timeout=15_000)
        line = count.inner_text()
        assert line.startswith("Live devices, predictive 5–95 %: "), line
        assert line.endswith("(the count itself, with chance)."), line
        text = popup.inner_text()
        assert "uncertainty of the rates only" in text and "not a range of counts" in text
        page.shot("popup-analyst")
    finally:
        page.close()


def test_check_place_inside_and_far(page: Page, site: Site) -> None:
    pg = page.open()
    h = site.hazard
    pg.fill("#place-q", f"{h['lat']:.6f}, {h['lon']:.6f}")
    pg.select_option("#place-radius", "500")
    pg.click("#place-check")
    result = pg.locator("#place-result")
    result.locator(f"li[data-hazard-id='{h['id']}']").wait_for(timeout=15_000)
    text = result.inner_text()
    assert h["name"] in text and "inside" in text
    _jump(page, h["lat"], h["lon"], 14)
    page.shot("check-place-inside")

    pg.fill("#place-q", f"{site.far[0]} {site.far[1]}")
    pg.click("#place-check")
    none = result.locator(".none")
    none.wait_for(timeout=15_000)
    assert "No known hazard is within 500 m" in none.inner_text()
    assert "not proof" in result.inner_text()
    page.idle()
    page.shot("check-place-far")


def test_check_place_by_clicking_the_map(page: Page, site: Site) -> None:
    pg = page.open()
    lat, lon = site.far
    _jump(page, lat, lon, 12)
    _click_lonlat(page, lon, lat)
    pg.locator("#place-result .none").wait_for(timeout=15_000)
    typed = [float(v) for v in pg.input_value("#place-q").split(",")]
    assert abs(typed[0] - lat) < 1e-3 and abs(typed[1] - lon) < 1e-3


def test_check_route_drawn_on_the_map(page: Page, site: Site) -> None:
    pg = page.open()
    h = site.hazard
    _jump(page, h["lat"], h["lon"], 13)
    pg.click("#route-draw")
    for east in (-1500.0, 0.0, 1500.0):
        lat, lon = _offset(h["lat"], h["lon"], east)
        _click_lonlat(page, lon, lat)
    assert "3" in pg.inner_text("#route-info")
    pg.click("#route-finish")
    result = pg.locator("#route-result")
    result.locator(f"li[data-hazard-id='{h['id']}']").wait_for(timeout=15_000)
    assert h["name"] in result.inner_text()
    page.idle()
    page.shot("check-route-drawn")


def test_check_route_from_gpx_and_geojson(page: Page, site: Site) -> None:
    pg = page.open()
    h = site.hazard
    pts = [_offset(h["lat"], h["lon"], e) for e in (-800.0, 0.0, 800.0)]
    gpx = (
        '<?xml version="1.0"?><gpx version="1.1" creator="test" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        + "".join(f'<trkpt lat="{la}" lon="{lo}"></trkpt>' for la, lo in pts)
        + "</trkseg></trk></gpx>"
    )
    pg.set_input_files(
        "#route-file",
        files=[{"name": "walk.gpx", "mimeType": "application/gpx+xml", "buffer": gpx.encode()}],
    )
    result = pg.locator("#route-result")
    result.locator(f"li[data-hazard-id='{h['id']}']").wait_for(timeout=15_000)
    page.idle()
    page.shot("check-route-gpx")

    pg.click("#route-clear")
    far = [_offset(site.far[0], site.far[1], e) for e in (-500.0, 500.0)]
    gj = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "LineString", "coordinates": [[lo, la] for la, lo in far]},
    }
    pg.set_input_files(
        "#route-file",
        files=[
            {
                "name": "far.geojson",
                "mimeType": "application/geo+json",
                "buffer": json.dumps(gj).encode(),
            }
        ],
    )
    result.locator(".none").wait_for(timeout=15_000)
    assert "No known hazard is within 200 m of this route" in result.inner_text()


def test_language_switch_is_remembered(page: Page, site: Site) -> None:
    pg = page.open()
    assert pg.inner_text("#place-heading") == "Check a place"
    assert pg.get_attribute("html", "lang") == "en"
    pg.click("button[data-lang='uk']")
    wait_for(pg, "document.documentElement.lang === 'uk'")
    assert pg.inner_text("#place-heading") == "Перевірити місце"
    assert pg.inner_text("#route-heading") == "Перевірити маршрут"
    assert pg.get_attribute("button[data-lang='uk']", "aria-pressed") == "true"
    banner = pg.inner_text("#synthetic-banner")
    assert banner.index("СИНТЕТИЧНІ") < banner.index("SYNTHETIC DEMO DATA")  # Ukrainian first
    pg.reload()
    page.wait_ready()
    assert pg.get_attribute("html", "lang") == "uk"
    assert pg.inner_text("#place-heading") == "Перевірити місце"
    page.shot("ukrainian")
    pg.click("button[data-lang='en']")
    wait_for(pg, "document.documentElement.lang === 'en'")
    assert pg.inner_text("#place-heading") == "Check a place"


def test_every_i18n_key_in_both_languages() -> None:
    web = Path(__file__).resolve().parent.parent / "src" / "demine" / "web"
    en = json.loads((web / "i18n" / "en.json").read_text(encoding="utf-8"))
    uk = json.loads((web / "i18n" / "uk.json").read_text(encoding="utf-8"))
    assert set(en) == set(uk)
    html = (web / "index.html").read_text(encoding="utf-8")
    js = "".join((web / n).read_text(encoding="utf-8") for n in ("app.js", "report_form.js"))
    import re

    used = set(re.findall(r'data-i18n="(\w+)"', html))
    for attrs in re.findall(r'data-i18n-attr="([^"]*)"', html):
        used |= set(re.findall(r":(\w+)", attrs))
    used |= set(re.findall(r'\bt\("(\w+)"', js))
    missing = sorted(k for k in used if k not in en)
    assert not missing, f"keys used but not in the i18n files: {missing}"


def test_phone_viewport(browser: Any, site: Site) -> None:
    p = Page(
        browser,
        site,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    try:
        pg = p.open()
        assert pg.locator("#synthetic-banner").is_visible()
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
        box = pg.locator("#map").bounding_box()
        assert box["height"] > 250 and box["width"] >= 380
        assert pg.locator("#place-check").is_visible() or pg.locator("#place-check").count()
        p.shot("phone")
    finally:
        p.close()
