"""The cleanup endpoints over the demo store: a hazard's land-release account and certificate,
and the priorities, each for the roles that may (and may not) have them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from demine.api.app import create_app
from demine.demo import build_demo_store
from demine.services.access import ROLES, new_token
from demine.services.impact import prioritize, resolve_config
from demine.services.release import hazard_account
from demine.services.risk import parse_date
from demine.store.gpkg import GeoPackageStore

UNKNOWN = "01a213a9-0000-7000-8000-000000000000"
PROBLEM = "application/problem+json"
AT = "2026-01-15"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = tmp_path_factory.mktemp("api_cleanup") / "demo.gpkg"
    build_demo_store(db)
    s = GeoPackageStore(db)
    headers: dict[str, dict[str, str]] = {"public": {}}
    for role in ROLES[1:]:
        s.add_user(f"u_{role}", role)
        token, h = new_token()
        s.add_token(f"u_{role}", h)
        headers[role] = {"Authorization": f"Bearer {token}"}
    by_status: dict[str, list[str]] = {}
    for h in s.list("hazards"):
        by_status.setdefault(str(h.properties["status"]), []).append(h.id)
    # a closed hazard whose releases cover it (the demo also closes some historically)
    closed = [hid for hid in by_status["closed"] if hazard_account(s, hid)["remaining_m2"] <= 0.5]
    worked = [hid for hid in by_status["open"] if hazard_account(s, hid)["activities"]]
    expected = prioritize(s, resolve_config(s), at=parse_date(AT, "at"), top=5, synthetic=True)
    s.close()
    with TestClient(create_app(str(db))) as client:
        yield {
            "client": client,
            "headers": headers,
            "open": worked[0],
            "closed": closed[0],
            "handed_over": by_status["handed_over"][0],
            "expected": expected,
        }


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def test_public_account_of_an_open_hazard(env: dict[str, Any]) -> None:
    c = env["client"]
    r = c.get(f"/api/v1/hazards/{env['open']}/release")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    a = r.json()
    assert a["synthetic"] is True and a["hazard_id"] == env["open"]
    assert a["status"] == "open" and a["can_close"] is False and a["reasons"]
    assert set(a["by_type"]) <= {"cancelled", "reduced", "cleared"}
    assert a["remaining_m2"] > 0.5
    assert a["remaining_geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "remaining" not in a and "handed_over_to" not in a
    assert isinstance(a["overlaps"], list) and isinstance(a["outside"], list)
    act = a["activities"][0]
    assert {"activity_type", "status", "organisation", "started_on", "completed_on"} <= set(act)


def test_public_account_of_a_closed_hazard(env: dict[str, Any]) -> None:
    c = env["client"]
    a = c.get(f"/api/v1/hazards/{env['closed']}/release").json()
    assert a["status"] == "closed" and a["remaining_m2"] <= 0.5 and a["nothing_remains"]
    assert a["released_m2"] > 0 and a["can_close"] is False
    assert a["reasons"] == ["the hazard is already closed"]


def test_handed_over_to_is_for_analysts(env: dict[str, Any]) -> None:
    c, hid = env["client"], env["handed_over"]
    for role in ROLES:
        a = c.get(f"/api/v1/hazards/{hid}/release", headers=env["headers"][role]).json()
        assert a["status"] == "handed_over" and a["handed_over_on"]
        assert ("handed_over_to" in a) == (role in ("analyst", "reviewer", "admin")), role


def test_unknown_hazard_is_404(env: dict[str, Any]) -> None:
    c = env["client"]
    _problem(c.get(f"/api/v1/hazards/{UNKNOWN}/release"), 404)
    _problem(c.get("/api/v1/hazards/not-a-uuid/release"), 404)
    h = env["headers"]["analyst"]
    _problem(c.get(f"/api/v1/hazards/{UNKNOWN}/certificate", headers=h), 404)


def test_certificate(env: dict[str, Any]) -> None:
    c, h = env["client"], env["headers"]["analyst"]
    r = c.get(f"/api/v1/hazards/{env['handed_over']}/certificate", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>") and "SYNTHETIC" in r.text
    assert "Land release certificate" in r.text
    _problem(c.get(f"/api/v1/hazards/{env['open']}/certificate", headers=h), 409)


def test_certificate_needs_an_analyst(env: dict[str, Any]) -> None:
    # it prints who received the land (analyst-only) and the devices found
    c, url = env["client"], f"/api/v1/hazards/{env['handed_over']}/certificate"
    r = c.get(url)
    _problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    for role in ("field", "victim_assistance"):
        _problem(c.get(url, headers=env["headers"][role]), 403)
    assert c.get(url, headers=env["headers"]["admin"]).status_code == 200


def test_priorities_need_an_analyst(env: dict[str, Any]) -> None:
    c = env["client"]
    _problem(c.get("/api/v1/priorities"), 401)
    for role in ("field", "victim_assistance"):
        _problem(c.get("/api/v1/priorities", headers=env["headers"][role]), 403)


def test_priorities_for_an_analyst(env: dict[str, Any]) -> None:
    c, h = env["client"], env["headers"]["analyst"]
    r = c.get("/api/v1/priorities", params={"top": 5, "at": AT}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    want = env["expected"]
    assert body["synthetic"] is True and body["config"] == want.config.source
    assert [(x["id"], x["score"], x["rank"]) for x in body["hazards"]] == [
        (x["id"], x["score"], x["rank"]) for x in want.hazards
    ]
    assert body["missing"] == want.missing and body["at"] == want.at
    assert body["hazards"] == want.hazards
    every = c.get("/api/v1/priorities", params={"at": AT}, headers=h).json()["hazards"]
    assert len(every) > 5 and every[:5] == body["hazards"]
    later = c.get("/api/v1/priorities", params={"top": 1, "at": "2030-01-01"}, headers=h)
    assert later.status_code == 200 and later.json()["at"] == "2030-01-01"


@pytest.mark.parametrize("query", [{"top": 0}, {"top": 1001}, {"top": -3}, {"at": "soon"}])
def test_priorities_bad_input_is_422(env: dict[str, Any], query: dict[str, Any]) -> None:
    r = env["client"].get("/api/v1/priorities", params=query, headers=env["headers"]["analyst"])
    assert _problem(r, 422)["errors"][0]["field"] == next(iter(query))


def test_openapi_tags(env: dict[str, Any]) -> None:
    paths = env["client"].get("/api/openapi.json").json()["paths"]
    assert paths["/api/v1/hazards/{hazard_id}/release"]["get"]["tags"] == ["land release"]
    cert = paths["/api/v1/hazards/{hazard_id}/certificate"]["get"]
    assert cert["tags"] == ["land release"] and "text/html" in cert["responses"]["200"]["content"]
    prio = paths["/api/v1/priorities"]["get"]
    assert prio["tags"] == ["priorities"]
    assert {"401", "403", "422"} <= set(prio["responses"])
