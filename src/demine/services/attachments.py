"""Attachments: photos and documents on a record (of any kind) or a submission, kept in the
store (see :mod:`demine.store.core.attachments`), served by role.

* **What is taken**: JPEG, PNG and PDF, known by their first bytes (never by the name: a
  ``.jpg`` that is not a JPEG is refused, naming the file), at most :data:`MAX_BYTES` a file
  (the store setting ``attachment_max_bytes`` changes it) and, for an image,
  :data:`MAX_PIXELS`. An image that Pillow cannot decode is refused. Nothing is stored when a
  check fails.
* **What is read at upload**: for a photo, the EXIF GPS position (``exif_lat``, ``exif_lon``)
  and when it was taken (``DateTimeOriginal``, ``exif_time``: the camera's local time, with
  its offset when the camera gave one), stored beside the file.
* **Two copies**: the original as uploaded, and for an image a public copy re-encoded by
  Pillow with no metadata at all (no EXIF, GPS, XMP, comments, PNG text chunks; the colour
  profile and transparency are kept; an EXIF orientation is applied to the pixels). A PDF has
  no public copy: its metadata cannot be removed reliably, so only roles that may read
  originals get it.
* **Who sees what**: whoever may read the owning record sees that it has attachments and gets
  the public copies; the original, the file name, who uploaded it and the EXIF location and
  time (personal data: where a person stood and when) only go to :func:`may_read_original`
  roles (analyst, reviewer, admin; victim_assistance on victims). Whoever may write a kind may
  attach to its records (:mod:`demine.services.access`).
* **Intake** (issue 13): a field team's or an operator's file on an official record is not
  official either: it becomes a submission (action ``attach``, the file kept with the
  submission) that a reviewer approves like any other, and then moves to the record. A file
  on its own organisation's submission (not decided yet) is stored with it at once, and moves
  to the record the approval writes. A submission's files are seen by its organisation and
  the reviewers only: another organisation's answer 404, as the submission does.
* **Deleted records**: their attachments stay with them, like their history; they are not
  served while the record is deleted, and come back with ``demine restore``.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

from demine.errors import (
    Conflict,
    ContentTooLarge,
    Fault,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from demine.ids import uuid7
from demine.model.kinds import Kind
from demine.model.schema import Record, now_utc
from demine.services.access import (
    can_read_kind,
    can_review,
    for_role,
    require_read,
    require_write,
    submits,
    visible_record,
)
from demine.services.submitting import SUBMISSION, Submitted, organisation_of, pending
from demine.store.base import Store

MAX_BYTES = 10 * 2**20  # per file, unless the store setting attachment_max_bytes says otherwise
SETTING = "attachment_max_bytes"
MAX_PIXELS = 60_000_000  # an image's width x height (a decompression bomb stops here)
MAX_NAME = 200  # characters of a file name kept
# who reads originals, names and EXIF (and see below): reviewers decide on submissions by them
ORIGINAL_ROLES = ("analyst", "reviewer", "admin")
OPEN_STATES = ("draft", "submitted", "returned", "approved_operator")  # a file may be added

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
_MAGIC = ((b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG), (b"%PDF-", PDF))
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL, _ORIENTATION = 0x9003, 0x9011, 0x0112


@dataclass(frozen=True, slots=True)
class Checked:
    """A file that passed every check, with what was read from it."""

    filename: str
    content_type: str
    data: bytes
    public_data: bytes | None
    exif_lat: float | None
    exif_lon: float | None
    exif_time: str | None


# --- checks ---------------------------------------------------------------------------------


def clean_name(filename: str) -> str:
    """The file's own name (no directories, no control characters, at most MAX_NAME)."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:MAX_NAME] or "attachment"


def sniff(data: bytes) -> str | None:
    """The content type the first bytes show (JPEG, PNG or PDF), or None."""
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return ctype
    return None


