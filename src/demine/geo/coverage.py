"""A coverage grid over geometries for batch radius lookups (:class:`GeometryIndex`).

Cells are squares in degrees whose side is a power of two (so a point's cell is found by exact
arithmetic: ``floor(lon / side)``), at one of a few levels: each geometry is entered at the
finest level where its search window covers at most ``CAP`` cells. For each (cell, geometry)
entry the grid knows, from the geometry's local metric frame, one of:

- *far*: no point of the cell can be within the grid's radius (times the local frame's slack)
  of the geometry's bounding box; the entry is dropped, so a cell with no entry answers
  "nothing" with no polygon test;
- *inside*: the cell lies strictly inside the geometry (tested whole, for cells within the
  geometry's box); every point of the cell is at distance 0;
- *near*: anything else; a point of the cell is measured exactly, as without the grid.

Testing each near cell against the polygon itself (not its box) was tried: a tenth fewer
entries and no faster lookups than the machine's noise, for a build ten times as long.

Every step is conservative: a pair the exact lookup would return is never dropped, and an
"inside" answer is one the exact lookup gives too (distance 0), so results are identical. The
grid covers points within ±``LAT_MAX``° of latitude (beyond that, cells in degrees get thin and
the search windows wide: such points are looked up exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import shapely

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class GeometryIndex(Protocol):
    """What the grid reads of a :class:`demine.geo.geodesy.GeometryIndex`: the geometries and
    their local metric frames (east, north metres from the centre of each bounding box)."""

    geoms: npt.NDArray[np.object_]
    local: npt.NDArray[np.object_]  # the geometries in their frames, prepared
    local_bounds: FloatArray
    lon0: FloatArray
    lat0: FloatArray
    kx: FloatArray  # metres per degree of longitude at lat0
    ky: FloatArray
    half_extent: FloatArray  # radians of latitude


LAT_MAX = 80.0  # points farther from the equator are looked up exactly
CAP = 16  # at most this many cells per geometry at its level
_FINEST = -20  # cells no smaller than 2**-20 degrees (10 cm)
_COARSEST = 10  # 1024°: one or two cells hold anything
_OFF = 1 << 30  # cell indices are offset into 0 .. 2**31 and packed into one int64
_EPS = 1e-9  # degrees a cell is grown by when it is classified (conservative)


def window_deg(lat: FloatArray | float, radius_m: float) -> FloatArray:
    """The search window, in degrees (a distance in lon/lat), around a point at latitude ``lat``
    that surely holds everything within ``radius_m`` geodesic metres of it."""
    r = float(radius_m)
    coslat = np.maximum(np.cos(np.radians(np.minimum(np.abs(lat) + 0.01, 90.0))), 1e-9)
    dlat = np.degrees(r / 6_335_000.0) * 1.01 + 1e-9
    dlon = np.minimum(np.degrees(r / (6_378_137.0 * coslat)) * 1.01 + 1e-9, 360.0)
    out: FloatArray = np.maximum(dlon, dlat)
    return out


def slack(index: GeometryIndex, gi: IntArray, radius_m: float) -> FloatArray:
    """Per geometry ``gi``: the factor by which a local-frame distance may understate the
    geodesic one (a local distance up to ``radius_m * slack`` is measured exactly)."""
    ext = index.half_extent[gi] + float(radius_m) / 6_335_000.0
    out: FloatArray = (
        1.0 + 0.01 + 2.0 * np.abs(np.tan(np.radians(index.lat0[gi]))) * ext + 2 * ext**2
    )
    return out


def _keys(ix: IntArray, iy: IntArray) -> IntArray:
    out: IntArray = (ix + _OFF) * (1 << 31) + (iy + _OFF)
    return out


_MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing of cell keys


def _slots(key: IntArray, bits: int) -> IntArray:
    out: IntArray = ((key.astype(np.uint64) * _MULT) >> np.uint64(64 - bits)).astype(np.int64)
    return out


@dataclass
class _Level:
    """The cells of one level: an open-addressing hash table (linear probing) from cell key to
    the cell's entries ``start[k] .. start[k + 1]`` of ``geom`` and ``inside``."""

    side: float  # degrees, a power of two
    table_key: IntArray  # cell key per slot, -1 where free
    table_cell: npt.NDArray[np.int32]  # cell number per slot
    start: IntArray
    geom: npt.NDArray[np.int32]
    inside: BoolArray

    @classmethod
    def of(
        cls, side: float, keys: IntArray, start: IntArray, geom: IntArray, inside: BoolArray
    ) -> _Level:
        bits = max(4, int(np.ceil(np.log2(max(1, len(keys)) * 2))))
        size = 1 << bits
        table_key = np.full(size, -1, np.int64)
        table_cell = np.zeros(size, np.int32)
        slot = _slots(keys, bits)
        todo = np.arange(len(keys))
        while len(todo):
            s = slot[todo]
            free = table_key[s] == -1
            s_free, first = np.unique(s[free], return_index=True)
            won = todo[free][first]  # one key per free slot this round
            table_key[s_free] = keys[won]
            table_cell[s_free] = won
            placed = np.zeros(len(keys), bool)
            placed[won] = True
            todo = todo[~placed[todo]]
            slot[todo] = (slot[todo] + 1) & (size - 1)
        return cls(side, table_key, table_cell, start, geom.astype(np.int32), inside)

    def find(self, key: IntArray) -> IntArray:
        """The cell number of each key, -1 where the level has no such cell."""
        size = len(self.table_key)
        out = np.full(len(key), -1, np.int64)
        s = _slots(key, size.bit_length() - 1)
        idx = np.arange(len(key))
        while len(idx):
            k = self.table_key[s]
            hit = k == key[idx]
            out[idx[hit]] = self.table_cell[s[hit]]
            go = ~hit & (k != -1)
            idx, s = idx[go], (s[go] + 1) & (size - 1)
        return out

    @property
    def cells(self) -> int:
        return len(self.start) - 1

    @property
    def nbytes(self) -> int:
        return int(
            self.table_key.nbytes
            + self.table_cell.nbytes
            + self.start.nbytes
            + self.geom.nbytes
            + self.inside.nbytes
        )


