"""OGC API - Features Part 4: create, replace, update (JSON merge patch) and delete features.

The handlers parse the request (body, Content-Crs, If-Match), call :mod:`demine.services.records`
(every rule about what may be written is there) and format the answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from demine.api.deps import Principal, Unauthorized
from demine.api.ogc_common import (
    GEOJSON,
    JSON,
    collection_kind,
    context,
    find_feature,
    is_current,
    item_response,
)
from demine.api.ogc_params import (
    BadRequest,
    PreconditionFailed,
    UnsupportedMediaType,
    check_params,
)
from demine.errors import Conflict, Fault, ValidationError
from demine.geo.crs import CRS84, CrsError, parse_crs
from demine.ids import is_uuid, normalise_id
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services import records
from demine.services.access import require_write
from demine.services.records import WriteContext
from demine.store.base import Store

router = APIRouter(include_in_schema=False)

MERGE_PATCH = "application/merge-patch+json"


async def _raw_body(request: Request) -> bytes:
    return await request.body()


BodyDep = Annotated[bytes, Depends(_raw_body)]


def _writer(store: Store, kind: Kind, who: Principal) -> str:
    if who.user is None or who.role == "public":
        raise Unauthorized("changing features needs a token: 'Authorization: Bearer <token>'")
    require_write(kind, who.role)
    return who.user


def _draft(request: Request) -> bool:
    """``Prefer: draft`` (RFC 7240): a write that becomes a submission is kept as a draft of
    the writer's organisation (docs/intake.md "Drafts"); ignored for a write that is not one."""
    prefs = request.headers.get("prefer", "").split(",")
    return any(p.split(";")[0].strip().lower() == "draft" for p in prefs)


def _parse_body(request: Request, raw: bytes, *, patch: bool = False) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    ok = {GEOJSON, JSON, ""} | ({MERGE_PATCH} if patch else set())
    if ctype not in ok:
        raise UnsupportedMediaType(
            f"send the feature as {GEOJSON}"
            + (f" or {MERGE_PATCH}" if patch else "")
            + f", not {ctype}"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"the body is not JSON: {e}", "body") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object (a GeoJSON Feature)", "body")
    if not patch and body.get("type") != "Feature":
        raise BadRequest('the body must be a GeoJSON Feature ("type": "Feature")', "body")
    props = body.get("properties", {})
    if props is not None and not isinstance(props, dict):
        raise BadRequest("properties must be an object", "properties")
    return body


def _content_crs(request: Request) -> str:
    v = request.headers.get("content-crs")
    if not v:
        return CRS84
    try:
        return parse_crs(v.strip().strip("<>"))
    except CrsError as e:
        raise BadRequest(f"Content-Crs: {e}", "Content-Crs") from None


def _if_match(request: Request, rec: Record) -> int:
    """The revision the write must find: the client's (If-Match), else the one read now."""
    header = request.headers.get("if-match")
    if header is None:
        return rec.revision
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if "*" in tags:
        return rec.revision
    for t in tags:
        if t.startswith("W/"):
            continue  # a weak tag never matches (RFC 9110 strong comparison)
        if is_current(t, rec):
            return rec.revision
    raise PreconditionFailed(
        f"the feature is now at revision {rec.revision}; If-Match {header} is stale: someone "
        "changed it since you read it. Read it again and redo your change."
    )


@contextmanager
def _precondition(request: Request) -> Iterator[None]:
    """A write that lost a race: 412 when the client gave If-Match, else 409."""
    try:
        yield
    except Conflict as e:
        if request.headers.get("if-match") is not None:
            raise PreconditionFailed(f"{e.message}; read it again and redo your change") from None
        raise


def _given_id(body: dict[str, Any]) -> str | None:
    given = body.get("id")
    if given is None and isinstance(body.get("properties"), dict):
        given = body["properties"].get("id")
    if given is None:
        return None
    if not isinstance(given, str) or not is_uuid(given):
        raise ValidationError(
            "a feature id given by the client must be a UUID",
            [Fault(f"{given!r} is not a UUID", None, "id")],
        )
    return normalise_id(given)


def _existing(
    request: Request, cid: str, fid: str
) -> tuple[Store, Principal, Kind, str, Record, int]:
    """What PUT, PATCH and DELETE share: the writer, the feature and the revision it must have."""
    check_params(request, frozenset())
    store, who = context(request)
    kind = collection_kind(store, who, cid)
    actor = _writer(store, kind, who)
    cur = find_feature(store, kind, who, fid)
    return store, who, kind, actor, cur, _if_match(request, cur)


# Part 4 handlers: parse the request, call services.records (every rule is there), format


@router.post("/collections/{cid}/items")
def create_item(request: Request, cid: str, raw: BodyDep) -> Response:
    check_params(request, frozenset())
    store, who = context(request)
    kind = collection_kind(store, who, cid)
    actor = _writer(store, kind, who)
    body = _parse_body(request, raw)
    rec, created = records.create(
        store,
        kind,
        body.get("properties") or {},
        body.get("geometry"),
        rid=_given_id(body),
        ctx=WriteContext(
            role=who.role,
            actor=actor,
            reason="OGC API: create",
            crs=_content_crs(request),
            draft=_draft(request),
        ),
    )
    return item_response(request, kind, rec, who, CRS84, 201 if created else 200)


@router.put("/collections/{cid}/items/{fid}")
def replace_item(request: Request, cid: str, fid: str, raw: BodyDep) -> Response:
    store, who, kind, actor, cur, revision = _existing(request, cid, fid)
    body = _parse_body(request, raw)
    if body.get("id") is not None and (
        not isinstance(body["id"], str)
        or not is_uuid(body["id"])
        or normalise_id(body["id"]) != cur.id
    ):
        raise ValidationError(
            "the feature's id differs from the one in the path",
            [Fault("id must be the id in the path (or left out)", None, "id")],
        )
    with _precondition(request):
        saved = records.replace(
            store,
            kind,
            cur.id,
            body.get("properties") or {},
            body.get("geometry"),
            if_revision=revision,
            ctx=WriteContext(
                role=who.role,
                actor=actor,
                reason="OGC API: replace",
                crs=_content_crs(request),
                draft=_draft(request),
            ),
        )
    return item_response(request, kind, saved, who, CRS84)


@router.patch("/collections/{cid}/items/{fid}")
def update_item(request: Request, cid: str, fid: str, raw: BodyDep) -> Response:
    store, who, kind, actor, cur, revision = _existing(request, cid, fid)
    body = _parse_body(request, raw, patch=True)
    with _precondition(request):
        saved = records.patch(
            store,
            kind,
            cur.id,
            body.get("properties") or {},
            body.get("geometry", ...),
            if_revision=revision,
            ctx=WriteContext(
                role=who.role,
                actor=actor,
                reason="OGC API: update",
                crs=_content_crs(request),
                draft=_draft(request),
            ),
        )
    return item_response(request, kind, saved, who, CRS84)


@router.delete("/collections/{cid}/items/{fid}")
def delete_item(request: Request, cid: str, fid: str) -> Response:
    store, who, kind, actor, cur, revision = _existing(request, cid, fid)
    with _precondition(request):
        records.delete(
            store,
            cur.id,
            if_revision=revision,
            ctx=WriteContext(
                role=who.role, actor=actor, reason="OGC API: delete", draft=_draft(request)
            ),
        )
    return Response(status_code=204)
