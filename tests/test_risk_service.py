"""Residual risk through the store and the CLI: estimates, learning from clearance, and the
rule that no estimate changes a hazard's status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from typer.testing import CliRunner

from demine.cli.app import app
from demine.errors import PermissionDenied
from demine.ids import uuid7
from demine.model.schema import Record, format_datetime
from demine.services.records import WriteContext

run = CliRunner().invoke


def _json(args: list[str], code: int = 0) -> Any:
    r = run(app, args)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def _ago(days: float) -> str:
    return format_datetime(datetime.now(UTC) - timedelta(days=days))


@pytest.fixture
def cleared(store: Any) -> dict[str, Any]:
    """A cleared (closed) hazard with an emplacement record of 1,000 apii-limit devices laid
    300 days ago, and finds made 200 days after laying: 5 live, 20 deactivated but intact,
    50 self-destructed remnants."""
    h = Record(
        "hazards",
        uuid7(),
        {
            "hazard_type": "CHA",
            "status": "closed",
            "closed_on": datetime.now(UTC).date().isoformat(),
            "name": "cleared field",
        },
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    open_h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "open", "name": "open field"},
        shapely.MultiPolygon([shapely.box(37.1, 48.0, 37.11, 48.01)]),
    )
    bare = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "SHA", "status": "open", "name": "no record"},
        shapely.MultiPolygon([shapely.box(37.2, 48.0, 37.21, 48.01)]),
    )
    store.upsert("hazards", [h, open_h, bare], actor="t")
    e = Record(
        "emplacements",
        uuid7(),
        {
            "hazard_id": h.id,
            "device_type": "apii-limit",
            "quantity": 1000,
            "laid_at": _ago(300),
            "emplacing_method": "remote",
        },
        shapely.Point(37.005, 48.005),
    )
    e2 = Record(
        "emplacements",
        uuid7(),
        {
            "hazard_id": open_h.id,
            "device_type": "apii-limit",
            "quantity": 1000,
            "laid_at": _ago(10),
        },
        shapely.Point(37.105, 48.005),
    )
    store.upsert("emplacements", [e, e2], actor="t")
    finds = []
    for state, n in (("live", 5), ("deactivated_intact", 20), ("self_destructed_remnant", 50)):
        finds += [
            Record(
                "finds",
                uuid7(),
                {
                    "device_type": "apii-limit",
                    "state": state,
                    "found_at": _ago(100),
                    "emplacement_id": e.id,
                    "hazard_id": h.id,
                },
                shapely.Point(37.005, 48.005),
            )
            for _ in range(n)
        ]
    store.upsert("finds", finds, actor="t")
    act, rel = _clearance(h, shapely.box(37.0, 48.0, 37.01, 48.01))
    store.upsert("activities", [act], actor="t")
    store.upsert("releases", [rel], actor="t")
    store.close()
    return {
        "db": store.location,
        "hazard": h,
        "open": open_h,
        "bare": bare,
        "store": store,
        "emplacement": e,
        "release": rel,
        "activity": act,
    }


def _clearance(
    h: Record,
    geom: Any,
    *,
    activity_type: str = "clearance",
    release_type: str = "cleared",
    status: str = "completed",
) -> tuple[Record, Record]:
    """A completed activity on hazard ``h`` and a release of ``geom`` it made (on the store
    directly: hazard_id set as the write rules would)."""
    day = (datetime.now(UTC) - timedelta(days=150)).date().isoformat()
    end = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    act = Record(
        "activities",
        uuid7(),
        {
            "hazard_id": h.id,
            "activity_type": activity_type,
            "status": status,
            "organisation": "op",
            "started_on": day,
            **({"completed_on": end} if status == "completed" else {}),
        },
        None,
    )
    rel = Record(
        "releases",
        uuid7(),
        {
            "activity_id": act.id,
            "hazard_id": h.id,
            "release_type": release_type,
            "released_on": end,
        },
        shapely.MultiPolygon([geom]),
    )
    return act, rel


def test_estimate_at_the_treaty_limits(tmp_path: Path) -> None:
    db = str(tmp_path / "s.gpkg")
    assert run(app, ["--db", db, "init"]).exit_code == 0
    out = _json(
        [
            "--db",
            db,
            "risk",
            "estimate",
            "--device-type",
            "apii-limit",
            "--quantity",
            "1000",
            "--days",
            "120",
            "--json",
        ]
    )
    assert out["expected_live"] == pytest.approx(1.0, abs=0.05)
    assert out["p_any_live"] == pytest.approx(0.632, abs=0.01)
    assert out["expected_live_p05"] < out["expected_live"] < out["expected_live_p95"]
    assert any("treaty limits, not field data" in a for a in out["assumptions"])
    day30 = _json(
        [
            "--db",
            db,
            "risk",
            "estimate",
            "--device-type",
            "apii-limit",
            "--quantity",
            "1000",
            "--days",
            "30",
            "--json",
        ]
    )
    assert day30["expected_live"] <= 100.0 + 1e-9
    r = run(
        app,
        [
            "--db",
            db,
            "risk",
            "estimate",
            "--device-type",
            "nosuch",
            "--quantity",
            "5",
            "--days",
            "3",
        ],
    )
    assert r.exit_code == 1 and "apii-limit" in r.output


def test_learning_from_clearance(cleared: dict[str, Any]) -> None:
    db = cleared["db"]
    out = _json(["--db", db, "risk", "learn", "--json"])
    got = {(x["device_type"], x["parameter"]): x for x in out["learned"]}
    q, sd = got[("apii-limit", "deact_fail")], got[("apii-limit", "sd_fail")]
    # 75 finds of observed fate 200 days after laying (the 925 recorded but not found do not
    # count): self-destruction failed for 25 (5 live + 20 deactivated intact) of 75; of the 25
    # intact, 5 were still live after the battery life (q)
    assert (sd["trials"], sd["successes"], q["trials"], q["successes"]) == (75, 25, 25, 5)
    assert q["floored"] is False and q["reverted"] is False and sd["floored"] is False
    assert q["evidence"][0]["emplacement_id"] and len(q["evidence"][0]["find_ids"]) == 25
    # the service hands the domain exactly these finds: the same posteriors as the domain
    from demine.model.devices import device_type
    from demine.risk import Lifecycle, evidence_from_clearance, pool

    lc0 = Lifecycle.from_device_type(device_type("apii-limit"))
    finds = [
        (f"{st}{i}", st, 200.0)
        for st, n in (("live", 5), ("deactivated_intact", 20), ("self_destructed_remnant", 50))
        for i in range(n)
    ]
    evs = evidence_from_clearance(lc0, 1000, 0.0, finds, emplacement_id="e")
    want_sd = pool(lc0.sd_fail, evs, parameter="sd_fail").posterior
    want_q = pool(lc0.deact_fail, evs, parameter="deact_fail").posterior
    assert sd["posterior"]["alpha"] == pytest.approx(want_sd.alpha, rel=1e-3)
    assert q["posterior"]["alpha"] == pytest.approx(want_q.alpha, rel=1e-3)
    assert sd["posterior"]["mean"] == pytest.approx(0.1607, abs=1e-3)  # above the 10 % limit
    assert q["posterior"]["mean"] == pytest.approx(0.0354, abs=1e-3)
    m = sd["posterior"]["mean"] * q["posterior"]["mean"]
    # the next estimate uses the posterior: 1,000 devices after the battery life
    est = _json(
        [
            "--db",
            db,
            "risk",
            "estimate",
            "--device-type",
            "apii-limit",
            "--quantity",
            "1000",
            "--days",
            "365",
            "--json",
        ]
    )
    assert est["expected_live"] == pytest.approx(1000 * m, rel=1e-9)
    assert est["p_any_live"] == pytest.approx(1 - (1 - m) ** 1000, rel=1e-9)
    # stored with its evidence, prior and posterior side by side; a re-run adds no revision
    rows = _json(["--db", db, "list", "risk_updates", "--json"])["records"]
    row = next(r for r in rows if r["properties"]["key"] == "apii-limit:deact_fail")
    assert row["properties"]["prior_alpha"] == pytest.approx(lc0.deact_fail.alpha)
    assert row["properties"]["posterior_alpha"] == pytest.approx(q["posterior"]["alpha"])
    assert json.loads(row["properties"]["evidence"])[0]["successes"] == 5
    assert "fate was observed" in row["properties"]["assumptions"]
    _json(["--db", db, "risk", "learn", "--json"])
    assert len(_json(["--db", db, "history", row["id"], "--json"])["revisions"]) == 1


def _learned(db: str) -> dict[tuple[str, str], Any]:
    out = _json(["--db", db, "risk", "learn", "--json"])
    return {(x["device_type"], x["parameter"]): x for x in out["learned"]}


def _in_force(db: str) -> dict[str, Any]:
    """The learned rates estimates use (the lifecycle of apii-limit)."""
    from demine.services.risk import lifecycles
    from demine.store.open import open_store

    s = open_store(db)
    try:
        return {"lc": lifecycles(s)["apii-limit"]}
    finally:
        s.close()


@pytest.mark.parametrize(
    ("activity_type", "release_type", "status"),
    [
        ("non_technical_survey", "cancelled", "completed"),
        ("technical_survey", "reduced", "completed"),
        ("clearance", "cleared", "ongoing"),
        (None, None, None),  # imported already closed: no release at all
    ],
)
def test_evidence_only_from_cleared_land(
    store: Any, activity_type: str | None, release_type: str | None, status: str | None
) -> None:
    """A closed hazard whose land was cancelled by NTS, reduced by TS, released by a clearance
    not yet completed, or imported already closed teaches nothing, with the same finds."""
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "closed", "closed_on": _ago(1)[:10], "name": "x"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    store.upsert("hazards", [h], actor="t")
    e = Record(
        "emplacements",
        uuid7(),
        {"hazard_id": h.id, "device_type": "apii-limit", "quantity": 100, "laid_at": _ago(400)},
        shapely.Point(37.005, 48.005),
    )
    store.upsert("emplacements", [e], actor="t")
    store.upsert(
        "finds",
        [
            Record(
                "finds",
                uuid7(),
                {
                    "device_type": "apii-limit",
                    "state": st,
                    "found_at": _ago(100),
                    "emplacement_id": e.id,
                    "hazard_id": h.id,
                },
                shapely.Point(37.005, 48.005),
            )
            for st in ["live"] * 3 + ["self_destructed_remnant"] * 7
        ],
        actor="t",
    )
    if activity_type is not None:
        assert release_type is not None and status is not None
        act, rel = _clearance(
            h,
            shapely.box(37.0, 48.0, 37.01, 48.01),
            activity_type=activity_type,
            release_type=release_type,
            status=status,
        )
        store.upsert("activities", [act], actor="t")
        store.upsert("releases", [rel], actor="t")
    db = store.location
    store.close()
    assert _learned(db) == {}
    assert _json(["--db", db, "list", "risk_updates", "--json"])["records"] == []
    assert _in_force(db)["lc"].learned == ()


def test_evidence_needs_the_cleared_land_to_cover_the_emplacement(store: Any) -> None:
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "closed", "closed_on": _ago(1)[:10], "name": "x"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    store.upsert("hazards", [h], actor="t")
    inside = shapely.box(37.001, 48.001, 37.004, 48.004)
    e_in = Record(
        "emplacements",
        uuid7(),
        {"hazard_id": h.id, "device_type": "apii-limit", "quantity": 10, "laid_at": _ago(400)},
        shapely.MultiPolygon([inside]),
    )
    e_out = Record(
        "emplacements",
        uuid7(),
        {"hazard_id": h.id, "device_type": "apii-limit", "quantity": 10, "laid_at": _ago(400)},
        shapely.MultiPolygon([shapely.box(37.004, 48.001, 37.008, 48.004)]),  # half outside
    )
    store.upsert("emplacements", [e_in, e_out], actor="t")
    finds = [
        Record(
            "finds",
            uuid7(),
            {
                "device_type": "apii-limit",
                "state": "live",
                "found_at": _ago(100),
                "emplacement_id": e.id,
                "hazard_id": h.id,
            },
            shapely.Point(37.002, 48.002),
        )
        for e in (e_in, e_out)
    ]
    store.upsert("finds", finds, actor="t")
    # cleared: the west half of the hazard; the reduced east half is not cleared land
    act, rel = _clearance(h, shapely.box(37.0, 48.0, 37.005, 48.01))
    act2, rel2 = _clearance(
        h,
        shapely.box(37.005, 48.0, 37.01, 48.01),
        activity_type="technical_survey",
        release_type="reduced",
    )
    store.upsert("activities", [act, act2], actor="t")
    store.upsert("releases", [rel, rel2], actor="t")
    db = store.location
    store.close()
    got = _learned(db)
    assert {e["emplacement_id"] for e in got[("apii-limit", "deact_fail")]["evidence"]} == {e_in.id}
    assert got[("apii-limit", "deact_fail")]["trials"] == 1


def test_reopening_or_withdrawing_the_release_reverts_what_was_learned(
    cleared: dict[str, Any],
) -> None:
    from demine.store.open import open_store

    db = cleared["db"]
    got = _learned(db)
    assert got[("apii-limit", "deact_fail")]["trials"] == 25
    assert _in_force(db)["lc"].learned == ("sd_fail", "deact_fail")
    rows = _json(["--db", db, "list", "risk_updates", "--json"])["records"]
    ids = {r["properties"]["key"]: r["id"] for r in rows}
    # the hazard is reopened: its evidence goes, the next learn reverts both rates
    s = open_store(db)
    h = s.get("hazards", cleared["hazard"].id)
    props = {**h.properties, "status": "open", "closed_on": None}
    s.update("hazards", h.id, properties=props, actor="t", reason="mines found after release")
    s.close()
    got = _learned(db)
    for param in ("deact_fail", "sd_fail"):
        x = got[("apii-limit", param)]
        assert x["reverted"] is True and x["trials"] == 0
        assert x["posterior"] == x["prior"]
    lc = _in_force(db)["lc"]
    assert lc.learned == () and lc.residual.alpha == 1.0 and lc.residual.beta == 999.0
    assert lc.p_res_mean == pytest.approx(0.001)  # the prior's q again
    hist = _json(["--db", db, "history", ids["apii-limit:deact_fail"], "--json"])["revisions"]
    assert len(hist) == 2  # the learned posterior, then the reversion: both kept
    rows = _json(["--db", db, "list", "risk_updates", "--json"])["records"]
    row = next(r for r in rows if r["properties"]["key"] == "apii-limit:deact_fail")
    assert row["properties"]["trials"] == 0 and "reverted" in row["properties"]["assumptions"]
    assert json.loads(row["properties"]["evidence"]) == []
    # a second learn writes nothing new
    assert _learned(db) == {}
    assert len(_json(["--db", db, "history", row["id"], "--json"])["revisions"]) == 2
    # closed again: learned again (a third revision)
    s = open_store(db)
    h = s.get("hazards", cleared["hazard"].id)
    s.update(
        "hazards",
        h.id,
        properties={**h.properties, "status": "closed", "closed_on": _ago(0)[:10]},
        actor="t",
    )
    s.close()
    assert _learned(db)[("apii-limit", "deact_fail")]["trials"] == 25
    assert len(_json(["--db", db, "history", row["id"], "--json"])["revisions"]) == 3
    # the release is withdrawn (deleted): reverted again
    s = open_store(db)
    s.delete("releases", cleared["release"].id, actor="t", reason="release report withdrawn")
    s.close()
    assert _learned(db)[("apii-limit", "deact_fail")]["reverted"] is True
    assert _in_force(db)["lc"].learned == ()


def test_treaty_limit_floor_through_the_service(store: Any) -> None:
    """Clearance that saw every device work says the rates are below the treaty limits: the
    stored posterior keeps the prior (floored), with the update and the reason beside it."""
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "closed", "closed_on": _ago(1)[:10], "name": "x"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    store.upsert("hazards", [h], actor="t")
    e = Record(
        "emplacements",
        uuid7(),
        {"hazard_id": h.id, "device_type": "apii-limit", "quantity": 500, "laid_at": _ago(400)},
        shapely.Point(37.005, 48.005),
    )
    store.upsert("emplacements", [e], actor="t")
    store.upsert(
        "finds",
        [
            Record(
                "finds",
                uuid7(),
                {
                    "device_type": "apii-limit",
                    "state": "self_destructed_remnant",
                    "found_at": _ago(100),
                    "emplacement_id": e.id,
                    "hazard_id": h.id,
                },
                shapely.Point(37.005, 48.005),
            )
            for _ in range(400)
        ],
        actor="t",
    )
    act, rel = _clearance(h, shapely.box(37.0, 48.0, 37.01, 48.01))
    store.upsert("activities", [act], actor="t")
    store.upsert("releases", [rel], actor="t")
    db = store.location
    store.close()
    got = _learned(db)
    # every device self-destructed: sd_fail evidence only (no intact device, nothing on q)
    assert set(got) == {("apii-limit", "sd_fail")}
    x = got[("apii-limit", "sd_fail")]
    assert x["floored"] is True and x["trials"] == 400
    assert x["posterior"]["alpha"] == pytest.approx(10.0)
    assert x["posterior"]["beta"] == pytest.approx(90.0)
    assert x["update"]["mean"] < x["prior"]["mean"]
    rows = _json(["--db", db, "list", "risk_updates", "--json"])["records"]
    assert all("floored at the treaty limit" in r["properties"]["assumptions"] for r in rows)
    lc = _in_force(db)["lc"]
    assert lc.p_sd_mean == pytest.approx(0.1) and lc.p_res_mean == pytest.approx(0.001)
    assert lc.learned == ()  # floored: nothing learned is used, the treaty-limit note stays
    r = run(app, ["--db", db, "risk", "learn"])
    assert r.exit_code == 0 and "floored" in r.output
    # an analyst's sign-off lets the rate go below the limit, recorded with the update
    r = run(app, ["--db", db, "risk", "learn", "--accept-below-limit", "apii-limit"])
    assert r.exit_code == 1 and "--reason" in r.output  # a sign-off needs a reason
    r = run(app, ["--db", db, "risk", "learn", "--accept-below-limit", "nosuch", "--reason", "x"])
    assert r.exit_code == 1 and "nosuch" in r.output
    why = "three lots tested by the manufacturer's independent lab"
    sign = ["--db", db, "risk", "learn", "--accept-below-limit", "apii-limit", "--reason", why]
    out = _json([*sign, "--json"])
    (x,) = out["learned"]
    assert x["floored"] is False and why in x["sign_off"]
    assert x["posterior"]["mean"] < 0.1
    lc = _in_force(db)["lc"]
    assert lc.learned == ("sd_fail",) and lc.p_sd_mean < 0.1
    rows = _json(["--db", db, "list", "risk_updates", "--json"])["records"]
    assert why in rows[0]["properties"]["sign_off"]
    # kept by later runs until withdrawn (and no new revision: nothing changed)
    again = _learned(db)[("apii-limit", "sd_fail")]
    assert why in again["sign_off"] and again["floored"] is False
    assert len(_json(["--db", db, "history", rows[0]["id"], "--json"])["revisions"]) == 2
    assert _in_force(db)["lc"].p_sd_mean < 0.1
    out = _json(["--db", db, "risk", "learn", "--withdraw-sign-off", "apii-limit", "--json"])
    assert out["learned"][0]["floored"] is True and out["learned"][0]["sign_off"] is None
    assert _in_force(db)["lc"].p_sd_mean == pytest.approx(0.1)
    # only analysts and admins learn or sign off
    r = run(app, ["--role", "field", "--db", db, *sign[2:]])
    assert r.exit_code == 5


def test_hazard_estimates_and_unknown(cleared: dict[str, Any]) -> None:
    db = cleared["db"]
    out = _json(["--db", db, "risk", "hazard", "--all", "--json"])
    by_name = {h["name"]: h for h in out["hazards"]}
    assert by_name["no record"]["known"] is False
    assert "does not mean the area is safe" in " ".join(by_name["no record"]["notes"])
    young = by_name["open field"]["estimates"][0]
    assert young["expected_live"] == pytest.approx(1000.0)  # 10 days: nothing has acted yet
    today = datetime.now(UTC).date()
    series = _json(
        [
            "--db",
            db,
            "risk",
            "hazard",
            cleared["open"].id,
            "--series",
            today.isoformat(),
            (today + timedelta(days=364)).isoformat(),
            "7",
            "--json",
        ]
    )
    est = series["hazards"][0]["estimates"]
    assert len(est) == 53
    vals = [e["expected_live"] for e in est]
    assert all(b <= a + 1e-9 for a, b in zip(vals, vals[1:], strict=False))
    assert vals[-1] == pytest.approx(1.0, abs=0.05)  # past the battery life: the residual
    r = run(app, ["--db", db, "risk", "hazard"])
    assert r.exit_code == 1


def test_no_estimate_changes_a_hazards_status(cleared: dict[str, Any]) -> None:
    from demine.store.open import open_store

    db = cleared["db"]
    s = open_store(db)

    def snapshot() -> dict[str, Any]:
        return {h.id: (h.revision, h.properties) for h in s.list("hazards")}

    before = snapshot()
    for args in (
        ["risk", "learn", "--json"],
        ["risk", "hazard", "--all", "--json"],
        [
            "risk",
            "estimate",
            "--device-type",
            "apii-limit",
            "--quantity",
            "10",
            "--days",
            "1000",
            "--json",
        ],
    ):
        _json(["--db", db, *args])
    assert snapshot() == before
    # and the store refuses it outright from the risk side
    h = cleared["open"]
    with pytest.raises(PermissionDenied, match="only land"):
        s.update(
            "hazards",
            h.id,
            properties={**h.properties, "status": "closed", "closed_on": "2026-01-01"},
            actor="x",
            origin="risk",
        )
    rec = s.get("hazards", h.id)
    rec.properties.update(status="closed", closed_on="2026-01-01")
    with pytest.raises(PermissionDenied):
        s.upsert("hazards", [rec], actor="x", origin="risk")
    assert snapshot() == before
    s.close()


def test_old_store_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(tmp_path / "old.gpkg")
    init_store(s)
    s.close()
    c = sqlite3.connect(tmp_path / "old.gpkg")
    c.execute("DELETE FROM gpkg_contents WHERE table_name = 'risk_updates'")
    c.execute("DELETE FROM gpkg_data_columns WHERE table_name = 'risk_updates'")
    c.execute("DROP TABLE risk_updates")
    c.execute("UPDATE demine_settings SET value = '1' WHERE key = 'schema_version'")
    c.commit()
    c.close()
    s2 = GeoPackageStore(tmp_path / "old.gpkg")
    assert s2.count("risk_updates") == 0
    from demine.store.gpkg import SCHEMA_VERSION

    assert s2.setting("schema_version") == SCHEMA_VERSION
    s2.close()


def test_released_land_shows_no_estimate(cleared: dict[str, Any]) -> None:
    """A closed (or handed over) hazard has no estimate on any face: CLI (every role), the map
    risk JSON and the popup's JSON; "released: no estimate" says why."""
    from fastapi.testclient import TestClient

    from demine.api.app import create_app

    db = cleared["db"]
    hid = cleared["hazard"].id
    for role in ("analyst", "public"):
        out = _json(["--db", db, "--role", role, "risk", "hazard", "--all", "--json"])
        v = next(h for h in out["hazards"] if h["id"] == hid)
        assert v["released"] is True and v["known"] is False and v["estimates"] == []
        assert any("released: no estimate" in n for n in v["notes"])
        assert v["assumptions"] == []
        other = next(h for h in out["hazards"] if h["id"] == cleared["open"].id)
        assert other["released"] is False and other["known"] is True and other["estimates"]
        r = run(app, ["--db", db, "--role", role, "risk", "hazard", hid])
        assert (
            r.exit_code == 0
            and "released" in r.output
            and "%" not in r.output.split("released")[-1].split("\n")[0]
        )
    client = TestClient(create_app(db))
    body = client.get("/api/v1/map/risk").json()
    h = body["hazards"][hid]
    assert h["released"] is True and h["known"] is False
    assert not any(k.startswith("p_any") or k.startswith("expected") for k in h)
    assert body["hazards"][cleared["open"].id]["known"] is True
    d = client.get(f"/api/v1/map/hazards/{hid}").json()["risk"]
    assert d["released"] is True and d["estimate"] is None
    assert any("released: no estimate" in n for n in d["notes"])


