"""The CLI end to end: history and restore, demo, the installed entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import shapely
from typer.testing import CliRunner

from demine.cli.app import app

run = CliRunner().invoke


def _json(args: list[str], code: int = 0) -> Any:
    r = run(app, args)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def test_history_and_restore_through_the_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "s.gpkg")
    src = tmp_path / "h.geojson"
    src.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "H-1",
                        "properties": {"hazard_type": "SHA", "status": "open", "name": "orchard"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[37, 48], [37.01, 48], [37.01, 48.01], [37, 48]]],
                        },
                    }
                ],
            }
        )
    )
    assert run(app, ["--db", db, "init"]).exit_code == 0
    _json(["--db", db, "import", str(src), "--kind", "hazards", "--json"])
    (rec,) = _json(["--db", db, "list", "hazards", "--json"])["records"]
    rid = rec["id"]
    assert (
        _json(
            [
                "--db",
                db,
                "update",
                rid,
                "hazard_type=CHA",
                "evidence=mine seen",
                "--reason",
                "survey",
                "--json",
            ]
        )["revision"]
        == 2
    )
    r = run(app, ["--db", db, "update", rid, "name=x", "--if-revision", "1"])
    assert r.exit_code == 4 and "someone changed it" in r.output
    _json(["--db", db, "delete", rid, "--reason", "duplicate", "--json"])
    r = run(app, ["--db", db, "show", rid])
    assert r.exit_code == 3 and "was deleted at revision 3" in r.output
    h = _json(["--db", db, "history", rid, "--json"])
    assert [x["op"] for x in h["revisions"]] == ["create", "update", "delete"]
    assert h["revisions"][1]["before"]["properties"]["hazard_type"] == "SHA"
    assert h["revisions"][1]["after"]["properties"]["hazard_type"] == "CHA"
    assert h["revisions"][1]["reason"] == "survey"
    assert h["revisions"][2]["after"] is None
    back = _json(["--db", db, "restore", rid, "--revision", "1", "--json"])
    assert back["revision"] == 4 and back["properties"]["hazard_type"] == "SHA"
    shown = _json(["--db", db, "show", rid, "--json"])
    assert shown["properties"]["name"] == "orchard" and shown["geometry"]["type"] == "MultiPolygon"
    r = run(app, ["--db", db, "history", rid])
    assert r.exit_code == 0 and "restore" in r.output


def test_demo_builds_labelled_synthetic_data(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.gpkg")
    info = _json(["demo", "--db", db, "--no-serve", "--json"])
    assert info["synthetic"] is True and "SYNTHETIC" in info["notice"]
    assert all(info["counts"][k] > 0 for k in ("hazards", "emplacements", "finds", "eo_reports"))
    # the cleared demo field teaches the model: its finds update apii-limit's failure rates
    learned = {(x["device_type"], x["parameter"]) for x in info["learned"]}
    assert ("apii-limit", "deact_fail") in learned
    listed = _json(["--db", db, "list", "hazards", "--json"])
    assert listed["synthetic"] is True
    assert all(r["geometry"]["coordinates"][0][0][0][0] > 30 for r in listed["records"])  # east
    r = run(app, ["--db", db, "list", "hazards"])
    assert "SYNTHETIC" in r.output
    # a hazard's own point is inside it, and the answer carries the synthetic flag
    hz = listed["records"][0]
    rp = shapely.from_geojson(json.dumps(hz["geometry"])).representative_point()
    out = _json(["--db", db, "check", str(rp.y), str(rp.x), "--json"])
    assert out["synthetic"] is True and out["hazards"][0]["distance_m"] == 0
    # emplacements were linked to their hazards
    em = _json(["--db", db, "list", "emplacements", "--json"])["records"]
    assert all(e["properties"].get("hazard_id") for e in em)
    # rebuilding the demo store is fine; writing demo data into a real store is refused
    _json(["demo", "--db", db, "--no-serve", "--json"])
    real = str(tmp_path / "real.gpkg")
    assert run(app, ["--db", real, "init"]).exit_code == 0
    r = run(app, ["demo", "--db", real, "--no-serve"])
    assert r.exit_code == 2 and "not a demo store" in r.output


def test_installed_entry_point(tmp_path: Path) -> None:
    exe = shutil.which("demine") or str(Path(__import__("sys").executable).parent / "demine")
    db = str(tmp_path / "e.gpkg")
    assert subprocess.run([exe, "--db", db, "init"], capture_output=True).returncode == 0
    r = subprocess.run(
        [exe, "--db", db, "check", "48", "37", "--json"], capture_output=True, text=True
    )
    assert r.returncode == 0 and json.loads(r.stdout)["hazards"] == []
    r = subprocess.run([exe, "--db", db, "show", "not-a-uuid"], capture_output=True, text=True)
    assert r.returncode == 1 and "not a record id" in r.stderr
    r = subprocess.run(
        [exe, "--db", str(tmp_path / "missing.gpkg"), "list", "hazards"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 3 and "demine init" in r.stderr
