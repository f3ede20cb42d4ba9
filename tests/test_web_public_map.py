"""The public map for the people it protects (issue 15, item 0), in a real browser (Playwright +
Debian's chromium, headless) over the SYNTHETIC demo store, and over a store that is not the
demo (both backends) for the page's own bytes:

* the safety block is in the HTML itself, in Ukrainian and English, whatever the store, and on
  the first screen of a phone and a desktop;
* the text and the check form work while the map library never arrives;
* coordinates as people paste them (one field; the parser table-driven in the browser);
* only hazards and unverified civilian reports are on at first; a pending report is drawn;
* keyboard: the skip link reaches the form in two tabs, a hazard's details open and close from
  the keyboard and focus comes back, the answer box is in the accessibility tree before its
  first answer;
* no raw code and no English word on the Ukrainian page, for every demo record's popup and for
  the error states;
* popups led by what matters, the risk line above the fold of a phone;
* tap targets of at least 44 px on a phone; screenshots under test-artifacts/public-map/.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from live import serve, wait_for
from test_web_page import READY_MS, Page, Site, _jump

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "public-map"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SAFETY_UK = (
    "Не торкайтеся і не наближайтеся. Відходьте тим самим шляхом, яким прийшли. "
    "Телефонуйте 101 (екстрена допомога: 112)."
)
SAFETY_EN = "Do not touch or approach. Leave the way you came. Call 101 (emergency: 112)."
PROOF_UK = "Відсутність запису — не доказ безпеки."
PROOF_EN = "No record is not proof of safety."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo store, with one pending civilian report (an unverified report on the map)."""
    from fastapi.testclient import TestClient

    from demine.api.app import create_app
    from demine.demo import build_demo_store
    from demine.services import pow
    from demine.store.gpkg import GeoPackageStore

    db = tmp_path_factory.mktemp("public") / "demo.gpkg"
    build_demo_store(db)
    store = GeoPackageStore(db)
    try:
        store.set_setting(pow.BITS_SETTING, 4)
        rec = next(r for r in store.list("hazards") if r.properties["status"] == "open")
        rp = rec.geometry.representative_point()
        hazard = {"id": rec.id, "name": rec.properties["name"], "lat": rp.y, "lon": rp.x}
    finally:
        store.close()
    app = create_app(str(db))
    client = TestClient(app)
    ch = client.get("/api/v1/public/reports/challenge").json()
    body = {
        "challenge": ch["challenge"],
        "nonce": pow.solve(ch["challenge"], ch["difficulty"]),
        "lat": PENDING[0],
        "lon": PENDING[1],
        "object_type": "shell",
        "seen_at": "2026-11-01T10:00:00+00:00",
    }
    r = client.post("/api/v1/public/reports", json=body)
    assert r.status_code == 201, r.text
    with serve(app) as url:
        yield Site(url, db, hazard, (45.3, 31.6))


PENDING = (47.91, 36.52)  # (lat, lon) of the pending civilian report


def _page(browser: Any, site: Site, **ctx: Any) -> Page:
    return Page(browser, site, **ctx)


