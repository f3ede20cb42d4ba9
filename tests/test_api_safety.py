"""The public safety API and API tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod
from typer.testing import CliRunner

from demine.api import create_app
from demine.cli.app import app as cli
from demine.ids import uuid7
from demine.model.schema import Record

GEOD = Geod(ellps="WGS84")
BOX = shapely.box(37.50, 48.00, 37.52, 48.012)


@pytest.fixture
def api(store: Any) -> Any:
    near = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "box"},
        shapely.MultiPolygon([BOX]),
    )
    closed = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "closed", "closed_on": "2025-01-01", "name": "released"},
        shapely.MultiPolygon([shapely.box(37.6, 48.0, 37.61, 48.01)]),
    )
    store.upsert("hazards", [near, closed], actor="t")
    store.close()
    client = TestClient(create_app(store.location, rate_limit_per_minute=1000))
    return client, near, store


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"]
    return body


def test_point_inside_and_outside(api: Any) -> None:
    client, near, _ = api
    r = client.get("/api/v1/safety/point", params={"lat": 48.006, "lon": 37.51, "radius": 100})
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    body = r.json()
    assert body["warning_level"] == "inside"
    assert body["hazards"][0]["id"] == near.id and body["hazards"][0]["distance_m"] == 0
    assert "not" in body["notice"] and body["notice_uk"]
    lon, lat, _ = GEOD.fwd(37.52, 48.006, 90.0, 1000.0)
    far = client.get("/api/v1/safety/point", params={"lat": lat, "lon": lon, "radius": 500})
    assert far.json()["hazards"] == [] and far.json()["warning_level"] == "none"
    assert "not proof" in far.json()["message"]
    mid = client.get("/api/v1/safety/point", params={"lat": lat, "lon": lon, "radius": 2000})
    (hit,) = mid.json()["hazards"]
    assert hit["distance_m"] == pytest.approx(1000.0, rel=0.005)
    assert mid.json()["warning_level"] == "caution"
    # closed hazards (released land) are not warned about
    r2 = client.get("/api/v1/safety/point", params={"lat": 48.005, "lon": 37.605, "radius": 10})
    assert r2.json()["hazards"] == []


def test_route(api: Any) -> None:
    client, near, _ = api
    through = {
        "route": {"type": "LineString", "coordinates": [[37.49, 48.006], [37.53, 48.006]]},
        "radius": 50,
    }
    body = client.post("/api/v1/safety/route", json=through).json()
    assert [h["id"] for h in body["hazards"]] == [near.id]
    assert body["hazards"][0]["distance_m"] == 0 and body["warning_level"] == "inside"
    # a route parallel to the box's north edge, 800 m north of it
    _, lat_n, _ = GEOD.fwd(37.51, 48.012, 0.0, 800.0)
    line = [[37.45, lat_n], [37.58, lat_n]]
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "LineString", "coordinates": line},
    }
    body = client.post("/api/v1/safety/route", json={"route": feature, "radius": 1000}).json()
    (hit,) = body["hazards"]
    xs = np.linspace(37.50, 37.52, 400)
    _, _, d = GEOD.inv(xs, np.full(400, 48.012), xs, np.full(400, lat_n))
    assert hit["distance_m"] == pytest.approx(float(d.min()), rel=0.005)
    none = client.post("/api/v1/safety/route", json={"route": feature, "radius": 500}).json()
    assert none["hazards"] == [] and none["warning_level"] == "none"


def test_bad_input_is_problem_json(api: Any) -> None:
    client, _, _ = api
    b = _problem(client.get("/api/v1/safety/point", params={"lat": 148, "lon": 37}), 400)
    assert b["errors"][0]["field"].endswith("lat")
    b = _problem(
        client.post(
            "/api/v1/safety/route", json={"route": {"type": "Point", "coordinates": [1, 2]}}
        ),
        422,
    )
    assert b["errors"][0]["field"] == "route"
    b = _problem(
        client.post(
            "/api/v1/safety/route",
            json={"route": {"type": "LineString", "coordinates": [[37, 48], [37, 200]]}},
        ),
        422,
    )
    assert b["errors"][0]["field"] == "route.coordinates[1]"
    b = _problem(
        client.post(
            "/api/v1/safety/route",
            json={
                "route": {"type": "LineString", "coordinates": [[37, 48], [37.1, 48]]},
                "radius": -1,
            },
        ),
        422,
    )
    assert b["errors"][0]["field"] == "radius"


def test_rate_limit(store: Any) -> None:
    store.close()
    client = TestClient(create_app(store.location, rate_limit_per_minute=3))
    codes = [
        client.get("/api/v1/safety/point", params={"lat": 48, "lon": 37}).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    b = _problem(client.get("/api/v1/safety/point", params={"lat": 48, "lon": 37}), 429)
    assert "a minute" in b["detail"]


def test_users_and_tokens_from_the_cli(tmp_path: Path) -> None:
    from demine.api.deps import principal  # noqa: F401  (the dependency under test)

    db = str(tmp_path / "t.gpkg")
    run = CliRunner().invoke
    assert run(cli, ["--db", db, "init"]).exit_code == 0
    r = run(
        cli, ["--db", db, "--role", "admin", "user", "add", "olena", "--role", "analyst", "--json"]
    )
    assert json.loads(r.stdout) == {"user": "olena", "role": "analyst", "organisation": "AUTHORITY"}
    r = run(cli, ["--db", db, "--role", "admin", "user", "add", "x", "--role", "king"])
    assert r.exit_code == 1 and "unknown role" in r.output
    r = run(cli, ["--db", db, "--role", "admin", "token", "create", "olena", "--json"])
    token = json.loads(r.stdout)["token"]
    assert token.startswith("dm_") and len(token) > 40
    assert run(cli, ["--db", db, "--role", "admin", "token", "create", "nobody"]).exit_code == 3
    raw = Path(db).read_bytes()
    assert token.encode() not in raw  # only the hash is stored

    client = TestClient(create_app(db))
    who = client.app.state.stores.get().token_user  # type: ignore[attr-defined]
    from demine.services.access import hash_token

    assert who(hash_token(token)) == ("olena", "analyst")
    bad = client.get("/ogc/collections", headers={"Authorization": "Bearer nope"})
    b = _problem(bad, 401)
    assert bad.headers["www-authenticate"] == "Bearer" and "token" in b["detail"]
    r = run(cli, ["--db", db, "--role", "admin", "token", "revoke", "--user", "olena", "--json"])
    assert json.loads(r.stdout)["revoked"] == 1
    assert who(hash_token(token)) is None