def test_zero_and_unknown_type_records_are_flagged(store: Any) -> None:
    """Quantity 0 gives 0.0 (never -0.0) and marks the estimate incomplete, as does a record
    of a device type the catalogue does not know (left out of the sum)."""
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "z"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    h2 = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "u"},
        shapely.MultiPolygon([shapely.box(37.1, 48.0, 37.11, 48.01)]),
    )
    store.upsert("hazards", [h, h2], actor="t")
    store.upsert(
        "emplacements",
        [
            Record(
                "emplacements",
                uuid7(),
                {"hazard_id": h.id, "device_type": "apii-limit", "quantity": 0, "laid_at": _ago(5)},
                shapely.Point(37.005, 48.005),
            ),
            Record(
                "emplacements",
                uuid7(),
                {
                    "hazard_id": h2.id,
                    "device_type": "apii-limit",
                    "quantity": 3,
                    "laid_at": _ago(5),
                },
                shapely.Point(37.105, 48.005),
            ),
            Record(
                "emplacements",
                uuid7(),
                {"hazard_id": h2.id, "device_type": "mystery", "quantity": 9, "laid_at": _ago(5)},
                shapely.Point(37.106, 48.005),
            ),
        ],
        actor="t",
    )
    db = store.location
    store.close()
    r = run(app, ["--db", db, "risk", "hazard", "--all", "--json"])
    assert r.exit_code == 0 and "-0.0" not in r.stdout
    by = {v["name"]: v for v in json.loads(r.stdout)["hazards"]}
    z, u = by["z"], by["u"]
    assert z["known"] is True and z["complete"] is False
    assert z["estimates"][0]["p_any_live"] == 0.0 and z["estimates"][0]["expected_live"] == 0.0
    assert any("quantity 0" in n for n in z["notes"])
    assert u["complete"] is False and u["estimates"][0]["expected_live"] == pytest.approx(3.0)
    assert any("mystery" in n for n in u["notes"]) and any("lower bound" in n for n in u["notes"])
    pub = _json(["--db", db, "--role", "public", "risk", "hazard", "--all", "--json"])
    assert all(v["complete"] is False for v in pub["hazards"])