def _shot(p: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


# --- the safety block ---------------------------------------------------------------------------


def test_safety_block_is_in_the_html_bytes_of_any_store(store: Any) -> None:
    """Not the demo, no JavaScript: the page's bytes hold the safety text in both languages."""
    from fastapi.testclient import TestClient

    from demine.api.app import create_app
    from demine.services.setup import init_store

    init_store(store)
    location = store.location
    store.close()
    client = TestClient(create_app(location))
    assert client.get("/api/v1/map/config").json()["synthetic"] is False
    page = client.get("/")
    assert page.status_code == 200
    text = _text_of(page.text)
    for wanted in (SAFETY_UK, PROOF_UK, SAFETY_EN, PROOF_EN):
        assert wanted in text, wanted
    assert 'href="tel:101"' in page.text and 'href="tel:112"' in page.text
    # before the map and before any form: the first thing after the header
    assert page.text.index('id="safety"') < page.text.index('id="map"')
    assert page.text.index('id="safety"') < page.text.index("<form")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_safety_block_on_the_first_screen(browser: Any, site: Site, viewport: str) -> None:
    ctx: dict[str, Any] = dict(PHONE) if viewport == "phone" else {}
    size = ctx.get("viewport", {"width": 1280, "height": 800})
    # without JavaScript both languages show, on the first screen
    nojs = browser.new_context(java_script_enabled=False, **ctx)
    try:
        pg = nojs.new_page()
        pg.goto(site.url + "/")
        for lang in ("uk", "en"):
            block = pg.locator(f"#safety [data-only='{lang}']")
            assert block.is_visible()
            box = block.bounding_box()
            assert box is not None and box["y"] + box["height"] <= size["height"], (lang, box)
        assert SAFETY_UK in pg.inner_text("#safety") and SAFETY_EN in pg.inner_text("#safety")
    finally:
        nojs.close()
    # with JavaScript: the chosen language's block only, still on the first screen
    for locale, lang, text in (("uk-UA", "uk", SAFETY_UK), ("en-GB", "en", SAFETY_EN)):
        p = _page(browser, site, locale=locale, **ctx)
        try:
            pg = p.page
            pg.goto(site.url + "/")
            wait_for(pg, f"document.documentElement.dataset.lang === '{lang}'", READY_MS)
            safety = pg.locator("#safety")
            assert text in safety.inner_text()
            other = "en" if lang == "uk" else "uk"
            assert not pg.locator(f"#safety [data-only='{other}']").is_visible()
            box = safety.bounding_box()
            assert box is not None and box["y"] + box["height"] <= size["height"] * 0.5, box
            assert pg.locator("#synthetic-banner").is_visible()  # the demo's banner stays
            p.wait_ready()
            if viewport == "phone":
                _shot(p, f"phone-{lang}")
        finally:
            p.close()


# --- text and forms before the map library -------------------------------------------------------


def test_text_and_check_work_without_the_map_library(browser: Any, site: Site) -> None:
    """The 1 MB map library never arrives: the safety text, the labels and the check form are
    there and the check answers; the page says the map cannot be drawn."""
    p = _page(browser, site, locale="uk-UA")
    p.page.route("**/vendor/maplibre-gl/**", lambda route: route.abort())
    try:
        pg = p.page
        pg.goto(site.url + "/")
        wait_for(pg, "window.demine && window.demine.error", READY_MS)
        assert pg.evaluate("performance.getEntriesByName('demine:text').length") == 1
        assert SAFETY_UK in pg.inner_text("#safety")
        assert pg.inner_text("#place-heading") == "Перевірити місце"
        assert pg.inner_text("label[for='place-q']") == "Місце або координати"
        assert "WebGL" in pg.inner_text("#status")  # the map's failure, said in words
        pg.fill("#place-q", f"{site.far[0]}, {site.far[1]}")
        pg.click("#place-check")
        pg.locator("#place-result .none").wait_for(timeout=15_000)
        assert "не доводить, що тут безпечно" in pg.inner_text("#place-result")
        p.errors.clear()  # the aborted library's load errors are the point of this test
    finally:
        p.close()


def test_marks_for_the_benchmark(browser: Any, site: Site) -> None:
    """The marks bench/public_map_phone.py reads, and what the page does for a slow link: the
    map library preloaded by the HTML (never render-blocking), its worker fetched early at the
    very URL MapLibre asks for, the regions' outlines only after the hazards are drawn, at most
    2 device pixels per CSS pixel."""
    p = Page(browser, site)
    worker: list[str] = []
    p.page.on("request", lambda r: worker.append(r.url) if "maplibre-gl-worker" in r.url else None)
    held: list[Any] = []  # the outlines' request, held until the hazards are drawn
    p.page.route("**/api/v1/map/regions", lambda route: held.append(route))
    try:
        pg = p.page
        pg.goto(site.url + "/")
        wait_for(pg, "document.documentElement.dataset.hazards === 'drawn'", READY_MS)
        # the hazards were drawn while the outlines had not arrived, and only then asked for
        wait_for(pg, "!!window.demine.map.getSource('regions')", READY_MS)
        pg.wait_for_timeout(200)
        assert len(held) == 1
        held[0].continue_()
        text = pg.evaluate("performance.getEntriesByName('demine:text')[0].startTime")
        hazards = pg.evaluate("performance.getEntriesByName('demine:hazards')[0].startTime")
        entries = pg.evaluate(
            "performance.getEntriesByType('resource').map(e => [e.name, e.startTime])"
        )
        lib = next(t for n, t in entries if "maplibre-gl.mjs" in n)
        assert text < hazards and lib < hazards, (text, lib, hazards)
        # the outlines, once they arrive, are drawn at country scale
        p.wait_ready()
        assert pg.evaluate("window.demine.map.isSourceLoaded('regions')")
        assert pg.evaluate("window.demine.map.getPixelRatio()") == 1  # this screen's own
        assert pg.evaluate("window.demine.map.getLayer('regions').maxzoom") == 8
        # the worker: the page's early fetch and MapLibre's own request name one URL (so the
        # second is answered from the HTTP cache)
        early = pg.evaluate("import('/static/app.js').then((m) => m.MAPLIBRE_WORKER)")
        assert worker and {u.split("/static/", 1)[1] for u in worker} == {
            early.split("static/", 1)[1]
        }, worker
    finally:
        p.close()
    # nothing render-blocking but ours: the library's stylesheet is not in the HTML, and the
    # library itself only as a module preload (fetched early, run by app.js; its worker is
    # fetched once the module has arrived)
    html = urllib.request.urlopen(site.url + "/").read().decode()
    assert "maplibre-gl.css" not in html
    tags = re.findall(r"<[^>]*maplibre[^>]*>", html)
    assert len(tags) == 1 and 'rel="modulepreload"' in tags[0], tags


def test_a_dense_phone_screen_draws_at_two_pixels(browser: Any, site: Site) -> None:
    """A phone with 3 device pixels per CSS pixel: the map draws at 2 (2.25 times fewer pixels
    for the same lines and shading), a screen of 1 or 2 at its own."""
    p = Page(browser, site, device_scale_factor=3, **PHONE)
    try:
        pg = p.open()
        assert pg.evaluate("window.devicePixelRatio") == 3
        assert pg.evaluate("window.demine.map.getPixelRatio()") == 2
        width = pg.evaluate("window.demine.map.getCanvas().width")
        css = pg.evaluate("window.demine.map.getCanvas().clientWidth")
        assert width == 2 * css
    finally:
        p.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Page]:
    p = Page(browser, site)
    yield p
    p.close()


