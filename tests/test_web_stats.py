"""The Statistics panel of the public map page, in a real browser (Playwright + Debian's
chromium, headless), over a store holding a synthetic year (tests/stats_data.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import stats_data
from live import serve, wait_for

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:

    from demine.api.app import create_app
    from demine.services.setup import init_store
    from demine.services.stats import compute
    from demine.store.gpkg import GeoPackageStore

    db = tmp_path_factory.mktemp("webstats") / "year.gpkg"
    store = GeoPackageStore(db)
    try:
        init_store(store)
        stats_data.build(store)
        expected = compute(store, role="public")
    finally:
        store.close()
    with serve(create_app(str(db))) as url:
        yield url, expected


def _chart_loaded(page: Any, name: str) -> bool:
    return bool(
        page.evaluate(
            "(id) => { const i = document.getElementById(id); "
            "return !!i && i.complete && i.naturalWidth > 0; }",
            f"stats-chart-{name}",
        )
    )


def test_statistics_panel_shows_figures_and_charts(
    site: tuple[str, dict[str, Any]], browser: Any
) -> None:
    url, expected = site
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    try:
        page.goto(url + "/")
        toggle = page.locator("#stats-toggle")
        toggle.wait_for(timeout=TIMEOUT_MS)
        wait_for(
            page,
            "() => document.getElementById('stats-toggle').textContent === 'Statistics'",
            timeout=TIMEOUT_MS,
        )
        assert page.locator("#stats-body").is_hidden()
        toggle.click()
        page.wait_for_selector("body[data-stats-ready='true']", timeout=TIMEOUT_MS)
        assert toggle.get_attribute("aria-expanded") == "true"
        released = page.locator("dd[data-stat='stats_released']").inner_text()
        km2 = expected["released_m2"] / 1e6
        assert released == f"{km2:,.3f}".rstrip("0").rstrip(".") + " km²", released
        casualties = page.locator("dd[data-stat='stats_casualties']").inner_text()
        assert casualties == str(expected["casualties"]["total"])
        devices = page.locator("dd[data-stat='stats_devices']").inner_text()
        assert devices == str(expected["devices"]["total"])
        reports = page.locator("dd[data-stat='stats_eo_reports']").inner_text()
        assert reports == str(expected["eo_reports"]["total"]) == "1"  # the public one
        wait_for(
            page,
            "() => ['released', 'devices'].every((n) => { const i = "
            "document.getElementById('stats-chart-' + n); return i.complete && i.naturalWidth; })",
            timeout=TIMEOUT_MS,
        )
        assert _chart_loaded(page, "released") and _chart_loaded(page, "devices")
        assert "api/v1/stats/chart/released.svg" in str(
            page.locator("#stats-chart-released").get_attribute("src")
        )
        # in Ukrainian: labels, figures and the charts follow
        page.locator(".lang-btn[data-lang='uk']").click()
        wait_for(
            page,
            "() => document.getElementById('stats-toggle').textContent === 'Статистика'",
            timeout=TIMEOUT_MS,
        )
        wait_for(
            page,
            "() => document.getElementById('stats-chart-released').src.includes('lang=uk')",
            timeout=TIMEOUT_MS,
        )
        assert "Вивільнено територій" in page.locator("#stats-figures").inner_text()
        assert "км²" in page.locator("dd[data-stat='stats_released']").inner_text()
        assert not [e for e in errors if "favicon" not in e], errors
    finally:
        ctx.close()