def test_record_times_and_zero_times_through_the_store(store: Any) -> None:
    """A record's own later self-destruct time is used; a device type with sd_days 0 is
    refused with the field named."""
    from demine.errors import ValidationError as VE
    from demine.services.register import update_record

    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "late"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    store.upsert("hazards", [h], actor="t")
    store.upsert(
        "emplacements",
        [
            Record(
                "emplacements",
                uuid7(),
                {
                    "hazard_id": h.id,
                    "device_type": "apii-limit",
                    "quantity": 100,
                    "laid_at": _ago(40),
                    "self_destruct_days": 60,
                },
                shapely.Point(37.005, 48.005),
            )
        ],
        actor="t",
    )
    dt = next(r for r in store.list("device_types") if r.properties["code"] == "apii-limit")
    with pytest.raises(VE) as ei:
        update_record(store, dt.id, {"sd_days": 0}, ctx=WriteContext(actor="t"))
    assert any(f.field == "sd_days" and "> 0" in f.reason for f in ei.value.faults)
    db = store.location
    store.close()
    out = _json(["--db", db, "risk", "hazard", h.id, "--json"])["hazards"][0]
    # day 40: past the type's 30 days, but the record says 60: all 100 still counted live
    assert out["estimates"][0]["expected_live"] == pytest.approx(100.0)
    assert any("record gives later times" in a for a in out["assumptions"])


