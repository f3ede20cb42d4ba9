"""Reconciling (issue 13): merge, link and the redirect of a merged id, on both backends (the
`world` fixture of tests/test_intake.py takes `store`).

Acceptance: a submission that duplicates an existing hazard is offered that hazard as a
candidate; merge keeps both histories and the old id answers with a redirect - through the
command line and through HTTP. A merge re-points what refers to the merged record and moves
its attachments, all through the write path in one transaction: a refusal half way stores
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from demine.services.copy import copy_store
from demine.store.open import open_store
from test_intake import World, _hazard
from test_intake import world as world  # the fixture

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
POINT = {"type": "Point", "coordinates": [30.505, 50.405]}
FAR = [[30.60, 50.40], [30.61, 50.40], [30.61, 50.41], [30.60, 50.41], [30.60, 50.40]]


def _post(w: World, kind: str, feature: dict[str, Any], user: str = "adm") -> str:
    r = w.client.post(f"/ogc/collections/{kind}/items", json=feature, headers=w.headers[user])
    assert r.status_code in (201, 202), r.text
    return str(r.json()["id"])


def _find(hazard_id: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {
            "device_type": "ap-blast-persistent",
            "state": "live",
            "found_at": "2025-03-01T10:00:00Z",
            "hazard_id": hazard_id,
        },
        "geometry": POINT,
    }


def _activity(hazard_id: str, status: str = "ongoing") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {
            "hazard_id": hazard_id,
            "activity_type": "clearance",
            "status": status,
            "organisation": "HALO",
            "started_on": "2025-01-10",
        },
        "geometry": None,
    }


def _far(name: str) -> dict[str, Any]:
    return {**_hazard(name), "geometry": {"type": "Polygon", "coordinates": [FAR]}}


def _history(w: World, rid: str) -> list[dict[str, Any]]:
    r = w.cli(None, "admin", "history", rid, "--json")
    assert r.exit_code == 0, r.output
    return list(json.loads(r.stdout)["revisions"])


def _store_call(w: World, fn: Any) -> Any:
    s = w.store()
    try:
        return fn(s)
    finally:
        s.close()


# --- acceptance -----------------------------------------------------------------------------


def test_a_duplicate_is_offered_as_a_candidate_and_merged_over_http(world: World) -> None:
    w = world
    old = _post(w, "hazards", _hazard("the field by the school"))
    r = w.client.post(
        "/ogc/collections/hazards/items", json=_hazard("school field"), headers=w.headers["o_halo"]
    )
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    sub = w.client.get(f"/api/v1/submissions/{sid}", headers=w.headers["rev"]).json()
    cands = {c["id"]: c for c in sub["candidates"]}
    assert old in cands and cands[old]["kind"] == "hazards"
    assert cands[old]["distance_m"] == 0 and "overlap" in cands[old]["matches"]
    assert cands[old]["rank"] > 0 and cands[old]["reasons"]
    assert sub["current"] is None  # a new record changes none
    # approved as a duplicate: written as new and merged into the existing hazard, at once
    r = w.client.post(
        f"/api/v1/submissions/{sid}/approve",
        json={"merge_into": old, "reason": "same field"},
        headers=w.headers["rev"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["merged_into"] == old
    (new,) = r.json()["ids"]
    # the new id answers with a redirect to the survivor, on OGC and the map's record route
    r = w.client.get(f"/ogc/collections/hazards/items/{new}?f=json", follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"].endswith(f"/ogc/collections/hazards/items/{old}?f=json")
    assert w.client.get(f"/ogc/collections/hazards/items/{new}").json()["id"] == old
    r = w.client.get(f"/api/v1/map/hazards/{new}", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == f"/api/v1/map/hazards/{old}"
    # both histories: the new record's (by the submitter, then merged) and the survivor's
    hn = _history(w, new)
    assert [h["op"] for h in hn] == ["create", "delete"]
    assert hn[0]["actor"] == "o_halo" and "approved by rev" in hn[0]["reason"]
    assert hn[1]["actor"] == "rev" and hn[1]["reason"].startswith(f"merged into {old}")
    ho = _history(w, old)
    assert [h["op"] for h in ho] == ["create", "update"]
    assert f"merged {new} into this record" in ho[1]["reason"]
    events = w.client.get(f"/api/v1/submissions/{sid}", headers=w.headers["o_halo"]).json()
    assert events["events"][-1]["reason"].startswith(f"approved and merged into {old}")
    # a second merge of the same record: it is gone (a located conflict)
    r = w.client.post(
        f"/api/v1/records/hazards/{new}/merge",
        json={"into": old, "reason": "x"},
        headers=w.headers["rev"],
    )
    assert r.status_code == 409 and f"merged into {old}" in r.json()["detail"]


def test_a_duplicate_is_offered_as_a_candidate_and_merged_at_the_command_line(
    world: World, tmp_path: Path
) -> None:
    w = world
    old = _post(w, "hazards", _hazard("the field by the school"))
    f = tmp_path / "dup.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [_hazard("school field")]}))
    r = w.cli("o_halo", "operator", "submit", str(f), "--kind", "hazards", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(w.cli("rev", "reviewer", "review", "list", "--json").stdout)
    sid = rows["submissions"][0]["id"]
    r = w.cli("rev", "reviewer", "review", "show", sid, "--json")
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert [c["id"] for c in shown["candidates"]][:1] == [old]
    assert shown["candidates"][0]["feature"] == 0
    r = w.cli("rev", "reviewer", "review", "show", sid)
    assert f"candidate hazards {old}" in r.stdout
    r = w.cli(
        "rev",
        "reviewer",
        "review",
        "approve",
        sid,
        "--merge-into",
        old,
        "--reason",
        "dup",
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    (new,) = out["ids"]
    assert out["merged_into"] == old
    r = w.cli(None, "admin", "show", new)
    assert r.exit_code == 0, r.output
    assert (
        r.stdout.splitlines()[0] == f"{new} was merged into {old}" and f"hazards {old}" in r.stdout
    )
    shown = json.loads(w.cli(None, "admin", "show", new, "--json").stdout)
    assert shown["id"] == old and shown["merged_from"] == new
    assert [h["op"] for h in _history(w, new)] == ["create", "delete"]
    assert _history(w, old)[-1]["reason"].startswith(f"merged {new} into this record")
    r = w.client.get(f"/ogc/collections/hazards/items/{new}", follow_redirects=False)
    assert r.status_code == 301


# --- what a merge carries over --------------------------------------------------------------


def test_merge_repoints_references_and_moves_attachments(world: World) -> None:
    w = world
    keep, gone = _post(w, "hazards", _hazard("a")), _post(w, "hazards", _far("b"))
    find = _post(w, "finds", _find(gone))
    act = _post(w, "activities", _activity(gone))
    other_find = _post(w, "finds", _find(keep))
    r = w.client.post(
        f"/api/v1/records/hazards/{gone}/attachments?filename=map.pdf",
        content=PDF,
        headers=w.headers["adm"],
    )
    assert r.status_code == 201, r.text
    r = w.cli(
        "rev",
        "reviewer",
        "review",
        "merge",
        "hazards",
        keep,
        gone,
        "--reason",
        "one field",
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["survivor"] == keep and out["merged"] == gone and out["attachments"] == 1
    assert sorted((x["kind"], x["id"]) for x in out["repointed"]) == sorted(
        [("finds", find), ("activities", act)]
    )
    s = w.store()
    try:
        assert s.get("finds", find).properties["hazard_id"] == keep
        assert s.get("activities", act).properties["hazard_id"] == keep
        assert s.get("finds", other_find).revision == 1  # untouched
        assert [a["filename"] for a in s.attachments("hazards", keep)] == ["map.pdf"]
        assert s.attachments("hazards", gone) == []
        assert s.redirect(gone) == keep
        (rev,) = [h for h in s.history(find) if h.revision == 2]
        assert rev.actor == "rev" and f"{gone} merged into {keep}" in (rev.reason or "")
    finally:
        s.close()
    lst = w.client.get(f"/api/v1/records/hazards/{keep}/attachments", headers=w.headers["adm"])
    assert [a["filename"] for a in lst.json()["attachments"]] == ["map.pdf"]
    # the text answer says what was done
    c = _post(w, "hazards", _far("c"))
    r = w.cli("rev", "reviewer", "review", "merge", "hazards", keep, c, "--reason", "same")
    assert r.exit_code == 0 and f"merged {c} into {keep}" in r.stdout


def test_a_refusal_half_way_stores_nothing(world: World) -> None:
    """The find is re-pointed first; the activity that made a release may not change hazard:
    the merge is refused, and the find, the attachment, both records and their histories are
    as they were."""
    w = world
    keep, gone = _post(w, "hazards", _hazard("a")), _post(w, "hazards", _hazard("b"))
    find = _post(w, "finds", _find(gone))
    act = _post(w, "activities", _activity(gone))
    rel = {
        "type": "Feature",
        "properties": {"activity_id": act, "release_type": "cleared", "released_on": "2025-02-01"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[30.50, 50.40], [30.505, 50.40], [30.505, 50.405], [30.50, 50.40]]],
        },
    }
    _post(w, "releases", rel)
    w.client.post(
        f"/api/v1/records/hazards/{gone}/attachments?filename=map.pdf",
        content=PDF,
        headers=w.headers["adm"],
    )
    before = {rid: len(_history(w, rid)) for rid in (keep, gone, find, act)}
    r = w.client.post(
        f"/api/v1/records/hazards/{gone}/merge",
        json={"into": keep, "reason": "x"},
        headers=w.headers["rev"],
    )
    assert r.status_code == 422, r.text
    assert "hazard cannot change" in r.text and "hazard_id" in r.text
    r = w.cli("rev", "reviewer", "review", "merge", "hazards", keep, gone, "--reason", "x")
    assert r.exit_code == 1 and "hazard cannot change" in r.output
    s = w.store()
    try:
        assert s.get("finds", find).properties["hazard_id"] == gone
        assert s.get("hazards", gone).revision == 1 and s.get("hazards", keep).revision == 1
        assert s.redirect(gone) is None
        assert len(s.attachments("hazards", gone)) == 1 and s.attachments("hazards", keep) == []
    finally:
        s.close()
    assert {rid: len(_history(w, rid)) for rid in before} == before


# --- refusals, each located -----------------------------------------------------------------


def test_merge_refusals(world: World) -> None:
    w = world
    a, b = _post(w, "hazards", _hazard("a")), _post(w, "hazards", _far("b"))
    find = _post(w, "finds", _find(a))
    dead = _post(w, "hazards", _far("dead"))
    assert w.cli(None, "admin", "delete", dead, "--reason", "gone").exit_code == 0
    unknown = "0190a5b4-0000-7000-8000-000000000000"

    def http(user: str, kind: str, other: str, into: str, reason: str | None = "r") -> Any:
        body = {"into": into} if reason is None else {"into": into, "reason": reason}
        return w.client.post(
            f"/api/v1/records/{kind}/{other}/merge", json=body, headers=w.headers[user]
        )

    def cli(role: str, kind: str, into: str, other: str, *extra: str) -> Any:
        return w.cli("x", role, "review", "merge", kind, into, other, *extra)

    cases = [  # (user/role, kind, survivor, other, reason): HTTP status, exit code, located by
        (("o_halo", "operator"), "hazards", a, b, "r", 403, 5, "reviewer"),
        (("ana", "analyst"), "hazards", a, b, "r", 403, 5, "reviewer"),
        (("rev", "reviewer"), "hazards", a, find, "r", 422, 1, "finds record, not hazards"),
        (("rev", "reviewer"), "hazards", a, dead, "r", 409, 4, "was deleted"),
        (("rev", "reviewer"), "hazards", a, a, "r", 422, 1, "merged into itself"),
        (("rev", "reviewer"), "hazards", a, unknown, "r", 404, 3, unknown),
        (("rev", "reviewer"), "hazards", unknown, b, "r", 404, 3, "(into)"),
        (("rev", "reviewer"), "hazards", a, "not-an-id", "r", 422, 1, "not a record id"),
        (("rev", "reviewer"), "hazards", a, b, None, 422, 1, "needs a reason"),
        (("rev", "reviewer"), "nothing", a, b, "r", 404, 3, "no kind or layer"),
    ]
    for (user, role), kind, into, other, reason, status, code, words in cases:
        r = http(user, kind, other, into, reason)
        assert r.status_code == status and words in r.json()["detail"] + json.dumps(
            r.json().get("errors")
        ), (user, kind, other, r.text)
        args = ["--reason", reason] if reason else []
        c = cli(role, kind, into, other, *args)
        assert c.exit_code == code and words in c.output, (role, kind, other, c.output)
    r = w.client.post(
        f"/api/v1/records/hazards/{b}/merge", json={"reason": "r"}, headers=w.headers["rev"]
    )
    assert r.status_code == 422 and "into" in r.text
    r = w.client.post(f"/api/v1/records/hazards/{b}/merge", json={"into": a, "reason": "r"})
    assert r.status_code == 401
    # nothing changed by any of them
    s = w.store()
    try:
        assert s.get("hazards", b).revision == 1 and s.get("hazards", a).revision == 1
    finally:
        s.close()


# --- link, chains, copy -----------------------------------------------------------------------


def test_approve_as_linked(world: World, tmp_path: Path) -> None:
    w = world
    old = _post(w, "hazards", _hazard("a"))
    sid = _post(w, "hazards", _hazard("next to a"), user="o_halo")
    r = w.client.post(
        f"/api/v1/submissions/{sid}/approve",
        json={"link": old, "reason": "neighbour"},
        headers=w.headers["rev"],
    )
    assert r.status_code == 200, r.text
    (new,) = r.json()["ids"]
    assert r.json()["linked_to"] == old
    (h,) = _history(w, new)
    assert f"linked to {old}" in h["reason"]
    sid2 = _post(w, "hazards", _hazard("also next to a"), user="o_halo")
    r = w.cli("rev", "reviewer", "review", "approve", sid2, "--link", old, "--json")
    assert r.exit_code == 0, r.output
    (new2,) = json.loads(r.stdout)["ids"]
    links = _store_call(w, lambda s: s.links())
    assert [(x["record_id"], x["linked_id"], x["kind"], x["actor"]) for x in links] == [
        (new, old, "hazards", "rev"),
        (new2, old, "hazards", "rev"),
    ]
    # refused: both at once, a link to nothing, an update submission
    sid3 = _post(w, "hazards", _hazard("x"), user="o_halo")
    r = w.client.post(
        f"/api/v1/submissions/{sid3}/approve",
        json={"link": old, "merge_into": old},
        headers=w.headers["rev"],
    )
    assert r.status_code == 422 and "one of" in r.text
    r = w.cli(
        "rev",
        "reviewer",
        "review",
        "approve",
        sid3,
        "--link",
        "0190a5b4-0000-7000-8000-000000000000",
    )
    assert r.exit_code == 3 and "(link)" in r.output
    r = w.client.patch(
        f"/ogc/collections/hazards/items/{old}",
        json={"properties": {"name": "b"}},
        headers=w.headers["o_halo"],
    )
    upd = r.json()["id"]
    r = w.cli("rev", "reviewer", "review", "approve", upd, "--merge-into", new)
    assert r.exit_code == 1 and "only a new record" in r.output
    states = {
        x["id"]: x["state"]
        for x in json.loads(w.cli("rev", "reviewer", "review", "list", "--json").stdout)[
            "submissions"
        ]
    }
    assert states[sid3] == "submitted" and states[upd] == "submitted"


def test_redirect_chains_and_copy(world: World, tmp_path: Path) -> None:
    w = world
    a, b, c = (_post(w, "hazards", _far(n)) for n in "abc")
    for keep, gone in ((b, a), (c, b)):
        r = w.cli("adm", "admin", "review", "merge", "hazards", keep, gone, "--reason", "dup")
        assert r.exit_code == 0, r.output
    assert _store_call(w, lambda s: (s.redirect(a), s.redirect(b), s.redirect(c))) == (c, c, None)
    r = w.client.get(f"/ogc/collections/hazards/items/{a}", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"].endswith(f"/items/{c}")
    assert w.cli(None, "admin", "show", a).stdout.startswith(f"{a} was merged into {c}")
    # a restored record answers as itself again, and the survivor of a merge redirects nowhere
    assert (
        w.cli(
            None, "admin", "restore", a, "--revision", "1", "--reason", "not a duplicate"
        ).exit_code
        == 0
    )
    r = w.client.get(f"/ogc/collections/hazards/items/{a}", follow_redirects=False)
    assert r.status_code == 200 and r.json()["id"] == a
    r = w.cli("adm", "admin", "review", "merge", "hazards", a, c, "--reason", "back")
    assert r.exit_code == 0, r.output
    assert _store_call(w, lambda s: (s.redirect(a), s.redirect(b), s.redirect(c))) == (None, a, a)
    # a copy carries the redirects (and links)
    dst = open_store(str(tmp_path / "copy.gpkg"))
    src = w.store()
    try:
        info = copy_store(src, dst)
        assert info["redirects"] == 2
        assert dst.redirect(b) == a and dst.redirects() == src.redirects()
    finally:
        src.close()
        dst.close()


def test_review_show_gives_the_current_record(world: World) -> None:
    w = world
    hid = _post(w, "hazards", _hazard("a"))
    r = w.client.patch(
        f"/ogc/collections/hazards/items/{hid}",
        json={"properties": {"name": "b"}},
        headers=w.headers["o_halo"],
    )
    sid = r.json()["id"]
    for who in ("rev", "o_halo"):
        sub = w.client.get(f"/api/v1/submissions/{sid}", headers=w.headers[who]).json()
        cur = sub["current"]
        assert cur["id"] == hid and cur["properties"]["name"] == "a"
        assert cur["geometry"]["type"] in ("Polygon", "MultiPolygon") and cur["revision"] == 1
        assert sub["candidates"] == []
    shown = json.loads(w.cli("rev", "reviewer", "review", "show", sid, "--json").stdout)
    assert shown["current"]["id"] == hid
    # an operator's view leaves out the fields it may not read (analyst only)
    acc = {
        "type": "Feature",
        "properties": {
            "occurred_at": "2025-01-01T00:00:00Z",
            "accident_type": "civilian",
            "investigation": "fuse found",
            "admin_area": "Kyiv",
        },
        "geometry": POINT,
    }
    aid = _post(w, "accidents", acc)
    r = w.client.patch(
        f"/ogc/collections/accidents/items/{aid}",
        json={"properties": {"admin_area": "Irpin"}},
        headers=w.headers["o_halo"],
    )
    assert r.status_code == 202, r.text
    sid2 = r.json()["id"]
    seen = {
        who: w.client.get(f"/api/v1/submissions/{sid2}", headers=w.headers[who]).json()["current"]
        for who in ("rev", "o_halo")
    }
    assert seen["rev"]["properties"]["investigation"] == "fuse found"
    assert "investigation" not in seen["o_halo"]["properties"]
    assert seen["o_halo"]["properties"]["admin_area"] == "Kyiv"


@pytest.mark.parametrize("who", ["o_mag"])
def test_another_organisations_submission_shows_no_candidates(world: World, who: str) -> None:
    w = world
    _post(w, "hazards", _hazard("a"))
    sid = _post(w, "hazards", _hazard("dup"), user="o_halo")
    r = w.client.get(f"/api/v1/submissions/{sid}", headers=w.headers[who])
    assert r.status_code == 404 and "candidates" not in r.text


def test_a_refused_merge_on_approval_writes_no_record(world: World) -> None:
    """The new record is written, then the merge is refused (a reviewer may not merge
    accidents: victims, which it may not read, refer to them): the record is not kept and the
    submission is open again, with an event saying why."""
    w = world
    acc = {
        "type": "Feature",
        "properties": {"occurred_at": "2025-01-01T00:00:00Z", "accident_type": "civilian"},
        "geometry": POINT,
    }
    old = _post(w, "accidents", acc)
    sid = _post(w, "accidents", acc, user="o_halo")
    r = w.client.post(
        f"/api/v1/submissions/{sid}/approve", json={"merge_into": old}, headers=w.headers["rev"]
    )
    assert r.status_code == 403 and "victims" in r.json()["detail"], r.text
    assert w.count("accidents") == 1
    sub = w.client.get(f"/api/v1/submissions/{sid}", headers=w.headers["rev"]).json()
    assert sub["state"] == "submitted"
    assert sub["events"][-1]["reason"].startswith("approval refused:")
    # an admin may: the submission's record is merged into the stored accident
    r = w.cli("adm", "admin", "review", "approve", sid, "--merge-into", old, "--json")
    assert r.exit_code == 0, r.output
    (new,) = json.loads(r.stdout)["ids"]
    assert w.count("accidents") == 1 and _store_call(w, lambda s: s.redirect(new)) == old


def test_atomically_is_one_transaction_with_savepoints(store: Any) -> None:
    """Every write inside `Store.atomically` is one transaction: a refused write caught inside
    leaves the others (its savepoint is rolled back, not the transaction), and an error out of
    the body stores nothing."""
    from demine.errors import Conflict
    from demine.model.schema import Record
    from demine.services import records

    k = store.kind("hazards")
    props = {"hazard_type": "CHA", "status": "open", "name": "t"}
    geom = {"type": "Polygon", "coordinates": [FAR]}
    meta = {
        "attachment_id": "att-1",
        "owner_kind": "hazards",
        "owner_id": "x",
        "filename": "a.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": "0" * 64,
        "exif_lat": None,
        "exif_lon": None,
        "exif_time": None,
        "created_by": "t",
        "created_at": "2025-01-01T00:00:00Z",
    }

    def caught() -> str:
        a, _ = records.create(store, k, props, geom)
        store.add_attachment(meta, PDF, None)
        with pytest.raises(Conflict):  # the same id again: refused by the database
            store.add_attachment(meta, PDF, None)
        b, _ = records.create(store, k, {**props, "name": "u"}, geom)  # still writable
        return f"{a.id} {b.id}"

    a, b = store.atomically(caught).split()
    assert store.get("hazards", a) and store.get("hazards", b)
    assert store.attachment("att-1") is not None

    class Stop(Exception):
        pass

    def failing() -> None:
        store.upsert("hazards", [Record("hazards", "", dict(props), None)], actor="t")
        store.add_redirect(a, b, "hazards", actor="t", reason="x")
        raise Stop

    before = store.count("hazards")
    with pytest.raises(Stop):
        store.atomically(failing)
    assert store.count("hazards") == before and store.redirect(a) is None
