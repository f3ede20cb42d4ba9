"""`demine check`: hazards within a radius of a place, nearest first, geodesic distances."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import ValidationError
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.safety import check_point

GEOD = Geod(ellps="WGS84")
BOX = shapely.box(37.50, 48.00, 37.52, 48.012)  # about 1.5 km x 1.3 km


def _truth(lon: float, lat: float, geom: Any) -> float:
    """Brute force: the geodesic distance to the boundary densified to about 0.5 m."""
    ring = shapely.segmentize(geom.exterior, 0.000005)
    xy = shapely.get_coordinates(ring)
    _, _, d = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    return float(np.min(d))


@pytest.fixture
def one_hazard(store: Any) -> Any:
    near = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "box"},
        shapely.MultiPolygon([BOX]),
    )
    far = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "open", "name": "far"},
        shapely.MultiPolygon([shapely.box(38.5, 49.0, 38.51, 49.01)]),
    )
    store.upsert("hazards", [near, far], actor="t")
    return store, near


def test_inside_is_zero(one_hazard: Any) -> None:
    store, near = one_hazard
    hits = check_point(store, 48.006, 37.51, 100)
    assert [h.record.id for h in hits] == [near.id]
    assert hits[0].distance_m == 0.0


@pytest.mark.parametrize(
    "azimuth,start", [(90.0, (37.52, 48.006)), (0.0, (37.51, 48.012)), (225.0, (37.50, 48.00))]
)
def test_one_km_outside(one_hazard: Any, azimuth: float, start: tuple[float, float]) -> None:
    store, near = one_hazard
    lon, lat, _ = GEOD.fwd(start[0], start[1], azimuth, 1000.0)
    truth = _truth(lon, lat, BOX)
    assert 990 < truth <= 1000.01
    assert check_point(store, lat, lon, 500) == []
    hits = check_point(store, lat, lon, 2000)
    assert [h.record.id for h in hits] == [near.id]
    assert hits[0].distance_m == pytest.approx(truth, rel=0.005)


def test_nearest_first_and_closed_hazards_left_out(store: Any) -> None:
    a = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "open", "name": "a"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.001, 48.001)]),
    )
    b = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "open", "name": "b"},
        shapely.MultiPolygon([shapely.box(37.003, 48.0, 37.004, 48.001)]),
    )
    c = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "closed", "name": "c", "closed_on": "2025-01-01"},
        shapely.MultiPolygon([shapely.box(37.0015, 48.0, 37.0025, 48.001)]),
    )
    store.upsert("hazards", [b, a, c], actor="t")
    hits = check_point(store, 48.0005, 36.999, 1000)
    assert [h.record.properties["name"] for h in hits] == ["a", "b"]
    assert hits[0].distance_m < hits[1].distance_m
    with_closed = check_point(store, 48.0005, 36.999, 1000, include_closed=True)
    assert [h.record.properties["name"] for h in with_closed] == ["a", "c", "b"]


def test_bad_input_is_named(store: Any) -> None:
    with pytest.raises(ValidationError) as e:
        check_point(store, 137.5, 48.0, 100)
    assert any("swapped" in f.reason for f in e.value.faults)
    with pytest.raises(ValidationError) as e2:
        check_point(store, 48.0, 37.0, -5)
    assert e2.value.faults[0].field == "--radius"


def test_cli_check_json(one_hazard: Any) -> None:
    store, near = one_hazard
    store.close()
    lon, lat, _ = GEOD.fwd(37.52, 48.006, 90.0, 1000.0)
    runner = CliRunner()
    db = store.location
    r = runner.invoke(app, ["--db", db, "check", str(lat), str(lon), "--radius", "500", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["hazards"] == []
    r = runner.invoke(app, ["check", str(lat), str(lon), "--radius", "2000", "--json", "--db", db])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [h["id"] for h in out["hazards"]] == [near.id]
    assert out["hazards"][0]["distance_m"] == pytest.approx(_truth(lon, lat, BOX), rel=0.005)
    r = runner.invoke(app, ["--db", db, "check", "48.006", "37.51", "--json"])
    assert json.loads(r.stdout)["hazards"][0]["distance_m"] == 0


def test_cli_check_without_store(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["--db", str(tmp_path / "none.gpkg"), "check", "48", "37"])
    assert r.exit_code == 3
    assert "demine init" in r.output


def test_numpy_scalars_are_accepted(one_hazard: Any) -> None:
    """Library callers pass numpy floats (a bug once made PROJ reject them)."""
    store, near = one_hazard
    lon, lat, _ = GEOD.fwd(37.52, 48.006, 90.0, 1000.0)
    hits = check_point(store, np.float64(lat), np.float64(lon), np.float64(2000.0))
    assert [h.record.id for h in hits] == [near.id]
    assert hits[0].distance_m == pytest.approx(_truth(lon, lat, BOX), rel=0.005)


def test_batch_lookup_agrees_with_single_checks(store: Any) -> None:
    from demine.services.safety import HazardIndex

    rng = np.random.default_rng(5)
    recs = []
    for i in range(40):
        x, y = rng.uniform(37, 37.2), rng.uniform(48, 48.2)
        recs.append(
            Record(
                "hazards",
                uuid7(),
                {"hazard_type": "SHA", "status": "open", "name": str(i)},
                shapely.MultiPolygon([shapely.box(x, y, x + 0.004, y + 0.003)]),
            )
        )
    store.upsert("hazards", recs, actor="t")
    idx = HazardIndex.from_store(store)
    lons, lats = rng.uniform(36.99, 37.21, 300), rng.uniform(47.99, 48.21, 300)
    pi, hi, d = idx.within(lons, lats, 300.0)
    batch = {(int(p), idx.records[int(h)].id): float(x) for p, h, x in zip(pi, hi, d, strict=True)}
    single = {}
    for p in range(300):
        for hit in check_point(store, float(lats[p]), float(lons[p]), 300.0):
            single[(p, hit.record.id)] = hit.distance_m
    assert batch.keys() == single.keys() and len(batch) > 20
    for key, dist in batch.items():
        assert dist == pytest.approx(single[key], rel=0.005, abs=0.5)
    # within the coverage grid's 100 m: the grid answers, as the exact path does
    got, exact = idx.within(lons, lats, 100.0), idx.within(lons, lats, 100.0, exact=True)
    assert len(got[0]) > 5 and all(np.array_equal(a, b) for a, b in zip(got, exact, strict=True))


def test_cli_check_gives_the_safety_apis_answer(one_hazard: Any) -> None:
    """`demine check --json` and GET /api/v1/safety/point tell the same: the warning level
    (inside, danger, caution, none), the messages and the notice, on both backends."""
    from fastapi.testclient import TestClient

    from demine.api.app import create_app

    store, near = one_hazard
    store.close()
    db = store.location
    client = TestClient(create_app(db))
    lon_near, lat_near, _ = GEOD.fwd(37.52, 48.006, 90.0, 50.0)  # 50 m east of the box
    lon_far, lat_far, _ = GEOD.fwd(37.52, 48.006, 90.0, 1000.0)
    cases = [
        (48.006, 37.51, 500.0, "inside"),
        (lat_near, lon_near, 500.0, "danger"),
        (lat_far, lon_far, 2000.0, "caution"),
        (lat_far, lon_far, 500.0, "none"),
    ]
    for lat, lon, radius, level in cases:
        r = CliRunner().invoke(
            app, ["--db", db, "check", str(lat), str(lon), "--radius", str(radius), "--json"]
        )
        assert r.exit_code == 0, r.output
        cli = json.loads(r.stdout)
        http = client.get(
            "/api/v1/safety/point", params={"lat": lat, "lon": lon, "radius": radius}
        ).json()
        assert cli["warning_level"] == http["warning_level"] == level
        for k in ("message", "message_uk", "notice", "notice_uk", "radius_m"):
            assert cli[k] == http[k], k
        # the words of docs/terminology.md: «небезпечна територія», and whom to call
        assert "територ" in http["message_uk"] and "зон" not in http["message_uk"]
        assert "телефонуйте 101" in http["notice_uk"] and "call 101" in http["notice"]
        if level == "inside":
            assert "телефонуйте 101" in http["message_uk"] and "call 101" in http["message"]
            assert "повідомте" not in http["message_uk"]
        assert [h["warning_level"] for h in cli["hazards"]] == [
            h["warning_level"] for h in http["hazards"]
        ]
    r = CliRunner().invoke(app, ["--db", db, "check", "48.006", "37.51"])
    assert r.exit_code == 0 and "INSIDE" in r.output and "Stop." in r.output