def _hazard_with(store: Any, name: str, **emplacement: Any) -> tuple[Record, Record]:
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": name},
        shapely.MultiPolygon([shapely.box(37.3, 48.0, 37.31, 48.01)]),
    )
    store.upsert("hazards", [h], actor="t")
    e = Record(
        "emplacements",
        uuid7(),
        {"hazard_id": h.id, "device_type": "apii-limit", **emplacement},
        shapely.Point(37.305, 48.005),
    )
    store.upsert("emplacements", [e], actor="t")
    return h, e


WIDE = {"COLUMNS": "400"}


def test_predictive_count_on_the_analyst_faces(store: Any) -> None:
    """``risk hazard`` (JSON and table), ``risk estimate`` (JSON and text) and the map's
    analyst JSON carry live_count_p05/p95, labelled apart from the interval of the expected
    number."""
    from fastapi.testclient import TestClient

    from demine.api.app import create_app
    from demine.services.access import new_token

    h, _ = _hazard_with(store, "count", quantity=1000, laid_at=_ago(200))
    store.add_user("u_analyst", "analyst")
    token, th = new_token()
    store.add_token("u_analyst", th)
    db = store.location
    store.close()
    out = _json(["--db", db, "risk", "hazard", h.id, "--json"])["hazards"][0]
    row = out["estimates"][0]
    # past the battery life, about 1 device expected: counts 0 to 4 (the model tests check
    # the values against the beta-binomial); the count reaches past the interval of the mean
    lo, hi = row["live_count_p05"], row["live_count_p95"]
    assert lo == 0.0 and hi == int(hi) and 3.0 <= hi <= 6.0
    assert row["expected_live_p95"] < hi
    assert any("live devices, predictive 5–95 %" in a for a in out["assumptions"])
    table = run(app, ["--db", db, "risk", "hazard", h.id], env=WIDE)
    assert table.exit_code == 0, table.output
    assert "live devices, predictive 5–95 % (the count itself, with chance)" in table.output
    assert "expected live 5–95 % (uncertainty of the rates only)" in table.output
    assert f"{lo:.0f}–{hi:.0f}" in table.output
    args = ["--db", db, "risk", "estimate", "--device-type", "apii-limit"]
    args += ["--quantity", "1000", "--days", "200"]
    est = _json([*args, "--json"])
    elo, ehi = est["live_count_p05"], est["live_count_p95"]
    assert elo == 0.0 and 3.0 <= ehi <= 6.0
    text = run(app, args, env=WIDE)
    assert text.exit_code == 0, text.output
    want = f"live devices, predictive 5–95 %: {elo:.0f}–{ehi:.0f} (the count itself, with chance)"
    assert want in text.output
    assert "expected live 5–95 % (uncertainty of the rates only): " in text.output
    with TestClient(create_app(db)) as c:
        auth = {"Authorization": f"Bearer {token}"}
        pop = c.get(f"/api/v1/map/hazards/{h.id}", headers=auth).json()["risk"]["estimate"]
        assert (pop["live_count_p05"], pop["live_count_p95"]) == (lo, hi)
        risk = c.get("/api/v1/map/risk", headers=auth).json()["hazards"][h.id]
        assert (risk["live_count_p05"], risk["live_count_p95"]) == (lo, hi)
        anon = c.get(f"/api/v1/map/hazards/{h.id}").json()["risk"]["estimate"]
        assert not any(k.startswith("live_count") for k in anon)


