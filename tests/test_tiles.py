"""Vector tiles over the SYNTHETIC demo store: content, access rules, range checks, caching."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

MVT = "application/vnd.mapbox-vector-tile"


@dataclass
class Demo:
    client: TestClient
    analyst: dict[str, str]  # the Authorization header of an analyst
    hazard: Any  # an open demo hazard (Record)
    emplacement: Any  # a demo emplacement record (Record)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    from demine.api.app import create_app
    from demine.demo import build_demo_store
    from demine.services.access import new_token
    from demine.store.gpkg import GeoPackageStore

    db: Path = tmp_path_factory.mktemp("tiles") / "demo.gpkg"
    build_demo_store(db)
    store = GeoPackageStore(db)
    try:
        store.add_user("ana", "analyst")
        token, token_hash = new_token()
        store.add_token("ana", token_hash)
        hazard = next(r for r in store.list("hazards") if r.properties["status"] == "open")
        emplacement = next(iter(store.list("emplacements")))
    finally:
        store.close()
    with TestClient(create_app(str(db))) as client:
        yield Demo(client, {"Authorization": f"Bearer {token}"}, hazard, emplacement)


def decode(content: bytes) -> dict[str, Any]:
    out: dict[str, Any] = mapbox_vector_tile.decode(content)
    return out


def ids(layer: dict[str, Any]) -> set[str]:
    return {f["properties"]["id"] for f in layer["features"]}


@pytest.mark.parametrize("z", [4, 9, 14, 18])
def test_tile_over_a_hazard_holds_it(demo: Demo, z: int) -> None:
    p = demo.hazard.geometry.representative_point()
    x, y = tile_of(p.x, p.y, z)
    r = demo.client.get(f"/tiles/hazards/{z}/{x}/{y}.mvt")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MVT
    assert r.headers["etag"]
    assert "max-age" in r.headers["cache-control"]
    layers = decode(r.content)
    assert set(layers) == {"hazards"}
    assert layers["hazards"]["extent"] == 4096
    assert demo.hazard.id in ids(layers["hazards"])
    f = next(f for f in layers["hazards"]["features"] if f["properties"]["id"] == demo.hazard.id)
    assert f["properties"]["hazard_type"] == demo.hazard.properties["hazard_type"]
    assert f["properties"]["status"] == "open"


def test_a_tile_is_sent_compressed_and_revalidated(demo: Demo) -> None:
    """A phone on a slow link (issue 15): gzip when accepted, and a 304 on the tile's tag."""
    import gzip

    p = demo.hazard.geometry.representative_point()
    x, y = tile_of(p.x, p.y, 9)
    url = f"/tiles/hazards/9/{x}/{y}.mvt"
    with demo.client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as r:
        sent = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"] and "Authorization" in r.headers["vary"]
    assert demo.hazard.id in ids(decode(gzip.decompress(sent))["hazards"])
    again = demo.client.get(url, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_polygon_geometry_lands_where_the_hazard_is(demo: Demo) -> None:
    """At a high zoom the decoded polygon, mapped back to lon/lat, covers the hazard's point."""
    import shapely
    from shapely.geometry import Point, shape

    z = 16
    p = demo.hazard.geometry.representative_point()
    x, y = tile_of(p.x, p.y, z)
    layers = decode(demo.client.get(f"/tiles/hazards/{z}/{x}/{y}.mvt").content)
    f = next(f for f in layers["hazards"]["features"] if f["properties"]["id"] == demo.hazard.id)
    assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    g = shape(f["geometry"])  # tile units, y up (the decoder flips y)
    n = 2.0**z

    def to_lonlat(c: Any) -> Any:
        lon = (x + c[:, 0] / 4096.0) / n * 360.0 - 180.0
        ty = y + (1.0 - c[:, 1] / 4096.0)
        lat = [math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v / n)))) for v in ty]
        return list(zip(lon, lat, strict=True))

    import numpy as np

    back = shapely.transform(g, lambda c: np.asarray(to_lonlat(c)))
    assert back.buffer(1e-4).contains(Point(p.x, p.y))


def test_far_tile_is_empty(demo: Demo) -> None:
    x, y = tile_of(-120.0, 40.0, 8)  # North America: no demo data
    r = demo.client.get(f"/tiles/hazards/8/{x}/{y}.mvt")
    assert r.status_code == 204
    assert r.content == b""
    assert decode(r.content) == {}


def test_restricted_fields_by_role(demo: Demo) -> None:
    e = demo.emplacement
    p = e.geometry.representative_point()
    x, y = tile_of(p.x, p.y, 12)
    url = f"/tiles/emplacements/12/{x}/{y}.mvt"
    r = demo.client.get(url)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = demo.client.get(url, headers=demo.analyst)
    assert r.status_code == 200
    assert "private" in r.headers["cache-control"]
    layer = decode(r.content)["emplacements"]
    f = next(f for f in layer["features"] if f["properties"]["id"] == e.id)
    assert f["properties"]["quantity"] == pytest.approx(e.properties["quantity"])