def max_bytes(store: Store) -> int:
    """The largest file the store takes (setting ``attachment_max_bytes``, else MAX_BYTES)."""
    value = store.setting(SETTING)
    return int(value) if value else MAX_BYTES


def check(
    filename: str, data: bytes, *, limit: int = MAX_BYTES, declared: str | None = None
) -> Checked:
    """Every check of one file, its EXIF read and its public copy made; raises a
    :class:`ValidationError` (or :class:`ContentTooLarge`) naming the file otherwise.
    ``declared``: the content type the sender gave (HTTP), which must agree with the bytes."""
    name = clean_name(filename)
    if len(data) > limit:
        raise ContentTooLarge(
            f"{name}: {len(data):,} bytes is over the limit of {limit:,} bytes "
            f"({limit / 2**20:g} MiB) per attachment",
            SETTING,
            limit,
            field=name,
        )
    if not data:
        raise _bad(name, "the file is empty")
    ctype = sniff(data)
    if ctype is None:
        said = name.rsplit(".", 1)[-1].lower() if "." in name else None
        hint = f" (its name says .{said}, its content is not)" if said else ""
        raise _bad(name, f"not a JPEG, PNG or PDF file{hint}: only these are taken")
    base = (declared or "").split(";")[0].strip().lower()
    if base and base not in ("application/octet-stream", ctype):
        raise _bad(name, f"sent as {base} but the content is {ctype}")
    if ctype == PDF:
        return Checked(name, ctype, data, None, None, None, None)
    lat, lon, when, public = _image(name, ctype, data)
    return Checked(name, ctype, data, public, lat, lon, when)


def _bad(name: str, reason: str) -> ValidationError:
    return ValidationError(f"{name}: {reason}", [Fault(reason, field="file", source=name)])


def _image(
    name: str, ctype: str, data: bytes
) -> tuple[float | None, float | None, str | None, bytes]:
    """(EXIF latitude, longitude, time, public copy) of an image Pillow can decode."""
    from PIL import Image

    kind = "JPEG" if ctype == JPEG else "PNG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=["JPEG", "MPO"] if kind == "JPEG" else [kind])
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise _bad(
                    name,
                    f"the image is {w} x {h} pixels, over the limit of {MAX_PIXELS:,} pixels",
                )
            exif = im.getexif()
            im.load()
    except ValidationError:
        raise
    except Exception as e:  # Pillow raises many kinds (OSError, SyntaxError, ...)
        raise _bad(name, f"not a readable {kind} image ({e})") from None
    lat, lon = _gps(exif)
    when = _taken(exif)
    return lat, lon, when, _public_copy(im, kind, exif)


def _public_copy(im: Any, kind: str, exif: Any) -> bytes:
    """The image re-encoded with no metadata: nothing of ``im.info`` is written but the colour
    profile and transparency; an EXIF orientation is applied to the pixels first."""
    from PIL import ImageOps

    icc = im.info.get("icc_profile")
    transparency = im.info.get("transparency")
    turned = exif.get(_ORIENTATION, 1) not in (None, 1)
    keep = kind == "JPEG" and im.format == "JPEG" and not turned
    if turned:
        im = ImageOps.exif_transpose(im)
    im.info = {}  # comments, XMP, EXIF, PNG text chunks: none is carried over
    out = io.BytesIO()
    params: dict[str, Any] = {}
    if icc:
        params["icc_profile"] = icc
    if kind == "JPEG":
        params["quality"] = "keep" if keep else 92
        if keep:
            params["subsampling"] = "keep"
        if im.mode not in ("RGB", "L", "CMYK"):
            im = im.convert("RGB")
        im.save(out, "JPEG", **params)
    else:
        if transparency is not None:
            params["transparency"] = transparency
        im.save(out, "PNG", optimize=False, **params)
    return out.getvalue()


def _ratio(v: Any) -> float:
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("not finite")
    return f


