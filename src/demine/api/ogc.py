"""OGC API - Features over the store, at ``/ogc``.

Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0), Part 2 (CRS by reference), Part 3 (CQL2 filters,
queryables) and Part 4 (create, replace, update, delete). One collection per record kind the
caller may read and one per reference layer; a collection the caller may not read is a 404, as
if it did not exist. See docs/ogc-api.md for every decision.

Endpoints are plain (synchronous) functions that take the store and the caller in the thread
they run in: a SQLite connection is never shared between the threads of the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
import shapely
from fastapi import APIRouter, Depends, Request, Response

from demine.api import ogc_html
from demine.api.budget import Budget, run_budgeted
from demine.api.deps import Principal, Unauthorized, principal
from demine.api.ogc_cql import FilterError, compile_filter, queryables_schema
from demine.api.ogc_openapi import OPENAPI_MEDIA, build_openapi
from demine.api.ogc_params import (
    DATE_FIELD,
    BadRequest,
    PreconditionFailed,
    UnsupportedMediaType,
    check_params,
    crs_param,
    datetime_predicate,
    int_param,
    parse_bbox,
    want_html,
)
from demine.api.security import if_none_match, link_base
from demine.errors import Conflict, Fault, NotFound, ValidationError
from demine.geo.crs import (
    CRS84,
    SUPPORTED,
    CrsError,
    from_crs84,
    parse_crs,
)
from demine.ids import is_uuid, normalise_id
from demine.model.kinds import Kind
from demine.model.schema import Record, now_utc
from demine.services import records
from demine.services.access import (
    ROLES,
    at_least,
    can_read_kind,
    require_write,
    visible_properties,
    visible_record,
)
from demine.services.records import WriteContext
from demine.store.base import Store

router = APIRouter(include_in_schema=False)  # described by its own document at /ogc/api

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_LIMIT = 100
MAX_OFFSET = 1_000_000_000  # far beyond any store; keeps SQL's 64-bit OFFSET from overflowing

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
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]

ITEMS_PARAMS = frozenset(
    {
        "f",
        "bbox",
        "bbox-crs",
        "datetime",
        "limit",
        "offset",
        "crs",
        "filter",
        "filter-lang",
        "filter-crs",
        "count",
    }
)


# --- request helpers -------------------------------------------------------------------------


def _context(request: Request) -> tuple[Store, Principal]:
    """The store and the caller, both in this thread."""
    who = principal(request)
    return request.app.state.stores.get(), who


def _base(request: Request) -> str:
    """Where links start: ``--public-url``, or this request's own origin when its Host is one
    the server answers to, or root-relative (``/ogc``) - never an unchecked Host."""
    return link_base(request) + "/ogc"


def _json(
    body: Any, media: str = JSON, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type=media,
        headers=headers,
    )


def _html(text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, media_type="text/html; charset=utf-8", headers=headers)


def _link(href: str, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    d = {"href": href, "rel": rel, "type": media}
    if title:
        d["title"] = title
    return d


def _collection_kind(store: Store, who: Principal, cid: str) -> Kind:
    """The kind behind a collection the caller may read; 404 otherwise (never a 403: a hidden
    collection must look like one that does not exist)."""
    try:
        kind = store.kind(cid)
    except NotFound:
        kind = None
    if kind is None or cid.startswith("layer:") or not can_read_kind(kind, who.role):
        raise NotFound(f"no collection {cid!r}")
    return kind


def _collections(store: Store, who: Principal) -> list[Kind]:
    return [k for k in store.kinds() if can_read_kind(k, who.role)]


def etag(rec: Record, role: str, html: bool = False) -> str:
    """``"<id>-<revision>-<role>"`` (``-html`` for the page): a role is shown its own fields,
    so it gets its own tag, and a conditional GET never answers 304 across roles."""
    return f'"{rec.id}-{rec.revision}-{role}' + ('-html"' if html else '"')


def _is_current(tag: str, rec: Record) -> bool:
    """A strong tag of the feature's current revision, whichever role or form read it (a
    write's precondition is about the revision; the role part only tells the readers apart)."""
    head = f'"{rec.id}-{rec.revision}'
    if not tag.startswith(head) or not tag.endswith('"'):
        return False
    rest = tag[len(head) : -1]
    return rest == "" or rest.removesuffix("-html").removeprefix("-") in ROLES


