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
    store.close()
    return {"db": store.location, "hazard": h, "open": open_h, "bare": bare, "store": store}


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
    res = got[("apii-limit", "residual")]
    # hand calculation: prior Beta(1, 999); 1,000 recorded, 5 still live after the battery
    # life -> posterior Beta(1 + 5, 999 + 995) = Beta(6, 1994), mean 6 / 2000 = 0.003
    assert (res["prior"]["alpha"], res["prior"]["beta"]) == (1.0, 999.0)
    assert (res["posterior"]["alpha"], res["posterior"]["beta"]) == (6.0, 1994.0)
    assert res["posterior"]["mean"] == pytest.approx(0.003)
    assert res["evidence"][0]["emplacement_id"] and len(res["evidence"][0]["find_ids"]) == 75
    sd = got[("apii-limit", "sd_fail")]
    # failed to self-destruct: live + deactivated intact = 25 of 1,000: Beta(10 + 25, 90 + 975)
    assert (sd["posterior"]["alpha"], sd["posterior"]["beta"]) == (35.0, 1065.0)
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
    assert est["expected_live"] == pytest.approx(3.0, rel=1e-9)
    assert est["p_any_live"] == pytest.approx(1 - (1 - 0.003) ** 1000, rel=1e-9)  # 0.9504
    # stored with its evidence, prior and posterior side by side; a re-run adds no revision
    rows = _json(["--db", db, "list", "risk_updates", "--json"])["records"]
    row = next(r for r in rows if r["properties"]["key"] == "apii-limit:residual")
    assert row["properties"]["prior_alpha"] == 1.0 and row["properties"]["posterior_alpha"] == 6
    assert json.loads(row["properties"]["evidence"])[0]["successes"] == 5
    assert "max(" in row["properties"]["assumptions"] or row["properties"]["assumptions"]
    _json(["--db", db, "risk", "learn", "--json"])
    assert len(_json(["--db", db, "history", row["id"], "--json"])["revisions"]) == 1


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
    from demine.store.base import open_store

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
