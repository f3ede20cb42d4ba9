"""OGC API - Features over the store, at ``/ogc``.

Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0), Part 2 (CRS by reference), Part 3 (CQL2 filters,
queryables) and Part 4 (create, replace, update, delete). One collection per record kind the
caller may read and one per reference layer; a collection the caller may not read is a 404, as
if it did not exist. See docs/ogc-api.md for every decision.

Endpoints are plain (synchronous) functions that take the store and the caller in the thread
they run in: a SQLite connection is never shared between the threads of the pool.

This module is the face: the router the app mounts (the landing page, conformance and the API
definition are here), with the handlers of :mod:`demine.api.ogc_collections` (collections,
queryables), :mod:`demine.api.ogc_items` (reading features) and :mod:`demine.api.ogc_write`
(Part 4). What they share is in :mod:`demine.api.ogc_common`; query parameters are parsed in
:mod:`demine.api.ogc_params`, filters in :mod:`demine.api.ogc_cql`, the OpenAPI document is built
in :mod:`demine.api.ogc_openapi`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from demine.api import ogc_collections, ogc_html, ogc_items, ogc_write
from demine.api.ogc_common import (
    GEOJSON,
    HTML,
    JSON,
    base_url,
    context,
    etag,
    feature,
    html_response,
    json_response,
    link,
    readable_collections,
    synthetic_text,
    synthetic_title,
)
from demine.api.ogc_items import DEFAULT_LIMIT, ITEMS_PARAMS, MAX_OFFSET
from demine.api.ogc_openapi import OPENAPI_MEDIA, build_openapi
from demine.api.ogc_params import check_params, want_html
from demine.api.ogc_write import MERGE_PATCH

__all__ = [
    "CONFORMANCE",
    "DEFAULT_LIMIT",
    "GEOJSON",
    "HTML",
    "ITEMS_PARAMS",
    "JSON",
    "MAX_OFFSET",
    "MERGE_PATCH",
    "etag",
    "feature",
    "router",
]

router = APIRouter(include_in_schema=False)  # described by its own document at /ogc/api

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    # every CQL2 class here has its requirements tested on both backends
    # (tests/test_cql_conformance.py, which fails when this list and the tests differ)
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/accent-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]


# --- landing, conformance, OpenAPI -----------------------------------------------------------


@router.get("")
@router.get("/")
def landing(request: Request) -> Response:
    check_params(request, frozenset({"f"}))
    html = want_html(request)
    base = base_url(request)
    store, _who = context(request)
    body: dict[str, Any] = {
        "title": synthetic_title(store, "demine: OGC API - Features"),
        "description": synthetic_text(
            store,
            "The demine mine action register (hazards, finds, EO reports, emplacement records, "
            "device types) and reference layers, as OGC API - Features.",
        ),
        "links": [
            link(base + "/", "self", HTML if html else JSON, "This document"),
            link(
                base + "/?f=" + ("json" if html else "html"),
                "alternate",
                JSON if html else HTML,
                "This document",
            ),
            link(base + "/api", "service-desc", OPENAPI_MEDIA, "The API definition"),
            link(base + "/api?f=html", "service-doc", HTML, "The API documentation"),
            link(base + "/conformance", "conformance", JSON, "Conformance classes"),
            link(base + "/collections", "data", JSON, "The collections"),
        ],
    }
    if html:
        return html_response(ogc_html.page(body["title"], body))
    return json_response(body)


@router.get("/conformance")
def conformance(request: Request) -> Response:
    check_params(request, frozenset({"f"}))
    body = {"conformsTo": CONFORMANCE}
    if want_html(request):
        return html_response(ogc_html.page("Conformance", body))
    return json_response(body)


@router.get("/api")
def api_definition(request: Request) -> Response:
    check_params(request, frozenset({"f"}))
    store, who = context(request)
    names = [k.name for k in readable_collections(store, who)]
    doc = build_openapi(base_url(request), request.app.state.max_limit, names)
    if want_html(request):
        return html_response(ogc_html.api_page(doc))
    return json_response(doc, OPENAPI_MEDIA)


# --- collections, items (reads) and Part 4 writes, in that order ----------------------------

router.include_router(ogc_collections.router)
router.include_router(ogc_items.router)
router.include_router(ogc_write.router)