# --- landing, conformance, OpenAPI -----------------------------------------------------------


@router.get("")
@router.get("/")
def landing(request: Request) -> Response:
    check_params(request, frozenset({"f"}))
    html = want_html(request)
    base = _base(request)
    store, _who = _context(request)
    body: dict[str, Any] = {
        "title": _synthetic_title(store, "demine: OGC API - Features"),
        "description": _synthetic_text(
            store,
            "The demine mine action register (hazards, finds, EO reports, emplacement records, "
            "device types) and reference layers, as OGC API - Features.",
        ),
        "links": [
            _link(base + "/", "self", HTML if html else JSON, "This document"),
            _link(
                base + "/?f=" + ("json" if html else "html"),
                "alternate",
                JSON if html else HTML,
                "This document",
            ),
            _link(base + "/api", "service-desc", OPENAPI_MEDIA, "The API definition"),
            _link(base + "/api?f=html", "service-doc", HTML, "The API documentation"),
            _link(base + "/conformance", "conformance", JSON, "Conformance classes"),
            _link(base + "/collections", "data", JSON, "The collections"),
        ],
    }
    if html:
        return _html(ogc_html.page(body["title"], body))
    return _json(body)


@router.get("/conformance")
def conformance(request: Request) -> Response:
    check_params(request, frozenset({"f"}))
    body = {"conformsTo": CONFORMANCE}
    if want_html(request):
        return _html(ogc_html.page("Conformance", body))
    return _json(body)


@router.get("/api")
def api_definition(request: Request) -> Response:
    check_params(request, frozenset({"f"}))
    store, who = _context(request)
    names = [k.name for k in _collections(store, who)]
    doc = build_openapi(_base(request), request.app.state.max_limit, names)
    if want_html(request):
        return _html(ogc_html.api_page(doc))
    return _json(doc, OPENAPI_MEDIA)


# --- collections -----------------------------------------------------------------------------


def _synthetic_title(store: Store, title: str) -> str:
    """A demo store's data is labelled SYNTHETIC wherever it is shown, QGIS's layer list too."""
    return f"SYNTHETIC DEMO DATA: {title}" if store.setting("synthetic") else title


def _synthetic_text(store: Store, text: str) -> str:
    if not store.setting("synthetic"):
        return text
    from demine.model.synthetic import SYNTHETIC_NOTICE

    return f"{SYNTHETIC_NOTICE} {text}"


