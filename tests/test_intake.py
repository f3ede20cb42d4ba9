"""Intake (issue 13): organisations, submissions and review, on both backends (the `store`
fixture). A field team's or an operator's write through any face is a submission; nothing
pending shows in the public OGC items, the safety API, tiles or statistics until a reviewer
approves it, and then the history names the submitter as author and the reviewer as approver.
An operator never sees another operator's submissions (routes and commands, table-driven). A
batch with bad features is returned with every fault located, corrected and approved at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from demine.api import create_app
from demine.cli.app import app as cli
from demine.services.access import new_token
from demine.store.open import open_store

RING = [[30.50, 50.40], [30.51, 50.40], [30.51, 50.41], [30.50, 50.41], [30.50, 50.40]]
INSIDE = {"lat": 50.405, "lon": 30.505}
USERS = {
    "f_halo": ("field", "HALO"),
    "o_halo": ("operator", "HALO"),
    "o_mag": ("operator", "MAG"),
    "f_mag": ("field", "MAG"),
    "rev": ("reviewer", None),
    "adm": ("admin", None),
    "ana": ("analyst", None),
}


@dataclass
class World:
    location: str
    client: TestClient
    headers: dict[str, dict[str, str]]

    def cli(self, user: str | None, role: str | None, *args: str) -> Any:
        env = {"DEMINE_USER": user} if user else {}
        pre = ["--db", self.location] + (["--role", role] if role else [])
        return CliRunner().invoke(cli, [*pre, *args], env=env)

    def store(self) -> Any:
        return open_store(self.location)

    def count(self, kind: str) -> int:
        s = self.store()
        try:
            return int(s.count(kind))
        finally:
            s.close()


def populate(
    store: Any, users: dict[str, tuple[str, str | None]]
) -> tuple[str, dict[str, dict[str, str]]]:
    """Two operators (HALO, MAG) and ``users`` (name -> role, organisation) with a token each;
    the store is closed. Returns its location and each user's Authorization header."""
    store.add_organisation("HALO", "The HALO Trust", "operator")
    store.add_organisation("MAG", "Mines Advisory Group", "operator")
    headers: dict[str, dict[str, str]] = {}
    for name, (role, org) in users.items():
        store.add_user(name, role, org)
        token, digest = new_token()
        store.add_token(name, digest)
        headers[name] = {"Authorization": f"Bearer {token}"}
    location = store.location
    store.close()
    return location, headers


@pytest.fixture
def world(store: Any) -> Iterator[World]:
    location, headers = populate(store, USERS)
    yield World(location, TestClient(create_app(location)), headers)


def _hazard(name: str = "pending field") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"hazard_type": "CHA", "status": "open", "name": name},
        "geometry": {"type": "Polygon", "coordinates": [RING]},
    }


def _tile_ids(w: World) -> set[str]:
    z, n = 14, 2**14
    x = int((INSIDE["lon"] + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(INSIDE["lat"]))) / math.pi) / 2.0 * n)
    r = w.client.get(f"/tiles/hazards/{z}/{x}/{y}.mvt")  # the tile over RING
    assert r.status_code in (200, 204), r.text
    layers = mapbox_vector_tile.decode(r.content) if r.content else {}
    return {str(f["properties"].get("id")) for f in layers.get("hazards", {}).get("features", [])}


def _seen(w: World, hid: str | None) -> dict[str, bool]:
    """Where a hazard shows: public OGC items, the safety API, tiles, `demine stats`."""
    items = w.client.get("/ogc/collections/hazards/items", params={"limit": 1000}).json()
    ogc = any(f["id"] == hid for f in items["features"])
    safety = w.client.get("/api/v1/safety/point", params=INSIDE).json()
    stats = json.loads(w.cli(None, "public", "stats", "--json").stdout)
    return {
        "ogc": ogc,
        "safety": any(h["id"] == hid for h in safety.get("hazards", [])),
        "tiles": hid in _tile_ids(w),
        "stats": stats_count(stats) > 0,
    }


def stats_count(stats: dict[str, Any]) -> int:
    return int(stats["hazards"]["recorded"])


# --- organisations ------------------------------------------------------------------------


