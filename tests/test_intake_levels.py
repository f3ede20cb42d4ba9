"""Two-level approval, drafts and quality at submit (issue 13, docs/intake.md), on both backends
(the `world` fixture of tests/test_intake.py), through the commands and HTTP.

With ``approval_levels`` 2 an operator's submission is approved first by an operator user of
the SAME organisation (approved_operator), then by a reviewer (approved, written); a reviewer
cannot skip the operator's QA, another organisation's operator never sees it, the authority's
own submissions skip it. A draft (``--draft``, ``Prefer: draft``) is its organisation's only
until it is submitted. Every submission keeps the quality of what it proposes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import test_intake
from demine.services.quality import assess
from test_intake import World

world = test_intake.world  # the fixture: a store with HALO, MAG and their users

EO = {
    "type": "Feature",
    "properties": {"reported_at": "2025-01-01T00:00:00Z", "status": "new", "public": True},
    "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
}
ITEMS = "/ogc/collections/eo_reports/items"


def _post(w: World, user: str, body: dict[str, Any] = EO, **headers: str) -> Any:
    return w.client.post(ITEMS, json=body, headers={**w.headers[user], **headers})


def _sub(w: World, sid: str) -> dict[str, Any]:
    s = w.store()
    try:
        return dict(s.submissions(sid=sid)[0])
    finally:
        s.close()


def _act(w: World, user: str, sid: str, action: str, reason: str | None = "ok") -> Any:
    body = {"reason": reason} if reason else {}
    return w.client.post(f"/api/v1/submissions/{sid}/{action}", json=body, headers=w.headers[user])


# --- the setting ---------------------------------------------------------------------------


def test_the_approval_levels_setting(world: World) -> None:
    r = world.cli("adm", "admin", "review", "levels", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"approval_levels": 1}, r.output
    r = world.cli("rev", "reviewer", "review", "levels", "2")
    assert r.exit_code == 5, r.output  # admins only
    r = world.cli("adm", "admin", "review", "levels", "3")
    assert r.exit_code == 1 and "LEVELS" in r.output
    r = world.cli("adm", "admin", "review", "levels", "2", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"approval_levels": 2}
    r = world.cli("rev", "reviewer", "review", "levels")
    assert r.exit_code == 0 and "approval levels: 2" in r.output
    s = world.store()
    try:
        assert s.setting("approval_levels") == 2
    finally:
        s.close()


# --- two levels -----------------------------------------------------------------------------


def test_two_levels_over_http(world: World) -> None:
    assert world.cli("adm", "admin", "review", "levels", "2").exit_code == 0
    sid = _post(world, "f_halo").json()["id"]
    # the reviewer cannot skip the operator's QA
    r = _act(world, "rev", sid, "approve")
    assert r.status_code == 409 and "operator's QA" in r.json()["detail"], r.text
    assert "HALO" in r.json()["detail"]
    # another organisation's operator: not told it exists; the field team: no right
    assert _act(world, "o_mag", sid, "approve").status_code == 404
    assert _act(world, "o_mag", sid, "return").status_code == 404
    assert _act(world, "f_halo", sid, "approve").status_code == 403
    assert _act(world, "ana", sid, "approve").status_code == 403
    # the operator of HALO approves: nothing is written yet
    r = _act(world, "o_halo", sid, "approve", "checked in the field")
    assert r.status_code == 200 and r.json() == {
        "id": sid,
        "state": "approved_operator",
        "ids": [],
    }, r.text
    assert world.count("eo_reports") == 0
    assert _act(world, "o_halo", sid, "approve").status_code == 409  # passed on already
    assert _act(world, "o_halo", sid, "return").status_code == 409
    # operators do not reconcile: that is the reviewer's
    sid2 = _post(world, "f_halo").json()["id"]
    r = world.client.post(
        f"/api/v1/submissions/{sid2}/approve",
        json={"update": sid},
        headers=world.headers["o_halo"],
    )
    assert r.status_code == 422 and _sub(world, sid2)["state"] == "submitted"
    # the reviewer approves: written, the submitter as author
    r = _act(world, "rev", sid, "approve")
    assert r.status_code == 200 and len(r.json()["ids"]) == 1, r.text
    assert world.count("eo_reports") == 1
    ev = world.client.get(f"/api/v1/submissions/{sid}", headers=world.headers["f_halo"]).json()
    assert [(e["state"], e["actor"]) for e in ev["events"]] == [
        ("submitted", "f_halo"),
        ("approved_operator", "o_halo"),
        ("approved", "rev"),
    ]
    assert ev["events"][1]["reason"] == "approved by the operator's QA: checked in the field"
    assert ev["events"][1]["at"] <= ev["events"][2]["at"]
    s = world.store()
    try:
        (rev,) = s.history(r.json()["ids"][0])
    finally:
        s.close()
    assert rev.actor == "f_halo" and "approved by rev" in str(rev.reason)


def test_two_levels_through_the_commands(world: World, tmp_path: Path) -> None:
    assert world.cli("adm", "admin", "review", "levels", "2").exit_code == 0
    f = tmp_path / "eo.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [EO]}))

    def submit(user: str, role: str) -> str:
        r = world.cli(user, role, "submit", str(f), "--kind", "eo_reports", "--json")
        assert r.exit_code == 0, r.output
        return str(json.loads(r.stdout)["submission"]["id"])

    a, b = submit("f_halo", "field"), submit("f_halo", "field")
    r = world.cli("rev", "reviewer", "review", "approve", a)
    assert r.exit_code == 4 and "operator's QA" in r.output
    r = world.cli("o_mag", "operator", "review", "approve", a)
    assert r.exit_code == 3, r.output
    r = world.cli("f_halo", "field", "review", "approve", a)
    assert r.exit_code == 5, r.output
    # the operator returns one to its own field team, passes the other on
    r = world.cli("o_halo", "operator", "review", "return", b, "--reason", "add a description")
    assert r.exit_code == 0 and _sub(world, b)["state"] == "returned", r.output
    r = world.cli("o_halo", "operator", "review", "approve", a, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["state"] == "approved_operator"
    # the reviewer may reject (or return) at the second level too
    r = world.cli("rev", "reviewer", "review", "reject", a, "--reason", "already recorded")
    assert r.exit_code == 0 and _sub(world, a)["state"] == "rejected"
    # an operator rejects its own organisation's submitted one; not a passed-on one
    c = submit("o_halo", "operator")
    r = world.cli("o_halo", "operator", "review", "reject", c, "--reason", "test data")
    assert r.exit_code == 0 and _sub(world, c)["state"] == "rejected", r.output
    # the authority's own field team skips the operator's QA
    r = world.cli(None, "admin", "user", "add", "f_auth", "--role", "field")
    assert r.exit_code == 0, r.output
    d = submit("f_auth", "field")
    assert _sub(world, d)["organisation"] == "AUTHORITY"
    r = world.cli(None, "admin", "user", "add", "o_auth", "--role", "operator")
    assert r.exit_code == 0, r.output
    r = world.cli("o_auth", "operator", "review", "approve", d)
    assert r.exit_code == 5 and "skips the operator's QA" in r.output, r.output
    r = world.cli("rev", "reviewer", "review", "approve", d, "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["ids"]) == 1, r.output
    # back to one level: a reviewer approves a submitted one; an operator decides nothing
    e = submit("f_halo", "field")
    assert world.cli("adm", "admin", "review", "levels", "1").exit_code == 0
    assert world.cli("o_halo", "operator", "review", "approve", e).exit_code == 5
    r = world.cli("rev", "reviewer", "review", "approve", e)
    assert r.exit_code == 0, r.output
    assert world.count("eo_reports") == 2


# --- drafts ---------------------------------------------------------------------------------


def test_a_draft_over_http_is_its_organisations_until_submitted(world: World) -> None:
    r = _post(world, "f_halo", Prefer="draft")
    assert r.status_code == 202 and r.json()["state"] == "draft", r.text
    assert r.headers["preference-applied"] == "draft"
    sid = r.json()["id"]
    # reviewers do not see it: not listed, not found, not decided
    listed = world.client.get("/api/v1/submissions", headers=world.headers["rev"]).json()
    assert sid not in {s["id"] for s in listed["submissions"]}
    assert (
        world.client.get(f"/api/v1/submissions/{sid}", headers=world.headers["rev"]).status_code
        == 404
    )
    for action in ("approve", "reject", "return"):
        assert _act(world, "rev", sid, action).status_code == 404, action
    # its organisation does; another does not
    own = world.client.get("/api/v1/submissions", headers=world.headers["o_halo"]).json()
    assert [s["id"] for s in own["submissions"]] == [sid]
    assert (
        world.client.get(f"/api/v1/submissions/{sid}", headers=world.headers["o_mag"]).status_code
        == 404
    )
    # submitted by its organisation only
    assert _act(world, "o_mag", sid, "submit", None).status_code == 404
    assert _act(world, "rev", sid, "submit", None).status_code == 404
    assert _act(world, "ana", sid, "submit", None).status_code == 403
    r = _act(world, "o_halo", sid, "submit", "ready")
    assert r.status_code == 200 and r.json()["state"] == "submitted", r.text
    assert [e["state"] for e in r.json()["events"]] == ["draft", "submitted"]
    assert _act(world, "o_halo", sid, "submit", None).status_code == 409  # not a draft now
    listed = world.client.get("/api/v1/submissions", headers=world.headers["rev"]).json()
    assert sid in {s["id"] for s in listed["submissions"]}
    # any write may be a draft: a change of a stored record
    rid = _post(world, "adm", Prefer="draft").json()["id"]  # not a submission: written
    assert world.count("eo_reports") == 1
    r = world.client.patch(
        f"{ITEMS}/{rid}",
        json={"properties": {"status": "verified"}},
        headers={
            **world.headers["f_halo"],
            "content-type": "application/merge-patch+json",
            "prefer": "respond-async, draft",
        },
    )
    assert r.status_code == 202 and r.json()["state"] == "draft", r.text
    assert r.json()["action"] == "update" and r.json()["target_id"] == rid
    r = world.client.delete(
        f"{ITEMS}/{rid}", headers={**world.headers["f_halo"], "Prefer": "draft"}
    )
    assert r.status_code == 202 and r.json()["state"] == "draft"
    assert _post(world, "f_halo").json()["state"] == "submitted"  # no Prefer: submitted


def _batch(*, bad: bool = False) -> dict[str, Any]:
    feats = []
    for i, desc in enumerate(("a crater", None)):
        props: dict[str, Any] = {"reported_at": "2025-01-01T00:00:00Z", "status": "new"}
        if desc:
            props["description"] = desc
        if bad and i == 1:
            props["status"] = "nonsense"
        geom = {"type": "Point", "coordinates": [30.50 + i * 0.001, 50.405]}
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    return {"type": "FeatureCollection", "features": feats}


def test_a_draft_batch_through_the_commands(world: World, tmp_path: Path) -> None:
    f = tmp_path / "eo.geojson"
    f.write_text(json.dumps(_batch(bad=True)))
    args = ["submit", str(f), "--kind", "eo_reports", "--draft", "--json"]
    r = world.cli("f_halo", "field", *args)
    assert r.exit_code == 1 and "draft" in json.loads(r.stdout)["error"]["detail"], r.output
    s = world.store()
    try:
        (sub,) = s.submissions(organisation="HALO")
    finally:
        s.close()
    sid = sub["id"]
    assert sub["state"] == "draft" and [x["index"] for x in sub["faults"]] == [1]
    r = world.cli("rev", "reviewer", "review", "list", "--json")
    assert json.loads(r.stdout)["submissions"] == []
    r = world.cli("rev", "reviewer", "review", "show", sid)
    assert r.exit_code == 3
    # a draft with faults is not sent: every fault listed
    r = world.cli("f_halo", "field", "review", "submit", sid, "--json")
    assert r.exit_code == 1 and "status" in r.output, r.output
    # corrected, still a draft; then sent by its organisation only
    f.write_text(json.dumps(_batch()))
    r = world.cli("f_halo", "field", *args, "--resubmit", sid)
    assert r.exit_code == 0 and json.loads(r.stdout)["submission"]["state"] == "draft", r.output
    assert world.cli("o_mag", "operator", "review", "submit", sid).exit_code == 3
    assert world.cli("ana", "analyst", "review", "submit", sid).exit_code == 5
    r = world.cli("o_halo", "operator", "review", "submit", sid, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["state"] == "submitted" and out["quality"]["mean_score"] == 95.0
    r = world.cli("o_halo", "operator", "review", "submit", sid)
    assert r.exit_code == 4  # not a draft any more
    r = world.cli("rev", "reviewer", "review", "approve", sid, "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["ids"]) == 2, r.output
    shown = json.loads(world.cli("rev", "reviewer", "review", "show", sid, "--json").stdout)
    assert [e["state"] for e in shown["events"]] == ["draft", "draft", "submitted", "approved"]


# --- quality at submit and resubmit ---------------------------------------------------------


def test_the_quality_of_a_submission(world: World, tmp_path: Path) -> None:
    """A single write keeps assess(...).to_dict(); a batch each feature's score and missing
    minimum data and their mean; a resubmission is assessed again; shown and listed."""
    sid = _post(world, "f_halo").json()["id"]
    s = world.store()
    try:
        expected = assess(s, "eo_reports", dict(EO["properties"]), EO["geometry"]).to_dict()
    finally:
        s.close()
    assert _sub(world, sid)["quality"] == expected
    assert expected["score"] == 90 and expected["missing"] == ["description"]
    r = world.client.get(f"/api/v1/submissions/{sid}", headers=world.headers["rev"])
    assert r.json()["quality"] == expected
    # an update: the stored record with the changes
    rid = _post(world, "adm").json()["id"]
    r = world.client.patch(
        f"{ITEMS}/{rid}",
        json={"properties": {"description": "a crater"}},
        headers={**world.headers["f_halo"], "content-type": "application/merge-patch+json"},
    )
    q = _sub(world, r.json()["id"])["quality"]
    assert q["score"] == 100 and q["missing"] == []
    # a delete proposes nothing to assess
    r = world.client.delete(f"{ITEMS}/{rid}", headers=world.headers["f_halo"])
    assert _sub(world, r.json()["id"])["quality"] is None
    # a batch returned with a fault, then corrected: assessed again
    f = tmp_path / "eo.geojson"
    f.write_text(json.dumps(_batch(bad=True)))
    r = world.cli("o_halo", "operator", "submit", str(f), "--kind", "eo_reports", "--json")
    bid = json.loads(r.stdout)["error"]["detail"].split()[1]
    assert _sub(world, bid)["quality"] == {
        "kind": "eo_reports",
        "features": [{"index": 0, "score": 100, "missing": []}],  # the good one only
        "mean_score": 100.0,
    }
    f.write_text(json.dumps(_batch()))
    r = world.cli("o_halo", "operator", "submit", str(f), "--kind", "eo_reports", "--resubmit", bid)
    assert r.exit_code == 0, r.output
    assert _sub(world, bid)["quality"] == {
        "kind": "eo_reports",
        "features": [
            {"index": 0, "score": 100, "missing": []},
            {"index": 1, "score": 90, "missing": ["description"]},
        ],
        "mean_score": 95.0,
    }
    r = world.cli("rev", "reviewer", "review", "show", bid)
    assert "feature 1: quality 90, missing minimum data: description" in r.output, r.output
    assert "mean quality 95" in r.output
    r = world.cli("rev", "reviewer", "review", "list")
    line = next(x for x in r.output.splitlines() if x.startswith(bid))
    assert line.split()[-2:] == ["quality", "95"], line
    line = next(x for x in r.output.splitlines() if x.startswith(sid))
    assert line.split()[-2:] == ["quality", "90"], line