@dataclass
class CoverageGrid:
    """Cells around the geometries of a :class:`GeometryIndex`, valid for radii up to
    ``radius_m``."""

    radius_m: float
    levels: list[_Level]

    @property
    def nbytes(self) -> int:
        return sum(lv.nbytes for lv in self.levels)

    @property
    def entries(self) -> int:
        return sum(len(lv.geom) for lv in self.levels)

    @property
    def cells(self) -> int:
        return sum(lv.cells for lv in self.levels)

    @classmethod
    def build(cls, index: GeometryIndex, radius_m: float) -> CoverageGrid:
        r = float(radius_m)
        b = shapely.bounds(index.geoms)
        g_all = np.flatnonzero(np.isfinite(b).all(axis=1))
        b = b[g_all]
        wmax = float(window_deg(LAT_MAX, r))
        top = np.maximum(np.abs(b[:, 1]), np.abs(b[:, 3]))
        # a point within ±LAT_MAX of latitude near a geometry is within wmax (in degrees) of
        # it, so its window is at most the window at min(LAT_MAX, top + wmax); geometries out
        # of reach of the grid's points are left out
        reach = (b[:, 1] <= LAT_MAX + wmax) & (b[:, 3] >= -LAT_MAX - wmax)
        g_all, b, top = g_all[reach], b[reach], top[reach]
        w = window_deg(np.minimum(LAT_MAX, top + wmax), r) + _EPS
        x0 = np.clip(b[:, 0] - w, -721.0, 721.0)
        x1 = np.clip(b[:, 2] + w, -721.0, 721.0)
        y0 = np.clip(b[:, 1] - w, -LAT_MAX - 1.0, LAT_MAX + 1.0)
        y1 = np.clip(b[:, 3] + w, -LAT_MAX - 1.0, LAT_MAX + 1.0)
        # finest level: the cell side just under the radius in degrees of latitude
        s0 = int(np.clip(np.floor(np.log2(max(r, 1e-3) / 111_320.0)), _FINEST, _COARSEST))
        level = np.full(len(b), _COARSEST, np.int64)
        todo = np.ones(len(b), bool)
        for s in range(s0, _COARSEST + 1):
            side = 2.0**s
            n = (np.floor(x1 / side) - np.floor(x0 / side) + 1) * (
                np.floor(y1 / side) - np.floor(y0 / side) + 1
            )
            ok = todo & (n <= CAP)
            level[ok] = s
            todo &= ~ok
            if not todo.any():
                break
        levels = []
        for s in np.unique(level):
            sel = np.flatnonzero(level == s)
            levels.append(
                _build_level(
                    index, r, 2.0 ** int(s), g_all[sel], x0[sel], y0[sel], x1[sel], y1[sel]
                )
            )
        return cls(r, [lv for lv in levels if lv.cells])

    def lookup(self, lons: FloatArray, lats: FloatArray) -> tuple[IntArray, IntArray, BoolArray]:
        """Candidate (point, geometry) pairs of points on the grid (see :meth:`on_grid`), and
        whether the point is known to be inside the geometry."""
        pis, gis, ins = [], [], []
        for lv in self.levels:
            ix = np.floor(lons / lv.side).astype(np.int64)
            iy = np.floor(lats / lv.side).astype(np.int64)
            cell = lv.find(_keys(ix, iy))
            hit = np.flatnonzero(cell >= 0)
            if not len(hit):
                continue
            a = lv.start[cell[hit]]
            cnt = lv.start[cell[hit] + 1] - a
            pi = np.repeat(hit, cnt)
            first = np.cumsum(cnt) - cnt
            e = np.repeat(a - first, cnt) + np.arange(int(cnt.sum()))
            pis.append(pi)
            gis.append(lv.geom[e].astype(np.int64))
            ins.append(lv.inside[e])
        if not pis:
            z = np.zeros(0, np.int64)
            return z, z.copy(), np.zeros(0, bool)
        return np.concatenate(pis), np.concatenate(gis), np.concatenate(ins)

    @staticmethod
    def on_grid(lons: FloatArray, lats: FloatArray) -> BoolArray:
        """Which points the grid answers (finite, within ±LAT_MAX latitude, ±720 longitude)."""
        out: BoolArray = (np.abs(lats) <= LAT_MAX) & (np.abs(lons) <= 720.0)
        return out


