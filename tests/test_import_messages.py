"""Import messages (issue 12): every fault names its file, feature index, feature id and source
id in every mode; each fault once in --json; hints that are right; repairs kept in the record's
history; polygons of no area are faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import Fault, ValidationError
from demine.services.register import ImportOptions, import_file, validate_file

UUID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def _poly(x: float, y: float, d: float = 0.01) -> list[list[list[float]]]:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def _fc(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _hz(i: int, geometry: Any = None, fid: Any = "", **props: Any) -> dict[str, Any]:
    p = {"hazard_type": "SHA", "status": "open", "name": f"H{i}"}
    p.update(props)
    f: dict[str, Any] = {
        "type": "Feature",
        "properties": p,
        "geometry": geometry
        if geometry is not None
        else {"type": "Polygon", "coordinates": _poly(37 + i * 0.02, 48)},
    }
    if fid == "":
        f["id"] = f"src-{i}"
    elif fid is not None:
        f["id"] = fid
    return f


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


# --- 1. every fault names file, index, feature id and source id ----------------------------


@pytest.fixture
def named(tmp_path: Path) -> Path:
    """Features with each kind of identity, and a fault or a warning each."""
    unclosed = _hz(3, fid=None, id="P-3")  # no feature id: its properties' id is its source id
    unclosed["geometry"]["coordinates"][0].pop()
    dup = _hz(4)  # a duplicate vertex: a warning only
    ring = dup["geometry"]["coordinates"][0]
    ring.insert(1, list(ring[0]))
    return _fc(
        tmp_path / "named.geojson",
        [
            _hz(0),
            _hz(1, hazard_type="maybe"),  # feature id = source id
            _hz(2, fid=UUID, source_id="NAT-2", status="lost"),  # a record id and a source id
            unclosed,
            dup,
        ],
    )


EXPECTED = {1: ("src-1", "src-1"), 2: (UUID, "NAT-2"), 3: (None, "P-3")}


def _check_named(groups: list[dict[str, Any]]) -> None:
    got = {g["index"]: (g["source"], g["feature_id"], g["source_id"]) for g in groups}
    assert got == {i: ("named.geojson", *ids) for i, ids in EXPECTED.items()}


def _check_text(text: str) -> None:
    assert "named.geojson, feature 1, source id 'src-1'" in text
    assert f"named.geojson, feature 2, id '{UUID}', source id 'NAT-2'" in text
    assert "named.geojson, feature 3, source id 'P-3'" in text


def test_fault_text_names_feature_id_and_source_id() -> None:
    f = Fault("bad", 2, "status", "a.geojson", UUID, source_id="NAT-2")
    assert str(f) == f"a.geojson, feature 2, id '{UUID}', source id 'NAT-2', field 'status': bad"
    assert f.to_dict()["source_id"] == "NAT-2" and f.to_dict()["feature_id"] == UUID
    same = Fault("bad", 1, None, "a.geojson", "src-1", source_id="src-1")
    assert str(same) == "a.geojson, feature 1, source id 'src-1': bad"


def test_faults_name_the_feature_when_refused(store: Any, named: Path) -> None:
    with pytest.raises(ValidationError) as e:
        import_file(store, named, ImportOptions(kind="hazards"))
    faults = e.value.faults
    assert {f.index for f in faults} == set(EXPECTED)
    for f in faults:
        assert f.source == "named.geojson"
        assert (f.feature_id, f.source_id) == EXPECTED[f.index or 0]
    _check_text(str(e.value))
    assert store.count("hazards") == 0


def test_skipped_and_warnings_name_the_feature(store: Any, named: Path) -> None:
    rep = import_file(store, named, ImportOptions(kind="hazards", skip_invalid=True))
    assert rep.created == 2
    _check_named(rep.rejected)
    (w,) = [w for w in rep.warnings if "duplicate" in w.reason]
    assert (w.source, w.index, w.feature_id, w.source_id) == ("named.geojson", 4, "src-4", "src-4")


def test_cli_modes_name_the_feature(store: Any, named: Path) -> None:
    db = ["--db", store.location, "import", str(named), "--kind", "hazards"]
    r = _cli(*db)  # refused
    assert r.exit_code == 1
    _check_text(r.output)
    r = _cli(*db, "--json")
    assert r.exit_code == 1
    _check_named(json.loads(r.stdout)["rejected"])
    r = _cli(*db, "--skip-invalid")
    assert r.exit_code == 0, r.output
    _check_text(r.stdout)
    assert "named.geojson, feature 4, source id 'src-4'" in r.stdout  # the warning
    for args in ((), ("--json",)):
        r = _cli("validate", str(named), "--kind", "hazards", *args)
        assert r.exit_code == 1
        if args:
            out = json.loads(r.stdout)
            _check_named(out["rejected"])
            (w,) = [w for w in out["warnings"] if "duplicate" in w["reason"]]
            assert (w["source"], w["index"], w["feature_id"], w["source_id"]) == (
                "named.geojson",
                4,
                "src-4",
                "src-4",
            )
        else:
            _check_text(r.stdout)


def test_rule_faults_name_the_source_id_not_a_made_up_record_id(store: Any, tmp_path: Path) -> None:
    """A fault found across records (here: a link to a hazard that does not exist) names the
    feature as the file has it."""
    em = {
        "type": "Feature",
        "id": "EM-1",
        "properties": {
            "device_type": "apii-limit",
            "quantity": 300,
            "laid_at": "2025-03-01T06:00:00Z",
            "hazard_source_id": "nowhere",
        },
        "geometry": {"type": "Point", "coordinates": [37.0, 48.0]},
    }
    f = _fc(tmp_path / "em.geojson", [em])
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="emplacements"))
    (flt,) = [x for x in e.value.faults if "nowhere" in x.reason]
    assert (flt.source, flt.index, flt.feature_id, flt.source_id) == (
        "em.geojson",
        0,
        "EM-1",
        "EM-1",
    )


def test_reference_layer_faults_name_the_feature(store: Any, tmp_path: Path) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[30, 10], [31, 11], [31, 10], [30, 11], [30, 10]]],
    }
    good = {"type": "Polygon", "coordinates": _poly(30, 10, 1)}
    feats = [
        {"type": "Feature", "id": "ADM-0", "properties": {"name": "a"}, "geometry": good},
        {"type": "Feature", "id": "ADM-1", "properties": {"name": "b"}, "geometry": bowtie},
        {"type": "Feature", "properties": {"id": "ADM-2", "name": "c"}, "geometry": bowtie},
    ]
    f = _fc(tmp_path / "admin.geojson", feats)
    r = _cli("--db", store.location, "import", str(f), "--kind", "layer:admin", "--json")
    assert r.exit_code == 1, r.output
    got = [
        (g["source"], g["index"], g["feature_id"], g["source_id"])
        for g in json.loads(r.stdout)["rejected"]
    ]
    assert got == [("admin.geojson", 1, "ADM-1", "ADM-1"), ("admin.geojson", 2, None, "ADM-2")]
    # a CSV's id column too
    csv = tmp_path / "admin.csv"
    csv.write_text(
        'id,name,wkt\nC-0,a,"POLYGON((30 10,31 10,31 11,30 11,30 10))"\n'
        'C-1,b,"POLYGON((30 10,31 11,31 10,30 11,30 10))"\n'
    )
    r = _cli("validate", str(csv), "--kind", "layer:admin2", "--json")
    assert r.exit_code == 1
    (g,) = json.loads(r.stdout)["rejected"]
    assert (g["source"], g["index"], g["feature_id"], g["source_id"]) == (
        "admin.csv",
        1,
        "C-1",
        "C-1",
    )


# --- 2. each fault once in --json ----------------------------------------------------------


def _bad(path: Path, n: int) -> Path:
    return _fc(path, [_hz(i, hazard_type=f"bad-{i:04d}") for i in range(n)])


def test_json_lists_each_fault_once(store: Any, tmp_path: Path) -> None:
    n = 30
    f = _bad(tmp_path / "bad.geojson", n)
    g = _bad(tmp_path / "bad2.geojson", n)
    db = ["--db", store.location, "import", str(f), "--kind", "hazards", "--json"]
    runs = {
        "import": _cli(*db),
        "skip": _cli(*db, "--skip-invalid"),
        "validate": _cli("validate", str(f), "--kind", "hazards", "--json"),
        "two files": _cli("validate", str(f), str(g), "--kind", "hazards", "--json"),
    }
    for mode, r in runs.items():
        text = r.stdout
        out = json.loads(text)
        files = 2 if mode == "two files" else 1
        assert len(out["rejected"]) == n * files, mode
        if mode == "import":  # refused: the faults are the problem's errors, as on every face
            assert all("faults" not in x for x in out["rejected"])
            faults = out["error"]["errors"]
            assert [(x["source"], x["index"], x["source_id"]) for x in out["rejected"]] == [
                ("bad.geojson", i, f"src-{i}") for i in range(n)
            ]
        else:
            assert "error" not in out
            faults = [x for g in out["rejected"] for x in g["faults"]]
        assert len(faults) == n * files, mode
        for i in range(n):
            assert text.count(f"'bad-{i:04d}'") == files, (mode, i)


def test_json_size_grows_linearly(tmp_path: Path) -> None:
    db = str(tmp_path / "s.gpkg")
    assert _cli("--db", db, "init").exit_code == 0
    for mode in ("validate", "import"):
        sizes = []
        for n in (10, 100, 200):
            f = str(_bad(tmp_path / f"b{n}.geojson", n))
            if mode == "validate":
                r = _cli("validate", f, "--kind", "hazards", "--json")
            else:
                r = _cli("--db", db, "import", f, "--kind", "hazards", "--json")
            assert r.exit_code == 1
            sizes.append(len(r.stdout.encode()))
        per_a = (sizes[1] - sizes[0]) / 90
        per_b = (sizes[2] - sizes[1]) / 100
        assert 100 < per_a < 450 and 100 < per_b < 450, (mode, sizes)  # one entry per fault
        assert abs(per_a - per_b) / per_a < 0.05, (mode, sizes)


# --- 3. hints ------------------------------------------------------------------------------


def test_repair_hint_only_where_repair_helps(store: Any, tmp_path: Path) -> None:
    unclosed = _hz(1)
    unclosed["geometry"]["coordinates"][0].pop()
    f = _fc(tmp_path / "u.geojson", [_hz(0), unclosed, _hz(2, hazard_type="maybe")])
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="hazards"))
    assert "--repair to repair what can be repaired" in e.value.message
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="hazards", repair=True))
    assert "--repair" not in e.value.message  # given: never suggested again
    assert "--skip-invalid" in e.value.message
    only = _fc(tmp_path / "v.geojson", [_hz(0, hazard_type="maybe")])
    with pytest.raises(ValidationError) as e:
        import_file(store, only, ImportOptions(kind="hazards"))
    assert "--repair" not in e.value.message  # nothing it could repair
    r = _cli("--db", store.location, "import", str(f), "--kind", "hazards", "--repair")
    assert r.exit_code == 1 and "--repair to repair" not in r.output
    assert store.count("hazards") == 0


def test_repair_says_why_it_could_not_repair(tmp_path: Path) -> None:
    ring = [[37.0, 48.0], [37.01, 48.0], [37.01, 48.2], [37.0, 48.01]]  # unclosed, and a jump
    f = _fc(tmp_path / "j.geojson", [_hz(0, {"type": "Polygon", "coordinates": [ring]})])
    plain = validate_file(f, ImportOptions(kind="hazards"))
    (g,) = plain.rejected
    closed = [x for x in g["faults"] if "not closed" in x["reason"]]
    assert closed and closed[0]["repairable"] is True
    rep = validate_file(f, ImportOptions(kind="hazards", repair=True))
    (g,) = rep.rejected
    (closed,) = [x for x in g["faults"] if "not closed" in x["reason"]]
    assert "--repair could not repair it" in closed["reason"]
    assert "also has 2 faults --repair cannot fix" in closed["reason"]  # the two jumps
    assert "repairable" not in closed
    r = _cli("validate", str(f), "--kind", "hazards", "--repair")
    assert "could not repair it" in r.stdout and "--repair can repair this" not in r.stdout
    r = _cli("validate", str(f), "--kind", "hazards")
    assert "(--repair can repair this)" in r.stdout


def test_empty_and_null_geometries_are_named_as_such(tmp_path: Path) -> None:
    f = _fc(
        tmp_path / "e.geojson",
        [
            _hz(0, {"type": "MultiPolygon", "coordinates": []}),
            {"type": "Feature", "id": "n", "properties": {}, "geometry": None},
        ],
    )
    r = _cli("validate", str(f), "--kind", "hazards", "--json")
    out = json.loads(r.stdout)
    reasons = {g["index"]: [x["reason"] for x in g["faults"]] for g in out["rejected"]}
    assert reasons[0][0].startswith("empty geometry (a MultiPolygon with no coordinates)")
    assert reasons[1][0].startswith("no geometry (null)")
    assert "got null" not in r.stdout
    # the reader's "taken as a null geometry" is not said as well for a kind that needs one
    assert not [w for w in out["warnings"] if "taken as a null" in w["reason"]]
    r = _cli("validate", str(f), "--kind", "hazards")
    assert "feature 0, source id 'src-0': geometry: empty geometry" in r.stdout


def test_empty_geometry_of_an_optional_geometry_is_still_a_warning(tmp_path: Path) -> None:
    f = _fc(
        tmp_path / "a.geojson",
        [
            {
                "type": "Feature",
                "id": "a1",
                "properties": {},
                "geometry": {"type": "MultiPolygon", "coordinates": []},
            }
        ],
    )
    rep = validate_file(f, ImportOptions(kind="activities"))
    assert any("taken as a null geometry" in w.reason for w in rep.warnings)
    assert not any("geometry" in str(g["faults"]) for g in rep.rejected)


def _find(i: int, lon: float, lat: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": f"p{i}",
        "properties": {"device_type": "uxo", "state": "live", "found_at": "2025-02-01T10:00:00Z"},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def test_points_outside_the_area_of_interest_get_a_likely_cause(store: Any, tmp_path: Path) -> None:
    store.set_setting("area_of_interest", [36.0, 47.0, 39.0, 49.0])
    f = _fc(
        tmp_path / "pts.geojson",
        [
            _find(0, -37.84, 48.2),  # longitude sign flipped
            _find(1, 37.84, -48.2),  # latitude sign flipped
            _find(2, 48.2, 37.84),  # latitude and longitude swapped
            _find(3, 10.0, 10.0),  # just far away
            _find(4, 37.5, 48.5),  # inside
        ],
    )
    rep = import_file(store, f, ImportOptions(kind="finds", skip_invalid=True))
    warned = {w.index: w.reason for w in rep.warnings if "area of interest" in w.reason}
    assert warned[0].endswith(
        "longitude sign flipped? (-37.84 → 37.84 is inside the area of interest)"
    )
    assert warned[1].endswith(
        "latitude sign flipped? (-48.2 → 48.2 is inside the area of interest)"
    )
    assert "?" not in warned[3] and 4 not in warned
    (swap,) = rep.rejected
    assert swap["index"] == 2 and swap["source_id"] == "p2"
    assert "latitude and longitude appear swapped" in swap["faults"][0]["reason"]
    assert all(w.source == "pts.geojson" and w.source_id == f"p{w.index}" for w in rep.warnings)


# --- 4. repairs in the record's history ----------------------------------------------------


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[37.0, 48.0], [37.01, 48.01], [37.01, 48.0], [37.0, 48.01], [37.0, 48.0]]],
}


def test_repairs_are_kept_in_the_records_history(store: Any, tmp_path: Path) -> None:
    unclosed = _hz(1)
    unclosed["geometry"]["coordinates"][0].pop()
    f = _fc(tmp_path / "rep.geojson", [_hz(0, BOWTIE), unclosed, _hz(2)])
    r = _cli("--db", store.location, "import", str(f), "--kind", "hazards", "--repair", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["created"] == 3
    by_source = {x.source_id: x for x in store.list("hazards")}
    # through the CLI
    r = _cli("--db", store.location, "history", by_source["src-0"].id, "--json")
    assert r.exit_code == 0, r.output
    (rev,) = json.loads(r.stdout)["revisions"]
    why = rev["reason"]
    assert why.startswith("import rep.geojson; repaired on import: ")
    assert "Self-intersection" in why and "make_valid: 1 polygon became 2" in why
    assert "area 0.0 → " in why and " m²" in why
    area = by_source["src-0"].properties["area_m2"]
    assert f"{area:,.1f} m²" in why  # the area stored is the area after the repair
    # through the store
    (rev1,) = store.history(by_source["src-1"].id)
    assert "repaired on import: exterior ring closed by repeating its first vertex" in rev1.reason
    (rev2,) = store.history(by_source["src-2"].id)
    assert rev2.reason == "import rep.geojson"  # nothing repaired, nothing said


def test_repairs_in_history_with_a_reason_given(store: Any, tmp_path: Path) -> None:
    f = _fc(tmp_path / "r.geojson", [_hz(0, BOWTIE)])
    rep = import_file(
        store, f, ImportOptions(kind="hazards", repair=True, reason="survey 2025 batch 3")
    )
    (rev,) = store.history(rep.ids[0])
    assert rev.reason.startswith("survey 2025 batch 3; repaired on import: ")


def test_changes_made_without_repair_are_kept_in_history(store: Any, tmp_path: Path) -> None:
    """Snapping a rounding artefact to ±180 and dropping Z change the stored geometry without
    --repair: the history says so too."""
    edge = 180.00000000000006
    snapped = {
        "type": "Polygon",
        "coordinates": [
            [[179.99, -17.0], [edge, -17.0], [edge, -16.99], [179.99, -16.99], [179.99, -17.0]]
        ],
    }
    z = {"type": "Polygon", "coordinates": [[[*p, 12.5] for p in _poly(37, 48)[0]]]}
    f = _fc(tmp_path / "c.geojson", [_hz(0, snapped), _hz(1, z), _hz(2)])
    rep = import_file(store, f, ImportOptions(kind="hazards"))
    ids = dict(zip(rep.indexes, rep.ids, strict=True))
    (r0,) = store.history(ids[0])
    assert r0.reason.startswith("import c.geojson; changed on import: longitude 180.00000000000006")
    assert "repaired on import" not in r0.reason
    (r1,) = store.history(ids[1])
    assert "changed on import: 3D coordinates: the height (Z) was dropped" in r1.reason
    (r2,) = store.history(ids[2])
    assert r2.reason == "import c.geojson"


# --- 5. polygons of no area ----------------------------------------------------------------


def _tiny(x: float = 37.0, y: float = 48.0, d: float = 1e-7) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": _poly(x, y, d)}


def test_a_polygon_of_no_area_is_a_fault(store: Any, tmp_path: Path) -> None:
    f = _fc(tmp_path / "tiny.geojson", [_hz(0), _hz(1, _tiny())])
    with pytest.raises(ValidationError) as e:
        import_file(store, f, ImportOptions(kind="hazards"))
    (flt,) = e.value.faults
    assert (flt.index, flt.field, flt.source_id) == (1, "geometry", "src-1")
    assert flt.reason.startswith("zero area: the polygon's geodesic area is ")
    rep = import_file(store, f, ImportOptions(kind="hazards", skip_invalid=True))
    assert rep.created == 1 and [g["index"] for g in rep.rejected] == [1]
    assert all(r.properties["area_m2"] > 0 for r in store.list("hazards"))
    r = _cli("validate", str(f), "--kind", "hazards")
    assert r.exit_code == 1 and "feature 1, source id 'src-1': geometry: zero area" in r.stdout


def test_a_repair_that_leaves_no_area_is_a_fault_not_a_repair(store: Any, tmp_path: Path) -> None:
    d = 1e-7
    tiny_bowtie = {
        "type": "Polygon",
        "coordinates": [[[37, 48], [37 + d, 48 + d], [37 + d, 48], [37, 48 + d], [37, 48]]],
    }
    f = _fc(tmp_path / "tb.geojson", [_hz(0), _hz(1, tiny_bowtie)])
    rep = import_file(store, f, ImportOptions(kind="hazards", repair=True, skip_invalid=True))
    assert rep.created == 1
    (g,) = rep.rejected
    assert g["index"] == 1 and g["faults"][0]["reason"].startswith("zero area after repair")
    assert not [x for x in rep.repairs if x.index == 1]
    assert all(r.properties["area_m2"] > 0 for r in store.list("hazards"))


def test_make_valid_leaving_no_area_is_not_listed_as_repaired(tmp_path: Path) -> None:
    # unclosed, a repeated vertex, all on one line: closing and de-duplicating are repairs,
    # then make_valid leaves a line
    line = [[37.0, 48.0], [37.01, 48.0], [37.01, 48.0], [37.02, 48.0], [37.03, 48.0]]
    f = _fc(tmp_path / "l.geojson", [_hz(0), _hz(1, {"type": "Polygon", "coordinates": [line]})])
    rep = validate_file(f, ImportOptions(kind="hazards", repair=True))
    (g,) = rep.rejected
    assert g["index"] == 1 and "make_valid left no area" in g["faults"][0]["reason"]
    assert "--repair could not repair it" in g["faults"][0]["reason"]
    assert not [x for x in rep.repairs if x.index == 1]
    r = _cli("validate", str(f), "--kind", "hazards", "--repair")
    assert "would repair" not in r.stdout
    # without --repair it is not offered as repairable either
    closed = [[*line, line[0]]]
    f2 = _fc(tmp_path / "l2.geojson", [_hz(1, {"type": "Polygon", "coordinates": closed})])
    (g,) = validate_file(f2, ImportOptions(kind="hazards")).rejected
    (flt,) = g["faults"]
    assert "repairable" not in flt and "make_valid would leave no area" in flt["reason"]


def test_a_fault_of_the_whole_file_names_no_feature(tmp_path: Path) -> None:
    r = _cli("validate", str(tmp_path / "missing.geojson"), "--kind", "hazards")
    assert r.exit_code == 1
    assert "missing.geojson: no such file" in r.stdout and "feature None" not in r.stdout