# --- a laying period --------------------------------------------------------------------------


def _emp_feature(hid: str, fid: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [37.305, 48.005]},
        "properties": {"hazard_id": hid, "device_type": "apii-limit", "quantity": 1000, **props},
    }


def test_laying_period_through_import_update_ogc_export_and_estimate(
    store: Any, tmp_path: Path
) -> None:
    """laid_earliest travels through import, ``demine update``, the OGC API write path and
    every export format; one after laid_at is refused naming the field, nothing stored; the
    estimate counts from laid_at (the latest) and says so."""
    from fastapi.testclient import TestClient

    from demine.api.app import create_app
    from demine.errors import ValidationError as VE
    from demine.services.access import new_token
    from demine.services.register import ImportOptions, export_file, import_file
    from demine.services.setup import init_store
    from demine.store.gpkg import GeoPackageStore

    h, _ = _hazard_with(store, "period", quantity=5, laid_at=_ago(400))
    early, late = _ago(300), _ago(200)
    src = tmp_path / "e.geojson"
    src.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    _emp_feature(h.id, "p1", laid_earliest=early, laid_at=late),
                    _emp_feature(h.id, "p2", laid_at=late),
                ],
            }
        )
    )
    assert import_file(store, src, ImportOptions(kind="emplacements")).created == 2
    by_src = {e.source_id: e for e in store.list("emplacements")}
    assert by_src["p1"].properties["laid_earliest"] == early
    assert by_src["p2"].properties.get("laid_earliest") is None
    # after laid_at: refused, naming the field; the import stores nothing
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    _emp_feature(h.id, "p3", laid_at=early),
                    _emp_feature(h.id, "p4", laid_earliest=late, laid_at=early),
                ],
            }
        )
    )
    before = store.count("emplacements")
    with pytest.raises(VE) as ei:
        import_file(store, bad, ImportOptions(kind="emplacements"))
    (f,) = ei.value.faults
    assert f.field == "laid_earliest" and f.index == 1 and "after laid_at" in f.reason
    assert store.count("emplacements") == before
    store.add_user("u_analyst", "analyst")
    token, th = new_token()
    store.add_token("u_analyst", th)
    db = store.location
    store.close()

    # demine update: a later laid_earliest is refused, an earlier one kept, FIELD= clears it
    p1 = by_src["p1"].id
    r = run(app, ["--db", db, "update", p1, f"laid_earliest={_ago(100)}", "--json"])
    assert r.exit_code == 1 and "laid_earliest" in r.output and "after laid_at" in r.output
    r = run(app, ["--db", db, "update", p1, f"laid_earliest={_ago(350)}", "--json"])
    assert r.exit_code == 0, r.output
    assert run(app, ["--db", db, "update", p1, f"laid_earliest={early}"]).exit_code == 0

    # the OGC API write path
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(db)) as c:
        url = "/ogc/collections/emplacements/items"
        feat = _emp_feature(h.id, "x", laid_earliest=_ago(260), laid_at=_ago(250))
        feat.pop("id")
        made = c.post(url, json=feat, headers=auth)
        assert made.status_code == 201, made.text
        assert made.json()["properties"]["laid_earliest"] == feat["properties"]["laid_earliest"]
        loc = made.headers["Location"].replace("http://testserver", "")
        wrong = c.patch(loc, json={"properties": {"laid_earliest": _ago(10)}}, headers=auth)
        assert wrong.status_code == 422
        assert [e["field"] for e in wrong.json()["errors"]] == ["laid_earliest"]
        ok = c.patch(loc, json={"properties": {"laid_earliest": None}}, headers=auth)
        assert ok.status_code == 200 and "laid_earliest" not in ok.json()["properties"]
        assert c.delete(loc, headers=auth).status_code == 204
        # the analyst's hazard view: the period in the assumptions, counted from laid_at
        risk = c.get(f"/api/v1/map/hazards/{h.id}", headers=auth).json()["risk"]
        text = " | ".join(risk["assumptions"])
        want = f"laid between {early[:10]} and {late[:10]}; counted from {late[:10]}, the latest"
        assert want in text
        pub = c.get(f"/api/v1/map/hazards/{h.id}").json()["risk"]
        assert "laid between" not in json.dumps(pub)

    # counted from laid_at: the same figures as the record without a period
    out = _json(["--db", db, "risk", "hazard", h.id, "--json"])["hazards"][0]
    assert want in " | ".join(out["assumptions"])

    # every export format carries it, and gives it back on import
    for suffix in ("geojson", "gpkg", "csv"):
        from demine.store.open import open_store

        st = open_store(db)
        out_file = tmp_path / f"out.{suffix}"
        assert export_file(st, "emplacements", out_file) == 3
        st.close()
        fresh = GeoPackageStore(tmp_path / f"fresh-{suffix}.gpkg")
        init_store(fresh)
        import_file(fresh, out_file, ImportOptions(kind="emplacements"))
        got = {r.id: r.properties.get("laid_earliest") for r in fresh.list("emplacements")}
        assert got[p1] == early, suffix
        assert got[by_src["p2"].id] is None, suffix
        fresh.close()