def test_organisations_users_and_the_authority(world: World) -> None:
    r = world.cli(None, "admin", "organisations", "list", "--json")
    orgs = {o["code"]: o for o in json.loads(r.stdout)["organisations"]}
    assert orgs["AUTHORITY"]["type"] == "authority" and orgs["HALO"]["users"] == 2
    r = world.cli(None, "admin", "user", "add", "x1", "--role", "field", "--organisation", "NOPE")
    assert r.exit_code == 3 and "NOPE" in r.output
    r = world.cli(None, "admin", "user", "add", "x1", "--role", "operator", "--organisation", "MAG")
    assert r.exit_code == 0, r.output
    r = world.cli(None, "admin", "user", "add", "x1", "--role", "field")  # organisation kept
    users = {
        u["user"]: u
        for u in json.loads(world.cli(None, "admin", "user", "list", "--json").stdout)["users"]
    }
    assert users["x1"]["organisation"] == "MAG" and users["rev"]["organisation"] == "AUTHORITY"
    r = world.cli(None, "admin", "organisations", "add", "bad code!", "--name", "x")
    assert r.exit_code == 1 and "CODE" in r.output
    r = world.cli(None, "field", "organisations", "add", "NEW", "--name", "New")
    assert r.exit_code == 5


# --- a field write is a submission until approved -----------------------------------------


def test_an_operators_ogc_write_shows_nowhere_until_approved(world: World) -> None:
    before = world.count("hazards")
    r = world.client.post(
        "/ogc/collections/hazards/items", json=_hazard(), headers=world.headers["o_halo"]
    )
    assert r.status_code == 202, r.text
    sub = r.json()
    assert r.headers["location"] == f"/api/v1/submissions/{sub['id']}" == sub["url"]
    assert sub["state"] == "submitted" and sub["organisation"] == "HALO"
    assert world.count("hazards") == before
    assert _seen(world, None) == {"ogc": False, "safety": False, "tiles": False, "stats": False}
    stats_before = json.loads(world.cli(None, "public", "stats", "--json").stdout)
    # the reviewer approves: the record is written, with submitter and approver in history
    r = world.client.post(
        f"/api/v1/submissions/{sub['id']}/approve",
        json={"reason": "checked"},
        headers=world.headers["rev"],
    )
    assert r.status_code == 200, r.text
    (hid,) = r.json()["ids"]
    seen = _seen(world, hid)
    assert seen["ogc"] and seen["safety"] and seen["tiles"], seen
    stats_after = json.loads(world.cli(None, "public", "stats", "--json").stdout)
    assert stats_count(stats_after) == stats_count(stats_before) + 1
    s = world.store()
    try:
        (rev,) = s.history(hid)
    finally:
        s.close()
    assert rev.actor == "o_halo"
    assert "approved by rev" in (rev.reason or "") and sub["id"] in (rev.reason or "")
    one = world.client.get(f"/api/v1/submissions/{sub['id']}", headers=world.headers["o_halo"])
    assert [e["state"] for e in one.json()["events"]] == ["submitted", "approved"]
    assert [e["actor"] for e in one.json()["events"]] == ["o_halo", "rev"]
    # decided once: a second approval is a conflict
    again = world.client.post(
        f"/api/v1/submissions/{sub['id']}/approve", headers=world.headers["adm"]
    )
    assert again.status_code == 409


