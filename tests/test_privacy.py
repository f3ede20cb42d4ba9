"""Privacy across every face: without the role, no CLI output, API response, tile or export
holds a victim's personal data or a reporter's contact.

A store is seeded with distinctive planted strings (victims' names, contacts, injuries; an EO
reporter's name and contact; an accident's description and investigation) and every face is
searched for them, for every role that may not read them. The API part walks every GET route of
the application, so a route added later is searched too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app_routes import get_paths
from demine.cli.app import app as cli
from demine.model.kinds import KINDS
from demine.services.access import new_token
from demine.services.records import WriteContext
from demine.services.register import (
    ImportOptions,
    delete_record,
    export_file,
    export_rows,
    history,
    import_file,
    restore,
    show,
    update_record,
)
from demine.services.setup import init_store
from demine.store.base import Store

# what only victim_assistance (and admin) may read
VICTIM = (
    "Zxqvictim Name",
    "Zxqvictim Renamed",
    "+380-PLANTED-VICTIM",
    "PLANTED-INJURY",
    "PLANTED-ASSISTANCE",
    "PLANTED-VICTIM-NOTE",
    "PLANTED-VICTIM-EXTRA",
)
# what field and above may read (reporters' names and contacts, what happened in an accident)
REPORTER = ("PLANTED-REPORTER", "Qzreporter Person")
FIELD_ONLY = (*REPORTER, "PLANTED-ACCIDENT-DESCRIPTION")
# what analysts and above may read
ANALYST_ONLY = ("PLANTED-INVESTIGATION",)
# a report not marked public: the public may not see it at all
HIDDEN_REPORT = ("PLANTED-UNPUBLISHED-REPORT",)


def forbidden(role: str) -> tuple[str, ...]:
    """The planted strings ``role`` must never be shown."""
    out: tuple[str, ...] = ()
    if role not in ("victim_assistance", "admin"):
        out += VICTIM
    if role == "public":
        out += FIELD_ONLY + HIDDEN_REPORT
    if role in ("public", "field", "victim_assistance"):
        out += ANALYST_ONLY
    return out


NOT_ENTITLED = ("public", "field", "analyst")

LON, LAT = 37.8052, 48.0061


def _square(lon: float, lat: float, d: float = 0.004) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _write(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def seed(store: Store, tmp: Path) -> dict[str, str]:
    """The planted records; returns their ids by name."""

    def load(kind: str, feats: list[dict[str, Any]]) -> list[str]:
        rep = import_file(store, _write(tmp / f"{kind}.geojson", feats), ImportOptions(kind=kind))
        return rep.ids

    (hz,) = load(
        "hazards",
        [
            {
                "type": "Feature",
                "id": "H-1",
                "properties": {"hazard_type": "CHA", "status": "open", "name": "orchard"},
                "geometry": _square(LON - 0.002, LAT - 0.002),
            }
        ],
    )
    point = {"type": "Point", "coordinates": [LON, LAT]}
    eo_public, eo_hidden = load(
        "eo_reports",
        [
            {
                "type": "Feature",
                "id": "R-1",
                "properties": {
                    "reported_at": "2025-03-01T06:00:00Z",
                    "description": "metal object",
                    "reporter_name": "Qzreporter Person",
                    "reporter_contact": "PLANTED-REPORTER +380 00",
                    "status": "new",
                    "public": True,
                },
                "geometry": point,
            },
            {
                "type": "Feature",
                "id": "R-2",
                "properties": {
                    "reported_at": "2025-03-02T06:00:00Z",
                    "description": "PLANTED-UNPUBLISHED-REPORT",
                    "status": "new",
                    "public": False,
                },
                "geometry": {"type": "Point", "coordinates": [LON + 0.001, LAT]},
            },
        ],
    )
    (acc,) = load(
        "accidents",
        [
            {
                "type": "Feature",
                "id": "A-1",
                "properties": {
                    "occurred_at": "2024-06-01T10:00:00Z",
                    "accident_type": "civilian",
                    "device_category": "ap_blast",
                    "hazard_id": hz,
                    "description": "PLANTED-ACCIDENT-DESCRIPTION",
                    "investigation": "PLANTED-INVESTIGATION",
                    "admin_area": "Донецька область",
                },
                "geometry": {"type": "Point", "coordinates": [LON - 0.001, LAT]},
            }
        ],
    )
    v1, v2 = load(
        "victims",
        [
            {
                "type": "Feature",
                "id": "V-1",
                "properties": {
                    "accident_id": acc,
                    "name": "Zxqvictim Name",
                    "sex": "female",
                    "age": 34,
                    "outcome": "injured",
                    "activity_at_time": "farming",
                    "injuries": "PLANTED-INJURY",
                    "contact": "+380-PLANTED-VICTIM",
                    "assistance": "PLANTED-ASSISTANCE",
                    "notes": "PLANTED-VICTIM-NOTE",
                    "family_phone": "PLANTED-VICTIM-EXTRA",  # an unknown field: kept as extra
                },
                "geometry": None,
            },
            {
                "type": "Feature",
                "id": "V-2",
                "properties": {
                    "accident_id": acc,
                    "name": "Zxqvictim Name",
                    "sex": "male",
                    "outcome": "killed",
                },
                "geometry": None,
            },
        ],
    )
    # histories with several states: an update, a delete and a restore
    update_record(store, v1, {"name": "Zxqvictim Renamed"}, ctx=WriteContext(reason="spelling"))
    update_record(store, eo_public, {"status": "verified"}, ctx=WriteContext(reason="verified"))
    delete_record(store, v2, ctx=WriteContext(reason="duplicate"))
    restore(store, v2, 1, ctx=WriteContext(reason="not a duplicate"))
    return {
        "hazard": hz,
        "eo_public": eo_public,
        "eo_hidden": eo_hidden,
        "accident": acc,
        "victim": v1,
        "victim2": v2,
    }


def assert_clean(text: str, role: str, where: str) -> None:
    leaked = [s for s in forbidden(role) if s in text]
    assert not leaked, f"{where}: the {role} role is shown {leaked}"


def _bytes_clean(data: bytes, role: str, where: str) -> None:
    leaked = [s for s in forbidden(role) if s.encode() in data]
    assert not leaked, f"{where}: the {role} role is shown {leaked}"


# --- services, on both backends ------------------------------------------------------------------


@pytest.mark.parametrize("role", [*NOT_ENTITLED, "victim_assistance"])
def test_services_by_role(store: Store, tmp_path: Path, role: str) -> None:
    from demine.errors import PermissionDenied

    ids = seed(store, tmp_path)
    for kind in KINDS:
        try:
            _, rows = export_rows(store, kind, role=role)
        except PermissionDenied:
            assert kind == "victims" or kind in ("finds", "emplacements", "risk_updates")
            continue
        assert_clean(repr(rows), role, f"export_rows({kind})")
    for name, rid in ids.items():
        try:
            rec = show(store, rid, role=role)
        except PermissionDenied:
            assert (
                name.startswith("victim")
                and role != "victim_assistance"
                or (name == "eo_hidden" and role == "public")
            )
        else:
            assert_clean(repr(rec), role, f"show({name})")
        try:
            revs = history(store, rid, role=role)
        except PermissionDenied:
            assert name.startswith("victim") and role != "victim_assistance"
        else:
            assert_clean(repr(revs), role, f"history({name})")
    if role == "victim_assistance":
        rec = show(store, ids["victim"], role=role)
        assert rec.properties["name"] == "Zxqvictim Renamed"
        assert rec.properties["contact"] == "+380-PLANTED-VICTIM"


# --- the CLI -----------------------------------------------------------------------------------


@dataclass
class Env:
    db: Path
    ids: dict[str, str]
    client: TestClient
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from demine.api.app import create_app
    from demine.store.gpkg import GeoPackageStore

    tmp = tmp_path_factory.mktemp("privacy")
    db = tmp / "privacy.gpkg"
    s = GeoPackageStore(db)
    init_store(s)
    ids = seed(s, tmp)
    headers: dict[str, dict[str, str]] = {"public": {}}
    for role in ("field", "analyst", "admin", "victim_assistance"):
        s.add_user(f"u_{role}", role)
        token, h = new_token()
        s.add_token(f"u_{role}", h)
        headers[role] = {"Authorization": f"Bearer {token}"}
    s.close()
    # no rate limit: the walks make hundreds of requests from one address (docs/web.md "Limits")
    with TestClient(create_app(str(db), rate_limit_per_minute=0)) as client:
        yield Env(db, ids, client, headers)


runner = CliRunner()


def _cli(env: Env, role: str | None, *args: str) -> tuple[int, str]:
    pre = ["--db", str(env.db)] + ([] if role is None else ["--role", role])
    r = runner.invoke(cli, [*pre, *args], env={"DEMINE_ROLE": None})
    return r.exit_code, r.stdout + (r.stderr if r.stderr_bytes is not None else "")


def _read_back(path: Path) -> str:
    import pyogrio

    if path.suffix == ".gpkg":
        parts = []
        for name, _ in pyogrio.list_layers(path):
            df = pyogrio.read_dataframe(path, layer=name)
            parts.append(df.to_csv())
        return "\n".join(parts)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("role", [*NOT_ENTITLED, None])
def test_cli_faces_hold_nothing_restricted(env: Env, role: str | None, tmp_path: Path) -> None:
    """list, show, history, export (GeoJSON, CSV, GeoPackage), with and without --json, for
    every kind and record; None is the CLI's default role."""
    who = role or "analyst"
    for kind in KINDS:
        for extra in ([], ["--json"]):
            code, out = _cli(env, role, "list", kind, *extra)
            assert_clean(out, who, f"list {kind} {extra}")
            if kind == "victims":
                assert code == 5, out  # permission denied
        for suffix in (".geojson", ".csv", ".gpkg"):
            path = tmp_path / f"{kind}{suffix}"
            code, out = _cli(env, role, "export", str(path), "--kind", kind, "--json")
            assert_clean(out, who, f"export {kind}")
            if kind == "victims":
                assert code == 5 and not path.exists()
            if path.exists():
                _bytes_clean(path.read_bytes(), who, f"export {path.name}")
                assert_clean(_read_back(path), who, f"export {path.name} read back")
    for name, rid in env.ids.items():
        for cmd in ("show", "history"):
            for extra in ([], ["--json"]):
                code, out = _cli(env, role, cmd, rid, *extra)
                assert_clean(out, who, f"{cmd} {name} {extra}")


