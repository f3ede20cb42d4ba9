"""The pages under their Content-Security-Policy, in a real browser (Playwright + Debian's
chromium, headless): the map page with a base map from another origin, the OGC API's HTML
pages and the API docs (Swagger UI from the package) with every other host blocked. Each test
fails on any CSP violation (reported both as an event and as a console error).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from live import serve, wait_for

READY_MS = 60_000
# every CSP violation the page sees, kept where the test can read it
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _png() -> bytes:
    """A 1x1 grey PNG (a base-map tile)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xc0"))
        + chunk(b"IEND", b"")
    )


@dataclass
class Site:
    url: str
    tiles_url: str
    hazard_id: str
    tile_requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from demine.api.app import create_app
    from demine.demo import build_demo_store
    from demine.store.gpkg import GeoPackageStore

    db = tmp_path_factory.mktemp("csp") / "demo.gpkg"
    build_demo_store(db)
    s = GeoPackageStore(db)
    try:
        hazard_id = next(iter(s.list("hazards"))).id
    finally:
        s.close()
    requests: list[str] = []
    png = _png()

    def tile(request: Request) -> Response:
        requests.append(request.url.path)
        # as public tile servers do: MapLibre fetches tiles with CORS
        return Response(png, media_type="image/png", headers={"Access-Control-Allow-Origin": "*"})

    tiles = Starlette(routes=[Route("/{z}/{x}/{y}.png", tile)])
    # the base map on another origin (another port): the policy must name it
    with serve(tiles) as tiles_url:
        app = create_app(str(db), tile_url=tiles_url + "/{z}/{x}/{y}.png")
        with serve(app) as url:
            yield Site(url, tiles_url, hazard_id, requests)


class Watched:
    def __init__(self, browser: Any, **context: Any) -> None:
        # no service worker: its requests would pass unseen by the context's route() watch
        self.context = browser.new_context(**{"service_workers": "block", **context})
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp || []"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser, viewport={"width": 1280, "height": 800}, locale="en-GB")
    yield w
    w.close()


def test_map_page_works_under_its_policy(watched: Watched, site: Site) -> None:
    pg = watched.page
    resp = pg.goto(site.url + "/")
    assert resp is not None
    policy = resp.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert site.tiles_url in policy  # the base map's origin, for img-src and connect-src
    wait_for(pg, "() => window.demine && (window.demine.ready || window.demine.error)", READY_MS)
    assert not pg.evaluate("window.demine.error")
    ids = wait_for(
        pg,
        "() => { const m = window.demine.map;"
        " const layers = window.demine.hazardLayers.filter(l => m.getLayer(l));"
        " const ids = m.queryRenderedFeatures({layers}).map(f => f.properties.id);"
        " return ids.length ? ids : null; }",
        READY_MS,
    )
    assert ids, "no hazard rendered"
    assert site.tile_requests, "the base map's tiles were never asked for"
    assert watched.violations() == []
    assert not watched.errors, "console errors:\n" + "\n".join(watched.errors)


def test_a_refused_inline_script_is_reported(watched: Watched, site: Site) -> None:
    """The control: the watch does see a violation when the page breaks the policy (so an
    empty list above means none happened)."""
    pg = watched.page
    pg.goto(site.url + "/ogc?f=html")
    pg.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = 1'; document.body.append(s); }"
    )
    wait_for(pg, "() => (window.__csp || []).length > 0", 10_000)
    assert not pg.evaluate("window.__ran")
    assert any(v.startswith("script-src") for v in watched.violations())
    watched.errors.clear()


@pytest.mark.parametrize(
    "path",
    [
        "/ogc?f=html",
        "/ogc/collections?f=html",
        "/ogc/collections/hazards?f=html",
        "/ogc/collections/hazards/items?f=html&limit=5",
        "/ogc/collections/hazards/items/{id}?f=html",
        "/ogc/api?f=html",
        "/ogc/conformance?f=html",
    ],
)
def test_ogc_pages_render_under_the_policy(watched: Watched, site: Site, path: str) -> None:
    pg = watched.page
    resp = pg.goto(site.url + path.replace("{id}", site.hazard_id))
    assert resp is not None and resp.status == 200
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    # the inline stylesheet (allowed by its hash) applies: body is at most 70em wide
    assert pg.evaluate("getComputedStyle(document.body).maxWidth") != "none"
    assert pg.locator("h1").count() == 1
    assert watched.violations() == []
    assert not watched.errors, "console errors:\n" + "\n".join(watched.errors)


def test_api_docs_render_with_every_other_host_blocked(watched: Watched, site: Site) -> None:
    here = urlsplit(site.url).netloc
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if urlsplit(route.request.url).netloc == here:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    watched.context.route("**/*", only_here)
    pg = watched.page
    resp = pg.goto(site.url + "/api/docs")
    assert resp is not None and resp.status == 200
    wait_for(pg, "() => document.querySelectorAll('.swagger-ui .opblock').length > 5", 30_000)
    assert "demine" in pg.inner_text(".swagger-ui .info .title")
    # an operation opens (the UI's scripts run, its styles apply)
    pg.locator(".swagger-ui .opblock-summary").first.click()
    pg.locator(".swagger-ui .opblock-body").first.wait_for(timeout=10_000)
    assert elsewhere == [], f"the docs asked other hosts: {elsewhere}"
    assert watched.violations() == []
    assert not watched.errors, "console errors:\n" + "\n".join(watched.errors)
    Path(__file__).resolve().parent.parent.joinpath("test-artifacts").mkdir(exist_ok=True)
    pg.screenshot(
        path=str(Path(__file__).resolve().parent.parent / "test-artifacts" / "api-docs.png")
    )
