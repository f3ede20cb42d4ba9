"""Civilians report an explosive object (issue 15, docs/civilian-reports.md).

No account: a report comes with a solved proof-of-work (:mod:`demine.services.pow`), becomes
an intake submission (kind ``eo_reports``, action ``create``, submitter ``public``,
organisation ``PUBLIC``) that the authority's reviewers decide like any other, and gets a
tracking code that people can read out on the phone. The code is never stored: the
submission's id is derived from it with the store's secret (HMAC), so a code finds its report
with one indexed read, and the ids reviewers see do not give codes away.

What the public gets back is the status (:func:`status`), never the contact, photo, reviewer
names or reasons; the unverified layer (:func:`unverified`) gives place, object type and day
only. The free text and the contact go to fields the public never reads (the contact to
``reporter_contact``, restricted; the text to the extra field ``civilian_description``, which
only analysts see); the public description of the record is made from the object type.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from demine.errors import Conflict, DemineError, Fault, NotFound, ValidationError
from demine.ids import uuid7
from demine.model.schema import now_utc
from demine.services import pow as pow_
from demine.services.civilian_text import OBJECT_TYPES, STATUSES, description, status_text
from demine.services.submitting import SUBMISSION, quality_of
from demine.store.base import Store

ORGANISATION = "PUBLIC"
SUBMITTER = "public"
KIND = "eo_reports"
OPEN = ("draft", "submitted", "returned", "approved_operator")
MAX_DESCRIPTION = 2000
MAX_CONTACT = 200
MAX_PLACE = 200
MAX_ACCURACY_M = 100_000.0
MAX_AGE_DAYS = 366  # seen_at: at most a year ago
UPLOAD_S = 3600  # the photo may follow for an hour
MAX_PHOTOS = 1
FIELDS = (
    "challenge",
    "nonce",
    "lat",
    "lon",
    "accuracy_m",
    "place_text",
    "object_type",
    "seen_at",
    "description",
    "contact",
    "contact_consent",
)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


# --- the tracking code ------------------------------------------------------------------------


def new_code() -> str:
    """10 characters of Crockford base32 (50 random bits), as ``XXXXX-XXXXX``."""
    n = secrets.randbits(50)
    chars = "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(10)))
    return f"{chars[:5]}-{chars[5:]}"


def normal_code(text: str) -> str | None:
    """A code as people type or read it (any case, spaces or hyphens, O for 0, I or L for 1)
    in its canonical form, or None when it cannot be one."""
    t = "".join(ch for ch in text.upper() if ch not in " -").translate(_READ_AS)
    if len(t) != 10 or any(ch not in _CROCKFORD for ch in t):
        return None
    return f"{t[:5]}-{t[5:]}"


def submission_id(store: Store, code: str) -> str:
    """The id of the submission a (canonical) code names: a UUID made by HMAC from it."""
    mac = hmac.new(pow_.secret(store), f"code:{code}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=mac[:16], version=4))


# --- the report ---------------------------------------------------------------------------------


def _number(body: dict[str, Any], name: str, lo: float, hi: float, faults: list[Fault]) -> float:
    v = body.get(name)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        faults.append(Fault(f"a number from {lo:g} to {hi:g}", field=name))
        return 0.0
    if not lo <= float(v) <= hi:
        faults.append(Fault(f"{v} is outside {lo:g} to {hi:g}", field=name))
    return float(v)


def _text(body: dict[str, Any], name: str, limit: int, faults: list[Fault]) -> str | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        faults.append(Fault("text, or null", field=name))
        return None
    v = "".join(ch for ch in v if ch.isprintable() or ch in "\n\t").strip()
    if len(v) > limit:
        faults.append(Fault(f"{len(v):,} characters: at most {limit:,}", field=name))
    return v or None


def _seen_at(body: dict[str, Any], now: datetime, faults: list[Fault]) -> str:
    v = body.get("seen_at")
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        faults.append(Fault("a date and time, ISO 8601 (2026-11-29T10:30:00Z)", field="seen_at"))
        return ""
    if t.tzinfo is None:
        faults.append(Fault("give the time zone (Z or +02:00)", field="seen_at"))
        return ""
    t = t.astimezone(UTC)
    if t > now + timedelta(minutes=5):
        faults.append(Fault("in the future", field="seen_at"))
    elif t < now - timedelta(days=MAX_AGE_DAYS):
        faults.append(Fault(f"more than {MAX_AGE_DAYS} days ago", field="seen_at"))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def check(body: Any, now: datetime) -> dict[str, Any]:
    """Every check of a report's fields; a ValidationError naming each fault otherwise."""
    if not isinstance(body, dict):
        raise ValidationError("the report is a JSON object", [Fault("an object", field="body")])
    faults = [Fault("not a field of a report", field=k) for k in body if k not in FIELDS]
    lat = _number(body, "lat", -90, 90, faults)
    lon = _number(body, "lon", -180, 180, faults)
    acc = None
    if body.get("accuracy_m") is not None:
        acc = _number(body, "accuracy_m", 0, MAX_ACCURACY_M, faults)
    kind = body.get("object_type")
    if kind not in OBJECT_TYPES:
        faults.append(Fault(f"one of {', '.join(OBJECT_TYPES)}", field="object_type"))
    contact = _text(body, "contact", MAX_CONTACT, faults)
    consent = body.get("contact_consent", False)
    if not isinstance(consent, bool):
        faults.append(Fault("true or false", field="contact_consent"))
    elif contact and not consent:
        faults.append(
            Fault(
                "a contact is kept only with consent: tick the consent box or leave the "
                "contact out",
                field="contact_consent",
            )
        )
    out = {
        "lat": lat,
        "lon": lon,
        "accuracy_m": acc,
        "place_text": _text(body, "place_text", MAX_PLACE, faults),
        "object_type": kind,
        "seen_at": _seen_at(body, now, faults),
        "description": _text(body, "description", MAX_DESCRIPTION, faults),
        "contact": contact if consent is True else None,
    }
    if faults:
        raise ValidationError(f"the report has {len(faults)} fault(s)", faults)
    return out


