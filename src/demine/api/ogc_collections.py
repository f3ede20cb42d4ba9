"""OGC API - Features: the collections (one per record kind the caller may read), one
collection, and its queryables (Part 3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from demine.api import ogc_html
from demine.api.deps import Principal
from demine.api.ogc_common import (
    GEOJSON,
    HTML,
    JSON,
    base_url,
    collection_kind,
    context,
    html_response,
    json_response,
    link,
    readable_collections,
    synthetic_text,
    synthetic_title,
)
from demine.api.ogc_cql import queryables_schema
from demine.api.ogc_params import DATE_FIELD, check_params, want_html
from demine.geo.crs import CRS84, SUPPORTED
from demine.model.kinds import Kind
from demine.store.base import Store

router = APIRouter(include_in_schema=False)


def _collection_doc(request: Request, store: Store, kind: Kind, who: Principal) -> dict[str, Any]:
    base = base_url(request)
    c = f"{base}/collections/{kind.name}"
    doc: dict[str, Any] = {
        "id": kind.name,
        "title": synthetic_title(store, kind.title),
        "description": synthetic_text(store, kind.description),
        "itemType": "feature",
        "links": [
            link(c, "self", JSON, kind.title),
            link(c + "?f=html", "alternate", HTML, kind.title),
            link(c + "/items", "items", GEOJSON, "Features"),
            link(c + "/items?f=html", "items", HTML, "Features"),
            link(
                c + "/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "Queryables",
            ),
        ],
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
    }
    extent: dict[str, Any] = {}
    aoi = store.setting("area_of_interest")
    if kind.geometry_type and aoi:
        extent["spatial"] = {"bbox": [list(aoi)], "crs": CRS84}
    if DATE_FIELD.get(kind.name) in kind.field_names:
        extent["temporal"] = {"interval": [[None, None]]}
    if extent:
        doc["extent"] = extent
    return doc


@router.get("/collections")
def collections(request: Request) -> Response:
    check_params(request, frozenset({"f"}))
    html = want_html(request)
    store, who = context(request)
    base = base_url(request)
    body = {
        "links": [
            link(base + "/collections", "self", HTML if html else JSON),
            link(
                base + "/collections?f=" + ("json" if html else "html"),
                "alternate",
                JSON if html else HTML,
            ),
        ],
        "collections": [
            _collection_doc(request, store, k, who) for k in readable_collections(store, who)
        ],
    }
    if html:
        return html_response(ogc_html.collections_page(body))
    return json_response(body)


@router.get("/collections/{cid}")
def collection(request: Request, cid: str) -> Response:
    check_params(request, frozenset({"f"}))
    html = want_html(request)
    store, who = context(request)
    kind = collection_kind(store, who, cid)
    body = _collection_doc(request, store, kind, who)
    if html:
        return html_response(ogc_html.collection_page(body))
    return json_response(body)


@router.get("/collections/{cid}/queryables")
def queryables(request: Request, cid: str) -> Response:
    check_params(request, frozenset({"f"}))
    html = want_html(request)
    store, who = context(request)
    kind = collection_kind(store, who, cid)
    body = queryables_schema(kind, who.role, f"{base_url(request)}/collections/{cid}/queryables")
    if html:
        return html_response(ogc_html.page(f"Queryables of {kind.title}", body))
    return json_response(body, "application/schema+json")
