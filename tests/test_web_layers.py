"""The map's record layers in a real browser: land released (cancelled / reduced / cleared),
ongoing survey and clearance worksites, accidents and EORE sessions render from the tiles, are
toggled from the "Layers" card, speak English and Ukrainian, and an accident's popup shows
place, date, type and device only (no casualty figure, no personal data)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demine.services.register import ImportOptions, import_file
from live import serve, wait_for
from test_web_page import Page, _click_lonlat, _jump

X0, Y0 = 37.62, 48.33  # the test's own hazard, 2 km x 2 km, in Donetsk oblast


@dataclass
class LayersSite:
    url: str
    db: Path
    hazard: tuple[float, float]  # (lon, lat) of the centre of the worked hazard
    accident: dict[str, Any]  # id, lon, lat, occurred_at
    session: dict[str, Any]  # an EORE session: id, lon, lat


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _load(store: Any, tmp: Path, kind: str, feats: list[dict[str, Any]]) -> list[str]:
    path = tmp / f"{kind}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return import_file(store, path, ImportOptions(kind=kind)).ids


def _f(fid: str, props: dict[str, Any], geom: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": geom}


def _land_release(store: Any, tmp: Path) -> None:
    """A hazard cancelled in part, reduced in part, cleared in part, with clearance ongoing."""
    dx, dy = 0.027, 0.018
    (hz,) = _load(
        store,
        tmp,
        "hazards",
        [
            _f(
                "web-H-1",
                {"hazard_type": "CHA", "status": "open", "reported_on": "2023-01-10"},
                _box(X0, Y0, X0 + dx, Y0 + dy),
            )
        ],
    )
    act = {"hazard_id": hz, "organisation": "Operator A", "status": "completed"}
    nts, ts, clr, ongoing = _load(
        store,
        tmp,
        "activities",
        [
            _f(
                "web-A-1",
                {
                    **act,
                    "activity_type": "non_technical_survey",
                    "started_on": "2023-02-01",
                    "completed_on": "2023-02-10",
                },
                _box(X0, Y0, X0 + dx, Y0 + dy),
            ),
            _f(
                "web-A-2",
                {
                    **act,
                    "activity_type": "technical_survey",
                    "started_on": "2023-04-01",
                    "completed_on": "2023-05-15",
                },
                _box(X0 + dx / 3, Y0, X0 + dx, Y0 + dy),
            ),
            _f(
                "web-A-3",
                {
                    **act,
                    "activity_type": "clearance",
                    "started_on": "2023-06-01",
                    "completed_on": "2023-09-30",
                },
                _box(X0 + 2 * dx / 3, Y0, X0 + dx, Y0 + dy / 2),
            ),
            _f(
                "web-A-4",
                {
                    **act,
                    "activity_type": "clearance",
                    "status": "ongoing",
                    "started_on": "2024-04-01",
                },
                _box(X0 + 2 * dx / 3, Y0 + dy / 2, X0 + dx, Y0 + dy),
            ),
        ],
    )
    _ = ongoing
    _load(
        store,
        tmp,
        "releases",
        [
            _f(
                "web-R-1",
                {"activity_id": nts, "release_type": "cancelled", "released_on": "2023-02-10"},
                _box(X0, Y0, X0 + dx / 3, Y0 + dy),
            ),
            _f(
                "web-R-2",
                {"activity_id": ts, "release_type": "reduced", "released_on": "2023-05-15"},
                _box(X0 + dx / 3, Y0, X0 + 2 * dx / 3, Y0 + dy),
            ),
            _f(
                "web-R-3",
                {"activity_id": clr, "release_type": "cleared", "released_on": "2023-09-30"},
                _box(X0 + 2 * dx / 3, Y0, X0 + dx, Y0 + dy / 2),
            ),
        ],
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LayersSite]:

    from demine.api.app import create_app
    from demine.demo import build_demo_store
    from demine.demo.casualties import demo_casualties
    from demine.store.gpkg import GeoPackageStore

    tmp = tmp_path_factory.mktemp("web_layers")
    db = tmp / "demo.gpkg"
    build_demo_store(db)
    store = GeoPackageStore(db)
    try:
        demo_casualties(store, 7)
        _land_release(store, tmp)
        acc = next(iter(store.list("accidents")))
        ses = next(iter(store.list("eore_sessions")))
    finally:
        store.close()
    accident = {
        "id": acc.id,
        "lon": acc.geometry.x,
        "lat": acc.geometry.y,
        "occurred_at": acc.properties["occurred_at"],
    }
    session = {"id": ses.id, "lon": ses.geometry.x, "lat": ses.geometry.y}

    with serve(create_app(str(db))) as url:
        yield LayersSite(url, db, (X0 + 0.0135, Y0 + 0.009), accident, session)


@pytest.fixture
def page(browser: Any, site: LayersSite) -> Iterator[Page]:
    p = Page(browser, site)  # type: ignore[arg-type]
    yield p
    p.close()


def _rendered(p: Page, layer: str, prop: str = "id") -> list[Any]:
    out: list[Any] = p.page.evaluate(
        f"(() => {{ const m = window.demine.map; if (!m.getLayer('{layer}')) return [];"
        f" return m.queryRenderedFeatures({{layers: ['{layer}']}})"
        f".map(f => f.properties['{prop}']); }})()"
    )
    return out


def test_layers_render_and_toggle(page: Page, site: LayersSite) -> None:
    pg = page.open()
    card = pg.locator("#layers-card")
    assert card.is_visible()
    groups = pg.evaluate("Object.keys(window.demine.recordLayers)")
    assert set(groups) == {"releases", "activities", "accidents", "eore"}
    assert pg.inner_text("#layers-heading") == "Layers"
    # for the public only hazards and reports are on at first (issue 15): tick the rest
    for group in ("releases", "activities", "accidents", "eore"):
        assert not pg.is_checked(f"#layer-toggle-{group}")
        pg.click(f"#layer-toggle-{group}")

    # the worked hazard: three kinds of released land and the ongoing worksite
    lon, lat = site.hazard
    _jump(page, lat, lon, 13)
    assert set(_rendered(page, "releases-fill", "release_type")) == {
        "cancelled",
        "reduced",
        "cleared",
    }
    assert set(_rendered(page, "activities-line", "status")) == {"ongoing"}
    page.shot("layers-release")

    # an accident: drawn, with no personal data or casualty figure in the tile
    a = site.accident
    _jump(page, a["lat"], a["lon"], 12)
    assert a["id"] in _rendered(page, "accidents-points")
    keys = pg.evaluate(
        "(() => window.demine.map.queryRenderedFeatures({layers: ['accidents-points']})"
        ".flatMap(f => Object.keys(f.properties)))()"
    )
    assert {"occurred_at", "accident_type"} <= set(keys)
    assert not set(keys) & {"name", "contact", "killed", "injured", "victims", "description"}

    # toggled off and on from the legend
    pg.click("#layer-toggle-accidents")
    page.idle()
    assert _rendered(page, "accidents-points") == []
    assert (
        pg.evaluate("window.demine.map.getLayoutProperty('accidents-points', 'visibility')")
        == "none"
    )
    pg.click("#layer-toggle-accidents")
    page.idle()
    assert a["id"] in _rendered(page, "accidents-points")

    s = site.session
    _jump(page, s["lat"], s["lon"], 12)
    assert s["id"] in _rendered(page, "eore-points")
    pg.click("#layer-toggle-eore")
    page.idle()
    assert _rendered(page, "eore-points") == []


def test_accident_popup_and_ukrainian(page: Page, site: LayersSite) -> None:
    pg = page.open()
    pg.click("#layer-toggle-accidents")  # off at first for the public (issue 15)
    a = site.accident
    _jump(page, a["lat"], a["lon"], 14)
    _click_lonlat(page, a["lon"], a["lat"])
    popup = pg.locator(".maplibregl-popup-content")
    popup.wait_for(timeout=10_000)
    text = popup.inner_text()
    assert "Explosive-ordnance accident" in text
    assert a["occurred_at"][:10] in text
    assert "SYNTHETIC person" not in text
    page.shot("layers-accident-popup")
    pg.click(".lang-btn[data-lang='uk']")
    wait_for(pg, "document.documentElement.lang === 'uk'")
    assert pg.inner_text("#layers-heading") == "Шари"
    assert "Вивільнені території" in pg.inner_text("#layers-list")  # ДСТУ 8820
