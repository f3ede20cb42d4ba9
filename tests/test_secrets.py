"""Secrets: the database password never reaches a client, an output, a file or a log.

A password is planted in the store URL and every face is searched for it:

* the PostgreSQL server is stopped (nothing listens on the port): every GET route of the
  web application (walked as tests/test_privacy.py does, so a route added later is searched
  too), with and without a token - plain 503 problem+json with Retry-After, no host, port or
  URL - and the log records; every CLI command that takes ``--db`` (the list is checked
  against the application's commands), with and without ``--json``, stdout and stderr;
* the real test server refuses a wrong password (the role ``demine_pwcheck``, which
  .ci/with-postgis makes give its password): the same walk;
* the right password on the real server: every command works and still never shows it
  (``init --json``'s location, ``copy`` and its JSON, ``serve``'s start-up line).

Also: ``demine --db postgresql://... init`` makes the PostGIS schema (never a local file),
files demine writes are 0600, and a full disk is a clear error, not a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import psycopg
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import demine
from app_routes import get_paths
from demine.api import create_app
from demine.cli.app import app as cli
from demine.errors import StoreFull, StoreUnavailable
from demine.services.register import ImportOptions, import_file
from demine.services.setup import init_store
from demine.store.gpkg import GeoPackageStore
from demine.store.open import open_store
from demine.store.redact import location_secrets, redact_location, scrub_secrets

STOPPED_PW = "S3cretPlantedStopped"
WRONG_PW = "S3cretPlantedWrong"
RIGHT_PW = "S3cretPlantedRight"
SECRET = "S3cretPlanted"  # what every planted password starts with
PW_ROLE = "demine_pwcheck"  # .ci/with-postgis: this role must give its password
LAT, LON = 48.0061, 37.8052

run = CliRunner().invoke


# --- the helper itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://demine:pw@127.0.0.1:5432/x?demine_schema=s",
            "postgresql://demine:***@127.0.0.1:5432/x?demine_schema=s",
        ),
        ("postgres://u:p%40ss@db/ma", "postgres://u:***@db/ma"),
        ("postgresql://u:p?ss@db/ma", "postgresql://u:***@db/ma"),  # libpq: ends at '@'
        ("postgresql://u@db/ma?password=pw&sslmode=require", None),
        ("postgresql://db/ma?sslmode=require&PassWord=pw", None),
        (  # a misspelt password parameter is masked too: only known parameters are shown
            "postgresql://u@db/ma?pasword=pw&sslmode=require&demine_schema=d",
            "postgresql://u@db/ma?pasword=***&sslmode=require&demine_schema=d",
        ),
        (
            "postgresql://demine@db/ma?demine_schema=demine",
            "postgresql://demine@db/ma?demine_schema=demine",
        ),
        ("demine.gpkg", "demine.gpkg"),
        ("/var/lib/demine/store:with:colons.gpkg", "/var/lib/demine/store:with:colons.gpkg"),
    ],
)
def test_redact_location(url: str, shown: str | None) -> None:
    got = redact_location(url)
    if shown is not None:
        assert got == shown
    for s in location_secrets(url):
        assert s not in got.replace("***", "")
    assert "pw" not in got.replace("pwd", "") and "p%40ss" not in got and "p?ss" not in got
    assert redact_location(got) == got  # idempotent


def test_scrub_secrets_in_free_text() -> None:
    text = (
        "connection to postgresql://u:S3cretPlantedX@h:5/db failed; conninfo "
        "host=h password=S3cretPlantedY user=u; password='S3cret Planted Z' sslpassword=S3cretW"
    )
    out = scrub_secrets(text)
    assert "S3cret" not in out and out.count("***") == 4
    assert scrub_secrets("he said S3cretPlantedQ", ["S3cretPlantedQ"]) == "he said ***"


def test_repr_of_stores_masks_the_password(tmp_path: Path) -> None:
    url = f"postgresql://demine:{STOPPED_PW}@127.0.0.1:1/x?demine_schema=s"
    s = open_store(url)
    assert STOPPED_PW not in repr(s) and "demine:***@127.0.0.1:1" in repr(s)
    assert STOPPED_PW not in str(s)
    g = open_store(tmp_path / "a.gpkg")
    assert repr(g) == f"GeoPackageStore({str(tmp_path / 'a.gpkg')!r})"


# --- the URLs ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server() -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    pg = os.environ["DEMINE_TEST_PG"]
    d = conninfo_to_dict(pg.split("?")[0])
    return {"host": str(d.get("host")), "port": str(d.get("port") or 5432), "db": str(d["dbname"])}


@pytest.fixture
def pw_role(pg_url: str) -> Iterator[str]:
    """The test server's role that must give its password (RIGHT_PW); yields pg_url's schema."""
    admin = os.environ["DEMINE_TEST_PG"].split("?")[0]
    srv = _server()
    with psycopg.connect(admin, autocommit=True) as c:
        with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            c.execute(f"CREATE ROLE {PW_ROLE} LOGIN")  # (another test may make it meanwhile)
        c.execute(f"ALTER ROLE {PW_ROLE} LOGIN PASSWORD '{RIGHT_PW}'")
        c.execute(f'GRANT CREATE ON DATABASE "{srv["db"]}" TO {PW_ROLE}')
    wrong = f"postgresql://{PW_ROLE}:{WRONG_PW}@{srv['host']}:{srv['port']}/{srv['db']}"
    try:
        psycopg.connect(wrong, connect_timeout=5).close()
    except psycopg.OperationalError:
        pass
    else:
        pytest.skip(
            "the server at DEMINE_TEST_PG takes any password: .ci/with-postgis makes the role "
            f"{PW_ROLE} give its password (pg_hba.conf: host all {PW_ROLE} 127.0.0.1/32 "
            "scram-sha-256)"
        )
    yield pg_url.rsplit("demine_schema=", 1)[1]


def _pw_url(password: str, schema: str, **params: str) -> str:
    srv = _server()
    q = "&".join([f"demine_schema={schema}", *(f"{k}={v}" for k, v in params.items())])
    return f"postgresql://{PW_ROLE}:{password}@{srv['host']}:{srv['port']}/{srv['db']}?{q}"


@pytest.fixture(params=["stopped", "wrong_password"])
def failing(request: pytest.FixtureRequest) -> tuple[str, str, list[str]]:
    """(URL, its password, what else must not be shown: host and port) of a store that cannot
    be reached: PostgreSQL stopped, or a wrong password given to the real server."""
    if request.param == "stopped":
        port = str(_free_port())
        url = f"postgresql://demine:{STOPPED_PW}@127.0.0.1:{port}/x?demine_schema=s"
        return url, STOPPED_PW, ["127.0.0.1", port]
    schema = request.getfixturevalue("pw_role")
    srv = _server()
    return _pw_url(WRONG_PW, schema), WRONG_PW, [srv["host"], srv["port"]]


# --- the web application ------------------------------------------------------------------------


FILL = {
    "cid": "hazards",
    "collection": "hazards",
    "kind": "hazards",
    "fid": "0190a0a0-0000-7000-8000-000000000001",
    "id": "0190a0a0-0000-7000-8000-000000000001",
    "record_id": "0190a0a0-0000-7000-8000-000000000001",
    "hazard_id": "0190a0a0-0000-7000-8000-000000000001",
    "z": "10",
    "x": "619",
    "y": "353",
    "name": "accidents",
    "fmt": "svg",
    "path": "app.js",
}


def _urls(app: Any) -> list[str]:
    urls = []
    for path in get_paths(app.routes):
        url = path
        for p in re.findall(r"{(\w+)(?::\w+)?}", path):
            url = re.sub(r"{" + p + r"(?::\w+)?}", FILL.get(p, "x"), url)
        urls.append(url)
    return urls


QUERIES = ("", "?f=json", "?f=html", f"?lat={LAT}&lon={LON}&radius=500", "?limit=10")


def _clean(text: str, password: str, more: list[str], where: str) -> None:
    assert password not in text and SECRET not in text, f"{where}: the password is shown"
    for m in more:
        assert m not in text, f"{where}: {m!r} is shown"


def test_api_never_shows_the_password_when_the_store_is_unreachable(
    failing: tuple[str, str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    url, password, host_port = failing
    app = create_app(url)
    urls = _urls(app)
    assert "/api/v1/safety/point" in urls and any(u.startswith("/ogc/collections/") for u in urls)
    unavailable: list[str] = []
    caplog.set_level(logging.INFO)
    with TestClient(app, raise_server_exceptions=False) as c:
        for headers in ({}, {"Authorization": "Bearer " + "t" * 43}):
            for u in urls:
                for q in QUERIES:
                    r = c.get(u + q, headers=headers)
                    where = f"GET {u}{q} {headers} ({r.status_code})"
                    _clean(r.text, password, ["postgresql", *host_port], where)
                    _clean(str(r.headers), password, ["postgresql", *host_port], where)
                    assert r.status_code != 500, where  # an unreachable store is a 503
                    if r.status_code == 503:
                        assert r.headers["content-type"] == "application/problem+json", where
                        assert r.json()["detail"] == "the store is unavailable", where
                        assert int(r.headers["retry-after"]) > 0, where
                        unavailable.append(u)
            r = c.post(
                "/api/v1/safety/route",
                headers=headers,
                json={
                    "route": {"type": "LineString", "coordinates": [[LON, LAT], [LON + 0.01, LAT]]},
                    "radius": 100,
                },
            )
            assert r.status_code == 503
            _clean(r.text, password, ["postgresql", *host_port], "POST route")
    assert "/api/v1/safety/point" in unavailable and len(set(unavailable)) > 10
    # the operator's log says what failed (on the "demine" logger), the password masked
    logged = [rec for rec in caplog.records if rec.name == "demine"]
    assert any("cannot connect to the demine store at" in rec.getMessage() for rec in logged)
    assert any(":***@" in rec.getMessage() for rec in logged)
    for rec in caplog.records:
        text = rec.getMessage() + (rec.exc_text or "")
        assert password not in text and SECRET not in text, rec.getMessage()
    r503 = TestClient(app).get(f"/api/v1/safety/point?lat={LAT}&lon={LON}")
    assert r503.json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the store is unavailable",
    }


def test_api_without_a_store_is_a_503_naming_no_path(tmp_path: Path) -> None:
    """A server pointed at no store: 503 everywhere the store is needed (never a 404 as if a
    collection or record were missing), and the server's file path is not shown."""
    missing = tmp_path / "private-dir" / "store-not-here.gpkg"
    app = create_app(str(missing))
    seen = []
    with TestClient(app, raise_server_exceptions=False) as c:
        for u in _urls(app):
            r = c.get(u)
            _clean(r.text, "private-dir", ["store-not-here", str(tmp_path)], f"GET {u}")
            assert r.status_code != 500, u
            seen.append((u, r.status_code))
    codes = dict(seen)
    for u in (
        "/api/v1/safety/point",
        "/ogc/collections/hazards/items",
        "/tiles/hazards/10/619/353.mvt",
    ):
        assert codes[u] in (503, 400), (u, codes[u])  # 400: a parameter checked first
    assert codes["/ogc/collections/hazards/items"] == 503
    assert codes["/tiles/hazards/10/619/353.mvt"] == 503
    assert not missing.exists() and not missing.parent.exists()  # nothing made