def test_eo_reports_hide_reporter_contacts_from_the_public(demo: Demo) -> None:
    from demine.store.gpkg import GeoPackageStore

    store = GeoPackageStore(Path(demo.client.app.state.stores.location))  # type: ignore[attr-defined]
    try:
        reports = [r for r in store.list("eo_reports") if r.properties.get("public")]
    finally:
        store.close()
    rep = reports[0]
    x, y = tile_of(rep.geometry.x, rep.geometry.y, 10)
    public = decode(demo.client.get(f"/tiles/eo_reports/10/{x}/{y}.mvt").content)
    f = next(f for f in public["eo_reports"]["features"] if f["properties"]["id"] == rep.id)
    assert "reporter_contact" not in f["properties"]
    assert "reporter_name" not in f["properties"]
    if rep.properties.get("reporter_contact"):
        full = decode(
            demo.client.get(f"/tiles/eo_reports/10/{x}/{y}.mvt", headers=demo.analyst).content
        )
        g = next(g for g in full["eo_reports"]["features"] if g["properties"]["id"] == rep.id)
        assert g["properties"]["reporter_contact"] == rep.properties["reporter_contact"]


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/hazards/23/0/0.mvt",  # zoom above 22
        "/tiles/hazards/-1/0/0.mvt",
        "/tiles/hazards/2/4/0.mvt",  # x outside 0..3
        "/tiles/hazards/2/0/4.mvt",  # y outside 0..3
        "/tiles/hazards/2/0/-1.mvt",
        "/tiles/hazards/a/0/0.mvt",
        "/tiles/hazards/2/0/b.mvt",
    ],
)
def test_bad_tile_coordinates(demo: Demo, path: str) -> None:
    r = demo.client.get(path)
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 400


def test_unknown_collection_is_404(demo: Demo) -> None:
    r = demo.client.get("/tiles/nothing/0/0/0.mvt")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_etag_revalidation(demo: Demo) -> None:
    r = demo.client.get("/tiles/hazards/0/0/0.mvt")
    assert r.status_code == 200
    again = demo.client.get(
        "/tiles/hazards/0/0/0.mvt", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_small_hazards_also_come_as_points_when_zoomed_out(demo: Demo) -> None:
    layers = decode(demo.client.get("/tiles/hazards/0/0/0.mvt").content)
    points = [f for f in layers["hazards"]["features"] if f["geometry"]["type"] == "Point"]
    assert points and all(f["properties"]["tiny"] for f in points)
    assert demo.hazard.id in {f["properties"]["id"] for f in points}


def test_tilejson(demo: Demo) -> None:
    tj = demo.client.get("/tiles/hazards/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].endswith("/tiles/hazards/{z}/{x}/{y}.mvt")
    assert tj["vector_layers"][0]["id"] == "hazards"
    assert demo.client.get("/tiles/emplacements/tilejson.json").status_code == 404
    tj = demo.client.get("/tiles/emplacements/tilejson.json", headers=demo.analyst).json()
    assert "quantity" in tj["vector_layers"][0]["fields"]
    public_eo = demo.client.get("/tiles/eo_reports/tilejson.json").json()
    assert "reporter_contact" not in public_eo["vector_layers"][0]["fields"]


def test_map_endpoints(demo: Demo) -> None:
    c = demo.client
    cfg = c.get("/api/v1/map/config").json()
    assert cfg["synthetic"] is True and cfg["notice"] and cfg["notice_uk"]
    assert cfg["tile_url"] is None
    ids = [x["id"] for x in cfg["collections"]]
    assert ids[:6] == [
        "hazards",
        "eo_reports",
        "activities",
        "releases",
        "accidents",
        "eore_sessions",
    ]
    assert "emplacements" not in ids and "victims" not in ids and "finds" not in ids
    assert set(ids[6:]) >= {"settlements", "roads", "schools", "farmland"}  # reference layers
    assert "emplacements" in [
        x["id"] for x in c.get("/api/v1/map/config", headers=demo.analyst).json()["collections"]
    ]
    risk = c.get("/api/v1/map/risk").json()
    assert demo.hazard.id in risk["hazards"]
    assert any(not v["known"] for v in risk["hazards"].values())
    assert all("expected_live" not in v for v in risk["hazards"].values())
    d = c.get(f"/api/v1/map/hazards/{demo.hazard.id}").json()
    assert d["properties"]["name"] == demo.hazard.properties["name"]
    assert d["risk"]["date"] == risk["date"]
    assert not any(": quantity " in a for a in d["risk"]["assumptions"])  # analysts only
    assert "emplacement_records" not in d["risk"]
    full = c.get(f"/api/v1/map/hazards/{demo.hazard.id}", headers=demo.analyst).json()
    if full["risk"]["known"]:
        assert "expected_live" in full["risk"]["estimate"]
    assert c.get("/api/v1/map/hazards/nope").status_code == 404
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    js = c.get("/static/vendor/maplibre-gl/maplibre-gl.mjs")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert c.get("/static/../api/tiles.py").status_code == 404
    assert c.get("/static/%2e%2e/api/tiles.py").status_code == 404
    regions = c.get("/api/v1/map/regions").json()
    assert regions["type"] == "FeatureCollection" and len(regions["features"]) > 20


def test_every_demo_tile_encodes(tmp_path: Path) -> None:
    """A sweep over the demo area at zooms 3-12: every tile builds and encodes (a bug once
    broke the tiles holding exactly one visible hazard)."""
    import math

    from demine.api.tiles import encode_tile, tile_features
    from demine.demo import build_demo_store
    from demine.store.gpkg import GeoPackageStore

    build_demo_store(tmp_path / "sweep.gpkg")
    s = GeoPackageStore(tmp_path / "sweep.gpkg")

    def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
        n = 2**z
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
        return int((lon + 180) / 360 * n), int(y)

    total = 0
    for name in ("hazards", "eo_reports"):
        kind = s.kind(name)
        for z in range(3, 13):
            (x0, y0), (x1, y1) = tile_of(30, 53, z), tile_of(41, 44, z)
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    if (x1 - x0 + 1) * (y1 - y0 + 1) > 400 and (x + y) % 7:
                        continue
                    feats = tile_features(s, kind, "public", z, x, y)
                    encode_tile(name, feats)
                    total += len(feats)
    assert total > 100
    s.close()