def test_a_laying_period_counts_from_its_latest_date() -> None:
    """The state is evaluated at laid_at: the same figures with or without laid_earliest, and
    the figures of laying at the latest date, not the earliest."""
    from demine.model.devices import device_type
    from demine.risk import Lifecycle, Quantity, RecordInput, day_number, estimate

    lc = Lifecycle.from_device_type(device_type("apii-limit"))
    a, b = day_number("2025-01-01"), day_number("2025-03-01")
    at = [day_number("2025-03-20"), day_number("2025-05-01"), day_number("2025-08-01")]
    period = estimate([RecordInput(lc, Quantity(100.0), b, "r", a)], at, draws=300)
    latest = estimate([RecordInput(lc, Quantity(100.0), b, "r")], at, draws=300)
    earliest = estimate([RecordInput(lc, Quantity(100.0), a, "r")], at, draws=300)
    for k in ("expected_live", "p_any_live", "expected_live_p95", "live_count_p95"):
        assert getattr(period, k).tolist() == getattr(latest, k).tolist(), k
    # 2025-03-20 is 19 days after the latest date (all live), 78 after the earliest (not)
    assert period.expected_live[0] == 100.0 > earliest.expected_live[0]
    line = next(x for x in period.assumptions if x.startswith("r: "))
    assert line.endswith(
        "laid between 2025-01-01 and 2025-03-01; counted from 2025-03-01, the latest"
    )
    assert next(x for x in latest.assumptions if x.startswith("r: ")).endswith("laid 2025-03-01")