def test_field_writes_through_every_face_are_submissions(world: World, tmp_path: Path) -> None:
    """OGC POST/PUT/PATCH/DELETE, `demine update|delete|restore|import`: each is a submission;
    the record stays as it was."""
    r = world.client.post(
        "/ogc/collections/hazards/items", json=_hazard("h"), headers=world.headers["adm"]
    )
    hid = r.json()["id"]
    w = world.client
    eo = {
        "type": "Feature",
        "properties": {"reported_at": "2025-01-01T00:00:00Z", "status": "new", "public": True},
        "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
    }
    r = w.post("/ogc/collections/eo_reports/items", json=eo, headers=world.headers["adm"])
    eid = r.json()["id"]
    h = world.headers["f_halo"]
    url = f"/ogc/collections/eo_reports/items/{eid}"
    answers = [
        w.post("/ogc/collections/eo_reports/items", json=eo, headers=h),
        w.put(
            url, json={**eo, "properties": {**eo["properties"], "status": "verified"}}, headers=h
        ),
        w.patch(
            url,
            json={"properties": {"status": "verified"}},
            headers={**h, "content-type": "application/merge-patch+json"},
        ),
        w.delete(url, headers=h),
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 202], [a.text for a in answers]
    assert [a.json()["action"] for a in answers] == ["create", "update", "update", "delete"]
    f = tmp_path / "eo.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [eo]}))
    cli_answers = [
        world.cli("f_halo", "field", "update", eid, "status=verified", "--json"),
        world.cli("f_halo", "field", "delete", eid, "--json"),
        world.cli("f_halo", "field", "import", str(f), "--kind", "eo_reports", "--json"),
    ]
    for a in cli_answers:
        assert a.exit_code == 0, a.output
        assert json.loads(a.stdout)["submission"]["organisation"] == "HALO"
    s = world.store()
    try:
        assert s.get("eo_reports", eid).revision == 1  # unchanged
        assert s.count("eo_reports") == 1
        subs = s.submissions(organisation="HALO")
    finally:
        s.close()
    assert len(subs) == 7 and {x["submitter"] for x in subs} == {"f_halo"}
    # a write that breaks a rule is refused as a write is, not submitted
    bad = {**eo, "properties": {**eo["properties"], "status": "nonsense"}}
    r = w.post("/ogc/collections/eo_reports/items", json=bad, headers=h)
    assert r.status_code == 422 and "status" in r.text
    # a field team may not submit what it may not write (hazards it may, since issue 14)
    r = w.post("/ogc/collections/device_types/items", json=_hazard(), headers=h)
    assert r.status_code == 403, r.text
    assert hid


# --- an operator sees only its own organisation's submissions ----------------------------


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    return out.getvalue()


def _submit(w: World, user: str) -> str:
    r = w.client.post("/ogc/collections/hazards/items", json=_hazard(user), headers=w.headers[user])
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


ROUTES = [
    ("GET", "/api/v1/submissions/{sid}"),
    ("POST", "/api/v1/submissions/{sid}/approve"),
    ("POST", "/api/v1/submissions/{sid}/reject"),
    ("POST", "/api/v1/submissions/{sid}/return"),
    ("POST", "/api/v1/submissions/{sid}/submit"),
    ("GET", "/api/v1/submissions/{sid}/attachments"),
    ("POST", "/api/v1/submissions/{sid}/attachments?filename=p.png"),
]
# who asks -> the answer of each route about another organisation's submission (an operator:
# not found, as if it did not exist, or not its to decide; an analyst sees no submission)
EXPECT = {
    "o_mag": [404, 403, 403, 403, 404, 404, 404],
    "f_mag": [404, 403, 403, 403, 404, 404, 404],
    "ana": [403, 403, 403, 403, 403, 403, 403],
}


