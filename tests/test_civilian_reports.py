"""Civilians report an explosive object (issue 15, docs/civilian-reports.md), on both backends.

No account: a solved proof-of-work, a report, a tracking code, a status that follows the
authority's decision, a photo whose EXIF and the reporter's contact never reach the public
(OGC items, tiles, the safety API, the status, the unverified layer); a challenge is good for
one report; wrong, expired or reused work is refused; the per-client limits and size caps
hold; a photo that fails leaves the report as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

import test_intake
from demine.api import create_app
from demine.errors import ValidationError
from demine.services import civilian, pow
from demine.services.civilian_text import OBJECT_TYPES, SAFETY, STATUSES, status_text
from test_intake import World, populate

BASE = "/api/v1/public/reports"
PLACE = {"lat": 50.4051, "lon": 30.5052}
CONTACT = "+380 67 123 45 67"
SECRET_TEXT = "near the well behind Petrenko's barn"


@pytest.fixture
def world(store: Any) -> Iterator[World]:
    location, headers = populate(store, test_intake.USERS)
    yield World(location, TestClient(create_app(location)), headers)


def solved(client: TestClient) -> dict[str, str]:
    r = client.get(f"{BASE}/challenge")
    assert r.status_code == 200, r.text
    ch = r.json()
    assert ch["difficulty"] == pow.DEFAULT_BITS and ch["expires_in"] == pow.TTL_S
    return {"challenge": ch["challenge"], "nonce": pow.solve(ch["challenge"], ch["difficulty"])}


def report_body(client: TestClient, **kw: Any) -> dict[str, Any]:
    seen = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body: dict[str, Any] = {
        **solved(client),
        **PLACE,
        "accuracy_m": 12.5,
        "place_text": "Kyiv, by the old well",
        "object_type": "shell",
        "seen_at": seen,
        "description": SECRET_TEXT,
        "contact": CONTACT,
        "contact_consent": True,
    }
    body.update(kw)
    return body


def photo_with_gps() -> bytes:
    """A JPEG whose EXIF holds a GPS position (where the reporter stood)."""
    from PIL import Image

    im = Image.new("RGB", (16, 16), (200, 10, 10))
    exif = Image.Exif()  # 50.4321 N, 30.4876 E: not the reported place
    exif[0x8825] = {1: "N", 2: (50.0, 25.0, 55.56), 3: "E", 4: (30.0, 29.0, 15.36)}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    return out.getvalue()


def post_report(w: World, **kw: Any) -> dict[str, Any]:
    r = w.client.post(BASE, json=report_body(w.client, **kw))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _public_text(w: World) -> str:
    """Everything the public can read about the place: OGC items, the safety API, tiles,
    the unverified layer."""
    c = w.client
    parts = [
        c.get("/ogc/collections/eo_reports/items", params={"limit": 1000}).text,
        c.get(
            "/api/v1/safety/point", params={**PLACE, "radius": 5000, "include": "eo_reports"}
        ).text,
        c.get(f"{BASE}/unverified", params={"bbox": "30.4,50.3,30.6,50.5"}).text,
    ]
    z, n = 14, 2**14
    x = int((PLACE["lon"] + 180.0) / 360.0 * n)
    lat = math.radians(PLACE["lat"])
    y = int((1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n)
    t = c.get(f"/tiles/eo_reports/{z}/{x}/{y}.mvt")
    if t.status_code == 200 and t.content:
        parts.append(json.dumps(mapbox_vector_tile.decode(t.content), default=str))
    return "\n".join(parts)


def _unverified(w: World) -> list[dict[str, Any]]:
    r = w.client.get(f"{BASE}/unverified", params={"bbox": "30.4,50.3,30.6,50.5"})
    assert r.status_code == 200, r.text
    return list(r.json()["features"])


# --- the whole way ------------------------------------------------------------------------------


def test_report_photo_code_status_review_and_nothing_private_leaks(world: World) -> None:
    w = world
    got = post_report(w)
    code = got["code"]
    assert civilian.normal_code(code) == code and len(code) == 11 and code[5] == "-"
    assert got["status_url"] == f"{BASE}/{code}" and got["status"] == "received"
    # the photo, with its upload token
    r = w.client.post(
        f"{BASE}/{code}/photo",
        content=photo_with_gps(),
        headers={"X-Upload-Token": got["upload_token"], "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 201, r.text
    # the status: received, in both languages, with the safety text; nothing private
    r = w.client.get(f"{BASE}/{code.lower().replace('-', ' ')}")  # as read out on the phone
    assert r.status_code == 200, r.text
    st = r.json()
    assert set(st) == {"code", "status", "updated_at", "text"}
    assert st["status"] == "received" and st["code"] == code
    assert st["text"]["en"].endswith(SAFETY["en"]) and st["text"]["uk"].endswith(SAFETY["uk"])
    # on the unverified layer: place, object type, day only
    (feat,) = _unverified(w)
    assert set(feat["properties"]) == {"status", "object_type", "reported_on"}
    assert feat["properties"]["object_type"] == "shell"
    public = _public_text(w)
    for secret in (CONTACT, SECRET_TEXT, "Kyiv, by the old well", "50.432", "30.487"):
        assert secret not in public, secret  # nor the EXIF position of the photo
    # the reviewer sees the submission with the contact and the photo's EXIF
    subs = w.client.get("/api/v1/submissions", headers=w.headers["rev"]).json()
    sid = next(s["id"] for s in subs["submissions"] if s["organisation"] == "PUBLIC")
    one = w.client.get(f"/api/v1/submissions/{sid}", headers=w.headers["rev"]).json()
    assert one["payload"]["properties"]["reporter_contact"] == CONTACT
    files = w.client.get(f"/api/v1/submissions/{sid}/attachments", headers=w.headers["rev"])
    (meta,) = files.json()["attachments"]
    assert meta["exif"]["lat"] == pytest.approx(50.4321, abs=1e-4)
    # approved: checked; the map shows it as verified, not unverified
    r = w.client.post(f"/api/v1/submissions/{sid}/approve", json={}, headers=w.headers["rev"])
    assert r.status_code == 200, r.text
    (rid,) = r.json()["ids"]
    st = w.client.get(f"{BASE}/{code}").json()
    assert st["status"] == "checked" and st["text"] == status_text("checked")
    assert _unverified(w) == []
    items = w.client.get("/ogc/collections/eo_reports/items").json()["features"]
    (item,) = [f for f in items if f["id"] == rid]
    assert "reporter_contact" not in item["properties"]
    assert "Civilian report: artillery or mortar shell" in item["properties"]["description"]
    public = _public_text(w)
    for secret in (CONTACT, SECRET_TEXT, "Kyiv, by the old well", "50.432", "30.487"):
        assert secret not in public, secret
    # the public copy of the photo has no EXIF; the original is not served to the public
    lst = w.client.get(f"/api/v1/records/eo_reports/{rid}/attachments").json()["attachments"]
    (pub,) = lst
    assert "exif" not in pub and "filename" not in pub
    data = w.client.get(f"/api/v1/records/eo_reports/{rid}/attachments/{pub['attachment_id']}")
    assert data.status_code == 200 and b"Exif" not in data.content and b"GPS" not in data.content
    # linked to an open hazard: team sent; the hazard closed: cleared
    s = w.store()
    try:
        from shapely.geometry import MultiPolygon, box

        from demine.model.schema import Record

        hz = Record(
            "hazards",
            "",
            {"hazard_type": "CHA", "status": "open", "name": "by the well"},
            MultiPolygon([box(30.50, 50.40, 30.51, 50.41)]),
        )
        from demine.ids import uuid7

        hz.id = uuid7()
        s.upsert("hazards", [hz], actor="t")
        rec = s.get("eo_reports", rid)
        rec.properties = {**rec.properties, "hazard_id": hz.id, "status": "linked"}
        s.upsert("eo_reports", [rec], actor="t")
        assert civilian.status(s, code)["status"] == "team_sent"
        hz = s.get("hazards", hz.id)
        hz.properties = {**hz.properties, "status": "closed", "closed_on": "2026-01-10"}
        s.upsert("hazards", [hz], actor="t")
        assert civilian.status(s, code)["status"] == "cleared"
    finally:
        s.close()


def test_rejected_report_is_closed_without_the_reason(world: World) -> None:
    w = world
    code = post_report(w, contact=None, contact_consent=False)["code"]
    s = w.store()
    try:
        sid = civilian.submission_id(s, code)
    finally:
        s.close()
    reason = "Reviewer Ivanenko: a rusty bucket"
    r = w.client.post(
        f"/api/v1/submissions/{sid}/reject", json={"reason": reason}, headers=w.headers["rev"]
    )
    assert r.status_code == 200, r.text
    r = w.client.get(f"{BASE}/{code}")
    assert r.json()["status"] == "closed"
    assert "Ivanenko" not in r.text and "rev" not in r.json()["text"]["en"]
    assert _unverified(w) == []


def test_statuses_and_objects_are_said_in_both_languages() -> None:
    for state in STATUSES:
        t = status_text(state)
        assert t["en"].endswith(SAFETY["en"]) and t["uk"].endswith(SAFETY["uk"])
        assert "101" in t["en"] and "101" in t["uk"]
    for words in (*OBJECT_TYPES.values(), SAFETY, *(status_text(s) for s in STATUSES)):
        for text in words.values():  # never an instruction to touch or move it
            low = text.lower()
            assert "pick up" not in low and "move it" not in low and "візьміть" not in low


# --- the proof of work --------------------------------------------------------------------------


def test_proof_of_work_wrong_expired_forged_and_reused_are_refused(world: World) -> None:
    w = world
    body = report_body(w.client)
    bad = {**body, "nonce": "zz-not-it"}
    while (
        pow.leading_zero_bits(
            hashlib.sha256(f"{bad['challenge']}:{bad['nonce']}".encode()).digest()
        )
        >= pow.DEFAULT_BITS
    ):
        bad["nonce"] += "x"
    r = w.client.post(BASE, json=bad)
    assert r.status_code == 422 and "does not solve" in r.text, r.text
    # forged: the same shape, another signature
    forged = body["challenge"][:-1] + ("0" if body["challenge"][-1] != "0" else "1")
    r = w.client.post(BASE, json={**body, "challenge": forged})
    assert r.status_code == 422 and "not signed by this server" in r.text, r.text
    r = w.client.post(BASE, json={**body, "challenge": "x" * 40})
    assert r.status_code == 422 and "not a challenge" in r.text
    # expired: made by the store's own secret, 11 minutes ago
    s = w.store()
    try:
        old = pow.challenge(s, now=time.time() - pow.TTL_S - 60)["challenge"]
    finally:
        s.close()
    r = w.client.post(
        BASE, json={**body, "challenge": old, "nonce": pow.solve(old, pow.DEFAULT_BITS)}
    )
    assert r.status_code == 422 and "expired" in r.text, r.text
    fresh = TestClient(create_app(w.location))  # each refusal above counted against the limit
    assert fresh.post(BASE, json=body).status_code == 201
    r = fresh.post(BASE, json=body)  # the same challenge again: one report only
    assert r.status_code == 409 and "already used" in r.text, r.text
    assert w.count("eo_reports") == 0
    s = w.store()
    try:
        assert len(s.submissions(organisation="PUBLIC")) == 1
    finally:
        s.close()


def test_bad_fields_are_named_and_nothing_is_stored(world: World) -> None:
    w = world
    body = report_body(
        w.client,
        lat=95,
        object_type="landmine-ish",
        seen_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
        description="x" * 2001,
        contact_consent=False,
        colour="red",
    )
    r = w.client.post(BASE, json=body)
    assert r.status_code == 422, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"lat", "object_type", "seen_at", "description", "contact_consent", "colour"}
    assert "consent" in r.text
    s = w.store()
    try:
        assert s.submissions(organisation="PUBLIC") == []
    finally:
        s.close()


# --- the photo ----------------------------------------------------------------------------------


def test_photo_needs_its_token_and_a_bad_one_leaves_the_report_as_it_was(world: World) -> None:
    w = world
    got = post_report(w)
    code, token = got["code"], got["upload_token"]
    url = f"{BASE}/{code}/photo"
    r = w.client.post(url, content=photo_with_gps(), headers={"X-Upload-Token": "nope"})
    assert r.status_code == 404 and r.json()["detail"].startswith("no report with this code")
    r = w.client.post(url, content=b"%PDF-1.4 not a photo", headers={"X-Upload-Token": token})
    assert r.status_code == 422 and "JPEG or PNG" in r.text
    r = w.client.post(url, content=b"\xff\xd8\xff broken", headers={"X-Upload-Token": token})
    assert r.status_code == 422, r.text
    big = b"\xff\xd8\xff" + b"0" * (10 * 2**20)
    r = w.client.post(url, content=big, headers={"X-Upload-Token": token})
    assert r.status_code == 413 and r.json()["limit"] == "max_body_bytes"
    s = w.store()
    try:
        sid = civilian.submission_id(s, code)
        assert s.attachments("submission", sid) == []
        assert s.submissions(sid=sid)[0]["state"] == "submitted"
    finally:
        s.close()
    assert w.client.get(f"{BASE}/{code}").json()["status"] == "received"
    r = w.client.post(url, content=photo_with_gps(), headers={"X-Upload-Token": token})
    assert r.status_code == 201, r.text
    r = w.client.post(url, content=photo_with_gps(), headers={"X-Upload-Token": token})
    assert r.status_code == 409 and "already has its photo" in r.text


# --- codes and oracles --------------------------------------------------------------------------


def test_unknown_codes_are_404_with_one_wording_and_the_same_time(world: World) -> None:
    w = world
    code = post_report(w)["code"]
    other = civilian.new_code()
    answers = {}
    for c in (other, "not-a-code", "00000-00000"):
        t = time.monotonic()
        r = w.client.get(f"{BASE}/{c}")
        answers[c] = (r.status_code, r.json()["detail"], time.monotonic() - t)
    t = time.monotonic()
    assert w.client.get(f"{BASE}/{code}").status_code == 200
    known = time.monotonic() - t
    assert {(s, d) for s, d, _ in answers.values()} == {
        (404, "no report with this code: check the code as it was given to you")
    }
    for _, _, took in answers.values():  # every answer waits for the same floor
        assert took >= 0.15 and known >= 0.15


def test_codes_are_read_as_people_say_them() -> None:
    assert civilian.normal_code("abcde fghjk") == "ABCDE-FGHJK"
    assert civilian.normal_code("O1234-I5L67") == "01234-15167"
    assert civilian.normal_code("ABCDE-FGHJU") is None  # U is not Crockford
    assert civilian.normal_code("ABCD") is None
    codes = {civilian.new_code() for _ in range(200)}
    assert len(codes) == 200 and all(civilian.normal_code(c) == c for c in codes)


# --- limits -------------------------------------------------------------------------------------


def test_per_client_limits_and_the_box_and_body_caps(world: World) -> None:
    w = world
    for _ in range(5):
        post_report(w, contact=None, contact_consent=False)
    r = w.client.post(BASE, json=report_body(w.client))
    assert r.status_code == 429 and r.json()["limit"] == "public_report_report_limit"
    assert int(r.headers["Retry-After"]) > 0
    r = w.client.get(f"{BASE}/unverified", params={"bbox": "29,49,32,52"})
    assert r.status_code == 400 and r.json()["limit"] == "max_box_degrees"
    r = w.client.get(f"{BASE}/unverified", params={"bbox": "30,50,nope,51"})
    assert r.status_code == 400 and "bbox" in r.text
    fresh = TestClient(create_app(w.location))
    r = fresh.post(BASE, content=b"{" + b" " * (17 * 1024) + b"}")
    assert r.status_code == 413 and r.json()["limit"] == "max_body_bytes"
    for _ in range(20):
        assert fresh.get(f"{BASE}/challenge").status_code == 200
    assert fresh.get(f"{BASE}/challenge").status_code == 429


def test_unverified_layer_caps_its_features(world: World) -> None:
    from demine.api import civilian as api

    w = world
    box = {"bbox": "30.0,50.0,30.2,50.2"}
    assert w.client.get(f"{BASE}/unverified", params=box).json()["numberReturned"] == 0
    s = w.store()
    try:
        s.set_setting(pow.BITS_SETTING, 0)
        pending = civilian.PendingReports()
        assert pending.points(s) == []
        for i in range(4):
            body = {
                "challenge": pow.challenge(s)["challenge"],
                "nonce": "0",
                "lat": 50.1 + i / 100,
                "lon": 30.1,
                "object_type": "mine",
                "seen_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            civilian.submit(s, body)
        got = civilian.unverified(s, (30.0, 50.0, 30.2, 50.2), 3)
        assert got["numberReturned"] == 3 and got["truncated"] is True
        # a process's snapshot: read again after the reports (sent by another process), then
        # kept while nothing changes
        first = pending.points(s)
        assert len(first) == 4 and pending.points(s) is first
        assert civilian.unverified(s, (30.0, 50.0, 30.2, 50.2), 9, pending)["numberReturned"] == 4
    finally:
        s.close()
    # the server's snapshot, taken before these reports, is read again: they all show
    r = w.client.get(f"{BASE}/unverified", params=box)
    assert r.json()["numberReturned"] == 4 and api.MAX_FEATURES == 1000


def test_status_page_is_served_csp_clean(world: World) -> None:
    for url in ("/report", "/report/ABCDE-FGHJK"):
        r = world.client.get(url)
        assert r.status_code == 200 and "<script>" not in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert SAFETY["en"] in r.text and SAFETY["uk"] in r.text


def test_status_of_a_report_approved_as_an_update_and_then_dismissed(world: World) -> None:
    """Reconciled with the report already stored (the same object reported again): checked;
    that record dismissed: closed."""
    w = world
    first, second = (post_report(w, contact=None, contact_consent=False)["code"] for _ in "ab")
    s = w.store()
    try:
        sid1, sid2 = (civilian.submission_id(s, c) for c in (first, second))
    finally:
        s.close()
    rev = w.headers["rev"]
    r = w.client.post(f"/api/v1/submissions/{sid1}/approve", json={}, headers=rev)
    (rid,) = r.json()["ids"]
    r = w.client.post(f"/api/v1/submissions/{sid2}/approve", json={"update": rid}, headers=rev)
    assert r.status_code == 200, r.text
    assert w.client.get(f"{BASE}/{second}").json()["status"] == "checked"
    s = w.store()
    try:
        rec = s.get("eo_reports", rid)
        rec.properties = {**rec.properties, "status": "dismissed"}
        s.upsert("eo_reports", [rec], actor="t")
    finally:
        s.close()
    for code in (first, second):
        assert w.client.get(f"{BASE}/{code}").json()["status"] == "closed"


def test_an_authority_sets_its_own_limits(world: World) -> None:
    """``create_app(public_report_limits=...)`` / ``serve --report-limit NAME=N/SECONDS``."""
    from typer.testing import CliRunner

    from demine.api.civilian import parse_limits
    from demine.cli.app import app as cli

    w = world
    strict = TestClient(create_app(w.location, public_report_limits=parse_limits(["report=2/600"])))
    for _ in range(2):
        assert strict.post(BASE, json=report_body(strict)).status_code == 201
    r = strict.post(BASE, json=report_body(strict))
    assert r.status_code == 429 and "--report-limit report=N/SECONDS" in r.json()["detail"]
    # the others keep their defaults: 20 challenges, of which the 3 reports took 3
    got = [strict.get(f"{BASE}/challenge").status_code for _ in range(20)]
    assert got == [200] * 17 + [429] * 3
    assert parse_limits(["status=100/60", "photo=1/3600"]) == {
        "status": (100, 60.0),
        "photo": (1, 3600.0),
    }
    for bad in ["nope=1/60", "report=0/60", "report=5", "report=x/60", "report=5/0", "report"]:
        with pytest.raises(ValidationError) as e:
            parse_limits([bad])
        (fault,) = e.value.faults
        assert fault.field == "--report-limit" and repr(bad) in fault.reason
    got = CliRunner().invoke(cli, ["--db", w.location, "serve", "--report-limit", "report=five/60"])
    assert got.exit_code != 0
    assert "--report-limit" in got.output and "'report=five/60'" in got.output
