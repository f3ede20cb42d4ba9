"""Cleanup over HTTP: the land-release account and certificate of a hazard, and the ranking of
open hazards, with the same services as ``demine release status|certificate`` and
``demine prioritize``.

* ``GET /api/v1/hazards/{hazard_id}/release`` — the account (``demine release status ID
  --json``), for every role that may read hazards; fields the role may not read are left out,
  and the remaining polygon is given as ``remaining_geometry`` (GeoJSON, CRS84).
* ``GET /api/v1/hazards/{hazard_id}/certificate`` — the printable HTML certificate of a
  closed or handed-over hazard. Analyst and above: it prints ``handed_over_to`` (an
  analyst-only field) and the devices found (``finds`` are not public).
* ``GET /api/v1/priorities?top=N&at=YYYY-MM-DD`` — open hazards ranked by civilian impact
  (``demine prioritize --json``), configured as the store says. Analyst and above: operational
  planning data.

No token where one is needed is 401, a role too low is 403, an unknown hazard 404, a
certificate of an open hazard 409, a bad ``top`` or ``at`` 422 (all problem+json).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse

from demine.api.deps import Principal, PrincipalDep, StoreDep, Unauthorized
from demine.api.security import DOCUMENT_CSP
from demine.errors import Fault, NotFound, PermissionDenied, ValidationError
from demine.ids import is_uuid, normalise_id
from demine.services.access import at_least
from demine.store.base import Store

router = APIRouter()

TOP_MAX = 1000
_PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


HazardIdP = Annotated[str, Path(description="The hazard's id (a UUID)")]


def _require(who: Principal, role: str, what: str) -> None:
    """401 without a token, 403 with a role below ``role``."""
    if at_least(who.role, role):
        return
    if who.user is None:
        raise Unauthorized(f"{what} needs an {role} token: 'Authorization: Bearer <token>'")
    raise PermissionDenied(f"the {who.role} role cannot read {what} ({role} and above)")


def _hazard_id(text: str) -> str:
    if not is_uuid(text):
        raise NotFound(f"no hazard {text!r}")
    return normalise_id(text)


def _json(body: dict[str, Any]) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        media_type="application/json",
        headers=_PRIVATE,
    )


def _synthetic(s: Store) -> bool:
    return bool(s.setting("synthetic"))


@router.get(
    "/api/v1/hazards/{hazard_id}/release",
    tags=["land release"],
    summary="A hazard's land-release account: released by type, remaining, can it close",
    response_class=Response,
    responses={
        200: {
            "description": "The account, as `demine release status ID --json` gives it "
            "(fields the role may not read left out), with `remaining_geometry` (GeoJSON)",
            "content": {"application/json": {}},
        },
        401: _problem("A bad or unknown token"),
        404: _problem("No such hazard"),
    },
)
def release_account(s: StoreDep, who: PrincipalDep, hazard_id: HazardIdP) -> Response:
    from demine.services.release import hazard_account

    try:
        acc = hazard_account(s, _hazard_id(hazard_id), role=who.role)
    except NotFound:
        raise NotFound(f"no hazard {hazard_id!r}") from None
    acc["remaining_geometry"] = acc.pop("remaining")
    return _json({"synthetic": _synthetic(s), **acc})


@router.get(
    "/api/v1/hazards/{hazard_id}/certificate",
    tags=["land release"],
    summary="The printable land-release certificate of a closed or handed-over hazard",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The certificate (HTML, print it for signature)"},
        401: _problem("No token, or a bad one"),
        403: _problem("A role below analyst"),
        404: _problem("No such hazard"),
        409: _problem("The hazard is not closed or handed over"),
    },
)
def certificate(s: StoreDep, who: PrincipalDep, hazard_id: HazardIdP) -> HTMLResponse:
    from demine.services.certificate import CERTIFICATE_ROLE, certificate_html

    # 401 without a token (the service itself refuses roles below analyst: 403)
    _require(who, CERTIFICATE_ROLE, "a land-release certificate")
    hid = _hazard_id(hazard_id)
    try:
        text = certificate_html(s, hid, role=who.role)
    except NotFound:
        raise NotFound(f"no hazard {hazard_id!r}") from None
    # its own policy: inline <style> and style="" (the legend), no script, nothing loaded
    return HTMLResponse(text, headers={**_PRIVATE, "Content-Security-Policy": DOCUMENT_CSP})


@router.get(
    "/api/v1/priorities",
    tags=["priorities"],
    summary="Open hazards ranked by civilian impact, each score explained",
    response_class=Response,
    responses={
        200: {
            "description": "`{synthetic, at, config, geometry, missing, hazards}`: `hazards` "
            "as `demine prioritize --json` gives them, `missing` the data missing overall",
            "content": {"application/json": {}},
        },
        401: _problem("No token, or a bad one"),
        403: _problem("A role below analyst"),
        422: _problem("`top` outside 1–1000, or a bad `at` date"),
    },
)
def priorities(
    s: StoreDep,
    who: PrincipalDep,
    top: Annotated[
        int | None,
        Query(
            description=f"The first N hazards only (1–{TOP_MAX})",
            json_schema_extra={"minimum": 1, "maximum": TOP_MAX},
        ),
    ] = None,
    at: Annotated[
        str | None,
        Query(description="Date of the residual-risk estimate, YYYY-MM-DD (today)"),
    ] = None,
) -> Response:
    from demine.services.impact import prioritize, resolve_config
    from demine.services.risk import parse_date

    _require(who, "analyst", "the priorities")
    if top is not None and not 1 <= top <= TOP_MAX:
        raise ValidationError(
            f"top must be 1 to {TOP_MAX}, not {top}",
            [Fault(f"expected 1 to {TOP_MAX}", field="top")],
        )
    day = parse_date(at, "at") if at else None
    synthetic = _synthetic(s)
    result = prioritize(s, resolve_config(s), at=day, top=top, synthetic=synthetic)
    return _json({"synthetic": synthetic, **result.to_dict()})
