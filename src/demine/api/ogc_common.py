"""What every OGC API - Features handler (:mod:`demine.api.ogc`) uses: the store and the caller
of a request, where links start, JSON and HTML answers, the collection behind an id (404 when
the caller may not read it), a feature as GeoJSON and its ETag."""

from __future__ import annotations

from typing import Any

import orjson
import shapely
from fastapi import Request, Response

from demine.api.deps import Principal, principal
from demine.api.security import link_base
from demine.errors import NotFound
from demine.geo.crs import from_crs84
from demine.ids import is_uuid, normalise_id
from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services.access import ROLES, can_read_kind, visible_properties, visible_record
from demine.store.base import Store

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"


def context(request: Request) -> tuple[Store, Principal]:
    """The store and the caller, both in this thread."""
    who = principal(request)
    return request.app.state.stores.get(), who


def base_url(request: Request) -> str:
    """Where links start: ``--public-url``, or this request's own origin when its Host is one
    the server answers to, or root-relative (``/ogc``) - never an unchecked Host."""
    return link_base(request) + "/ogc"


def json_response(
    body: Any, media: str = JSON, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type=media,
        headers=headers,
    )


def html_response(text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, media_type="text/html; charset=utf-8", headers=headers)


def link(href: str, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    d = {"href": href, "rel": rel, "type": media}
    if title:
        d["title"] = title
    return d


def collection_kind(store: Store, who: Principal, cid: str) -> Kind:
    """The kind behind a collection the caller may read; 404 otherwise (never a 403: a hidden
    collection must look like one that does not exist)."""
    try:
        kind = store.kind(cid)
    except NotFound:
        kind = None
    if kind is None or cid.startswith("layer:") or not can_read_kind(kind, who.role):
        raise NotFound(f"no collection {cid!r}")
    return kind


def readable_collections(store: Store, who: Principal) -> list[Kind]:
    return [k for k in store.kinds() if can_read_kind(k, who.role)]


def etag(rec: Record, role: str, html: bool = False) -> str:
    """``"<id>-<revision>-<role>"`` (``-html`` for the page): a role is shown its own fields,
    so it gets its own tag, and a conditional GET never answers 304 across roles."""
    return f'"{rec.id}-{rec.revision}-{role}' + ('-html"' if html else '"')


def is_current(tag: str, rec: Record) -> bool:
    """A strong tag of the feature's current revision, whichever role or form read it (a
    write's precondition is about the revision; the role part only tells the readers apart)."""
    head = f'"{rec.id}-{rec.revision}'
    if not tag.startswith(head) or not tag.endswith('"'):
        return False
    rest = tag[len(head) : -1]
    return rest == "" or rest.removesuffix("-html").removeprefix("-") in ROLES


def synthetic_title(store: Store, title: str) -> str:
    """A demo store's data is labelled SYNTHETIC wherever it is shown, QGIS's layer list too."""
    return f"SYNTHETIC DEMO DATA: {title}" if store.setting("synthetic") else title


def synthetic_text(store: Store, text: str) -> str:
    if not store.setting("synthetic"):
        return text
    from demine.model.synthetic import SYNTHETIC_NOTICE

    return f"{SYNTHETIC_NOTICE} {text}"


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
    if rec.record_organisation is not None:  # set by the store: a write ignores it
        f["properties"]["record_organisation"] = rec.record_organisation
    if links:
        href = f"{base}/collections/{kind.name}/items/{rec.id}"
        f["links"] = [
            link(href, "self", GEOJSON),
            link(f"{base}/collections/{kind.name}", "collection", JSON),
        ]
    return f


def crs_header(crs: str) -> dict[str, str]:
    return {"Content-Crs": f"<{crs}>"}


def find_feature(store: Store, kind: Kind, who: Principal, fid: str) -> Record:
    if not is_uuid(fid):
        raise NotFound(f"no feature {fid!r} in {kind.name}")
    try:
        rec = store.get(kind.name, normalise_id(fid))
    except NotFound:
        raise NotFound(f"no feature {fid!r} in {kind.name}") from None
    if not visible_record(kind, rec, who.role):
        raise NotFound(f"no feature {fid!r} in {kind.name}")
    return rec


def item_response(
    request: Request, kind: Kind, rec: Record, who: Principal, crs: str, status: int = 200
) -> Response:
    base = base_url(request)
    headers = {**crs_header(crs), "ETag": etag(rec, who.role)}
    if status == 201:
        headers["Location"] = f"{base}/collections/{kind.name}/items/{rec.id}"
    return json_response(feature(kind, rec, who.role, crs, base), GEOJSON, status, headers)
