"""Submissions and review over HTTP (issue 13, docs/intake.md).

* ``GET /api/v1/submissions`` (``?state=``), ``GET /api/v1/submissions/{id}``: what the
  caller's role may see (a submitter its own organisation's; reviewers and admins all); one
  submission with its ``candidates`` and the ``current`` record it would change;
* ``POST /api/v1/submissions/{id}/approve|reject|return`` (JSON body ``{"reason": ...}``;
  approve also ``{"update": RECORD_ID}``: a new record reconciled as an update of that one,
  ``{"merge_into": RECORD_ID}``: merged into it, ``{"link": RECORD_ID}``: linked to it;
  reviewers and admins; with two approval levels an operator of the submission's
  organisation first);
* ``POST /api/v1/records/{kind}/{other}/merge`` (``{"into": SURVIVOR, "reason": ...}``):
  merge two records (services/intake/merge.py).
* ``POST /api/v1/submissions/{id}/submit``: a draft sent for review (its organisation);
* ``GET /api/v1/submissions/report``: the report per organisation.

A write with ``Prefer: draft`` that becomes a submission is kept as a draft.

A write by a field team or an operator anywhere in the API answers ``202 Accepted`` with the
submission (:func:`submitted_response`, the app's handler of
:class:`demine.services.submitting.Submitted`) and its URL in ``Location``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from demine.api.deps import Principal, PrincipalDep, StoreDep, Unauthorized
from demine.errors import Fault, ValidationError
from demine.services import intake

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])
records_router = APIRouter(tags=["submissions"])
URL = "/api/v1/submissions/{}"
MAX_REASON = 2000  # characters of a reason


def submitted_response(sub: dict[str, Any]) -> JSONResponse:
    """202 with what was submitted (never the payload: it may hold fields of other roles)."""
    url = URL.format(sub["id"])
    body = {k: sub[k] for k in ("id", "state", "kind", "action", "organisation", "target_id")}
    headers = {"Location": url}
    if sub["state"] == "draft":
        headers["Preference-Applied"] = "draft"  # the write's ``Prefer: draft`` (RFC 7240)
    return JSONResponse(
        {**body, "url": url, "faults": sub.get("faults") or []},
        status_code=202,
        headers=headers,
    )


def _who(who: Principal) -> str:
    if who.user is None:
        raise Unauthorized("submissions need a token: 'Authorization: Bearer <token>'")
    return who.user


StateQ = Annotated[str | None, Query(description="Only this state", max_length=32)]


@router.get("")
def list_submissions(store: StoreDep, who: PrincipalDep, state: StateQ = None) -> Any:
    user = _who(who)
    return {"submissions": intake.listing(store, who.role, user, state)}


@router.get("/report")
def report(store: StoreDep, who: PrincipalDep) -> Any:
    """Per organisation: submissions by state, approval hours, quality, missing data."""
    return intake.report(store, who.role, _who(who))


@router.get("/{sid}")
def get_submission(store: StoreDep, who: PrincipalDep, sid: str) -> Any:
    from demine.services.intake.compare import side_by_side

    sub = intake.get(store, sid, who.role, _who(who))
    return {**sub, **side_by_side(store, sub, who.role)}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationError(
            "the body is not JSON", [Fault('expected {"reason": "..."}', None, "body")]
        ) from None
    if not isinstance(body, dict):
        body = {}
    for key in ("reason", "update", "merge_into", "link", "into"):
        v = body.get(key)
        if v is not None and (not isinstance(v, str) or len(v) > MAX_REASON):
            raise ValidationError(
                f"bad {key}", [Fault(f"a text of at most {MAX_REASON} characters", None, key)]
            )
    return body


async def _reason(request: Request) -> str | None:
    reason = (await _body(request)).get("reason")
    return None if reason is None else str(reason)


@router.post("/{sid}/approve")
async def approve(request: Request, store: StoreDep, who: PrincipalDep, sid: str) -> Any:
    body = await _body(request)
    return intake.approve(
        store,
        sid,
        role=who.role,
        actor=_who(who),
        reason=body.get("reason"),
        update=body.get("update"),
        merge_into=body.get("merge_into"),
        link=body.get("link"),
    )


@records_router.post("/api/v1/records/{kind}/{other}/merge")
async def merge(request: Request, store: StoreDep, who: PrincipalDep, kind: str, other: str) -> Any:
    from demine.services.intake.merge import merge as merge_

    body = await _body(request)
    into = body.get("into")
    if not isinstance(into, str):
        raise ValidationError(
            "say which record survives", [Fault('{"into": SURVIVOR_ID}', None, "into")]
        )
    return merge_(
        store, kind, into, other, role=who.role, actor=_who(who), reason=body.get("reason")
    )


@router.post("/{sid}/submit")
async def submit(request: Request, store: StoreDep, who: PrincipalDep, sid: str) -> Any:
    """A draft sent for review by its organisation."""
    reason = await _reason(request)
    intake.submit_draft(store, sid, role=who.role, actor=_who(who), reason=reason)
    return intake.get(store, sid, who.role, who.user)


@router.post("/{sid}/reject")
async def reject(request: Request, store: StoreDep, who: PrincipalDep, sid: str) -> Any:
    reason = await _reason(request)
    intake.reject(store, sid, role=who.role, actor=_who(who), reason=reason)
    return intake.get(store, sid, who.role, who.user)


@router.post("/{sid}/return")
async def return_(request: Request, store: StoreDep, who: PrincipalDep, sid: str) -> Any:
    reason = await _reason(request)
    intake.return_(store, sid, role=who.role, actor=_who(who), reason=reason)
    return intake.get(store, sid, who.role, who.user)