@pytest.mark.parametrize("role", [*NOT_ENTITLED, None])
def test_cli_write_answers_hold_nothing_restricted(
    env: Env, role: str | None, tmp_path: Path
) -> None:
    """update and restore print the record they wrote as the role may see it; a write the
    role may not make is refused (exit 5, tests/test_role_rights.py) without a word of it."""
    import shutil

    from demine.model.kinds import KINDS
    from demine.services.access import can_write_kind

    db = tmp_path / "copy.gpkg"
    shutil.copy(env.db, db)
    who = role or "analyst"
    own = Env(db, env.ids, env.client, env.headers)

    def code_for(kind: str) -> int:
        return 0 if can_write_kind(KINDS[kind], who) else 5

    for extra in ([], ["--json"]):
        code, out = _cli(own, role, "update", env.ids["victim"], "age=35", *extra)
        assert code == code_for("victims"), out
        assert_clean(out, who, f"update victim {extra}")
        code, out = _cli(own, role, "restore", env.ids["victim"], "--revision", "1", *extra)
        assert code == code_for("victims"), out
        assert_clean(out, who, f"restore victim {extra}")
        code, out = _cli(own, role, "update", env.ids["eo_public"], "notes=checked", *extra)
        assert code == code_for("eo_reports"), out
        assert_clean(out, who, f"update eo report {extra}")
        code, out = _cli(own, role, "update", env.ids["accident"], "description=seen", *extra)
        assert code == code_for("accidents"), out
        assert_clean(out, who, f"update accident {extra}")