# --- coordinates ---------------------------------------------------------------------------------

COORDS_OK = [
    ("48.26, 37.84", 48.26, 37.84),
    ("48.26 37.84", 48.26, 37.84),
    ("48,26 37,84", 48.26, 37.84),
    ("48,26; 37,84", 48.26, 37.84),
    ("48.26;37.84", 48.26, 37.84),
    ("48.26,37.84", 48.26, 37.84),
    ("-33.9, 18.4", -33.9, 18.4),
    ("48°15'36\"N 37°50'24\"E", 48.26, 37.84),
    ("48°15′36″N, 37°50′24″E", 48.26, 37.84),
    ("N48°15'36\" E37°50'24\"", 48.26, 37.84),
    ("48 15 36 N, 37 50 24 E", 48.26, 37.84),
    ("48°15.6'N 37°50.4'E", 48.26, 37.84),
    ("48°15,6' N; 37°50,4' E", 48.26, 37.84),
    ("37.84E 48.26N", 48.26, 37.84),
    ("48.26 S 37.84 W", -48.26, -37.84),
    ("48°15'36\" пн. ш., 37°50'24\" сх. д.", 48.26, 37.84),
    ("48.26 Пн 37.84 Сх", 48.26, 37.84),
    ("Пн 48.26 Сх 37.84", 48.26, 37.84),
    ("48.26 Пд, 37.84 Зх", -48.26, -37.84),
]
COORDS_BAD = [
    ("", "coord_err_empty"),
    ("abc", "coord_err_no_numbers"),
    ("48.26", "coord_err_one"),
    ("48,37", "coord_err_one"),
    ("48.26 37.84 12.5", "coord_err_count"),
    ("91, 37", "coord_err_lat_range"),
    ("48, 190", "coord_err_lon_range"),
    ("48°75'N 37°E", "coord_err_minutes"),
    ("48°15'75\"N 37°E", "coord_err_seconds"),
    ("48.26N 37.84N", "coord_err_letters"),
    ("48.26E 37.84W", "coord_err_letters"),
    ("48.26x 37.84", "coord_err_unknown"),
]


