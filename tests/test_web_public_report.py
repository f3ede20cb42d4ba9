"""A civilian reports an explosive object through the public map's form, in a real browser
(Playwright + Debian's chromium, headless) against a live server, on both backends (issue 15,
item 1): the form repeats the safety text first, the place is tapped on the map, the object is
chosen by its picture, a photo goes with it, the tracking code comes back with a link to its
status page (which says "received"), and the map then draws the report as unverified. A contact
without consent is refused in the form, before anything is sent."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

import test_intake
from demine.api import create_app
from live import serve, wait_for
from test_civilian_reports import CONTACT, photo_with_gps
from test_intake import populate
from test_web_page import READY_MS

WHERE = (48.26, 37.84)  # (lat, lon)
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
def site(store: Any) -> Iterator[str]:
    from demine.services import pow

    store.set_setting(pow.BITS_SETTING, 6)  # a quick proof of work for the test
    location, _ = populate(store, test_intake.USERS)
    with serve(create_app(location)) as url:
        yield url


def _open(browser: Any, url: str, locale: str) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    ctx.add_init_script(WATCH)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(url + "/")
    wait_for(
        page, "window.demine && (window.demine.ready === true || window.demine.error)", READY_MS
    )
    assert not page.evaluate("window.demine.error")
    return ctx, page, errors


def _drawn(page: Any) -> Any:
    page.evaluate(f"window.demine.map.jumpTo({{center: [{WHERE[1]}, {WHERE[0]}], zoom: 13}})")
    wait_for(page, "window.demine.unverified >= 1", 15_000)
    return wait_for(
        page,
        "(() => { const m = window.demine.map;"
        " const f = m.queryRenderedFeatures({layers: ['unverified-points']});"
        " return f.length ? f.map(x => x.properties.object_type) : null; })()",
        15_000,
    )


def test_a_civilian_reports_through_the_map(browser: Any, site: str) -> None:
    ctx, page, errors = _open(browser, site, "en-GB")
    try:
        page.click("#report-toggle")
        body = page.locator("#report-body")
        # the first screen of the form: do not touch, move away, call 101
        first = body.locator(".safety-repeat").inner_text()
        assert "Do not touch or approach. Leave the way you came. Call 101." in first
        # the place: a tap on the map
        page.evaluate(f"window.demine.map.jumpTo({{center: [{WHERE[1]}, {WHERE[0]}], zoom: 14}})")
        page.click("#report-pick")
        assert page.get_attribute("#report-pick", "aria-pressed") == "true"
        box = page.locator("#map canvas").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        place = page.inner_text("#report-place")
        lat, lon = (float(v) for v in re.findall(r"-?\d+\.\d+", place)[:2])
        assert abs(lat - WHERE[0]) < 0.01 and abs(lon - WHERE[1]) < 0.01, place
        # nothing was checked instead: the tap went to the form
        assert page.inner_text("#place-result") == ""
        # what was seen: a picture, chosen by its label
        page.click("label.object:has(input[value='submunition'])")
        assert page.is_checked("input[value='submunition']")
        page.set_input_files(
            "#report-photo",
            files=[{"name": "far.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()}],
        )
        # a contact without consent is refused here, before anything is sent
        page.fill("#report-contact", CONTACT)
        page.click("#report-send")
        err = page.locator("#report-result .error")
        err.wait_for(timeout=5_000)
        assert "consent" in err.inner_text()
        page.check("#report-consent")
        page.click("#report-send")
        code = page.locator("#report-result .code")
        code.wait_for(timeout=60_000)
        text = code.inner_text()
        assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", text), text
        assert "The photo was received." in page.inner_text("#report-result")
        link = page.get_attribute("#report-result a.code-link", "href")
        assert link and link.endswith(f"/report/{text}")
        # the map draws it as an unverified report: at once on this page, and on another
        # device's (a fresh context) from GET /api/v1/public/reports/unverified
        assert _drawn(page) == ["submunition"]
        other, other_page, other_errors = _open(browser, site, "en-GB")
        try:
            assert _drawn(other_page) == ["submunition"]
            assert not other_errors, other_errors
        finally:
            other.close()
        # its status page: received
        page.goto(site + link)
        label = wait_for(
            page,
            "document.body.dataset.ready === '1'"
            " && document.getElementById('status-label').textContent",
            30_000,
        )
        assert label.endswith(("received", "отримано")), label
        assert page.evaluate("window.__csp") == []
        assert not errors, errors
    finally:
        ctx.close()


def test_report_form_in_ukrainian_typed_coordinates(browser: Any, site: str) -> None:
    ctx, page, errors = _open(browser, site, "uk-UA")
    try:
        page.click("#report-toggle")
        first = page.inner_text("#report-body .safety-repeat")
        assert "Не торкайтеся і не наближайтеся" in first and "101" in first
        page.fill("#report-q", "48°15'36\" пн. ш., 37°50'24\" сх. д.")
        assert "48.26000, 37.84000" in page.inner_text("#report-place")
        page.click("#report-send")  # no object chosen
        err = page.locator("#report-result .error")
        err.wait_for(timeout=5_000)
        assert err.inner_text().startswith("Виберіть, що ви побачили")
        page.click("label.object:has(input[value='unknown'])")
        when = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 3600))
        page.fill("#report-when", when)
        page.click("#report-send")
        page.locator("#report-result .code").wait_for(timeout=60_000)
        assert "Повідомлення отримано" in page.inner_text("#report-result")
        assert page.evaluate("window.__csp") == []
        assert not errors, errors
    finally:
        ctx.close()
