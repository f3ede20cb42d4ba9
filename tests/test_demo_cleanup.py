"""The demo shows the cleanup, through the faces a user meets: `demine demo`, then the CLI and
the HTTP API on the demo store: activities, land release, closed and handed-over hazards,
accidents (with victims kept private), risk education, statistics and priorities."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api.app import create_app
from demine.cli.app import app


def _cli(*args: str) -> Any:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return orjson.loads(r.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    db = str(tmp_path_factory.mktemp("demo_cleanup") / "demo.gpkg")
    info = _cli("demo", "--no-serve", "--db", db, "--json")
    yield db, info


def test_demo_records(demo: tuple[str, dict[str, Any]]) -> None:
    db, info = demo
    c = info["counts"]
    for kind in ("activities", "releases", "accidents", "victims", "eore_sessions"):
        assert c[kind] > 10, kind
    acts = _cli("--db", db, "list", "activities", "--json")["records"]
    assert {a["properties"]["status"] for a in acts} == {"planned", "ongoing", "completed"}
    rels = _cli("--db", db, "list", "releases", "--json")["records"]
    assert {r["properties"]["release_type"] for r in rels} == {"cancelled", "reduced", "cleared"}
    # a hazard closed through land release, and one handed over, each with its account
    rel = info["cleanup"]["release"]
    assert rel["closed"] and rel["handed_over"]
    for hid in rel["closed"]:
        st = _cli("--db", db, "release", "status", hid, "--json")
        assert st["status"] in ("closed", "handed_over")
        assert st["remaining_m2"] <= 0.5 and st["released_m2"] > 0
    r = CliRunner().invoke(app, ["--db", db, "release", "certificate", rel["handed_over"][0]])
    assert r.exit_code == 0 and "SYNTHETIC" in r.stdout and "Land release certificate" in r.stdout


def test_demo_statistics_and_priorities(demo: tuple[str, dict[str, Any]]) -> None:
    db, _ = demo
    st = _cli("--db", db, "--role", "public", "stats", "--json")
    assert st["synthetic"] is True
    assert st["released_m2"] == st["cancelled_m2"] + st["reduced_m2"] + st["cleared_m2"] > 0
    assert min(st["cancelled_m2"], st["reduced_m2"], st["cleared_m2"]) > 0
    assert st["accidents"]["total"] > 0 and st["eore"]
    assert st["casualties"]["exact"] is False  # the public sees aggregates only
    ranked = _cli("--db", db, "prioritize", "--top", "5", "--json")
    assert len(ranked) == 5 and [x["rank"] for x in ranked] == [1, 2, 3, 4, 5]
    for x in ranked:
        assert x["score"] == pytest.approx(sum(f["contribution"] for f in x["factors"]), abs=1e-5)
        pop = next(f for f in x["factors"] if f["name"] == "population")
        assert not pop["fallback"]  # the demo's synthetic population raster is used


def test_demo_on_the_web(demo: tuple[str, dict[str, Any]]) -> None:
    db, _ = demo
    with TestClient(create_app(db)) as client:
        cfg = client.get("/api/v1/map/config").json()
        ids = {x["id"] for x in cfg["collections"]}
        assert {"activities", "releases", "accidents", "eore_sessions"} <= ids
        assert "victims" not in ids
        st = client.get("/api/v1/stats").json()
        assert st["synthetic"] is True and st["released_m2"] > 0
        svg = client.get("/api/v1/stats/chart/released.svg")
        assert svg.status_code == 200 and b"SYNTHETIC" in svg.content
        assert client.get("/ogc/collections/victims/items").status_code == 404
        closed = client.get(
            "/ogc/collections/hazards/items", params={"filter": "status <> 'open'"}
        ).json()["features"]
        assert closed and all(f["properties"]["status"] != "open" for f in closed)