def _collection_doc(request: Request, store: Store, kind: Kind, who: Principal) -> dict[str, Any]:
    base = _base(request)
    c = f"{base}/collections/{kind.name}"
    doc: dict[str, Any] = {
        "id": kind.name,
        "title": _synthetic_title(store, kind.title),
        "description": _synthetic_text(store, kind.description),
        "itemType": "feature",
        "links": [
            _link(c, "self", JSON, kind.title),
            _link(c + "?f=html", "alternate", HTML, kind.title),
            _link(c + "/items", "items", GEOJSON, "Features"),
            _link(c + "/items?f=html", "items", HTML, "Features"),
            _link(
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
    store, who = _context(request)
    base = _base(request)
    body = {
        "links": [
            _link(base + "/collections", "self", HTML if html else JSON),
            _link(
                base + "/collections?f=" + ("json" if html else "html"),
                "alternate",
                JSON if html else HTML,
            ),
        ],
        "collections": [_collection_doc(request, store, k, who) for k in _collections(store, who)],
    }
    if html:
        return _html(ogc_html.collections_page(body))
    return _json(body)


@router.get("/collections/{cid}")
def collection(request: Request, cid: str) -> Response:
    check_params(request, frozenset({"f"}))
    html = want_html(request)
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    body = _collection_doc(request, store, kind, who)
    if html:
        return _html(ogc_html.collection_page(body))
    return _json(body)


@router.get("/collections/{cid}/queryables")
def queryables(request: Request, cid: str) -> Response:
    check_params(request, frozenset({"f"}))
    html = want_html(request)
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    body = queryables_schema(kind, who.role, f"{_base(request)}/collections/{cid}/queryables")
    if html:
        return _html(ogc_html.page(f"Queryables of {kind.title}", body))
    return _json(body, "application/schema+json")


# --- items: features -------------------------------------------------------------------------


def _geometry_json(geom: Any, crs: str) -> Any:
    if geom is None:
        return None
    return orjson.loads(shapely.to_geojson(from_crs84(geom, crs)))


def feature(
    kind: Kind, rec: Record, role: str, crs: str, base: str, *, links: bool = True
) -> dict[str, Any]:
    f: dict[str, Any] = {
        "type": "Feature",
        "id": rec.id,
        "geometry": _geometry_json(rec.geometry, crs),
        "properties": visible_properties(kind, rec, role),
    }
    if links:
        href = f"{base}/collections/{kind.name}/items/{rec.id}"
        f["links"] = [
            _link(href, "self", GEOJSON),
            _link(f"{base}/collections/{kind.name}", "collection", JSON),
        ]
    return f


def _crs_header(crs: str) -> dict[str, str]:
    return {"Content-Crs": f"<{crs}>"}


@router.get("/collections/{cid}/items")
async def items(request: Request, cid: str) -> Response:
    """Runs under the request budget, in the threads for heavy work (demine.api.budget)."""
    return await run_budgeted(request, _items, request, cid)


def _items(request: Request, cid: str, budget: Budget) -> Response:
    check_params(request, ITEMS_PARAMS)
    html = want_html(request)
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    q = request.query_params
    max_limit = int(request.app.state.max_limit)
    limit = min(int_param(q["limit"], "limit", 1), max_limit) if "limit" in q else DEFAULT_LIMIT
    limit = min(limit, max_limit)
    offset = int_param(q["offset"], "offset", 0, MAX_OFFSET) if "offset" in q else 0
    crs = crs_param(request, "crs")
    bbox_crs = crs_param(request, "bbox-crs")
    filter_crs = crs_param(request, "filter-crs")
    count_all = False
    if "count" in q:
        cv = q["count"].strip().lower()
        if cv not in ("true", "false"):
            raise BadRequest("count must be true or false", "count")
        count_all = cv == "true"

    tests: list[Callable[[Record], bool]] = []
    if kind.name == "eo_reports" and not at_least(who.role, "field"):
        tests.append(lambda r: visible_record(kind, r, who.role))
    box = None
    if "bbox" in q:
        box = parse_bbox(q["bbox"], bbox_crs)
        area = shapely.box(*box)
        shapely.prepare(area)
        tests.append(lambda r: r.geometry is not None and bool(area.intersects(r.geometry)))
    if "datetime" in q:
        tests.append(datetime_predicate(kind, q["datetime"]))
    if "filter-lang" in q and "filter" not in q:
        raise BadRequest("filter-lang given without filter", "filter-lang")
    if "filter" in q:
        lang = q.get("filter-lang", "cql2-text").strip().lower()
        if lang not in ("cql2-text", "cql2-json"):
            raise BadRequest("filter-lang must be cql2-text or cql2-json", "filter-lang")
        try:
            tests.append(compile_filter(q["filter"], lang, kind, who.role, filter_crs))
        except FilterError as e:
            raise BadRequest(f"filter: {e}", "filter") from None
    if box is not None and not kind.geometry_type:
        tests.append(lambda r: False)

    def matches() -> Generator[Record, None, None]:
        src = store.list(kind.name, bbox=box if kind.geometry_type else None)
        try:
            for r in src:
                budget.tick()
                if all(t(r) for t in tests):
                    yield r
        finally:
            close = getattr(src, "close", None)
            if close is not None:
                close()

    if tests:
        page: list[Record] = []
        it = matches()
        try:
            skipped = 0
            for r in it:
                if skipped < offset:
                    skipped += 1
                    continue
                page.append(r)
                if len(page) > limit:
                    break
        finally:
            it.close()
    else:
        page = []
        rows = store.list(kind.name, limit=limit + 1, offset=offset)
        try:
            for r in rows:
                budget.tick()
                page.append(r)
        finally:  # also when the budget runs out: the cursor is not left open
            close_rows = getattr(rows, "close", None)
            if close_rows is not None:
                close_rows()
    more = len(page) > limit
    page = page[:limit]

    matched: int | None = None
    if count_all:
        matched = store.count(kind.name) if not tests else sum(1 for _ in matches())
    elif not more and (offset == 0 or page):
        matched = offset + len(page)

    base = _base(request)
    href = f"{base}/collections/{cid}/items"
    params = {k: v for k, v in q.items() if k not in ("offset", "f")}
    fmt_here = HTML if html else GEOJSON

    def url(off: int | None, f: str | None = None) -> str:
        p = dict(params)
        if off:
            p["offset"] = str(off)
        if f:
            p["f"] = f
        elif html:
            p["f"] = "html"
        return href + ("?" + urlencode(p) if p else "")

    links = [
        _link(url(offset), "self", fmt_here, "This page"),
        _link(url(offset, "json" if html else "html"), "alternate", GEOJSON if html else HTML),
        _link(f"{base}/collections/{cid}", "collection", JSON, kind.title),
    ]
    if more:
        links.append(_link(url(offset + limit), "next", fmt_here, "Next page"))
    if offset > 0:
        links.append(_link(url(max(0, offset - limit)), "prev", fmt_here, "Previous page"))
    features = []
    for r in page:
        budget.tick()
        features.append(feature(kind, r, who.role, crs, base))
    budget.check()
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "timeStamp": now_utc(),
        "numberReturned": len(page),
    }
    if matched is not None:
        body["numberMatched"] = matched
    if html:
        return _html(ogc_html.items_page(kind, body))
    return _json(body, GEOJSON, headers=_crs_header(crs))


def _find(store: Store, kind: Kind, who: Principal, fid: str) -> Record:
    if not is_uuid(fid):
        raise NotFound(f"no feature {fid!r} in {kind.name}")
    try:
        rec = store.get(kind.name, normalise_id(fid))
    except NotFound:
        raise NotFound(f"no feature {fid!r} in {kind.name}") from None
    if not visible_record(kind, rec, who.role):
        raise NotFound(f"no feature {fid!r} in {kind.name}")
    return rec


def _item_response(
    request: Request, kind: Kind, rec: Record, who: Principal, crs: str, status: int = 200
) -> Response:
    base = _base(request)
    headers = {**_crs_header(crs), "ETag": etag(rec, who.role)}
    if status == 201:
        headers["Location"] = f"{base}/collections/{kind.name}/items/{rec.id}"
    return _json(feature(kind, rec, who.role, crs, base), GEOJSON, status, headers)


@router.get("/collections/{cid}/items/{fid}")
def item(request: Request, cid: str, fid: str) -> Response:
    check_params(request, frozenset({"f", "crs"}))
    html = want_html(request)
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    crs = crs_param(request, "crs")
    rec = _find(store, kind, who, fid)
    tag = etag(rec, who.role, html)
    if if_none_match(request, tag):  # only this role's tag of this revision
        return Response(status_code=304, headers={"ETag": tag})
    if html:
        f = feature(kind, rec, who.role, CRS84, _base(request))
        return _html(ogc_html.item_page(kind, f), {"ETag": tag})
    return _item_response(request, kind, rec, who, crs)


# --- writes (Part 4) -------------------------------------------------------------------------


async def _raw_body(request: Request) -> bytes:
    return await request.body()


BodyDep = Annotated[bytes, Depends(_raw_body)]


def _writer(store: Store, kind: Kind, who: Principal) -> str:
    if who.user is None or who.role == "public":
        raise Unauthorized("changing features needs a token: 'Authorization: Bearer <token>'")
    require_write(kind, who.role)
    return who.user


def _parse_body(request: Request, raw: bytes, *, patch: bool = False) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    ok = {GEOJSON, JSON, ""} | ({MERGE_PATCH} if patch else set())
    if ctype not in ok:
        raise UnsupportedMediaType(
            f"send the feature as {GEOJSON}"
            + (f" or {MERGE_PATCH}" if patch else "")
            + f", not {ctype}"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"the body is not JSON: {e}", "body") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object (a GeoJSON Feature)", "body")
    if not patch and body.get("type") != "Feature":
        raise BadRequest('the body must be a GeoJSON Feature ("type": "Feature")', "body")
    props = body.get("properties", {})
    if props is not None and not isinstance(props, dict):
        raise BadRequest("properties must be an object", "properties")
    return body


def _content_crs(request: Request) -> str:
    v = request.headers.get("content-crs")
    if not v:
        return CRS84
    try:
        return parse_crs(v.strip().strip("<>"))
    except CrsError as e:
        raise BadRequest(f"Content-Crs: {e}", "Content-Crs") from None


def _if_match(request: Request, rec: Record) -> int:
    """The revision the write must find: the client's (If-Match), else the one read now."""
    header = request.headers.get("if-match")
    if header is None:
        return rec.revision
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if "*" in tags:
        return rec.revision
    for t in tags:
        if t.startswith("W/"):
            continue  # a weak tag never matches (RFC 9110 strong comparison)
        if _is_current(t, rec):
            return rec.revision
    raise PreconditionFailed(
        f"the feature is now at revision {rec.revision}; If-Match {header} is stale: someone "
        "changed it since you read it. Read it again and redo your change."
    )


@contextmanager
def _precondition(request: Request) -> Iterator[None]:
    """A write that lost a race: 412 when the client gave If-Match, else 409."""
    try:
        yield
    except Conflict as e:
        if request.headers.get("if-match") is not None:
            raise PreconditionFailed(f"{e.message}; read it again and redo your change") from None
        raise


def _given_id(body: dict[str, Any]) -> str | None:
    given = body.get("id")
    if given is None and isinstance(body.get("properties"), dict):
        given = body["properties"].get("id")
    if given is None:
        return None
    if not isinstance(given, str) or not is_uuid(given):
        raise ValidationError(
            "a feature id given by the client must be a UUID",
            [Fault(f"{given!r} is not a UUID", None, "id")],
        )
    return normalise_id(given)


# Part 4 handlers: parse the request, call services.records (every rule is there), format


@router.post("/collections/{cid}/items")
def create_item(request: Request, cid: str, raw: BodyDep) -> Response:
    check_params(request, frozenset())
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    actor = _writer(store, kind, who)
    body = _parse_body(request, raw)
    rec, created = records.create(
        store,
        kind,
        body.get("properties") or {},
        body.get("geometry"),
        rid=_given_id(body),
        ctx=WriteContext(
            role=who.role, actor=actor, reason="OGC API: create", crs=_content_crs(request)
        ),
    )
    return _item_response(request, kind, rec, who, CRS84, 201 if created else 200)


@router.put("/collections/{cid}/items/{fid}")
def replace_item(request: Request, cid: str, fid: str, raw: BodyDep) -> Response:
    check_params(request, frozenset())
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    actor = _writer(store, kind, who)
    cur = _find(store, kind, who, fid)
    revision = _if_match(request, cur)
    body = _parse_body(request, raw)
    if body.get("id") is not None and (
        not isinstance(body["id"], str)
        or not is_uuid(body["id"])
        or normalise_id(body["id"]) != cur.id
    ):
        raise ValidationError(
            "the feature's id differs from the one in the path",
            [Fault("id must be the id in the path (or left out)", None, "id")],
        )
    with _precondition(request):
        saved = records.replace(
            store,
            kind,
            cur.id,
            body.get("properties") or {},
            body.get("geometry"),
            if_revision=revision,
            ctx=WriteContext(
                role=who.role, actor=actor, reason="OGC API: replace", crs=_content_crs(request)
            ),
        )
    return _item_response(request, kind, saved, who, CRS84)


@router.patch("/collections/{cid}/items/{fid}")
def update_item(request: Request, cid: str, fid: str, raw: BodyDep) -> Response:
    check_params(request, frozenset())
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    actor = _writer(store, kind, who)
    cur = _find(store, kind, who, fid)
    revision = _if_match(request, cur)
    body = _parse_body(request, raw, patch=True)
    with _precondition(request):
        saved = records.patch(
            store,
            kind,
            cur.id,
            body.get("properties") or {},
            body.get("geometry", ...),
            if_revision=revision,
            ctx=WriteContext(
                role=who.role, actor=actor, reason="OGC API: update", crs=_content_crs(request)
            ),
        )
    return _item_response(request, kind, saved, who, CRS84)


@router.delete("/collections/{cid}/items/{fid}")
def delete_item(request: Request, cid: str, fid: str) -> Response:
    check_params(request, frozenset())
    store, who = _context(request)
    kind = _collection_kind(store, who, cid)
    actor = _writer(store, kind, who)
    cur = _find(store, kind, who, fid)
    revision = _if_match(request, cur)
    with _precondition(request):
        records.delete(
            store,
            cur.id,
            if_revision=revision,
            ctx=WriteContext(role=who.role, actor=actor, reason="OGC API: delete"),
        )
    return Response(status_code=204)
