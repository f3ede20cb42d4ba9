"""The demo data is labelled SYNTHETIC wherever it is shown: OGC API (QGIS shows collection
titles), safety answers, the map's config; a real store carries no such label."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from demine.api import create_app
from demine.demo import build_demo_store
from demine.services.setup import init_store
from demine.store.gpkg import GeoPackageStore


def test_demo_is_labelled_in_every_face(tmp_path: Path) -> None:
    build_demo_store(tmp_path / "demo.gpkg")
    c = TestClient(create_app(str(tmp_path / "demo.gpkg")))
    assert "SYNTHETIC" in c.get("/ogc/").json()["title"]
    cols = c.get("/ogc/collections").json()["collections"]
    assert cols and all("SYNTHETIC" in col["title"] for col in cols)
    assert all("SYNTHETIC" in col["description"] for col in cols)
    items = c.get("/ogc/collections/hazards/items", params={"limit": 3}).json()["features"]
    assert all("SYNTHETIC" in f["properties"]["name"] for f in items)
    safety = c.get("/api/v1/safety/point", params={"lat": 48.0, "lon": 37.8}).json()
    assert safety["synthetic"] is True
    assert c.get("/api/v1/map/config").json()["synthetic"] is True


def test_a_real_store_is_not_labelled(tmp_path: Path) -> None:
    s = GeoPackageStore(tmp_path / "real.gpkg")
    init_store(s)
    s.close()
    c = TestClient(create_app(str(tmp_path / "real.gpkg")))
    assert "SYNTHETIC" not in c.get("/ogc/").json()["title"]
    assert (
        c.get("/api/v1/safety/point", params={"lat": 48.0, "lon": 37.8}).json()["synthetic"]
        is False
    )
