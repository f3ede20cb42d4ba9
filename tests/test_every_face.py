"""Every face on both backends (issue 11): every CLI command and every HTTP route runs against
the demo store as a GeoPackage and as PostGIS. A table names one invocation per command and one
request per route; a command or route missing from the table fails the test, so a new face
cannot land untested on either backend. The detailed behaviour of each face is tested in its own
file; here the point is that none breaks on a backend (no traceback, no 500)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app_routes import app_routes
from demine.cli.app import app as cli_app

# --- the stores ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from demine.demo import build_demo_store

    path = tmp_path_factory.mktemp("face") / "demo.gpkg"
    build_demo_store(path, seed=7)
    return path


@pytest.fixture(params=["gpkg", "postgis"])
def location(request: pytest.FixtureRequest, demo_gpkg: Path, tmp_path: Path) -> Iterator[str]:
    from demine.services.copy import copy_store
    from demine.store.open import open_store

    if request.param == "gpkg":
        loc = str(tmp_path / "demo.gpkg")
        shutil.copy(demo_gpkg, loc)
    else:
        loc = request.getfixturevalue("pg_url")
        src, dst = open_store(str(demo_gpkg)), open_store(loc)
        try:
            copy_store(src, dst)
        finally:
            src.close()
            dst.close()
    yield loc


def _ids(loc: str) -> dict[str, str]:
    """Real ids of the demo store for the invocations."""
    from demine.store.open import open_store

    s = open_store(loc)
    try:
        hz = list(s.list("hazards"))
        by = {h.properties.get("status"): h.id for h in hz}
        closed = [h.id for h in hz if h.properties.get("status") == "closed"]
        find = next(iter(s.list("finds")))
        from demine.services.submitting import pending

        sub = pending(  # a submission waiting for review (the intake faces)
            s,
            actor="face_field",
            kind="finds",
            action="create",
            payload={
                "properties": {"device_type": "uxo", "state": "live", "found_at": "2025-06-01"},
                "geometry": {"type": "Point", "coordinates": [37.8, 48.0]},
            },
        )
        from shapely.geometry import MultiPolygon, box

        from demine.model.schema import Record

        pair = [  # two hazards for the merge faces: nothing refers to them
            Record(
                "hazards",
                "",
                {"hazard_type": "SHA", "status": "open", "name": n},
                MultiPolygon([box(*b)]),
            )
            for n, b in (
                ("keep", (37.0, 48.0, 37.001, 48.001)),
                ("gone", (37.0, 48.0, 37.001, 48.001)),
            )
        ]
        from demine.ids import uuid7

        for r in pair:
            r.id = uuid7()
        s.upsert("hazards", pair, actor="face")
        return {
            "merge_keep": pair[0].id,
            "merge_gone": pair[1].id,
            "sid": sub["id"],
            "open": by["open"],
            "closed": closed[0],
            "handed": by["handed_over"],
            "find": find.id,
            "hazard_any": hz[0].id,
        }
    finally:
        s.close()


# --- the CLI --------------------------------------------------------------------------------------


def _commands() -> set[str]:
    root = typer.main.get_command(cli_app)
    out: set[str] = set()

    def walk(c: Any, prefix: str) -> None:
        if hasattr(c, "list_commands"):
            ctx = click.Context(c)
            for name in c.list_commands(ctx):
                sub = c.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{prefix} {name}".strip())
        else:
            out.add(prefix)

    walk(root, "")
    return out


# command -> (arguments after --db, expected exit codes); {x} are filled from _ids and tmp files
CLI: dict[str, tuple[list[str], tuple[int, ...]]] = {
    "init": (["init", "--json"], (0,)),
    "import": (["import", "{hazards_file}", "--kind", "hazards", "--json"], (0,)),
    "validate": (["validate", "{hazards_file}", "--kind", "hazards", "--json"], (0,)),
    "export": (["export", "{out}/hazards.geojson", "--kind", "hazards", "--json"], (0,)),
    "list": (["list", "hazards", "--json"], (0,)),
    "show": (["show", "{open}", "--json"], (0,)),
    "history": (["history", "{open}", "--json"], (0,)),
    "update": (["update", "{find}", "notes=checked by the face test", "--json"], (0,)),
    "delete": (["delete", "{find}", "--reason", "face test", "--json"], (0,)),
    "restore": (["restore", "{find}", "--revision", "1", "--json"], (0,)),
    "attach": (["attach", "{open}", "{photo}", "--json"], (0,)),  # sets {attachment}
    "attachments": (["attachments", "{open}", "--json"], (0,)),
    "attachment get": (
        ["attachment", "get", "{attachment}", "-o", "{out}/attachment.jpg", "--json"],
        (0,),
    ),
    "check": (
        ["check", "48.0,37.8", "--radius", "5000", "--include", "eo_reports,accidents", "--json"],
        (0,),
    ),
    "demo": (["demo", "--no-serve", "--json"], (0, 1)),  # 1: refused on a URL, said so
    "serve": ([], (0,)),  # run as a process below
    "copy": (["copy", "{db}", "{out}/copy.gpkg", "--json"], (0,)),
    "prioritize": (["prioritize", "--json"], (0,)),
    "stats": (["stats", "--json"], (0,)),
    "rebuild-derived": (["rebuild-derived", "--json"], (0,)),
    "duplicates": (["duplicates", "hazards", "--json"], (0,)),
    "quality": (["quality", "hazards", "{hazards_file}", "--json"], (0,)),
    "chart": (["chart", "released", "--output", "{out}/released.svg", "--json"], (0,)),
    "user add": (["user", "add", "face_user", "--role", "field", "--json"], (0,)),
    "user list": (["user", "list", "--json"], (0,)),
    "token create": (["token", "create", "face_user", "--json"], (0,)),
    "token list": (["token", "list", "--json"], (0,)),
    "token revoke": (["token", "revoke", "--user", "face_user", "--json"], (0,)),
    "user remove": (["user", "remove", "face_user", "--json"], (0,)),
    "risk estimate": (
        ["risk", "estimate", "--device-type", "apii-limit", "--quantity", "100", "--days", "60"],
        (0,),
    ),
    "risk hazard": (["risk", "hazard", "--all", "--json"], (0,)),
    "risk learn": (["risk", "learn", "--json"], (0,)),
    "release status": (["release", "status", "{closed}", "--json"], (0,)),
    "release close": (["release", "close", "{open}", "--on", "2026-01-10", "--json"], (4,)),
    "release handover": (
        ["release", "handover", "{closed}", "--to", "Громада", "--on", "2026-01-15", "--json"],
        (0,),
    ),
    "release certificate": (
        ["release", "certificate", "{handed}", "--output", "{out}/cert.html"],
        (0,),
    ),
    "report annual": (
        ["report", "annual", "--year", "2025", "--output", "{out}/report.html", "--json"],
        (0,),
    ),
    "organisations add": (["organisations", "add", "OPS", "--name", "Ops", "--json"], (0,)),
    "organisations list": (["organisations", "list", "--json"], (0,)),
    "submit": (["submit", "{hazards_file}", "--kind", "hazards", "--json"], (0,)),
    "review list": (["review", "list", "--json"], (0,)),
    "review show": (["review", "show", "{sid}", "--json"], (0,)),
    "review approve": (["review", "approve", "{sid}", "--json"], (0,)),
    # decided: returning or rejecting it now is a conflict (exit 4), said so
    "review return": (["review", "return", "{sid}", "--reason", "x", "--json"], (4,)),
    "review reject": (["review", "reject", "{sid}", "--reason", "x", "--json"], (4,)),
    "review merge": (
        ["review", "merge", "hazards", "{merge_keep}", "{merge_gone}", "--reason", "x", "--json"],
        (0,),
    ),
    "review submit": (["review", "submit", "{sid}", "--json"], (4,)),  # not a draft: conflict
    "review levels": (["review", "levels", "1", "--json"], (0,)),
    "review report": (["review", "report", "--json"], (0,)),
    "forms list": (["forms", "list", "--json"], (0,)),
    "forms show": (["forms", "show", "finds"], (0,)),
    "forms xlsform": (["forms", "xlsform", "finds", "-o", "{out}/finds.xlsx", "--json"], (0,)),
    # land-status extracts (docs/extract.md): a key, an extract, its check, the key revoked
    "extract keygen": (["extract", "keygen", "--out", "{out}/authority.pem", "--json"], (0,)),
    "extract keys": (["extract", "keys", "--json"], (0,)),
    "extract make": (
        [
            "extract",
            "make",
            "--point",
            "48.0,37.8",
            "--radius",
            "2000",
            "--key",
            "{out}/authority.pem",
            "-o",
            "{out}/extract.html",
            "--json",
        ],
        (0,),
    ),
    "extract verify": (["extract", "verify", "{out}/extract.html", "--json"], (0,)),
    "extract revoke": (["extract", "revoke", "{key_id}", "--json"], (0,)),
    # the offline safety pack (docs/publish.md)
    "publish": (
        ["publish", "{out}/pack", "--bbox", "36.5,47.5,38.5,48.5", "--max-zoom", "8", "--json"],
        (0,),
    ),
}
ORDER = list(CLI)  # the table runs in this order (update before delete before restore ...)


def test_every_command_is_in_the_table() -> None:
    assert _commands() == set(CLI), "add the new command to CLI in tests/test_every_face.py"


def _fill(args: list[str], values: dict[str, str]) -> list[str]:
    return [a.format(**values) for a in args]


def test_every_command_runs_on_both_backends(location: str, tmp_path: Path) -> None:
    ids = _ids(location)
    out = tmp_path / "out"
    out.mkdir()
    hazards_file = tmp_path / "hazards.geojson"
    hazards_file.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "face-1",
                        "properties": {"hazard_type": "SHA", "status": "open", "name": "face"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[37.0, 48.0], [37.001, 48.0], [37.001, 48.001], [37.0, 48.0]]
                            ],
                        },
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_photo())
    values = {
        **ids,
        "db": location,
        "out": str(out),
        "hazards_file": str(hazards_file),
        "photo": str(photo),
    }
    runner = CliRunner()
    for name in ORDER:
        args, codes = CLI[name]
        if name == "serve":
            continue
        if name == "demo":
            args = [*args, "--db", str(out / "demo.gpkg")]
            r = runner.invoke(cli_app, _fill(args, values))
        else:
            r = runner.invoke(cli_app, ["--role", "admin", "--db", location, *_fill(args, values)])
        text = r.output + (str(r.exception) if r.exception and r.exit_code not in codes else "")
        assert r.exit_code in codes, (name, location.split("@")[-1][:40], r.exit_code, text[-800:])
        assert "Traceback" not in r.output, (name, r.output[-800:])
        if "--json" in args and r.exit_code == 0:
            try:
                json.loads(r.stdout)  # every --json answer is one JSON document (stdout)
            except ValueError as e:
                pytest.fail(
                    f"{name}: --json output is not one JSON document ({e}): {r.output[-300:]}"
                )
        if name == "attach":
            values["attachment"] = json.loads(r.stdout)["attachment_id"]
        if name == "extract keygen":
            values["key_id"] = json.loads(r.stdout)["key_id"]


def _photo() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "JPEG")
    return out.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_on_both_backends(location: str) -> None:
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen(
        [
            *[sys.executable, "-m", "demine.cli.app", "serve", "--db", location],
            *["--port", str(port), "--pack-url", "https://cdn.example.org/packs/east/"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"demine serve did not come up: {out[-2000:]}")
                time.sleep(0.3)
        # --pack-url: the map's offline pack, in its config and the page's connect-src
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/map/config") as r:
            assert json.loads(r.read())["pack"] == {"url": "https://cdn.example.org/packs/east/"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            csp = r.headers["Content-Security-Policy"]
            assert "connect-src 'self' https://cdn.example.org;" in csp, csp
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- the HTTP API ---------------------------------------------------------------------------------

# path -> the URL to GET (None: not a GET route, sent by REQUESTS); {x} from _ids
GETS: dict[str, str] = {
    "/api/v1/safety/point": (
        "/api/v1/safety/point?lat=48.0&lon=37.8&radius=5000&include=eo_reports,accidents"
    ),
    "/ogc": "/ogc",
    "/ogc/": "/ogc/",
    "/ogc/conformance": "/ogc/conformance",
    "/ogc/collections": "/ogc/collections",
    "/ogc/collections/{cid}": "/ogc/collections/hazards",
    "/ogc/collections/{cid}/queryables": "/ogc/collections/hazards/queryables",
    "/ogc/collections/{cid}/items": "/ogc/collections/hazards/items?limit=5",
    "/ogc/collections/{cid}/items/{fid}": "/ogc/collections/hazards/items/{open}",
    "/ogc/api": "/ogc/api",
    "/tiles/{collection}/{z}/{x}/{y}.mvt": "/tiles/hazards/8/154/88.mvt",
    "/tiles/{collection}/tilejson.json": "/tiles/hazards/tilejson.json",
    "/": "/",
    "/review": "/review",
    "/field": "/field",
    "/field/": "/field/",
    "/field/sw.js": "/field/sw.js",
    "/field/manifest.webmanifest": "/field/manifest.webmanifest",
    "/favicon.ico": "/favicon.ico",
    "/static/{path:path}": "/static/app.js",
    "/api/v1/map/config": "/api/v1/map/config",
    "/api/v1/map/regions": "/api/v1/map/regions",
    "/api/v1/map/risk": "/api/v1/map/risk",
    "/api/v1/map/hazards/{hazard_id}": "/api/v1/map/hazards/{open}",
    "/api/v1/stats": "/api/v1/stats",
    "/api/v1/hazards/{hazard_id}/release": "/api/v1/hazards/{closed}/release",
    "/api/v1/hazards/{hazard_id}/certificate": "/api/v1/hazards/{handed}/certificate",
    "/api/v1/priorities": "/api/v1/priorities",
    "/api/v1/health": "/api/v1/health",
    "/api/docs": "/api/docs",
    "/api/openapi.json": "/api/openapi.json",
    "/api/v1/submissions": "/api/v1/submissions",
    "/api/v1/submissions/{sid}": "/api/v1/submissions/{sid}",
    "/api/v1/submissions/report": "/api/v1/submissions/report",
    "/api/v1/forms": "/api/v1/forms",
    "/api/v1/forms/{kind}": "/api/v1/forms/finds",
    "/api/v1/public/reports/challenge": "/api/v1/public/reports/challenge",
    "/api/v1/public/reports/unverified": (
        "/api/v1/public/reports/unverified?bbox=37.5,47.7,38.2,48.4"
    ),
    "/report": "/report",
    "/report/{code}": "/report/ABCDE-12345",
    "/verify": "/verify",
    "/api/v1/public/places": "/api/v1/public/places?q=%D0%BE%D0%B1%D0%BB&limit=5",
    "/api/v1/stats/chart/{name}.{fmt}": "/api/v1/stats/chart/released.svg",
    "/sw.js": "/sw.js",
}
# (method, path) -> (URL, JSON body) for the routes that write or take a body
REQUESTS: dict[tuple[str, str], tuple[str, Any]] = {
    ("POST", "/api/v1/safety/route"): (
        "/api/v1/safety/route",
        {"route": {"type": "LineString", "coordinates": [[37.8, 48.0], [37.81, 48.01]]}},
    ),
    ("POST", "/ogc/collections/{cid}/items"): (
        "/ogc/collections/finds/items",
        {
            "type": "Feature",
            "properties": {"device_type": "uxo", "state": "live", "found_at": "2025-06-01"},
            "geometry": {"type": "Point", "coordinates": [37.8, 48.0]},
        },
    ),
    ("PUT", "/ogc/collections/{cid}/items/{fid}"): ("", None),
    ("PATCH", "/ogc/collections/{cid}/items/{fid}"): ("", None),
    ("DELETE", "/ogc/collections/{cid}/items/{fid}"): ("", None),
    # approve first (200); then returning or rejecting the decided submission is a 409
    ("POST", "/api/v1/submissions/{sid}/approve"): ("/api/v1/submissions/{sid}/approve", {}),
    ("POST", "/api/v1/submissions/{sid}/return"): (
        "/api/v1/submissions/{sid}/return",
        {"reason": "x"},
    ),
    ("POST", "/api/v1/submissions/{sid}/reject"): (
        "/api/v1/submissions/{sid}/reject",
        {"reason": "x"},
    ),
    # merge two hazards; then the merged one's OGC item answers 301 (below)
    ("POST", "/api/v1/records/{kind}/{other}/merge"): (
        "/api/v1/records/hazards/{merge_gone}/merge",
        {"into": "{merge_keep}", "reason": "x"},
    ),
    # sending a draft: the decided submission is not one (409)
    ("POST", "/api/v1/submissions/{sid}/submit"): ("/api/v1/submissions/{sid}/submit", {}),
    # an attachment of an open hazard: added, listed, read (see the end of the test below)
    ("POST", "/api/v1/records/{kind}/{record_id}/attachments"): (
        "/api/v1/records/hazards/{open}/attachments?filename=face.jpg",
        None,
    ),
    ("GET", "/api/v1/records/{kind}/{record_id}/attachments"): ("", None),
    ("GET", "/api/v1/records/{kind}/{record_id}/attachments/{attachment_id}"): ("", None),
    # a file on the waiting submission: added, listed, read, before it is approved
    ("POST", "/api/v1/submissions/{sid}/attachments"): (
        "/api/v1/submissions/{sid}/attachments?filename=sub.jpg",
        None,
    ),
    ("GET", "/api/v1/submissions/{sid}/attachments"): ("", None),
    ("GET", "/api/v1/submissions/{sid}/attachments/{attachment_id}"): ("", None),
    # the field app's sync, as the demo's field team (see _sync_faces)
    ("POST", "/api/v1/sync/outbox"): ("", None),
    ("GET", "/api/v1/sync/pull"): ("", None),
    ("GET", "/api/v1/sync/area"): ("", None),
    ("POST", "/api/v1/uploads"): ("", None),
    ("PUT", "/api/v1/uploads/{upload_id}"): ("", None),
    ("GET", "/api/v1/uploads/{upload_id}"): ("", None),
    # a civilian's report, its photo and its status, with no token (see _civilian_faces)
    ("POST", "/api/v1/public/reports"): ("", None),
    ("POST", "/api/v1/public/reports/{code}/photo"): ("", None),
    ("GET", "/api/v1/public/reports/{code}"): ("", None),
    # land-status extracts: made with a key and checked (see _extract_faces)
    ("POST", "/api/v1/extracts"): ("", None),
    ("POST", "/api/v1/extracts/verify"): ("", None),
}


def _civilian_faces(client: TestClient) -> None:
    """A civilian's report with a solved challenge, its photo, its status (no token)."""
    from demine.services import pow

    ch = client.get("/api/v1/public/reports/challenge").json()
    body = {
        "challenge": ch["challenge"],
        "nonce": pow.solve(ch["challenge"], ch["difficulty"]),
        "lat": 48.0,
        "lon": 37.8,
        "object_type": "grenade",
        "seen_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    r = client.post("/api/v1/public/reports", json=body)
    assert r.status_code == 201, r.text[:300]
    got = r.json()
    r = client.post(
        f"/api/v1/public/reports/{got['code']}/photo",
        content=_photo(),
        headers={"X-Upload-Token": got["upload_token"]},
    )
    assert r.status_code == 201, r.text[:300]
    r = client.get(got["status_url"])
    assert r.status_code == 200 and r.json()["status"] == "received", r.text[:300]
    r = client.get("/api/v1/public/reports/unverified?bbox=37.5,47.7,38.2,48.4")
    assert any(f["properties"]["object_type"] == "grenade" for f in r.json()["features"])


def _extract_faces(location: str, tmp: Path) -> None:
    """An extract of the demo store (JSON and HTML) and its check, with a registered key; no
    key configured: 503."""
    from demine.api.app import create_app
    from demine.services.extract import generate_key, register_key
    from demine.store.open import open_store

    pem, entry = generate_key()
    key = tmp / "face-extract.pem"
    key.write_bytes(pem)
    s = open_store(location)
    try:
        register_key(s, entry)
    finally:
        s.close()
    body = {"point": {"lat": 48.0, "lon": 37.8}, "radius_m": 2000}
    with TestClient(create_app(location), raise_server_exceptions=False) as client:
        assert client.post("/api/v1/extracts", json=body).status_code == 503
    app = create_app(location, extract_key=str(key))
    with TestClient(app, raise_server_exceptions=False) as client:
        for accept in ("application/json", "text/html"):
            r = client.post("/api/v1/extracts", json=body, headers={"Accept": accept})
            assert r.status_code == 200, r.text[:300]
            v = client.post("/api/v1/extracts/verify", content=r.content)
            assert v.status_code == 200 and v.json()["valid"], v.text[:300]


def _sync_faces(client: TestClient, location: str) -> None:
    """The field app's routes as the demo's field team: an upload in two chunks, an outbox
    item with it (stored, then already), a pull and an area."""
    import hashlib
    import uuid

    from demine.services.access import new_token
    from demine.store.open import open_store

    s = open_store(location)
    try:
        token, th = new_token()
        s.add_token("field_a", th)
    finally:
        s.close()
    h = {"Authorization": f"Bearer {token}"}
    photo = _photo()
    n, sha = len(photo), hashlib.sha256(photo).hexdigest()
    body = {"filename": "p.jpg", "content_type": "image/jpeg", "size": n, "sha256": sha}
    r = client.post("/api/v1/uploads", json=body, headers=h)
    assert r.status_code == 201, r.text[:300]
    uid = r.json()["upload_id"]
    for a, b in ((0, 99), (100, n - 1)):
        rng = {**h, "Content-Range": f"bytes {a}-{b}/{n}"}
        r = client.put(f"/api/v1/uploads/{uid}", content=photo[a : b + 1], headers=rng)
        assert r.status_code == 200, r.text[:300]
    assert client.get(f"/api/v1/uploads/{uid}", headers=h).json()["received"] == n
    item = {
        "client_id": str(uuid.uuid4()),
        "kind": "eo_reports",
        "action": "create",
        "properties": {"reported_at": "2026-05-01T09:30:00Z", "status": "new"},
        "geometry": {"type": "Point", "coordinates": [37.8, 48.0]},
        "accuracy_m": [5.0],
        "photos": [uid],
    }
    for status in ("stored", "already"):
        r = client.post("/api/v1/sync/outbox", json={"device": "d", "items": [item]}, headers=h)
        assert r.status_code == 200 and r.json()["items"][0]["status"] == status, r.text[:300]
    r = client.get("/api/v1/sync/pull", headers=h)
    assert r.status_code == 200 and r.json()["changes"], r.text[:300]
    r = client.get("/api/v1/sync/area", params={"bbox": "37.5,47.7,38.2,48.4"}, headers=h)
    assert r.status_code == 200 and r.json()["layers"]["hazards"]["features"], r.text[:300]


def _routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app answers (tests/app_routes.py: included routers too)."""
    out = {(m, p) for m, p, _ in app_routes(app.routes) if m not in ("HEAD", "OPTIONS")}
    assert len(out) > 60, f"only {len(out)} routes found: the walk misses included routers"
    return out


def _client(location: str) -> tuple[TestClient, dict[str, str]]:
    from demine.api.app import create_app
    from demine.services.access import new_token
    from demine.store.open import open_store

    s = open_store(location)
    try:
        s.add_user("face_admin", "admin")
        token, th = new_token()
        s.add_token("face_admin", th)
    finally:
        s.close()
    return TestClient(create_app(location), raise_server_exceptions=False), {
        "Authorization": f"Bearer {token}"
    }


def test_every_route_is_in_the_table(demo_gpkg: Path) -> None:
    from demine.api.app import create_app

    routes = _routes(create_app(str(demo_gpkg)))
    known = {("GET", p) for p in GETS} | set(REQUESTS)
    missing = {r for r in routes if r not in known}
    assert not missing, f"add these routes to tests/test_every_face.py: {sorted(missing)}"


def test_every_route_answers_on_both_backends(location: str, tmp_path: Path) -> None:
    ids = _ids(location)
    client, admin = _client(location)
    with client:
        for path, url in GETS.items():
            for headers in ({}, admin):
                r = client.get(url.format(**ids), headers=headers)
                assert r.status_code < 500, (path, r.status_code, r.text[:300])
            assert r.status_code in (200, 304), (path, r.status_code, r.text[:300])
        # the writes, as admin: create a find, replace it, patch it, delete it
        url, body = REQUESTS[("POST", "/api/v1/safety/route")]
        r = client.post(url, json=body)
        assert r.status_code == 200, r.text[:300]
        url, body = REQUESTS[("POST", "/ogc/collections/{cid}/items")]
        r = client.post(url, json=body, headers=admin)
        assert r.status_code == 201, r.text[:300]
        item = r.headers["Location"].split("?")[0]
        item = item[item.index("/ogc/") :]
        got = client.get(item, headers=admin)
        etag = got.headers["ETag"]
        put = {**body, "properties": {**body["properties"], "state": "unknown"}}
        r = client.put(item, json=put, headers={**admin, "If-Match": etag})
        assert r.status_code in (200, 204), r.text[:300]
        etag = client.get(item, headers=admin).headers["ETag"]
        r = client.patch(
            item,
            json={"properties": {"notes": "patched"}},
            headers={**admin, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code in (200, 204), r.text[:300]
        etag = client.get(item, headers=admin).headers["ETag"]
        r = client.delete(item, headers={**admin, "If-Match": etag})
        assert r.status_code in (200, 204), r.text[:300]
        assert client.get(item, headers=admin).status_code == 404
        url, _ = REQUESTS[("POST", "/api/v1/submissions/{sid}/attachments")]
        r = client.post(url.format(**ids), content=_photo(), headers=admin)
        assert r.status_code == 201, r.text[:300]
        one = r.headers["Location"]
        listed = client.get(one.rsplit("/", 1)[0], headers=admin)
        assert listed.status_code == 200 and len(listed.json()["attachments"]) == 1
        r = client.get(one, headers=admin)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
        assert client.get(one).status_code == 401
        for action, code in (
            ("approve", 200),
            ("return", 409),
            ("reject", 409),
            ("submit", 409),
        ):
            url, body = REQUESTS[("POST", f"/api/v1/submissions/{{sid}}/{action}")]
            r = client.post(url.format(**ids), json=body, headers=admin)
            assert r.status_code == code, (action, r.text[:300])
        url, body = REQUESTS[("POST", "/api/v1/records/{kind}/{other}/merge")]
        body = {k: v.format(**ids) for k, v in body.items()}
        r = client.post(url.format(**ids), json=body, headers=admin)
        assert r.status_code == 200, r.text[:300]
        r = client.get(
            f"/ogc/collections/hazards/items/{ids['merge_gone']}", follow_redirects=False
        )
        assert r.status_code == 301 and r.headers["location"].endswith(ids["merge_keep"])
        url, _ = REQUESTS[("POST", "/api/v1/records/{kind}/{record_id}/attachments")]
        r = client.post(url.format(**ids), content=_photo(), headers=admin)
        assert r.status_code == 201, r.text[:300]
        one = r.headers["Location"]
        listing = one.rsplit("/", 1)[0]
        for headers in ({}, admin):
            assert client.get(listing, headers=headers).status_code == 200
            r = client.get(one, headers=headers)
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
        _sync_faces(client, location)
        _civilian_faces(client)
    _extract_faces(location, tmp_path)
