"""Civilians report an explosive object (issue 15, docs/civilian-reports.md): public routes,
no account, each under a per-client limit stricter than the general one.

* ``GET /api/v1/public/reports/challenge`` — a proof-of-work challenge (:mod:`demine.services.pow`);
* ``POST /api/v1/public/reports`` — a report (JSON) with the solved challenge: 201
  ``{code, status, status_url, upload_token, upload_expires_in}``;
* ``POST /api/v1/public/reports/{code}/photo`` — its photo (the body: JPEG or PNG bytes), with
  ``X-Upload-Token``;
* ``GET /api/v1/public/reports/{code}`` — its status (no contact, photo, names or reasons);
* ``GET /api/v1/public/reports/unverified?bbox=`` — pending reports in a box (GeoJSON);
* ``/report`` and ``/report/{code}`` — the status page (en/uk, no inline script).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from demine.api.bodies import parse_json, read_bounded
from demine.api.deps import StoreDep
from demine.api.edge import Buckets, client_key
from demine.api.ogc_params import BadRequest
from demine.errors import Fault, LimitExceeded, NotFound, TooManyRequests, ValidationError
from demine.services import civilian

router = APIRouter(tags=["civilian reports"])

MAX_REPORT_BYTES = 16 * 1024
MAX_PHOTO_BYTES = 10 * 2**20
MAX_BOX_DEG = 2.0  # the unverified layer: a box at most 2 degrees each way (about 220 km)
MAX_FEATURES = 1000
STATUS_FLOOR_S = 0.15  # every status answer takes at least this: known and unknown codes alike
# per client (its address; an IPv6 client's /64): (requests, per seconds)
LIMITS: dict[str, tuple[int, float]] = {
    "challenge": (20, 600.0),
    "report": (5, 600.0),
    "photo": (10, 600.0),
    "status": (30, 60.0),
}
_NO_STORE = {"Cache-Control": "no-store"}


def parse_limits(items: Sequence[str]) -> dict[str, tuple[int, float]]:
    """``NAME=N/SECONDS`` items (``report=5/600``) as limits; a bad one is refused by name."""
    out: dict[str, tuple[int, float]] = {}
    for item in items:
        name, _, value = item.partition("=")
        n_text, _, per_text = value.partition("/")
        try:
            n, per = int(n_text), float(per_text)
        except ValueError:
            n, per = -1, -1.0
        if name.strip() not in LIMITS or n < 1 or not (1.0 <= per <= 86_400.0):
            raise ValidationError(
                "bad --report-limit",
                [
                    Fault(
                        f"{item!r}: expected NAME=N/SECONDS with NAME one of "
                        f"{', '.join(LIMITS)}, N >= 1 and 1 <= SECONDS <= 86400 "
                        "(e.g. report=5/600)",
                        field="--report-limit",
                    )
                ],
            )
        out[name.strip()] = (n, per)
    return out


def _limits(request: Request) -> dict[str, tuple[int, float]]:
    given = getattr(request.app.state, "public_report_limits", None) or {}
    return {**LIMITS, **given}


def _buckets(request: Request, name: str) -> Buckets:
    """The app's bucket set for one limit (made on first use)."""
    state = request.app.state
    have: dict[str, Buckets] | None = getattr(state, "civilian_buckets", None)
    if have is None:
        have = state.civilian_buckets = {}
    if name not in have:
        n, per = _limits(request)[name]
        b = Buckets(n)
        b.capacity, b.rate = float(n), n / per
        have[name] = b
    return have[name]


def _limit(request: Request, name: str) -> None:
    n, per = _limits(request)[name]
    peer = request.client
    wait = _buckets(request, name).take(client_key(peer.host) if peer else "unknown", 1.0)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        exc = TooManyRequests(
            f"more than {n} {name} requests in {per / 60:g} minutes from this client "
            f"(serve --report-limit {name}=N/SECONDS); try again in {retry} s",
            f"public_report_{name}_limit",
            float(n),
        )
        exc.http_headers = {"Retry-After": str(retry)}  # type: ignore[attr-defined]
        raise exc


