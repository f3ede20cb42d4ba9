"""The vector tiles of the offline safety pack (:mod:`demine.services.publish`): every tile of
zooms 0..max_zoom that meets the pack's box and holds a feature, cut with the encoder the HTTP
tiles use (:mod:`demine.services.tiles`) and written to one PMTiles v3 archive. The encoder is
pure Python, so a national pack is cut by one process per core (fork: the layers are shared,
never pickled); the archive is the same byte for byte whatever the number of processes."""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from demine.model.kinds import Kind
from demine.model.schema import Record

Box = tuple[float, float, float, float]
UNVERIFIED_LAYER = "unverified_reports"


def _tile_range(env: np.ndarray, z: int) -> tuple[np.ndarray, ...]:
    """Per envelope (minx, miny, maxx, maxy), the tile columns and rows it meets at zoom z
    (widened by the tiles' buffer)."""
    from demine.services.tiles import BUFFER, EXTENT, MAX_LAT

    n = 2**z
    pad = BUFFER / EXTENT

    def ty(lat: np.ndarray) -> np.ndarray:
        la = np.radians(np.clip(lat, -MAX_LAT, MAX_LAT))
        out: np.ndarray = (1.0 - np.arcsinh(np.tan(la)) / math.pi) / 2.0 * n
        return out

    x0 = np.clip(np.floor((env[:, 0] + 180.0) / 360.0 * n - pad), 0, n - 1).astype(np.int64)
    x1 = np.clip(np.floor((env[:, 2] + 180.0) / 360.0 * n + pad), 0, n - 1).astype(np.int64)
    y0 = np.clip(np.floor(ty(env[:, 3]) - pad), 0, n - 1).astype(np.int64)
    y1 = np.clip(np.floor(ty(env[:, 1]) + pad), 0, n - 1).astype(np.int64)
    return x0, y0, x1, y1


def _tiles_of(env: np.ndarray, z: int, limit: tuple[int, int, int, int]) -> set[tuple[int, int]]:
    """The tiles at zoom z that any envelope meets, within the (x0, y0, x1, y1) limit."""
    if not len(env):
        return set()
    x0, y0, x1, y1 = _tile_range(env, z)
    lx0, ly0, lx1, ly1 = limit
    x0, x1 = np.maximum(x0, lx0), np.minimum(x1, lx1)
    y0, y1 = np.maximum(y0, ly0), np.minimum(y1, ly1)
    ok = (x0 <= x1) & (y0 <= y1)
    out: set[tuple[int, int]] = set()
    one = ok & (x0 == x1) & (y0 == y1)
    out.update(zip(x0[one].tolist(), y0[one].tolist(), strict=True))
    for a, b, c, d in zip(
        x0[ok & ~one].tolist(),
        y0[ok & ~one].tolist(),
        x1[ok & ~one].tolist(),
        y1[ok & ~one].tolist(),
        strict=True,
    ):
        out.update((x, y) for x in range(a, c + 1) for y in range(b, d + 1))
    return out


def _point_features(
    pts: list[tuple[float, float, dict[str, Any]]], z: int, x: int, y: int
) -> list[dict[str, Any]]:
    from demine.services.tiles import BUFFER, EXTENT, _to_tile

    if not pts:
        return []
    xy = _to_tile(z, x, y)(np.array([[p[0], p[1]] for p in pts], dtype=float))
    lo, hi = -BUFFER, EXTENT + BUFFER
    feats = []
    for (px, py), (_, _, props) in zip(xy.tolist(), pts, strict=True):
        if lo <= px <= hi and lo <= py <= hi:
            feats.append({"geometry": shapely.Point(px, py), "properties": dict(props)})
    return feats


# the layers of the pack being cut, for the worker processes (set by write_tiles, then cleared)
_JOB: dict[str, Any] = {}
PARALLEL_MIN_TILES = 512  # fewer tiles are cut in this process (a pool costs more than it saves)


