"""The OpenAPI 3.0 definition of the OGC API at /ogc (built by hand, to say exactly what the
endpoints take and give: GeoJSON features, collections, problems). The operations (paths) are
here; the schemas, parameters and shared responses in :mod:`demine.api.ogc_openapi_components`.
"""

from __future__ import annotations

from typing import Any

from demine import __version__
from demine.api.ogc_openapi_components import (
    GEOJSON,
    content_crs_header,
    item_headers,
    location_header,
    parameters,
    ref,
    responses,
    schemas,
)

OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"


def _json_or_html(
    schema: dict[str, Any], description: str, media: str = "application/json"
) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media: {"schema": schema}, "text/html": {"schema": {"type": "string"}}},
    }


_COMMON = {
    "400": ref("responses", "BadRequest"),
    "401": ref("responses", "Unauthorized"),
}


def build_openapi(
    base: str, max_limit: int, collections: list[str] | None = None
) -> dict[str, Any]:
    """The definition for the API whose landing page is ``base`` (``http://host/ogc``)."""
    content_crs = content_crs_header()
    location = location_header()
    feature_headers = item_headers()
    feature_body = {
        "required": True,
        "content": {GEOJSON: {"schema": ref("schemas", "feature")}},
    }
    patch_body = {
        "required": True,
        "content": {
            "application/merge-patch+json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": ["Feature"]},
                        "geometry": ref("schemas", "geometry"),
                        "properties": {"type": "object", "nullable": True},
                    },
                }
            },
            GEOJSON: {"schema": ref("schemas", "feature")},
        },
    }
    writes = {
        **_COMMON,
        "403": ref("responses", "Forbidden"),
        "404": ref("responses", "NotFound"),
        "409": ref("responses", "Conflict"),
        "415": ref("responses", "UnsupportedMediaType"),
        "422": ref("responses", "Invalid"),
    }
    fp = [ref("parameters", "f")]
    item_path = [ref("parameters", "collectionId"), ref("parameters", "featureId")]
    sec: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    paths = {
        "/": {
            "get": {
                "operationId": "getLandingPage",
                "summary": "The landing page",
                "parameters": fp,
                "responses": {
                    "200": _json_or_html(ref("schemas", "landingPage"), "The landing page"),
                    **_COMMON,
                },
            }
        },
        "/conformance": {
            "get": {
                "operationId": "getConformance",
                "summary": "The conformance classes this API meets",
                "parameters": fp,
                "responses": {
                    "200": _json_or_html(ref("schemas", "conformance"), "Conformance classes"),
                    **_COMMON,
                },
            }
        },
        "/api": {
            "get": {
                "operationId": "getApi",
                "summary": "This API definition (OpenAPI 3.0; f=html for a readable page)",
                "parameters": fp,
                "responses": {
                    "200": _json_or_html({"type": "object"}, "The definition", OPENAPI_MEDIA),
                    **_COMMON,
                },
            }
        },
        "/collections": {
            "get": {
                "operationId": "getCollections",
                "summary": "The collections the caller may read",
                "parameters": fp,
                "responses": {
                    "200": _json_or_html(ref("schemas", "collections"), "The collections"),
                    **_COMMON,
                },
            }
        },
        "/collections/{collectionId}": {
            "get": {
                "operationId": "getCollection",
                "summary": "One collection",
                "parameters": [ref("parameters", "collectionId"), *fp],
                "responses": {
                    "200": _json_or_html(ref("schemas", "collection"), "The collection"),
                    **_COMMON,
                    "404": ref("responses", "NotFound"),
                },
            }
        },
        "/collections/{collectionId}/queryables": {
            "get": {
                "operationId": "getQueryables",
                "summary": "What the caller may filter on (JSON Schema)",
                "parameters": [ref("parameters", "collectionId"), *fp],
                "responses": {
                    "200": _json_or_html(
                        {"type": "object", "required": ["type", "properties"]},
                        "The queryables",
                        "application/schema+json",
                    ),
                    **_COMMON,
                    "404": ref("responses", "NotFound"),
                },
            }
        },
        "/collections/{collectionId}/items": {
            "get": {
                "operationId": "getFeatures",
                "summary": "The features of a collection, a page at a time",
                "description": (
                    "Paging: follow the next link (offset). numberMatched is given only when "
                    "cheap: with count=true, or when every match fits in this page."
                ),
                "parameters": [
                    ref("parameters", "collectionId"),
                    *fp,
                    *(
                        ref("parameters", n)
                        for n in (
                            "bbox",
                            "bbox-crs",
                            "datetime",
                            "limit",
                            "offset",
                            "count",
                            "crs",
                            "filter",
                            "filter-lang",
                            "filter-crs",
                        )
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "A page of features",
                        "headers": {"Content-Crs": content_crs},
                        "content": {
                            GEOJSON: {"schema": ref("schemas", "featureCollection")},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    **_COMMON,
                    "404": ref("responses", "NotFound"),
                },
            },
            "post": {
                "operationId": "createFeature",
                "summary": "Add a feature (an id UUID given by the client makes it idempotent)",
                "security": sec,
                "parameters": [
                    ref("parameters", "collectionId"),
                    ref("parameters", "Content-Crs"),
                ],
                "requestBody": feature_body,
                "responses": {
                    "201": {
                        "description": "Created",
                        "headers": {**feature_headers, "Location": location},
                        "content": {GEOJSON: {"schema": ref("schemas", "feature")}},
                    },
                    "200": {
                        "description": "A retry: the feature with this id and content exists",
                        "headers": feature_headers,
                        "content": {GEOJSON: {"schema": ref("schemas", "feature")}},
                    },
                    **writes,
                },
            },
        },
        "/collections/{collectionId}/items/{featureId}": {
            "get": {
                "operationId": "getFeature",
                "summary": "One feature",
                "parameters": [*item_path, *fp, ref("parameters", "crs")],
                "responses": {
                    "200": ref("responses", "Feature"),
                    **_COMMON,
                    "404": ref("responses", "NotFound"),
                },
            },
            "put": {
                "operationId": "replaceFeature",
                "summary": "Replace a feature (a new revision)",
                "security": sec,
                "parameters": [
                    *item_path,
                    ref("parameters", "If-Match"),
                    ref("parameters", "Content-Crs"),
                ],
                "requestBody": feature_body,
                "responses": {
                    "200": ref("responses", "Feature"),
                    **writes,
                    "412": ref("responses", "PreconditionFailed"),
                },
            },
            "patch": {
                "operationId": "updateFeature",
                "summary": "Change some properties (JSON merge patch) or the geometry",
                "security": sec,
                "parameters": [
                    *item_path,
                    ref("parameters", "If-Match"),
                    ref("parameters", "Content-Crs"),
                ],
                "requestBody": patch_body,
                "responses": {
                    "200": ref("responses", "Feature"),
                    **writes,
                    "412": ref("responses", "PreconditionFailed"),
                },
            },
            "delete": {
                "operationId": "deleteFeature",
                "summary": "Delete a feature (a revision: its history is kept)",
                "security": sec,
                "parameters": [*item_path, ref("parameters", "If-Match")],
                "responses": {
                    "204": {"description": "Deleted"},
                    **{k: v for k, v in writes.items() if k not in ("415", "422")},
                    "412": ref("responses", "PreconditionFailed"),
                },
            },
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "demine OGC API - Features",
            "version": __version__,
            "description": (
                "The demine mine action register as OGC API - Features (Parts 1 to 4). "
                "Without a token the public sees public fields only; a token "
                "(Authorization: Bearer) gives the rights of its user's role."
            ),
            "license": {"name": "See the project"},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "parameters": parameters(max_limit, collections),
            "responses": responses(),
            "schemas": schemas(),
        },
    }
