"""Lenient GeoJSON reading (issue 12): foreign members (RFC 7946 §6.1) are warnings and ignored;
GeoJSON members where §7.1 forbids them are warnings by default and faults under --strict;
coordinates at most 1e-9° beyond ±180/±90 (rounding artefacts) are snapped with a warning.
The reader on its own, then `demine import` / `validate` on both store backends."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import Fault
from demine.io.geojson import read_geojson


def _poly(x: float, y: float, d: float = 0.01) -> list[list[list[float]]]:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def _hazard(i: int, geometry: dict[str, Any], **members: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "type": "Feature",
        "id": f"SHA-{i:04d}",
        "properties": {"hazard_type": "SHA", "status": "open", "name": f"H{i}"},
        "geometry": geometry,
    }
    f.update(members)
    return f


def _real_shaped() -> dict[str, Any]:
    """Shaped like what GIS tools and web services write: a "name", an exporter's "metadata"
    and a "properties" object at the top, a style member and a stray "coordinates" in a feature,
    an "extent" and a "properties" object inside a geometry."""
    return {
        "type": "FeatureCollection",
        "name": "survey_2024",
        "metadata": {"generated": "2024-05-01", "count": 3},
        "properties": {"exported_by": "field app 2.1"},
        "features": [
            _hazard(0, {"type": "Polygon", "coordinates": _poly(37.0, 48.0)}),
            _hazard(
                1,
                {"type": "Polygon", "coordinates": _poly(37.1, 48.0)},
                style={"stroke": "#f00"},
                coordinates=None,
            ),
            _hazard(
                2,
                {
                    "type": "Polygon",
                    "coordinates": _poly(37.2, 48.0),
                    "extent": [37.2, 48.0, 37.21, 48.01],
                    "properties": {},
                },
            ),
        ],
    }


# (feature index, field) of every warning the real-shaped file gives, and whether it is a
# misplaced GeoJSON member (§7.1: refused under --strict) or a foreign member (§6.1)
EXPECTED = {
    (None, "name"): "6.1",
    (None, "metadata"): "6.1",
    (None, "properties"): "7.1",
    (1, "style"): "6.1",
    (1, "coordinates"): "7.1",
    (2, "geometry.extent"): "6.1",
    (2, "geometry.properties"): "7.1",
}


def _all_warnings(pf: Any) -> list[Fault]:
    checks = pf.check_geometries()
    out = list(pf.warnings) + [w for f in pf.features for w in f.warnings]
    return out + [w for c in checks for w in c.warnings]


def test_foreign_and_misplaced_members_are_warnings_by_default() -> None:
    pf = read_geojson(json.dumps(_real_shaped()), source="survey.geojson")
    assert pf.ok
    warns = _all_warnings(pf)
    assert Counter((w.index, w.field) for w in warns) == Counter(list(EXPECTED))  # once each
    for w in warns:
        assert w.source == "survey.geojson"
        member = w.field.rsplit(".", 1)[-1] if w.field else ""
        assert f'"{member}"' in w.reason
        if w.index is not None:
            assert w.feature_id == f"SHA-{w.index:04d}"
        if EXPECTED[(w.index, w.field)] == "7.1":
            assert "must not contain" in w.reason and "§7.1" in w.reason
            assert "ignored (--strict refuses it)" in w.reason
        else:
            assert "foreign member" in w.reason and "§6.1" in w.reason and "ignored" in w.reason
    # ignored: not in the properties, and the geometries are the ones given
    assert all(set(f.properties) == {"hazard_type", "status", "name"} for f in pf.features)
    checks = pf.check_geometries()
    assert [c.geometry.geom_type for c in checks] == ["Polygon"] * 3


def test_strict_refuses_misplaced_members_naming_them() -> None:
    doc = _real_shaped()
    pf = read_geojson(json.dumps(doc), source="survey.geojson", strict=True)
    assert [(f.field, f.index) for f in pf.faults] == [("properties", None)]
    why = pf.faults[0].reason
    assert '"properties"' in why and "without --strict this is a warning" in why
    assert pf.features == []
    # the features' misplaced members, once the top level is sound
    del doc["properties"]
    pf = read_geojson(json.dumps(doc), source="survey.geojson", strict=True)
    assert not pf.faults
    checks = pf.check_geometries()
    faults = [f for ft in pf.features for f in ft.faults] + [f for c in checks for f in c.faults]
    assert sorted((f.index, f.field) for f in faults) == [
        (1, "coordinates"),
        (2, "geometry.properties"),
    ]
    for f in faults:
        assert "without --strict this is a warning" in f.reason and f.source == "survey.geojson"
    assert checks[0].geometry is not None and checks[2].geometry is None
    # foreign members (§6.1 allows them) stay warnings under --strict
    warns = _all_warnings(pf)
    assert {(w.index, w.field) for w in warns} == {k for k, v in EXPECTED.items() if v == "6.1"}


def test_members_of_a_geometry_collection_and_a_bare_feature() -> None:
    gc = {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [1, 2], "features": []},
            {"type": "Point", "coordinates": [3, 4], "srid": 4326},
        ],
    }
    doc = {"type": "Feature", "properties": {}, "geometry": gc, "links": []}
    pf = read_geojson(json.dumps(doc), source="one.geojson")
    warns = _all_warnings(pf)
    assert sorted((w.index, w.field) for w in warns) == [
        (0, "geometry.geometries[0].features"),
        (0, "geometry.geometries[1].srid"),
        (0, "links"),
    ]
    assert pf.check_geometries()[0].geometry is not None
    pf = read_geojson(json.dumps(doc), source="one.geojson", strict=True)
    (c,) = pf.check_geometries()
    assert [f.field for f in c.faults] == ["geometry.geometries[0].features"]
    assert "without --strict" in c.faults[0].reason


# --- coordinates: rounding artefacts beyond the bounds ------------------------------------


def _layer_feature(fid: str, coords: list[list[list[float]]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"name": fid},
        "geometry": {"type": "Polygon", "coordinates": coords},
    }


FIJI = [[[179.0, -17.0], [180.00000000000006, -17.0], [180.00000000000006, -16.0],
         [179.0, -16.0], [179.0, -17.0]]]  # fmt: skip
ANTARCTICA = [[[-180.0, -90.0000000000001], [180.0, -90.0000000000001], [180.0, -85.0],
               [-180.0, -85.0], [-180.0, -90.0000000000001]]]  # fmt: skip
TOO_FAR = [[[179.0, 10.0], [180.001, 10.0], [180.001, 11.0], [179.0, 11.0], [179.0, 10.0]]]


def test_rounding_artefacts_are_snapped_with_a_warning() -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [_layer_feature("FJI", FIJI), _layer_feature("ATA", ANTARCTICA)],
    }
    pf = read_geojson(json.dumps(doc), source="world.geojson")
    checks = pf.check_geometries(max_jump_m=None)
    assert not any(c.faults for c in checks)
    xy = shapely.get_coordinates(checks[0].geometry)
    assert xy[:, 0].max() == 180.0 and 180.00000000000006 not in xy[:, 0]
    xy = shapely.get_coordinates(checks[1].geometry)
    assert xy[:, 1].min() == -90.0
    (w0,) = checks[0].warnings
    assert w0.index == 0 and w0.feature_id == "FJI" and w0.source == "world.geojson"
    assert "longitude 180.00000000000006 snapped to 180.0" in w0.reason
    assert "2 positions snapped" in w0.reason
    assert w0.field == "geometry.coordinates[0][1]"
    (w1,) = [w for w in checks[1].warnings if "snapped" in w.reason]
    assert w1.index == 1 and w1.feature_id == "ATA"
    assert "latitude -90.0000000000001 snapped to -90.0" in w1.reason
    assert w1.field == "geometry.coordinates[0][0]"
    # a Point, both coordinates at once
    pf = read_geojson(
        b'{"type":"Point","coordinates":[-180.00000000000006,90.0000000000001]}', source="p"
    )
    (c,) = pf.check_geometries()
    assert c.geometry is not None and shapely.get_coordinates(c.geometry).tolist() == [[-180, 90]]
    (w,) = c.warnings
    assert "longitude -180.00000000000006 snapped to -180.0" in w.reason
    assert "latitude 90.0000000000001 snapped to 90.0" in w.reason


@pytest.mark.parametrize(
    "lon,lat", [(180.001, 10.0), (180.0000000011, 10.0), (10.0, -90.0000000011)]
)
def test_further_out_is_still_a_located_fault(lon: float, lat: float) -> None:
    ring = [[179.0, 10.0], [lon, lat], [179.5, 11.0], [179.0, 10.0]]
    doc = {"type": "FeatureCollection", "features": [_layer_feature("X", [ring])]}
    pf = read_geojson(json.dumps(doc), source="w.geojson")
    (c,) = pf.check_geometries(max_jump_m=None)
    assert c.geometry is None and not any("snapped" in w.reason for w in c.warnings)
    (f,) = c.faults
    assert "coordinates out of range" in f.reason and repr(lon if abs(lon) > 180 else lat) in (
        f.reason
    )
    assert f.index == 0 and f.feature_id == "X" and f.field == "geometry.coordinates[0][1]"


def test_snapping_comes_before_the_ring_rules() -> None:
    """A ring whose first position is the artefact and whose last is the bound is closed once
    snapped (the ring rules see the snapped positions)."""
    ring = [[180.00000000000006, 1.0], [179.0, 1.0], [179.0, 2.0], [180.0, 1.0]]
    pf = read_geojson(json.dumps({"type": "Polygon", "coordinates": [ring]}), source="r")
    (c,) = pf.check_geometries(max_jump_m=None)
    assert not c.faults and c.geometry is not None
    assert shapely.get_coordinates(c.geometry)[:, 0].max() == 180.0


# --- the CLI on both backends ------------------------------------------------------------


@pytest.fixture(params=["gpkg", "postgis"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    loc = str(tmp_path / "t.gpkg") if request.param == "gpkg" else request.getfixturevalue("pg_url")
    assert CliRunner().invoke(app, ["--db", loc, "init"]).exit_code == 0
    yield loc


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _count(loc: str, kind: str) -> int:
    from demine.store.open import open_store

    s = open_store(loc)
    try:
        return s.count(kind) if kind == "hazards" or kind in {k.name for k in s.kinds()} else 0
    finally:
        s.close()


def test_cli_import_lenient_then_strict(db: str, tmp_path: Path) -> None:
    f = tmp_path / "survey.geojson"
    f.write_text(json.dumps(_real_shaped()))
    # --strict: refused, naming the member, nothing stored
    r = _run("--db", db, "import", str(f), "--kind", "hazards", "--strict", "--json")
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert out["stored"] is False and out["imported"] == 0
    text = json.dumps(out)
    assert '\\"properties\\"' in text and "without --strict this is a warning" in text
    assert _count(db, "hazards") == 0
    # default: imported, every warning once
    r = _run("--db", db, "import", str(f), "--kind", "hazards", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["imported"] == 3 and out["rejected"] == []
    got = Counter(
        (w["index"], w["field"])
        for w in out["warnings"]
        if "member" in w["reason"]  # leave out the ring orientation notes
    )
    assert got == Counter(list(EXPECTED))
    assert all(w["source"] == "survey.geojson" for w in out["warnings"])
    assert _count(db, "hazards") == 3


def test_cli_validate_lenient_and_strict(tmp_path: Path) -> None:
    doc = _real_shaped()
    del doc["properties"]  # the features' misplaced members are then checked under --strict
    f = tmp_path / "survey.geojson"
    f.write_text(json.dumps(doc))
    r = _run("validate", str(f), "--kind", "hazards", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["valid"] is True
    got = Counter((w["index"], w["field"]) for w in out["warnings"] if "member" in w["reason"])
    assert got == Counter({k: 1 for k in EXPECTED if k != (None, "properties")})
    r = _run("validate", str(f), "--kind", "hazards")
    assert r.exit_code == 0
    lines = [ln for ln in r.stdout.splitlines() if "warning:" in ln and "member" in ln]
    assert len(lines) == len(EXPECTED) - 1
    assert any("survey.geojson, feature 1" in ln and "style" in ln for ln in lines), lines
    r = _run("validate", str(f), "--kind", "hazards", "--strict", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["valid"] is False
    assert sorted(x["index"] for x in out["rejected"]) == [1, 2]
    assert all(any("without --strict" in f["reason"] for f in x["faults"]) for x in out["rejected"])


def test_cli_import_snaps_rounding_artefacts(db: str, tmp_path: Path) -> None:
    from demine.store.open import open_store

    f = tmp_path / "world.geojson"
    f.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [_layer_feature("FJI", FIJI), _layer_feature("ATA", ANTARCTICA)],
            }
        )
    )
    r = _run("--db", db, "import", str(f), "--kind", "layer:world", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    snaps = [w for w in out["warnings"] if "snapped" in w["reason"]]
    assert [(w["index"], w["feature_id"], w["source"]) for w in snaps] == [
        (0, "FJI", "world.geojson"),
        (1, "ATA", "world.geojson"),
    ]
    assert "180.00000000000006" in snaps[0]["reason"]
    assert "-90.0000000000001" in snaps[1]["reason"]
    s = open_store(db)
    try:
        recs = {r.source_id: r for r in s.list("world")}
        fji = shapely.get_coordinates(recs["FJI"].geometry)
        ata = shapely.get_coordinates(recs["ATA"].geometry)
    finally:
        s.close()
    assert fji[:, 0].max() == 180.0 and (fji[:, 0] == 180.0).sum() == 2
    assert ata[:, 1].min() == -90.0 and (ata[:, 1] == -90.0).sum() >= 2
    # validate shows the same warnings, once each
    r = _run("validate", str(f), "--kind", "layer:world", "--json")
    assert r.exit_code == 0
    assert len([w for w in json.loads(r.stdout)["warnings"] if "snapped" in w["reason"]]) == 2


def test_cli_import_further_out_is_refused(db: str, tmp_path: Path) -> None:
    f = tmp_path / "world.geojson"
    f.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [_layer_feature("FJI", FIJI), _layer_feature("BAD", TOO_FAR)],
            }
        )
    )
    r = _run("--db", db, "import", str(f), "--kind", "layer:world", "--json")
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    (rej,) = out["rejected"]
    assert rej["index"] == 1 and rej["feature_id"] == "BAD"
    (flt,) = out["error"]["errors"]
    assert flt["index"] == 1 and flt["field"] == "geometry.coordinates[0][1]"
    assert "coordinates out of range" in flt["reason"] and "180.001" in flt["reason"]
    assert _count(db, "world") == 0
