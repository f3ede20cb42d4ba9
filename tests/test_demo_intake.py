"""The demo's intake (issue 13): two synthetic operators with submissions in every state, seen
through the faces a user meets (`demine review list`, `GET /api/v1/submissions`) on the
demo's GeoPackage and, copied with `demine copy`, on PostGIS (submissions, their events and
their photos travel with the store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api.app import create_app
from demine.cli.app import app
from demine.services.access import new_token
from demine.store.open import open_store

STATES = {"draft", "submitted", "returned", "approved_operator", "approved", "rejected"}


def _cli(*args: str, user: str | None = None) -> Any:
    env = {"DEMINE_USER": user} if user else {}
    r = CliRunner().invoke(app, list(args), env=env)
    assert r.exit_code == 0, r.output
    return orjson.loads(r.stdout)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("demo_intake") / "demo.gpkg")
    info = _cli("demo", "--no-serve", "--db", db, "--json")
    assert info["intake"]["organisations"] == ["OPA", "OPB"]
    return db


@pytest.fixture(params=["gpkg", "postgis"])
def db(request: pytest.FixtureRequest, demo_db: str) -> Iterator[str]:
    if request.param == "gpkg":
        yield demo_db
        return
    url = request.getfixturevalue("pg_url")
    out = _cli("copy", demo_db, url, "--json")
    assert out["submissions"] == 7
    yield url


def _all_submissions(db: str) -> list[dict[str, Any]]:
    """What the reviewer and each operator's QA officer see, together."""
    seen: dict[str, dict[str, Any]] = {}
    for user, role in (("im_officer", "reviewer"), ("qa_a", "operator"), ("qa_b", "operator")):
        rows = _cli("--db", db, "--role", role, "review", "list", "--json", user=user)
        seen.update({s["id"]: s for s in rows["submissions"]})
    return list(seen.values())


def test_two_synthetic_operators_with_submissions_in_every_state(db: str) -> None:
    orgs = _cli("--db", db, "organisations", "list", "--json")
    ops = [o for o in orgs["organisations"] if o["type"] == "operator"]
    assert [o["code"] for o in ops] == ["OPA", "OPB"]
    assert all("synthetic" in o["name"] for o in ops)
    subs = _all_submissions(db)
    assert {s["state"] for s in subs} == STATES
    assert {s["organisation"] for s in subs} == {"OPA", "OPB"}
    for org in ("OPA", "OPB"):  # each operator has open and decided work
        assert len({s["state"] for s in subs if s["organisation"] == org}) >= 3
    # the decided ones say who decided and why
    rejected = next(s for s in subs if s["state"] == "rejected")
    shown = _cli("--db", db, "--role", "reviewer", "review", "show", rejected["id"], "--json")
    assert shown["events"][-1]["actor"] == "im_officer" and shown["events"][-1]["reason"]
    # the approved one is a record written by its submitter, approved by the reviewer
    approved = next(s for s in subs if s["state"] == "approved")
    s = open_store(db)
    try:
        hist = s.history(s.submissions(sid=approved["id"])[0]["payload"].get("id") or "")
    except Exception:  # the id is made at approval: find the record by its history's reason
        ids = [r.id for r in s.list("eo_reports")]
        hist = next(h for h in (s.history(i) for i in ids) if approved["id"] in (h[0].reason or ""))
    finally:
        s.close()
    assert hist[0].actor == "field_a" and "approved by im_officer" in (hist[0].reason or "")


def test_the_duplicate_carries_a_photo_whose_position_the_reviewer_sees(db: str) -> None:
    subs = _all_submissions(db)
    dup = next(
        s
        for s in subs
        if s["state"] == "submitted" and s["organisation"] == "OPB" and s["kind"] == "hazards"
    )
    s = open_store(db)
    try:
        s.add_user("im_officer", "reviewer")  # unchanged, already there: a token to sign in
        token, digest = new_token()
        s.add_token("im_officer", digest)
    finally:
        s.close()
    with TestClient(create_app(db)) as client:
        h = {"Authorization": f"Bearer {token}"}
        r = client.get(f"/api/v1/submissions/{dup['id']}", headers=h)
        assert r.status_code == 200, r.text
        assert "duplicate" in r.json()["payload"]["properties"]["name"]
        r = client.get("/api/v1/submissions", headers=h)
        assert {x["state"] for x in r.json()["submissions"]} >= STATES - {"draft"}
        assert client.get("/api/v1/submissions").status_code == 401
    listed = _cli(
        "--db", db, "--role", "reviewer", "attachments", dup["id"], "--submission", "--json"
    )
    (photo,) = listed["attachments"]
    assert photo["content_type"] == "image/jpeg"
    assert photo["exif"]["lat"] is not None and photo["exif"]["time"] == "2026-10-14T09:30:00"


def test_the_demo_submissions_are_marked_synthetic(demo_db: str, tmp_path: Path) -> None:
    s = open_store(demo_db)
    try:
        assert s.setting("synthetic") is True
        names = [
            (x["payload"] or {}).get("properties", {}).get("name")
            for x in s.submissions()
            if x["kind"] == "hazards"
        ]
    finally:
        s.close()
    assert names and all(n and "ynthetic" in n for n in names)


def test_the_demos_hints_sign_in_to_the_review_page_and_the_field_app(tmp_path: Path) -> None:
    """`demine demo` says how to sign in to /review and /field/; the commands it prints work
    as printed, and their tokens open the reviewer's queue and the field team's sync."""
    import shlex

    db = str(tmp_path / "demo.gpkg")
    r = CliRunner().invoke(app, ["demo", "--no-serve", "--db", db])
    assert r.exit_code == 0, r.output
    assert "/review" in r.output and "/field/" in r.output
    printed = [ln.split("#")[0].strip() for ln in r.output.splitlines() if "token create" in ln]
    assert len(printed) == 2, r.output
    client = TestClient(create_app(db))
    for line, route in zip(printed, ("/api/v1/submissions", "/api/v1/sync/pull"), strict=True):
        argv = shlex.split(line)
        assert argv[0] == "demine"
        out = CliRunner().invoke(app, argv[1:])
        assert out.exit_code == 0, out.output
        token = out.stdout.strip().split()[-1]
        got = client.get(route, headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200, (line, got.text)