def _degrees(dms: Any, ref: Any, negative: str) -> float:
    d, m, s = (_ratio(x) for x in dms)
    value = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -value if str(ref).strip().upper() == negative else value


def _gps(exif: Any) -> tuple[float | None, float | None]:
    """The EXIF GPS position (WGS 84 degrees), or (None, None) when absent or unusable."""
    try:
        gps = exif.get_ifd(_GPS_IFD)
        if 2 not in gps or 4 not in gps:
            return None, None
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
    except Exception:  # a broken GPS block is no position, not a refused photo
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lat, 7), round(lon, 7)


_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


def _taken(exif: Any) -> str | None:
    """When the photo was taken (EXIF DateTimeOriginal) as ISO 8601: the camera's local time,
    with its offset (OffsetTimeOriginal) when there is one; None when absent or malformed."""
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        raw = sub.get(_DATETIME_ORIGINAL)
        if isinstance(raw, bytes):
            raw = raw.decode("ascii", "replace")
        m = _EXIF_TIME.match(str(raw or "").strip())
        if m is None:
            return None
        y, mo, d, hh, mi, ss = m.groups()
        text = f"{y}-{mo}-{d}T{hh}:{mi}:{ss}"
        off = str(sub.get(_OFFSET_ORIGINAL) or "").strip()
        return text + off if _OFFSET.fullmatch(off) else text
    except Exception:
        return None


# --- who may see what -------------------------------------------------------------------------


def may_read_original(kind: Kind | None, role: str | None) -> bool:
    """May ``role`` read the originals of the attachments of records of ``kind`` (None: a
    submission): the files as uploaded, their names, who uploaded them and the EXIF location
    and time. None as the role is a local user with every right."""
    if role is None:
        return True
    if kind is not None and not can_read_kind(kind, role):
        return False
    if kind is not None and kind.name == "victims" and role == "victim_assistance":
        return True
    return role in ORIGINAL_ROLES


def view(meta: dict[str, Any], *, original: bool) -> dict[str, Any]:
    """What is shown of an attachment: everything to a role that may read the original;
    otherwise its id, owner, type and time, and whether a public copy exists."""
    public_copy = meta["content_type"] != PDF
    if original:
        out = {k: v for k, v in meta.items() if not k.startswith("exif_")}
        out["exif"] = {"lat": meta["exif_lat"], "lon": meta["exif_lon"], "time": meta["exif_time"]}
        out["public_copy"] = public_copy
        return out
    return {
        "attachment_id": meta["attachment_id"],
        "owner_kind": meta["owner_kind"],
        "owner_id": meta["owner_id"],
        "content_type": meta["content_type"],
        "created_at": meta["created_at"],
        "public_copy": public_copy,
    }


def public_name(meta: dict[str, Any]) -> str:
    """The file name a public copy is served under (the original name is not shown)."""
    return f"attachment-{meta['attachment_id']}.{EXTENSIONS.get(meta['content_type'], 'bin')}"


# --- the use cases ----------------------------------------------------------------------------


def add(
    store: Store,
    owner_kind: str,
    owner_id: str,
    filename: str,
    data: bytes,
    actor: str,
    *,
    declared: str | None = None,
) -> dict[str, Any]:
    """Check and store one file for an owner: a record of ``owner_kind`` (which must exist) or
    a submission (``owner_kind`` "submission"; its existence is the caller's to check). No role
    is checked here: :func:`attach` is the face of records. Returns what is stored (no bytes)."""
    if owner_kind != SUBMISSION:
        store.get(store.kind(owner_kind).name, owner_id)  # NotFound when there is no such record
    got = check(filename, data, limit=max_bytes(store), declared=declared)
    return store.add_attachment(
        _meta(owner_kind, owner_id, got, data, actor), data, got.public_data
    )


