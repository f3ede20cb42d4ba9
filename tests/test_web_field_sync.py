"""The field app's storage and sync modules (``/static/field/db.js``, ``sync.js``; issue 14,
docs/field.md "Sync") in a real browser (Playwright + Debian's chromium, headless, its own
IndexedDB a context) against a live server, on both backends.

The modules are loaded by a harness page fulfilled by Playwright on the live server's origin
(``/__harness__.html`` and ``/__harness__.js``: only these two are not the server's; the
modules and every API call are). An outbox of a hazard, two finds with a photo each and an EO
report syncs: the server holds each once, as submissions with the photos as attachments;
lost acknowledgements (of the outbox and of an upload chunk) and an upload interrupted by going
offline resume with nothing stored or sent twice; two devices editing one hazard offline give
the reviewer a conflict and lose nothing; an invalid item keeps its faults; a refused token
leaves the outbox as it was.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image

from demine.services.submitting import SUBMISSION
from live import serve, wait_for
from test_intake import populate

TIMEOUT = 30_000
MIB = 2**20
RING = [[30.50, 50.40], [30.51, 50.40], [30.51, 50.41], [30.50, 50.41], [30.50, 50.40]]
BBOX = [30.49, 50.39, 30.52, 50.42]
USERS = {
    "f_halo": ("field", "HALO"),
    "f2_halo": ("field", "HALO"),
    "adm": ("admin", None),
    "rev": ("reviewer", None),
}
HARNESS_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>harness</title>
<script type="module" src="/__harness__.js"></script></head><body>field sync</body></html>"""
HARNESS_JS = """
import * as db from "/static/field/db.js";
import * as sync from "/static/field/sync.js";
window.fieldDb = db;
window.fieldSync = sync;
window.__ready = true;
"""
# in the page: open the database once, keep it on window
OPEN = "async () => { window.__db = await fieldDb.openDb(); return true; }"
SYNC = "async () => fieldSync.sync({db: window.__db})"


def padded_jpeg(size: int, seed: int) -> bytes:
    """A real JPEG of exactly ``size`` bytes: a small noisy image from Pillow, padded with
    comment segments (COM, random bytes) after its start marker."""
    rnd = random.Random(seed)
    im = Image.frombytes("RGB", (64, 48), bytes(rnd.randrange(256) for _ in range(64 * 48 * 3)))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    base = out.getvalue()
    need = size - len(base)
    assert need >= 0
    segs = []
    while need > 0:
        n = min(need, 65535 + 2)
        if need - n in (1, 2, 3):  # leave room for a last segment of at least 4 bytes
            n -= 4
        payload = rnd.randbytes(n - 4)
        segs.append(b"\xff\xfe" + (n - 2).to_bytes(2, "big") + payload)
        need -= n
    data = base[:2] + b"".join(segs) + base[2:]
    assert len(data) == size
    return data


@dataclass
class Site:
    url: str
    location: str
    tokens: dict[str, str]
    photos: dict[str, bytes] = field(default_factory=dict)  # served at /__photo__/NAME

    def store(self) -> Any:
        from demine.store.open import open_store

        return open_store(self.location)

    def http(self, user: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[user]}"}
        )

    def submissions(self) -> list[dict[str, Any]]:
        s = self.store()
        try:
            return list(s.submissions())
        finally:
            s.close()

    def attachments(self, sid: str) -> list[dict[str, Any]]:
        s = self.store()
        try:
            return list(s.attachments(SUBMISSION, sid))
        finally:
            s.close()

    def page(self, browser: Any, user: str = "f_halo") -> tuple[Any, Any]:
        """A new device: its own context (IndexedDB), the harness loaded, the token kept."""
        ctx = browser.new_context()
        page = ctx.new_page()
        page.route(
            self.url + "/__harness__.html",
            lambda r: r.fulfill(status=200, content_type="text/html", body=HARNESS_HTML),
        )
        page.route(
            self.url + "/__harness__.js",
            lambda r: r.fulfill(status=200, content_type="text/javascript", body=HARNESS_JS),
        )
        page.route(
            self.url + "/__photo__/*",
            lambda r: r.fulfill(
                status=200,
                content_type="image/jpeg",
                body=self.photos[r.request.url.split("/")[-1]],
            ),
        )
        page.goto(self.url + "/__harness__.html")
        wait_for(page, "window.__ready === true", TIMEOUT)
        page.evaluate(OPEN)
        page.evaluate("async (t) => fieldDb.setMeta(window.__db, 'token', t)", self.tokens[user])
        return ctx, page


