"""EO reports in the statistics, and accidents and victims by year without --period (issue
12): in compute, the CLI's text and --json, and the HTTP route, on both backends; the public
counts only the reports it may see. Every expected count is worked out by hand below."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.cli.app import app as cli
from demine.ids import uuid7
from demine.model.schema import Record
from demine.services.access import new_token
from demine.services.stats import compute
from demine.services.stats.periods import by_year, parse_period, year_key

HZ = uuid7()


def _rec(kind: str, props: dict[str, Any], x: float = 36.0) -> Record:
    return Record(kind, uuid7(), props, shapely.Point(x, 48.0))


@pytest.fixture
def data(store: Any) -> Any:
    square = shapely.MultiPolygon([shapely.box(36, 48, 36.01, 48.01)])
    hz = Record("hazards", HZ, {"hazard_type": "CHA", "status": "open"}, square)
    store.upsert("hazards", [hz], actor="t")
    # accidents: two in 2022, one in 2024, one with no date (legacy data)
    a = [
        _rec("accidents", {"occurred_at": "2022-03-01T08:00:00Z", "accident_type": "civilian"}),
        _rec("accidents", {"occurred_at": "2022-11-30T23:00:00Z", "accident_type": "demining"}),
        _rec("accidents", {"occurred_at": "2024-06-01T08:00:00Z", "accident_type": "civilian"}),
        _rec("accidents", {"accident_type": "civilian"}),
    ]
    store.upsert("accidents", a, actor="t")
    # victims: 2 in the first 2022 accident, 1 in 2024, 1 in the undated accident
    victims = [
        Record("victims", uuid7(), {"accident_id": acc.id, "outcome": "injured"})
        for acc in (a[0], a[0], a[2], a[3])
    ]
    store.upsert("victims", victims, actor="t")
    # EO reports: E1, E2 public (2025); E3, E4, E5 not (E5 has no `public` at all)
    reports = [
        ("2025-01-05T09:00:00Z", "new", True, None),
        ("2025-06-01T09:00:00Z", "verified", True, HZ),
        ("2026-02-01T09:00:00Z", "dismissed", False, None),
        ("2024-12-31T23:59:00Z", "linked", False, HZ),
        ("2025-03-03T09:00:00Z", "new", None, None),
    ]
    recs = []
    for at, status, public, hazard in reports:
        p: dict[str, Any] = {"reported_at": at, "status": status, "reporter_name": "R. Secret"}
        if public is not None:
            p["public"] = public
        if hazard is not None:
            p["hazard_id"] = hazard
        recs.append(_rec("eo_reports", p))
    store.upsert("eo_reports", recs, actor="t")
    return store


ALL_REPORTS = {
    "total": 5,
    "public_only": False,
    "by_status": {"new": 2, "verified": 1, "dismissed": 1, "linked": 1},
    "by_year": {"2024": 1, "2025": 3, "2026": 1},
    "by_area": {"all": 5},
    "linked_to_hazard": 2,
}
PUBLIC_REPORTS = {
    "total": 2,
    "public_only": True,
    "by_status": {"new": 1, "verified": 1, "dismissed": 0, "linked": 0},
    "by_year": {"2025": 2},
    "by_area": {"all": 2},
    "linked_to_hazard": 1,
}
ACCIDENT_YEARS = {"2022": 2, "2024": 1, "unknown": 1}


def test_year_of_full_partial_and_unknown_dates() -> None:
    """The year is the first four characters when they are digits: full and partial dates
    (i12-dates) count in their year, missing and unknown ones as unknown."""
    values = ["2019", "2019-05", "2019-05-03", "2019-05-03T10:00:00Z", "unknown", None, "", "19"]
    assert [year_key(v) for v in values] == ["2019"] * 4 + ["unknown"] * 4
    assert by_year([year_key(v) for v in values], None) == {"2019": 4, "unknown": 4}
    # a period lists each of its years (0 when none), in order, unknown last
    assert by_year(["2021", "unknown", "2019"], parse_period("2019-2020")) == {
        "2019": 1,
        "2020": 0,
        "2021": 1,
        "unknown": 1,
    }


def test_compute_without_a_period(data: Any) -> None:
    st = compute(data, role="admin")
    assert st["accidents"]["total"] == 4 and st["accidents"]["by_year"] == ACCIDENT_YEARS
    assert sum(st["accidents"]["by_year"].values()) == st["accidents"]["total"]
    year = st["casualties"]["breakdowns"]["year"]
    assert year == {"withheld": False, "cells": ACCIDENT_YEARS | {"2022": 2}}
    assert st["casualties"]["total"] == 4
    assert st["eo_reports"] == ALL_REPORTS
    for role in ("field", "analyst", "victim_assistance"):
        assert compute(data, role=role)["eo_reports"] == ALL_REPORTS, role
    assert compute(data, role="public")["eo_reports"] == PUBLIC_REPORTS
    # the public still sees the accidents by year (as it does year by year with --period);
    # casualties by year are small cells: withheld as before
    pub = compute(data, role="public")
    assert pub["accidents"]["by_year"] == ACCIDENT_YEARS
    assert pub["casualties"]["breakdowns"]["year"]["withheld"] is True


def test_compute_with_a_period(data: Any) -> None:
    st = compute(data, role="admin", period="2025")
    assert st["eo_reports"]["total"] == 3 and st["eo_reports"]["by_year"] == {"2025": 3}
    assert st["eo_reports"]["by_status"] == {"new": 2, "verified": 1, "dismissed": 0, "linked": 0}
    assert st["accidents"]["total"] == 0 and st["accidents"]["by_year"] == {"2025": 0}
    st = compute(data, role="admin", period="2022-2023")
    assert st["accidents"]["by_year"] == {"2022": 2, "2023": 0}  # undated: in no period
    assert compute(data, role="public", period="2026")["eo_reports"]["total"] == 0


def test_cli_text_and_json(data: Any) -> None:
    run = CliRunner().invoke
    r = run(cli, ["--db", data.location, "--role", "admin", "stats", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["eo_reports"] == ALL_REPORTS and out["accidents"]["by_year"] == ACCIDENT_YEARS
    r = run(cli, ["--db", data.location, "--role", "admin", "stats"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "Accidents: 4 (demining 1, civilian 3); by year: 2022 2, 2024 1, unknown date 1" in text
    assert (
        "EO reports: 5 — by status: new 2, verified 1, dismissed 1, linked 1; linked to a "
        "hazard: 2; by year: 2024 1, 2025 3, 2026 1" in text
    )
    assert "year: 2022 2, 2024 1, unknown 1" in text  # casualties, exact for admin
    r = run(cli, ["--db", data.location, "--role", "public", "stats"])
    text = " ".join(r.stdout.split())
    assert (
        "EO reports (public reports only): 2 — by status: new 1, verified 1; linked to a "
        "hazard: 1; by year: 2025 2" in text
    )
    assert "R. Secret" not in r.stdout


def test_http_route_by_role_and_fresh_after_a_write(data: Any) -> None:
    from demine.api.app import create_app

    data.add_user("fw", "field")
    token, token_hash = new_token()
    data.add_token("fw", token_hash)
    with TestClient(create_app(data.location)) as c:
        pub = c.get("/api/v1/stats")
        assert pub.status_code == 200, pub.text
        assert pub.json()["eo_reports"] == PUBLIC_REPORTS
        assert pub.json()["accidents"]["by_year"] == ACCIDENT_YEARS
        assert "R. Secret" not in pub.text
        field = c.get("/api/v1/stats", headers={"Authorization": f"Bearer {token}"}).json()
        assert field["eo_reports"] == ALL_REPORTS
        # a new public report is counted at once: the cache follows the EO reports' version
        new = {"reported_at": "2026-05-01T09:00:00Z", "status": "new", "public": True}
        data.upsert("eo_reports", [_rec("eo_reports", new)], actor="t")
        again = c.get("/api/v1/stats").json()["eo_reports"]
        assert again["total"] == 3 and again["by_year"] == {"2025": 2, "2026": 1}
