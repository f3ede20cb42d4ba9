"""Vector tiles: ``/tiles/{collection}/{z}/{x}/{y}.mvt`` (Mapbox Vector Tile 2.1, Web Mercator,
XYZ scheme with y counted from the north) and ``/tiles/{collection}/tilejson.json`` (TileJSON 3.0).

One layer per tile, named after the collection; the features are cut and encoded by
:mod:`demine.services.tiles` (shared with ``demine publish``). Each feature carries the
properties the caller's role may read (:func:`demine.services.access.visible_properties`) and its
``id``. Geometries are
clipped to the tile plus a buffer and simplified by a fixed tolerance in tile units, so the
simplification follows the zoom. A polygon smaller than a few pixels at the tile's zoom is sent
as its representative point as well, so that no hazard vanishes from a zoomed-out map.

An empty tile is ``204 No Content`` (MapLibre and most clients treat it as an empty tile).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from demine.api.budget import Budget, run_budgeted
from demine.api.compress import body_response
from demine.api.deps import Principal, PrincipalDep, StoreDep
from demine.api.security import if_none_match, link_base, role_etag
from demine.errors import DemineError, NotFound
from demine.model.kinds import Kind
from demine.services.access import can_read_kind, restricted_fields
from demine.services.tiles import (  # the pure encoding, shared with the offline pack
    MAX_LAT,
    encode_tile,
    tile_features,
)
from demine.store.base import Store

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22
MAX_AGE = 300  # seconds


class BadTile(DemineError):
    exit_code = 1
    http_status = 400
    title = "Bad request"


# --- tile arithmetic ----------------------------------------------------------------------------


def check_tile(z: int, x: int, y: int) -> None:
    n = 1 << z
    bad = [f"{name} {v} is outside 0..{n - 1} at zoom {z}" for name, v in (("x", x), ("y", y))]
    bad = [m for m, v in zip(bad, (x, y), strict=True) if not 0 <= v < n]
    if bad:
        raise BadTile("; ".join(bad))


def readable_kind(store: Store, collection: str, role: str) -> Kind:
    """The kind behind a collection, if this role may read it and it has geometry; else 404
    (a role that may not read a kind is not told that it exists)."""
    try:
        kind = store.kind(collection)
    except NotFound:
        raise NotFound(f"no collection {collection!r}") from None
    if not kind.geometry_type or not can_read_kind(kind, role):
        raise NotFound(f"no collection {collection!r}")
    return kind


# the tile cache: bounded both in entries and in bytes (anyone can ask for any of the 4^22
# tiles of a zoom-22 pyramid, most of them empty, each a distinct key)
CACHE_MAX_ENTRIES = 20_000
CACHE_MAX_BYTES = 256 * 2**20
ENTRY_OVERHEAD = 200  # bytes an entry costs besides its tile (key, dict slot): empty ones too


class _LRU:
    """Encoded tiles, keyed by the data version, so a change to the data is never served
    stale; least recently used first out, bounded in entries and in bytes (every entry counts
    ``ENTRY_OVERHEAD`` bytes more than its tile, so empty tiles are bounded too)."""

    def __init__(
        self, max_bytes: int = CACHE_MAX_BYTES, max_entries: int = CACHE_MAX_ENTRIES
    ) -> None:
        self.items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.bytes = 0
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self.lock:
            v = self.items.get(key)
            if v is not None:
                self.items.move_to_end(key)
            return v

    def put(self, key: tuple[Any, ...], value: bytes) -> None:
        size = len(value) + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return  # a tile bigger than the whole cache is not kept
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.bytes += size
            while self.items and (
                self.bytes > self.max_bytes or len(self.items) > self.max_entries
            ):
                _, old = self.items.popitem(last=False)
                self.bytes -= len(old) + ENTRY_OVERHEAD


def _tile_cache(request: Request) -> _LRU:
    state = request.app.state
    cache = getattr(state, "tile_cache", None)
    if cache is None:
        with _CACHE_LOCK:
            cache = getattr(state, "tile_cache", None)
            if cache is None:
                cache = state.tile_cache = _LRU()
    return cache


_CACHE_LOCK = threading.Lock()


def _cache_headers(response: Response, public: bool) -> None:
    response.headers["Cache-Control"] = (
        f"public, max-age={MAX_AGE}" if public else f"private, max-age={MAX_AGE}"
    )  # public only without a token (any token: private, Vary: Authorization)
    response.headers["Vary"] = "Authorization, Accept-Encoding"


# --- endpoints ----------------------------------------------------------------------------------


@router.get(
    "/{collection}/{z}/{x}/{y}.mvt",
    summary="A Mapbox Vector Tile of one collection",
    responses={
        200: {"content": {MVT: {}}, "description": "The tile"},
        204: {"description": "No feature in this tile"},
        304: {"description": "Not modified (ETag)"},
    },
    response_class=Response,
)
async def tile(
    request: Request,
    collection: str,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, description="Zoom level")],
    x: Annotated[int, Path(ge=0, description="Column, from the west")],
    y: Annotated[int, Path(ge=0, description="Row, from the north")],
    s: StoreDep,
    who: PrincipalDep,
) -> Response:
    # under the request budget, in the threads for heavy work (demine.api.budget); the store
    # dependency is a proxy to the calling thread's connection, safe in that thread
    return await run_budgeted(request, _tile, request, collection, z, x, y, s, who)


def _tile(
    request: Request,
    collection: str,
    z: int,
    x: int,
    y: int,
    s: Store,
    who: Principal,
    budget: Budget,
) -> Response:
    check_tile(z, x, y)
    kind = readable_kind(s, collection, who.role)
    cache = _tile_cache(request)
    key = (kind.name, z, x, y, who.role, s.data_version(kind.name))
    data = cache.get(key)
    if data is None:
        feats = tile_features(s, kind, who.role, z, x, y, budget.check)
        budget.check()
        data = encode_tile(kind.name, feats)
        cache.put(key, data)
    etag = role_etag(who.role, data)  # the same bytes for two roles: still two tags
    if not data:
        resp = Response(status_code=204)
    elif if_none_match(request, etag):
        resp = Response(status_code=304, headers={"Vary": "Accept-Encoding"})
    else:  # a tile of polygons is about a third of its size compressed
        resp = body_response(request, data, MVT)
    if data:
        resp.headers["ETag"] = etag
    _cache_headers(resp, who.user is None)
    return resp


@router.get("/{collection}/tilejson.json", summary="TileJSON 3.0 for one collection")
def tilejson(
    request: Request, response: Response, collection: str, s: StoreDep, who: PrincipalDep
) -> dict[str, Any]:
    kind = readable_kind(s, collection, who.role)
    base = link_base(request)  # --public-url, a Host we answer to, or root-relative
    aoi = s.setting("area_of_interest")
    fields = {"id": "Record id (UUID)"}
    hidden = set(restricted_fields(kind, who.role))
    fields |= {f.name: f.description for f in kind.fields if f.name not in hidden}
    _cache_headers(response, who.user is None)
    return {
        "tilejson": "3.0.0",
        "name": kind.title,
        "description": kind.description,
        "tiles": [f"{base}/tiles/{kind.name}/{{z}}/{{x}}/{{y}}.mvt"],
        "scheme": "xyz",
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": list(aoi) if aoi else [-180.0, -MAX_LAT, 180.0, MAX_LAT],
        "vector_layers": [
            {
                "id": kind.name,
                "description": kind.title,
                "fields": fields,
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
            }
        ],
    }