@pytest.fixture
def site(store: Any) -> Iterator[Site]:
    from demine.api.app import create_app

    location, headers = populate(store, USERS)
    tokens = {u: h["Authorization"].split(" ", 1)[1] for u, h in headers.items()}
    with serve(create_app(location)) as url:
        yield Site(url, location, tokens)


def add_item(page: Any, item: dict[str, Any], photos: Sequence[str] = ()) -> str:
    """Record an item on the device as the UI does: photos (fetched from /__photo__/NAME into
    Blobs) and a pending item naming them. Returns its client_id."""
    return str(
        page.evaluate(
            """async ([item, photos]) => {
                const db = window.__db;
                const cid = fieldDb.uuid7();
                const ids = [];
                for (const name of photos) {
                    const blob = await (await fetch('/__photo__/' + name)).blob();
                    const id = fieldDb.uuid7();
                    await fieldDb.putPhoto(db, {id, client_id: cid, blob, filename: name,
                        content_type: 'image/jpeg', size: blob.size, accuracy_m: 4.5});
                    ids.push(id);
                }
                await fieldDb.putItem(db, {...item, client_id: cid, photos: ids,
                                           state: 'pending'});
                return cid;
            }""",
            [item, list(photos)],
        )
    )


def items(page: Any) -> dict[str, dict[str, Any]]:
    rows = page.evaluate(
        """async () => (await fieldDb.listItems(window.__db)).map((i) => ({
            client_id: i.client_id, state: i.state, submission_id: i.submission_id,
            faults: i.faults, reason: i.reason, conflict: i.conflict || null, kind: i.kind}))"""
    )
    return {r["client_id"]: r for r in rows}


def photos(page: Any) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            """async () => (await fieldDb.listPhotos(window.__db)).map((p) => ({
                id: p.id, upload_id: p.upload_id, received: p.received, done: p.done,
                size: p.size, sha256: p.sha256}))"""
        )
    )


def set_state(page: Any, state: str) -> None:
    """As a device that lost its record of the answers (a crash before they were saved)."""
    page.evaluate(
        """async (state) => {
            for (const i of await fieldDb.listItems(window.__db)) {
                await fieldDb.putItem(window.__db, {...i, state});
            }
        }""",
        state,
    )


def hazard() -> dict[str, Any]:
    return {
        "kind": "hazards",
        "action": "create",
        "properties": {"hazard_type": "SHA", "status": "open", "name": "walked perimeter"},
        "geometry": {"type": "Polygon", "coordinates": [RING]},
        "accuracy_m": [4.0, 6.5, 3.0, 5.0, 4.0],
        "captured_at": "2026-05-01T09:00:00Z",
    }


def find(x: float) -> dict[str, Any]:
    return {
        "kind": "finds",
        "action": "create",
        "properties": {"device_type": "uxo", "state": "live", "found_at": "2026-05-01T09:10:00Z"},
        "geometry": {"type": "Point", "coordinates": [x, 50.405]},
        "accuracy_m": [3.5],
        "captured_at": "2026-05-01T09:10:00Z",
    }


def eo_report() -> dict[str, Any]:
    return {
        "kind": "eo_reports",
        "action": "create",
        "properties": {"reported_at": "2026-05-01T10:00:00Z", "status": "new"},
        "geometry": {"type": "Point", "coordinates": [30.505, 50.405]},
        "accuracy_m": [8.0],
        "captured_at": "2026-05-01T10:00:00Z",
    }


def record_outbox(site: Site, page: Any) -> dict[str, str]:
    site.photos["find1.jpg"] = padded_jpeg(150_000, 1)
    site.photos["find2.jpg"] = padded_jpeg(90_000, 2)
    return {
        "hazard": add_item(page, hazard()),
        "find1": add_item(page, find(30.503), ["find1.jpg"]),
        "find2": add_item(page, find(30.507), ["find2.jpg"]),
        "eo": add_item(page, eo_report()),
    }


