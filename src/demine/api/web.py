"""The public map page and the small JSON endpoints it needs.

* ``/`` the map page, ``/review`` the review page (submissions, issue 13: the reviewer signs
  in with an API token kept in the tab's session storage), ``/static/...`` their files
  (package data under ``demine/web``; no CDN);
* ``/api/v1/map/config`` what the page needs to start: the synthetic-data notice, the base-map
  URL template (if any), the bounds, and the tile collections the caller may read;
* ``/api/v1/map/hazards/{id}`` one hazard's public details and today's residual-risk estimate;
* ``/api/v1/map/risk`` today's estimate for every hazard, for shading (cached);
* ``/api/v1/map/regions`` administrative outlines (packaged, CC BY 4.0) to draw when there is
  no base map.

A residual-risk estimate is information, never a release: the page says so, and hazards with no
emplacement record (no estimate) are drawn as "unknown — not safe".
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path as FsPath
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from demine.api.compress import body_response, file_response
from demine.api.deps import PrincipalDep, StoreDep
from demine.api.security import if_none_match, public_base, role_etag
from demine.errors import NotFound
from demine.services.access import can_read_kind, visible_properties
from demine.services.risk import full_risk, row_view
from demine.store.base import Store

router = APIRouter(tags=["map"])

WEB = FsPath(str(resources.files("demine") / "web"))
RISK_TTL = 300.0  # seconds a computed risk table is reused (it changes with the records)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


# --- the page -----------------------------------------------------------------------------------


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index(request: Request) -> Response:
    return file_response(request, WEB / "index.html", _TYPES[".html"], "no-cache")


@router.api_route("/review", methods=["GET", "HEAD"], include_in_schema=False)
def review_page(request: Request) -> Response:
    return file_response(request, WEB / "review.html", _TYPES[".html"], "no-cache")


@router.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
def favicon() -> Response:
    """A blank icon: browsers ask for one on every HTML page (the OGC pages too), and a 404
    there is a console error on each."""
    return Response(
        _BLANK_GIF, media_type="image/gif", headers={"Cache-Control": "public, max-age=86400"}
    )


# a transparent 1 x 1 GIF
_BLANK_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@router.api_route("/static/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
def static(request: Request, path: str) -> Response:
    """A file of the page. Vendored libraries are cached for a day, the page's own files are
    revalidated on each load (they change with demine): a ``304`` when unchanged. Each is sent
    gzip-compressed to a client that accepts it (demine.api.compress)."""
    try:
        target = (WEB / path).resolve()
        found = target.is_relative_to(WEB.resolve()) and target.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        found = False
    if not found:
        raise NotFound(f"no file {path[:100]!r}")
    if target.suffix not in _TYPES or target.name.startswith("."):
        raise NotFound(f"no file {path[:100]!r}")
    cache = "public, max-age=86400" if path.startswith("vendor/") else "no-cache"
    return file_response(request, target, _TYPES[target.suffix], cache)


# --- config -------------------------------------------------------------------------------------


def _bounds(store: Store) -> list[float]:
    aoi = store.setting("area_of_interest")
    if aoi:
        return [float(v) for v in aoi]
    boxes = [r.geometry.bounds for r in store.list("hazards") if r.geometry is not None]
    if not boxes:
        return [-180.0, -85.0, 180.0, 85.0]
    a = np.asarray(boxes)
    return [float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max())]


@router.get("/api/v1/map/config", summary="What the map page needs to start")
def map_config(
    request: Request, response: Response, s: StoreDep, who: PrincipalDep
) -> dict[str, Any]:
    from demine.io.regions import REGIONS_CREDIT
    from demine.model.synthetic import SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_UK

    synthetic = bool(s.setting("synthetic"))
    # root-relative (the page is on this origin), or from --public-url; never from Host
    base = public_base(request)
    collections = [
        {
            "id": k.name,
            "title": k.title,
            "geometry_type": k.geometry_type,
            "tiles": f"{base}/tiles/{k.name}/{{z}}/{{x}}/{{y}}.mvt",
            "tilejson": f"{base}/tiles/{k.name}/tilejson.json",
        }
        for k in s.kinds()
        if k.geometry_type and can_read_kind(k, who.role)
    ]
    response.headers["Cache-Control"] = "no-cache"
    pack = getattr(request.app.state, "pack_url", None)
    return {
        "synthetic": synthetic,
        "notice": (s.setting("synthetic_notice") or SYNTHETIC_NOTICE) if synthetic else None,
        "notice_uk": SYNTHETIC_NOTICE_UK if synthetic else None,
        "tile_url": getattr(request.app.state, "tile_url", None),
        "tile_attribution": getattr(request.app.state, "tile_attribution", None),
        "bounds": _bounds(s),
        "collections": collections,
        "regions": {"url": f"{base}/api/v1/map/regions", "attribution": REGIONS_CREDIT},
        "role": who.role,
        # the offline safety pack the map draws its hazards from (demine serve --pack-url)
        "pack": {"url": pack} if pack else None,
    }


_regions_cache: dict[str, bytes] = {}


@router.get("/api/v1/map/regions", summary="Administrative outlines for context (CC BY 4.0)")
def regions(request: Request) -> Response:
    if "body" not in _regions_cache:
        import shapely
        from shapely.geometry import mapping, shape

        from demine.io.regions import load_regions

        # outlines for orientation up to zoom 8 (app.js): simplified together, so that
        # neighbours keep one shared border, to about 2 km (a pixel or two at zoom 8), with
        # coordinates to 0.001° (about 100 m): 27 KB on the wire in brotli, not 43 KB
        regions = list(load_regions())
        outlines = shapely.coverage_simplify([shape(f["geometry"]) for f in regions], 0.02)
        feats = []
        for f, g in zip(regions, outlines, strict=True):
            feats.append(
                {
                    "type": "Feature",
                    "properties": {"region": f["properties"]["region"]},
                    "geometry": mapping(shapely.set_precision(g, 1e-3)),
                }
            )
        _regions_cache["body"] = orjson.dumps({"type": "FeatureCollection", "features": feats})
    return body_response(
        request,
        _regions_cache["body"],
        "application/geo+json",
        {"Cache-Control": "public, max-age=86400"},
    )


# --- residual risk ------------------------------------------------------------------------------


def _today() -> float:
    from demine.risk import day_number

    return day_number(datetime.now(UTC).date())


class _RiskCache:
    """Today's estimate for every hazard, kept ``RISK_TTL`` seconds per store and view (exact
    for analysts, banded with coarse quantities for everyone else)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, float, bool], tuple[float, dict[str, dict[str, Any]]]] = {}

    def get(self, store: Store, full: bool) -> tuple[str, dict[str, dict[str, Any]]]:
        from demine.risk import iso_date
        from demine.services.risk import hazard_risks, public_view

        day = _today()
        key = (store.location, day, full)
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < RISK_TTL:
                return iso_date(day), hit[1]
        table: dict[str, dict[str, Any]] = {}
        for hr in hazard_risks(store, np.asarray([day]), coarse=not full):
            d = hr.to_dict() if full else public_view(hr)
            table[hr.hazard.id] = {
                "known": d["known"],
                "released": d["released"],
                "status": d["status"],
                "row": d["estimates"][0] if d["estimates"] else None,
            }
        with self.lock:
            self.entries = {k: v for k, v in self.entries.items() if k[1] == day}
            self.entries[key] = (time.monotonic(), table)
        return iso_date(day), table


