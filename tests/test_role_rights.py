"""Who may write what: ONE table, docs/web.md's "Access: roles and tokens", parsed here and
checked against the code (``demine.services.access``), docs/privacy.md, every write route of the
web application (walked from the app, so a new route is covered or fails this test until it is
classified), every kind and reference layer, and every CLI write command, for every role, on
both backends."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app_routes import app_routes
from demine.api.app import create_app
from demine.cli.app import app as cli
from demine.model.kinds import KINDS
from demine.services import access
from demine.services.access import REVIEWERS, ROLES, can_read_kind, new_token, submits
from demine.services.register import ImportOptions, import_file
from demine.store.open import open_store

DOCS = Path(__file__).parent.parent / "docs"
LAYER = "roads"
USERS = "users and tokens"
TARGETS = (*sorted(KINDS), LAYER)


# --- the table ----------------------------------------------------------------------------------


def parse_write_table(text: str, header: str) -> dict[str, set[str]]:
    """role -> what it writes (kind names, ``roads`` for reference layers, ``users and
    tokens``), from the first Markdown table after ``header`` with a writes column."""
    body = text[text.index(header) :]
    lines = [ln for ln in body.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    col = next(i for i, c in enumerate(head) if "write" in c)
    out: dict[str, set[str]] = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if len(cells) != len(head):
            break
        role = re.sub(r"[`*]", "", cells[0]).split()[0]
        cell = cells[col]
        named = set(re.findall(r"`([a-z_]+)`", cell))
        got: set[str] = set()
        if cell != "nothing":
            if "every kind" in cell:
                got = set(KINDS) - named if " but " in cell else set(KINDS)
            else:
                got = named
            if "reference layers" in cell:
                got.add(LAYER)
            if USERS in cell:
                got.add(USERS)
        assert got or cell == "nothing", f"cannot read the writes cell {cell!r}"
        out[role] = got
    return out


TABLE = parse_write_table((DOCS / "web.md").read_text(), "## Access: roles and tokens")


def allowed(role: str, target: str) -> bool:
    return target in TABLE[role]


def allowed_delete(role: str, target: str) -> bool:
    """Deleting also needs reading every kind that can refer to the record (docs/web.md): a
    refusal for records that refer to it must not tell a role that hidden ones exist, so an
    accident (victims refer to it) is deleted only by a role that reads victims and writes
    accidents."""
    from demine.services.register import DEPENDENTS

    if not allowed(role, target):
        return False
    return all(can_read_kind(KINDS[k], role) for k, _ in DEPENDENTS.get(target, ()))


def test_the_docs_and_the_code_agree() -> None:
    assert set(TABLE) == set(ROLES)
    privacy = parse_write_table((DOCS / "privacy.md").read_text(), "## Roles")
    assert privacy == TABLE
    kinds = {**KINDS}
    for role in ROLES:
        for name, kind in kinds.items():
            assert access.can_write_kind(kind, role) == allowed(role, name), (role, name)
        assert access.can_write(LAYER, role, is_layer=True) == allowed(role, LAYER), role
        assert access.can_manage_users(role) == allowed(role, USERS), role
    # the recommended split: a field team records what it sees and does, nothing else
    assert TABLE["field"] == {
        "eo_reports",
        "finds",
        "activities",
        "releases",
        "accidents",
        "eore_sessions",
        "hazards",  # NTS/TS polygons, as submissions (issue 14: the field app)
    }
    assert TABLE["victim_assistance"] == {"victims"} and TABLE["public"] == set()


# --- records to write -----------------------------------------------------------------------------

RING = [[30.50, 50.40], [30.53, 50.40], [30.53, 50.43], [30.50, 50.43], [30.50, 50.40]]


def _box(i: int) -> dict[str, Any]:
    x, y = 30.501 + (i % 20) * 0.001, 50.401 + (i // 20 % 20) * 0.001
    ring = [[x, y], [x + 0.0008, y], [x + 0.0008, y + 0.0008], [x, y + 0.0008], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def _point(i: int) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [30.501 + (i % 30) * 0.0007, 50.402]}


class World:
    """A store with what every kind refers to, an admin token and one for the role."""

    def __init__(self, location: str, client: TestClient, headers: dict[str, dict[str, str]]):
        self.location = location
        self.client = client
        self.headers = headers
        self.n = 0
        self.refs: dict[str, str] = {}

    def i(self) -> int:
        self.n += 1
        return self.n

    def feature(self, target: str) -> dict[str, Any]:
        i, r = self.i(), self.refs
        u = uuid.uuid4().hex[:8]
        props: dict[str, Any]
        geom: Any = None
        if target == "hazards":
            props, geom = {"hazard_type": "SHA", "status": "open", "name": f"h{i}"}, _box(i)
        elif target == "emplacements":
            props = {"device_type": r["code"], "quantity": 3, "laid_at": "2024-05-01T00:00:00Z"}
            geom = _point(i)
        elif target == "device_types":
            props = {"code": f"T-{u}", "name": "x", "category": "at", "persistence": "persistent"}
        elif target == "finds":
            props = {"device_type": r["code"], "state": "live", "found_at": "2025-01-01T00:00:00Z"}
            geom = _point(i)
        elif target == "eo_reports":
            props = {"reported_at": "2025-01-01T00:00:00Z", "status": "new", "description": "x"}
            geom = _point(i)
        elif target == "risk_updates":
            props = {
                "key": f"{r['code']}:sd_fail:{u}",
                "device_type": r["code"],
                "parameter": "sd_fail",
                "prior_alpha": 1.0,
                "prior_beta": 9.0,
                "posterior_alpha": 2.0,
                "posterior_beta": 10.0,
            }
        elif target == "activities":
            props = {
                "hazard_id": r["hazard"],
                "activity_type": "non_technical_survey",
                "status": "planned",
                "organisation": "Org",
            }
        elif target == "releases":
            props = {"activity_id": r["activity"], "release_type": "cleared"}
            props["released_on"] = "2025-03-01"
            geom = _box(i)
        elif target == "accidents":
            props = {"occurred_at": "2024-06-01T00:00:00Z", "accident_type": "civilian"}
            geom = _point(i)
        elif target == "victims":
            props = {"accident_id": r["accident"], "sex": "female", "outcome": "injured"}
        elif target == "eore_sessions":
            props, geom = {"held_on": "2025-02-01", "organisation": "Org"}, _point(i)
        else:
            props = {"name": f"road {i}"}
            geom = {"type": "LineString", "coordinates": [[30.5, 50.4 + i * 1e-4], [30.6, 50.5]]}
        return {"type": "Feature", "properties": props, "geometry": geom}

    @staticmethod
    def change(target: str) -> dict[str, Any]:
        return {
            "hazards": {"name": "changed"},
            "emplacements": {"quantity": 4},
            "device_types": {"name": "changed"},
            "finds": {"state": "unknown"},
            "eo_reports": {"status": "verified"},
            "risk_updates": {"posterior_alpha": 3.0},
            "activities": {"organisation": "Changed"},
            "releases": {"released_on": "2025-03-02"},
            "accidents": {"accident_type": "demining"},
            "victims": {"outcome": "killed"},
            "eore_sessions": {"organisation": "Changed"},
        }.get(target, {"name": "changed"})

    def url(self, target: str) -> str:
        return f"/ogc/collections/{target}/items"

    def create(self, target: str) -> str:
        """A record made by the admin: the one a role then tries to change."""
        r = self.client.post(self.url(target), json=self.feature(target), headers=self.admin)
        assert r.status_code == 201, (target, r.text)
        rid: str = r.json()["id"]
        return rid

    @property
    def admin(self) -> dict[str, str]:
        return self.headers["admin"]

    def read(self, target: str, rid: str) -> Any:
        s = open_store(self.location)
        try:
            return next((r for r in s.list(target) if r.id == rid), None)
        finally:
            s.close()

    def count(self, target: str) -> int:
        s = open_store(self.location)
        try:
            return s.count(target)
        finally:
            s.close()


@pytest.fixture
def world(store: Any, tmp_path: Path) -> Iterator[World]:
    headers: dict[str, dict[str, str]] = {"public": {}}
    for role in ROLES[1:]:
        store.add_user(f"u_{role}", role)
        token, digest = new_token()
        store.add_token(f"u_{role}", digest)
        headers[role] = {"Authorization": f"Bearer {token}"}
    roads = tmp_path / "roads.geojson"
    roads.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "M03"},
                        "geometry": {"type": "LineString", "coordinates": [[30.5, 50.4], [31, 51]]},
                    }
                ],
            }
        )
    )
    import_file(store, roads, ImportOptions(kind=f"layer:{LAYER}"))
    code = next(r.properties["code"] for r in store.list("device_types"))
    location = store.location
    store.close()
    with TestClient(create_app(location)) as client:
        w = World(location, client, headers)
        w.refs["code"] = code
        h = client.post(
            w.url("hazards"),
            json={
                "type": "Feature",
                "properties": {"hazard_type": "CHA", "status": "open"},
                "geometry": {"type": "Polygon", "coordinates": [RING]},
            },
            headers=w.admin,
        )
        assert h.status_code == 201, h.text
        w.refs["hazard"] = h.json()["id"]
        a = client.post(
            w.url("activities"),
            json={
                "type": "Feature",
                "properties": {
                    "hazard_id": w.refs["hazard"],
                    "activity_type": "clearance",
                    "status": "ongoing",
                    "organisation": "Org",
                    "started_on": "2025-01-01",
                },
                "geometry": {"type": "Polygon", "coordinates": [RING]},
            },
            headers=w.admin,
        )
        assert a.status_code == 201, a.text
        w.refs["activity"] = a.json()["id"]
        w.refs["accident"] = w.create("accidents")
        yield w


# --- every write route --------------------------------------------------------------------------


def _routes(routes: Any, prefix: str) -> Iterator[tuple[str, str]]:
    for m, path, _ in app_routes(routes, prefix):
        if m in ("POST", "PUT", "PATCH", "DELETE"):
            yield m, path


def _denied_status(role: str, target: str) -> int:
    kind = KINDS.get(target)
    if kind is not None and not can_read_kind(kind, role):
        return 404  # a collection the role may not read does not exist for it
    return 401 if role == "public" else 403


Check = Callable[[World, str, str], None]


def _post(w: World, role: str, target: str) -> None:
    before = w.count(target)
    r = w.client.post(w.url(target), json=w.feature(target), headers=w.headers[role])
    if allowed(role, target) and submits(role):  # a submission, not a record (docs/intake.md)
        assert r.status_code == 202, (role, target, r.text)
        assert w.count(target) == before
    elif allowed(role, target):
        assert r.status_code == 201, (role, target, r.text)
        assert w.count(target) == before + 1
    else:
        assert r.status_code == _denied_status(role, target), (role, target, r.text)
        assert w.count(target) == before


def _put(w: World, role: str, target: str) -> None:
    rid = w.create(target)
    body = w.feature(target)
    body["properties"].update(w.change(target))
    r = w.client.put(f"{w.url(target)}/{rid}", json=body, headers=w.headers[role])
    _changed(w, role, target, rid, r)


def _patch(w: World, role: str, target: str) -> None:
    rid = w.create(target)
    body = {"properties": w.change(target)}
    r = w.client.patch(f"{w.url(target)}/{rid}", json=body, headers=w.headers[role])
    _changed(w, role, target, rid, r)


def _changed(w: World, role: str, target: str, rid: str, r: Any) -> None:
    rec = w.read(target, rid)
    key, value = next(iter(w.change(target).items()))
    if allowed(role, target) and submits(role):
        assert r.status_code == 202, (role, target, r.text)
        assert rec.revision == 1
    elif allowed(role, target):
        assert r.status_code == 200, (role, target, r.text)
        assert rec.revision == 2 and rec.properties[key] == value
    else:
        assert r.status_code == _denied_status(role, target), (role, target, r.text)
        assert rec.revision == 1 and rec.properties.get(key) != value


def _delete(w: World, role: str, target: str) -> None:
    rid = w.create(target)
    r = w.client.delete(f"{w.url(target)}/{rid}", headers=w.headers[role])
    if allowed_delete(role, target) and submits(role):
        assert r.status_code == 202, (role, target, r.text)
        assert w.read(target, rid) is not None
    elif allowed_delete(role, target):
        assert r.status_code == 204, (role, target, r.text)
        assert w.read(target, rid) is None
    else:
        assert r.status_code == _denied_status(role, target), (role, target, r.text)
        assert w.read(target, rid) is not None


def _safety_route(w: World, role: str, target: str) -> None:
    """A question, not a write: every role may ask it, and nothing changes."""
    before = w.count(target)
    body = {"route": {"type": "LineString", "coordinates": [[30.49, 50.41], [30.54, 50.41]]}}
    r = w.client.post("/api/v1/safety/route", json=body, headers=w.headers[role])
    assert r.status_code == 200, r.text
    assert w.count(target) == before


def _decide(w: World, role: str, target: str) -> None:
    """Approve, reject, return: reviewers and admins (docs/intake.md); a submitter of the
    same organisation is refused (403), the public needs a token (401)."""
    if target != "eo_reports":
        return
    r = w.client.post(w.url(target), json=w.feature(target), headers=w.headers["field"])
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    for action in ("return", "reject", "approve"):
        r = w.client.post(
            f"/api/v1/submissions/{sid}/{action}", json={"reason": "x"}, headers=w.headers[role]
        )
        if role in REVIEWERS:
            assert r.status_code == 200, (role, action, r.text)
            if action == "return":  # corrected and submitted again, to be decided on
                _resubmit(w, sid)
            if action == "reject":
                return
        else:
            assert r.status_code == (401 if role == "public" else 403), (role, action, r.text)


def _send_draft(w: World, role: str, target: str) -> None:
    """Sending a draft (docs/intake.md "Drafts"): its organisation's roles that see
    submissions (here every user is the authority's); other roles 403, the public 401."""
    if target != "eo_reports":
        return
    draft = {**w.headers["field"], "Prefer": "draft"}
    r = w.client.post(w.url(target), json=w.feature(target), headers=draft)
    assert r.status_code == 202 and r.json()["state"] == "draft", r.text
    r = w.client.post(f"/api/v1/submissions/{r.json()['id']}/submit", headers=w.headers[role])
    if role == "public":
        assert r.status_code == 401, r.text
    elif submits(role) or role in REVIEWERS:
        assert r.status_code == 200 and r.json()["state"] == "submitted", (role, r.text)
    else:
        assert r.status_code == 403, (role, r.text)


def _attach_to_submission(w: World, role: str, target: str) -> None:
    """A file on a submission not decided yet (docs/attachments.md "Through intake"): its
    organisation's submitters (here every user is the authority's) and the reviewers store it
    at once; other roles 403, the public 401."""
    import io

    from PIL import Image

    if target != "eo_reports":
        return
    r = w.client.post(w.url(target), json=w.feature(target), headers=w.headers["field"])
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    r = w.client.post(
        f"/api/v1/submissions/{sid}/attachments?filename=p.png",
        content=png.getvalue(),
        headers={**w.headers[role], "Content-Type": "image/png"},
    )
    s = open_store(w.location)
    try:
        n = len(s.attachments("submission", sid))
    finally:
        s.close()
    if role == "public":
        assert r.status_code == 401 and n == 0, r.text
    elif submits(role) or role in REVIEWERS:
        assert r.status_code == 201 and n == 1, (role, r.text)
    else:
        assert r.status_code == 403 and n == 0, (role, r.text)


def _resubmit(w: World, sid: str) -> None:
    s = open_store(w.location)
    try:
        from demine.services.intake import resubmit

        sub = s.submissions(sid=sid)[0]
        resubmit(s, sid, sub["submitter"], sub["payload"], [], "corrected")
    finally:
        s.close()


def _attach(w: World, role: str, target: str) -> None:
    """Attaching a file is writing the record: the same rights (docs/attachments.md); a
    submitter's file on an official record is a submission (docs/attachments.md "Through
    intake")."""
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    rid = w.create(target)
    r = w.client.post(
        f"/api/v1/records/{target}/{rid}/attachments?filename=p.png",
        content=png.getvalue(),
        headers={**w.headers[role], "Content-Type": "image/png"},
    )
    s = open_store(w.location)
    try:
        n = len(s.attachments(target, rid))
    finally:
        s.close()
    if allowed(role, target) and submits(role):  # an attach submission: the record waits
        assert r.status_code == 202 and r.json()["action"] == "attach", (role, target, r.text)
        assert n == 0
    elif allowed(role, target):
        assert r.status_code == 201 and n == 1, (role, target, r.text)
    else:
        assert r.status_code == _denied_status(role, target), (role, target, r.text)
        assert n == 0


def _merge(w: World, role: str, target: str) -> None:
    """Merging two records (docs/intake.md): reviewers and admins who write the kind and read
    every kind that can refer to it (as a delete); a reference layer does not merge."""
    if target not in ("hazards", "accidents", LAYER):  # one of each outcome is enough
        return
    from demine.model.schema import FieldType
    from demine.services.release_rules import REFERENCES

    a, b = w.create(target), w.create(target)
    r = w.client.post(
        f"/api/v1/records/{target}/{b}/merge",
        json={"into": a, "reason": "x"},
        headers=w.headers[role],
    )
    referring = {
        k.name
        for k in KINDS.values()
        for f in k.fields
        if f.type is FieldType.UUID and not f.derived and REFERENCES.get(f.name) == target
    }
    may = (
        role in REVIEWERS
        and allowed(role, target)
        and all(can_read_kind(KINDS[k], role) for k in referring)
    )
    if role == "public":
        assert r.status_code == 401, (role, target, r.text)
    elif role in REVIEWERS and target == LAYER:
        assert r.status_code == 422, (role, target, r.text)
    elif may:
        assert r.status_code == 200, (role, target, r.text)
    else:
        assert r.status_code == 403, (role, target, r.text)
    assert (w.read(target, b) is None) == (may and target != LAYER), (role, target)


def _subs_count(w: World) -> int:
    s = open_store(w.location)
    try:
        return len(s.submissions())
    finally:
        s.close()


def _sync_outbox(w: World, role: str, target: str) -> None:
    """The field app's outbox (docs/field.md "Sync"): a field team's or an operator's token;
    each item a submission of a kind the role may write (else that item is invalid, naming
    the role), nothing stored for another role (403) or the public (401)."""
    import uuid

    feat = w.feature(target)
    item = {
        "client_id": str(uuid.uuid4()),
        "kind": target,
        "action": "create",
        "properties": feat["properties"],
        "geometry": feat.get("geometry"),
    }
    before = _subs_count(w)
    r = w.client.post(
        "/api/v1/sync/outbox", json={"device": "d", "items": [item]}, headers=w.headers[role]
    )
    n = _subs_count(w) - before
    if role == "public":
        assert r.status_code == 401 and n == 0, r.text
    elif not submits(role):
        assert r.status_code == 403 and n == 0, (role, r.text)
    else:
        (got,) = r.json()["items"]
        if allowed(role, target) and target != LAYER:
            assert got["status"] == "stored" and n == 1, (role, target, got)
        else:
            assert got["status"] == "invalid" and n == 0, (role, target, got)


def _upload_begin(w: World, role: str, target: str) -> None:
    """Uploads are the field app's: submitters begin them (201), others 403, the public 401."""
    if target != "eo_reports":
        return
    body = {"filename": "p.jpg", "content_type": "image/jpeg", "size": 10, "sha256": "0" * 64}
    r = w.client.post("/api/v1/uploads", json=body, headers=w.headers[role])
    code = 401 if role == "public" else 201 if submits(role) else 403
    assert r.status_code == code, (role, r.text)


def _upload_chunk(w: World, role: str, target: str) -> None:
    """A chunk of the field team's upload: the field team only (another user's: 404)."""
    if target != "eo_reports":
        return
    body = {"filename": "p.jpg", "content_type": "image/jpeg", "size": 10, "sha256": "0" * 64}
    uid = w.client.post("/api/v1/uploads", json=body, headers=w.headers["field"]).json()
    r = w.client.put(
        f"/api/v1/uploads/{uid['upload_id']}",
        content=b"0123",
        headers={**w.headers[role], "Content-Range": "bytes 0-3/10"},
    )
    code = {"public": 401, "field": 200, "operator": 404}.get(role, 403)
    assert r.status_code == code, (role, r.text)


def _civilian_report(w: World, role: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    from demine.services import pow

    ch = w.client.get("/api/v1/public/reports/challenge", headers=w.headers[role]).json()
    body = {
        "challenge": ch["challenge"],
        "nonce": pow.solve(ch["challenge"], ch["difficulty"]),
        "lat": 50.41,
        "lon": 30.5,
        "object_type": "mine",
        "seen_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "contact": "+380 00 000 00 00",
        "contact_consent": True,
    }
    records = w.count("eo_reports")
    r = w.client.post("/api/v1/public/reports", json=body, headers=w.headers[role])
    assert r.status_code == 201, (role, r.text)
    assert w.count("eo_reports") == records  # a submission to review, never a record
    return dict(r.json())


def _public_report(w: World, role: str, target: str) -> None:
    """A public write, deliberately: a civilian's report needs no account (docs/
    civilian-reports.md). Every role, the public with no token too, gets 201 and a code;
    what is stored is a submission of the PUBLIC organisation, never a record."""
    if target != "eo_reports":
        return
    got = _civilian_report(w, role)
    s = open_store(w.location)
    try:
        from demine.services import civilian

        (sub,) = s.submissions(sid=civilian.submission_id(s, got["code"]))
        assert (sub["organisation"], sub["submitter"], sub["state"]) == (
            "PUBLIC",
            "public",
            "submitted",
        )
    finally:
        s.close()


def _public_photo(w: World, role: str, target: str) -> None:
    """The photo of a civilian's report: whoever holds its upload token (no account; a
    role's token neither helps nor is needed); without the upload token, 404."""
    if target != "eo_reports":
        return
    got = _civilian_report(w, role)
    url = f"/api/v1/public/reports/{got['code']}/photo"
    jpeg = _jpeg()
    r = w.client.post(url, content=jpeg, headers=w.headers[role])
    assert r.status_code == 404, (role, r.text)
    r = w.client.post(
        url, content=jpeg, headers={**w.headers[role], "X-Upload-Token": got["upload_token"]}
    )
    assert r.status_code == 201, (role, r.text)


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "JPEG")
    return out.getvalue()


# the write routes anyone may use with no token (each check above says why)
PUBLIC_WRITE_ROUTES = {
    ("POST", "/api/v1/safety/route"),  # a question, not a write
    ("POST", "/api/v1/public/reports"),  # a civilian's report: a submission
    ("POST", "/api/v1/public/reports/{code}/photo"),  # its photo, with its upload token
    ("POST", "/api/v1/extracts"),  # a land-status extract of public data: a question
    ("POST", "/api/v1/extracts/verify"),  # checking one: a question
}


def test_only_the_public_write_routes_take_no_token(tmp_path: Path) -> None:
    """Every other write route answers 401 to a request with no token, before any other
    check, so an anonymous write route is always a deliberate one (listed above)."""
    from demine.services.setup import init_store

    s = open_store(str(tmp_path / "t.gpkg"))
    init_store(s)
    s.close()
    client = TestClient(create_app(str(tmp_path / "t.gpkg")))
    anonymous = set()
    for method, path in sorted(set(_routes(client.app.routes, ""))):  # type: ignore[attr-defined]
        url = re.sub(r"\{[^}]+\}", "hazards", path)
        r = client.request(method, url, json={"into": "x", "reason": "x"})  # past body checks
        if r.status_code != 401:
            anonymous.add((method, path))
    assert anonymous == PUBLIC_WRITE_ROUTES


def _extract(w: World, role: str, target: str) -> None:
    """A question, not a write (docs/extract.md): every role may ask for an extract of the
    present (without a key configured, as here, every role gets the same 503) and check one;
    nothing changes."""
    if target != "hazards":
        return
    before = w.count(target)
    body = {"point": {"lat": 50.41, "lon": 30.51}}
    r = w.client.post("/api/v1/extracts", json=body, headers=w.headers[role])
    assert r.status_code == 503 and "--extract-key" in r.text, (role, r.text)
    r = w.client.post("/api/v1/extracts/verify", content=b"{}", headers=w.headers[role])
    assert r.status_code == 200 and r.json()["valid"] is False, (role, r.text)
    assert w.count(target) == before


WRITE_ROUTES: dict[tuple[str, str], Check] = {
    ("POST", "/api/v1/public/reports"): _public_report,
    ("POST", "/api/v1/public/reports/{code}/photo"): _public_photo,
    ("POST", "/api/v1/sync/outbox"): _sync_outbox,
    ("POST", "/api/v1/uploads"): _upload_begin,
    ("PUT", "/api/v1/uploads/{upload_id}"): _upload_chunk,
    ("POST", "/ogc/collections/{cid}/items"): _post,
    ("PUT", "/ogc/collections/{cid}/items/{fid}"): _put,
    ("PATCH", "/ogc/collections/{cid}/items/{fid}"): _patch,
    ("DELETE", "/ogc/collections/{cid}/items/{fid}"): _delete,
    ("POST", "/api/v1/safety/route"): _safety_route,
    ("POST", "/api/v1/submissions/{sid}/approve"): _decide,
    ("POST", "/api/v1/submissions/{sid}/reject"): _decide,
    ("POST", "/api/v1/submissions/{sid}/return"): _decide,
    ("POST", "/api/v1/submissions/{sid}/submit"): _send_draft,
    ("POST", "/api/v1/records/{kind}/{record_id}/attachments"): _attach,
    ("POST", "/api/v1/submissions/{sid}/attachments"): _attach_to_submission,
    ("POST", "/api/v1/records/{kind}/{other}/merge"): _merge,
    ("POST", "/api/v1/extracts"): _extract,
    ("POST", "/api/v1/extracts/verify"): _extract,
}


@pytest.mark.parametrize("role", ROLES)
def test_every_write_route_every_kind_every_role(world: World, role: str) -> None:
    routes = sorted(set(_routes(world.client.app.routes, "")))  # type: ignore[attr-defined]
    assert routes, "no write route found: the route walk is broken"
    unknown = [r for r in routes if r not in WRITE_ROUTES]
    assert not unknown, f"classify these write routes in WRITE_ROUTES (and the docs): {unknown}"
    for method_path in routes:
        for target in TARGETS:
            WRITE_ROUTES[method_path](world, role, target)


# --- every CLI write command ---------------------------------------------------------------------


def _cli(w: World, role: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", w.location, "--role", role, *args])


def _expect(role: str, target: str, r: Any, ok: int = 0) -> None:
    if allowed(role, target):
        assert r.exit_code == ok, (role, target, r.output)
    else:
        assert r.exit_code == 5, (role, target, r.output)
        assert "role" in r.output


def _kind_arg(target: str) -> str:
    return f"layer:{target}" if target == LAYER else target


@pytest.mark.parametrize("role", ROLES)
def test_every_cli_write_command_every_kind_every_role(
    world: World, role: str, tmp_path: Path
) -> None:
    for target in TARGETS:
        # import
        f = tmp_path / f"{target}.geojson"
        feat = world.feature(target)
        f.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}))
        before = world.count(target)
        _expect(role, target, _cli(world, role, "import", str(f), "--kind", _kind_arg(target)))
        stored = allowed(role, target) and not (submits(role) and target != LAYER)
        assert world.count(target) == before + (1 if stored else 0)
        wrote = allowed(role, target) and not submits(role)  # a submitter's: a submission
        # update
        rid = world.create(target)
        key, value = next(iter(world.change(target).items()))
        _expect(role, target, _cli(world, role, "update", rid, f"{key}={value}"))
        rec = world.read(target, rid)
        assert (rec.revision == 2) == wrote
        # restore (to revision 1: the admin changes it first, so there is one to go back to)
        rid = world.create(target)
        assert _cli(world, "admin", "update", rid, f"{key}={value}").exit_code == 0
        _expect(role, target, _cli(world, role, "restore", rid, "--revision", "1"))
        assert (world.read(target, rid).revision == 3) == wrote
        # delete
        rid = world.create(target)
        r = _cli(world, role, "delete", rid)
        if allowed_delete(role, target):
            assert r.exit_code == 0, (role, target, r.output)
        else:
            assert r.exit_code == 5 and "role" in r.output, (role, target, r.output)
        assert (world.read(target, rid) is None) == (allowed_delete(role, target) and wrote)
    # land release and the risk model write hazards and risk_updates
    r = _cli(world, role, "release", "close", world.refs["hazard"], "--on", "2025-06-01")
    _expect(role, "hazards", r, ok=4)  # allowed: then refused for land-release reasons (exit 4)
    _expect(role, "risk_updates", _cli(world, role, "risk", "learn"))
    # users and tokens
    name = f"x{uuid.uuid4().hex[:6]}"
    _expect(role, USERS, _cli(world, role, "user", "add", name, "--role", "field"))
    _expect(role, USERS, _cli(world, role, "user", "list", "--json"))
    _expect(role, USERS, _cli(world, role, "token", "list", "--json"))
    _expect(
        role,
        USERS,
        _cli(world, role, "token", "create", "u_field"),
    )
    _expect(role, USERS, _cli(world, role, "token", "revoke", "--user", "u_field"))
    _expect(role, USERS, _cli(world, role, "user", "remove", "u_field"))
    s = open_store(world.location)
    try:
        users = dict(s.users())
    finally:
        s.close()
    assert (name in users) == allowed(role, USERS)
    assert ("u_field" in users) != allowed(role, USERS)