def check_held_once(site: Site, cids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each item is one submission (by client_id); each find has its photo, once."""
    subs = site.submissions()
    by_cid = {s["client_id"]: s for s in subs}
    assert len(subs) == 4 and set(by_cid) == set(cids.values()), subs
    for name in ("find1", "find2"):
        (att,) = site.attachments(by_cid[cids[name]]["id"])
        data = site.photos[f"{name}.jpg"]
        assert att["size"] == len(data) and att["sha256"] == hashlib.sha256(data).hexdigest()
    for name in ("hazard", "eo"):
        assert site.attachments(by_cid[cids[name]]["id"]) == []
    haz = by_cid[cids["hazard"]]
    assert haz["payload"]["sync"]["accuracy_m"] == [4.0, 6.5, 3.0, 5.0, 4.0]
    assert haz["payload"]["properties"]["position_accuracy_m"] == 6.5
    return by_cid


# --- the tests ----------------------------------------------------------------------------


def test_an_outbox_syncs_once_and_again_stores_nothing(site: Site, browser: Any) -> None:
    ctx, page = site.page(browser)
    try:
        cids = record_outbox(site, page)
        progress = page.evaluate(
            """async () => { const seen = [];
                const s = await fieldSync.sync({db: window.__db,
                    onProgress: (p) => seen.push(p.phase)});
                return {s, seen}; }"""
        )
        s = progress["s"]
        assert s["offline"] is False and s["auth_failed"] is False and s["error"] is None, s
        assert (s["sent"], s["already"], s["conflicts"], s["invalid"], s["photos"]) == (
            4,
            0,
            0,
            0,
            2,
        )
        assert s["pulled"] == 4  # the four submissions' own events
        body = sum(len(d) for d in site.photos.values())
        assert body < s["bytes_sent"] < body + 20_000, s
        assert {"photos", "outbox", "pull"} <= set(progress["seen"])
        by_cid = check_held_once(site, cids)
        state = items(page)
        assert {i["state"] for i in state.values()} == {"sent"}
        assert {i["submission_id"] for i in state.values()} == {x["id"] for x in by_cid.values()}
        assert all(p["done"] and p["received"] == p["size"] for p in photos(page))
        # again: nothing pending, nothing sent
        s = page.evaluate(SYNC)
        assert (s["sent"], s["already"], s["photos"], s["pulled"]) == (0, 0, 0, 0), s
        # a device that lost the answers sends everything again: 'already', nothing new
        set_state(page, "pending")
        s = page.evaluate(SYNC)
        assert (s["sent"], s["already"], s["photos"]) == (0, 4, 0), s
        check_held_once(site, cids)
        assert {i["state"] for i in items(page).values()} == {"sent"}
        # a second call while one runs gets the same promise: one sync at a time
        same = page.evaluate(
            """async () => { await fieldDb.putItem(window.__db, {client_id: fieldDb.uuid7(),
                    kind: 'eo_reports', properties: {reported_at: '2026-05-02T10:00:00Z',
                    status: 'new'}, geometry: {type: 'Point', coordinates: [30.5, 50.4]}});
                const a = fieldSync.sync({db: window.__db});
                const b = fieldSync.sync({db: window.__db});
                const [x, y] = await Promise.all([a, b]);
                return a === b && x.sent === 1 && y.sent === 1; }"""
        )
        assert same is True
        assert len(site.submissions()) == 5
    finally:
        ctx.close()


def test_lost_acknowledgements_store_and_send_nothing_twice(site: Site, browser: Any) -> None:
    """The outbox's answer is lost after the server stored it; then an upload chunk's answer
    is lost after the server kept it: the next syncs answer 'already' and resume from
    `received`; no submission twice, no byte of the photo sent twice."""
    ctx, page = site.page(browser)
    try:
        cids = record_outbox(site, page)
        site.photos["big.jpg"] = padded_jpeg(2 * MIB + 123_457, 3)  # three chunks
        big = add_item(page, find(30.509), ["big.jpg"])
        ranges: list[str] = []
        page.on(
            "request",
            lambda r: (
                ranges.append(r.headers.get("content-range", "?")) if r.method == "PUT" else None
            ),
        )
        lost: list[str] = []

        def drop_answer(route: Any) -> None:
            if not lost:  # only the first: the server handles it, the device never hears
                route.fetch()
                lost.append(route.request.url)
                route.abort("internetdisconnected")
            else:
                route.continue_()

        # 1. the second chunk of the big photo is kept by the server, its answer lost
        def drop_second_chunk(route: Any) -> None:
            cr = route.request.headers.get("content-range", "")
            if cr.startswith(f"bytes {MIB}-") and not lost:
                route.fetch()
                lost.append(cr)
                route.abort("internetdisconnected")
            else:
                route.continue_()

        page.route(site.url + "/api/v1/uploads/*", drop_second_chunk)
        s = page.evaluate(SYNC)
        assert s["offline"] is True and s["sent"] == 0, s
        assert lost and lost[0].startswith(f"bytes {MIB}-")
        page.unroute(site.url + "/api/v1/uploads/*")
        assert site.submissions() == []  # the outbox waits for the photos
        # 2. the outbox's answer is lost
        lost.clear()
        page.route(site.url + "/api/v1/sync/outbox", drop_answer)
        s = page.evaluate(SYNC)
        assert s["offline"] is True and s["sent"] == 0, s
        assert len(lost) == 1 and len(site.submissions()) == 5  # stored, not heard
        assert {i["state"] for i in items(page).values()} == {"pending"}
        s = page.evaluate(SYNC)
        page.unroute(site.url + "/api/v1/sync/outbox")
        assert (s["sent"], s["already"], s["offline"]) == (0, 5, False), s
        subs = site.submissions()
        assert len(subs) == 5 and len({x["client_id"] for x in subs}) == 5
        assert {i["state"] for i in items(page).values()} == {"sent"}
        # the big photo: every range once, covering the file; the server has it exactly
        data = site.photos["big.jpg"]
        size = len(data)
        big_ranges = [r for r in ranges if r.endswith(f"/{size}")]
        spans = sorted(
            (int(r.split()[1].split("-")[0]), int(r.split("-")[1].split("/")[0]))
            for r in big_ranges
        )
        assert spans == [(0, MIB - 1), (MIB, 2 * MIB - 1), (2 * MIB, size - 1)], big_ranges
        sid = next(x["id"] for x in subs if x["client_id"] == big)
        (att,) = site.attachments(sid)
        assert att["size"] == size and att["sha256"] == hashlib.sha256(data).hexdigest()
        check_held_once_plus = {x["client_id"] for x in subs}
        assert check_held_once_plus == {*cids.values(), big}
    finally:
        ctx.close()


def test_an_interrupted_upload_resumes_from_received(site: Site, browser: Any) -> None:
    """The device goes offline while a photo's second chunk is on its way; the next sync (back
    online) asks the server what has come and sends from there."""
    ctx, page = site.page(browser)
    try:
        site.photos["walk.jpg"] = padded_jpeg(3 * MIB + 1000, 4)  # four chunks
        cid = add_item(page, find(30.506), ["walk.jpg"])
        puts: list[str] = []

        def cut(route: Any) -> None:
            cr = route.request.headers.get("content-range", "")
            puts.append(cr)
            if cr.startswith(f"bytes {MIB}-") and puts.count(cr) == 1:
                ctx.set_offline(True)  # the signal goes, mid-upload
                route.abort("internetdisconnected")
            else:
                route.continue_()

        page.route(site.url + "/api/v1/uploads/*", cut)
        s = page.evaluate(SYNC)
        assert s["offline"] is True and s["photos"] == 0 and s["sent"] == 0, s
        (p,) = photos(page)
        assert p["upload_id"] and p["received"] == MIB and p["done"] is False
        # still offline: nothing moves, nothing breaks
        s = page.evaluate(SYNC)
        assert s["offline"] is True and s["bytes_sent"] <= 1000, s  # (the GET's nothing)
        ctx.set_offline(False)
        s = page.evaluate(SYNC)
        assert s["offline"] is False and (s["photos"], s["sent"]) == (1, 1), s
        size = len(site.photos["walk.jpg"])
        assert s["bytes_sent"] < size - MIB + 5_000, s  # the first chunk not again
        sent_after = [c for c in puts if c and not c.startswith("bytes 0-")]
        assert sent_after[-3:] == [
            f"bytes {MIB}-{2 * MIB - 1}/{size}",
            f"bytes {2 * MIB}-{3 * MIB - 1}/{size}",
            f"bytes {3 * MIB}-{size - 1}/{size}",
        ], puts
        assert sum(1 for c in puts if c.startswith("bytes 0-")) == 1
        (sub,) = site.submissions()
        assert sub["client_id"] == cid
        (att,) = site.attachments(sub["id"])
        assert att["size"] == size
        assert att["sha256"] == hashlib.sha256(site.photos["walk.jpg"]).hexdigest()
    finally:
        ctx.close()


def test_two_devices_edit_one_hazard_offline(site: Site, browser: Any) -> None:
    """Both devices cache the work area (revision 1 of a hazard), both edit it offline. A
    syncs first and a reviewer approves its edit; B's edit comes back as a conflict, kept for
    the reviewer with both revisions; nothing is lost; A's pull brings 'approved'."""
    with site.http("adm") as adm:
        r = adm.post(
            "/ogc/collections/hazards/items",
            json={
                "type": "Feature",
                "properties": {"hazard_type": "SHA", "status": "open", "name": "Shared field"},
                "geometry": {"type": "Polygon", "coordinates": [RING]},
            },
        )
        assert r.status_code == 201, r.text
        hid = r.json()["id"]
    ca, a = site.page(browser, "f_halo")
    cb, b = site.page(browser, "f2_halo")
    try:
        edits = {}
        for ctx, page, name in ((ca, a, "device A's name"), (cb, b, "device B's name")):
            got = page.evaluate(
                "async (bbox) => fieldSync.refreshArea({db: window.__db, bbox})", BBOX
            )
            assert got["layers"]["hazards"] == 1, got
            ctx.set_offline(True)  # in the field
            feat = page.evaluate(
                """async () => (await fieldDb.listArea(window.__db))
                    .find((e) => e.layer === 'hazards').collection.features[0]"""
            )
            assert feat["id"] == hid and feat["properties"]["revision"] == 1
            edits[name] = add_item(
                page,
                {
                    "kind": "hazards",
                    "action": "update",
                    "record_id": feat["id"],
                    "base_revision": feat["properties"]["revision"],
                    "properties": {"name": name},
                    "geometry": None,
                    "captured_at": "2026-05-02T08:00:00Z",
                },
            )
            s = page.evaluate(SYNC)
            assert s["offline"] is True, s
        ca.set_offline(False)
        sa = a.evaluate(SYNC)
        assert (sa["sent"], sa["conflicts"], sa["offline"]) == (1, 0, False), sa
        a_sid = items(a)[edits["device A's name"]]["submission_id"]
        with site.http("rev") as rev:
            r = rev.post(f"/api/v1/submissions/{a_sid}/approve", json={})
            assert r.status_code == 200, r.text
            cb.set_offline(False)
            sb = b.evaluate(SYNC)
            assert (sb["sent"], sb["conflicts"]) == (0, 1), sb
            bi = items(b)[edits["device B's name"]]
            assert bi["state"] == "conflict"
            assert bi["conflict"] == {"base_revision": 1, "current_revision": 2}
            shown = rev.get(f"/api/v1/submissions/{bi['submission_id']}").json()
            assert shown["conflict"] == {"base_revision": 1, "current_revision": 2}
            assert shown["payload"]["changes"]["name"] == "device B's name"
            # approving it is refused: never a silent overwrite
            r = rev.post(f"/api/v1/submissions/{bi['submission_id']}/approve", json={})
            assert r.status_code == 409, r.text
        subs = {x["id"]: x for x in site.submissions()}
        assert subs[a_sid]["state"] == "approved"
        assert subs[bi["submission_id"]]["state"] == "submitted"  # kept for the reviewer
        s = site.store()
        try:
            assert s.get("hazards", hid).properties["name"] == "device A's name"
        finally:
            s.close()
        # A pulls: its item is approved now
        sa = a.evaluate(SYNC)
        assert sa["pulled"] >= 1 and sa["offline"] is False, sa
        assert items(a)[edits["device A's name"]]["state"] == "approved"
        assert items(b)[edits["device B's name"]]["state"] == "conflict"
        # the reviewer returns B's with a reason: B's pull says so
        with site.http("rev") as rev:
            r = rev.post(
                f"/api/v1/submissions/{bi['submission_id']}/return",
                json={"reason": "the name changed meanwhile: look again"},
            )
            assert r.status_code == 200, r.text
        b.evaluate(SYNC)
        got = items(b)[edits["device B's name"]]
        assert got["state"] == "returned" and "look again" in got["reason"]
    finally:
        ca.close()
        cb.close()