def test_coordinates_as_people_paste_them(page: Page, site: Site) -> None:
    pg = page.page
    pg.goto(site.url + "/")
    got = pg.evaluate(
        """async (cases) => {
          const m = await import(new URL("static/coords.js", document.baseURI).href);
          return cases.map((c) => m.parseCoordinates(c));
        }""",
        [c[0] for c in COORDS_OK + COORDS_BAD],
    )
    for (text, lat, lon), g in zip(COORDS_OK, got[: len(COORDS_OK)], strict=True):
        assert "error" not in g, (text, g)
        assert abs(g["lat"] - lat) < 1e-6 and abs(g["lon"] - lon) < 1e-6, (text, g)
    for (text, error), g in zip(COORDS_BAD, got[len(COORDS_OK) :], strict=True):
        assert g.get("error") == error, (text, g)
    # an error is shown in words naming what is wrong (here in English)
    page.wait_ready()
    pg.fill("#place-q", "91, 37")
    pg.click("#place-check")
    err = pg.locator("#place-result .error")
    err.wait_for(timeout=10_000)
    assert "latitude 91" in err.inner_text() and "−90…90" in err.inner_text()
    # a DMS pair with the Ukrainian letters is checked as the place it names
    pg.fill("#place-q", "45°18'0\" пн. ш., 31°36'0\" сх. д.")
    pg.press("#place-q", "Enter")
    pg.locator("#place-result .none").wait_for(timeout=15_000)
    assert "45.30000, 31.60000" in pg.inner_text("#place-result")
    # the placeholder is an example, never a value: "e.g.", lighter and italic, with a label
    assert pg.get_attribute("#place-q", "placeholder").startswith("e.g.")
    style = pg.evaluate(
        "(() => { const s = getComputedStyle(document.querySelector('#place-q'), '::placeholder');"
        " return [s.fontStyle, s.color]; })()"
    )
    assert style[0] == "italic" and style[1] != "rgb(27, 27, 27)"
    assert pg.locator("label[for='place-q']").is_visible()


def test_place_names_go_to_the_places_route(page: Page, site: Site) -> None:
    """A name is asked of the real GET /api/v1/public/places (the demo's settlements layer and
    the packaged regions); its answer is offered as buttons, and a choice checks that place.
    A name with digits is still a name; a region is shown, not checked as a point."""
    pg = page.page
    asked: list[str] = []
    pg.on("request", lambda r: asked.append(r.url) if "/api/v1/public/places" in r.url else None)
    page.open()
    pg.fill("#place-q", "SYNTHETIC settlement 1")
    pg.press("#place-q", "Enter")
    option = pg.locator("#place-options button").first
    option.wait_for(timeout=10_000)
    assert "q=SYNTHETIC+settlement+1" in asked[0] or "q=SYNTHETIC%20settlement%201" in asked[0]
    assert "limit=" in asked[0]
    assert option.inner_text().startswith("SYNTHETIC settlement 1")  # the exact name first
    option.press("Enter")
    # "Checking…" is shown while the check runs: wait for the answer that replaces it
    wait_for(
        pg,
        "(() => { const t = document.getElementById('place-result').textContent;"
        " return t.length > 0 && !t.includes('Checking'); })()",
        15_000,
    )
    assert "SYNTHETIC settlement 1" in pg.inner_text("#place-result")
    pg.fill("#place-q", "Odeska oblast")  # Latin letters: the official transliteration
    pg.press("#place-q", "Enter")
    wait_for(pg, "document.getElementById('place-result').textContent.includes('Одеська область')")
    assert "too large to check" in pg.inner_text("#place-result")
    assert "Odeska" in asked[-1]


