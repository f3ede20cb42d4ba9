"""Land-status extracts over HTTP (docs/extract.md), with the same services as ``demine
extract make|verify``.

* ``POST /api/v1/extracts`` — anyone (the public too: an extract holds public data only) asks
  for an extract of a point or a parcel; the answer is the document as ``Accept`` asks:
  ``application/json`` (the signed JSON, the default), ``text/html`` or ``application/pdf``.
  A past ``as_of`` reads the store's whole history, so it is for the analyst role and above;
  everyone else gets the records as they stand now. Bounded: the parcel's area and vertices,
  the radius, the records listed; a stricter rate a client (``extract_rate_per_minute``); at
  most ``PDF_AT_ONCE`` PDFs printed at once (503 with ``Retry-After`` past that). Without a
  signing key configured (``demine serve --extract-key FILE`` or ``DEMINE_EXTRACT_KEY``) it is
  503, naming the option, never the key's path.
* ``POST /api/v1/extracts/verify`` — anyone: the body is the extract file (JSON, HTML or PDF,
  at most 10 MiB) → ``{valid, key_id, changed, changes, message, ...}``.
* ``GET /verify`` — the page where anyone gives an extract file and sees the answer.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from demine.api.bodies import read_bounded
from demine.api.deps import PrincipalDep, StoreDep, Unauthorized
from demine.api.edge import Buckets, client_key
from demine.api.security import DOCUMENT_CSP, link_base
from demine.errors import (
    ContentTooLarge,
    Fault,
    PermissionDenied,
    TooManyRequests,
    ValidationError,
)
from demine.services.access import at_least
from demine.services.extract import NoSigningKey

router = APIRouter(tags=["land-status extracts"])
log = logging.getLogger("demine")

PAST_ROLE = "analyst"  # a past as_of reads the whole history: not for anonymous requests
PDF_AT_ONCE = 2
DEFAULT_RATE_PER_MINUTE = 10
_pdf_slots = threading.BoundedSemaphore(PDF_AT_ONCE)
_buckets_lock = threading.Lock()  # sync routes run in threads: one bucket update at a time
_MEDIA = {
    "application/json": "json",
    "text/html": "html",
    "application/pdf": "pdf",
}


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float
    lon: float


class ExtractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    point: PointIn | None = Field(None, description="A point (WGS 84)")
    parcel: dict[str, Any] | None = Field(
        None, description="A GeoJSON Polygon or MultiPolygon (CRS84)"
    )
    radius_m: float = Field(0.0, description="Also what lies within this many metres")
    lang: str = Field("uk", description="uk or en (both languages are shown)")
    as_of: str | None = Field(None, description="A past date YYYY-MM-DD (analyst and above)")


class NoKeyConfigured(NoSigningKey):
    pass


def _private_key(request: Request) -> Any:
    from demine.services.extract import load_private_key

    path = getattr(request.app.state, "extract_key", None) or os.environ.get("DEMINE_EXTRACT_KEY")
    if not path:
        raise NoKeyConfigured(
            "no signing key configured: start the server with --extract-key FILE (or set "
            "DEMINE_EXTRACT_KEY); demine extract keygen makes one"
        )
    try:
        return load_private_key(path, label="--extract-key")
    except ValidationError as e:
        log.error("the extract signing key cannot be used: %s", e.message)
        raise NoKeyConfigured(
            "the server's signing key cannot be used (--extract-key): the server's log says why"
        ) from None


def _limit(request: Request) -> None:
    state = request.app.state
    per_minute = getattr(state, "extract_rate_per_minute", DEFAULT_RATE_PER_MINUTE)
    if not per_minute:
        return
    peer = request.client
    with _buckets_lock:
        buckets = getattr(state, "extract_buckets", None)
        if buckets is None:
            buckets = state.extract_buckets = Buckets(per_minute)
        wait = buckets.take(client_key(peer.host) if peer else "unknown", 1.0)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        err = TooManyRequests(
            f"more than {per_minute:g} extracts a minute from this client; try again in {retry} s",
            "extract_rate_per_minute",
            float(per_minute),
        )
        err.http_headers = {"Retry-After": str(retry)}  # type: ignore[attr-defined]
        raise err


def _format(request: Request) -> str:
    accept = request.headers.get("accept", "")
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _MEDIA:
            return _MEDIA[media]
    return "json"


@router.post(
    "/api/v1/extracts",
    summary="A signed land-status extract of a point or a parcel (JSON, HTML or PDF)",
    response_class=Response,
    responses={
        200: {
            "description": "The extract, as Accept asks",
            "content": {"application/json": {}, "text/html": {}, "application/pdf": {}},
        },
        400: {"description": "A bad place, or over a limit"},
        403: {"description": "A past as_of below the analyst role"},
        429: {"description": "Too many extracts from this client"},
        503: {"description": "No signing key configured, or the PDF printer is busy"},
    },
)
def make_extract(body: ExtractIn, request: Request, s: StoreDep, who: PrincipalDep) -> Response:
    from demine.services.extract import area_of, canonical, check_as_of, issue
    from demine.services.extract_doc import check_lang, document_html, document_pdf

    _limit(request)
    if (body.point is None) == (body.parcel is None):
        raise ValidationError(
            "no place", [Fault("give point {lat, lon} or parcel (GeoJSON), one", field="point")]
        )
    lang = check_lang(body.lang)
    as_of = check_as_of(body.as_of)
    if as_of is not None and not at_least(who.role, PAST_ROLE):
        if who.user is None:
            raise Unauthorized(f"an extract as of a past date needs an {PAST_ROLE} token")
        raise PermissionDenied(
            f"the {who.role} role cannot ask for a past date ({PAST_ROLE} and above)"
        )
    if body.point is not None:
        geometry: dict[str, Any] = {
            "type": "Point",
            "coordinates": [body.point.lon, body.point.lat],
        }
        where = "point"
    else:
        geometry, where = dict(body.parcel or {}), "parcel"
    area = area_of(geometry, body.radius_m, where=where)
    key = _private_key(request)
    doc = issue(s, area, key, as_of=as_of, lang=lang)
    fmt = _format(request)
    headers = {"Cache-Control": "no-store"}
    name = f"extract-{doc['payload']['extract_id']}"
    if fmt == "json":
        return Response(canonical(doc), media_type="application/json", headers=headers)
    base = link_base(request) or None  # no trusted address: a demine-extract: name
    if fmt == "html":
        return Response(
            document_html(doc, key, base_url=base),
            media_type="text/html; charset=utf-8",
            headers={**headers, "Content-Security-Policy": DOCUMENT_CSP},
        )
    if not _pdf_slots.acquire(blocking=False):
        busy = NoSigningKey("the PDF printer is busy: try again shortly, or ask for HTML")
        busy.http_headers = {"Retry-After": "10"}  # type: ignore[attr-defined]
        raise busy
    try:
        data = document_pdf(doc, key, base_url=base)
    finally:
        _pdf_slots.release()
    return Response(
        data,
        media_type="application/pdf",
        headers={**headers, "Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.post(
    "/api/v1/extracts/verify",
    summary="Check an extract (its file as the body): signature, key, changes since",
    response_class=Response,
    responses={
        200: {"description": "{valid, key_id, changed, changes, message}"},
        400: {"description": "Not an extract"},
        413: {"description": "Larger than 10 MiB"},
    },
    openapi_extra={
        "requestBody": {
            "content": {"application/octet-stream": {}, "application/json": {}},
            "required": True,
        }
    },
)
async def verify_extract(request: Request, s: StoreDep) -> Response:
    from starlette.concurrency import run_in_threadpool

    from demine.services.extract import verify_document
    from demine.services.extract_doc import MAX_FILE_BYTES, read_extract

    def too_large() -> ContentTooLarge:
        return ContentTooLarge(
            f"an extract file is at most {MAX_FILE_BYTES} bytes",
            "max_extract_bytes",
            MAX_FILE_BYTES,
        )

    data = await read_bounded(request, MAX_FILE_BYTES, "an extract file", too_large=too_large)
    doc, seal, sealed = read_extract(data)
    checked = await run_in_threadpool(verify_document, s, doc, seal, sealed)
    return Response(
        orjson.dumps(checked.to_dict()),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.api_route("/verify", methods=["GET", "HEAD"], include_in_schema=False)
def verify_page() -> Response:
    from demine.api.web import WEB

    page = (WEB / "verify.html").read_bytes()
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