def _meta(owner_kind: str, owner_id: str, got: Checked, data: bytes, actor: str) -> dict[str, Any]:
    return {
        "attachment_id": uuid7(),
        "owner_kind": owner_kind,
        "owner_id": owner_id,
        "filename": got.filename,
        "content_type": got.content_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "exif_lat": got.exif_lat,
        "exif_lon": got.exif_lon,
        "exif_time": got.exif_time,
        "created_by": actor,
        "created_at": now_utc(),
    }


def _record(store: Store, record_id: str, kind: str | None, role: str | None) -> Record:
    """The owning record, when ``role`` may see it: PermissionDenied for a kind the role may
    not read, NotFound for a record it may not see (an EO report not marked public)."""
    from demine.services.records import record_id as parse_id

    rid = parse_id(record_id)
    if kind is not None and role is not None:
        require_read(store.kind(kind), role)
    rec = store.get(store.kind(kind).name, rid) if kind else store.locate(rid)
    k = store.kind(rec.kind)
    if role is not None:
        require_read(k, role)
        if not visible_record(k, rec, role):  # a row hidden from the role: as if absent
            raise NotFound(f"no {rec.kind} record {rec.id}")
    return rec


def attach(
    store: Store,
    record_id: str,
    filename: str,
    data: bytes,
    *,
    role: str | None,
    actor: str,
    kind: str | None = None,
    declared: str | None = None,
) -> dict[str, Any]:
    """Attach a file to a record (``kind`` narrows the look-up): whoever may write the
    record's kind may. Returns the attachment as ``role`` may see it."""
    rec = _record(store, record_id, kind, role)
    k = store.kind(rec.kind)
    if role is not None:
        require_write(k, role)
    if submits(role):
        _submit_attachment(store, rec, filename, data, actor, declared)
    meta = add(store, rec.kind, rec.id, filename, data, actor, declared=declared)
    return view(meta, original=may_read_original(k, role))


def _submit_attachment(
    store: Store, rec: Record, filename: str, data: bytes, actor: str, declared: str | None
) -> None:
    """A submitter's file on an official record: checked as any file, then stored with a new
    submission (action ``attach``; its payload what is known of the file but its EXIF, which
    only the roles reading originals see) and :class:`Submitted` raised."""
    got = check(filename, data, limit=max_bytes(store), declared=declared)
    meta = _meta(SUBMISSION, "", got, data, actor)
    payload = {k: meta[k] for k in ("attachment_id", "filename", "content_type", "size", "sha256")}
    sub = pending(
        store,
        actor=actor,
        kind=rec.kind,
        action="attach",
        payload=payload,
        target_id=rec.id,
        base_revision=rec.revision,
    )
    meta["owner_id"] = sub["id"]
    try:
        store.add_attachment(meta, data, got.public_data)
    except Exception:  # the file could not be kept: the submission is withdrawn, not left empty
        store.change_submission(
            sub["id"],
            state="rejected",
            actor=actor,
            reason="the file could not be stored",
            expect=(sub["state"],),
        )
        raise
    raise Submitted(sub)


def _submission(store: Store, sid: str, role: str | None, actor: str | None) -> dict[str, Any]:
    """A submission ``role`` may see (reviewers: every one; a submitter: its organisation's,
    another's is NotFound; other roles PermissionDenied)."""
    from demine.services.intake import get as get_submission

    return get_submission(store, sid, role, actor)


def _submission_file(
    store: Store, meta: dict[str, Any], role: str | None, actor: str | None
) -> None:
    """May ``role`` read this file of a submission: reviewers every one; a submitter its
    organisation's (another's does not exist for it: NotFound); other roles none."""
    if can_review(role):
        return
    if submits(role):
        rows = store.submissions(sid=meta["owner_id"])
        if not rows or rows[0]["organisation"] != organisation_of(store, actor or ""):
            raise NotFound(f"no attachment {meta['attachment_id']!r}")
        return
    raise PermissionDenied(
        f"the {role} role cannot read the attachments of submissions (their organisation's "
        "submitters and the reviewers may)"
    )


