"""Mapbox Vector Tiles (2.1, Web Mercator, XYZ with y from the north) of store layers: the pure
encoding, shared by the HTTP tiles (:mod:`demine.api.tiles`) and the offline safety pack
(:mod:`demine.services.publish`), so that both give the same features and properties.

Each feature carries the properties the role may read
(:func:`demine.services.access.visible_properties`) and its ``id``. Geometries are clipped to the
tile plus a buffer and simplified by a fixed tolerance in tile units, so the simplification
follows the zoom. A polygon smaller than a few pixels at the tile's zoom is sent as its
representative point as well, so that no hazard vanishes from a zoomed-out map.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import orjson
import shapely

from demine.model.kinds import Kind
from demine.model.schema import Record
from demine.services.access import visible_properties, visible_record

EXTENT = 4096
BUFFER = 64  # tile units each side (1/64 of the tile)
SIMPLIFY = 1.0  # tile units: about 1/8 of a pixel on a 512 px tile
TINY = 24.0  # tile units: a polygon smaller than this (about 3 px) also gets a point
CLUSTER_MIN = 1500  # more tiny features than this in one tile: counted per cell instead
CELL = 64  # tile units: a cluster cell is 8 px on a 512 px tile
MAX_LAT = 85.0511287798066


class TileSource(Protocol):
    """What tiles are cut from: a store, or records held in memory (:class:`MemoryLayer`)."""

    def envelopes(
        self, kind: str, bbox: tuple[float, float, float, float]
    ) -> tuple[list[str], Any]: ...
    def get_many(self, kind: str, ids: Sequence[str]) -> list[Record]: ...


class MemoryLayer:
    """Records held in memory as a :class:`TileSource` (an STRtree over their envelopes): the
    pack cuts every tile of a layer from one read of it, not one store query per tile."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = [r for r in records if r.geometry is not None and not r.geometry.is_empty]
        self.by_id = {r.id: r for r in self.records}
        geoms = np.array([r.geometry for r in self.records], dtype=object)
        self.env = shapely.bounds(geoms).reshape(-1, 4) if len(geoms) else np.zeros((0, 4))
        self.tree = shapely.STRtree(shapely.box(*self.env.T) if len(geoms) else [])

    def envelopes(
        self, kind: str, bbox: tuple[float, float, float, float]
    ) -> tuple[list[str], Any]:
        idx = np.sort(self.tree.query(shapely.box(*bbox)))
        return [self.records[i].id for i in idx.tolist()], self.env[idx]

    def get_many(self, kind: str, ids: Sequence[str]) -> list[Record]:
        return [self.by_id[i] for i in ids if i in self.by_id]


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
    store: TileSource,
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
    """One layer's features as an MVT (empty bytes for none)."""
    return encode_layers([(layer, features)])


def encode_layers(layers: Sequence[tuple[str, list[dict[str, Any]]]]) -> bytes:
    """Several layers' features as one MVT (empty bytes when no layer has a feature)."""
    import mapbox_vector_tile  # type: ignore[import-untyped,unused-ignore]
    from mapbox_vector_tile.encoder import (  # type: ignore[import-untyped,unused-ignore]
        on_invalid_geometry_make_valid,
    )

    layers = [(name, feats) for name, feats in layers if feats]
    if not layers:
        return b""
    out: bytes = mapbox_vector_tile.encode(
        [{"name": name, "features": feats} for name, feats in layers],
        default_options={
            "extents": EXTENT,
            "y_coord_down": True,
            "on_invalid_geometry": on_invalid_geometry_make_valid,
            "check_winding_order": False,  # oriented in tile_features
        },
    )
    return out