def test_an_invalid_item_keeps_its_faults_and_a_refused_token_changes_nothing(
    site: Site, browser: Any
) -> None:
    ctx, page = site.page(browser)
    try:
        site.photos["ok.jpg"] = padded_jpeg(60_000, 5)
        bad_geom = add_item(
            page, {**eo_report(), "geometry": {"type": "Point", "coordinates": [200.0, 95.0]}}
        )
        no_date = find(30.504)
        del no_date["properties"]["found_at"]
        missing = add_item(page, no_date)
        good = add_item(page, find(30.505), ["ok.jpg"])
        # a refused token: nothing sent, nothing changed on the device
        page.evaluate("async () => fieldDb.setMeta(window.__db, 'token', 'not-a-token')")
        before = items(page)
        s = page.evaluate(SYNC)
        assert s["auth_failed"] is True and s["offline"] is False, s
        assert (s["sent"], s["photos"]) == (0, 0)
        assert items(page) == before
        assert all(p["upload_id"] is None for p in photos(page))
        assert site.submissions() == []
        page.evaluate(
            "async (t) => fieldDb.setMeta(window.__db, 'token', t)", site.tokens["f_halo"]
        )
        s = page.evaluate(SYNC)
        assert (s["sent"], s["invalid"], s["photos"]) == (1, 2, 1), s
        got = items(page)
        assert got[good]["state"] == "sent"
        assert got[bad_geom]["state"] == "invalid"
        (fault,) = got[bad_geom]["faults"]
        assert re.fullmatch(r"items\[\d\]\.geometry\.coordinates", fault["field"]), fault
        assert got[missing]["state"] == "invalid"
        assert any(
            re.fullmatch(r"items\[\d\]\.properties\.found_at", f["field"])
            for f in got[missing]["faults"]
        ), got[missing]["faults"]
        (sub,) = site.submissions()
        assert sub["client_id"] == good
        # corrected by the team (back to pending, same client_id): stored
        page.evaluate(
            """async (cid) => { const i = await fieldDb.getItem(window.__db, cid);
                i.geometry = {type: 'Point', coordinates: [30.5, 50.4]};
                i.state = 'pending'; i.faults = [];
                await fieldDb.putItem(window.__db, i); }""",
            bad_geom,
        )
        s = page.evaluate(SYNC)
        assert (s["sent"], s["invalid"]) == (1, 0), s
        assert len(site.submissions()) == 2
    finally:
        ctx.close()


