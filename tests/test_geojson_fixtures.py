"""Every file of both GeoJSON fixture sets, against the table in expected.csv.

The table is also the one shown in docs/geometry.md: outcome of a default import (accept,
reject, repair) and of an import with --repair, and a substring of the reason.
"""

from __future__ import annotations

import csv
import pathlib

import pytest

from demine.errors import Fault
from demine.io.geojson import ParsedFile, read_geojson

ROOT = pathlib.Path(__file__).parent / "data" / "geojson-fixtures"
EXPECTED = {row["file"]: row for row in csv.DictReader((ROOT / "expected.csv").open())}


def _outcome(pf: ParsedFile, repair: bool) -> tuple[str, list[Fault], list[Fault], list[Fault]]:
    # Vertex jumps are a hazard plausibility rule: the fixtures are continent-scale shapes.
    checks = pf.check_geometries(repair=repair, max_jump_m=None)
    faults = pf.faults + [f for ft in pf.features for f in ft.faults]
    faults += [f for c in checks for f in c.faults]
    repairs = [f for c in checks for f in c.repairs]
    warns = pf.warnings + [f for ft in pf.features for f in ft.warnings]
    warns += [f for c in checks for f in c.warnings]
    if faults:
        return "reject", faults, repairs, warns
    return ("repair" if repairs else "accept"), faults, repairs, warns


def test_every_fixture_is_in_the_table() -> None:
    files = {str(p.relative_to(ROOT)) for p in ROOT.glob("*/*/*.geojson")}
    assert len(files) == 136
    assert files == set(EXPECTED)


def test_index_csvs_match_files() -> None:
    for name, col in (("geojson-validator", "file"), ("geojsonhint", "file")):
        rows = list(csv.DictReader((ROOT / name / "index.csv").open()))
        listed = {r[col] for r in rows}
        on_disk = {p.name for p in (ROOT / name).glob("*/*.geojson")}
        assert listed == on_disk


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    row = EXPECTED[name]
    path = ROOT / name
    pf = read_geojson(path)
    outcome, faults, repairs, warns = _outcome(pf, repair=False)
    assert outcome == row["outcome"], [str(f) for f in faults + repairs + warns]
    reason = row["reason"]
    pool = {"reject": faults, "repair": repairs, "accept": warns}[outcome]
    if reason:
        assert any(reason in f.reason for f in pool), [str(f) for f in pool]
    for f in faults:
        assert f.reason
        assert f.source == path.name
        # A fault is either about the whole file (no feature) or names its feature and field.
        if f.index is not None:
            assert 0 <= f.index < len(pf.features)
            assert f.field or "feature" in f.reason
    if outcome == "reject" and not pf.faults:
        assert all(f.index is not None for f in faults)
    if pf.faults:
        assert pf.features == [] or all(f.index is None for f in pf.faults)
    if outcome == "accept":
        assert not faults and not repairs
    outcome2, faults2, repairs2, _ = _outcome(read_geojson(path), repair=True)
    assert outcome2 == row["with_repair"], [str(f) for f in faults2 + repairs2]
    if outcome == "reject" and outcome2 == "repair":
        assert all(f.repairable for f in faults), "a repaired fault must say it is repairable"
        assert repairs2


@pytest.mark.parametrize("name", sorted(n for n, r in EXPECTED.items() if r["outcome"] != "reject"))
def test_accepted_fixtures_give_geometries(name: str) -> None:
    pf = read_geojson(ROOT / name)
    checks = pf.check_geometries(max_jump_m=None)
    for ft, c in zip(pf.features, checks, strict=True):
        if ft.geometry is not None and ft.geometry.get("coordinates") != []:
            assert c.geometry is not None
            assert c.geometry.is_valid


def test_multiple_problems_are_all_located() -> None:
    pf = read_geojson(ROOT / "geojsonhint/bad/multiple_problems.geojson")
    by_index = {ft.index: [f.field for f in ft.faults] for ft in pf.features}
    assert "id" in by_index[0]
    assert "geometry.coordinates" in by_index[0]
    assert by_index[1] == []
    assert "type" in by_index[2]
    assert "geometry.coordinates" in by_index[3]


def test_bad_json_gives_line_and_column() -> None:
    pf = read_geojson(ROOT / "geojsonhint/bad/bad-json.geojson")
    assert len(pf.faults) == 1
    assert "line 3, column 5" in pf.faults[0].reason


def test_write_round_trip_is_exact(tmp_path: pathlib.Path) -> None:
    import shapely

    from demine.io.geojson import write_geojson

    geoms = [
        shapely.Polygon(
            [(30.123456789012345, 50.1), (30.2, 50.1), (30.2, 50.2), (30.123456789012345, 50.1)]
        ),
        shapely.MultiPoint([(1 / 3, 2 / 3)]),
        None,
        shapely.LineString([(0.1, 0.2), (0.30000000000000004, 0.4)]),
    ]
    feats = [(i, {"n": i, "s": "é"}, g) for i, g in enumerate(geoms)]
    out = tmp_path / "out.geojson"
    assert write_geojson(out, feats, name="hazards", extra_members={"x": 1}) == 4
    pf = read_geojson(out)
    assert pf.ok and pf.crs is None and len(pf.features) == 4
    assert b'"crs"' not in out.read_bytes()
    checks = pf.check_geometries(max_jump_m=None)
    for (fid, props, g), ft, c in zip(feats, pf.features, checks, strict=True):
        assert ft.id == fid and ft.properties == props
        if g is None:
            assert c.geometry is None
        else:
            assert shapely.equals_exact(c.geometry, g, 0)


def test_crs84_member_accepted_with_warning_and_other_crs_rejected() -> None:
    ok = (
        b'{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":'
        b'"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[]}'
    )
    pf = read_geojson(ok)
    assert pf.ok and pf.crs == "urn:ogc:def:crs:OGC:1.3:CRS84"
    assert any("crs" in w.reason for w in pf.warnings)
    bad = ok.replace(b"OGC:1.3:CRS84", b"EPSG::3857")
    pf2 = read_geojson(bad)
    assert not pf2.ok and "EPSG::3857" in pf2.faults[0].reason


CHANGED_SEMANTICS = sorted(n for n in EXPECTED if n.endswith("_changed_semantics.geojson"))


@pytest.mark.parametrize("name", CHANGED_SEMANTICS)
def test_changed_semantics_refused_under_strict(name: str) -> None:
    """GeoJSON members where RFC 7946 §7.1 forbids them: warnings by default (the table above),
    faults naming the member under --strict."""
    assert len(CHANGED_SEMANTICS) == 3
    path = ROOT / name
    outcome, faults, _, warns = _outcome(read_geojson(path), repair=False)
    assert outcome == "accept" and any("§7.1" in w.reason for w in warns)
    outcome, faults, _, _ = _outcome(read_geojson(path, strict=True), repair=False)
    assert outcome == "reject"
    assert all("must not contain a" in f.reason for f in faults)
    assert all("without --strict this is a warning" in f.reason for f in faults)
    assert {f.field.rsplit(".", 1)[-1] for f in faults if f.field} == {
        w.field.rsplit(".", 1)[-1] for w in warns if w.field and "§7.1" in w.reason
    }
