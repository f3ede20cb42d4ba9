"""Attachments over HTTP, with the same service as ``demine attach``, ``demine attachments``
and ``demine attachment get`` (:mod:`demine.services.attachments`).

* ``POST /api/v1/records/{kind}/{record_id}/attachments?filename=NAME`` — the file is the raw
  body (``Content-Type: image/jpeg``, ``image/png``, ``application/pdf`` or
  ``application/octet-stream``; the type is read from the bytes and must agree); the name
  from ``filename`` or a ``Content-Disposition`` header. Whoever may write the kind may (a
  token is needed). 201 with the attachment and its ``Location``; a type not taken or a file
  that is not what it says 422, a file over the limit 413 (the body is bounded before by the
  server's ``max_body_bytes``).
* ``GET /api/v1/records/{kind}/{record_id}/attachments`` — the record's attachments, for every
  role that may read the record: names, uploader and the EXIF location and time only for the
  roles that may read originals (analyst, admin).
* ``GET /api/v1/records/{kind}/{record_id}/attachments/{attachment_id}?copy=original|public``
  — the file: the original for the roles that may read it, otherwise (or with
  ``copy=public``) the public copy without metadata; a PDF has none (403 for those roles).
* ``POST|GET /api/v1/submissions/{sid}/attachments``, ``GET .../attachments/{attachment_id}``
  — the same for a submission (issue 13): its organisation's submitters and the reviewers;
  another organisation's answers 404. A submitter's ``POST`` on a record answers 202 with the
  submission it became (action ``attach``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from demine.api.deps import Principal, PrincipalDep, StoreDep, Unauthorized
from demine.errors import NotFound
from demine.services.access import can_read_kind
from demine.store.base import Store

router = APIRouter(tags=["attachments"])

_PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Authorization"}
_DISPOSITION_NAME = re.compile(r"""filename\s*=\s*"?([^";]+)"?""", re.IGNORECASE)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


BodyDep = Annotated[bytes, Depends(_raw_body)]
KindP = Annotated[str, Path(description="The record's kind (hazards, finds, ...)")]
RecordP = Annotated[str, Path(description="The record's id (a UUID)")]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
        headers={**_PRIVATE, **(headers or {})},
    )


def _readable(s: Store, who: Principal, kind: str) -> None:
    """A kind the role may not read does not exist for it (404), as in the OGC API."""
    if not can_read_kind(s.kind(kind), who.role):
        raise NotFound(f"no collection {kind!r}")


def _filename(request: Request, given: str | None) -> str:
    if given:
        return given
    m = _DISPOSITION_NAME.search(request.headers.get("content-disposition", ""))
    return m.group(1).strip() if m else "attachment"


@router.post(
    "/api/v1/records/{kind}/{record_id}/attachments",
    summary="Attach a photo or document (JPEG, PNG, PDF: the raw body) to a record",
    response_class=Response,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file itself (at most 10 MiB unless the store says otherwise)",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "application/pdf", "application/octet-stream")
            },
        }
    },
    responses={
        201: {"description": "Stored: the attachment as the role may see it"},
        401: _problem("No token, or a bad one"),
        403: _problem("The role may not write this kind"),
        404: _problem("No such record"),
        413: _problem("The file is over the limit"),
        422: _problem("Not a JPEG, PNG or PDF, or not what it says it is (the file is named)"),
    },
)
def add_attachment(
    request: Request,
    s: StoreDep,
    who: PrincipalDep,
    kind: KindP,
    record_id: RecordP,
    raw: BodyDep,
    filename: Annotated[
        str | None, Query(max_length=1000, description="The file's name (kept for reviewers)")
    ] = None,
) -> Response:
    from demine.services.attachments import attach

    _readable(s, who, kind)
    if who.user is None or who.role == "public":
        raise Unauthorized("attaching a file needs a token: 'Authorization: Bearer <token>'")
    att = attach(
        s,
        record_id,
        _filename(request, filename),
        raw,
        role=who.role,
        actor=who.user,
        kind=kind,
        declared=request.headers.get("content-type"),
    )
    loc = f"/api/v1/records/{att['owner_kind']}/{att['owner_id']}/attachments/"
    return _json(att, 201, {"Location": loc + att["attachment_id"]})


@router.get(
    "/api/v1/records/{kind}/{record_id}/attachments",
    summary="A record's attachments (EXIF location and time for the roles that read originals)",
    response_class=Response,
    responses={200: {"description": "The attachments"}, 404: _problem("No such record")},
)
def list_attachments(s: StoreDep, who: PrincipalDep, kind: KindP, record_id: RecordP) -> Response:
    from demine.services.attachments import list_record

    _readable(s, who, kind)
    rec, atts = list_record(s, record_id, role=who.role, kind=kind)
    return _json({"kind": rec.kind, "id": rec.id, "attachments": atts})