def test_unexpected_errors_are_a_generic_500_and_logged_scrubbed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = GeoPackageStore(tmp_path / "s.gpkg")
    init_store(s)
    s.close()
    app = create_app(str(tmp_path / "s.gpkg"))
    leak = f"postgresql://demine:{SECRET}Boom@db.internal:5432/ma"

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"cannot talk to {leak} password={SECRET}Kv")

    @app.get("/bad")
    def bad() -> None:
        raise ValueError(f"bad value near {leak}")

    caplog.set_level(logging.ERROR, logger="demine")
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
        assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "internal error: the server's log has the details"
        assert "RuntimeError" not in r.text and "db.internal" not in r.text
        # a bare ValueError is a bug, not a bad request (issue 11): the same generic 500
        r = c.get("/bad")
        assert r.status_code == 500 and SECRET not in r.text and "db.internal" not in r.text
        assert r.json()["detail"] == "internal error: the server's log has the details"
    logged = "\n".join(rec.getMessage() for rec in caplog.records if rec.name == "demine")
    assert "RuntimeError" in logged and "Traceback" in logged  # the operator sees what failed
    assert SECRET not in logged and "demine:***@db.internal" in logged


def test_a_lost_connection_is_a_503_then_the_store_reconnects(pw_role: str, tmp_path: Path) -> None:
    tag = "demine-secrets-" + uuid.uuid4().hex[:8]
    url = _pw_url(RIGHT_PW, pw_role, application_name=tag)
    s = open_store(url)
    init_store(s)
    s.close()
    with TestClient(create_app(url), raise_server_exceptions=False) as c:
        assert c.get(f"/api/v1/safety/point?lat={LAT}&lon={LON}").status_code == 200
        with psycopg.connect(os.environ["DEMINE_TEST_PG"].split("?")[0], autocommit=True) as a:
            n = a.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (tag,),
            ).fetchone()
        assert n is not None and n[0] >= 1
        statuses = []
        for _ in range(3):
            r = c.get(f"/api/v1/safety/point?lat={LAT}&lon={LON}")
            statuses.append(r.status_code)
            _clean(r.text, RIGHT_PW, ["postgresql", "terminating"], "after termination")
        assert statuses[0] == 503 and statuses[-1] == 200, statuses