def test_cli_victim_assistance_sees_victims(env: Env, tmp_path: Path) -> None:
    role = "victim_assistance"
    code, out = _cli(env, role, "list", "victims", "--json")
    assert code == 0, out
    names = {r["properties"]["name"] for r in json.loads(out)["records"]}
    assert names == {"Zxqvictim Renamed", "Zxqvictim Name"}
    code, out = _cli(env, role, "show", env.ids["victim"])
    assert "Zxqvictim Renamed" in out and "+380-PLANTED-VICTIM" in out
    code, out = _cli(env, role, "history", env.ids["victim"], "--json")
    assert "Zxqvictim Name" in out and "Zxqvictim Renamed" in out
    for suffix in (".geojson", ".csv", ".gpkg"):
        path = tmp_path / f"victims{suffix}"
        code, out = _cli(env, role, "export", str(path), "--kind", "victims")
        assert code == 0, out
        assert "Zxqvictim Renamed" in _read_back(path)
    # and the accident's investigation (analysts') stays hidden from it
    code, out = _cli(env, role, "show", env.ids["accident"], "--json")
    assert "PLANTED-INVESTIGATION" not in out and "PLANTED-ACCIDENT-DESCRIPTION" in out


def test_cli_reporter_contacts_for_field_and_above(env: Env) -> None:
    for role in ("field", "analyst", None):
        code, out = _cli(env, role, "show", env.ids["eo_public"], "--json")
        assert code == 0 and "PLANTED-REPORTER" in out, (role, out)
    code, out = _cli(env, "public", "show", env.ids["eo_public"], "--json")
    assert code == 0 and "metal object" in out and "PLANTED-REPORTER" not in out