@router.get(
    "/api/v1/records/{kind}/{record_id}/attachments/{attachment_id}",
    summary="An attachment's file: the original for the roles that may read it, else the "
    "public copy without metadata",
    response_class=Response,
    responses={
        200: {"description": "The file", "content": {"image/jpeg": {}, "image/png": {}}},
        403: _problem("A PDF (no public copy) or copy=original for a role that may not"),
        404: _problem("No such record or attachment"),
    },
)
def get_attachment(
    s: StoreDep,
    who: PrincipalDep,
    kind: KindP,
    record_id: RecordP,
    attachment_id: Annotated[str, Path(description="The attachment's id")],
    copy: Annotated[
        Literal["original", "public"] | None,
        Query(description="original or public (default: the original when the role may)"),
    ] = None,
) -> Response:
    from demine.services.attachments import get, list_record

    _readable(s, who, kind)
    rec, _ = list_record(s, record_id, role=who.role, kind=kind)  # 404 for the record
    meta, data, name = get(
        s,
        attachment_id,
        role=who.role,
        public=None if copy is None else copy == "public",
        owner=(rec.kind, rec.id),
    )
    return _file(meta, data, name)


# --- a submission's attachments (issue 13): its organisation's submitters and the reviewers --

SubmissionP = Annotated[str, Path(description="The submission's id")]


def _submitter(who: Principal) -> str:
    if who.user is None or who.role == "public":
        raise Unauthorized(
            "a submission's attachments need a token: 'Authorization: Bearer <token>'"
        )
    return who.user


def _file(meta: dict[str, Any], data: bytes, name: str) -> Response:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return Response(
        data,
        media_type=meta["content_type"],
        headers={
            **_PRIVATE,
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name, safe='')}",
        },
    )


@router.post(
    "/api/v1/submissions/{sid}/attachments",
    summary="Attach a photo or document (the raw body) to a submission not decided yet",
    response_class=Response,
    status_code=201,
    responses={
        201: {"description": "Stored: it moves to the record when the submission is approved"},
        401: _problem("No token, or a bad one"),
        403: _problem("A role that sees no submissions"),
        404: _problem("No such submission (or another organisation's)"),
        409: _problem("The submission is decided"),
        413: _problem("The file is over the limit"),
        422: _problem("Not a JPEG, PNG or PDF, or not what it says it is (the file is named)"),
    },
)
def add_submission_attachment(
    request: Request,
    s: StoreDep,
    who: PrincipalDep,
    sid: SubmissionP,
    raw: BodyDep,
    filename: Annotated[
        str | None, Query(max_length=1000, description="The file's name (kept for reviewers)")
    ] = None,
) -> Response:
    from demine.services.attachments import attach_submission

    att = attach_submission(
        s,
        sid,
        _filename(request, filename),
        raw,
        role=who.role,
        actor=_submitter(who),
        declared=request.headers.get("content-type"),
    )
    loc = f"/api/v1/submissions/{att['owner_id']}/attachments/{att['attachment_id']}"
    return _json(att, 201, {"Location": loc})


@router.get(
    "/api/v1/submissions/{sid}/attachments",
    summary="A submission's attachments",
    response_class=Response,
    responses={
        200: {"description": "The attachments"},
        404: _problem("No such submission (or another organisation's)"),
    },
)
def list_submission_attachments(s: StoreDep, who: PrincipalDep, sid: SubmissionP) -> Response:
    from demine.services.attachments import list_submission

    sub, atts = list_submission(s, sid, role=who.role, actor=_submitter(who))
    return _json({"kind": "submission", "id": sub["id"], "attachments": atts})


@router.get(
    "/api/v1/submissions/{sid}/attachments/{attachment_id}",
    summary="A submission's attachment's file (the original for reviewers, else the public copy)",
    response_class=Response,
    responses={
        200: {"description": "The file", "content": {"image/jpeg": {}, "image/png": {}}},
        403: _problem("A PDF (no public copy) or copy=original for a role that may not"),
        404: _problem("No such submission (or another organisation's) or attachment"),
    },
)
def get_submission_attachment(
    s: StoreDep,
    who: PrincipalDep,
    sid: SubmissionP,
    attachment_id: Annotated[str, Path(description="The attachment's id")],
    copy: Annotated[
        Literal["original", "public"] | None,
        Query(description="original or public (default: the original when the role may)"),
    ] = None,
) -> Response:
    from demine.services.attachments import get, list_submission
    from demine.services.submitting import SUBMISSION

    actor = _submitter(who)
    sub, _ = list_submission(s, sid, role=who.role, actor=actor)  # 404 for the submission
    meta, data, name = get(
        s,
        attachment_id,
        role=who.role,
        public=None if copy is None else copy == "public",
        owner=(SUBMISSION, sub["id"]),
        actor=actor,
    )
    return _file(meta, data, name)
