"""Land release (IMAS 07.11): accounts, the cross-record rules on every write path (import, CLI
update, OGC API), closure, hand-over, the certificate, the CLI and the demo. Every test that
takes `store` runs on GeoPackage and PostGIS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from pyproj import Geod
from typer.testing import CliRunner

from demine.cli.app import app
from demine.demo.release import demo_release
from demine.errors import Conflict, PermissionDenied, ValidationError
from demine.services.certificate import certificate_html
from demine.services.register import ImportOptions, import_file, update_record
from demine.services.release import (
    accounts,
    check_write,
    close_hazard,
    hand_over,
    hazard_account,
    remaining_geometries,
)

GEOD = Geod(ellps="WGS84")
# the hazard: 0.004° x 0.003° near Donetsk (about 298 m x 334 m)
X0, Y0 = 37.80, 48.00
HAZARD = shapely.box(X0, Y0, X0 + 0.004, Y0 + 0.003)
R1 = shapely.box(X0, Y0, X0 + 0.002, Y0 + 0.003)  # west half
R2 = shapely.box(X0 + 0.0015, Y0, X0 + 0.003, Y0 + 0.002)  # overlaps R1 by 0.0005 x 0.002
R3 = shapely.box(X0 + 0.0035, Y0 + 0.001, X0 + 0.005, Y0 + 0.003)  # 2/3 of it outside


def geodesic(g: Any) -> float:
    """The independent figure: pyproj's ellipsoidal area of the polygon, its edges densified
    along straight CRS84 lines (as the account takes them)."""
    if g.is_empty:
        return 0.0
    return abs(GEOD.geometry_area_perimeter(shapely.segmentize(g, 1e-5))[0])


def close_to(a: float, b: float) -> bool:
    # the account's equal-area plane vs pyproj's ellipsoidal area: 1e-6 of the hazard
    return abs(a - b) <= 1e-6 * geodesic(HAZARD) + 0.05


def _write(tmp: Path, name: str, features: list[dict[str, Any]]) -> Path:
    p = tmp / f"{name}-{uuid.uuid4().hex[:6]}.geojson"
    p.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    return p


def _feature(fid: str, props: dict[str, Any], geom: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "properties": props,
        "geometry": None if geom is None else shapely.geometry.mapping(geom),
    }


def _import(store: Any, tmp: Path, kind: str, feats: list[dict[str, Any]], **kw: Any) -> Any:
    return import_file(store, _write(tmp, kind, feats), ImportOptions(kind=kind, **kw))


def _hazard(store: Any, tmp: Path, sid: str = "H-1", name: str = "Field by the road") -> str:
    props = {
        "hazard_type": "CHA",
        "status": "open",
        "name": name,
        "reference": sid,
        "reported_on": "2023-05-01",
        "admin_area": "Донецька область",
    }
    _import(store, tmp, "hazards", [_feature(sid, props, HAZARD)])
    return str(next(r.id for r in store.list("hazards") if r.source_id == sid))


def _activity(sid: str, hazard_sid: str, atype: str, status: str, **more: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "hazard_source_id": hazard_sid,
        "activity_type": atype,
        "status": status,
        "organisation": "Operator <A> & Sons",
        "method": "manual",
        "depth_cm": 20,
    }
    if status in ("ongoing", "completed"):
        props["started_on"] = "2024-01-02"
    if status == "completed":
        props["completed_on"] = "2024-03-31"
    props.update(more)
    return _feature(sid, props, HAZARD)


def _release(sid: str, act_sid: str, rtype: str, on: str, geom: Any) -> dict[str, Any]:
    props = {"activity_source_id": act_sid, "release_type": rtype, "released_on": on}
    return _feature(sid, props, geom)


def _by_source(store: Any, kind: str) -> dict[str, Any]:
    return {r.source_id: r for r in store.list(kind)}


@pytest.fixture
def worked(store: Any, tmp_path: Path) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """A hazard, its NTS, TS and clearance (completed, completed, ongoing), a planned clearance
    and a QA/QC, and the three acceptance releases."""
    hid = _hazard(store, tmp_path)
    _import(
        store,
        tmp_path,
        "activities",
        [
            _activity("A-NTS", "H-1", "non_technical_survey", "completed"),
            _activity("A-TS", "H-1", "technical_survey", "completed"),
            _activity("A-CL", "H-1", "clearance", "ongoing"),
            _activity("A-PLAN", "H-1", "clearance", "planned"),
            _activity("A-QA", "H-1", "qa_qc", "ongoing"),
        ],
    )
    _import(
        store,
        tmp_path,
        "releases",
        [
            _release("L-1", "A-NTS", "cancelled", "2024-02-01", R1),
            _release("L-2", "A-TS", "reduced", "2024-03-01", R2),
            _release("L-3", "A-CL", "cleared", "2024-04-01", R3),
        ],
    )
    ids = {k: r.id for k, r in _by_source(store, "activities").items()}
    ids.update({k: r.id for k, r in _by_source(store, "releases").items()})
    yield store, hid, ids


# --- the acceptance case ------------------------------------------------------------------


def test_acceptance_overlap_and_outside(
    worked: tuple[Any, str, dict[str, Any]],
) -> None:
    store, hid, ids = worked
    acc = hazard_account(store, hid)
    clipped = [r & HAZARD for r in (R1, R2, R3)]
    union = shapely.union_all(clipped)
    assert close_to(acc["area_m2"], geodesic(HAZARD))
    # the released total is the area of the union of the clipped releases (overlap once)
    assert close_to(acc["released_m2"], geodesic(union))
    assert acc["released_m2"] < sum(geodesic(c) for c in clipped) - 1000  # not counted twice
    # remaining = geodesic area of the difference
    assert close_to(acc["remaining_m2"], geodesic(HAZARD - union))
    assert close_to(acc["released_m2"] + acc["remaining_m2"], acc["area_m2"])
    # the overlap: L-2 repeats part of L-1
    assert [(o["release_id"], o["with"]) for o in acc["overlaps"]] == [(ids["L-2"], [ids["L-1"]])]
    assert close_to(acc["overlaps"][0]["overlap_m2"], geodesic(R1 & R2))
    # the outside part of L-3
    assert [o["release_id"] for o in acc["outside"]] == [ids["L-3"]]
    assert close_to(acc["outside"][0]["outside_m2"], geodesic(R3 - HAZARD))
    by = acc["by_type"]
    assert close_to(by["cancelled"], geodesic(R1))
    assert close_to(by["reduced"], geodesic(R2 - R1))
    assert close_to(by["cleared"], geodesic(R3 & HAZARD))
    # the remaining polygon, as geometry
    rem = shapely.geometry.shape(acc["remaining"])
    assert close_to(geodesic(rem), geodesic(HAZARD - union))
    expected = HAZARD - union  # the same polygon, to about a millimetre (1e-8 degree)
    assert rem.within(expected.buffer(1e-8)) and expected.within(rem.buffer(1e-8))
    assert not acc["can_close"]
    # the release records: hazard_id taken from the activity, area as recorded
    rel = store.get("releases", ids["L-3"])
    assert rel.properties["hazard_id"] == hid
    assert abs(rel.properties["area_m2"] - geodesic(R3)) < 1e-5 * geodesic(R3) + 0.05


def test_accounts_all_hazards_until_a_date(worked: tuple[Any, str, dict[str, Any]]) -> None:
    store, hid, _ = worked
    full = accounts(store)[hid]
    early = accounts(store, until=date(2024, 2, 15))[hid]
    assert close_to(early.released_m2, geodesic(R1))
    assert full.released_m2 > early.released_m2
    rem = remaining_geometries(store)
    assert close_to(geodesic(rem[hid]), full.remaining_m2)


# --- the rules, on every write path -------------------------------------------------------


def test_import_rules_and_atomic_release_import(
    worked: tuple[Any, str, dict[str, Any]], tmp_path: Path
) -> None:
    store, hid, ids = worked
    n = store.count("releases")
    bad = [
        _release("L-10", "A-NTS", "cancelled", "2024-02-02", R1),  # good
        _release("L-11", "A-TS", "cancelled", "2024-02-02", R1),  # TS cannot cancel
        _release("L-12", "A-PLAN", "cleared", "2024-02-02", R1),  # planned activity
        _release("L-13", "A-QA", "cleared", "2024-02-02", R1),  # QA/QC releases nothing
        _release("L-14", "A-NONE", "cleared", "2024-02-02", R1),  # unknown source id
        _feature(
            "L-15",
            {
                "activity_id": str(uuid.uuid4()),
                "release_type": "cleared",
                "released_on": "2024-02-02",
            },
            R1,
        ),  # unknown activity id
        _release("L-16", "A-NTS", "cancelled", "2023-12-01", R1),  # before the NTS started
    ]
    with pytest.raises(ValidationError) as e:
        _import(store, tmp_path, "releases", bad)
    assert store.count("releases") == n  # nothing half-stored
    where = {(f.index, f.field) for f in e.value.faults}
    assert (1, "release_type") in where
    assert (2, "activity_id") in where
    assert (3, "activity_id") in where
    assert (4, "activity_source_id") in where
    assert (5, "activity_id") in where
    assert (6, "released_on") in where
    assert not any(f.index == 0 for f in e.value.faults)
    reasons = " | ".join(f.reason for f in e.value.faults)
    assert "planned" in reasons and "QA/QC" in reasons and "technical survey" in reasons
    assert all(f.feature_id for f in e.value.faults if f.field != "activity_source_id")
    # --skip-invalid stores the good one only
    rep = _import(store, tmp_path, "releases", bad, skip_invalid=True)
    assert rep.created == 1 and store.count("releases") == n + 1
    # a release given a wrong hazard_id gets its activity's
    other = _hazard(store, tmp_path, "H-2", "other")
    feat = _release("L-20", "A-NTS", "cancelled", "2024-02-03", R1)
    feat["properties"]["hazard_id"] = other
    _import(store, tmp_path, "releases", [feat])
    assert _by_source(store, "releases")["L-20"].properties["hazard_id"] == hid
    # an activity on an unknown hazard
    with pytest.raises(ValidationError) as e2:
        _import(
            store,
            tmp_path,
            "activities",
            [_activity("A-X", "H-1", "clearance", "planned", hazard_id=str(uuid.uuid4()))]
            + [
                _feature(
                    "A-Y",
                    {
                        "hazard_id": str(uuid.uuid4()),
                        "activity_type": "clearance",
                        "status": "planned",
                        "organisation": "x",
                    },
                    HAZARD,
                )
            ],
        )
    assert {(f.index, f.field) for f in e2.value.faults} == {(1, "hazard_id")}


def test_update_rules(worked: tuple[Any, str, dict[str, Any]]) -> None:
    store, hid, ids = worked
    # a release moved to a planned activity, or a type its activity cannot make
    with pytest.raises(ValidationError) as e:
        update_record(store, ids["L-3"], {"activity_id": ids["A-PLAN"]})
    assert e.value.faults[0].field == "activity_id"
    with pytest.raises(ValidationError) as e:
        update_record(store, ids["L-3"], {"release_type": "reduced"})
    assert e.value.faults[0].field == "release_type"
    # an activity that made releases keeps its hazard and type, and stays under way
    with pytest.raises(ValidationError) as e:
        update_record(
            store, ids["A-TS"], {"status": "planned", "started_on": None, "completed_on": None}
        )
    assert e.value.faults[0].field == "status"
    with pytest.raises(ValidationError) as e:
        update_record(store, ids["A-TS"], {"activity_type": "clearance"})
    assert e.value.faults[0].field == "activity_type"
    with pytest.raises(ValidationError) as e:
        update_record(store, ids["A-NTS"], {"hazard_id": str(uuid.uuid4())})
    assert e.value.faults[0].field == "hazard_id"
    # an activity without releases may change
    update_record(store, ids["A-PLAN"], {"activity_type": "technical_survey"})
    # a release moved to another activity takes that activity's hazard
    r = update_record(store, ids["L-1"], {"activity_id": ids["A-TS"], "release_type": "reduced"})
    assert r.properties["hazard_id"] == hid and r.properties["release_type"] == "reduced"


def test_cli_update_refuses_a_bad_release(worked: tuple[Any, str, dict[str, Any]]) -> None:
    store, _, ids = worked
    before = store.get("releases", ids["L-2"]).revision
    r = CliRunner().invoke(
        app,
        ["--db", store.location, "update", ids["L-2"], f"activity_id={ids['A-QA']}", "--json"],
    )
    assert r.exit_code == 1, r.output
    err = orjson.loads(r.stdout)["error"]
    assert "QA/QC" in orjson.dumps(err).decode()
    store.close()
    assert store.get("releases", ids["L-2"]).revision == before


def test_ogc_api_writes(worked: tuple[Any, str, dict[str, Any]]) -> None:
    from fastapi.testclient import TestClient

    from demine.api.app import create_app
    from demine.services.access import new_token

    store, hid, ids = worked
    store.add_user("ana", "analyst")
    token, h = new_token()
    store.add_token("ana", h)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"}
    geom = shapely.geometry.mapping(R2)
    with TestClient(create_app(store.location)) as client:

        def post(props: dict[str, Any]) -> Any:
            body = {"type": "Feature", "properties": props, "geometry": geom}
            return client.post(
                "/ogc/collections/releases/items", content=orjson.dumps(body), headers=auth
            )

        n = store.count("releases")
        bad = post(
            {"activity_id": ids["A-PLAN"], "release_type": "cleared", "released_on": "2024-05-01"}
        )
        assert bad.status_code == 422, bad.text
        assert {x["field"] for x in bad.json()["errors"]} == {"activity_id"}
        bad = post(
            {"activity_id": ids["A-TS"], "release_type": "cleared", "released_on": "2024-05-01"}
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "release_type"
        bad = post(
            {
                "activity_id": str(uuid.uuid4()),
                "release_type": "cleared",
                "released_on": "2024-05-01",
            }
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "activity_id"
        assert store.count("releases") == n
        ok = post(
            {
                "activity_id": ids["A-CL"],
                "release_type": "cleared",
                "released_on": "2024-05-01",
                "hazard_id": str(uuid.uuid4()),
            }
        )
        assert ok.status_code == 201, ok.text
        assert ok.json()["properties"]["hazard_id"] == hid  # derived from the activity
        # PATCH a release onto a QA/QC activity; PUT an activity back to planned
        url = f"/ogc/collections/releases/items/{ids['L-2']}"
        patch = client.patch(
            url,
            content=orjson.dumps({"properties": {"activity_id": ids["A-QA"]}}),
            headers={**auth, "Content-Type": "application/merge-patch+json"},
        )
        assert patch.status_code == 422 and patch.json()["errors"][0]["field"] == "activity_id"
        # closing the hazard through the API is refused while land remains
        hz = client.get(f"/ogc/collections/hazards/items/{hid}").json()
        put = {
            **hz,
            "properties": {**hz["properties"], "status": "closed", "closed_on": "2024-06-01"},
        }
        r = client.put(
            f"/ogc/collections/hazards/items/{hid}", content=orjson.dumps(put), headers=auth
        )
        assert r.status_code == 422, r.text
        errs = r.json()["errors"]
        assert all(x["field"] == "status" for x in errs)
        assert any("remain unreleased" in x["reason"] for x in errs)
        # the collections exist
        assert client.get("/ogc/collections/activities/items").status_code == 200
    assert store.get("hazards", hid).properties["status"] == "open"


def test_references_of_accidents_and_victims(store: Any, tmp_path: Path) -> None:
    from demine.model.schema import Record

    hid = _hazard(store, tmp_path)
    acc = {
        "occurred_at": "2024-01-01T10:00:00Z",
        "accident_type": "civilian",
        "hazard_id": str(uuid.uuid4()),
    }
    with pytest.raises(ValidationError) as e:
        _import(store, tmp_path, "accidents", [_feature("AC-1", acc, shapely.Point(X0, Y0))])
    assert e.value.faults[0].field == "hazard_id"
    acc["hazard_id"] = hid
    _import(store, tmp_path, "accidents", [_feature("AC-1", acc, shapely.Point(X0, Y0))])
    aid = _by_source(store, "accidents")["AC-1"].id
    faults = check_write(
        store,
        "victims",
        [
            Record(
                "victims",
                "",
                {"accident_id": str(uuid.uuid4()), "sex": "male", "outcome": "injured"},
            ),
            Record("victims", "", {"accident_id": aid, "sex": "male", "outcome": "injured"}),
        ],
        source="v.csv",
    )
    assert [(f.index, f.field) for f in faults] == [(0, "accident_id")]
    # accident_id given by the accident's source id
    v = {"accident_source_id": "AC-1", "sex": "female", "outcome": "injured"}
    _import(store, tmp_path, "victims", [_feature("V-1", v, None)])
    assert _by_source(store, "victims")["V-1"].properties["accident_id"] == aid


# --- closure, hand-over ---------------------------------------------------------------------


def test_closure_refused_with_reasons_then_allowed(store: Any, tmp_path: Path) -> None:
    hid = _hazard(store, tmp_path)
    west = shapely.box(X0, Y0, X0 + 0.002, Y0 + 0.003)
    east = shapely.box(X0 + 0.002, Y0, X0 + 0.004, Y0 + 0.003)
    _import(
        store,
        tmp_path,
        "activities",
        [
            _activity("N", "H-1", "non_technical_survey", "completed"),
            _activity("C", "H-1", "clearance", "ongoing"),
        ],
    )
    _import(store, tmp_path, "releases", [_release("W", "N", "cancelled", "2024-02-01", west)])
    with pytest.raises(Conflict) as e:
        close_hazard(store, hid, "2024-06-01")
    assert "remain unreleased" in e.value.message
    _import(store, tmp_path, "releases", [_release("E", "C", "cleared", "2024-05-01", east)])
    acc = hazard_account(store, hid)
    assert acc["nothing_remains"] and acc["remaining_m2"] <= acc["tolerance_m2"]
    assert not acc["can_close"] and any("ongoing" in r for r in acc["reasons"])
    # the same refusal through update_record, with the field named
    with pytest.raises(ValidationError) as ev:
        update_record(store, hid, {"status": "closed", "closed_on": "2024-06-01"})
    assert {f.field for f in ev.value.faults} == {"status"}
    assert any("ongoing" in f.reason for f in ev.value.faults)
    # handed_over only from closed
    with pytest.raises(ValidationError):
        update_record(
            store,
            hid,
            {
                "status": "handed_over",
                "closed_on": "2024-06-01",
                "handed_over_to": "x",
                "handed_over_on": "2024-06-02",
            },
        )
    with pytest.raises(Conflict):
        hand_over(store, hid, "Village council", "2024-06-02")
    # the clearance completes
    cid = _by_source(store, "activities")["C"].id
    update_record(store, cid, {"status": "completed", "completed_on": "2024-05-20"})
    with pytest.raises(Conflict) as e:
        close_hazard(store, hid, "2024-05-10")  # before the last completion
    assert "before the last" in e.value.message
    assert hazard_account(store, hid)["can_close"]
    h = close_hazard(store, hid, date(2024, 6, 1), actor="olena", reason="completion report 7")
    assert h.properties["status"] == "closed" and h.properties["closed_on"] == "2024-06-01"
    assert store.history(hid)[-1].reason == "completion report 7"
    with pytest.raises(Conflict):
        close_hazard(store, hid, "2024-06-02")  # already closed
    h = hand_over(store, hid, "Village council of Demo", "2024-06-15", actor="olena")
    assert h.properties["status"] == "handed_over"
    assert h.properties["handed_over_to"] == "Village council of Demo"
    assert h.properties["handed_over_on"] == "2024-06-15"


def test_historic_closed_hazards_import_as_they_are(store: Any, tmp_path: Path) -> None:
    props = {"hazard_type": "SHA", "status": "closed", "closed_on": "2019-05-01"}
    rep = _import(store, tmp_path, "hazards", [_feature("OLD", props, HAZARD)])
    assert rep.created == 1  # legacy data: no releases, still recorded closed


# --- the certificate ------------------------------------------------------------------------


def test_certificate(store: Any, tmp_path: Path) -> None:
    hid = _hazard(store, tmp_path, name="<script>alert('x')</script> & field")
    _import(
        store,
        tmp_path,
        "activities",
        [
            _activity("N", "H-1", "non_technical_survey", "completed"),
            _activity("C", "H-1", "clearance", "completed", method="manual,mechanical"),
        ],
    )
    west = shapely.box(X0, Y0, X0 + 0.001, Y0 + 0.003)
    _import(
        store,
        tmp_path,
        "releases",
        [
            _release("W", "N", "cancelled", "2024-02-01", west),
            _release("E", "C", "cleared", "2024-03-01", HAZARD - west),
        ],
    )
    with pytest.raises(Conflict):
        certificate_html(store, hid)  # open
    # restricted data that must never reach a certificate
    _import(
        store,
        tmp_path,
        "accidents",
        [
            _feature(
                "AC",
                {
                    "occurred_at": "2024-01-01T10:00:00Z",
                    "accident_type": "civilian",
                    "hazard_id": hid,
                },
                shapely.Point(X0 + 0.001, Y0 + 0.001),
            )
        ],
    )
    victim = {
        "accident_source_id": "AC",
        "sex": "male",
        "outcome": "injured",
        "name": "Secret Victim Name",
        "contact": "+380-VICTIM",
    }
    _import(store, tmp_path, "victims", [_feature("V", victim, None)])
    _import(
        store,
        tmp_path,
        "eo_reports",
        [
            _feature(
                str(uuid.uuid4()),
                {
                    "reported_at": "2024-01-01T10:00:00Z",
                    "status": "new",
                    "reporter_name": "Secret Reporter",
                    "reporter_contact": "+380-REPORTER",
                },
                shapely.Point(X0 + 0.001, Y0 + 0.001),
            )
        ],
    )
    _import(
        store,
        tmp_path,
        "finds",
        [
            _feature(
                "F1",
                {
                    "device_type": "apii-limit",
                    "state": "live",
                    "found_at": "2024-02-20T10:00:00Z",
                    "hazard_source_id": "H-1",
                },
                shapely.Point(X0 + 0.003, Y0 + 0.001),
            )
        ],
    )
    close_hazard(store, hid, "2024-04-01")
    hand_over(store, hid, "Громада <Demo>", "2024-04-10")
    html = certificate_html(store, hid)
    assert html.startswith("<!DOCTYPE html>") and "@media print" in html and "<svg" in html
    assert (
        "<script>" not in html
        and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; field" in html  # Jinja2 escape
    )
    assert "Громада &lt;Demo&gt;" in html and "Operator &lt;A&gt; &amp; Sons" in html
    assert f"{geodesic(HAZARD):,.1f}"[:-2] in html  # the original area, to 0.1 m²
    assert f"{geodesic(west):,.1f}"[:-2] in html
    for who in ("Operator", "National mine action authority", "Receiving community / land user"):
        assert who in html
    assert "apii-limit" in html and "live" in html
    for secret in ("Secret Victim Name", "+380-VICTIM", "Secret Reporter", "+380-REPORTER"):
        assert secret not in html
    assert "SYNTHETIC" not in html
    store.set_setting("synthetic", True)
    assert "SYNTHETIC DEMO DATA" in certificate_html(store, hid)


# --- the CLI --------------------------------------------------------------------------------


def test_cli_release_commands(store: Any, tmp_path: Path) -> None:
    hid = _hazard(store, tmp_path)
    _import(
        store,
        tmp_path,
        "activities",
        [
            _activity("C", "H-1", "clearance", "completed"),
        ],
    )
    _import(
        store,
        tmp_path,
        "releases",
        [
            _release("A", "C", "cleared", "2024-02-01", R1),
            _release("B", "C", "cleared", "2024-02-02", HAZARD | R3),  # all of it, and outside
        ],
    )
    db = ["--db", store.location]
    run = CliRunner().invoke
    r = run(app, [*db, "release", "status", hid, "--json"])
    assert r.exit_code == 0, r.output
    d = orjson.loads(r.stdout)
    assert d["can_close"] and d["remaining_m2"] == 0.0 and len(d["overlaps"]) == 1
    assert len(d["outside"]) == 1 and close_to(d["by_type"]["cleared"], geodesic(HAZARD))
    assert "handed_over_to" in d
    r = run(app, [*db, "--role", "public", "release", "status", hid, "--json"])
    assert "handed_over_to" not in orjson.loads(r.stdout)
    r = run(app, [*db, "release", "status", hid])
    assert r.exit_code == 0 and "can close: yes" in r.output and "outside" in r.output
    assert run(app, [*db, "release", "certificate", hid]).exit_code == 4  # still open
    r = run(app, [*db, "release", "close", hid, "--on", "2024-01-01", "--json"])
    assert r.exit_code == 4  # before the releases
    r = run(app, [*db, "release", "close", hid, "--on", "2024-05-01", "--json"])
    assert r.exit_code == 0 and orjson.loads(r.stdout)["status"] == "closed"
    r = run(
        app,
        [
            *db,
            "release",
            "handover",
            hid,
            "--to",
            "Village council",
            "--on",
            "2024-05-02",
            "--json",
        ],
    )
    assert r.exit_code == 0 and orjson.loads(r.stdout)["status"] == "handed_over"
    out = tmp_path / "cert.html"
    r = run(app, [*db, "release", "certificate", hid, "-o", str(out)])
    assert r.exit_code == 0 and "Village council" in out.read_text()
    # the certificate names who received the land: below analyst it is refused, in every face
    for role in ("public", "field", "victim_assistance"):
        r = run(app, [*db, "--role", role, "release", "certificate", hid])
        assert r.exit_code == 5 and "Village council" not in r.output, role
        with pytest.raises(PermissionDenied):
            certificate_html(store, hid, role=role)
    pub = hazard_account(store, hid, role="public")
    assert "handed_over_to" not in pub and pub["status"] == "handed_over"
    assert hazard_account(store, hid, role="analyst")["handed_over_to"] == "Village council"
    assert run(app, [*db, "release", "status", "not-an-id"]).exit_code == 1
    assert run(app, [*db, "release", "status", str(uuid.uuid4())]).exit_code == 3


# --- migration of the hand-over columns -----------------------------------------------------


def test_hand_over_columns_migrate(store: Any, tmp_path: Path) -> None:
    from demine.store.open import open_store

    hid = _hazard(store, tmp_path)
    if store.location.startswith("postgresql"):
        for c in ("handed_over_to", "handed_over_on"):
            store.conn.execute(f"ALTER TABLE hazards DROP COLUMN {c}")
        store.conn.execute("UPDATE demine_schema SET version = 1")
    else:
        for c in ("handed_over_to", "handed_over_on"):
            store.conn.execute(f"ALTER TABLE hazards DROP COLUMN {c}")
        store.conn.execute("UPDATE demine_settings SET value = '3' WHERE key = 'schema_version'")
        store.conn.commit()
    store.close()
    s2 = open_store(store.location)
    try:
        assert s2.get("hazards", hid).properties["status"] == "open"  # migrated on open
        update_record(s2, hid, {"status": "closed", "closed_on": "2024-01-01"})  # no releases:
    except ValidationError as e:  # refused, as it should be; the columns are back anyway
        assert e.faults[0].field == "status"
    s2.close()
    s3 = open_store(store.location)
    assert "handed_over_to" in s3.kind("hazards").field_names
    assert s3.get("hazards", hid).properties.get("handed_over_to") is None
    s3.close()


# --- the demo -------------------------------------------------------------------------------


def test_demo_release(tmp_path: Path) -> None:
    from demine.demo import build_demo_store
    from demine.store.gpkg import GeoPackageStore

    db = tmp_path / "demo.gpkg"
    build_demo_store(db)
    s = GeoPackageStore(db)
    out = demo_release(s, 7)
    assert out["activities"] > 40 and out["releases"] > 30
    assert len(out["closed"]) >= 1 and len(out["handed_over"]) == 1
    rel = out["released_m2"]
    assert rel["cancelled"] > rel["reduced"] > rel["cleared"] > 0
    statuses = {a.properties["status"] for a in s.list("activities")}
    assert statuses == {"planned", "ongoing", "completed"}
    assert {a.properties["activity_type"] for a in s.list("activities")} == {
        "non_technical_survey",
        "technical_survey",
        "clearance",
        "qa_qc",
    }
    assert all("SYNTHETIC" in a.properties["notes"] for a in s.list("activities"))
    accs = accounts(s)
    for h in s.list("hazards"):
        if h.properties["status"] != "open":  # every closed hazard is fully released
            a = hazard_account(s, h.id)
            assert a["nothing_remains"], (h.properties["name"], a["remaining_m2"])
            assert all(x["status"] == "completed" for x in a["activities"])
    cleared = next(h for h in s.list("hazards") if "(cleared)" in h.properties["name"])
    assert accs[cleared.id].remaining_m2 < 0.5
    assert any(a.overlaps for a in accs.values()) and any(a.outside for a in accs.values())
    handed = s.get("hazards", out["handed_over"][0])
    assert handed.properties["status"] == "handed_over"
    assert "SYNTHETIC DEMO DATA" in certificate_html(s, handed.id)
    s.close()