def _risk_cache(request: Request) -> _RiskCache:
    state = request.app.state
    cache: _RiskCache | None = getattr(state, "map_risk_cache", None)
    if cache is None:
        cache = state.map_risk_cache = _RiskCache()
    return cache


@router.get("/api/v1/map/risk", summary="Today's residual-risk estimate of every hazard")
def map_risk(request: Request, s: StoreDep, who: PrincipalDep) -> Response:
    """``p_any_live`` (the chance that at least one device is still live, conservative plug-in)
    per hazard, for shading; below analyst its band only. ``known: false`` means no emplacement
    record (unknown, not safe) or, with ``released: true``, released land (no estimate)."""
    full = full_risk(who.role)
    day, table = _risk_cache(request).get(s, full)
    hazards = {
        hid: {
            "known": t["known"],
            "released": t["released"],
            "status": t["status"],
            **({} if t["row"] is None else row_view(t["row"], full)),
        }
        for hid, t in table.items()
    }
    body = {
        "date": day,
        "hazards": hazards,
        "note": "An estimate is information: time never releases land. Unknown is not safe.",
    }
    data = orjson.dumps(body)
    etag = role_etag(who.role, data)
    headers = {"Cache-Control": "private, max-age=300", "ETag": etag}
    if if_none_match(request, etag):
        return Response(status_code=304, headers=headers)
    # a national table is megabytes of JSON: compressed about 8 times
    return body_response(request, data, "application/json", headers)


