"""OGC API - Features: reading features - a page of a collection's items (bbox, datetime,
CQL2 filter, paging, CRS) and one item (with its ETag and 304)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any
from urllib.parse import urlencode

import shapely
from fastapi import APIRouter, Request, Response

from demine.api import ogc_html
from demine.api.budget import Budget, run_budgeted
from demine.api.ogc_common import (
    GEOJSON,
    HTML,
    JSON,
    base_url,
    collection_kind,
    context,
    crs_header,
    etag,
    feature,
    find_feature,
    html_response,
    item_response,
    json_response,
    link,
)
from demine.api.ogc_cql import FilterError
from demine.api.ogc_cql_tree import filter_tree
from demine.api.ogc_params import (
    BadRequest,
    check_params,
    crs_param,
    datetime_predicate,
    int_param,
    parse_bbox,
    want_html,
)
from demine.api.security import if_none_match
from demine.errors import NotFound
from demine.geo.crs import CRS84
from demine.model.schema import Record, now_utc
from demine.services.access import at_least, visible_record
from demine.store.cql_sql import FilterError as StoreFilterError

router = APIRouter(include_in_schema=False)

DEFAULT_LIMIT = 100
MAX_OFFSET = 1_000_000_000  # far beyond any store; keeps SQL's 64-bit OFFSET from overflowing

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


def _page(
    store: Any,
    kind: Any,
    box: Any,
    cql: Any,
    tests: list[Callable[[Record], bool]],
    limit: int,
    offset: int,
    count_all: bool,
    budget: Budget,
) -> tuple[list[Record], bool, int | None]:
    """A page of matching records (one more than ``limit`` read, to know if there are more),
    whether there are more, and how many match (None when not known for free)."""

    def matches() -> Generator[Record, None, None]:
        src = store.list(kind.name, bbox=box if kind.geometry_type else None, cql=cql)
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
        rows = store.list(kind.name, cql=cql, limit=limit + 1, offset=offset)
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
        matched = store.count(kind.name, cql=cql) if not tests else sum(1 for _ in matches())
    elif not more and (offset == 0 or page):
        matched = offset + len(page)

    return page, more, matched


@router.get("/collections/{cid}/items")
async def items(request: Request, cid: str) -> Response:
    """Runs under the request budget, in the threads for heavy work (demine.api.budget)."""
    return await run_budgeted(request, _items, request, cid)


def _items(request: Request, cid: str, budget: Budget) -> Response:
    check_params(request, ITEMS_PARAMS)
    html = want_html(request)
    store, who = context(request)
    kind = collection_kind(store, who, cid)
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
    cql: Any = None  # a CQL2 filter, run in the store's SQL
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
            cql = filter_tree(q["filter"], lang, kind, who.role, filter_crs)
        except FilterError as e:
            raise BadRequest(f"filter: {e}", "filter") from None
    if box is not None and not kind.geometry_type:
        tests.append(lambda r: False)

    try:
        page, more, matched = _page(store, kind, box, cql, tests, limit, offset, count_all, budget)
    except StoreFilterError as e:  # what only the SQL translation can tell (e.g. a bad geometry)
        raise BadRequest(f"filter: {e}", "filter") from None
    base = base_url(request)
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
        link(url(offset), "self", fmt_here, "This page"),
        link(url(offset, "json" if html else "html"), "alternate", GEOJSON if html else HTML),
        link(f"{base}/collections/{cid}", "collection", JSON, kind.title),
    ]
    if more:
        links.append(link(url(offset + limit), "next", fmt_here, "Next page"))
    if offset > 0:
        links.append(link(url(max(0, offset - limit)), "prev", fmt_here, "Previous page"))
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
        return html_response(ogc_html.items_page(kind, body))
    return json_response(body, GEOJSON, headers=crs_header(crs))


@router.get("/collections/{cid}/items/{fid}")
def item(request: Request, cid: str, fid: str) -> Response:
    check_params(request, frozenset({"f", "crs"}))
    html = want_html(request)
    store, who = context(request)
    kind = collection_kind(store, who, cid)
    crs = crs_param(request, "crs")
    try:
        rec = find_feature(store, kind, who, fid)
    except NotFound:  # a merged record's id answers with the survivor's (301)
        from demine.services.intake.merge import merged_into

        new = merged_into(store, kind.name, fid, who.role)
        if new is None:
            raise
        qs = f"?{request.url.query}" if request.url.query else ""
        url = f"{base_url(request)}/collections/{kind.name}/items/{new}{qs}"
        return Response(status_code=301, headers={"Location": url})
    tag = etag(rec, who.role, html)
    if if_none_match(request, tag):  # only this role's tag of this revision
        return Response(status_code=304, headers={"ETag": tag})
    if html:
        f = feature(kind, rec, who.role, CRS84, base_url(request))
        return html_response(ogc_html.item_page(kind, f), {"ETag": tag})
    return item_response(request, kind, rec, who, crs)
