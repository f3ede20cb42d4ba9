"""API tokens: an id, a creation time, an expiry (90 days by default), the last use; listed
(never the token), revoked one by one; removing a user revokes theirs. An unknown, expired or
revoked token is 401 on every route. Old stores migrate forward keeping their tokens valid.
Through the CLI and HTTP, on both backends."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app_routes import app_routes
from demine.api.app import create_app
from demine.cli.app import app as cli
from demine.model.schema import format_datetime
from demine.services.access import hash_token, new_token
from demine.store.open import open_store


def _run(location: str, *args: str, code: int = 0, role: str = "admin") -> Any:
    r = CliRunner().invoke(cli, ["--db", location, "--role", role, *args])
    assert r.exit_code == code, r.output
    return r


def _json(location: str, *args: str) -> Any:
    return json.loads(_run(location, *args, "--json").stdout)


def _role(client: TestClient, token: str) -> Any:
    r = client.get("/api/v1/map/config", headers={"Authorization": f"Bearer {token}"})
    return r.json()["role"] if r.status_code == 200 else r.status_code


def _api_routes(routes: Any) -> list[tuple[str, str]]:

    return [(m, p) for m, p, r in app_routes(routes) if isinstance(r, APIRoute) and m != "HEAD"]


def _fill(path: str) -> str:
    values = {"cid": "hazards", "fid": str(uuid.uuid4()), "z": "3", "x": "4", "y": "2"}
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values.get(m.group(1), "released"), path)


def test_token_lifecycle_through_cli_and_http(store: Any) -> None:
    loc = store.location
    store.close()
    _run(loc, "user", "add", "olena", "--role", "analyst")
    made = _json(loc, "token", "create", "olena", "--label", "laptop")
    token, tid = made["token"], made["id"]
    assert re.fullmatch(r"tk_[0-9a-f]{12}", tid)
    exp = datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
    assert abs(exp - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
    forever = _json(loc, "token", "create", "olena", "--expires-in", "never")
    assert forever["expires_at"] is None
    week = _json(loc, "token", "create", "olena", "--expires-in", "7")
    for bad in ("0", "-3", "soon", "1.5", "7\n"):
        r = _run(loc, "token", "create", "olena", "--expires-in", bad, code=1)
        assert "--expires-in" in r.output
    listed = _json(loc, "token", "list", "olena")["tokens"]
    assert [t["id"] for t in listed] == [tid, forever["id"], week["id"]]
    for t in listed:
        assert t["user"] == "olena" and t["role"] == "analyst" and t["state"] == "active"
        assert t["created_at"] and set(t) >= {"id", "created_at", "expires_at", "last_used_at"}
    assert listed[0]["label"] == "laptop" and listed[1]["expires_at"] is None
    text = _run(loc, "token", "list").stdout + json.dumps(listed)
    for secret in (token, forever["token"], week["token"]):
        assert secret not in text and hash_token(secret) not in text  # never the token
    with TestClient(create_app(loc)) as client:
        assert _role(client, token) == "analyst"
        # the last use is kept
        used = _json(loc, "token", "list", "olena")["tokens"][0]["last_used_at"]
        assert used is not None
        # revoke one by id: that one is 401, the others still work
        assert _json(loc, "token", "revoke", tid) == {"id": tid, "revoked": 1}
        assert _json(loc, "token", "revoke", tid) == {"id": tid, "revoked": 0}
        assert _role(client, token) == 401
        assert _role(client, forever["token"]) == "analyst"
        states = {t["id"]: t["state"] for t in _json(loc, "token", "list")["tokens"]}
        assert states == {tid: "revoked", forever["id"]: "active", week["id"]: "active"}
        r = _run(loc, "token", "revoke", "olena", code=3)
        assert "--user olena" in r.output  # the old form says what to type now
        _run(loc, "token", "revoke", "tk_000000000000", code=3)
        # remove the user: every token of theirs ends; the row stays, as removed
        assert _json(loc, "user", "remove", "olena")["tokens_revoked"] == 2
        assert _role(client, forever["token"]) == 401 and _role(client, week["token"]) == 401
        assert "olena" not in [u["user"] for u in _json(loc, "user", "list")["users"]]
        gone = _json(loc, "user", "list", "--removed")["users"]
        assert gone[0]["user"] == "olena" and gone[0]["removed_at"]
        _run(loc, "token", "create", "olena", code=3)  # no tokens for a removed user
        _run(loc, "user", "remove", "olena", code=3)
        # added again: a user once more, but the old tokens stay revoked
        _run(loc, "user", "add", "olena", "--role", "field")
        assert _role(client, forever["token"]) == 401
        fresh = _json(loc, "token", "create", "olena")["token"]
        assert _role(client, fresh) == "field"


def test_expired_and_revoked_tokens_are_401_on_every_route(store: Any) -> None:
    store.add_user("ann", "admin")
    expired, h1 = new_token()
    store.add_token("ann", h1, expires_at=format_datetime(datetime.now(UTC) - timedelta(seconds=1)))
    revoked, h2 = new_token()
    tid = store.add_token("ann", h2)
    store.revoke_token(tid)
    good, h3 = new_token()
    store.add_token("ann", h3, expires_at=format_datetime(datetime.now(UTC) + timedelta(hours=1)))
    states = {t["id"]: t["state"] for t in store.token_list("ann")}
    assert sorted(states.values()) == ["active", "expired", "revoked"]
    loc = store.location
    store.close()
    with TestClient(create_app(loc)) as client:
        routes = _api_routes(client.app.routes)  # type: ignore[attr-defined]
        assert len(routes) > 20
        for bad in (expired, revoked, "dm_" + "x" * 43):
            h = {"Authorization": f"Bearer {bad}"}
            for method, path in routes:
                r = client.request(method, _fill(path), headers=h, json={})
                assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
                assert r.headers["www-authenticate"] == "Bearer"
        assert _role(client, good) == "admin"


def _make_old_store(store: Any) -> str:
    """Turn a fresh store into one of the schema before token ids and expiry, holding one
    token made then."""
    loc = store.location
    if loc.startswith("postgresql"):
        c = store.conn
        c.execute("DROP INDEX IF EXISTS demine_tokens_token_id")
        for col in ("token_id", "expires_at", "last_used_at"):
            c.execute(f"ALTER TABLE demine_tokens DROP COLUMN {col}")
        c.execute("ALTER TABLE demine_users DROP COLUMN removed_at")
        c.execute("UPDATE demine_schema SET version = 2")
        c.execute(
            "INSERT INTO demine_users (name, role, created_at) VALUES ('old', 'field', now())"
        )
        c.execute(
            "INSERT INTO demine_tokens (token_hash, user_name, label, created_at) "
            "VALUES (%s, 'old', 'from before', now())",
            (hash_token(OLD_TOKEN),),
        )
        c.commit()
    else:
        c = store.conn
        c.execute("DROP INDEX IF EXISTS demine_tokens_token_id")
        for col in ("token_id", "expires_at", "last_used_at"):
            c.execute(f"ALTER TABLE demine_tokens DROP COLUMN {col}")
        c.execute("ALTER TABLE demine_users DROP COLUMN removed_at")
        c.execute("UPDATE demine_settings SET value = '4' WHERE key = 'schema_version'")
        c.execute("INSERT INTO demine_users (name, role, created_at) VALUES ('old', 'field', 'x')")
        c.execute(
            "INSERT INTO demine_tokens (token_hash, user_name, label, created_at) "
            "VALUES (?, 'old', 'from before', '2025-01-01T00:00:00Z')",
            (hash_token(OLD_TOKEN),),
        )
        c.commit()
    store.close()
    return str(loc)


OLD_TOKEN = "dm_made-before-expiry-existed-" + "0" * 20


def test_old_store_migrates_keeping_its_tokens_valid(store: Any) -> None:
    loc = _make_old_store(store)
    listed = _json(loc, "token", "list")["tokens"]  # opening it migrates it
    assert len(listed) == 1
    old = listed[0]
    assert re.fullmatch(r"tk_[0-9a-f]{12}", old["id"])
    assert old["user"] == "old" and old["expires_at"] is None and old["state"] == "active"
    s = open_store(loc)
    try:
        assert s.token_user(hash_token(OLD_TOKEN)) == ("old", "field")  # still valid
    finally:
        s.close()
    with TestClient(create_app(loc)) as client:
        assert _role(client, OLD_TOKEN) == "field"
        _json(loc, "token", "revoke", old["id"])
        assert _role(client, OLD_TOKEN) == 401


@pytest.mark.parametrize("role", ["public", "field", "analyst", "victim_assistance"])
def test_only_admins_manage_tokens(store: Any, role: str) -> None:
    store.add_user("ann", "analyst")
    loc = store.location
    store.close()
    for args in (("token", "list"), ("token", "create", "ann"), ("user", "remove", "ann")):
        r = _run(loc, *args, code=5, role=role)
        assert "admin" in r.output