def _build_level(
    index: GeometryIndex,
    r: float,
    side: float,
    g: IntArray,
    x0: FloatArray,
    y0: FloatArray,
    x1: FloatArray,
    y1: FloatArray,
) -> _Level:
    ix0, ix1 = np.floor(x0 / side).astype(np.int64), np.floor(x1 / side).astype(np.int64)
    iy0, iy1 = np.floor(y0 / side).astype(np.int64), np.floor(y1 / side).astype(np.int64)
    nx, ny = ix1 - ix0 + 1, iy1 - iy0 + 1
    cnt = nx * ny
    e_g = np.repeat(np.arange(len(g)), cnt)
    k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ix = ix0[e_g] + k // ny[e_g]
    iy = iy0[e_g] + k % ny[e_g]
    gi = g[e_g]
    # the cell, grown by _EPS, in the geometry's local frame (east, north metres)
    kx, ky = index.kx[gi], index.ky[gi]
    bx0 = (ix * side - _EPS - index.lon0[gi]) * kx
    bx1 = ((ix + 1) * side + _EPS - index.lon0[gi]) * kx
    by0 = (iy * side - _EPS - index.lat0[gi]) * ky
    by1 = ((iy + 1) * side + _EPS - index.lat0[gi]) * ky
    reach = r * slack(index, gi, r) * (1 + 1e-9) + 1e-6
    lb = index.local_bounds[gi]
    gap = np.hypot(
        np.maximum(0.0, np.maximum(lb[:, 0] - bx1, bx0 - lb[:, 2])),
        np.maximum(0.0, np.maximum(lb[:, 1] - by1, by0 - lb[:, 3])),
    )
    keep = np.flatnonzero(gap <= reach)
    # inside: cells within the geometry's box, tested whole (the geometry is prepared)
    inside = np.zeros(len(keep), bool)
    k = keep
    inner = np.flatnonzero(
        (bx0[k] > lb[k, 0]) & (bx1[k] < lb[k, 2]) & (by0[k] > lb[k, 1]) & (by1[k] < lb[k, 3])
    )
    if len(inner):
        k = k[inner]
        boxes = shapely.box(bx0[k], by0[k], bx1[k], by1[k])
        inside[inner] = shapely.contains_properly(index.local[gi[k]], boxes)
    key = _keys(ix[keep], iy[keep])
    order = np.lexsort((gi[keep], key))
    key, geom, inside = key[order], gi[keep][order], inside[order]
    cell_first = np.ones(len(key), bool)
    cell_first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(cell_first)
    return _Level.of(side, key[starts], np.append(starts, len(key)).astype(np.int64), geom, inside)