@router.get("/api/v1/map/hazards/{hazard_id}", summary="One hazard's details for the map")
def map_hazard(
    response: Response,
    hazard_id: Annotated[str, Path(max_length=64)],
    s: StoreDep,
    who: PrincipalDep,
) -> dict[str, Any]:
    from demine.risk import iso_date
    from demine.services.risk import role_hazard_risks

    kind = s.kind("hazards")
    try:
        rec = s.get("hazards", hazard_id)
    except NotFound:  # a merged hazard's id answers with the survivor's (301)
        from demine.services.intake.merge import merged_into

        new = merged_into(s, "hazards", hazard_id, who.role)
        if new is None:
            raise
        return Response(  # type: ignore[return-value]
            status_code=301, headers={"Location": f"/api/v1/map/hazards/{new}"}
        )
    day = _today()
    full = full_risk(who.role)
    d = role_hazard_risks(s, np.asarray([day]), who.role, hazard_id=rec.id)[0]
    row = d["estimates"][0] if d["estimates"] else None
    rp = rec.geometry.representative_point() if rec.geometry is not None else None
    risk: dict[str, Any] = {
        "date": iso_date(day),
        "known": d["known"],
        "released": d["released"],
        "estimate": None if row is None else row_view(row, full),
        "assumptions": d["assumptions"],
        "notes": d["notes"],
    }
    if full:
        risk["emplacement_records"] = d["emplacement_records"]
    response.headers["Cache-Control"] = "private, max-age=60"
    return {
        "id": rec.id,
        "kind": "hazards",
        "properties": visible_properties(kind, rec, who.role),
        "bbox": None if rec.geometry is None else list(rec.geometry.bounds),
        "point": None if rp is None else [rp.x, rp.y],
        "risk": risk,
        "synthetic": bool(s.setting("synthetic")),
    }


# --- place names --------------------------------------------------------------------------------


@router.get(
    "/api/v1/public/places",
    summary="Places by name, for finding one's own place on the map",
    response_class=Response,
)
def places(
    request: Request,
    s: StoreDep,
    q: Annotated[str, Query(max_length=100, description="What the person typed (2-100 chars)")],
    limit: Annotated[int, Query(ge=1, le=20, description="At most this many places")] = 10,
) -> Response:
    """Settlements of the store's ``settlements`` reference layer and the packaged regions whose
    names match ``q`` (every word typed begins a word of the name; case, accents and
    apostrophes ignored; Latin letters also match the Ukrainian name's official
    transliteration), best first. Anyone may ask: the names are public reference data."""
    from demine.services.places import find_places, new_cache

    state = request.app.state
    cache = getattr(state, "places_cache", None)
    if cache is None:
        cache = state.places_cache = new_cache()
    found = find_places(s, q, limit, cache=cache)
    body = orjson.dumps({"places": [p.to_dict() for p in found]})
    return body_response(
        request, body, "application/json", {"Cache-Control": "public, max-age=300"}
    )