# --- layers --------------------------------------------------------------------------------------


def test_only_hazards_and_reports_on_by_default(page: Page, site: Site) -> None:
    pg = page.open()
    for group in ("releases", "activities", "accidents", "eore"):
        assert not pg.is_checked(f"#layer-toggle-{group}"), group
    hidden = pg.evaluate(
        "(() => { const m = window.demine.map;"
        " return ['releases-fill', 'releases-line', 'activities-line',"
        " 'accidents-points', 'eore-points']"
        ".map(id => m.getLayoutProperty(id, 'visibility')); })()"
    )
    assert hidden == ["none"] * 5
    # the reference layers are drawn (no base map) and the legend says so
    note = pg.inner_text("#basemap-note")
    assert note == "No base map: settlements, roads, regions from the register."
    assert pg.evaluate(
        "!!window.demine.map.getLayer('ref-settlements')"
        " && !!window.demine.map.getLayer('ref-roads')"
    )
    # the civilian's pending report is drawn as an unverified report
    _jump(page, PENDING[0], PENDING[1], 12)
    wait_for(pg, "window.demine.unverified >= 1", 15_000)
    page.idle()
    got = pg.evaluate(
        "window.demine.map.queryRenderedFeatures({layers: ['unverified-points']})"
        ".map(f => [f.properties.object_type, f.properties.status])"
    )
    assert ["shell", "unverified"] in got, got
    assert "Unverified report by a civilian" in pg.inner_text(".legend")
    # an accident is a black triangle, never a red dot
    assert pg.evaluate("window.demine.map.getLayer('accidents-points').type") == "symbol"
    pg.click("#layer-toggle-accidents")
    assert (
        pg.evaluate("window.demine.map.getLayoutProperty('accidents-points', 'visibility')")
        == "visible"
    )


# --- keyboard and screen readers -----------------------------------------------------------------


def test_keyboard_only(page: Page, site: Site) -> None:
    pg = page.open()
    # the answer box is in the accessibility tree before any answer
    live = pg.evaluate(
        "(() => { const b = document.getElementById('place-result');"
        " return [b.getAttribute('role'), b.getAttribute('aria-live'), getComputedStyle(b).display,"
        " b.textContent]; })()"
    )
    assert live[0] == "status" and live[1] == "polite" and live[2] != "none" and live[3] == ""
    # Tab 1: the skip link; Enter; the form's field has the focus (<= 2 tabs)
    pg.keyboard.press("Tab")
    assert pg.evaluate("document.activeElement.id") == "skip-link"
    pg.keyboard.press("Enter")
    assert pg.evaluate("document.activeElement.id") == "place-q"
    pg.keyboard.type(f"{site.far[0]}, {site.far[1]}")
    pg.keyboard.press("Enter")
    pg.locator("#place-result .none").wait_for(timeout=15_000)
    # a hazard's details from the keyboard: the "in view" list, Enter, Escape
    h = site.hazard
    _jump(page, h["lat"], h["lon"], 14)
    button = pg.locator(f"#inview-list button[data-hazard-id='{h['id']}']")
    button.wait_for(timeout=15_000)
    button.focus()
    pg.keyboard.press("Enter")
    popup = pg.locator(".maplibregl-popup .popup")
    popup.locator(".risk").wait_for(timeout=15_000)
    assert pg.evaluate("!!document.activeElement.closest('.maplibregl-popup')")
    assert h["name"] in popup.inner_text()
    pg.keyboard.press("Escape")
    wait_for(pg, "!document.querySelector('.maplibregl-popup')", 5_000)
    assert pg.evaluate("document.activeElement.dataset.hazardId") == h["id"]
    # the map's controls are reachable and named
    assert pg.get_attribute(".maplibregl-ctrl-zoom-in", "aria-label") == "Zoom in"


# --- no code, no English on the Ukrainian page --------------------------------------------------

