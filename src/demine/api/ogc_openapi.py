"""The OpenAPI 3.0 definition of the OGC API at /ogc (built by hand, to say exactly what the
endpoints take and give: GeoJSON features, collections, problems)."""

from __future__ import annotations

from typing import Any

from demine import __version__
from demine.geo.crs import CRS84, SUPPORTED

OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"
PROBLEM = "application/problem+json"
GEOJSON = "application/geo+json"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": _ref("schemas", "problem")}},
    }
    if headers:
        r["headers"] = headers
    return r


def _json_or_html(
    schema: dict[str, Any], description: str, media: str = "application/json"
) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media: {"schema": schema}, "text/html": {"schema": {"type": "string"}}},
    }


_COMMON = {
    "400": _ref("responses", "BadRequest"),
    "401": _ref("responses", "Unauthorized"),
}


def build_openapi(
    base: str, max_limit: int, collections: list[str] | None = None
) -> dict[str, Any]:
    """The definition for the API whose landing page is ``base`` (``http://host/ogc``)."""
    cid_schema: dict[str, Any] = {"type": "string"}
    if collections:
        cid_schema = {"type": "string", "enum": collections}
    link = {
        "type": "object",
        "required": ["href"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    geometry = {
        "type": "object",
        "nullable": True,
        "required": ["type"],
        "properties": {
            "type": {
                "type": "string",
                "enum": [
                    "Point",
                    "MultiPoint",
                    "LineString",
                    "MultiLineString",
                    "Polygon",
                    "MultiPolygon",
                    "GeometryCollection",
                ],
            },
            "coordinates": {"type": "array"},
            "geometries": {"type": "array"},
        },
    }
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string", "description": "The record id (a UUID)"},
            "geometry": _ref("schemas", "geometry"),
            "properties": {"type": "object", "nullable": True},
            "links": {"type": "array", "items": _ref("schemas", "link")},
        },
    }
    feature_collection = {
        "type": "object",
        "required": ["type", "features", "numberReturned", "timeStamp", "links"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _ref("schemas", "feature")},
            "links": {"type": "array", "items": _ref("schemas", "link")},
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    }
    collection = {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": {"type": "array", "items": _ref("schemas", "link")},
            "itemType": {"type": "string"},
            "crs": {"type": "array", "items": {"type": "string"}},
            "storageCrs": {"type": "string"},
            "extent": {
                "type": "object",
                "properties": {
                    "spatial": {
                        "type": "object",
                        "properties": {
                            "bbox": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "minItems": 4,
                                    "maxItems": 6,
                                    "items": {"type": "number"},
                                },
                            },
                            "crs": {"type": "string"},
                        },
                    },
                    "temporal": {
                        "type": "object",
                        "properties": {
                            "interval": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "minItems": 2,
                                    "maxItems": 2,
                                    "items": {"type": "string", "nullable": True},
                                },
                            }
                        },
                    },
                },
            },
        },
    }
    problem = {
        "type": "object",
        "required": ["title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "parameter": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer", "nullable": True},
                        "field": {"type": "string", "nullable": True},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    }
    crs_enum = {"type": "string", "enum": list(SUPPORTED), "default": CRS84}
    params: dict[str, Any] = {
        "f": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": "The format of the answer (otherwise from the Accept header)",
            "schema": {"type": "string", "enum": ["json", "html"]},
        },
        "collectionId": {
            "name": "collectionId",
            "in": "path",
            "required": True,
            "description": "A record kind or a reference layer",
            "schema": cid_schema,
        },
        "featureId": {
            "name": "featureId",
            "in": "path",
            "required": True,
            "description": "The record id (a UUID)",
            "schema": {"type": "string"},
        },
        "bbox": {
            "name": "bbox",
            "in": "query",
            "required": False,
            "description": (
                "Features whose geometry intersects this box: minx,miny,maxx,maxy (or 6 numbers "
                "with heights, which are ignored), in the axis order of bbox-crs (CRS84: "
                "lon,lat; EPSG:4326: lat,lon). Boxes across the antimeridian are not supported."
            ),
            "style": "form",
            "explode": False,
            "schema": {
                "type": "array",
                "minItems": 4,
                "maxItems": 6,
                "items": {"type": "number"},
            },
        },
        "bbox-crs": {
            "name": "bbox-crs",
            "in": "query",
            "required": False,
            "description": "The CRS of bbox",
            "schema": crs_enum,
        },
        "crs": {
            "name": "crs",
            "in": "query",
            "required": False,
            "description": "The CRS of the answer's geometries (see the Content-Crs header)",
            "schema": crs_enum,
        },
        "datetime": {
            "name": "datetime",
            "in": "query",
            "required": False,
            "description": (
                "An instant or interval (a/b, '..' for an open end), RFC 3339, applied to the "
                "collection's main date (hazards reported_on, finds found_at, eo_reports "
                "reported_at, emplacements laid_at, risk_updates learned_at). Collections "
                "without one (device types, reference layers) answer 400."
            ),
            "schema": {"type": "string"},
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": (
                f"Features per page; default 100. A larger value than {max_limit} is capped "
                f"at {max_limit} (not an error)."
            ),
            "schema": {"type": "integer", "minimum": 1, "default": 100},
        },
        "offset": {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "Matching features to skip (the next and prev links carry it)",
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        "count": {
            "name": "count",
            "in": "query",
            "required": False,
            "description": (
                "true: give numberMatched (counts every match; costs a full scan when filtered)."
                " Without it numberMatched is given only when the answer fits in one page."
            ),
            "schema": {"type": "boolean", "default": False},
        },
        "filter": {
            "name": "filter",
            "in": "query",
            "required": False,
            "description": "A CQL2 filter over the queryables (see filter-lang)",
            "schema": {"type": "string"},
        },
        "filter-lang": {
            "name": "filter-lang",
            "in": "query",
            "required": False,
            "description": "The language of filter",
            "schema": {
                "type": "string",
                "enum": ["cql2-text", "cql2-json"],
                "default": "cql2-text",
            },
        },
        "filter-crs": {
            "name": "filter-crs",
            "in": "query",
            "required": False,
            "description": "The CRS of geometries in filter",
            "schema": crs_enum,
        },
        "If-Match": {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "description": (
                "The ETag read before: the change is made only if the feature is still at that "
                "revision (412 otherwise). Without it, the revision read by the same request."
            ),
            "schema": {"type": "string"},
        },
        "Content-Crs": {
            "name": "Content-Crs",
            "in": "header",
            "required": False,
            "description": "The CRS of the geometry sent (default CRS84), as <uri>",
            "schema": {"type": "string", "enum": [f"<{c}>" for c in SUPPORTED]},
        },
    }
    etag = {
        "description": 'Strong entity tag "<id>-<revision>-<role>" (each role is shown its own '
        "fields, so has its own tag); If-Match takes any role's tag of the current revision",
        "schema": {"type": "string"},
    }
    content_crs = {"description": "The CRS of the geometries, <uri>", "schema": {"type": "string"}}
    location = {"description": "The new feature's URL", "schema": {"type": "string"}}
    item_headers = {"ETag": etag, "Content-Crs": content_crs}
    responses = {
        "BadRequest": _problem("A bad parameter (named in 'parameter') or body"),
        "Unauthorized": _problem(
            "A bad token, or none where one is needed",
            {"WWW-Authenticate": {"schema": {"type": "string"}}},
        ),
        "Forbidden": _problem("The caller's role may not do this"),
        "NotFound": _problem("No such collection or feature (or not one the caller may see)"),
        "Conflict": _problem("The id is taken, or the feature changed during the request"),
        "PreconditionFailed": _problem("If-Match is stale: the feature changed since it was read"),
        "UnsupportedMediaType": _problem("The body is not GeoJSON"),
        "Invalid": _problem("The feature breaks the rules; 'errors' lists every fault"),
        "Feature": {
            "description": "A feature",
            "headers": item_headers,
            "content": {
                GEOJSON: {"schema": _ref("schemas", "feature")},
                "text/html": {"schema": {"type": "string"}},
            },
        },
    }
    feature_body = {
        "required": True,
        "content": {GEOJSON: {"schema": _ref("schemas", "feature")}},
    }
    patch_body = {
        "required": True,
        "content": {
            "application/merge-patch+json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": ["Feature"]},
                        "geometry": _ref("schemas", "geometry"),
                        "properties": {"type": "object", "nullable": True},
                    },
                }
            },
            GEOJSON: {"schema": _ref("schemas", "feature")},
        },
    }
    writes = {
        **_COMMON,
        "403": _ref("responses", "Forbidden"),
        "404": _ref("responses", "NotFound"),
        "409": _ref("responses", "Conflict"),
        "415": _ref("responses", "UnsupportedMediaType"),
        "422": _ref("responses", "Invalid"),
    }
    fp = [_ref("parameters", "f")]
    item_path = [_ref("parameters", "collectionId"), _ref("parameters", "featureId")]
    sec: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    paths = {
        "/": {
            "get": {
                "operationId": "getLandingPage",
                "summary": "The landing page",
                "parameters": fp,
                "responses": {
                    "200": _json_or_html(_ref("schemas", "landingPage"), "The landing page"),
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
                    "200": _json_or_html(_ref("schemas", "conformance"), "Conformance classes"),
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
                    "200": _json_or_html(_ref("schemas", "collections"), "The collections"),
                    **_COMMON,
                },
            }
        },
        "/collections/{collectionId}": {
            "get": {
                "operationId": "getCollection",
                "summary": "One collection",
                "parameters": [_ref("parameters", "collectionId"), *fp],
                "responses": {
                    "200": _json_or_html(_ref("schemas", "collection"), "The collection"),
                    **_COMMON,
                    "404": _ref("responses", "NotFound"),
                },
            }
        },
        "/collections/{collectionId}/queryables": {
            "get": {
                "operationId": "getQueryables",
                "summary": "What the caller may filter on (JSON Schema)",
                "parameters": [_ref("parameters", "collectionId"), *fp],
                "responses": {
                    "200": _json_or_html(
                        {"type": "object", "required": ["type", "properties"]},
                        "The queryables",
                        "application/schema+json",
                    ),
                    **_COMMON,
                    "404": _ref("responses", "NotFound"),
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
                    _ref("parameters", "collectionId"),
                    *fp,
                    *(
                        _ref("parameters", n)
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
                            GEOJSON: {"schema": _ref("schemas", "featureCollection")},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    **_COMMON,
                    "404": _ref("responses", "NotFound"),
                },
            },
            "post": {
                "operationId": "createFeature",
                "summary": "Add a feature (an id UUID given by the client makes it idempotent)",
                "security": sec,
                "parameters": [
                    _ref("parameters", "collectionId"),
                    _ref("parameters", "Content-Crs"),
                ],
                "requestBody": feature_body,
                "responses": {
                    "201": {
                        "description": "Created",
                        "headers": {**item_headers, "Location": location},
                        "content": {GEOJSON: {"schema": _ref("schemas", "feature")}},
                    },
                    "200": {
                        "description": "A retry: the feature with this id and content exists",
                        "headers": item_headers,
                        "content": {GEOJSON: {"schema": _ref("schemas", "feature")}},
                    },
                    **writes,
                },
            },
        },
        "/collections/{collectionId}/items/{featureId}": {
            "get": {
                "operationId": "getFeature",
                "summary": "One feature",
                "parameters": [*item_path, *fp, _ref("parameters", "crs")],
                "responses": {
                    "200": _ref("responses", "Feature"),
                    **_COMMON,
                    "404": _ref("responses", "NotFound"),
                },
            },
            "put": {
                "operationId": "replaceFeature",
                "summary": "Replace a feature (a new revision)",
                "security": sec,
                "parameters": [
                    *item_path,
                    _ref("parameters", "If-Match"),
                    _ref("parameters", "Content-Crs"),
                ],
                "requestBody": feature_body,
                "responses": {
                    "200": _ref("responses", "Feature"),
                    **writes,
                    "412": _ref("responses", "PreconditionFailed"),
                },
            },
            "patch": {
                "operationId": "updateFeature",
                "summary": "Change some properties (JSON merge patch) or the geometry",
                "security": sec,
                "parameters": [
                    *item_path,
                    _ref("parameters", "If-Match"),
                    _ref("parameters", "Content-Crs"),
                ],
                "requestBody": patch_body,
                "responses": {
                    "200": _ref("responses", "Feature"),
                    **writes,
                    "412": _ref("responses", "PreconditionFailed"),
                },
            },
            "delete": {
                "operationId": "deleteFeature",
                "summary": "Delete a feature (a revision: its history is kept)",
                "security": sec,
                "parameters": [*item_path, _ref("parameters", "If-Match")],
                "responses": {
                    "204": {"description": "Deleted"},
                    **{k: v for k, v in writes.items() if k not in ("415", "422")},
                    "412": _ref("responses", "PreconditionFailed"),
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
            "parameters": params,
            "responses": responses,
            "schemas": {
                "link": link,
                "geometry": geometry,
                "feature": feature,
                "featureCollection": feature_collection,
                "collection": collection,
                "collections": {
                    "type": "object",
                    "required": ["links", "collections"],
                    "properties": {
                        "links": {"type": "array", "items": _ref("schemas", "link")},
                        "collections": {"type": "array", "items": _ref("schemas", "collection")},
                    },
                },
                "landingPage": {
                    "type": "object",
                    "required": ["links"],
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "links": {"type": "array", "items": _ref("schemas", "link")},
                    },
                },
                "conformance": {
                    "type": "object",
                    "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
                },
                "problem": problem,
            },
        },
    }
