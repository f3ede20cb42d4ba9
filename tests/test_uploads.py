"""Chunked, resumable uploads of the field app (issue 14, docs/field.md "Sync"), on both
backends: an interrupted upload resumes from what the server says it has and sends no byte
twice; a chunk sent again stores nothing; a wrong SHA-256 is refused naming it; a finished
upload named by an outbox item becomes an attachment of its submission (the attachment checks
apply, and an item whose photo fails stores nothing); another user's upload is 404; limits.
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from typing import Any

from PIL import Image

import test_intake
from demine.services import uploads
from test_attachments import jpeg_with_exif
from test_intake import World

world = test_intake.world  # the fixture: a store with HALO, MAG and their users
UPLOADS = "/api/v1/uploads"
CHUNK = 16 * 1024


def noisy_jpeg() -> bytes:
    """A photo of a few hundred kilobytes: several chunks."""
    rnd = random.Random(7)
    im = Image.frombytes("RGB", (400, 300), bytes(rnd.randrange(256) for _ in range(400 * 300 * 3)))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95)
    return out.getvalue()


def begin(w: World, user: str, data: bytes, **kw: Any) -> Any:
    body = {
        "filename": "perimeter.jpg",
        "content_type": "image/jpeg",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **kw,
    }
    return w.client.post(UPLOADS, json=body, headers=w.headers[user])


def put(w: World, user: str, uid: str, data: bytes, a: int, b: int, total: int) -> Any:
    headers = {**w.headers[user], "Content-Range": f"bytes {a}-{b}/{total}"}
    return w.client.put(f"{UPLOADS}/{uid}", content=data[a : b + 1], headers=headers)


def received(w: World, user: str, uid: str) -> int:
    r = w.client.get(f"{UPLOADS}/{uid}", headers=w.headers[user])
    assert r.status_code == 200, r.text
    return int(r.json()["received"])


def upload_all(w: World, user: str, data: bytes) -> str:
    uid = begin(w, user, data).json()["upload_id"]
    for a in range(0, len(data), CHUNK):
        b = min(a + CHUNK, len(data)) - 1
        assert put(w, user, uid, data, a, b, len(data)).status_code == 200
    return str(uid)


def item(photos: list[str]) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "kind": "eo_reports",
        "action": "create",
        "properties": {"reported_at": "2026-05-01T09:30:00Z", "status": "new"},
        "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
        "photos": photos,
    }


def outbox(w: World, user: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = w.client.post(
        "/api/v1/sync/outbox", json={"device": "d1", "items": items}, headers=w.headers[user]
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_an_interrupted_upload_resumes_and_sends_no_byte_twice(world: World) -> None:
    data = noisy_jpeg()
    assert len(data) > 4 * CHUNK
    r = begin(world, "f_halo", data)
    assert r.status_code == 201, r.text
    uid = r.json()["upload_id"]
    assert r.json()["received"] == 0 and r.json()["complete"] is False
    sent = 0
    half = (len(data) // 2 // CHUNK) * CHUNK
    for a in range(0, half, CHUNK):  # then the connection drops
        assert put(world, "f_halo", uid, data, a, a + CHUNK - 1, len(data)).status_code == 200
        sent += CHUNK
    # the last chunk's answer was lost: the device sends it again; nothing new is stored
    r = put(world, "f_halo", uid, data, half - CHUNK, half - 1, len(data))
    assert r.status_code == 200 and r.json()["received"] == half
    # back online: ask what came, send the rest only
    got = received(world, "f_halo", uid)
    assert got == half
    resent = 0
    for a in range(got, len(data), CHUNK):
        b = min(a + CHUNK, len(data)) - 1
        r = put(world, "f_halo", uid, data, a, b, len(data))
        assert r.status_code == 200, r.text
        resent += b - a + 1
    assert sent + resent == len(data)  # not a byte twice (but the one repeated chunk)
    assert r.json()["complete"] is True
    s = world.store()
    try:
        assert s.upload_data(uid) == data  # exactly the file: the repeated chunk not kept
    finally:
        s.close()
    # an item names it: it becomes its submission's attachment
    (a,) = outbox(world, "f_halo", [item([uid])])
    assert a["status"] == "stored", a
    r = world.client.get(  # the reviewer reads the original
        f"/api/v1/submissions/{a['submission_id']}/attachments", headers=world.headers["rev"]
    )
    (att,) = r.json()["attachments"]
    assert att["sha256"] == hashlib.sha256(data).hexdigest() and att["size"] == len(data)
    status = world.client.get(f"{UPLOADS}/{uid}", headers=world.headers["f_halo"]).json()
    assert status["attachment_id"] == att["attachment_id"]
    # a chunk sent again after that stores nothing; the item sent again is 'already'
    assert put(world, "f_halo", uid, data, 0, CHUNK - 1, len(data)).status_code == 200
    assert (
        outbox(world, "f_halo", [{**item([uid]), "client_id": a["client_id"]}])[0]["status"]
        == "already"
    )
    # approved, the photo goes to the EO report
    r = world.client.post(
        f"/api/v1/submissions/{a['submission_id']}/approve", json={}, headers=world.headers["rev"]
    )
    assert r.status_code == 200, r.text
    (fid,) = r.json()["ids"]
    r = world.client.get(
        f"/api/v1/records/eo_reports/{fid}/attachments", headers=world.headers["rev"]
    )
    assert [x["attachment_id"] for x in r.json()["attachments"]] == [att["attachment_id"]]


def test_a_wrong_sha256_is_refused_naming_it(world: World) -> None:
    data = jpeg_with_exif()
    r = begin(world, "f_halo", data, sha256="0" * 64)
    uid = r.json()["upload_id"]
    r = put(world, "f_halo", uid, data, 0, len(data) - 1, len(data))
    assert r.status_code == 422, r.text
    (fault,) = r.json()["errors"]
    assert fault["field"] == "sha256" and hashlib.sha256(data).hexdigest() in fault["reason"]
    assert received(world, "f_halo", uid) == 0  # dropped: send again
    (a,) = outbox(world, "f_halo", [item([uid])])
    assert a["status"] == "invalid" and a["faults"][0]["field"] == "items[0].photos[0]"


def test_an_item_whose_photo_fails_stores_nothing(world: World) -> None:
    """A finished upload that is not an image (the attachment checks) or not finished: the
    item is invalid, naming the photo, and no submission is kept; the other item is stored."""
    text = b"not a photo at all" * 10
    bad = begin(world, "f_halo", text, filename="x.jpg").json()["upload_id"]
    assert put(world, "f_halo", bad, text, 0, len(text) - 1, len(text)).status_code == 200
    data = jpeg_with_exif()
    half = begin(world, "f_halo", data).json()["upload_id"]
    assert put(world, "f_halo", half, data, 0, 99, len(data)).status_code == 200
    good = upload_all(world, "f_halo", data)
    got = outbox(world, "f_halo", [item([bad]), item([half]), item([good])])
    assert [g["status"] for g in got] == ["invalid", "invalid", "stored"]
    assert "x.jpg" in got[0]["faults"][0]["reason"]
    assert got[0]["faults"][0]["field"] == "items[0].photos[0]"
    assert "100 of" in got[1]["faults"][0]["reason"]
    s = world.store()
    try:
        assert len(s.submissions()) == 1
        assert s.upload(bad)["attachment_id"] is None  # still an upload, not attached
    finally:
        s.close()
    # an upload already attached cannot be named by another item
    (again,) = outbox(world, "f_halo", [item([good])])
    assert again["status"] == "invalid" and "already attachment" in again["faults"][0]["reason"]


def test_another_users_upload_is_not_found(world: World) -> None:
    data = jpeg_with_exif()
    uid = upload_all(world, "f_halo", data)
    for user in ("o_halo", "f_mag"):  # another user of the same organisation, and of another
        assert world.client.get(f"{UPLOADS}/{uid}", headers=world.headers[user]).status_code == 404
        r = put(world, user, uid, data, 0, 9, len(data))
        assert r.status_code == 404, r.text
        (a,) = outbox(world, user, [item([uid])])
        assert a["status"] == "invalid" and "no upload" in a["faults"][0]["reason"]
    assert (
        world.client.get(f"{UPLOADS}/{uuid.uuid4()}", headers=world.headers["f_halo"]).status_code
        == 404
    )
    assert world.client.get(f"{UPLOADS}/{uid}").status_code == 401
    r = world.client.post(UPLOADS, json={}, headers=world.headers["ana"])
    assert r.status_code == 403


def test_upload_limits(world: World) -> None:
    h = world.headers["f_halo"]
    data = noisy_jpeg()
    r = begin(world, "f_halo", data, size=10 * 2**20 + 1)
    assert r.status_code == 413 and r.json()["limit"] == "attachment_max_bytes", r.text
    r = world.client.post(UPLOADS, json={"filename": "", "size": 0, "sha256": "xyz"}, headers=h)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"filename", "size", "sha256"}
    uid = begin(world, "f_halo", data).json()["upload_id"]
    big = b"\0" * (uploads.MAX_CHUNK + 1)
    r = world.client.put(
        f"{UPLOADS}/{uid}",
        content=big,
        headers={**h, "Content-Range": f"bytes 0-{len(big) - 1}/{len(data)}"},
    )
    assert r.status_code == 413 and r.json()["limit"] in ("max_chunk_bytes", "max_body_bytes")
    # a gap: refused, naming where to go on from
    r = put(world, "f_halo", uid, data, CHUNK, 2 * CHUNK - 1, len(data))
    assert r.status_code == 409 and "send from byte 0" in r.json()["detail"], r.text
    for rng in ("", "bytes 0-9/5", "bytes 5-1/100", "items 0-9/10"):
        r = world.client.put(
            f"{UPLOADS}/{uid}", content=b"0123456789", headers={**h, "Content-Range": rng}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Content-Range", rng
    r = world.client.put(
        f"{UPLOADS}/{uid}",
        content=b"short",
        headers={**h, "Content-Range": f"bytes 0-9/{len(data)}"},
    )
    assert r.status_code == 422
    assert received(world, "f_halo", uid) == 0


def test_unfinished_uploads_expire(world: World) -> None:
    data = jpeg_with_exif()
    uid = begin(world, "f_halo", data).json()["upload_id"]
    assert put(world, "f_halo", uid, data, 0, 99, len(data)).status_code == 200
    s = world.store()
    try:
        s.conn.execute(
            f"UPDATE demine_uploads SET expires_at = {s.P} WHERE upload_id = {s.P}",
            ("2000-01-01T00:00:00Z", uid),
        )
        if hasattr(s.conn, "commit"):
            s.conn.commit()
    finally:
        s.close()
    assert world.client.get(f"{UPLOADS}/{uid}", headers=world.headers["f_halo"]).status_code == 404
    begin(world, "f_halo", data)  # the next upload drops the expired ones
    s = world.store()
    try:
        assert s.upload(uid) is None and s.upload_data(uid) == b""
    finally:
        s.close()