CODES = {
    "ap_blast", "ap_fragmentation", "at", "uxo", "cluster_submunition", "ied", "SHA", "CHA",
    "open", "closed", "handed_over", "cancelled", "reduced", "cleared", "in_person", "online",
    "mass_media", "civilian", "demining", "non_technical_survey", "technical_survey",
    "clearance", "qa_qc", "ongoing", "completed", "unverified", "shell", "unknown", "null",
    "undefined", "NaN",
}  # fmt: skip
ENGLISH = {
    "the", "and", "of", "type", "status", "reference", "devices", "device", "organisation",
    "reported", "area", "size", "residual", "risk", "estimate", "chance", "live", "inside",
    "hazard", "hazardous", "loading", "close", "land", "release", "released", "remaining",
    "date", "place", "started", "delivered", "people", "reached", "accident", "session",
    "survey", "model", "not", "safe", "error", "server", "could", "reach", "position",
    "location", "unknown", "anti", "personnel", "mine", "blast", "fragmentation", "vehicle",
    "report", "zoom", "map", "found", "check", "failed", "request",
}  # fmt: skip
# the records' own free text (names, organisations, evidence...) is data, not the page's words
FREE = ("name", "reference", "organisation", "evidence", "admin_area", "description", "place",
        "notes", "team")  # fmt: skip


def _foreign(text: str, data: list[str]) -> list[str]:
    for v in sorted(data, key=len, reverse=True):
        if v:
            text = text.replace(v, " ")
    words = re.findall(r"[A-Za-z_]+", text)
    return [w for w in words if w in CODES or w.lower() in ENGLISH]


def test_ukrainian_page_has_no_code_or_english(browser: Any, site: Site) -> None:
    from demine.store.gpkg import GeoPackageStore

    kinds = {
        "hazards": None,
        "eo_reports": "eo-points",
        "accidents": "accidents-points",
        "eore_sessions": "eore-points",
        "releases": "releases-fill",
        "activities": "activities-line",
    }
    records: list[tuple[str, dict[str, Any], list[float]]] = []
    data: list[str] = ["demine", "MapLibre", "GeoJSON", "GPX", "JPEG", "PNG", "e-mail", "WebGL"]
    s = GeoPackageStore(site.db)
    try:
        for kind, layer in kinds.items():
            for r in s.list(kind):
                if r.geometry is None or (
                    kind == "activities" and r.properties.get("status") != "ongoing"
                ):
                    continue
                props = {"id": r.id, **r.properties}
                props = {k: v for k, v in props.items() if v is not None}
                data += [str(props[k]) for k in FREE if k in props]
                c = r.geometry.representative_point()
                lyr = layer or (
                    "hazards-risk" if r.geometry.geom_type != "Point" else "hazards-dot"
                )
                records.append((lyr, props, [c.x, c.y]))
    finally:
        s.close()
    p = _page(browser, site, locale="uk-UA")
    try:
        pg = p.open()
        assert pg.evaluate("document.documentElement.lang") == "uk"
        bad: dict[str, list[str]] = {}
        for layer, props, at in records:
            text = pg.evaluate(
                """async ([layer, props, at]) => {
                  const popup = await window.demine.showDetails(layer, props, at);
                  const body = popup.getElement().querySelector('.popup');
                  const hz = layer.startsWith('hazards');
                  for (let i = 0; i < 200 && hz && body.dataset.loaded !== 'true'; i++)
                    await new Promise(r => setTimeout(r, 25));
                  const rel = body.querySelector('.release');
                  for (let i = 0; i < 200 && rel && rel.isConnected && !rel.dataset.state; i++)
                    await new Promise(r => setTimeout(r, 25));
                  const close = popup.getElement().querySelector('.maplibregl-popup-close-button');
                  const t = body.innerText + ' ' + close.getAttribute('aria-label');
                  popup.remove();
                  return t;
                }""",
                [layer, props, at],
            )
            found = _foreign(text, data)
            if found:
                bad[f"{layer} {props['id']}"] = found
        assert not bad, json.dumps(dict(list(bad.items())[:8]), ensure_ascii=False, indent=1)
        # the page's own text (the demo banner's English half aside)
        pg.click("#report-toggle")  # the report form's words too
        pg.click("#stats-toggle")
        wait_for(pg, "document.body.dataset.statsReady === 'true'", 30_000)
        page_text = pg.evaluate(
            "(() => { let t = document.body.innerText;"
            " const skip = '#synthetic-banner, .maplibregl-ctrl-attrib, #inview-list';"
            " for (const e of document.querySelectorAll(skip))"
            " t = t.replace(e.innerText, ' '); return t; })()"
        )
        assert not _foreign(page_text, data), _foreign(page_text, data)
        titles = pg.evaluate(
            "[...document.querySelectorAll('.maplibregl-ctrl button')]"
            ".map(b => (b.getAttribute('title') || '') + ' '"
            " + (b.getAttribute('aria-label') || ''))"
            ".join(' ')"
        )
        assert not _foreign(titles, data), titles
        _uk_errors(p, data)
    finally:
        p.close()