def _chunks(items: list[tuple[int, int, int]], size: int) -> Iterable[list[tuple[int, int, int]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _cut_tiles(batch: list[tuple[int, int, int]]) -> list[tuple[int, bytes]]:
    """The gzipped MVT of each tile of ``batch`` that holds a feature, with its PMTiles id."""
    from pmtiles.tile import zxy_to_tileid

    from demine.services.tiles import encode_layers, tile_features

    sources, points = _JOB["sources"], _JOB["points"]
    out = []
    for z, x, y in batch:
        parts = [(kind.name, tile_features(src, kind, "public", z, x, y)) for kind, src in sources]
        parts.append((UNVERIFIED_LAYER, _point_features(points, z, x, y)))
        data = encode_layers(parts)
        if data:
            out.append((zxy_to_tileid(z, x, y), gzip.compress(data, 6, mtime=0)))
    return out


def default_jobs() -> int:
    """Processes for cutting tiles: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def write_tiles(
    path: Path,
    layers: Sequence[tuple[Kind, list[Record]]],
    points: list[tuple[float, float, dict[str, Any]]],
    bbox: Box,
    max_zoom: int,
    metadata: dict[str, Any],
    jobs: int = 1,
) -> int:
    """Cut every tile of zooms 0..max_zoom that meets ``bbox`` and holds a feature, in ``jobs``
    processes; write them to one PMTiles v3 archive at ``path``; the number of tiles."""
    from pmtiles.tile import Compression, TileType
    from pmtiles.writer import Writer

    from demine.services.tiles import MAX_LAT, MemoryLayer

    sources = [(kind, MemoryLayer(recs)) for kind, recs in layers]
    pt_env = np.array([[p[0], p[1], p[0], p[1]] for p in points], dtype=float).reshape(-1, 4)
    bb = np.array([[bbox[0], max(bbox[1], -MAX_LAT), bbox[2], min(bbox[3], MAX_LAT)]])
    todo: list[tuple[int, int, int]] = []
    for z in range(max_zoom + 1):
        bx0, by0, bx1, by1 = (int(v[0]) for v in _tile_range(bb, z))
        limit = (bx0, by0, bx1, by1)
        wanted: set[tuple[int, int]] = _tiles_of(pt_env, z, limit)
        for _, src in sources:
            wanted |= _tiles_of(src.env, z, limit)
        todo += [(z, x, y) for x, y in sorted(wanted)]
    _JOB.update(sources=sources, points=points)
    try:
        if jobs > 1 and len(todo) >= PARALLEL_MIN_TILES:
            # the cutting is pure Python (the MVT encoder): one process per core, each with the
            # layers as this one holds them (fork: copied on write, never pickled)
            import multiprocessing

            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                cut = list(pool.imap_unordered(_cut_tiles, _chunks(todo, 64)))
        else:
            cut = [_cut_tiles(todo)]
    finally:
        _JOB.clear()
    tiles = [t for part in cut for t in part]
    tiles.sort()
    if not tiles:  # the writer needs a tile to know the zooms: an empty pack has one, empty
        tiles = [(0, gzip.compress(b"", 6, mtime=0))]
    with path.open("wb") as fh:
        w = Writer(fh)  # type: ignore[no-untyped-call]
        for tid, data in tiles:
            w.write_tile(tid, data)  # type: ignore[no-untyped-call]
        e7 = [
            round(v * 1e7)
            for v in (bbox[0], max(bbox[1], -MAX_LAT), bbox[2], min(bbox[3], MAX_LAT))
        ]
        w.finalize(  # type: ignore[no-untyped-call]
            {
                "tile_type": TileType.MVT,
                "tile_compression": Compression.GZIP,
                "min_lon_e7": e7[0],
                "min_lat_e7": e7[1],
                "max_lon_e7": e7[2],
                "max_lat_e7": e7[3],
                "center_zoom": min(max_zoom, 8),
                "center_lon_e7": round((e7[0] + e7[2]) / 2),
                "center_lat_e7": round((e7[1] + e7[3]) / 2),
            },
            metadata,
        )
    return len(tiles)