# --- the web API -------------------------------------------------------------------------------


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def _get_urls(env: Env) -> list[str]:
    """Every GET route of the app, with its path parameters filled in every way we know."""
    collections = [*KINDS, "nonexistent"]
    values: dict[str, list[str]] = {
        "hazard_id": [env.ids["hazard"], env.ids["accident"], env.ids["victim"]],
        "record_id": list(env.ids.values()),
        "id": list(env.ids.values()),
        # charts of the statistics (an SVG holds its labels as text)
        "name": ["accidents", "casualties", "victims", "eore", "released", "devices"],
        "fmt": ["svg"],
    }
    urls: list[str] = []
    for path in get_paths(env.client.app.routes):  # type: ignore[attr-defined]
        params = re.findall(r"{(\w+)(?::\w+)?}", path)
        if not params:
            urls.append(path)
            continue
        if "path" in params:  # static files
            continue
        cid = next((p for p in params if p in ("cid", "collection", "kind")), None)
        for c in collections if cid else [""]:
            fill: list[dict[str, str]] = [{cid: c}] if cid else [{}]
            if "fid" in params:
                fill = [{**f, "fid": i} for f in fill for i in list(env.ids.values())]
            if {"z", "x", "y"} <= set(params):
                tiles = []
                for z in (0, 6, 10, 14, 16):
                    x, y = _tile(LON, LAT, z)
                    tiles.append({"z": str(z), "x": str(x), "y": str(y)})
                fill = [{**f, **t} for f in fill for t in tiles]
            for p in params:
                if p in values:
                    fill = [{**f, p: v} for f in fill for v in values[p]]
            for f in fill:
                if set(f) >= set(params):
                    url = path
                    for k, v in f.items():
                        url = re.sub(r"{" + k + r"(?::\w+)?}", v, url)
                    urls.append(url)
    return urls


QUERIES = (
    "",
    "?f=html",
    "?f=json",
    "?limit=1000",
    "?count=true",
    f"?bbox={LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}",
    f"?lat={LAT}&lon={LON}&radius=5000",
)


def _walk(env: Env, role: str) -> Iterator[tuple[str, int, bytes]]:
    """Every GET route with every query, as ``role``: (url, status, body; a tile decoded)."""
    import mapbox_vector_tile

    h = env.headers[role]
    for url in _get_urls(env):
        for q in QUERIES:
            r = env.client.get(url + q, headers=h)
            body = r.content
            if r.headers.get("content-type", "").startswith("application/vnd.mapbox"):
                body += str(mapbox_vector_tile.decode(r.content)).encode()
            yield url + q, r.status_code, body


@pytest.mark.parametrize("role", NOT_ENTITLED)
def test_every_get_route_holds_nothing_restricted(env: Env, role: str) -> None:
    urls = _get_urls(env)
    assert any(u.startswith("/tiles/accidents/") for u in urls)
    assert any(u.startswith("/ogc/collections/victims/items/") for u in urls)
    seen = 0
    for url, status, body in _walk(env, role):
        _bytes_clean(body, role, f"GET {url} ({status})")
        seen += status == 200
    assert seen > 100