def _uk_errors(p: Page, data: list[str]) -> None:
    """Errors from the server and from the browser, in Ukrainian."""
    pg = p.page
    # the server's refusal (English detail) and a network failure
    pg.route(
        "**/api/v1/safety/point**",
        lambda route: route.fulfill(
            status=500, content_type="application/problem+json",
            body=json.dumps({"detail": "internal error: the store is not reachable"}),
        ),
    )  # fmt: skip
    for q in ("45.3, 31.6",):
        pg.fill("#place-q", q)
        pg.click("#place-check")
        err = pg.locator("#place-result .error")
        err.wait_for(timeout=10_000)
        assert err.inner_text() == "Сервер не зміг відповісти. Спробуйте пізніше."
    pg.unroute("**/api/v1/safety/point**")
    pg.route("**/api/v1/safety/point**", lambda route: route.abort())
    pg.fill("#place-q", "45.3, 31.7")
    pg.click("#place-check")
    wait_for(
        pg,
        "document.querySelector('#place-result .error')?.textContent.includes('зв’язок')",
        10_000,
    )
    pg.unroute("**/api/v1/safety/point**")
    # every coordinate error
    for text, _ in COORDS_BAD:
        pg.fill("#place-q", text)
        pg.click("#place-check")
        got = wait_for(pg, "document.querySelector('#place-result .error')?.textContent", 10_000)
        assert not _foreign(got.replace(text, " "), data), got
    # geolocation refused (no permission granted in this context)
    pg.click("#locate")
    got = wait_for(pg, "document.getElementById('status').textContent", 10_000)
    assert not _foreign(got, data) and "Дозвольте" in got, got
    p.errors.clear()  # the aborted request's console line


# --- popups --------------------------------------------------------------------------------------


def test_popup_leads_with_inside_and_risk_on_a_phone(browser: Any, site: Site) -> None:
    p = _page(browser, site, **PHONE)
    try:
        pg = p.open()
        h = site.hazard
        got = pg.evaluate(
            """async ([id, lon, lat]) => {
              const m = window.demine.map;
              m.jumpTo({center: [lon, lat], zoom: 15});
              await new Promise(r => m.once('idle', r));
              const f = m.queryRenderedFeatures(m.project([lon, lat]),
                {layers: ['hazards-risk', 'hazards-unknown']}).find(f => f.properties.id === id);
              const popup = await window.demine.showDetails(f.layer.id, f.properties, [lon, lat]);
              const el = popup.getElement();
              const content = el.querySelector('.maplibregl-popup-content');
              const lead = el.querySelector('.lead');
              const risk = el.querySelector('.risk p');
              const c = content.getBoundingClientRect();
              const r = risk.getBoundingClientRect();
              const mb = m.getContainer().getBoundingClientRect();
              return {lead: lead.textContent,
                      first: el.querySelector('.popup').firstElementChild === lead,
                      risk: risk.textContent, riskBottom: r.bottom,
                      contentBottom: c.top + content.clientHeight,
                      vh: innerHeight, top: c.top, mapTop: mb.top, mapBottom: mb.bottom};
            }""",
            [h["id"], h["lon"], h["lat"]],
        )
        assert got["first"] and got["lead"].startswith(
            "This place is inside a recorded hazardous area"
        )
        assert got["risk"].startswith(("Chance that at least one device", "Unknown — not safe"))
        assert got["riskBottom"] <= got["contentBottom"] and got["riskBottom"] <= got["vh"], got
        # the whole popup inside the map (nothing under the banner above it)
        assert got["mapTop"] <= got["top"] and got["contentBottom"] <= got["mapBottom"], got
        p.page.evaluate(
            "window.scrollTo(0, document.querySelector('#map').getBoundingClientRect().top"
            " + scrollY - 10)"
        )
        _shot(p, "phone-popup-en")
    finally:
        p.close()


