"""A hazard's land-release progress in its map popup, in a real browser: the figures of
``GET /api/v1/hazards/{id}/release`` (area, cancelled, reduced, cleared, remaining, a bar of the
released share), the ongoing activity, a closed hazard's release, English and Ukrainian; and a
popup that keeps everything else when the account cannot be had."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from live import serve, wait_for
from test_web_layers import _box, _f, _load
from test_web_page import Page, _click_lonlat, _jump

X0, Y0 = 37.62, 48.33  # the worked hazard, about 2 km x 2 km, in Donetsk oblast
DX, DY = 0.027, 0.018
CX0 = X0 + 0.06  # the closed hazard, east of it


@dataclass
class ReleaseSite:
    url: str
    db: Path
    open_id: str
    closed_id: str


def _build(store: Any, tmp: Path) -> tuple[str, str]:
    """An open hazard whose west third was cancelled by a completed non-technical survey,
    with clearance ongoing on the rest; and a closed hazard cleared in full."""
    hz, closed = _load(
        store,
        tmp,
        "hazards",
        [
            _f(
                "rel-H-1",
                {"hazard_type": "CHA", "status": "open", "reported_on": "2024-01-10"},
                _box(X0, Y0, X0 + DX, Y0 + DY),
            ),
            _f(
                "rel-H-2",
                {
                    "hazard_type": "CHA",
                    "status": "closed",
                    "reported_on": "2023-01-10",
                    "closed_on": "2024-10-01",
                },
                _box(CX0, Y0, CX0 + DX / 3, Y0 + DY / 3),
            ),
        ],
    )
    nts, _ongoing, clr = _load(
        store,
        tmp,
        "activities",
        [
            _f(
                "rel-A-1",
                {
                    "hazard_id": hz,
                    "organisation": "Demo Operator A",
                    "activity_type": "non_technical_survey",
                    "status": "completed",
                    "started_on": "2024-02-01",
                    "completed_on": "2024-02-10",
                },
                _box(X0, Y0, X0 + DX, Y0 + DY),
            ),
            _f(
                "rel-A-2",
                {
                    "hazard_id": hz,
                    "organisation": "Demo Operator B",
                    "activity_type": "clearance",
                    "status": "ongoing",
                    "started_on": "2025-03-17",
                },
                _box(X0 + DX / 3, Y0, X0 + DX, Y0 + DY),
            ),
            _f(
                "rel-A-3",
                {
                    "hazard_id": closed,
                    "organisation": "Demo Operator A",
                    "activity_type": "clearance",
                    "status": "completed",
                    "started_on": "2024-06-01",
                    "completed_on": "2024-09-30",
                },
                _box(CX0, Y0, CX0 + DX / 3, Y0 + DY / 3),
            ),
        ],
    )
    _load(
        store,
        tmp,
        "releases",
        [
            _f(
                "rel-R-1",
                {"activity_id": nts, "release_type": "cancelled", "released_on": "2024-02-10"},
                _box(X0, Y0, X0 + DX / 3, Y0 + DY),
            ),
            _f(
                "rel-R-2",
                {"activity_id": clr, "release_type": "cleared", "released_on": "2024-09-30"},
                _box(CX0, Y0, CX0 + DX / 3, Y0 + DY / 3),
            ),
        ],
    )
    return hz, closed


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReleaseSite]:

    from demine.api.app import create_app
    from demine.demo import build_demo_store
    from demine.store.gpkg import GeoPackageStore

    tmp = tmp_path_factory.mktemp("web_release")
    db = tmp / "demo.gpkg"
    build_demo_store(db)
    store = GeoPackageStore(db)
    try:
        open_id, closed_id = _build(store, tmp)
    finally:
        store.close()
    with serve(create_app(str(db))) as url:
        yield ReleaseSite(url, db, open_id, closed_id)


@pytest.fixture
def page(browser: Any, site: ReleaseSite) -> Iterator[Page]:
    p = Page(browser, site)  # type: ignore[arg-type]
    yield p
    p.close()


def _account(site: ReleaseSite, hid: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{site.url}/api/v1/hazards/{hid}/release") as r:
        out: dict[str, Any] = json.load(r)
    return out


def _area_en(m2: float) -> str:
    """As the page writes an area in English (en-GB): m² under a hectare, else ha."""
    if abs(m2) < 10000:
        return f"{round(m2):,} m²"
    return f"{m2 / 10000:,.2f}".rstrip("0").rstrip(".") + " ha"


def _figures(pg: Any) -> dict[str, str]:
    out: dict[str, str] = pg.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.popup .release dd')]"
        ".map(d => [d.dataset.release, d.textContent]))"
    )
    return out


def _open_popup(p: Page, lon: float, lat: float) -> Any:
    pg = p.page
    _jump(p, lat, lon, 13)
    _click_lonlat(p, lon, lat)
    pg.locator(".popup .risk").wait_for(timeout=15_000)
    return pg


def test_release_in_the_popup(page: Page, site: ReleaseSite) -> None:
    acc = _account(site, site.open_id)
    assert acc["status"] == "open"
    by = acc["by_type"]
    assert by["cancelled"] > 0 and not by.get("reduced") and not by.get("cleared")
    assert 0 < acc["released_m2"] < acc["area_m2"] and acc["remaining_m2"] > 0

    pg = page.open()
    cx, cy = X0 + DX / 2, Y0 + DY / 2
    _open_popup(page, cx, cy)
    block = pg.locator(".popup .release")
    block.locator("dl").wait_for(timeout=10_000)
    text = block.inner_text()
    assert text.startswith("Land release")
    share = round(100 * acc["released_m2"] / acc["area_m2"])
    assert f"{share}% released" in text
    assert _figures(pg) == {
        "area": _area_en(acc["area_m2"]),
        "cancelled": _area_en(acc["by_type"]["cancelled"]),
        "reduced": "0 m²",
        "cleared": "0 m²",
        "remaining": _area_en(acc["remaining_m2"]),
    }
    bar = pg.locator(".popup .release-bar")
    assert bar.get_attribute("aria-valuenow") == str(share)
    width = pg.evaluate(
        "(() => { const b = document.querySelector('.popup .release-bar');"
        " return b.firstChild.getBoundingClientRect().width / b.getBoundingClientRect().width; })()"
    )
    assert abs(width - acc["released_m2"] / acc["area_m2"]) < 0.02
    activity = pg.inner_text(".popup .release-activity")
    assert activity == "Clearance ongoing — Demo Operator B, since 2025-03-17"
    assert "Cancelled (non-technical survey)" in text
    # the rest of the popup is there too
    popup = pg.inner_text(".maplibregl-popup-content")
    assert "Residual risk" in popup and "Type" in popup
    pg.locator(".popup .release").scroll_into_view_if_needed()
    page.shot("release-popup")

    # in Ukrainian (an open popup keeps its language: click the hazard again)
    pg.click(".lang-btn[data-lang='uk']")
    wait_for(pg, "document.documentElement.lang === 'uk'")
    pg.click(".maplibregl-popup-close-button")
    _open_popup(page, cx, cy)
    wait_for(
        pg,
        "(document.querySelector('.popup .release strong') || {}).textContent"
        " === 'Вивільнення території'",  # ДСТУ 8820-5: «вивільнення територій»
    )
    uk = pg.inner_text(".popup .release")
    for label in ("Площа", "Скасовано", "(нетехнічне обстеження", "Зменшено", "Очищено"):
        assert label in uk, label
    assert "Залишається" in uk and "га" in uk and "м²" in uk
    assert "Розмінування триває — Demo Operator B, з 2025-03-17" in uk
    pg.locator(".popup .release").scroll_into_view_if_needed()
    page.shot("release-popup-uk")


def test_closed_hazard_on_a_phone(browser: Any, site: ReleaseSite) -> None:
    acc = _account(site, site.closed_id)
    assert acc["status"] == "closed" and acc["nothing_remains"]
    p = Page(
        browser,
        site,  # type: ignore[arg-type]
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    try:
        pg = p.open()
        _open_popup(p, CX0 + DX / 6, Y0 + DY / 6)
        state = pg.locator(".popup .release-state")
        state.wait_for(timeout=10_000)
        assert state.inner_text() == "Released: closed on 2024-10-01"
        assert pg.locator(".popup .release-activity").count() == 0
        figures = _figures(pg)
        assert figures["cleared"] == _area_en(acc["by_type"]["cleared"])
        assert figures["remaining"] == _area_en(acc["remaining_m2"])
        # compact: the survey kinds are left out, the figures go two to a row, nothing sideways
        assert not pg.locator(".popup .release-how").first.is_visible()
        box = pg.locator(".maplibregl-popup-content").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        pg.locator(".popup .release").scroll_into_view_if_needed()
        p.shot("release-popup-phone")
    finally:
        p.close()


def test_popup_without_the_account(page: Page, site: ReleaseSite) -> None:
    pg = page.open()
    # the account cannot be had (offline, an older server): the popup keeps everything else
    pg.evaluate(
        "(() => { const f = window.fetch; window.fetch = (u, o) => String(u).endsWith('/release')"
        " ? Promise.reject(new TypeError('Failed to fetch')) : f(u, o); })()"
    )
    _open_popup(page, X0 + DX / 2, Y0 + DY / 2)
    wait_for(pg, "!document.querySelector('.popup .release')")
    popup = pg.inner_text(".maplibregl-popup-content")
    assert "Residual risk" in popup and "Type" in popup
    assert "Land release" not in popup
