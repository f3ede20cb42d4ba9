"""Quality of a submission (issue 13): completeness against the minimum data, geocheck,
plausibility and the score, on both backends (services.quality)."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from demine.errors import ValidationError
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.quality import SETTING, WEIGHTS, assess, builtin, save_minimum_data

# the hazards' built-in minimum data: geometry 15, hazard_type 15, status 15, device_categories
# 10, evidence 10, reported_on 10, organisation 5, admin_area 5
FULL_HAZARD: dict[str, Any] = {
    "hazard_type": "CHA",
    "status": "open",
    "device_categories": "ap_blast",
    "evidence": "mine found by a farmer",
    "reported_on": "2024-03-01",
    "organisation": "HALO",
    "admin_area": "Kharkiv",
}


def square(x: float, y: float, d: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]],
    }


def put(store: Any, kind: str, props: dict[str, Any], geom: Any, sid: str | None = None) -> str:
    rid = uuid7()
    g = None if geom is None else shapely.geometry.shape(geom)
    if g is not None and g.geom_type == "Polygon":
        g = shapely.MultiPolygon([g])
    store.upsert(kind, [Record(kind, rid, props, g, source_id=sid)], actor="test")
    return rid


def pt(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


def rules(q: Any) -> list[str]:
    return [i.rule for i in q.issues]


def test_a_complete_hazard_scores_100(store: Any) -> None:
    q = assess(store, "hazards", FULL_HAZARD, square(37.0, 48.0))
    assert q.score == 100, q.to_dict()
    assert q.missing == [] and q.complete and q.issues == []


def test_missing_minimum_data_costs_each_fields_weight(store: Any) -> None:
    props = {"hazard_type": "SHA", "status": "open", "organisation": "HALO"}
    q = assess(store, "hazards", props, square(37.0, 48.0))
    # missing: device_categories 10, evidence 10, reported_on 10, admin_area 5 -> 100 - 35
    assert sorted(q.missing) == ["admin_area", "device_categories", "evidence", "reported_on"]
    assert q.score == 65
    assert {i.field: i.deduction for i in q.issues if i.rule == "completeness"} == {
        "device_categories": 10.0,
        "evidence": 10.0,
        "reported_on": 10.0,
        "admin_area": 5.0,
    }
    # an empty value is as missing as an absent one; the JSON form says it all
    q2 = assess(store, "hazards", {**props, "evidence": ""}, square(37.0, 48.0))
    assert q2.score == 65 and "evidence" in q2.missing
    d = q2.to_dict()
    assert d["score"] == 65 and d["complete"] is False and d["minimum_data"] == "built-in"


def test_missing_geometry_and_a_required_field(store: Any) -> None:
    props = dict(FULL_HAZARD)
    del props["status"]
    q = assess(store, "hazards", props, None)
    # geometry 15 + status 15 (both minimum data)
    assert sorted(q.missing) == ["geometry", "status"]
    assert q.score == 70
    # finds: found_at is minimum data, hazard_id too; "unknown" is no value for found_at
    find = {
        "device_type": "ap-blast-persistent",
        "state": "live",
        "depth_cm": 5,
        "found_at": "2024-05-01",
    }
    q = assess(store, "finds", find, {"type": "Point", "coordinates": [37.0, 48.0]})
    assert q.missing == ["hazard_id"] and q.score == 95
    # an invalid value is a fault the write refuses: 20, and not counted missing
    q = assess(
        store, "finds", {**find, "state": "melted"}, {"type": "Point", "coordinates": [37, 48]}
    )
    assert "state" not in q.missing
    assert [(i.rule, i.field) for i in q.issues if i.rule == "invalid"] == [("invalid", "state")]
    assert q.score == 100 - 5 - WEIGHTS["invalid"]


def test_unknown_date_is_incomplete_not_invalid(store: Any) -> None:
    q = assess(store, "hazards", {**FULL_HAZARD, "reported_on": "unknown"}, square(37.0, 48.0))
    assert q.missing == ["reported_on"]
    assert rules(q) == ["completeness"]  # not invalid
    assert q.score == 95  # half of reported_on's 10
    # a partial date is complete
    q = assess(store, "hazards", {**FULL_HAZARD, "reported_on": "2019-05"}, square(37.0, 48.0))
    assert q.score == 100


def test_dates_out_of_order_are_flagged(store: Any) -> None:
    props = {**FULL_HAZARD, "reported_on": "2024-03-01", "surveyed_on": "2023-01-10"}
    q = assess(store, "hazards", props, square(37.0, 48.0))
    bad = [i for i in q.issues if i.rule == "record_rule"]
    assert [i.field for i in bad] == ["surveyed_on"]
    assert "before reported_on" in bad[0].message
    assert q.score == 100 - WEIGHTS["record_rule"]
    # partial dates: out of order only when certainly so
    ok = {**FULL_HAZARD, "reported_on": "2023", "surveyed_on": "2023-01-10"}
    assert assess(store, "hazards", ok, square(37.0, 48.0)).score == 100


def test_geocheck_faults_and_warnings(store: Any) -> None:
    bow = {  # a self-intersecting ring: OGC invalid
        "type": "Polygon",
        "coordinates": [[[37.0, 48.0], [37.01, 48.01], [37.01, 48.0], [37.0, 48.01], [37.0, 48.0]]],
    }
    q = assess(store, "hazards", FULL_HAZARD, bow)
    assert "geocheck" in rules(q) and q.score <= 100 - WEIGHTS["geocheck"]
    assert "geometry" not in q.missing
    dup = square(37.0, 48.0)
    ring = dup["coordinates"][0]
    dup["coordinates"][0] = [ring[0], ring[1], ring[1], *ring[2:]]  # a repeated vertex: warning
    q = assess(store, "hazards", FULL_HAZARD, dup)
    assert rules(q) == ["geocheck_warning"] and q.score == 95
    # a point is not a hazard geometry
    q = assess(store, "hazards", FULL_HAZARD, {"type": "Point", "coordinates": [37.0, 48.0]})
    assert any(i.rule == "geocheck" and "required" in i.message for i in q.issues)


def test_find_outside_its_hazard_is_flagged(store: Any) -> None:
    hid = put(store, "hazards", {"hazard_type": "CHA", "status": "open"}, square(37.0, 48.0))
    find = {
        "device_type": "ap-blast-persistent",
        "state": "live",
        "depth_cm": 5,
        "found_at": "2024-05-01",
        "hazard_id": hid,
    }
    inside = assess(store, "finds", find, {"type": "Point", "coordinates": [37.005, 48.005]})
    assert inside.score == 100, inside.to_dict()
    # 0.02° east of the hazard's east edge: about 1.5 km outside
    far = assess(store, "finds", find, {"type": "Point", "coordinates": [37.03, 48.005]})
    out = [i for i in far.issues if i.rule == "outside_hazard"]
    assert len(out) == 1 and hid in out[0].message and "m outside" in out[0].message
    assert far.score == 100 - WEIGHTS["outside_hazard"]
    # within the tolerance (about 4 m outside the edge): inside
    edge = assess(store, "finds", find, {"type": "Point", "coordinates": [37.01005, 48.005]})
    assert "outside_hazard" not in rules(edge)
    # a hazard_id naming no hazard
    q = assess(
        store, "finds", {**find, "hazard_id": uuid7()}, {"type": "Point", "coordinates": [37, 48]}
    )
    assert "link" in rules(q)


def test_area_change_beyond_half_is_flagged(store: Any) -> None:
    hid = put(store, "hazards", FULL_HAZARD, square(37.0, 48.0, 0.01))
    old = store.get("hazards", hid)
    # 60 % smaller: 0.4 of the width
    smaller = {
        "type": "Polygon",
        "coordinates": [
            [[37.0, 48.0], [37.004, 48.0], [37.004, 48.01], [37.0, 48.01], [37.0, 48.0]]
        ],
    }
    q = assess(store, "hazards", FULL_HAZARD, smaller, existing=old)
    ch = [i for i in q.issues if i.rule == "area_change"]
    assert len(ch) == 1 and "-60%" in ch[0].message and hid in ch[0].message
    assert q.score == 100 - WEIGHTS["area_change"]
    # 30 % smaller: not flagged; no existing record: nothing to compare
    less = {
        "type": "Polygon",
        "coordinates": [
            [[37.0, 48.0], [37.007, 48.0], [37.007, 48.01], [37.0, 48.01], [37.0, 48.0]]
        ],
    }
    assert assess(store, "hazards", FULL_HAZARD, less, existing=old).score == 100
    assert assess(store, "hazards", FULL_HAZARD, smaller).score == 100


def test_outside_the_area_of_interest(store: Any) -> None:
    store.set_setting("area_of_interest", [22.0, 44.0, 41.0, 53.0])
    assert assess(store, "hazards", FULL_HAZARD, square(37.0, 48.0)).score == 100
    q = assess(store, "hazards", FULL_HAZARD, square(12.0, 48.0))
    assert rules(q) == ["outside_area_of_interest"]
    assert q.score == 100 - WEIGHTS["outside_area_of_interest"]


def test_store_override_of_the_minimum_data(store: Any) -> None:
    props = {"hazard_type": "SHA", "status": "open"}
    before = assess(store, "hazards", props, square(37.0, 48.0))
    assert before.score == 60  # device_categories, evidence, reported_on 10; org, admin 5
    text = '[hazards]\nname = { weight = 45, source = "ours" }\nstatus = 10\n'
    save_minimum_data(store, text, source="test.toml")
    after = assess(store, "hazards", props, square(37.0, 48.0))
    assert after.missing == ["name"] and after.score == 55
    assert SETTING in after.minimum_data
    # other kinds keep the built-in table
    assert len(builtin()["finds"]) == 6
    # JSON in the setting works as well; clearing restores the built-in
    store.set_setting(SETTING, {"hazards": {"reference": {"weight": 25}}})
    assert assess(store, "hazards", props, square(37.0, 48.0)).missing == ["reference"]
    save_minimum_data(store, None, source="clear")
    assert assess(store, "hazards", props, square(37.0, 48.0)).score == 60


def test_a_bad_override_is_a_located_error(store: Any) -> None:
    bad = (
        "[hazards]\nnmae = 10\nstatus = { weight = -3 }\n[nope]\nx = 1\n"
        "[finds]\ndevice_type = { weight = 5, colour = 'red' }\n"
    )
    with pytest.raises(ValidationError) as e:
        save_minimum_data(store, bad, source="mine.toml")
    where = {f.field for f in e.value.faults}
    assert where == {"hazards.nmae", "hazards.status.weight", "nope", "finds.device_type"}
    assert all(f.source == "mine.toml" for f in e.value.faults)
    assert store.setting(SETTING) is None  # nothing half-saved
    with pytest.raises(ValidationError) as e:
        save_minimum_data(store, "[hazards\n", source="broken.toml")
    assert "not valid TOML" in e.value.message
    # a bad setting already in the store (written by hand) is named when it is used
    store.set_setting(SETTING, {"hazards": {"area_m2": 10}})
    with pytest.raises(ValidationError) as e:
        assess(store, "hazards", FULL_HAZARD, square(37.0, 48.0))
    assert e.value.faults[0].field == "hazards.area_m2"
    assert e.value.faults[0].source == f"store setting {SETTING}"


# --- the face: demine quality -----------------------------------------------------------------


def _cli(store: Any, *args: str, role: str = "analyst") -> Any:
    from typer.testing import CliRunner

    from demine.cli.app import app

    return CliRunner().invoke(app, ["--role", role, "--db", store.location, *args])


def test_cli_quality_of_a_file(store: Any, tmp_path: Any) -> None:
    import json

    stored = put(store, "hazards", FULL_HAZARD, square(37.0, 48.0), sid="H-1")
    feats = [
        {  # the stored hazard again, by source id, 60 % smaller and missing evidence
            "type": "Feature",
            "id": "H-1",
            "properties": {k: v for k, v in FULL_HAZARD.items() if k != "evidence"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[37.0, 48.0], [37.004, 48.0], [37.004, 48.01], [37.0, 48.01], [37.0, 48.0]]
                ],
            },
        },
        {"type": "Feature", "properties": FULL_HAZARD, "geometry": square(39.0, 47.0)},
    ]
    f = tmp_path / "sub.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    r = _cli(store, "quality", "hazards", str(f), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    a, b = out["features"]
    assert a["source_id"] == "H-1" and a["updates"] == stored
    assert a["quality"]["missing"] == ["evidence"]
    assert a["quality"]["score"] == 100 - 10 - WEIGHTS["area_change"]
    assert a["candidates"][0]["id"] == stored
    assert a["candidates"][0]["matches"][0] == "source_id"
    assert b["quality"]["score"] == 100 and b["candidates"] == []
    assert out["incomplete"] == 1
    # the text face says the same
    r = _cli(store, "quality", "hazards", str(f))
    assert r.exit_code == 0, r.output
    assert "score 80" in r.stdout and "missing minimum data: evidence" in r.stdout
    assert f"candidate {stored}" in r.stdout and "area_change" in r.stdout


def test_cli_quality_of_a_stored_record(store: Any) -> None:
    import json

    a = put(store, "hazards", {"hazard_type": "SHA", "status": "open"}, square(37.0, 48.0))
    b = put(store, "hazards", {"hazard_type": "SHA", "status": "open"}, square(37.005, 48.0))
    r = _cli(store, "quality", "hazards", "--id", a, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["id"] == a and out["quality"]["score"] == 60
    assert [c["id"] for c in out["candidates"]] == [b]  # never itself
    r = _cli(store, "quality", "hazards", "--id", uuid7(), "--json")
    assert r.exit_code == 3
    r = _cli(store, "quality", "hazards", "--json")  # neither a file nor --id
    assert r.exit_code == 1 and "KIND FILE" in r.stdout
    r = _cli(store, "quality", "victims", "--id", uuid7(), "--json")  # analysts do not read it
    assert r.exit_code == 5


def test_cli_save_minimum_data(store: Any, tmp_path: Any) -> None:
    import json

    good = tmp_path / "md.toml"
    good.write_text('[hazards]\nname = { weight = 45, source = "ours" }\n', encoding="utf-8")
    r = _cli(store, "quality", "--save-minimum-data", str(good), "--json")
    assert r.exit_code == 5  # analysts may not
    assert store.setting(SETTING) is None
    r = _cli(store, "quality", "--save-minimum-data", str(good), "--json", role="admin")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["saved"] == ["hazards"]
    hid = put(store, "hazards", {"hazard_type": "SHA", "status": "open"}, square(37.0, 48.0))
    r = _cli(store, "quality", "hazards", "--id", hid, "--json")
    assert json.loads(r.stdout)["quality"]["missing"] == ["name"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[hazards]\nname = { weight = 'lots' }\n", encoding="utf-8")
    r = _cli(store, "quality", "--save-minimum-data", str(bad), "--json", role="admin")
    assert r.exit_code == 1
    err = json.loads(r.stdout)["error"]
    assert "hazards.name.weight" in json.dumps(err) and "bad.toml" in json.dumps(err)
    assert store.setting(SETTING) == {"hazards": {"name": {"weight": 45, "source": "ours"}}}
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    r = _cli(store, "quality", "--save-minimum-data", str(empty), role="admin")
    assert r.exit_code == 0 and "cleared" in r.stdout
    assert not store.setting(SETTING)


def test_cli_quality_shows_a_role_only_what_it_may_read(store: Any, tmp_path: Any) -> None:
    import json

    report = {"reported_at": "2025-01-02T10:00:00Z", "status": "new", "description": "shell"}
    hidden = put(store, "eo_reports", {**report, "public": False}, pt(37.0, 48.0))
    shown = put(store, "eo_reports", {**report, "public": True}, pt(37.0002, 48.0))
    f = tmp_path / "eo.geojson"
    feat = {"type": "Feature", "properties": report, "geometry": pt(37.0001, 48.0)}
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}), encoding="utf-8")
    got = {
        role: [c["id"] for c in json.loads(r.stdout)["features"][0]["candidates"]]
        for role in ("analyst", "public")
        if (r := _cli(store, "quality", "eo_reports", str(f), "--json", role=role)).exit_code == 0
    }
    assert sorted(got["analyst"]) == sorted([hidden, shown])
    assert got["public"] == [shown]  # the public sees only reports marked public
    # a finding on a field the role may not read keeps its rule and deduction, not its message
    acc = {
        "occurred_at": "2024-02-01",
        "accident_type": "civilian",
        "activity_id": "not-an-id",
    }
    f = tmp_path / "acc.geojson"
    feat = {"type": "Feature", "properties": acc, "geometry": pt(37.0, 48.0)}
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}), encoding="utf-8")
    issues = {}
    for role in ("analyst", "public"):
        r = _cli(store, "quality", "accidents", str(f), "--json", role=role)
        assert r.exit_code == 0, r.output
        q = json.loads(r.stdout)["features"][0]["quality"]
        issues[role] = [i for i in q["issues"] if i["field"] == "activity_id"]
    assert "not-an-id" in issues["analyst"][0]["message"]
    assert "not-an-id" not in issues["public"][0]["message"]
    assert issues["public"][0]["deduction"] == issues["analyst"][0]["deduction"] == 20