def test_unknown_risk_is_never_called_safe(page: Page, site: Site) -> None:
    pg = page.open()
    risk = json.loads(urllib.request.urlopen(site.url + "/api/v1/map/risk").read())
    unknown = [i for i, r in risk["hazards"].items() if not r.get("known")]
    assert unknown, "the demo has no hazard without an estimate"
    text = pg.evaluate(
        """async (id) => {
          const popup = await window.demine.showDetails(
            'hazards-unknown', {id, status: 'open'}, [37, 48]);
          return popup.getElement().querySelector('.risk').innerText;
        }""",
        unknown[0],
    )
    lines = [x for x in text.splitlines() if x.strip()]
    assert lines[1].startswith("Unknown — not safe."), lines  # the line under the heading
    assert not re.search(r"\b(is|are|looks|seems) safe\b|\bsafe to\b", text, re.I), text


# --- colours --------------------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    c = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _blend(fg: str, bg: str, alpha: float) -> str:
    return "#" + "".join(
        f"{round(alpha * int(fg[i : i + 2], 16) + (1 - alpha) * int(bg[i : i + 2], 16)):02x}"
        for i in (1, 3, 5)
    )


def test_colours_for_graphical_objects() -> None:
    """WCAG 1.4.11: both ends of the risk shading (as drawn, at its opacity) and the legend's
    ramp at least 3:1 against the map's background and the panel; the "last check" outline
    black, never pale yellow; released land drawn with a pattern (not only a hue)."""
    web = Path(__file__).resolve().parent.parent / "src" / "demine" / "web"
    js = (web / "app.js").read_text(encoding="utf-8")
    css = (web / "app.css").read_text(encoding="utf-8")
    ramp = re.search(r"const RAMP = \[([^\]]+)\]", js)
    assert ramp
    colours = re.findall(r'"(#[0-9a-f]{6})"', ramp.group(1))
    opacity = float(re.search(r'"fill-color": RAMP\[1\], "fill-opacity": ([0-9.]+)', js).group(1))
    background = re.search(r'"background-color": "(#[0-9a-f]{6})"', js).group(1)
    for c in (colours[0], colours[-1]):
        assert _contrast(_blend(c, background, opacity), background) >= 3, c
    legend = re.search(r"\.ramp \{[^}]*linear-gradient\(90deg, ([^)]*)\)", css)
    assert legend and [x.strip() for x in legend.group(1).split(",")] == colours
    for c in colours:
        assert _contrast(c, "#fafafa") >= 3, c
    assert '"line-color": "#000000", "line-width": 7' in js  # the last check's outline
    assert "#ffd400" not in js + css
    assert '"fill-pattern": "released"' in js and "released: () =>" in js


# --- tap targets ---------------------------------------------------------------------------------


def test_tap_targets_on_a_phone(browser: Any, site: Site) -> None:
    p = _page(browser, site, **PHONE)
    try:
        pg = p.open()
        pg.click("#report-toggle")
        small = pg.evaluate(
            """(() => {
              const out = [];
              const sel = 'button, select, input:not([type=checkbox]):not([type=radio]), textarea, '
                + 'a[href], .object, .check, .layers label';
              for (const e of document.querySelectorAll(sel)) {
                const r = e.getBoundingClientRect();
                if (!r.width || !r.height) continue;
                if (e.matches('a') && e.closest('p') && !e.closest('.safety')) continue; // inline
                if (r.width < 44 || r.height < 44)
                  out.push(`${e.tagName}#${e.id}.${e.className}`
                    + ` ${Math.round(r.width)}x${Math.round(r.height)}`);
              }
              return out;
            })()"""
        )
        assert not small, small
    finally:
        p.close()