def _organisation(store: Store) -> None:
    try:
        store.organisation(ORGANISATION)
    except NotFound:
        store.add_organisation(ORGANISATION, "Public (civilian reports)", "partner")


def submit(store: Store, body: Any, now: datetime | None = None) -> dict[str, Any]:
    """Store a civilian's report as a submission: ``{code, status, upload_token,
    upload_expires_in}``. The proof of work first (nothing else is done for a request
    without one), then every field; a challenge already used is a Conflict."""
    at = now or datetime.now(UTC)
    if not isinstance(body, dict):
        raise ValidationError("the report is a JSON object", [Fault("an object", field="body")])
    cid = pow_.verify(store, body.get("challenge"), body.get("nonce"), at.timestamp())
    got = check(body, at)
    _organisation(store)
    if (used := pow_.used(store, ORGANISATION, str(body["challenge"]))) is not None:
        raise used
    code, token = new_code(), secrets.token_urlsafe(24)
    props: dict[str, Any] = {
        "reported_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "description": description(got["object_type"]),
        "status": "new",
        "public": True,
        "object_type": got["object_type"],
        "seen_at": got["seen_at"],
    }
    for name, value in (
        ("reporter_contact", got["contact"]),
        ("civilian_description", got["description"]),
        ("place_text", got["place_text"]),
        ("accuracy_m", got["accuracy_m"]),
    ):
        if value is not None:
            props[name] = value
    stamp = now_utc()
    sub: dict[str, Any] = {
        "id": submission_id(store, code),
        "organisation": ORGANISATION,
        "submitter": SUBMITTER,
        "kind": KIND,
        "action": "create",
        "target_id": None,
        "base_revision": None,
        "payload": {
            "id": uuid7(),
            "properties": props,
            "geometry": {"type": "Point", "coordinates": [got["lon"], got["lat"]]},
            "upload": {
                "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
                "until": (at + timedelta(seconds=UPLOAD_S)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        },
        "state": "submitted",
        "quality": None,
        "faults": [],
        "created_at": stamp,
        "updated_at": stamp,
        "client_id": cid,
        "conflict": None,
    }
    sub["quality"] = quality_of(store, sub)
    try:
        store.add_submission(sub, SUBMITTER, "a civilian's report (public, no account)")
    except DemineError:
        raise
    except Exception:  # the unique index: the same challenge stored at the same moment
        if (used := pow_.used(store, ORGANISATION, str(body["challenge"]))) is not None:
            raise used from None
        raise
    return {
        "code": code,
        "status": "received",
        "upload_token": token,
        "upload_expires_in": UPLOAD_S,
    }


def _find(store: Store, code: str) -> dict[str, Any]:
    canonical = normal_code(code)
    rows = store.submissions(sid=submission_id(store, canonical or "-"))
    if (
        canonical is None
        or not rows
        or rows[0]["organisation"] != ORGANISATION
        or rows[0]["kind"] != KIND
    ):
        raise NotFound("no report with this code: check the code as it was given to you")
    return rows[0]


# --- the photo ----------------------------------------------------------------------------------


def attach_photo(
    store: Store, code: str, token: str, data: bytes, *, declared: str | None = None
) -> dict[str, Any]:
    """The report's photo (JPEG or PNG), with the upload token its report was given; checked
    and stored with the submission (its EXIF kept for reviewers only, as every attachment's),
    or refused with nothing stored: the report stays as it was."""
    from demine.services import attachments

    sub = _find(store, code)
    want = ((sub["payload"] or {}).get("upload")) or {}
    given = hashlib.sha256(token.encode()).hexdigest()
    if not hmac.compare_digest(given, str(want.get("token_sha256", ""))):
        raise NotFound("no report with this code: check the code as it was given to you")
    if sub["state"] not in OPEN:
        raise Conflict("this report has been decided on: a photo can no longer be added")
    until = datetime.fromisoformat(str(want.get("until")).replace("Z", "+00:00"))
    if datetime.now(UTC) > until:
        raise Conflict(f"a photo may be added within {UPLOAD_S // 60} minutes of the report")
    if len(store.attachments(SUBMISSION, sub["id"])) >= MAX_PHOTOS:
        raise Conflict("this report already has its photo")
    if attachments.sniff(data) not in (attachments.JPEG, attachments.PNG):
        raise ValidationError(
            "the photo is not a JPEG or PNG image",
            [Fault("a JPEG or PNG image (known by its content)", field="photo")],
        )
    ext = "png" if attachments.sniff(data) == attachments.PNG else "jpg"
    attachments.add(
        store, SUBMISSION, sub["id"], f"photo.{ext}", data, SUBMITTER, declared=declared
    )
    return {"code": normal_code(code), "photo": "received"}


# --- the status ---------------------------------------------------------------------------------


def _record(store: Store, kind: str, rid: Any) -> Any:
    if not rid:
        return None
    try:
        return store.get(kind, str(rid))
    except DemineError:
        return None


def status(store: Store, code: str) -> dict[str, Any]:
    """What the reporter may know: ``{code, status, updated_at, text: {en, uk}}``.

    received: waiting for the authority (submitted, returned, first-level approved);
    checked: approved (the record exists, new or verified); team_sent: the record is linked to
    a hazard, or its status says ``linked``; cleared: that hazard is closed or handed over;
    closed: rejected, or the record dismissed."""
    sub = _find(store, code)
    state, updated = "received", sub["updated_at"]
    if sub["state"] == "rejected":
        state = "closed"
    elif sub["state"] == "approved":
        # approved as new, or as an update of the same report already stored (target_id);
        # a record merged into another since, or deleted, was checked all the same
        rec = _record(store, KIND, sub["target_id"] or (sub["payload"] or {}).get("id"))
        state = "checked"
        if rec is not None:
            updated = max(updated, rec.updated_at or updated)
            p = rec.properties
            if p.get("status") == "dismissed":
                state = "closed"
            elif p.get("hazard_id") or p.get("status") == "linked":
                state = "team_sent"
                hz = _record(store, "hazards", p.get("hazard_id"))
                if hz is not None and hz.properties.get("status") in ("closed", "handed_over"):
                    state, updated = "cleared", max(updated, hz.updated_at or updated)
    assert state in STATUSES
    return {
        "code": normal_code(code),
        "status": state,
        "updated_at": updated,
        "text": status_text(state),
    }


# --- the unverified layer ---------------------------------------------------------------------


def _pending_points(store: Store) -> list[tuple[float, float, dict[str, Any]]]:
    """Every pending civilian report's place and public properties, in the store's order."""
    out: list[tuple[float, float, dict[str, Any]]] = []
    for sub in store.submissions(organisation=ORGANISATION, state=OPEN):
        if sub["kind"] != KIND or sub["action"] != "create":
            continue
        p = sub["payload"] or {}
        try:
            lon, lat = (float(c) for c in p["geometry"]["coordinates"][:2])
        except (KeyError, TypeError, ValueError):
            continue
        if not (math.isfinite(lon) and math.isfinite(lat)):
            continue
        props = p.get("properties") or {}
        out.append(
            (
                lon,
                lat,
                {
                    "status": "unverified",
                    "object_type": props.get("object_type"),
                    "reported_on": str(props.get("reported_at", ""))[:10],
                },
            )
        )
    return out


class PendingReports:
    """The pending civilian reports' places, read again only when one of the public's
    submissions has a new event (a report, an approval, a rejection, a return: the submission
    event cursor of ``Store.submission_changes``). An anonymous request for the unverified
    layer then costs one indexed query and a scan of an in-memory list, not a read of every
    pending submission's payload."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._location: str | None = None
        self._cursor = -1
        self._points: list[tuple[float, float, dict[str, Any]]] = []

    def _latest(self, store: Store, since: int) -> int:
        cursor, more = since, True
        while more:
            _, cursor, more = store.submission_changes(ORGANISATION, cursor, 1000)
        return cursor

    def points(self, store: Store) -> list[tuple[float, float, dict[str, Any]]]:
        with self._lock:
            fresh = self._location == store.location and self._cursor >= 0
            if fresh:
                _, cursor, _ = store.submission_changes(ORGANISATION, self._cursor, 1)
                fresh = cursor == self._cursor
            if not fresh:
                cursor = self._latest(store, 0)  # first: an event after it reads again
                self._points = _pending_points(store)
                self._location, self._cursor = store.location, cursor
            return self._points


def unverified(
    store: Store,
    bbox: tuple[float, float, float, float],
    limit: int,
    pending: PendingReports | None = None,
) -> dict[str, Any]:
    """Pending civilian reports in ``bbox`` as GeoJSON: place, object type and the day it was
    reported only (at most ``limit``, in the store's order; ``truncated`` says when there were
    more). ``pending``: a process's snapshot of them (read again when they change)."""
    minx, miny, maxx, maxy = bbox
    feats: list[dict[str, Any]] = []
    truncated = False
    points = pending.points(store) if pending is not None else _pending_points(store)
    for lon, lat, props in points:
        if not (minx <= lon <= maxx and miny <= lat <= maxy):
            continue
        if len(feats) >= limit:
            truncated = True
            break
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]},
                "properties": dict(props),
            }
        )
    return {
        "type": "FeatureCollection",
        "features": feats,
        "numberReturned": len(feats),
        "truncated": truncated,
    }