def test_work_area_and_forms_are_cached(site: Site, browser: Any) -> None:
    ctx, page = site.page(browser)
    try:
        got = page.evaluate(
            "async () => fieldSync.refreshArea({db: window.__db, bbox: [30, 50, 32, 52]})"
        )
        assert got["status"] == 413 and got["layers"] == {}, got  # the box is over 1°
        assert "over the limit of 1° a side" in got["error"], got
        got = page.evaluate(
            "async (b) => fieldSync.refreshArea({db: window.__db, bbox: b, layers: ['hazards']})",
            BBOX,
        )
        assert got == {"layers": {"hazards": 0}}, got
        assert page.evaluate("async () => fieldDb.getMeta(window.__db, 'bbox')") == BBOX
        kinds = page.evaluate("async () => fieldSync.fetchForms({db: window.__db})")
        assert {"hazards", "finds", "eo_reports"} <= set(kinds), kinds
        forms = page.evaluate("async () => fieldDb.listForms(window.__db)")
        assert {f["kind"] for f in forms} == set(kinds)
        assert all(f["version"] and f["etag"] and f["fetched_at"] for f in forms)
        # again: nothing changed, only the list is asked for
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        assert page.evaluate("async () => fieldSync.fetchForms({db: window.__db})") == kinds
        assert [u for u in urls if "/api/v1/forms" in u] == [site.url + "/api/v1/forms"]
        # a refused token throws with status 401
        status = page.evaluate(
            """async () => { try { await fieldSync.fetchForms({db: window.__db, token: 'x'}); }
                catch (e) { return e.status; } return null; }"""
        )
        assert status == 401
        # offline: a clear answer, the cache kept
        ctx.set_offline(True)
        got = page.evaluate("async (b) => fieldSync.refreshArea({db: window.__db, bbox: b})", BBOX)
        assert got["offline"] is True
        assert page.evaluate("async () => (await fieldDb.listArea(window.__db)).length") == 1
        ctx.set_offline(False)
    finally:
        ctx.close()