def test_laying_period_column_migrates_on_both_backends(store: Any) -> None:
    """A store of the schema before laid_earliest opens and gains the column."""
    from demine.store.open import open_store

    h, e = _hazard_with(store, "old", quantity=10, laid_at=_ago(50))
    if store.location.startswith("postgresql"):
        store.conn.execute("ALTER TABLE emplacements DROP COLUMN laid_earliest")
        store.conn.execute("UPDATE demine_schema SET version = 3")
    else:
        store.conn.execute("ALTER TABLE emplacements DROP COLUMN laid_earliest")
        store.conn.execute(
            "DELETE FROM gpkg_data_columns WHERE table_name = 'emplacements' "
            "AND column_name = 'laid_earliest'"
        )
        store.conn.execute("UPDATE demine_settings SET value = '5' WHERE key = 'schema_version'")
        store.conn.commit()
    store.close()
    s2 = open_store(store.location)
    try:
        assert "laid_earliest" in s2.kind("emplacements").field_names
        from demine.services.register import update_record

        update_record(s2, e.id, {"laid_earliest": _ago(60)}, ctx=WriteContext(actor="t"))
        assert s2.get("emplacements", e.id).properties["laid_earliest"] is not None
        assert s2.get("hazards", h.id).properties["name"] == "old"
    finally:
        s2.close()


