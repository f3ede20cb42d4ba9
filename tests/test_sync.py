"""The field app's sync (issue 14, docs/field.md "Sync", "Conflicts"), on both backends.

The outbox is idempotent by the device's ``client_id`` (a retried sync after lost
acknowledgements stores nothing new), answers each item on its own (one bad item does not
refuse the others; an invalid one stores nothing), and an edit made offline on a revision
since replaced is stored as a conflict for the reviewer, never applied. Pull and area are
bounded. Another organisation's submissions are not told.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

import test_intake
from demine.services import sync
from demine.store.open import open_store
from test_intake import World

world = test_intake.world  # the fixture: a store with HALO, MAG and their users

RING = [[30.50, 50.40], [30.51, 50.40], [30.51, 50.41], [30.50, 50.41], [30.50, 50.40]]
OUTBOX = "/api/v1/sync/outbox"


def _cid() -> str:
    return str(uuid.uuid4())


def hazard_item(name: str = "walked perimeter", **kw: Any) -> dict[str, Any]:
    return {
        "client_id": _cid(),
        "kind": "hazards",
        "action": "create",
        "properties": {"hazard_type": "SHA", "status": "open", "name": name},
        "geometry": {"type": "Polygon", "coordinates": [RING]},
        "accuracy_m": [4.0, 6.5, 3.0, 5.0, 4.0],
        "captured_at": "2026-05-01T09:00:00Z",
        "photos": [],
        **kw,
    }


def eo_item(**kw: Any) -> dict[str, Any]:
    return {
        "client_id": _cid(),
        "kind": "eo_reports",
        "action": "create",
        "properties": {"reported_at": "2026-05-01T10:00:00Z", "status": "new"},
        "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
        "accuracy_m": [3.2],
        **kw,
    }


def send(w: World, user: str, items: list[dict[str, Any]], device: str = "dev-1") -> Any:
    r = w.client.post(OUTBOX, json={"device": device, "items": items}, headers=w.headers[user])
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _subs(w: World) -> list[dict[str, Any]]:
    s = w.store()
    try:
        return list(s.submissions())
    finally:
        s.close()


def test_a_retried_outbox_stores_nothing_new(world: World) -> None:
    """Lost acknowledgements: the device sends the same outbox three times; each item is one
    submission, the answers name the same submission ids, and no record exists before review."""
    items = [hazard_item(), eo_item(), eo_item()]
    first = send(world, "f_halo", items)
    assert [a["status"] for a in first] == ["stored"] * 3
    assert all(a["faults"] == [] for a in first)
    for _ in range(2):
        again = send(world, "f_halo", items)
        assert [a["status"] for a in again] == ["already"] * 3
        assert [a["submission_id"] for a in again] == [a["submission_id"] for a in first]
    subs = _subs(world)
    assert len(subs) == 3
    assert {s["client_id"] for s in subs} == {i["client_id"] for i in items}
    assert world.count("hazards") == 0 and world.count("eo_reports") == 0
    # what the device said is kept with the submission; the accuracy is the largest
    haz = next(s for s in subs if s["kind"] == "hazards")
    assert haz["payload"]["sync"]["device"] == "dev-1"
    assert haz["payload"]["sync"]["accuracy_m"] == [4.0, 6.5, 3.0, 5.0, 4.0]
    assert haz["payload"]["properties"]["position_accuracy_m"] == 6.5
    # a field team's hazard is approved like any submission; the accuracy is in extra
    r = world.client.post(
        f"/api/v1/submissions/{haz['id']}/approve", json={}, headers=world.headers["rev"]
    )
    assert r.status_code == 200, r.text
    (rid,) = r.json()["ids"]
    s = world.store()
    try:
        assert s.get("hazards", rid).extra["position_accuracy_m"] == 6.5
    finally:
        s.close()
    # and the same item sent after approval is still 'already': nothing new
    again = send(world, "f_halo", [items[0]])
    assert again[0]["status"] == "already" and again[0]["state"] == "approved"
    assert world.count("hazards") == 1


def test_one_bad_item_does_not_refuse_the_others(world: World) -> None:
    bad_geom = eo_item(geometry={"type": "Point", "coordinates": [200.0, 95.0]})
    no_kind = eo_item(kind="nothing")
    bad_shape = {"client_id": "not-a-uuid", "kind": "eo_reports", "action": "create"}
    no_base = eo_item(action="update", record_id=str(uuid.uuid4()))
    items = [eo_item(), bad_geom, no_kind, bad_shape, no_base, hazard_item()]
    got = send(world, "f_halo", items)
    assert [a["status"] for a in got] == [
        "stored",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "stored",
    ]
    for i, a in enumerate(got):
        if a["status"] == "invalid":
            assert a["submission_id"] is None and a["faults"], a
            assert all(f["field"].startswith(f"items[{i}]") for f in a["faults"]), a
    assert [f["field"] for f in got[1]["faults"]] == ["items[1].geometry.coordinates"]
    assert got[3]["faults"][0]["field"] == "items[3].client_id"
    assert {f["field"] for f in got[4]["faults"]} == {"items[4].base_revision"}
    assert len(_subs(world)) == 2  # an invalid item stored nothing
    # corrected, the bad one is sent again under its client id: stored now
    fixed = {**bad_geom, "geometry": {"type": "Point", "coordinates": [30.5, 50.4]}}
    assert send(world, "f_halo", [fixed])[0]["status"] == "stored"


def test_two_devices_edit_one_record_offline(world: World) -> None:
    """Both devices hold revision 1 of a hazard. The first sync's edit is approved; the
    second's comes back as a conflict for the reviewer: kept, shown with both revisions, and
    its approval refused (409). Nothing is lost."""
    sub = send(world, "o_halo", [hazard_item("shared")])[0]
    r = world.client.post(
        f"/api/v1/submissions/{sub['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    (hid,) = r.json()["ids"]
    one = eo_like_update(hid, {"name": "device one's name"})
    two = eo_like_update(hid, {"name": "device two's name", "notes": "seen from the road"})
    a = send(world, "f_halo", [one], device="phone-1")[0]
    assert a["status"] == "stored" and "conflict" not in a
    r = world.client.post(
        f"/api/v1/submissions/{a['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    assert r.status_code == 200, r.text
    b = send(world, "f_halo", [two], device="phone-2")[0]
    assert b["status"] == "conflict", b
    assert b["conflict"] == {"base_revision": 1, "current_revision": 2}
    # the reviewer sees it, with both revisions, over HTTP and the command line
    shown = world.client.get(
        f"/api/v1/submissions/{b['submission_id']}", headers=world.headers["rev"]
    ).json()
    assert shown["conflict"] == {"base_revision": 1, "current_revision": 2}
    assert shown["payload"]["changes"]["notes"] == "seen from the road"
    out = world.cli("rev", "reviewer", "review", "show", b["submission_id"])
    assert out.exit_code == 0 and "CONFLICT: made on revision 1" in out.output, out.output
    # approving it is refused: never a silent overwrite
    r = world.client.post(
        f"/api/v1/submissions/{b['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    assert r.status_code == 409, r.text
    s = world.store()
    try:
        assert s.get("hazards", hid).properties["name"] == "device one's name"
        subs = {x["id"]: x for x in s.submissions()}
        assert subs[a["submission_id"]]["state"] == "approved"
        assert subs[b["submission_id"]]["state"] == "submitted"  # kept for the reviewer
    finally:
        s.close()
    # retrying the conflicting item answers 'already', conflict and all
    again = send(world, "f_halo", [two], device="phone-2")[0]
    assert again["status"] == "already" and again["conflict"]["current_revision"] == 2


def test_two_pending_edits_of_one_record_are_shown_together(world: World) -> None:
    """Both devices sync before any review: neither is stale yet, so both are stored, and
    each shows the other as pending on the same record (to the reviewer; to a submitter only
    its own organisation's). Approving one makes the other stale: its approval is refused."""
    sub = send(world, "o_halo", [hazard_item("shared")])[0]
    r = world.client.post(
        f"/api/v1/submissions/{sub['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    (hid,) = r.json()["ids"]
    a = send(world, "f_halo", [eo_like_update(hid, {"name": "one"})], device="p1")[0]
    b = send(world, "f_halo", [eo_like_update(hid, {"name": "two"})], device="p2")[0]
    assert a["status"] == b["status"] == "stored"
    for me, other in ((a, b), (b, a)):
        shown = world.client.get(
            f"/api/v1/submissions/{me['submission_id']}", headers=world.headers["rev"]
        ).json()
        assert [o["id"] for o in shown["concurrent"]] == [other["submission_id"]]
        assert shown["concurrent"][0]["base_revision"] == 1
    out = world.cli("rev", "reviewer", "review", "show", b["submission_id"])
    assert f"ALSO PENDING on this record: submission {a['submission_id']}" in out.output
    # the submitting organisation sees its own; another organisation's user sees nothing
    mine = world.client.get(
        f"/api/v1/submissions/{a['submission_id']}", headers=world.headers["f_halo"]
    ).json()
    assert [o["id"] for o in mine["concurrent"]] == [b["submission_id"]]
    c = send(world, "f_mag", [eo_like_update(hid, {"name": "three"})], device="p3")[0]
    theirs = world.client.get(
        f"/api/v1/submissions/{c['submission_id']}", headers=world.headers["f_mag"]
    ).json()
    assert theirs["concurrent"] == []  # HALO's pending edits are not told to MAG
    everyone = world.client.get(
        f"/api/v1/submissions/{c['submission_id']}", headers=world.headers["rev"]
    ).json()
    assert {o["id"] for o in everyone["concurrent"]} == {a["submission_id"], b["submission_id"]}
    r = world.client.post(
        f"/api/v1/submissions/{a['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    assert r.status_code == 200, r.text
    after = world.client.get(
        f"/api/v1/submissions/{b['submission_id']}", headers=world.headers["rev"]
    ).json()
    assert after["stale"] == {"base_revision": 1, "current_revision": 2}
    assert after["conflict"] is None  # it was not stale when it came: the view says it now
    assert [o["id"] for o in after["concurrent"]] == [c["submission_id"]]
    out = world.cli("rev", "reviewer", "review", "show", b["submission_id"])
    assert "CONFLICT: made on revision 1, the record is now at revision 2" in out.output
    approved = world.client.get(
        f"/api/v1/submissions/{a['submission_id']}", headers=world.headers["rev"]
    ).json()
    assert approved["stale"] is None  # decided: its own approval moved the record on
    r = world.client.post(
        f"/api/v1/submissions/{b['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    assert r.status_code == 409, r.text


def test_hand_placed_vertices_have_no_accuracy(world: World) -> None:
    """A vertex tapped on the map has no accuracy (null): the largest measured one is kept,
    and how many points were placed by hand."""
    item = hazard_item(accuracy_m=[4.0, None, 7.5, 3.0, 4.0])
    (a,) = send(world, "f_halo", [item])
    assert a["status"] == "stored", a
    s = world.store()
    try:
        (sub,) = [x for x in s.submissions() if x["id"] == a["submission_id"]]
    finally:
        s.close()
    assert sub["payload"]["properties"]["position_accuracy_m"] == 7.5
    assert sub["payload"]["properties"]["position_points_by_hand"] == 1
    (bad,) = send(world, "f_halo", [hazard_item(accuracy_m=[4.0, "near"])])
    assert bad["status"] == "invalid"
    assert bad["faults"][0]["field"] == "items[0].accuracy_m"


def eo_like_update(hid: str, changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "client_id": _cid(),
        "kind": "hazards",
        "action": "update",
        "record_id": hid,
        "base_revision": 1,
        "properties": changes,
        "geometry": None,
    }


def test_client_ids_are_per_organisation_and_scoped(world: World) -> None:
    """The same client id in two organisations is two submissions; neither learns of the
    other's, in the outbox's answer or in a pull."""
    item = eo_item()
    a = send(world, "f_halo", [item])[0]
    b = send(world, "f_mag", [item])[0]
    assert a["status"] == b["status"] == "stored" and a["submission_id"] != b["submission_id"]
    pulled = world.client.get("/api/v1/sync/pull", headers=world.headers["f_mag"]).json()
    assert [c["id"] for c in pulled["changes"]] == [b["submission_id"]]
    r = world.client.get(
        f"/api/v1/submissions/{a['submission_id']}", headers=world.headers["f_mag"]
    )
    assert r.status_code == 404


def test_an_item_of_a_kind_the_role_may_not_write(world: World) -> None:
    """Refused before the record it names is looked up (a field team may not read victims:
    'no kind', never 'no such record', so nothing is told of which ids exist)."""
    item = {**eo_item(), "kind": "victims", "action": "delete", "record_id": str(uuid.uuid4())}
    (a,) = send(world, "f_halo", [{**item, "base_revision": 1}])
    assert a["status"] == "invalid" and a["faults"][0]["reason"] == "no kind 'victims'", a
    (a,) = send(world, "f_halo", [{**eo_item(), "kind": "emplacements"}])
    assert a["status"] == "invalid" and a["faults"][0]["field"] == "items[0].kind", a
    assert _subs(world) == []


def test_who_may_sync(world: World) -> None:
    body = {"device": "d", "items": [eo_item()]}
    assert world.client.post(OUTBOX, json=body).status_code == 401
    for user in ("ana", "rev"):
        r = world.client.post(OUTBOX, json=body, headers=world.headers[user])
        assert r.status_code == 403, r.text
        assert world.client.get("/api/v1/sync/pull", headers=world.headers[user]).status_code == 403
    assert _subs(world) == []


def test_outbox_limits(world: World) -> None:
    h = world.headers["f_halo"]
    many = {"device": "d", "items": [eo_item() for _ in range(sync.MAX_ITEMS + 1)]}
    r = world.client.post(OUTBOX, json=many, headers=h)
    assert r.status_code == 413 and r.json()["limit"] == "max_items", r.text
    big = b'{"device": "d", "items": [], "pad": "' + b"x" * sync.MAX_OUTBOX_BYTES + b'"}'
    r = world.client.post(OUTBOX, content=big, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["limit"] == "max_body_bytes", r.text
    r = world.client.post(OUTBOX, content=b"{nope", headers=h)
    assert r.status_code == 422
    r = world.client.post(OUTBOX, json={"items": []}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "device"
    per_item = sync.MAX_PHOTOS
    n = sync.MAX_REQUEST_PHOTOS // per_item + 1
    lots = {"device": "d", "items": [eo_item(photos=["x"] * per_item) for _ in range(n)]}
    r = world.client.post(OUTBOX, json=lots, headers=h)
    assert r.status_code == 413 and r.json()["limit"] == "max_request_photos", r.text
    photos = eo_item(photos=[str(uuid.uuid4())] * (sync.MAX_PHOTOS + 1))
    assert send(world, "f_halo", [photos])[0]["faults"][0]["field"] == "items[0].photos"
    assert _subs(world) == []


def test_pull_pages_through_changes(world: World) -> None:
    h = world.headers["f_halo"]
    got = send(world, "f_halo", [eo_item() for _ in range(5)])
    ids = [a["submission_id"] for a in got]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2, **({"since": cursor} if cursor else {})}
        page = world.client.get("/api/v1/sync/pull", params=params, headers=h).json()
        assert len(page["changes"]) <= 2
        seen += [c["id"] for c in page["changes"]]
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert seen == ids
    # a decision shows up in the next pull, with its reason; nothing else has changed
    r = world.client.post(
        f"/api/v1/submissions/{ids[0]}/return",
        json={"reason": "photo missing"},
        headers=world.headers["rev"],
    )
    assert r.status_code == 200, r.text
    page = world.client.get("/api/v1/sync/pull", params={"since": cursor}, headers=h).json()
    assert [(c["id"], c["state"], c["reason"]) for c in page["changes"]] == [
        (ids[0], "returned", "photo missing")
    ]
    assert page["changes"][0]["client_id"] == got[0]["client_id"]
    again = world.client.get("/api/v1/sync/pull", params={"since": page["cursor"]}, headers=h)
    assert again.json()["changes"] == [] and again.json()["cursor"] == page["cursor"]
    for bad in ({"since": "abc"}, {"limit": 0}, {"limit": sync.PULL_LIMIT + 1}):
        assert world.client.get("/api/v1/sync/pull", params=bad, headers=h).status_code == 422


def test_area_gives_the_work_area_within_limits(world: World) -> None:
    h = world.headers["f_halo"]
    sub = send(world, "o_halo", [hazard_item("in the box")])[0]
    world.client.post(
        f"/api/v1/submissions/{sub['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    send(world, "f_halo", [hazard_item("pending, not a record")])
    r = world.client.get("/api/v1/sync/area", params={"bbox": "30.4,50.3,30.6,50.5"}, headers=h)
    assert r.status_code == 200, r.text
    layers = r.json()["layers"]
    names = [f["properties"]["name"] for f in layers["hazards"]["features"]]
    assert (
        names == ["in the box"] and layers["hazards"]["features"][0]["properties"]["revision"] == 1
    )
    assert "emplacements" not in layers and "victims" not in layers  # kinds field may not read
    r = world.client.get(
        "/api/v1/sync/area", params={"bbox": "31.0,51.0,31.1,51.1", "layers": "hazards"}, headers=h
    )
    assert r.json()["layers"] == {"hazards": {"type": "FeatureCollection", "features": []}}
    r = world.client.get("/api/v1/sync/area", params={"bbox": "30,50,32,52"}, headers=h)
    assert r.status_code == 413 and r.json()["limit"] == "max_box_degrees", r.text
    for bad in ("1,2,3", "30,50,29,51", "a,b,c,d"):
        r = world.client.get("/api/v1/sync/area", params={"bbox": bad}, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bbox", r.text
    r = world.client.get(
        "/api/v1/sync/area", params={"bbox": "30.4,50.3,30.6,50.5", "layers": "victims"}, headers=h
    )
    assert r.status_code == 422
    assert (
        world.client.get("/api/v1/sync/area", params={"bbox": "30,50,30.1,50.1"}).status_code == 401
    )


def test_area_feature_cap(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the feature cap the answer is 413 naming the limit, not a truncated cache."""
    for i in range(3):
        sub = send(world, "o_halo", [hazard_item(f"h{i}")])[0]
        world.client.post(
            f"/api/v1/submissions/{sub['submission_id']}/approve",
            json={},
            headers=world.headers["rev"],
        )
    monkeypatch.setattr(sync, "MAX_AREA_FEATURES", 2)
    r = world.client.get(
        "/api/v1/sync/area",
        params={"bbox": "30.4,50.3,30.6,50.5", "layers": "hazards"},
        headers=world.headers["f_halo"],
    )
    assert r.status_code == 413 and r.json()["limit"] == "max_area_features", r.text


def test_a_store_of_the_previous_schema_gets_client_ids(store: Any) -> None:
    """GeoPackage 7 / PostGIS 6 (before sync) opened by this version: the columns, the index
    and the upload tables are made; its submissions are kept."""
    from demine.services.submitting import pending

    store.add_organisation("HALO", "The HALO Trust", "operator")
    store.add_user("f", "field", "HALO")
    old = pending(store, actor="f", kind="eo_reports", action="create", payload={})
    loc, c = store.location, store.conn
    if loc.startswith("postgresql"):
        c.execute("DROP TABLE demine_uploads, demine_upload_parts")
        c.execute("DROP INDEX demine_submissions_client_id")
        c.execute("ALTER TABLE demine_submissions DROP COLUMN client_id, DROP COLUMN conflict")
        c.execute("UPDATE demine_schema SET version = 6")
    else:
        with c:
            for t in ("demine_uploads", "demine_upload_parts"):
                c.execute(f"DROP TABLE {t}")
                c.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (t,))
            c.execute("DROP INDEX demine_submissions_client_id")
            c.execute("ALTER TABLE demine_submissions DROP COLUMN client_id")
            c.execute("ALTER TABLE demine_submissions DROP COLUMN conflict")
            c.execute("UPDATE demine_settings SET value = '7' WHERE key = 'schema_version'")
    store.close()
    again = open_store(loc)
    try:
        (kept,) = again.submissions()
        assert kept["id"] == old["id"] and kept["client_id"] is None
        cid = _cid()
        args: dict[str, Any] = {"actor": "f", "kind": "eo_reports", "action": "create"}
        new = pending(again, **args, payload={}, client_id=cid)
        assert again.submission_by_client_id("HALO", cid) == new["id"]
        with pytest.raises(again.DB_ERRORS):  # unique within the organisation
            pending(again, **args, payload={}, client_id=cid)
        assert len(again.submissions()) == 2
        assert again.upload("nothing") is None
    finally:
        again.close()


def test_every_answer_is_json(world: World) -> None:
    r = world.client.post(
        OUTBOX, json={"device": "d", "items": []}, headers=world.headers["f_halo"]
    )
    assert r.status_code == 200 and json.loads(r.text) == {"items": []}


def test_the_same_item_sent_twice_at_once_is_stored_once(world: World) -> None:
    """Two sends of one outbox at the same moment (a retry while the first is still running):
    one item answers stored, the other already, with one submission between them."""
    import threading

    items = [eo_item() for _ in range(5)]
    answers: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    def go() -> None:
        s = world.store()
        try:
            body = {"device": "d", "items": items}
            answers.append(sync.outbox(s, body, role="field", actor="f_halo")["items"])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            s.close()

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(5):
        got = sorted(a[i]["status"] for a in answers)
        assert got == ["already", "stored"], got
        assert answers[0][i]["submission_id"] == answers[1][i]["submission_id"]
    assert len(_subs(world)) == 5