def test_uuid7_and_the_database(site: Site, browser: Any) -> None:
    ctx, page = site.page(browser)
    try:
        ids = page.evaluate("() => Array.from({length: 50}, () => fieldDb.uuid7())")
        assert len(set(ids)) == 50
        for u in ids:
            assert uuid.UUID(u).version == 7
        stamps = [u.replace("-", "")[:12] for u in ids]  # 48 bits of milliseconds
        assert stamps == sorted(stamps)
        names = page.evaluate(
            """async () => { const d = window.__db; return {
                stores: Array.from(d.objectStoreNames).sort(), name: d.name, version: d.version,
                device: await fieldDb.getMeta(d, 'device') }; }"""
        )
        assert names["stores"] == ["area", "changes", "forms", "meta", "outbox", "photos"]
        assert (names["name"], names["version"]) == ("demine-field", 1)
        # deleteItem takes its photos with it
        site.photos["x.jpg"] = padded_jpeg(5000, 6)
        cid = add_item(page, find(30.5), ["x.jpg"])
        assert len(photos(page)) == 1
        page.evaluate("async (c) => fieldDb.deleteItem(window.__db, c)", cid)
        assert photos(page) == [] and items(page) == {}
    finally:
        ctx.close()


def test_a_stalled_link_counts_as_lost(site: Site, browser: Any) -> None:
    """A request that never gets its answer (a link that stays up but carries nothing) ends
    the sync as offline after the time allowed, and the next sync finishes the work."""
    ctx, page = site.page(browser)
    try:
        cid = add_item(page, eo_report())
        held: list[Any] = []
        page.route(site.url + "/api/v1/sync/outbox", lambda route: held.append(route))
        s = page.evaluate("async () => fieldSync.sync({db: window.__db, timeoutMs: 1500})")
        assert s["offline"] is True and "no answer in 2 s" in s["error"], s
        assert held and items(page)[cid]["state"] == "pending"
        page.unroute(site.url + "/api/v1/sync/outbox")
        s = page.evaluate(SYNC)
        assert (s["sent"], s["offline"]) == (1, False), s
        assert [x["client_id"] for x in site.submissions()] == [cid]
    finally:
        ctx.close()


