"""The extract verify page (``/verify``, docs/extract.md) in headless Chromium against a live
server, on both backends: a signed extract given as a file is "valid"; one changed byte is
"not valid"; after a later release it says the records changed since, naming it; the page
reads in Ukrainian and English, carries the "no record is not proof of safety" line, and
breaks no rule of its Content-Security-Policy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import MultiPolygon, box

from live import serve, wait_for

TIMEOUT = 30_000
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
BODY = {"point": {"lat": 50.4105, "lon": 30.5105}, "radius_m": 10, "lang": "uk"}


@pytest.fixture
def site(store: Any, tmp_path: Path) -> Iterator[tuple[str, Any, bytes, bytes]]:
    from demine.api.app import create_app
    from demine.ids import uuid7
    from demine.model.schema import Record
    from demine.services.extract import generate_key, register_key

    pem, entry = generate_key()
    key = tmp_path / "k.pem"
    key.write_bytes(pem)
    register_key(store, entry)
    hz = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open"},
        MultiPolygon([box(30.51, 50.41, 30.512, 50.412)]),
    )
    store.upsert("hazards", [hz], actor="t")
    app = create_app(store.location, extract_key=str(key))
    with TestClient(app) as c:
        html = c.post("/api/v1/extracts", json=BODY, headers={"Accept": "text/html"}).content
        signed = c.post("/api/v1/extracts", json=BODY).content
    with serve(app) as url:
        yield url, store, html, signed


def _result(page: Any) -> str:
    return str(
        wait_for(
            page,
            "document.querySelector('#result [data-result]')?.dataset.result",
            TIMEOUT,
        )
    )


def test_the_verify_page_checks_a_file(site: Any, browser: Any, tmp_path: Path) -> None:
    url, store, html, signed = site
    ctx = browser.new_context(viewport={"width": 390, "height": 800}, locale="uk-UA")
    ctx.add_init_script(WATCH)
    page = ctx.new_page()
    try:
        page.goto(f"{url}/verify?extract=x", timeout=TIMEOUT)
        assert page.locator("html").get_attribute("lang") == "uk"
        assert "не є доказом безпеки" in page.locator("#not-safe").inner_text()
        assert "101" in page.locator("#safety").inner_text()
        f = tmp_path / "extract.html"
        f.write_bytes(html)
        page.set_input_files("#file", str(f))
        assert _result(page) == "valid"
        text = page.locator("#result").inner_text()
        assert "Підпис дійсний" in text and "інший витяг" in text  # not the QR's id "x"
        # one changed byte
        bad = bytearray(html)
        at = html.index("відкрита".encode())
        bad[at + 1] ^= 1
        f2 = tmp_path / "bad.html"
        f2.write_bytes(bytes(bad))
        page.evaluate("document.querySelector('#result').replaceChildren()")
        page.set_input_files("#file", str(f2))
        assert _result(page) == "invalid"
        assert "НЕДІЙСНИЙ" in page.locator("#result").inner_text()
        # a later release: changed since, named; in English
        rel_id = str(uuid.uuid4())
        from demine.model.schema import Record

        hz = next(iter(store.list("hazards")))
        rel = Record(
            "releases",
            rel_id,
            {"hazard_id": hz.id, "release_type": "cleared", "released_on": "2026-01-05"},
            MultiPolygon([box(30.51, 50.41, 30.511, 50.411)]),
        )
        store.upsert("releases", [rel], actor="t")
        page.click("button[data-lang=en]")
        assert page.locator("html").get_attribute("lang") == "en"
        page.evaluate("document.querySelector('#result').replaceChildren()")
        page.set_input_files("#file", [])
        page.fill("#paste", signed.decode())
        page.click("#check")
        assert _result(page) == "changed"
        text = page.locator("#result").inner_text()
        assert "changed since" in text and rel_id in text and "land release" in text
        assert "No record is not proof of safety" in page.locator("#not-safe").inner_text()
        assert page.evaluate("window.__csp") == []
    finally:
        ctx.close()
