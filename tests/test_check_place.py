"""`demine check` and GET /api/v1/safety/point (issue 12): places as people type them (negative
coordinates, "LAT,LON", --lat/--lon; a bad value named), and `--include eo_reports,accidents`:
what else was recorded near a place, a reason for caution, shown only as the role may read it.
Every test runs on both backends (the `store` fixture)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod
from typer.testing import CliRunner

from demine.api import create_app
from demine.cli.app import app
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.access import new_token
from demine.services.safety import ALSO_REPORTED, REPORTED, answer

GEOD = Geod(ellps="WGS84")
LAT, LON = 6.74, -73.47  # south of nothing, west of Greenwich: a negative longitude
SECRETS = ("SECRET-CONTACT-5521", "SECRET-NAME-5521", "SECRET-ACC-DESC", "SECRET-ORG", "SECRET-INV")


def _at(metres: float, azimuth: float = 0.0, lat: float = LAT, lon: float = LON) -> Any:
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return shapely.Point(x, y)


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def place(store: Any) -> Any:
    """Near (LAT, LON): a public EO report 200 m north (with a reporter's name and contact), a
    report not marked public 150 m east, a dismissed one 80 m south, an accident 300 m west
    (restricted fields set); far: a report 5 km and an accident 3 km away; a hazard 2 km away."""
    ids: dict[str, str] = {}

    def eo(key: str, geom: Any, **props: Any) -> Record:
        ids[key] = uuid7()
        base = {"reported_at": "2025-03-01T06:00:00Z", "status": "new", "description": key}
        return Record("eo_reports", ids[key], {**base, **props}, geom)

    reports = [
        eo(
            "public_near",
            _at(200, 0),
            public=True,
            reporter_name=SECRETS[1],
            reporter_contact=SECRETS[0],
        ),
        eo("hidden_near", _at(150, 90), public=False, reporter_contact=SECRETS[0]),
        eo("dismissed_near", _at(80, 180), public=True, status="dismissed"),
        eo("public_far", _at(5000, 45), public=True),
    ]
    ids["acc_near"], ids["acc_far"] = uuid7(), uuid7()
    accidents = [
        Record(
            "accidents",
            ids["acc_near"],
            {
                "occurred_at": "2024-06-01T10:00:00Z",
                "accident_type": "civilian",
                "device_category": "AP",
                "description": SECRETS[2],
                "organisation": SECRETS[3],
                "investigation": SECRETS[4],
            },
            _at(300, 270),
        ),
        Record(
            "accidents",
            ids["acc_far"],
            {"occurred_at": "2024-06-02T10:00:00Z", "accident_type": "demining"},
            _at(3000, 200),
        ),
    ]
    hz = _at(2000, 135).buffer(0.002)
    ids["hazard"] = uuid7()
    hazard = Record(
        "hazards",
        ids["hazard"],
        {"hazard_type": "SHA", "status": "open", "name": "far"},
        shapely.MultiPolygon([hz]),
    )
    store.upsert("eo_reports", reports, actor="t")
    store.upsert("accidents", accidents, actor="t")
    store.upsert("hazards", [hazard], actor="t")
    tokens: dict[str, dict[str, str]] = {"public": {}}
    for role in ("field", "analyst"):
        store.add_user(f"u_{role}", role)
        token, h = new_token()
        store.add_token(f"u_{role}", h)
        tokens[role] = {"Authorization": f"Bearer {token}"}
    store.close()
    return store.location, ids, tokens


# --- places as people type them -----------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        ["6.74", "-73.47"],
        ["6.74,-73.47"],
        ["6.74,", "-73.47"],  # "6.74, -73.47" typed without quotes
        ["--lat", "6.74", "--lon", "-73.47"],
        ["--lat=6.74", "--lon=-73.47"],
        ["--lon", "-73.47", "--lat", "6.74"],
    ],
)
def test_cli_place_forms_and_negative_coordinates(place: Any, form: list[str]) -> None:
    db, ids, _ = place
    r = _run("--db", db, "check", *form, "--radius", "2500", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["lat"], out["lon"]) == (LAT, LON)
    assert [h["id"] for h in out["hazards"]] == [ids["hazard"]]  # the sign was kept


def test_cli_negative_latitude_and_both_signs(place: Any) -> None:
    db, ids, _ = place
    r = _run("--db", db, "check", "-6.74", "-73.47", "--radius", "2500", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["lat"], out["lon"]) == (-6.74, -73.47) and out["hazards"] == []
    r = _run("--db", db, "check", "6.74", "73.47", "--radius", "2500", "--json")
    assert json.loads(r.stdout)["hazards"] == []  # the mirror place: nothing there


@pytest.mark.parametrize(
    "args,field,words",
    [
        (["95", "-73.47"], "LAT", "-90..90"),
        (["6.74", "-190"], "LON", "-180..180"),
        (["6.7x", "-73.47"], "LAT", "not a number"),
        (["6.74", "abc"], "LON", "not a number"),
        (["6.74,-200"], "LAT,LON", "-180..180"),
        (["6.74"], "LAT", "a latitude and a longitude"),
        (["6.74", "-73.47", "5"], "LAT", "a latitude and a longitude"),
        (["--lat", "-91", "--lon", "-73.47"], "--lat", "-90..90"),
        (["--lat", "6.74", "--lon", "nan"], "--lon", "-180..180"),
        (["--lat", "6.74"], "--lon", "missing"),
        (["6.74", "-73.47", "--lat", "6"], "--lat/--lon", "twice"),
        (["6.74", "-73.47", "--radus", "5"], "--radus", "no such option"),
        (["6.74", "-73.47", "--include", "victims"], "--include", "eo_reports or accidents"),
        (["-100.5", "6.74"], "LAT", "swapped"),
    ],
)
def test_cli_bad_values_are_named(place: Any, args: list[str], field: str, words: str) -> None:
    db, _, _ = place
    r = _run("--db", db, "check", *args, "--json")
    assert r.exit_code == 1, r.output
    errors = json.loads(r.stdout)["error"]["errors"]
    assert any(e["field"] == field and words in e["reason"] for e in errors), errors
    r = _run("--db", db, "check", *args)  # and for people, on stderr
    assert r.exit_code == 1 and f"'{field}'" in r.output and words in r.output


def test_cli_bad_place_is_named_before_the_store(tmp_path: Any) -> None:
    r = _run("--db", str(tmp_path / "none.gpkg"), "check", "6.74", "-273.47")
    assert r.exit_code == 1 and "-180..180" in r.output


# --- --include ------------------------------------------------------------------------------------


def test_cli_include_finds_near_reports_and_accidents(place: Any) -> None:
    db, ids, _ = place
    r = _run("--db", db, "check", "6.74", "-73.47", "--json")
    plain = json.loads(r.stdout)
    assert plain["warning_level"] == "none" and "eo_reports" not in plain
    r = _run("--db", db, "check", "6.74", "-73.47", "--include", "eo_reports,accidents", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["hazards"] == []
    # analyst: every report but the dismissed one, nearest first; nothing far
    assert [e["id"] for e in out["eo_reports"]] == [ids["hidden_near"], ids["public_near"]]
    assert [a["id"] for a in out["accidents"]] == [ids["acc_near"]]
    assert out["eo_reports"][1]["distance_m"] == pytest.approx(200, abs=1)
    assert out["accidents"][0]["distance_m"] == pytest.approx(300, abs=1)
    assert out["accidents"][0]["accident_type"] == "civilian"
    assert out["accidents"][0]["occurred_at"].startswith("2024-06-01")
    assert out["eo_reports"][1]["reported_at"].startswith("2025-03-01")
    assert out["warning_level"] == "caution"
    assert (out["message"], out["message_uk"]) == REPORTED
    assert "not a confirmed hazard" in out["message"]
    assert out["reasons"] == ["eo_reports", "accidents"]
    assert out["counts"] == {"hazards": 0, "eo_reports": 2, "accidents": 1}
    assert {i["warning_level"] for i in out["eo_reports"] + out["accidents"]} == {"caution"}
    # reporters never, for any role, in a safety answer
    assert SECRETS[0] not in r.stdout and SECRETS[1] not in r.stdout
    # one kind only; the far ones come in with a wider radius
    r = _run("--db", db, "check", "6.74,-73.47", "--include", "accidents", "--json")
    one = json.loads(r.stdout)
    assert "eo_reports" not in one and [a["id"] for a in one["accidents"]] == [ids["acc_near"]]
    r = _run(
        "--db", db, "check", "6.74,-73.47", "--include", "accidents", "--radius", "3500", "--json"
    )
    assert [a["id"] for a in json.loads(r.stdout)["accidents"]] == [ids["acc_near"], ids["acc_far"]]
    # the text output
    r = _run(
        "--db", db, "check", "6.74", "-73.47", "--include", "eo_reports", "--include", "accidents"
    )
    assert r.exit_code == 0, r.output
    assert "CAUTION" in r.output and "not a confirmed hazard" in r.output
    assert ids["public_near"] in r.output and ids["acc_near"] in r.output
    assert ids["public_far"] not in r.output and ids["dismissed_near"] not in r.output


def test_cli_include_public_role_sees_no_restricted_field(place: Any) -> None:
    db, ids, _ = place
    args = ["check", "6.74", "-73.47", "--include", "eo_reports,accidents"]
    r = _run("--db", db, "--role", "public", *args, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [e["id"] for e in out["eo_reports"]] == [ids["public_near"]]  # marked public only
    assert out["counts"]["eo_reports"] == 1
    assert "description" not in out["accidents"][0]
    for s in SECRETS:
        assert s not in r.stdout
    assert ids["hidden_near"] not in r.stdout
    r = _run("--db", db, "--role", "public", *args)
    assert r.exit_code == 0 and not any(s in r.output for s in SECRETS)
    # a field team reads what happened (but not the investigation)
    r = _run("--db", db, "--role", "field", *args, "--json")
    acc = json.loads(r.stdout)["accidents"][0]
    assert acc["description"] == SECRETS[2] and SECRETS[4] not in r.stdout


def test_public_level_does_not_betray_a_hidden_report(place: Any) -> None:
    """Near only the report not marked public: the public is told `none` (its warning level
    counts only what it may see), a field team `caution`."""
    db, ids, _ = place
    p = _at(150, 90)
    where = f"{p.y},{p.x}"
    pub = json.loads(
        _run(
            "--db",
            db,
            "--role",
            "public",
            "check",
            where,
            "--radius",
            "60",
            "--include",
            "eo_reports,accidents",
            "--json",
        ).stdout
    )
    assert pub["warning_level"] == "none" and pub["eo_reports"] == [] and pub["reasons"] == []
    field = json.loads(
        _run(
            "--db",
            db,
            "--role",
            "field",
            "check",
            where,
            "--radius",
            "60",
            "--include",
            "eo_reports",
            "--json",
        ).stdout
    )
    assert field["warning_level"] == "caution"
    assert [e["id"] for e in field["eo_reports"]] == [ids["hidden_near"]]


def test_answer_keeps_a_hazards_level_and_adds_the_reports() -> None:
    hits = [{"id": "h", "distance_m": 40.0}]
    nearby = {"eo_reports": [{"id": "e", "distance_m": 10.0}], "counts": {"eo_reports": 1}}
    told = answer(hits, 500.0, False, {}, nearby)
    assert told["warning_level"] == "danger"  # a report never lowers nor replaces it
    assert told["message"].endswith(ALSO_REPORTED[0])
    assert told["message_uk"].endswith(ALSO_REPORTED[1])
    assert told["reasons"] == ["hazards", "eo_reports"]
    none = answer([], 500.0, False, {}, {"eo_reports": [], "counts": {"eo_reports": 0}})
    assert none["warning_level"] == "none" and none["reasons"] == []


# --- the HTTP twin ---------------------------------------------------------------------------


def test_http_include_and_roles(place: Any) -> None:
    db, ids, tokens = place
    client = TestClient(create_app(db))
    q = {"lat": LAT, "lon": LON, "include": "eo_reports,accidents"}
    r = client.get("/api/v1/safety/point", params=q)
    assert r.status_code == 200, r.text
    pub = r.json()
    assert pub["warning_level"] == "caution" and pub["message"] == REPORTED[0]
    assert [e["id"] for e in pub["eo_reports"]] == [ids["public_near"]]
    assert [a["id"] for a in pub["accidents"]] == [ids["acc_near"]]
    assert "description" not in pub["accidents"][0]
    for s in SECRETS:
        assert s not in r.text
    assert ids["hidden_near"] not in r.text and "geometry" not in r.text
    assert r.headers["cache-control"] == "public, max-age=60"
    # a field token: every report near, the accident's description; private to its caller
    r = client.get("/api/v1/safety/point", params=q, headers=tokens["field"])
    f = r.json()
    assert [e["id"] for e in f["eo_reports"]] == [ids["hidden_near"], ids["public_near"]]
    assert f["accidents"][0]["description"] == SECRETS[2]
    assert SECRETS[0] not in r.text and SECRETS[4] not in r.text
    assert r.headers["cache-control"].startswith("private")
    assert "authorization" in r.headers["vary"].lower()
    # the CLI tells the same
    cli = json.loads(
        _run(
            "--db",
            db,
            "--role",
            "field",
            "check",
            "6.74",
            "-73.47",
            "--include",
            "eo_reports,accidents",
            "--json",
        ).stdout
    )
    for k in ("warning_level", "message", "message_uk", "eo_reports", "accidents", "counts"):
        assert cli[k] == f[k], k
    # without include: the answer as before
    plain = client.get("/api/v1/safety/point", params={"lat": LAT, "lon": LON}).json()
    assert plain["warning_level"] == "none" and "eo_reports" not in plain
    # far ones only with a wider radius (capped as before)
    wide = client.get("/api/v1/safety/point", params={**q, "radius": 5500}).json()
    assert {e["id"] for e in wide["eo_reports"]} == {ids["public_near"], ids["public_far"]}
    assert ids["hazard"] in {h["id"] for h in wide["hazards"]}
    assert wide["message"].endswith(ALSO_REPORTED[0])


@pytest.mark.parametrize(
    "params,name",
    [
        ({"lat": 6.74, "lon": -190}, "lon"),
        ({"lat": -91, "lon": -73.47}, "lat"),
        ({"lat": 6.74, "lon": -73.47, "radius": 100_001, "include": "accidents"}, "radius"),
        ({"lat": 6.74, "lon": -73.47, "include": "victims"}, "include"),
        ({"lat": 6.74, "lon": -73.47, "include": "eo_reports,hazardz"}, "include"),
    ],
)
def test_http_bad_values_are_named(place: Any, params: dict[str, Any], name: str) -> None:
    db, _, _ = place
    r = TestClient(create_app(db)).get("/api/v1/safety/point", params=params)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert name in r.text


def test_http_negative_coordinates(place: Any) -> None:
    db, ids, _ = place
    client = TestClient(create_app(db))
    r = client.get("/api/v1/safety/point", params={"lat": LAT, "lon": LON, "radius": 2500})
    assert r.status_code == 200 and [h["id"] for h in r.json()["hazards"]] == [ids["hazard"]]


def test_nearby_lists_are_capped_and_counted(place: Any) -> None:
    """At most MAX_NEARBY items of each kind (here 1), nearest first; `counts` gives all."""
    from demine.services.safety_nearby import MAX_NEARBY, check_nearby
    from demine.store.open import open_store

    db, ids, _ = place
    s = open_store(db)
    try:
        out = check_nearby(s, LAT, LON, 6000, ("eo_reports",), "analyst", limit=1)
        assert [e["id"] for e in out["eo_reports"]] == [ids["hidden_near"]]
        assert out["counts"] == {"eo_reports": 3}
        full = check_nearby(s, LAT, LON, 6000, ("eo_reports",), "analyst")
        assert len(full["eo_reports"]) == 3 <= MAX_NEARBY
    finally:
        s.close()
    r = _run("--db", db, "check", "6.74,-73.47", "--radius", "6000", "--include", "eo_reports")
    assert r.exit_code == 0 and "(unconfirmed, a reason for caution)" in r.output
