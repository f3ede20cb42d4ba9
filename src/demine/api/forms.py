"""Form specifications over HTTP (issue 14, :mod:`demine.services.forms`).

* ``GET /api/v1/forms``: the forms the caller's role may fill in (kind, title, version);
* ``GET /api/v1/forms/{kind}``: one form's specification, with an ETag (``If-None-Match``
  answers 304). A token is needed (401 without); a role that may not write the kind is 403.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from demine.api.deps import Principal, PrincipalDep, StoreDep, Unauthorized
from demine.api.security import if_none_match, role_etag
from demine.services import forms

router = APIRouter(prefix="/api/v1/forms", tags=["forms"])


def _who(who: Principal) -> str:
    if who.user is None:
        raise Unauthorized("forms need a token: 'Authorization: Bearer <token>'")
    return who.user


@router.get("", summary="The forms the caller's role may fill in")
def list_forms(store: StoreDep, who: PrincipalDep) -> Any:
    _who(who)
    return {"forms": forms.form_list(store, who.role)}


@router.get("/{kind}", summary="One form's specification (ETag)")
def get_form(request: Request, kind: str, store: StoreDep, who: PrincipalDep) -> Response:
    _who(who)
    spec = forms.form_spec(store, kind, who.role)
    tag = role_etag(who.role, spec["version"])
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if if_none_match(request, tag):
        return Response(status_code=304, headers=headers)
    return Response(orjson.dumps(spec), media_type="application/json", headers=headers)