def test_a_role_sets_only_fields_it_may_read(world: World, tmp_path: Path) -> None:
    """A field team writes accidents but not their analyst-only investigation: not by import,
    update or the web API, and its re-import of an accident keeps the investigation."""
    acc = world.feature("accidents")
    acc["id"] = "ACC-7"
    f = tmp_path / "acc.geojson"
    with_inv = {**acc, "properties": {**acc["properties"], "investigation": "fuse found"}}
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [with_inv]}))
    before = world.count("accidents")
    r = _cli(world, "field", "import", str(f), "--kind", "accidents")
    assert r.exit_code == 5 and "investigation" in r.output, r.output
    assert world.count("accidents") == before
    assert _cli(world, "analyst", "import", str(f), "--kind", "accidents").exit_code == 0
    s = open_store(world.location)
    try:
        rec = next(x for x in s.list("accidents") if x.source_id == "ACC-7")
    finally:
        s.close()
    # the field team re-imports its own report, with a new description
    mine = {**acc, "properties": {**acc["properties"], "description": "two people nearby"}}
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [mine]}))
    r = _cli(world, "field", "import", str(f), "--kind", "accidents", "--json")
    assert r.exit_code == 0, r.output
    sid = json.loads(r.stdout)["submission"]["id"]  # a field team's import is a submission
    seen = world.client.get(f"/api/v1/submissions/{sid}", headers=world.headers["field"])
    assert seen.status_code == 200 and "fuse found" not in seen.text  # what it may not read
    assert _cli(world, "reviewer", "review", "approve", sid).exit_code == 0
    now = world.read("accidents", rec.id)
    assert now.properties["description"] == "two people nearby"
    assert now.properties["investigation"] == "fuse found"
    r = _cli(world, "field", "update", rec.id, "investigation=none")
    assert r.exit_code == 5 and "investigation" in r.output
    p = world.client.patch(
        f"{world.url('accidents')}/{rec.id}",
        json={"properties": {"investigation": "none"}},
        headers=world.headers["field"],
    )
    # the same refusal as the CLI's (PermissionDenied: 403 here, exit 5 there), kind and field named
    assert p.status_code == 403, p.text
    assert p.json()["detail"] == "the field role may not set investigation of accidents"
    assert world.read("accidents", rec.id).properties["investigation"] == "fuse found"