def test_a_photo_the_server_lost_is_uploaded_again(site: Site, browser: Any) -> None:
    """A photo uploaded long ago whose upload the server no longer has (expired, or a store
    restored from a backup): the outbox answers the item invalid naming the photo; the device
    uploads it again and the next sync stores the item with it."""
    ctx, page = site.page(browser)
    try:
        site.photos["old.jpg"] = padded_jpeg(40_000, 7)
        cid = add_item(page, find(30.502), ["old.jpg"])
        page.evaluate(
            """async () => { const [p] = await fieldDb.listPhotos(window.__db);
                await fieldDb.putPhoto(window.__db, {...p, upload_id: fieldDb.uuid7(),
                    sha256: null, received: p.size, done: true, done_at: fieldDb.now()}); }"""
        )
        s = page.evaluate(SYNC)
        assert (s["sent"], s["invalid"], s["photos"]) == (0, 0, 0), s
        assert "upload again" in s["error"]
        assert items(page)[cid]["state"] == "pending" and site.submissions() == []
        (p,) = photos(page)
        assert p["upload_id"] is None and p["done"] is False
        s = page.evaluate(SYNC)
        assert (s["sent"], s["photos"], s["error"]) == (1, 1, None), s
        (sub,) = site.submissions()
        (att,) = site.attachments(sub["id"])
        assert att["sha256"] == hashlib.sha256(site.photos["old.jpg"]).hexdigest()
    finally:
        ctx.close()