def test_an_operator_cannot_see_another_operators_submissions(world: World) -> None:
    halo = _submit(world, "o_halo")
    mag = _submit(world, "o_mag")
    for user, codes in EXPECT.items():
        for (method, path), code in zip(ROUTES, codes, strict=True):
            if "attachments" in path and method == "POST":
                r = world.client.post(
                    path.format(sid=halo),
                    content=_png(),
                    headers={**world.headers[user], "Content-Type": "image/png"},
                )
            else:
                r = world.client.request(
                    method,
                    path.format(sid=halo),
                    json={"reason": "x"},
                    headers=world.headers[user],
                )
            assert r.status_code == code, (user, method, path, r.text)
            assert "o_halo" not in r.text and "pending field" not in r.text
    listed = world.client.get("/api/v1/submissions", headers=world.headers["o_mag"]).json()
    assert [s["id"] for s in listed["submissions"]] == [mag]
    assert world.client.get("/api/v1/submissions").status_code == 401
    everything = world.client.get("/api/v1/submissions", headers=world.headers["rev"]).json()
    assert {s["id"] for s in everything["submissions"]} == {halo, mag}
    # the same through the commands
    r = world.cli("o_mag", "operator", "review", "list", "--json")
    assert [s["id"] for s in json.loads(r.stdout)["submissions"]] == [mag]
    r = world.cli("o_mag", "operator", "review", "show", halo)
    assert r.exit_code == 3
    for args in (
        ("review", "submit", halo),
        ("attachments", halo, "--submission"),
    ):
        r = world.cli("o_mag", "operator", *args)
        assert r.exit_code == 3 and "o_halo" not in r.output, (args, r.output)
    # the report: an operator's is its own organisation's only
    rep = json.loads(world.cli("o_mag", "operator", "review", "report", "--json").stdout)
    assert [o["code"] for o in rep["organisations"]] == ["MAG"]
    r = world.client.get("/api/v1/submissions/report", headers=world.headers["o_mag"])
    assert [o["code"] for o in r.json()["organisations"]] == ["MAG"]
    for cmd in ("approve", "reject", "return"):
        r = world.cli("o_mag", "operator", "review", cmd, halo, "--reason", "x")
        assert r.exit_code == 5, (cmd, r.output)
    r = world.cli("ana", "analyst", "review", "list")
    assert r.exit_code == 5
    r = world.cli("rev", "reviewer", "review", "list", "--json")
    assert {s["id"] for s in json.loads(r.stdout)["submissions"]} == {halo, mag}
    # the field team of HALO sees HALO's
    r = world.cli("f_halo", "field", "review", "show", halo, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["organisation"] == "HALO"


def test_reject_and_return_need_a_reason_and_are_kept(world: World) -> None:
    sid = _submit(world, "o_halo")
    r = world.cli("rev", "reviewer", "review", "reject", sid)
    assert r.exit_code == 1 and "reason" in r.output
    r = world.cli("rev", "reviewer", "review", "return", sid, "--reason", "name the village")
    assert r.exit_code == 0, r.output
    r = world.cli("rev", "reviewer", "review", "approve", sid)
    assert r.exit_code == 4  # returned: not open for a decision
    shown = json.loads(world.cli("o_halo", "operator", "review", "show", sid, "--json").stdout)
    assert shown["state"] == "returned"
    assert shown["events"][-1]["reason"] == "name the village"
    sid2 = _submit(world, "o_halo")
    r = world.client.post(
        f"/api/v1/submissions/{sid2}/reject",
        json={"reason": "duplicate"},
        headers=world.headers["rev"],
    )
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert world.count("hazards") == 0


# --- a batch with bad features: returned, corrected, approved at once --------------------


def _batch(bad: bool) -> dict[str, Any]:
    feats = []
    for i in range(5):
        x = 30.50 + i * 0.001
        props: dict[str, Any] = {"reported_at": "2025-01-01T00:00:00Z", "status": "new"}
        geom: dict[str, Any] = {"type": "Point", "coordinates": [x, 50.405]}
        if bad and i == 1:
            props["status"] = "nonsense"
        if bad and i == 2:
            props["reported_at"] = "2025-13-45"
        if bad and i == 3:
            geom = {"type": "Point", "coordinates": [300.0, 50.405]}
        feats.append({"type": "Feature", "id": f"EO-{i}", "properties": props, "geometry": geom})
    return {"type": "FeatureCollection", "features": feats}


def test_a_batch_with_three_bad_features_is_returned_then_approved(
    world: World, tmp_path: Path
) -> None:
    f = tmp_path / "batch.geojson"
    f.write_text(json.dumps(_batch(bad=True)))
    r = world.cli("o_halo", "operator", "submit", str(f), "--kind", "eo_reports", "--json")
    assert r.exit_code == 1, r.output
    problem = json.loads(r.stdout)["error"]
    located = {(e.get("index"), e.get("field")) for e in problem["errors"]}
    assert {i for i, _ in located} == {1, 2, 3}, problem
    assert (1, "status") in located and (2, "reported_at") in located
    s = world.store()
    try:
        (sub,) = s.submissions(organisation="HALO")
    finally:
        s.close()
    assert sub["state"] == "returned" and sub["action"] == "batch"
    assert {x["index"] for x in sub["faults"]} == {1, 2, 3}
    assert sub["id"] in problem["detail"]
    assert world.count("eo_reports") == 0
    # another operator cannot correct it
    f.write_text(json.dumps(_batch(bad=False)))
    r = world.cli(
        "o_mag", "operator", "submit", str(f), "--kind", "eo_reports", "--resubmit", sub["id"]
    )
    assert r.exit_code == 3, r.output
    r = world.cli(
        "o_halo",
        "operator",
        "submit",
        str(f),
        "--kind",
        "eo_reports",
        "--resubmit",
        sub["id"],
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["submission"]["state"] == "submitted"
    r = world.cli("rev", "reviewer", "review", "approve", sub["id"], "--json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["ids"]) == 5
    assert world.count("eo_reports") == 5
    shown = json.loads(world.cli("rev", "reviewer", "review", "show", sub["id"], "--json").stdout)
    assert [e["state"] for e in shown["events"]] == ["returned", "submitted", "approved"]


def test_a_store_made_before_gets_the_authority(store: Any) -> None:
    """A store of the schema before intake (no organisations, users without one) opened by
    this version: the tables are made, the authority added, every user belongs to it."""
    store.add_user("old", "analyst")
    loc, pg = store.location, store.location.startswith("postgresql")
    c = store.conn
    if pg:
        c.execute("DROP TABLE demine_organisations, demine_submissions, demine_submission_events")
        c.execute("ALTER TABLE demine_users DROP COLUMN organisation")
        c.execute("UPDATE demine_schema SET version = 5")
    else:
        with c:
            for t in ("demine_organisations", "demine_submissions", "demine_submission_events"):
                c.execute(f"DROP TABLE {t}")
                c.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (t,))
            c.execute("ALTER TABLE demine_users DROP COLUMN organisation")
            c.execute("UPDATE demine_settings SET value = '6' WHERE key = 'schema_version'")
    store.close()
    again = open_store(loc)
    try:
        assert [o["code"] for o in again.organisations()] == ["AUTHORITY"]
        assert again.user_organisation("old") == "AUTHORITY"
        assert again.submissions() == []
    finally:
        again.close()


def test_a_new_record_approved_as_an_update_of_an_existing_one(world: World) -> None:
    """Reconcile "update-replace": a field team reports an EO that is already recorded; the
    reviewer approves its submission as an update of the stored record (HTTP and CLI)."""
    eo = {
        "type": "Feature",
        "properties": {"reported_at": "2025-01-01T00:00:00Z", "status": "new", "public": True},
        "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
    }
    stored = world.client.post(
        "/ogc/collections/eo_reports/items", json=eo, headers=world.headers["adm"]
    ).json()["id"]
    again = {**eo, "properties": {**eo["properties"], "status": "verified"}}
    subs = [
        world.client.post(
            "/ogc/collections/eo_reports/items", json=again, headers=world.headers["f_halo"]
        ).json()["id"]
        for _ in range(2)
    ]
    r = world.client.post(
        f"/api/v1/submissions/{subs[0]}/approve",
        json={"update": stored, "reason": "the same report"},
        headers=world.headers["rev"],
    )
    assert r.status_code == 200 and r.json()["ids"] == [stored], r.text
    s = world.store()
    try:
        assert s.count("eo_reports") == 1
        assert s.get("eo_reports", stored).properties["status"] == "verified"
        last = s.history(stored)[-1]
        assert (
            last.revision == 2 and last.actor == "f_halo" and "approved by rev" in str(last.reason)
        )
        assert s.submissions(sid=subs[0])[0]["target_id"] == stored
    finally:
        s.close()
    # the CLI: an unknown record is NotFound (3), and the submission stays open
    missing = "0190a0a0-0000-7000-8000-000000000001"
    r = world.cli("rev", "reviewer", "review", "approve", subs[1], "--update", missing)
    assert r.exit_code == 3, r.output
    r = world.cli("rev", "reviewer", "review", "approve", subs[1], "--update", stored, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ids"] == [stored], r.output
    # only a new record can be reconciled so
    sid = world.client.delete(
        f"/ogc/collections/eo_reports/items/{stored}", headers=world.headers["f_halo"]
    ).json()["id"]
    r = world.cli("rev", "reviewer", "review", "approve", sid, "--update", stored)
    assert r.exit_code == 1 and "update" in r.output


def test_init_names_the_authority(store: Any, tmp_path: Path) -> None:
    db = str(tmp_path / "n.gpkg")
    r = CliRunner().invoke(cli, ["--db", db, "init", "--authority-name", "", "--json"])
    assert r.exit_code == 1 and "--authority-name" in r.output
    assert not Path(db).exists()  # refused before anything is made
    loc = store.location
    store.close()
    name = "Національний орган"
    r = CliRunner().invoke(cli, ["--db", loc, "init", "--authority-name", name, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["authority"] == name, r.output
    r = CliRunner().invoke(cli, ["--db", loc, "init", "--json"])  # again: the name is kept
    assert json.loads(r.stdout)["authority"] == name