def _open_with_record(store: Any, laid_days_ago: float) -> tuple[Record, Record]:
    h = Record(
        "hazards",
        uuid7(),
        {"hazard_type": "CHA", "status": "open", "name": "partly searched"},
        shapely.MultiPolygon([shapely.box(37.0, 48.0, 37.01, 48.01)]),
    )
    store.upsert("hazards", [h], actor="t")
    e = Record(
        "emplacements",
        uuid7(),
        {
            "hazard_id": h.id,
            "device_type": "apii-limit",
            "quantity": 1000,
            "laid_at": _ago(laid_days_ago),
        },
        shapely.Point(37.005, 48.005),
    )
    store.upsert("emplacements", [e], actor="t")
    return h, e


def _find(h: Record, e: Record | None, state: str, days_ago: float) -> Record:
    return Record(
        "finds",
        uuid7(),
        {
            "device_type": "apii-limit",
            "state": state,
            "found_at": _ago(days_ago),
            "hazard_id": h.id,
            **({"emplacement_id": e.id} if e is not None else {}),
        },
        shapely.Point(37.005, 48.005),
    )


def test_open_hazards_use_their_own_finds_and_accidents(store: Any) -> None:
    """An open hazard's own finds and accidents: a live find after the battery life raises its
    estimate (it did not before), remnants never lower its rates, and the devices found come
    off the quantity; every face (CLI, map JSON) agrees on both backends."""
    from fastapi.testclient import TestClient

    from demine.api.app import create_app

    h, e = _open_with_record(store, 300)
    db = store.location
    store.close()

    def expected() -> float:
        out = _json(["--db", db, "risk", "hazard", h.id, "--json"])
        return float(out["hazards"][0]["estimates"][0]["expected_live"])

    base = expected()
    assert base == pytest.approx(1.0)  # 1,000 at the treaty limit, day 300
    from demine.store.open import open_store

    # 3 still live 200 days after laying: the rates rise for this hazard
    s = open_store(db)
    s.upsert("finds", [_find(h, e, "live", 100) for _ in range(3)], actor="t")
    s.close()
    raised = expected()
    assert raised > 2.5 * base
    out = _json(["--db", db, "risk", "hazard", h.id, "--json"])["hazards"][0]
    assert any("own finds and accidents" in a for a in out["assumptions"])
    # the map (anonymous: the band) agrees with the CLI's public view, and has moved up
    client = TestClient(create_app(db))
    m = client.get(f"/api/v1/map/hazards/{h.id}").json()["risk"]["estimate"]
    pub = _json(["--db", db, "--role", "public", "risk", "hazard", h.id, "--json"])["hazards"][0]
    assert m["p_any_live_band"] == pub["estimates"][0]["p_any_live_band"]
    assert m["p_any_live_low"] >= 0.9 > 0.632  # the band of 1 - 0.999^1000 before
    # a civilian accident in the hazard (a device that functioned) raises it further
    s = open_store(db)
    acc = Record(
        "accidents",
        uuid7(),
        {
            "occurred_at": _ago(50),
            "accident_type": "civilian",
            "device_type": "apii-limit",
            "hazard_id": h.id,
        },
        shapely.Point(37.006, 48.006),
    )
    s.upsert("accidents", [acc], actor="t")
    s.close()
    assert expected() > raised
    # the public band moves up too, with no quantity and no rate in it
    pub = _json(["--db", db, "--role", "public", "risk", "hazard", h.id, "--json"])["hazards"][0]
    assert pub["estimates"][0]["p_any_live_low"] >= 0.9
    assert "Beta(" not in json.dumps(pub)


def test_own_remnants_never_lower_the_rates_and_found_devices_come_off(store: Any) -> None:
    h, e = _open_with_record(store, 300)
    h2, e2 = _open_with_record(store, 300)
    finds = [_find(h, e, "self_destructed_remnant", 100) for _ in range(200)]
    store.upsert("finds", finds, actor="t")
    # a hazard where every recorded device was found: what is left is beyond the record
    store.upsert(
        "emplacements",
        [Record("emplacements", e2.id, {**e2.properties, "quantity": 3}, e2.geometry)],
        actor="t",
    )
    store.upsert(
        "finds", [_find(h2, e2, "self_destructed_remnant", 100) for _ in range(3)], actor="t"
    )
    db = store.location
    store.close()
    out = {x["id"]: x for x in _json(["--db", db, "risk", "hazard", "--all", "--json"])["hazards"]}
    est = out[h.id]["estimates"][0]
    # 800 left at the rates in force (0.1 x 0.01): 0.8, not lowered by 200 remnants
    assert est["expected_live"] == pytest.approx(0.8, rel=1e-9)
    assert not any("own finds" in a for a in out[h.id]["assumptions"])
    assert out[h2.id]["complete"] is False
    assert any("beyond the record" in n for n in out[h2.id]["notes"])