# --- the command line -------------------------------------------------------------------------


def _hazards_file(tmp: Path, n: int = 2, name: str = "h.geojson") -> Path:
    feats = []
    for i in range(n):
        x, y = LON + i * 0.02, LAT
        d = 0.004
        ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
        feats.append(
            {
                "type": "Feature",
                "id": f"H-{i}",
                "properties": {"hazard_type": "SHA", "status": "open", "name": f"Field {i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    p = tmp / name
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return p


RID = "0190a0a0-0000-7000-8000-000000000001"


def _invocations(db: str, tmp: Path) -> dict[str, list[list[str]]]:
    """Every command that takes --db (the key: its name), the ways it is run against ``db``."""
    src = str(_hazards_file(tmp))
    gpkg = str(tmp / "copy-source.gpkg")
    photo = tmp / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)  # read before the store is
    from demine.services.extract import generate_key

    key = str(tmp / "extract-key.pem")  # read after the store is opened
    Path(key).write_bytes(generate_key()[0])
    out = str(tmp / "extract.json")
    extract = tmp / "extract-in.json"
    extract.write_text("{}")
    return {
        "init": [["--db", db, "init"], ["init", "--db", db]],
        "import": [["--db", db, "import", src, "--kind", "hazards"]],
        "export": [["--db", db, "export", str(tmp / "out.geojson"), "--kind", "hazards"]],
        "list": [["--db", db, "list", "hazards"]],
        "show": [["--db", db, "show", RID]],
        "history": [["--db", db, "history", RID]],
        "restore": [["--db", db, "restore", RID, "--revision", "1"]],
        "update": [["--db", db, "update", RID, "name=x"]],
        "delete": [["--db", db, "delete", RID]],
        "check": [["--db", db, "check", str(LAT), str(LON)]],
        "publish": [["--db", db, "publish", str(tmp / "pack"), "--bbox", "30,45,40,50"]],
        "demo": [["demo", "--db", db, "--no-serve"]],
        "serve": [["--db", db, "serve", "--port", str(_free_port())]],
        "copy": [["copy", db, str(tmp / "copy-dest.gpkg")], ["copy", gpkg, db]],
        "prioritize": [["--db", db, "prioritize"]],
        "stats": [["--db", db, "stats"]],
        "rebuild-derived": [["--db", db, "rebuild-derived"]],
        "duplicates": [["--db", db, "duplicates", "hazards"]],
        "quality": [["--db", db, "quality", "hazards", "--id", RID]],
        "chart": [["--db", db, "chart", "released", "-o", str(tmp / "c.svg")]],
        # users and tokens: the admin role (the CLI refuses the default analyst before it
        # connects)
        "user add": [["--db", db, "--role", "admin", "user", "add", "olena"]],
        "user list": [["--db", db, "--role", "admin", "user", "list"]],
        "user remove": [["--db", db, "--role", "admin", "user", "remove", "olena"]],
        "token create": [["--db", db, "--role", "admin", "token", "create", "olena"]],
        "token list": [["--db", db, "--role", "admin", "token", "list"]],
        "token revoke": [
            ["--db", db, "--role", "admin", "token", "revoke", "tk_000000000000"],
            ["--db", db, "--role", "admin", "token", "revoke", "--user", "olena"],
        ],
        "risk estimate": [
            [
                "--db",
                db,
                "risk",
                "estimate",
                "--device-type",
                "apii-limit",
                "--quantity",
                "10",
                "--days",
                "30",
            ]
        ],
        "risk hazard": [["--db", db, "risk", "hazard", "--all"]],
        "risk learn": [["--db", db, "risk", "learn"]],
        "release status": [["--db", db, "release", "status", RID]],
        "release close": [["--db", db, "release", "close", RID, "--on", "2025-01-01"]],
        "release handover": [
            ["--db", db, "release", "handover", RID, "--to", "Council", "--on", "2025-01-02"]
        ],
        "release certificate": [
            ["--db", db, "release", "certificate", RID, "-o", str(tmp / "c.html")]
        ],
        "report annual": [
            ["--db", db, "report", "annual", "--year", "2025", "-o", str(tmp / "r.html")]
        ],
        "organisations add": [
            ["--db", db, "--role", "admin", "organisations", "add", "HALO", "--name", "H"]
        ],
        "organisations list": [["--db", db, "organisations", "list"]],
        "submit": [["--db", db, "submit", src, "--kind", "hazards"]],
        "review list": [["--db", db, "--role", "reviewer", "review", "list"]],
        "review show": [["--db", db, "--role", "reviewer", "review", "show", RID]],
        "review approve": [["--db", db, "--role", "reviewer", "review", "approve", RID]],
        "review reject": [
            ["--db", db, "--role", "reviewer", "review", "reject", RID, "--reason", "x"]
        ],
        "review return": [
            ["--db", db, "--role", "reviewer", "review", "return", RID, "--reason", "x"]
        ],
        "review merge": [
            [
                "--db",
                db,
                "--role",
                "reviewer",
                "review",
                "merge",
                "hazards",
                RID,
                RID,
                "--reason",
                "x",
            ]
        ],
        "attach": [
            ["--db", db, "attach", RID, str(photo)],
            ["--db", db, "--role", "reviewer", "attach", RID, str(photo), "--submission"],
        ],
        "attachments": [
            ["--db", db, "attachments", RID],
            ["--db", db, "--role", "reviewer", "attachments", RID, "--submission"],
        ],
        "review submit": [["--db", db, "--role", "field", "review", "submit", RID]],
        "review levels": [["--db", db, "--role", "admin", "review", "levels", "2"]],
        "review report": [["--db", db, "--role", "reviewer", "review", "report"]],
        "attachment get": [["--db", db, "attachment", "get", RID, "-o", str(tmp / "a.jpg")]],
        "forms list": [["--db", db, "--role", "field", "forms", "list"]],
        "forms show": [["--db", db, "forms", "show", "finds", "--for", "field"]],
        "forms xlsform": [["--db", db, "forms", "xlsform", "finds", "-o", str(tmp / "f.xlsx")]],
        "extract keygen": [
            ["--db", db, "--role", "admin", "extract", "keygen", "--out", str(tmp / "k.pem")]
        ],
        "extract keys": [["--db", db, "extract", "keys"]],
        "extract revoke": [["--db", db, "--role", "admin", "extract", "revoke", "0" * 16]],
        "extract make": [
            ["--db", db, "extract", "make", "--point", f"{LAT},{LON}", "--key", key, "-o", out]
        ],
        "extract verify": [["--db", db, "extract", "verify", str(extract)]],
    }


def _commands() -> dict[str, set[str]]:
    """Every command of the CLI (space-joined path) and its parameters' names."""
    root = typer.main.get_command(cli)
    out: dict[str, set[str]] = {}

    def walk(cmd: click.Command, path: list[str], ctx: click.Context) -> None:
        if hasattr(cmd, "list_commands"):  # a group (typer's own class)
            for n in cmd.list_commands(ctx):
                c = cmd.get_command(ctx, n)
                assert c is not None
                walk(c, [*path, n], click.Context(c, parent=ctx))
        else:
            out[" ".join(path)] = {p.name or "" for p in cmd.params}

    walk(root, [], click.Context(root))
    return out


def _all_output(r: Any) -> str:
    text = r.output + (r.stderr if r.stderr_bytes is not None else "")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        text += "".join(traceback.format_exception(r.exception))
    return text


def test_every_command_with_a_store_is_searched(tmp_path: Path) -> None:
    cmds = _commands()
    with_db = {n for n, params in cmds.items() if "db" in params} | {"copy"}
    assert set(_invocations("x.gpkg", tmp_path)) == with_db


def test_cli_never_shows_the_password_when_the_store_is_unreachable(
    failing: tuple[str, str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, password, _ = failing
    s = GeoPackageStore(tmp_path / "copy-source.gpkg")
    init_store(s)
    s.close()
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("DEMINE_DB", raising=False)
    cmds = _commands()
    invocations = _invocations(url, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    told = 0
    for name, runs in invocations.items():
        for args in runs:
            json_too = "as_json" in cmds[name]
            for extra in ([], ["--json"]) if json_too else ([],):
                argv = [*args, *extra]
                r = run(cli, argv)
                text = _all_output(r)
                where = f"demine {' '.join(argv)} -> {r.exit_code}"
                _clean(text, password, [], where)
                assert "Traceback" not in text, where
                if name == "demo":  # a URL is no demo file
                    assert r.exit_code == 1 and "expected a file path" in text, where
                    continue
                assert r.exit_code == 2, where + "\n" + text
                if extra:
                    err = json.loads(r.stdout)["error"]
                    assert err["status"] == 503 and err["title"] == "Service Unavailable"
                else:
                    assert "cannot connect to the demine store at postgresql://" in text, where
                    assert ":***@" in text, where
                    told += 1
    assert told >= len(invocations) - 1
    # nothing written anywhere: no file for the URL, no half-made copy or export
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:S3cretPlantedM@127.0.0.1:notaport/db",
        "postgresql://u:S3cretPlantedM@127.0.0.1:1/db?badopt=S3cretPlantedM",
        "postgresql://u@127.0.0.1:1/db?password=S3cretPlantedM&sslmode=bogus",
        "postgresql://u:S3cret%PlantedM@127.0.0.1:1/db",
        "postgresql://u:S3cretPlantedM@[::1/db",
    ],
)
def test_a_malformed_url_never_shows_its_password(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The driver's complaint about a bad URL may quote it: what is shown is scrubbed."""
    for extra in ([], ["--json"]):
        r = run(cli, ["--db", url, "list", "hazards", *extra])
        text = _all_output(r)
        assert r.exit_code == 2 and "Traceback" not in text, text
        assert SECRET not in text and "PlantedM" not in text, text
    with TestClient(create_app(url), raise_server_exceptions=False) as c:
        r = c.get(f"/api/v1/safety/point?lat={LAT}&lon={LON}")
        assert r.status_code in (500, 503) and "PlantedM" not in r.text and "u:" not in r.text
    assert all("PlantedM" not in rec.getMessage() for rec in caplog.records)


def test_cli_never_shows_the_right_password(
    pw_role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The right password, a working server: init, import, list, check, export, copy both
    ways, stats, users and tokens, serve's start-up line - none shows it."""
    schema_b = pw_role + "_b"
    url = _pw_url(RIGHT_PW, pw_role)
    url_b = _pw_url(RIGHT_PW, schema_b)
    monkeypatch.chdir(tmp_path)
    outputs: list[str] = []

    def ok(*args: str) -> Any:
        r = run(cli, list(args))
        outputs.append(_all_output(r))
        assert r.exit_code == 0, _all_output(r)
        return r

    try:
        d = json.loads(ok("--db", url, "init", "--json").stdout)
        assert d["location"] == redact_location(url) and ":***@" in d["location"]
        assert "store ready: postgresql://demine_pwcheck:***@" in ok("--db", url, "init").output
        src = _hazards_file(tmp_path)
        imp = json.loads(ok("--db", url, "import", str(src), "--kind", "hazards", "--json").stdout)
        assert imp["created"] == 2
        listed = json.loads(ok("--db", url, "list", "hazards", "--json").stdout)
        rid = listed["records"][0]["id"]
        for extra in ([], ["--json"]):
            ok("--db", url, "list", "hazards", *extra)
            ok("--db", url, "check", str(LAT + 0.001), str(LON + 0.001), *extra)
            ok("--db", url, "show", rid, *extra)
            ok("--db", url, "history", rid, *extra)
            ok("--db", url, "stats", *extra)
            ok("--db", url, "--role", "admin", "user", "list", *extra)
            ok("--db", url, "--role", "admin", "token", "list", *extra)
        ok("--db", url, "export", str(tmp_path / "e.geojson"), "--kind", "hazards")
        ok("--db", url, "--role", "admin", "user", "add", "olena", "--role", "analyst")
        ok("--db", url, "--role", "admin", "token", "create", "olena")
        g = tmp_path / "copy.gpkg"
        c = json.loads(ok("copy", url, str(g), "--json").stdout)
        assert c["source"] == redact_location(url) and c["destination"] == str(g)
        c = json.loads(ok("copy", str(g), url_b, "--json").stdout)
        assert c["destination"] == redact_location(url_b)
        assert c["records"]["hazards"] == 2
        r = run(cli, ["copy", str(g), url_b])  # not empty any more: a conflict naming it
        outputs.append(_all_output(r))
        assert r.exit_code == 4 and "demine_pwcheck:***@" in _all_output(r)
        g2 = tmp_path / "copy2.gpkg"
        assert "copied" in ok("copy", url_b, str(g2)).output
        line = _serve_line(url)
        outputs.append(line)
        assert line.startswith("serving postgresql://demine_pwcheck:***@"), line
    finally:
        with psycopg.connect(os.environ["DEMINE_TEST_PG"].split("?")[0], autocommit=True) as a:
            a.execute(f'DROP SCHEMA IF EXISTS "{schema_b}" CASCADE')
    for text in outputs:
        _clean(text, RIGHT_PW, [], text[:200])
    assert list(p.name for p in tmp_path.iterdir() if "postgres" in p.name) == []


def _serve_line(db: str) -> str:
    """``demine --db DB serve``'s start-up line (stderr), from a real process, then stopped."""
    src = str(Path(demine.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    port = str(_free_port())
    p = subprocess.Popen(
        [sys.executable, "-c", "from demine.cli.app import main; main()"]
        + ["--db", db, "serve", "--port", port],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert p.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "serving" not in line:
            line = p.stderr.readline()
            if not line and p.poll() is not None:
                break
        return line.strip()
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_serve_line_of_a_geopackage(tmp_path: Path) -> None:
    db = tmp_path / "s.gpkg"
    init_store(GeoPackageStore(db))
    assert _serve_line(str(db)).startswith(f"serving {db} on http://127.0.0.1:")


# --- init on a URL makes the PostGIS schema; a URL is never a file ------------------------------


@pytest.fixture(params=["gpkg", "postgis"])
def two_locations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "gpkg":
        yield str(tmp_path / "a.gpkg"), str(tmp_path / "b.gpkg")
        return
    url = request.getfixturevalue("pg_url")
    other = url + "_b"
    yield url, other
    with psycopg.connect(os.environ["DEMINE_TEST_PG"].split("?")[0], autocommit=True) as a:
        a.execute(f'DROP SCHEMA IF EXISTS "{other.rsplit("=", 1)[1]}" CASCADE')


def test_init_import_check_list_copy_through_the_cli(
    two_locations: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, other = two_locations
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    r = run(cli, ["--db", db, "init", "--json"])
    assert r.exit_code == 0, _all_output(r)
    assert json.loads(r.stdout)["device_types_created"] > 0
    if db.startswith("postgresql"):
        schema = db.rsplit("=", 1)[1]
        with psycopg.connect(os.environ["DEMINE_TEST_PG"].split("?")[0]) as c:
            row = c.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name IN ('hazards', 'demine_schema')",
                (schema,),
            ).fetchone()
        assert row == (2,)
        assert list(work.iterdir()) == []  # the schema, not a file named postgresql:
        assert not Path("postgresql:").exists()
    else:
        assert Path(db).exists()
    src = _hazards_file(tmp_path, 3)
    r = run(cli, ["--db", db, "import", str(src), "--kind", "hazards", "--json"])
    assert r.exit_code == 0, _all_output(r)
    assert json.loads(r.stdout)["created"] == 3
    r = run(cli, ["--db", db, "check", str(LAT + 0.001), str(LON + 0.001), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["hazards"][0]["inside"]
    r = run(cli, ["--db", db, "list", "hazards", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["count"] == 3
    g = tmp_path / "copy.gpkg"
    r = run(cli, ["copy", db, str(g), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["records"]["hazards"] == 3, _all_output(r)
    r = run(cli, ["copy", str(g), other, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["records"]["hazards"] == 3, _all_output(r)
    r = run(cli, ["--db", other, "list", "hazards", "--json"])
    names = sorted(x["properties"]["name"] for x in json.loads(r.stdout)["records"])
    assert names == ["Field 0", "Field 1", "Field 2"]
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    "db",
    [
        "sqlite:///tmp/x.gpkg",
        "https://example.org/store.gpkg",
        "postgresql+psycopg://u:S3cretPlantedP@h/db",
    ],
)
def test_a_url_shaped_db_is_never_a_file(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["init"], ["list", "hazards"], ["import", "x.geojson", "--kind", "hazards"]):
        r = run(cli, ["--db", db, *args])
        assert (
            r.exit_code == 2 and "a store is a GeoPackage file or a postgresql:// URL" in r.output
        )
        assert SECRET not in _all_output(r)
    assert list(tmp_path.iterdir()) == []


# --- files are 0600 -----------------------------------------------------------------------------


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual umask: files would be world-readable
    try:
        yield
    finally:
        os.umask(old)


def test_the_geopackage_store_and_its_journal_are_0600(tmp_path: Path, open_umask: None) -> None:
    db = tmp_path / "s.gpkg"
    r = run(cli, ["--db", str(db), "init"])
    assert r.exit_code == 0 and _mode(db) == 0o600
    # a write in progress: SQLite's rollback journal takes the store's mode
    c = sqlite3.connect(db, isolation_level=None)
    try:
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE demine_settings SET value = value")
        c.execute("INSERT INTO demine_settings(key, value) VALUES ('x', zeroblob(200000))")
        side = [p for p in tmp_path.iterdir() if p.name.startswith("s.gpkg-")]
        assert side, "expected a journal file while a write is in progress"
        for p in side:
            assert _mode(p) == 0o600, p
        c.execute("ROLLBACK")
    finally:
        c.close()
    assert _mode(db) == 0o600


def _closed_hazard(store: Any, tmp: Path) -> str:
    from demine.services.release import close_hazard

    h = _hazards_file(tmp, 1, "one.geojson")
    import_file(store, h, ImportOptions(kind="hazards"))
    hid = next(iter(store.list("hazards"))).id
    ring = json.loads(h.read_text())["features"][0]["geometry"]
    acts = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "C",
                "properties": {
                    "hazard_source_id": "H-0",
                    "activity_type": "clearance",
                    "status": "completed",
                    "organisation": "Operator A",
                    "method": "manual",
                    "started_on": "2024-01-02",
                    "completed_on": "2024-03-31",
                },
                "geometry": ring,
            }
        ],
    }
    (tmp / "a.geojson").write_text(json.dumps(acts))
    import_file(store, tmp / "a.geojson", ImportOptions(kind="activities"))
    rel = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "R",
                "properties": {
                    "activity_source_id": "C",
                    "release_type": "cleared",
                    "released_on": "2024-03-01",
                },
                "geometry": ring,
            }
        ],
    }
    (tmp / "r.geojson").write_text(json.dumps(rel))
    import_file(store, tmp / "r.geojson", ImportOptions(kind="releases"))
    close_hazard(store, hid, "2024-04-01")
    return str(hid)


def test_exports_certificates_reports_and_charts_are_0600(
    store: Any, tmp_path: Path, open_umask: None
) -> None:
    hid = _closed_hazard(store, tmp_path)
    db = ["--db", store.location]
    outs = []
    for suffix in ("geojson", "csv", "gpkg"):
        out = tmp_path / f"e.{suffix}"
        r = run(cli, [*db, "export", str(out), "--kind", "hazards"])
        assert r.exit_code == 0, _all_output(r)
        outs.append(out)
    old = tmp_path / "old.geojson"  # an existing world-readable file is brought down to 0600
    old.write_text("{}")
    old.chmod(0o644)
    assert run(cli, [*db, "export", str(old), "--kind", "hazards"]).exit_code == 0
    outs.append(old)
    cert = tmp_path / "cert.html"
    r = run(cli, [*db, "release", "certificate", hid, "-o", str(cert)])
    assert r.exit_code == 0 and "Land release certificate" in cert.read_text(), _all_output(r)
    rep = tmp_path / "report.html"
    r = run(cli, [*db, "report", "annual", "--year", "2024", "-o", str(rep)])
    assert r.exit_code == 0 and rep.stat().st_size > 0, _all_output(r)
    chart = tmp_path / "chart.svg"
    r = run(cli, [*db, "chart", "released", "-o", str(chart)])
    assert r.exit_code == 0 and chart.read_text().startswith("<"), _all_output(r)
    outs += [cert, rep, chart]
    for p in outs:
        assert _mode(p) == 0o600, (p, oct(_mode(p)))
    assert json.loads((tmp_path / "e.geojson").read_text())["features"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demine-")]  # no temp dir


# --- a full disk --------------------------------------------------------------------------------


def _fill_up(conn: sqlite3.Connection) -> None:
    """The disk is full: the store file may not grow by one more page."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_during_import_is_a_clear_error(tmp_path: Path) -> None:
    s = GeoPackageStore(tmp_path / "s.gpkg")
    init_store(s)
    before = s.count("hazards")
    _fill_up(s.conn)
    big = _hazards_file(tmp_path, 400)
    with pytest.raises(StoreFull) as e:
        import_file(s, big, ImportOptions(kind="hazards"))
    assert e.value.message.startswith("the store's disk is full: nothing was imported")
    assert e.value.exit_code == 2
    assert s.count("hazards") == before  # rolled back as a whole
    s.conn.execute("PRAGMA max_page_count = 1073741823")  # space again: the store still works
    assert import_file(s, big, ImportOptions(kind="hazards")).created == 400
    s.close()


def test_a_full_disk_through_the_cli_has_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.gpkg"
    init_store(GeoPackageStore(db))
    big = _hazards_file(tmp_path, 400)
    real_open = GeoPackageStore._open

    def full_disk_open(self: GeoPackageStore) -> sqlite3.Connection:
        conn = real_open(self)
        _fill_up(conn)  # the disk under the store is full: real SQLite, SQLITE_FULL
        return conn

    monkeypatch.setattr(GeoPackageStore, "_open", full_disk_open)
    r = run(cli, ["--db", str(db), "import", str(big), "--kind", "hazards"])
    text = _all_output(r)
    assert r.exit_code == 2, text
    assert "the store's disk is full: nothing was imported from h.geojson" in text
    assert "Traceback" not in text and "OperationalError" not in text
    r = run(cli, ["--db", str(db), "import", str(big), "--kind", "hazards", "--json"])
    err = json.loads(r.stdout)["error"]
    assert r.exit_code == 2 and err["title"] == "Insufficient Storage" and err["status"] == 507
    monkeypatch.undo()
    assert GeoPackageStore(db).count("hazards") == 0


def test_a_full_disk_of_postgresql_is_store_full() -> None:
    """SQLSTATE 53100 (disk_full) from PostgreSQL maps to the same error (the server's disk
    cannot be filled in a test: the mapping is checked on the driver's own exception class)."""
    from demine.store.open import store_failure

    e = store_failure(psycopg.errors.DiskFull("could not extend file: No space left on device"))
    assert isinstance(e, StoreFull) and e.exit_code == 2
    lost = store_failure(psycopg.OperationalError(f"password={SECRET}X lost"))
    assert isinstance(lost, StoreUnavailable) and SECRET not in lost.message