def test_the_walk_reaches_the_planted_data(env: Env) -> None:
    """The control: an admin walking the same routes is shown every planted string (a walk
    that never reached the data would prove nothing)."""
    shown = b"".join(body for _, _, body in _walk(env, "admin"))
    planted = {*VICTIM, *FIELD_ONLY, *ANALYST_ONLY, *HIDDEN_REPORT} - {"Zxqvictim Name"}
    assert {s for s in planted if s.encode() not in shown} == set()


@pytest.mark.parametrize("role", NOT_ENTITLED)
def test_api_answers_and_docs(env: Env, role: str) -> None:
    h = env.headers[role]
    c = env.client
    # the safety API, at the planted points and along a route through them
    for path, kw in (
        ("/api/v1/safety/point", {"params": {"lat": LAT, "lon": LON, "radius": 5000}}),
        (
            "/api/v1/safety/route",
            {
                "json": {
                    "type": "LineString",
                    "coordinates": [[LON - 0.01, LAT], [LON + 0.01, LAT]],
                },
                "params": {"radius": 2000},
            },
        ),
    ):
        r = c.post(path, headers=h, **kw) if "route" in path else c.get(path, headers=h, **kw)
        assert r.status_code == 200, r.text
        _bytes_clean(r.content, role, path)
    for path in ("/api/openapi.json", "/ogc/api", "/api/docs"):
        _bytes_clean(c.get(path, headers=h).content, role, path)
    # the victims collection does not exist for this role
    assert c.get("/ogc/collections/victims/items", headers=h).status_code == 404
    assert c.get("/tiles/victims/tilejson.json", headers=h).status_code == 404
    # filtering on a field the role may not read is refused, not answered (no oracle)
    if role == "public":
        r = c.get(
            "/ogc/collections/accidents/items",
            params={"filter": "description LIKE 'PLANTED%'"},
            headers=h,
        )
        assert r.status_code == 400
        r = c.get(
            "/ogc/collections/eo_reports/items",
            params={"filter": "reporter_contact LIKE 'PLANTED%'"},
            headers=h,
        )
        assert r.status_code == 400
    for rid in env.ids.values():
        for ctype in ("application/geo+json", "text/html"):
            r = c.get(f"/ogc/collections/victims/items/{rid}", headers={**h, "Accept": ctype})
            assert r.status_code == 404


def test_entitled_roles_see_what_they_may(env: Env) -> None:
    c = env.client
    va = env.headers["victim_assistance"]
    feats = c.get("/ogc/collections/victims/items", headers=va).json()["features"]
    assert {f["properties"]["name"] for f in feats} == {"Zxqvictim Renamed", "Zxqvictim Name"}
    one = c.get(f"/ogc/collections/victims/items/{env.ids['victim']}", headers=va).json()
    assert one["properties"]["contact"] == "+380-PLANTED-VICTIM"
    x, y = _tile(LON, LAT, 14)
    for role in ("field", "analyst"):
        r = c.get(
            f"/ogc/collections/eo_reports/items/{env.ids['eo_public']}", headers=env.headers[role]
        )
        assert "PLANTED-REPORTER" in r.json()["properties"]["reporter_contact"]
        t = c.get(f"/tiles/eo_reports/14/{x}/{y}.mvt", headers=env.headers[role])
        assert b"PLANTED-REPORTER" in t.content
    # the public sees the accident (place, date, type, device category), nothing more
    pub = c.get(f"/ogc/collections/accidents/items/{env.ids['accident']}").json()
    assert pub["properties"]["accident_type"] == "civilian"
    assert pub["properties"]["device_category"] == "ap_blast"
    assert pub["properties"]["occurred_at"].startswith("2024-06-01")


def test_export_file_by_role_reads_back(env: Env, tmp_path: Path) -> None:
    """The service the CLI calls, read back with GDAL, for each format (GeoPackage layers
    included)."""
    from demine.store.gpkg import GeoPackageStore

    s = GeoPackageStore(env.db)
    try:
        for role in NOT_ENTITLED:
            for suffix in (".geojson", ".csv", ".gpkg"):
                for kind in ("accidents", "eo_reports"):
                    out = tmp_path / f"{role}-{kind}{suffix}"
                    export_file(s, kind, out, role=role)
                    _bytes_clean(out.read_bytes(), role, out.name)
                    assert_clean(_read_back(out), role, out.name)
    finally:
        s.close()