def attach_submission(
    store: Store,
    sid: str,
    filename: str,
    data: bytes,
    *,
    role: str | None,
    actor: str,
    declared: str | None = None,
) -> dict[str, Any]:
    """Attach a file to a submission not decided yet: its organisation's submitters and the
    reviewers may (it is not official: stored at once)."""
    sub = _submission(store, sid, role, actor)
    if sub["state"] not in OPEN_STATES:
        raise Conflict(
            f"submission {sid} is {sub['state']}: a file can be added to a submission not "
            "decided yet only"
        )
    meta = add(store, SUBMISSION, sub["id"], filename, data, actor, declared=declared)
    return view(meta, original=may_read_original(None, role))


def list_submission(
    store: Store, sid: str, *, role: str | None, actor: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A submission and its attachments, as ``role`` may see them."""
    sub = _submission(store, sid, role, actor)
    original = may_read_original(None, role)
    return sub, [view(m, original=original) for m in store.attachments(SUBMISSION, sub["id"])]


def list_record(
    store: Store, record_id: str, *, role: str | None, kind: str | None = None
) -> tuple[Record, list[dict[str, Any]]]:
    """A record and its attachments, as ``role`` may see them."""
    rec = _record(store, record_id, kind, role)
    original = may_read_original(store.kind(rec.kind), role)
    return rec, [view(m, original=original) for m in store.attachments(rec.kind, rec.id)]


def get(
    store: Store,
    attachment_id: str,
    *,
    role: str | None,
    public: bool | None = None,
    owner: tuple[str, str] | None = None,
    actor: str | None = None,
) -> tuple[dict[str, Any], bytes, str]:
    """(what is shown of it, with ``copy``: "original" or "public"; the bytes; the file name
    to serve them under) of one attachment.

    ``public``: True for the public copy, False for the original (refused to a role that may
    not read it), None for the original when the role may read it, else the public copy.
    ``owner``: (kind, record id) the caller reached it through; another owner is NotFound.
    ``actor``: who asks (a submitter sees its own organisation's submissions' files only)."""
    meta = store.attachment(attachment_id)
    if meta is None or (owner is not None and (meta["owner_kind"], meta["owner_id"]) != owner):
        raise NotFound(f"no attachment {attachment_id!r}")
    kind: Kind | None = None
    if meta["owner_kind"] == SUBMISSION:
        _submission_file(store, meta, role, actor)
    else:
        try:
            rec = store.get(meta["owner_kind"], meta["owner_id"])
        except NotFound:
            raise NotFound(
                f"attachment {attachment_id} belongs to {meta['owner_kind']} record "
                f"{meta['owner_id']}, which is deleted: 'demine restore' brings both back"
            ) from None
        kind = store.kind(rec.kind)
        if role is not None and for_role(kind, rec, role) is None:
            raise NotFound(f"no attachment {attachment_id!r}")
    original = may_read_original(kind, role)
    if public is False and not original:
        raise PermissionDenied(
            f"the {role} role cannot read original attachments (with their EXIF location): "
            f"that needs the {' or '.join(ORIGINAL_ROLES)} role; the public copy is served "
            "to every role that may read the record"
        )
    want_public = public is True or not original
    if want_public:
        data = store.attachment_data(attachment_id, public=True)
        if data is None:
            raise (NotFound if original else PermissionDenied)(
                f"attachment {attachment_id} is a PDF: it has no public copy (a PDF's metadata "
                "cannot be removed reliably), so only the "
                f"{' or '.join(ORIGINAL_ROLES)} role may read it, as the original"
            )
        return {**view(meta, original=original), "copy": "public"}, data, public_name(meta)
    data = store.attachment_data(attachment_id, public=False)
    assert data is not None
    return {**view(meta, original=True), "copy": "original"}, data, meta["filename"]
