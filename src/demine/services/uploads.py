"""Chunked, resumable uploads of the field app's photos (issue 14, docs/field.md "Sync").

``create`` says what will come (name, type, size, SHA-256) and answers an upload id; ``put``
appends one chunk at the offset of its ``Content-Range`` (a range already received stores
nothing, so a chunk sent again after a lost answer costs nothing; a gap is refused with what
has come); ``status`` says how many bytes have come, so an interrupted upload resumes from
there. When every byte has come, its SHA-256 must be the declared one (else the bytes are
dropped and the refusal names the hash). An outbox item names finished uploads in ``photos``:
each becomes an attachment of its submission through :mod:`demine.services.attachments` (its
checks: type, size, pixels) and is kept as done.

Uploads are the uploader's only: another user's (of any organisation) answers NotFound.
Uploads not yet attached expire :data:`EXPIRY_HOURS` after they were begun (dropped when the next
upload begins).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from demine.errors import Conflict, ContentTooLarge, Fault, NotFound, ValidationError
from demine.ids import uuid7
from demine.model.schema import now_utc
from demine.services.access import SUBMITTERS, submits
from demine.services.attachments import add, clean_name, max_bytes
from demine.services.submitting import SUBMISSION, organisation_of
from demine.store.base import Store

MAX_CHUNK = 2**20  # bytes of one chunk (PUT body)
EXPIRY_HOURS = 48  # an unfinished upload is dropped this long after it began
MAX_OPEN = 500  # unfinished uploads of one user at once
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RANGE = re.compile(r"bytes (\d{1,12})-(\d{1,12})/(\d{1,12})")


def _require(role: str | None) -> None:
    from demine.errors import PermissionDenied

    if not submits(role):
        raise PermissionDenied(
            f"the {role} role has no uploads: they are the field app's, for the "
            f"{' or '.join(SUBMITTERS)} role (others attach files directly)"
        )


def _later(hours: int) -> str:
    t = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def create(store: Store, body: Any, *, role: str | None, actor: str) -> dict[str, Any]:
    """Begin an upload: ``{"filename", "content_type", "size", "sha256"}`` -> its state."""
    _require(role)
    if not isinstance(body, dict):
        body = {}
    faults = []
    name, ctype = body.get("filename"), body.get("content_type")
    size, sha = body.get("size"), body.get("sha256")
    if not isinstance(name, str) or not name.strip() or len(name) > 1000:
        faults.append(Fault("the file's name", field="filename"))
    if ctype is not None and (not isinstance(ctype, str) or len(ctype) > 100):
        faults.append(Fault("a media type (image/jpeg, image/png, ...)", field="content_type"))
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        faults.append(Fault("the file's size in bytes (at least 1)", field="size"))
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha.lower()):
        faults.append(Fault("the file's SHA-256, 64 hexadecimal digits", field="sha256"))
    if faults:
        raise ValidationError("cannot begin this upload", faults)
    limit = max_bytes(store)
    if size > limit:
        raise ContentTooLarge(
            f"the file is {size:,} bytes, over the limit of {limit:,} a file",
            "attachment_max_bytes",
            limit,
            "size",
        )
    now = now_utc()
    store.expire_uploads(now)
    meta = {
        "upload_id": uuid7(),
        "user_name": actor,
        "organisation": organisation_of(store, actor),
        "filename": clean_name(str(name)),
        "content_type": ctype,
        "size": size,
        "sha256": str(sha).lower(),
        "received": 0,
        "created_at": now,
        "expires_at": _later(EXPIRY_HOURS),
        "attachment_id": None,
    }
    store.add_upload(meta)
    return _view(meta)


def _view(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "upload_id": u["upload_id"],
        "filename": u["filename"],
        "size": u["size"],
        "received": u["received"],
        "complete": u["received"] == u["size"],
        "attachment_id": u["attachment_id"],
        "expires_at": None if u["attachment_id"] else u["expires_at"],
    }


def _mine(store: Store, upload_id: str, actor: str) -> dict[str, Any]:
    u = store.upload(upload_id) if len(upload_id) <= 100 else None
    if u is None or u["user_name"] != actor:
        raise NotFound(f"no upload {upload_id!r}")
    if u["attachment_id"] is None and u["expires_at"] < now_utc():
        raise NotFound(f"upload {upload_id} expired: begin it again")
    return u


def status(store: Store, upload_id: str, *, role: str | None, actor: str) -> dict[str, Any]:
    _require(role)
    return _view(_mine(store, upload_id, actor))


def put(
    store: Store,
    upload_id: str,
    content_range: str | None,
    data: bytes,
    *,
    role: str | None,
    actor: str,
) -> dict[str, Any]:
    """Append one chunk (``Content-Range: bytes a-b/size``)."""
    _require(role)
    u = _mine(store, upload_id, actor)
    m = _RANGE.fullmatch((content_range or "").strip())
    where = "Content-Range"
    if m is None:
        raise ValidationError(
            "no byte range", [Fault("'Content-Range: bytes FIRST-LAST/SIZE'", field=where)]
        )
    a, b, total = (int(g) for g in m.groups())
    if total != u["size"] or not a <= b < total:
        raise ValidationError(
            "bad byte range",
            [Fault(f"bytes FIRST-LAST/{u['size']} with FIRST <= LAST < {u['size']}", field=where)],
        )
    if b - a + 1 > MAX_CHUNK:
        raise ContentTooLarge(
            f"a chunk of {b - a + 1:,} bytes is over the limit of {MAX_CHUNK:,}",
            "max_chunk_bytes",
            MAX_CHUNK,
            where,
        )
    if len(data) != b - a + 1:
        raise ValidationError(
            "the chunk is not its range",
            [Fault(f"{len(data)} bytes came for a range of {b - a + 1}", field="body")],
        )
    if u["attachment_id"] is not None:
        return _view(u)  # done: a chunk sent again stores nothing
    try:
        got = store.add_upload_part(upload_id, a, data)
    except ValueError as e:
        raise Conflict(
            f"upload {upload_id} has {e.args[0]} bytes: send from byte {e.args[0]} "
            f"(this chunk begins at {a})"
        ) from None
    if got == u["size"]:
        digest = hashlib.sha256(store.upload_data(upload_id)).hexdigest()
        if digest != u["sha256"]:
            store.reset_upload(upload_id)
            raise ValidationError(
                "the file is not the one declared: its bytes were dropped, send them again",
                [
                    Fault(
                        f"the bytes' SHA-256 is {digest}, not the declared {u['sha256']}",
                        field="sha256",
                    )
                ],
            )
    return _view({**u, "received": got})


def ready(store: Store, upload_id: str, actor: str) -> dict[str, Any]:
    """A finished upload of ``actor``'s, not yet an attachment (an outbox item's photo)."""
    u = _mine(store, upload_id, actor)
    if u["attachment_id"] is not None:
        raise Conflict(f"upload {upload_id} is already attachment {u['attachment_id']}")
    if u["received"] != u["size"]:
        raise Conflict(
            f"upload {upload_id} has {u['received']} of {u['size']} bytes: finish it first"
        )
    return u


def attach(store: Store, u: dict[str, Any], sid: str, actor: str) -> dict[str, Any]:
    """A finished upload as an attachment of submission ``sid`` (the attachment checks)."""
    data = store.upload_data(u["upload_id"])
    meta = add(store, SUBMISSION, sid, u["filename"], data, actor, declared=u["content_type"])
    store.finish_upload(u["upload_id"], meta["attachment_id"])
    return meta
