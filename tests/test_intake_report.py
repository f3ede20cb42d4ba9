"""The intake report per organisation (docs/intake.md "The report"), on both backends, through
``demine review report`` and ``GET /api/v1/submissions/report``: every figure worked out by
hand from submissions whose events are set to fixed times.

HALO (field team f_halo, EO reports): A, B, C approved after 2, 10 and 4 hours; D waiting;
F rejected; E a draft. B has a description (quality 100), the others none (90, the 10 points
of the description). MAG (o_mag): G returned (90); H a batch of two features (100 and 90: mean
95) approved after 1 hour.

* HALO as a reviewer sees it (no draft): median of 2, 4, 10 = 4 h; 90th percentile by nearest
  rank (ceil(0.9 * 3) = 3rd of 3) = 10 h; quality (90 + 100 + 90 + 90 + 90) / 5 = 92;
  eo_reports.description missing 4 times (A, C, D, F).
* HALO as its own organisation sees it: the draft too: quality 550 / 6 = 91.67, missing 5.
* MAG: median = p90 = 1 h; quality (90 + 95) / 2 = 92.5; description missing 2 (G; H's second).
* AUTHORITY: nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import test_intake
from demine.model.schema import format_datetime
from test_intake import World

world = test_intake.world  # the fixture: a store with HALO, MAG and their users

EO: dict[str, Any] = {
    "type": "Feature",
    "properties": {"reported_at": "2025-01-01T00:00:00Z", "status": "new", "public": True},
    "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
}
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _eo(description: str | None = None) -> dict[str, Any]:
    props = dict(EO["properties"])
    if description:
        props["description"] = description
    return {**EO, "properties": props}


def _post(w: World, user: str, body: dict[str, Any], **headers: str) -> str:
    r = w.client.post(
        "/ogc/collections/eo_reports/items", json=body, headers={**w.headers[user], **headers}
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _set_time(w: World, sid: str, state: str, at: datetime) -> None:
    """Put the event of ``sid`` reaching ``state`` at a fixed time (the store stamps now)."""
    s = w.store()
    try:
        sql = (
            f"UPDATE demine_submission_events SET at = {s.P} "
            f"WHERE submission_id = {s.P} AND state = {s.P}"
        )
        args = (format_datetime(at), sid, state)
        if s.location.startswith("postgresql"):
            s.conn.execute(sql, args)
        else:
            with s.conn:
                s.conn.execute(sql, args)
    finally:
        s.close()


def _approve(w: World, sid: str, hours: float) -> None:
    r = w.client.post(f"/api/v1/submissions/{sid}/approve", headers=w.headers["rev"])
    assert r.status_code == 200, r.text
    _set_time(w, sid, "submitted", T0)
    _set_time(w, sid, "approved", T0 + timedelta(hours=hours))


def _decide(w: World, sid: str, action: str) -> None:
    r = w.client.post(
        f"/api/v1/submissions/{sid}/{action}", json={"reason": "x"}, headers=w.headers["rev"]
    )
    assert r.status_code == 200, r.text


def _make(w: World, tmp_path: Path) -> None:
    a, b, c = (_post(w, "f_halo", _eo(d)) for d in (None, "a crater", None))
    _approve(w, a, 2)
    _approve(w, b, 10)
    _approve(w, c, 4)
    _post(w, "f_halo", _eo())  # D: waiting
    _decide(w, _post(w, "f_halo", _eo()), "reject")  # F
    _post(w, "f_halo", _eo(), Prefer="draft")  # E
    _decide(w, _post(w, "o_mag", _eo()), "return")  # G
    f = tmp_path / "two.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [_eo("a crater"), _eo()]}))
    r = w.cli("o_mag", "operator", "submit", str(f), "--kind", "eo_reports", "--json")
    assert r.exit_code == 0, r.output
    _approve(w, json.loads(r.stdout)["submission"]["id"], 1)  # H


def _states(**n: int) -> dict[str, int]:
    out = dict.fromkeys(
        ("draft", "submitted", "returned", "approved_operator", "approved", "rejected"), 0
    )
    return {**out, **n}


HALO = {
    "code": "HALO",
    "name": "The HALO Trust",
    "by_state": _states(submitted=1, approved=3, rejected=1),
    "approved_median_hours": 4.0,
    "approved_p90_hours": 10.0,
    "quality_mean": 92.0,
    "missing": {"eo_reports.description": 4},
}
HALO_OWN = {
    **HALO,
    "by_state": _states(draft=1, submitted=1, approved=3, rejected=1),
    "quality_mean": 91.67,
    "missing": {"eo_reports.description": 5},
}
MAG = {
    "code": "MAG",
    "name": "Mines Advisory Group",
    "by_state": _states(returned=1, approved=1),
    "approved_median_hours": 1.0,
    "approved_p90_hours": 1.0,
    "quality_mean": 92.5,
    "missing": {"eo_reports.description": 2},
}
AUTHORITY = {
    "code": "AUTHORITY",
    "name": "National authority",
    "by_state": _states(),
    "approved_median_hours": None,
    "approved_p90_hours": None,
    "quality_mean": None,
    "missing": {},
}


def test_the_report_per_organisation(world: World, tmp_path: Path) -> None:
    _make(world, tmp_path)
    # a reviewer: every organisation, through both faces
    r = world.client.get("/api/v1/submissions/report", headers=world.headers["rev"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["organisations"] == [AUTHORITY, HALO, MAG]
    assert datetime.fromisoformat(body["generated_at"]).tzinfo is not None
    r = world.cli("adm", "admin", "review", "report", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["organisations"] == [AUTHORITY, HALO, MAG]
    # an operator or a field team: its own organisation only, its drafts too
    r = world.client.get("/api/v1/submissions/report", headers=world.headers["o_halo"])
    assert r.json()["organisations"] == [HALO_OWN]
    r = world.cli("f_halo", "field", "review", "report", "--json")
    assert json.loads(r.stdout)["organisations"] == [HALO_OWN]
    r = world.cli("o_mag", "operator", "review", "report", "--json")
    assert json.loads(r.stdout)["organisations"] == [MAG]
    # others: no report
    r = world.client.get("/api/v1/submissions/report", headers=world.headers["ana"])
    assert r.status_code == 403
    assert world.client.get("/api/v1/submissions/report").status_code == 401
    assert world.cli("ana", "analyst", "review", "report").exit_code == 5
    # the text: one row per organisation
    r = world.cli("rev", "reviewer", "review", "report")
    assert r.exit_code == 0, r.output
    rows = {x.split()[0]: x.split()[1:] for x in r.output.splitlines() if x.strip()}
    assert rows["organisation"] == [
        "draft",
        "submitted",
        "returned",
        "approved_operator",
        "approved",
        "rejected",
        "median",
        "h",
        "p90",
        "h",
        "quality",
    ]
    assert rows["HALO"] == ["0", "1", "0", "0", "3", "1", "4", "10", "92"]
    assert rows["MAG"] == ["0", "0", "1", "0", "1", "0", "1", "1", "92.5"]
    assert rows["AUTHORITY"] == ["0"] * 6 + ["-", "-", "-"]
    assert "most missing: eo_reports.description 4" in r.output


def test_approval_hours_count_from_the_first_submission(world: World) -> None:
    """At two levels the hours run from submitted to the reviewer's approval, the operator's
    QA in between."""
    assert world.cli("adm", "admin", "review", "levels", "2").exit_code == 0
    sid = _post(world, "f_halo", _eo())
    r = world.client.post(f"/api/v1/submissions/{sid}/approve", headers=world.headers["o_halo"])
    assert r.status_code == 200 and r.json()["state"] == "approved_operator"
    _approve(world, sid, 30)
    _set_time(world, sid, "approved_operator", T0 + timedelta(hours=5))
    r = world.client.get("/api/v1/submissions/report", headers=world.headers["rev"])
    (halo,) = [o for o in r.json()["organisations"] if o["code"] == "HALO"]
    assert halo["approved_median_hours"] == 30.0 and halo["approved_p90_hours"] == 30.0
    assert halo["by_state"]["approved"] == 1
