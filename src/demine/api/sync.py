"""The field app's sync over HTTP (issue 14, docs/field.md "Sync"): a field team's or an
operator's token.

* ``POST /api/v1/sync/outbox`` — the device's outbox, each item a submission, idempotent by
  its ``client_id`` (:func:`demine.services.sync.outbox`); 200 with one answer an item;
* ``GET /api/v1/sync/pull?since=CURSOR&limit=N`` — the organisation's submissions changed
  since the cursor;
* ``GET /api/v1/sync/area?bbox=minx,miny,maxx,maxy&layers=a,b`` — the records and reference
  layers within a box, for the device's cache (under the request budget of
  :mod:`demine.api.budget`);
* ``POST /api/v1/uploads``, ``PUT /api/v1/uploads/{id}`` (``Content-Range``), ``GET
  /api/v1/uploads/{id}`` — chunked, resumable uploads (:mod:`demine.services.uploads`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from demine.api.bodies import parse_json, read_bounded
from demine.api.budget import run_budgeted
from demine.api.deps import Principal, PrincipalDep, StoreDep, Unauthorized
from demine.services import sync, uploads

router = APIRouter(tags=["sync"])
_PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Authorization"}


def _who(who: Principal) -> str:
    if who.user is None or who.role == "public":
        raise Unauthorized("the field app's sync needs a token: 'Authorization: Bearer <token>'")
    return who.user


@router.post("/api/v1/sync/outbox", summary="Send the field app's outbox (idempotent by item)")
async def outbox(request: Request, store: StoreDep, who: PrincipalDep) -> Any:
    from starlette.concurrency import run_in_threadpool

    actor = _who(who)
    raw = await read_bounded(request, sync.MAX_OUTBOX_BYTES, "the outbox")
    body = parse_json(raw)
    return await run_in_threadpool(sync.outbox, store, body, role=who.role, actor=actor)


SinceQ = Annotated[str | None, Query(max_length=40, description="The cursor of the last pull")]
LimitQ = Annotated[int | None, Query(description=f"At most {sync.PULL_LIMIT} changes")]


@router.get("/api/v1/sync/pull", summary="What changed of the organisation's submissions")
def pull(store: StoreDep, who: PrincipalDep, since: SinceQ = None, limit: LimitQ = None) -> Any:
    return sync.pull(store, role=who.role, actor=_who(who), since=since, limit=limit)


@router.get("/api/v1/sync/area", summary="Records and reference layers within a box (GeoJSON)")
async def area(
    request: Request,
    store: StoreDep,
    who: PrincipalDep,
    bbox: Annotated[str, Query(max_length=200, description="minx,miny,maxx,maxy (CRS84)")],
    layers: Annotated[str | None, Query(max_length=2000, description="kinds, comma")] = None,
) -> Any:
    _who(who)
    role = who.role

    def work(budget: Any) -> Any:
        return sync.area(store, bbox, layers, role=role, budget=budget)

    return await run_budgeted(request, work)


UploadP = Annotated[str, Path(max_length=100, description="The upload's id")]


@router.post("/api/v1/uploads", status_code=201, summary="Begin a chunked, resumable upload")
async def begin_upload(request: Request, store: StoreDep, who: PrincipalDep) -> Any:
    actor = _who(who)
    body = parse_json(await read_bounded(request, 64 * 1024, "the upload's description"))
    return uploads.create(store, body, role=who.role, actor=actor)


@router.put("/api/v1/uploads/{upload_id}", summary="Send one chunk (Content-Range)")
async def put_chunk(
    request: Request, store: StoreDep, who: PrincipalDep, upload_id: UploadP
) -> Any:
    from starlette.concurrency import run_in_threadpool

    actor = _who(who)
    data = await read_bounded(request, uploads.MAX_CHUNK, "the chunk")
    rng = request.headers.get("content-range")
    return await run_in_threadpool(
        uploads.put, store, upload_id, rng, data, role=who.role, actor=actor
    )


@router.get("/api/v1/uploads/{upload_id}", summary="How many bytes of an upload have come")
def upload_status(store: StoreDep, who: PrincipalDep, upload_id: UploadP) -> Any:
    return uploads.status(store, upload_id, role=who.role, actor=_who(who))
