"""Vector tiles: ``/tiles/{collection}/{z}/{x}/{y}.mvt`` (Mapbox Vector Tile 2.1, Web Mercator,
XYZ scheme with y counted from the north) and ``/tiles/{collection}/tilejson.json`` (TileJSON 3.0).

One layer per tile, named after the collection. Each feature carries the properties the caller's
role may read (:func:`demine.services.access.visible_properties`) and its ``id``. Geometries are
clipped to the tile plus a buffer and simplified by a fixed tolerance in tile units, so the
simplification follows the zoom. A polygon smaller than a few pixels at the tile's zoom is sent
as its representative point as well, so that no hazard vanishes from a zoomed-out map.

An empty tile is ``204 No Content`` (MapLibre and most clients treat it as an empty tile).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Path, Request, Response

from demine.api.budget import Budget, run_budgeted
from demine.api.compress import body_response
from demine.api.deps import Principal, PrincipalDep, StoreDep
from demine.api.security import if_none_match, link_base, role_etag
from demine.errors import DemineError, NotFound
from demine.model.kinds import Kind
from demine.services.access import (
    can_read_kind,
    restricted_fields,
    visible_properties,
    visible_record,
)
from demine.store.base import Store

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
BUFFER = 64  # tile units each side (1/64 of the tile)
SIMPLIFY = 1.0  # tile units: about 1/8 of a pixel on a 512 px tile
TINY = 24.0  # tile units: a polygon smaller than this (about 3 px) also gets a point
MAX_ZOOM = 22
CLUSTER_MIN = 1500  # more tiny features than this in one tile: counted per cell instead
CELL = 64  # tile units: a cluster cell is 8 px on a 512 px tile
MAX_LAT = 85.0511287798066
MAX_AGE = 300  # seconds


class BadTile(DemineError):
    exit_code = 1
    http_status = 400
    title = "Bad request"


# --- tile arithmetic ----------------------------------------------------------------------------


def tile_bounds(z: int, x: int, y: int, buffer: float = 0.0) -> tuple[float, float, float, float]:
    """The (west, south, east, north) lon/lat box of tile z/x/y, widened by ``buffer`` tile
    units each side (latitudes clamped to the Web Mercator limit)."""
    n = 2.0**z
    b = buffer / EXTENT

    def lon(tx: float) -> float:
        return max(-180.0, min(180.0, tx / n * 360.0 - 180.0))

    def lat(ty: float) -> float:
        ty = max(0.0, min(n, ty))
        return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * ty / n))))

    return lon(x - b), lat(y + 1 + b), lon(x + 1 + b), lat(y - b)


def _to_tile(z: int, x: int, y: int) -> Any:
    """A function mapping an (N, 2) lon/lat array to tile units (y down, 0..EXTENT)."""
    n = 2.0**z

    def f(xy: np.ndarray) -> np.ndarray:
        lon = xy[:, 0]
        lat = np.clip(xy[:, 1], -MAX_LAT, MAX_LAT)
        fx = (lon + 180.0) / 360.0 * n - x
        s = np.sin(np.radians(lat))
        fy = (0.5 - np.log((1.0 + s) / (1.0 - s)) / (4.0 * math.pi)) * n - y
        return np.column_stack((fx * EXTENT, fy * EXTENT))

    return f


def check_tile(z: int, x: int, y: int) -> None:
    n = 1 << z
    bad = [f"{name} {v} is outside 0..{n - 1} at zoom {z}" for name, v in (("x", x), ("y", y))]
    bad = [m for m, v in zip(bad, (x, y), strict=True) if not 0 <= v < n]
    if bad:
        raise BadTile("; ".join(bad))


# --- encoding -----------------------------------------------------------------------------------


def _mvt_value(v: Any) -> Any:
    """A property value MVT can hold (str, int, float, bool), or None to leave it out."""
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, (list, tuple)):
        return ", ".join(str(i) for i in v)
    return orjson.dumps(v, default=str).decode()


def _no_check() -> None:
    return None


def tile_features(
    store: Store,
    kind: Kind,
    role: str,
    z: int,
    x: int,
    y: int,
    check: Callable[[], None] = _no_check,
) -> list[dict[str, Any]]:
    """The features of one tile, in tile units, ready for ``mapbox_vector_tile.encode``.

    Work follows what can be seen: the spatial index gives every candidate's envelope without
    decoding a geometry; a feature smaller than ``TINY`` tile units (about 3 px) is drawn as a
    point at its envelope's centre (``tiny``); when more than ``CLUSTER_MIN`` are tiny, they are
    counted per ``CELL`` × ``CELL`` cell instead (``cluster``, ``count``), which keeps a zoomed-out
    tile of a million-feature layer small and fast. Only features big enough to see have their
    geometry decoded, clipped and simplified (vectorised). ``check`` is called between the
    phases (the request budget: it raises to stop the work).
    """
    to_tile = _to_tile(z, x, y)
    lo, hi = -BUFFER, EXTENT + BUFFER
    ids, env = store.envelopes(kind.name, tile_bounds(z, x, y, BUFFER))
    if not ids:
        return []
    check()
    corners = to_tile(np.concatenate([env[:, [0, 1]], env[:, [2, 3]]]))
    n = len(ids)
    x0, y1 = corners[:n, 0], corners[:n, 1]  # tile y runs down: minx, miny -> left, bottom
    x1, y0 = corners[n:, 0], corners[n:, 1]
    size = np.maximum(x1 - x0, y1 - y0)
    is_point_kind = kind.geometry_type in ("POINT", "MULTIPOINT")
    tiny = np.zeros(n, bool) if is_point_kind else size < TINY
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    inside = (cx >= lo) & (cx <= hi) & (cy >= lo) & (cy <= hi)
    feats: list[dict[str, Any]] = []
    public_rows = kind.name == "eo_reports" and role == "public"  # row rule needs the record
    small = size < CELL  # under 8 px
    small_idx = np.flatnonzero(small & inside)
    if len(small_idx) > CLUSTER_MIN and not public_rows:
        # too many to draw one by one: counted per cell (vectorised)
        gx = np.floor(cx[small_idx] / CELL).astype(np.int64)
        gy = np.floor(cy[small_idx] / CELL).astype(np.int64)
        keys, counts = np.unique(np.column_stack([gx, gy]), axis=0, return_counts=True)
        for (kx, ky), count in zip(keys.tolist(), counts.tolist(), strict=True):
            p = shapely.Point((kx + 0.5) * CELL, (ky + 0.5) * CELL)
            feats.append({"geometry": p, "properties": {"cluster": True, "count": count}})
        wanted = np.flatnonzero(~small)
    else:
        wanted = np.flatnonzero(~tiny | (tiny & inside))
    if not len(wanted):
        return feats
    recs = store.get_many(kind.name, [ids[i] for i in wanted.tolist()])
    check()
    recs = [
        r
        for r in recs
        if r.geometry is not None and not r.geometry.is_empty and visible_record(kind, r, role)
    ]
    if not recs:
        return feats
    geoms = shapely.transform(np.array([r.geometry for r in recs], dtype=object), to_tile)
    b = shapely.bounds(geoms)
    small = (np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) < TINY) & (not is_point_kind)
    reps = shapely.point_on_surface(geoms[small]) if small.any() else np.array([], object)
    clipped = shapely.clip_by_rect(geoms[~small], lo, lo, hi, hi)
    if not is_point_kind:
        clipped = shapely.simplify(clipped, SIMPLIFY, preserve_topology=True)
        # MVT wants exterior rings of positive area in tile units (y down): orient them here,
        # all at once, so the encoder need not rebuild every polygon to check
        clipped = shapely.orient_polygons(clipped, exterior_cw=False)
    check()
    big_iter = iter(clipped.tolist())
    rep_iter = iter(reps.tolist())
    for i, (rec, sm) in enumerate(zip(recs, small.tolist(), strict=True)):
        if i % 256 == 255:
            check()
        props = {k: _mvt_value(v) for k, v in visible_properties(kind, rec, role).items()}
        props = {k: v for k, v in props.items() if v is not None}
        props["id"] = rec.id
        if sm:
            p = next(rep_iter)
            if lo <= p.x <= hi and lo <= p.y <= hi:
                feats.append({"geometry": p, "properties": {**props, "tiny": True}})
            continue
        g = next(big_iter)
        if g is not None and not g.is_empty:
            feats.append({"geometry": g, "properties": props})
    return feats


def encode_tile(layer: str, features: list[dict[str, Any]]) -> bytes:
    import mapbox_vector_tile  # type: ignore[import-untyped,unused-ignore]
    from mapbox_vector_tile.encoder import (  # type: ignore[import-untyped,unused-ignore]
        on_invalid_geometry_make_valid,
    )

    if not features:
        return b""
    out: bytes = mapbox_vector_tile.encode(
        [{"name": layer, "features": features}],
        default_options={
            "extents": EXTENT,
            "y_coord_down": True,
            "on_invalid_geometry": on_invalid_geometry_make_valid,
            "check_winding_order": False,  # oriented in tile_features
        },
    )
    return out


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