CodeP = Annotated[str, Path(max_length=20, description="The tracking code (XXXXX-XXXXX)")]


@router.get("/api/v1/public/reports/challenge", summary="A proof-of-work challenge for a report")
def challenge(request: Request, store: StoreDep) -> JSONResponse:
    _limit(request, "challenge")
    from demine.services import pow as pow_

    return JSONResponse(pow_.challenge(store), headers=_NO_STORE)


@router.post("/api/v1/public/reports", status_code=201, summary="Report an explosive object")
async def report(request: Request, store: StoreDep) -> JSONResponse:
    _limit(request, "report")
    body = parse_json(await read_bounded(request, MAX_REPORT_BYTES, "the report"))
    got = await run_in_threadpool(civilian.submit, store, body)
    got["status_url"] = f"/api/v1/public/reports/{got['code']}"
    got["page_url"] = f"/report/{got['code']}"
    return JSONResponse(got, status_code=201, headers=_NO_STORE)


@router.post("/api/v1/public/reports/{code}/photo", status_code=201, summary="A report's photo")
async def photo(request: Request, store: StoreDep, code: CodeP) -> JSONResponse:
    _limit(request, "photo")
    token = request.headers.get("x-upload-token", "")
    if not token:
        raise NotFound("no report with this code: check the code as it was given to you")
    data = await read_bounded(request, MAX_PHOTO_BYTES, "the photo")
    got = await run_in_threadpool(
        civilian.attach_photo,
        store,
        code,
        token,
        data,
        declared=request.headers.get("content-type"),
    )
    return JSONResponse(got, status_code=201, headers=_NO_STORE)


BboxQ = Annotated[str, Query(max_length=200, description="minx,miny,maxx,maxy (CRS84)")]


def _bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        raise BadRequest("bbox is four numbers: minx,miny,maxx,maxy", "bbox") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise BadRequest("bbox is four numbers: minx,miny,maxx,maxy", "bbox")
    minx, miny, maxx, maxy = box
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadRequest("bbox: minx <= maxx within -180..180, miny <= maxy within -90..90", "bbox")
    if maxx - minx > MAX_BOX_DEG or maxy - miny > MAX_BOX_DEG:
        raise LimitExceeded(
            f"the box is over {MAX_BOX_DEG:g} degrees wide or high: zoom in",
            "max_box_degrees",
            MAX_BOX_DEG,
            field="bbox",
        )
    return minx, miny, maxx, maxy


@router.get(
    "/api/v1/public/reports/unverified", summary="Civilian reports not checked yet (GeoJSON)"
)
def unverified(request: Request, store: StoreDep, bbox: BboxQ) -> JSONResponse:
    state = request.app.state
    pending = getattr(state, "pending_reports", None)
    if pending is None:
        pending = state.pending_reports = civilian.PendingReports()
    got = civilian.unverified(store, _bbox(bbox), MAX_FEATURES, pending)
    return JSONResponse(
        got,
        media_type="application/geo+json",
        headers={"Cache-Control": "public, max-age=60"},
    )


@router.get("/api/v1/public/reports/{code}", summary="The status of a report, by its code")
async def status(request: Request, store: StoreDep, code: CodeP) -> JSONResponse:
    start = time.monotonic()
    _limit(request, "status")
    try:
        got: dict[str, Any] | None = await run_in_threadpool(civilian.status, store, code)
    except NotFound:
        got = None
    left = STATUS_FLOOR_S - (time.monotonic() - start)
    if left > 0:
        await asyncio.sleep(left)
    if got is None:
        raise NotFound("no report with this code: check the code as it was given to you")
    return JSONResponse(got, headers=_NO_STORE)


def _page(prefix: str) -> Response:
    from demine.api.web import WEB

    page = (WEB / "report-status.html").read_text(encoding="utf-8")
    if prefix:
        page = page.replace('"static/', f'"{prefix}static/')
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


@router.api_route("/report", methods=["GET", "HEAD"], include_in_schema=False)
def status_page() -> Response:
    return _page("")


@router.api_route("/report/{code}", methods=["GET", "HEAD"], include_in_schema=False)
def status_page_code(code: CodeP) -> Response:
    return _page("../")
