"""The components of the OGC API's OpenAPI definition (:mod:`demine.api.ogc_openapi`): the
schemas of what the endpoints give and take, their parameters, and the responses and headers
several operations share."""

from __future__ import annotations

from typing import Any

from demine.geo.crs import CRS84, SUPPORTED

PROBLEM = "application/problem+json"
GEOJSON = "application/geo+json"


def ref(kind: str, name: str) -> dict[str, str]:
    """A reference to the component ``name`` of ``kind`` (schemas, parameters, responses)."""
    return {"$ref": f"#/components/{kind}/{name}"}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": ref("schemas", "problem")}},
    }
    if headers:
        r["headers"] = headers
    return r


def schemas() -> dict[str, Any]:
    """Links, geometries, features, collections, the landing page, problems."""
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
            "geometry": ref("schemas", "geometry"),
            "properties": {"type": "object", "nullable": True},
            "links": {"type": "array", "items": ref("schemas", "link")},
        },
    }
    feature_collection = {
        "type": "object",
        "required": ["type", "features", "numberReturned", "timeStamp", "links"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": ref("schemas", "feature")},
            "links": {"type": "array", "items": ref("schemas", "link")},
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
            "links": {"type": "array", "items": ref("schemas", "link")},
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
    return {
        "link": link,
        "geometry": geometry,
        "feature": feature,
        "featureCollection": feature_collection,
        "collection": collection,
        "collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": {"type": "array", "items": ref("schemas", "link")},
                "collections": {"type": "array", "items": ref("schemas", "collection")},
            },
        },
        "landingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": {"type": "array", "items": ref("schemas", "link")},
            },
        },
        "conformance": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
        },
        "problem": problem,
    }


def parameters(max_limit: int, collections: list[str] | None = None) -> dict[str, Any]:
    """The query, path and header parameters; ``collections`` lists the collection ids the
    caller may read (the collectionId enum)."""
    cid_schema: dict[str, Any] = {"type": "string"}
    if collections:
        cid_schema = {"type": "string", "enum": collections}
    crs_enum = {"type": "string", "enum": list(SUPPORTED), "default": CRS84}
    return {
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


def content_crs_header() -> dict[str, Any]:
    return {"description": "The CRS of the geometries, <uri>", "schema": {"type": "string"}}


def location_header() -> dict[str, Any]:
    return {"description": "The new feature's URL", "schema": {"type": "string"}}


def item_headers() -> dict[str, Any]:
    """The headers of an answer with one feature: its ETag and Content-Crs."""
    etag = {
        "description": 'Strong entity tag "<id>-<revision>-<role>" (each role is shown its own '
        "fields, so has its own tag); If-Match takes any role's tag of the current revision",
        "schema": {"type": "string"},
    }
    return {"ETag": etag, "Content-Crs": content_crs_header()}


def responses() -> dict[str, Any]:
    """The problems (400, 401, 403, 404, 409, 412, 415, 422) and the one-feature answer."""
    item = item_headers()
    return {
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
            "headers": item,
            "content": {
                GEOJSON: {"schema": ref("schemas", "feature")},
                "text/html": {"schema": {"type": "string"}},
            },
        },
    }
