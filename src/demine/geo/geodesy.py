"""Geodesic figures on the WGS 84 ellipsoid, vectorised over arrays of geometries.

Accuracy (see ``docs/geometry.md``, measured by ``tests/test_geodesy.py``):

- :func:`geodesic_area`: exact equal-area mapping (authalic latitude, then a Lambert azimuthal
  equal-area projection of the authalic sphere centred on each geometry). The only error is that
  edges are straight in that projection rather than ellipsoidal geodesics: relative error below
  1e-5 for polygons up to 50 km across, at any latitude up to ±80°.
- :func:`geodesic_distance`: pyproj ``Geod.inv`` (Karney's algorithm, nanometre accuracy).
- :func:`distance_to_geometries`: azimuthal equidistant projection centred on the point, so
  distances from the centre are exact geodesics; edges are densified to 0.01° first. Error well
  under 0.1% for targets within a few hundred kilometres.
- :func:`batch_within` / :class:`GeometryIndex`: candidate pairs from an STRtree with
  conservative degree windows, refined in a local metric frame per geometry, and the final
  distance to the nearest point measured with ``Geod.inv``. Error below 0.5% of the distance.
  With a coverage grid (:mod:`demine.geo.coverage`) most points skip the STRtree and the polygon
  test; the answers are the same.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from demine.geo.coverage import CoverageGrid, slack, window_deg
from demine.geo.plain import lon_boxes

__all__ = [
    "GeometryIndex",
    "batch_within",
    "densify_m",
    "distance_line_to_geometries",
    "distance_to_geometries",
    "geodesic_area",
    "geod",
    "geodesic_distance",
    "geometry_array",
    "lon_boxes",
    "lonlat_window",
    "radii_of_curvature",
    "unwrap_longitudes",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_E = math.sqrt(_E2)


@functools.cache
def geod() -> Any:
    """pyproj's ``Geod`` of the WGS 84 ellipsoid (Karney's geodesics), made on first use:
    pyproj is loaded only by what measures a geodesic (an import of polygons seldom does)."""
    from pyproj import Geod

    return Geod(ellps="WGS84")


def _q(sin_phi: FloatArray) -> FloatArray:
    es = _E * sin_phi
    q: FloatArray = (1 - _E2) * (sin_phi / (1 - es * es) - np.log((1 - es) / (1 + es)) / (2 * _E))
    return q


_QP = float(_q(np.array([1.0]))[0])
_RQ = _A * math.sqrt(_QP / 2)  # radius of the authalic sphere


def _authalic_sin(lat_deg: FloatArray) -> FloatArray:
    s: FloatArray = np.clip(_q(np.sin(np.radians(lat_deg))) / _QP, -1.0, 1.0)
    return s


def geometry_array(geoms: Any) -> npt.NDArray[np.object_]:
    """A geometry or a sequence of geometries (or None) as a 1-d numpy object array."""
    if isinstance(geoms, shapely.Geometry):
        geoms = [geoms]
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    return arr


def geodesic_area(geoms: Any, centre: Any = None) -> FloatArray:
    """Area in m² of each geometry (holes subtracted; 0 for points, lines and None).

    Each geometry is projected to an equal-area azimuthal projection (authalic sphere) centred on
    its own bounding box, or on ``centre`` (lon, lat) for all: pieces measured with one centre
    add up exactly to the area of their union (land-release accounting relies on it). An
    n x 2 ``centre`` gives each geometry its own. Each area depends only on its geometry and
    centre, never on the others measured with it."""
    arr = geometry_array(geoms)
    out = np.zeros(len(arr))
    if not len(arr):
        return out
    ids = shapely.get_type_id(arr)  # -1 for None
    poly = (ids == 3) | (ids == 6) | (ids == 7)
    if not poly.any():
        return out
    sub = arr[poly]
    parts, part_geom = shapely.get_parts(sub, return_index=True)
    if (ids[poly] == 7).any():  # members of collections
        parts, p2 = shapely.get_parts(parts, return_index=True)
        part_geom = part_geom[p2]
    is_poly = shapely.get_type_id(parts) == 3
    rings, ring_part = shapely.get_rings(parts[is_poly], return_index=True)
    if not len(rings):
        return out
    # the first ring of each polygon is its exterior, the others are holes: areas are taken
    # unsigned and holes subtracted, whatever the rings' orientation
    exterior = np.ones(len(rings), bool)
    exterior[1:] = ring_part[1:] != ring_part[:-1]
    ring_geom = part_geom[is_poly][ring_part]
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    # Projection centre per geometry: the middle of its bounding box.
    b = shapely.bounds(sub)
    lon0 = (b[:, 0] + b[:, 2]) / 2
    lat0 = (b[:, 1] + b[:, 3]) / 2
    if centre is not None:
        cxy = np.asarray(centre, dtype=np.float64)
        if cxy.ndim == 2:  # one centre per geometry
            lon0, lat0 = cxy[poly, 0], cxy[poly, 1]
        else:
            lon0 = np.full(len(sub), float(centre[0]))
            lat0 = np.full(len(sub), float(centre[1]))
    g_of = ring_geom[ring_of]
    sb = _authalic_sin(xy[:, 1])
    cb = np.sqrt(1 - sb * sb)
    sb0 = _authalic_sin(lat0)[g_of]
    cb0 = np.sqrt(1 - sb0 * sb0)
    dl = np.radians(xy[:, 0] - lon0[g_of])
    cdl = np.cos(dl)
    k = np.sqrt(2 / np.maximum(1 + sb0 * sb + cb0 * cb * cdl, 1e-15))
    x = _RQ * k * cb * np.sin(dl)
    y = _RQ * k * (cb0 * sb - sb0 * cb * cdl)
    same = ring_of[1:] == ring_of[:-1]
    cross = np.where(same, x[:-1] * y[1:] - x[1:] * y[:-1], 0.0)
    ring_area = np.abs(np.bincount(ring_of[:-1], weights=cross, minlength=len(rings)) / 2)
    g_area = np.bincount(
        ring_geom, weights=np.where(exterior, ring_area, -ring_area), minlength=len(sub)
    )
    out[poly] = np.abs(g_area)
    return out


def geodesic_distance(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> FloatArray:
    """Geodesic distance in metres between positions (arrays broadcast)."""
    a, b, c, d = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = geod().inv(a.ravel(), b.ravel(), c.ravel(), d.ravel())
    res: FloatArray = np.asarray(dist, np.float64).reshape(a.shape)
    return res


def _aeqd(lon: float, lat: float) -> Any:
    """Azimuthal equidistant projection on WGS 84 centred on (lon, lat): distances from the
    centre are geodesic. A bare Proj (no CRS database look-up) costs a fraction of a
    millisecond to make, a Transformer from a CRS some ten."""
    from pyproj import Proj

    return Proj(f"+proj=aeqd +lat_0={float(lat)!r} +lon_0={float(lon)!r} +ellps=WGS84 +units=m")


def distance_to_geometries(
    lon: float, lat: float, geoms: Any, max_segment_deg: float = 0.01
) -> FloatArray:
    """Geodesic distance in metres from one point to each geometry (0 inside or on it; NaN for
    None). Edges are densified to ``max_segment_deg`` before projecting."""
    arr = geometry_array(geoms)
    out = np.full(len(arr), np.nan)
    have = np.array([g is not None for g in arr], bool)
    if not have.any():
        return out
    # an azimuthal equidistant projection centred near the point (on a 0.25° grid, so it is
    # made once per area, not per call): within ~120 km of its centre it distorts distances by
    # under 1e-4, far inside the 0.5 % this figure promises
    tr = _aeqd_near(float(lon), float(lat))
    dense = shapely.segmentize(arr[have], max_segment_deg)

    def fwd(c: FloatArray) -> FloatArray:
        x, y = tr(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    proj = shapely.transform(dense, fwd)
    px, py = tr(float(lon), float(lat))
    out[have] = shapely.distance(shapely.points(px, py), proj)
    return out


_GRID = 0.25


def _aeqd_near(lon: float, lat: float) -> Any:
    return _aeqd_cached(round(lon / _GRID) * _GRID, round(lat / _GRID) * _GRID)


@functools.lru_cache(maxsize=4096)
def _aeqd_cached(lon0: float, lat0: float) -> Any:
    return _aeqd(lon0, lat0)


def radii_of_curvature(lat_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Meridional (M) and prime-vertical (N) radii of curvature, metres."""
    s = np.sin(np.radians(lat_deg))
    w = np.sqrt(1 - _E2 * s * s)
    return _A * (1 - _E2) / w**3, _A / w


class GeometryIndex:
    """An index over geometries (CRS84) for geodesic radius queries from many points.

    With a coverage grid (``grid_radius_m``, or :meth:`build_grid`), points are looked up
    in the grid's cells first (:mod:`demine.geo.coverage`): most need no polygon test at all.
    The results are the same with or without it."""

    def __init__(self, geoms: Any, *, grid_radius_m: float | None = None) -> None:
        self.geoms = geometry_array(geoms)
        self.tree = shapely.STRtree(self.geoms)
        b = shapely.bounds(self.geoms)
        self.lon0 = (b[:, 0] + b[:, 2]) / 2
        self.lat0 = (b[:, 1] + b[:, 3]) / 2
        m, n = radii_of_curvature(self.lat0)
        self.kx = np.radians(1.0) * n * np.cos(np.radians(self.lat0))
        self.ky = np.radians(1.0) * m
        # Half-extent of each geometry, radians of latitude: bounds the local frame's scale error.
        self.half_extent = np.radians(np.hypot((b[:, 2] - b[:, 0]) / 2, (b[:, 3] - b[:, 1]) / 2))
        xy, gi = shapely.get_coordinates(self.geoms, return_index=True)
        local = np.column_stack(
            [(xy[:, 0] - self.lon0[gi]) * self.kx[gi], (xy[:, 1] - self.lat0[gi]) * self.ky[gi]]
        )
        self.local = self.geoms.copy()
        shapely.set_coordinates(self.local, local)
        shapely.prepare(self.local)
        self.local_bounds = shapely.bounds(self.local)
        self.grid: CoverageGrid | None = None
        if grid_radius_m is not None:
            self.build_grid(grid_radius_m)

    def build_grid(self, radius_m: float) -> CoverageGrid:
        """Build (or rebuild) the coverage grid, used by :meth:`within` for radii up to
        ``radius_m``."""
        self.grid = CoverageGrid.build(self, radius_m)
        return self.grid

    def within(
        self, lons: Any, lats: Any, radius_m: float, *, exact: bool = False
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """All (point, geometry) pairs within ``radius_m`` geodesic metres, with the distance
        (0 when the point is inside or on the geometry), ordered by point then geometry.
        ``exact`` leaves the coverage grid aside (the same results, for tests)."""
        lons = np.asarray(lons, np.float64).ravel()
        lats = np.asarray(lats, np.float64).ravel()
        r = float(radius_m)
        g = self.grid
        if exact or g is None or r > g.radius_m or not len(lons):
            return self._sorted(*self._exact(lons, lats, r))
        on = g.on_grid(lons, lats)
        pi, gi, known = g.lookup(lons[on], lats[on])
        sub = np.flatnonzero(on)
        pi = sub[pi]
        ki, kg = pi[known], gi[known]
        rp, rg, rd = self._refine(lons, lats, pi[~known], gi[~known], r)
        parts = [(ki, kg, np.zeros(len(ki))), (rp, rg, rd)]
        off = np.flatnonzero(~on)
        if len(off):
            op, og, od = self._exact(lons[off], lats[off], r)
            parts.append((off[op], og, od))
        return self._sorted(
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    @staticmethod
    def _sorted(pi: IntArray, gi: IntArray, d: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
        order = np.lexsort((gi, pi))
        return pi[order].astype(np.int64), gi[order].astype(np.int64), d[order]

    def _exact(
        self, lons: FloatArray, lats: FloatArray, r: float
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Candidates from the STRtree with conservative degree windows, then refined."""
        if not len(lons):
            z = np.zeros(0, np.int64)
            return z, z.copy(), np.zeros(0)
        pts = shapely.points(lons, lats)
        pi, gi = self.tree.query(pts, predicate="dwithin", distance=window_deg(lats, r))
        del pts
        return self._refine(lons, lats, pi.astype(np.int64), gi.astype(np.int64), r)

    def _refine(
        self, lons: FloatArray, lats: FloatArray, pi: IntArray, gi: IntArray, r: float
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """The candidate pairs (pi, gi) within ``r`` geodesic metres, with the distance."""
        if not len(pi):
            return pi, gi, np.zeros(0)
        lx = (lons[pi] - self.lon0[gi]) * self.kx[gi]
        ly = (lats[pi] - self.lat0[gi]) * self.ky[gi]
        # The local frame is exact at the geometry's centre latitude; its scale drifts by about
        # tan(lat0) * (latitude offset), so keep a margin before the exact refinement.
        reach = r * slack(self, gi, r)
        # a pair whose point is farther than that from the geometry's box is out (no test)
        lb = self.local_bounds[gi]
        gap = np.hypot(
            np.maximum(0.0, np.maximum(lb[:, 0] - lx, lx - lb[:, 2])),
            np.maximum(0.0, np.maximum(lb[:, 1] - ly, ly - lb[:, 3])),
        )
        box = np.flatnonzero(gap <= reach * (1 + 1e-9) + 1e-6)
        pi, gi, lx, ly, reach = pi[box], gi[box], lx[box], ly[box], reach[box]
        lp = shapely.points(lx, ly)
        d_loc = shapely.distance(self.local[gi], lp)
        inside = d_loc == 0.0
        cand = ~inside & (d_loc <= reach)
        dist = np.zeros(len(pi))
        ci = np.flatnonzero(cand)
        if len(ci):
            line = shapely.shortest_line(lp[ci], self.local[gi[ci]])
            c = shapely.get_coordinates(line).reshape(-1, 2, 2)[:, 1, :]
            g = gi[ci]
            nlon = c[:, 0] / self.kx[g] + self.lon0[g]
            nlat = c[:, 1] / self.ky[g] + self.lat0[g]
            _, _, d = geod().inv(lons[pi[ci]], lats[pi[ci]], nlon, nlat)
            dist[ci] = d
        keep = inside | (cand & (dist <= r))
        return pi[keep], gi[keep], dist[keep]


def batch_within(
    lons: Any, lats: Any, geoms: Any, radius_m: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """All (point index, geometry index, geodesic distance in m) pairs within ``radius_m``.

    Distance is 0 when the point is inside or on the geometry. Geometries that cross the
    antimeridian are not supported (split them at 180°).
    """
    return GeometryIndex(geoms).within(lons, lats, radius_m)


def unwrap_longitudes(lons: Any) -> FloatArray:
    """Longitudes of a line made continuous: a step of more than 180° is taken the short way,
    across the antimeridian (179.9 then -179.9 becomes 179.9 then 180.1), so the values may
    leave ±180. A step of exactly 180° is kept as given."""
    x = np.asarray(lons, np.float64).ravel()
    if len(x) < 2:
        return x.copy()
    d = np.diff(x)
    d = np.where(np.abs(d) > 180.0, d - 360.0 * np.sign(d), d)
    out: FloatArray = np.concatenate([x[:1], x[0] + np.cumsum(d)])
    return out


def lonlat_window(lat_min: float, lat_max: float, radius_m: float) -> tuple[float, float]:
    """Degrees of latitude and of longitude that surely hold ``radius_m`` metres anywhere
    between ``lat_min`` and ``lat_max`` (longitude: at most 360, all of it)."""
    dlat = radius_m / 110_574.0 * 1.01 + 1e-7
    c = math.cos(math.radians(min(89.9, max(abs(lat_min), abs(lat_max)) + dlat)))
    dlon = min(360.0, radius_m / (111_320.0 * c) * 1.01 + 1e-7)
    return dlat, dlon


def _segment_length_bound(xy: FloatArray) -> FloatArray:
    """An upper bound of each segment's length in metres, the segment followed straight in
    longitude and latitude (as GeoJSON draws it)."""
    y0, y1 = xy[:-1, 1], xy[1:, 1]
    lo = np.where(y0 * y1 <= 0, 0.0, np.minimum(np.abs(y0), np.abs(y1)))
    dx = np.abs(np.diff(xy[:, 0])) * 111_700.0 * np.cos(np.radians(lo))
    dy = np.abs(y1 - y0) * 111_700.0
    out: FloatArray = np.hypot(dx, dy)
    return out


def densify_m(coords: Any, step_m: float) -> FloatArray:
    """Positions added along each segment (straight in longitude and latitude) so that no step
    is longer than ``step_m`` metres. The number of positions grows with the line's length in
    metres, not in degrees: a short line near a pole stays short."""
    xy = np.asarray(coords, np.float64).reshape(-1, 2)
    if len(xy) < 2:
        return xy.copy()
    n = np.maximum(1, np.ceil(_segment_length_bound(xy) / float(step_m))).astype(np.int64)
    seg = np.repeat(np.arange(len(n)), n)
    first = np.concatenate([[0], np.cumsum(n)[:-1]])
    t = (np.arange(int(n.sum())) - first[seg]) / n[seg]
    pts = xy[seg] + (xy[seg + 1] - xy[seg]) * t[:, None]
    out: FloatArray = np.vstack([pts, xy[-1:]])
    return out


def distance_line_to_geometries(
    coords: Any, geoms: Any, *, piece_m: float = 20_000.0, max_m: float | None = None
) -> FloatArray:
    """Geodesic metres from a line (lon/lat positions) to each geometry (0 where they meet).

    A step of more than 180° of longitude is taken the short way, across the antimeridian
    (:func:`unwrap_longitudes`). The line is cut into pieces of at most ``piece_m``; each piece
    and the geometries near it are projected into an azimuthal equidistant projection centred
    on the piece's middle, where distances within ``piece_m`` / 2 of the centre are geodesic to
    better than 1e-5. With ``max_m``, a geometry is measured only from the pieces it may be
    within ``max_m`` of: a distance over ``max_m`` may come back as infinity.
    """
    xy = np.asarray(coords, dtype=np.float64).reshape(-1, 2).copy()
    xy[:, 0] = unwrap_longitudes(xy[:, 0])
    arr = geometry_array(geoms)
    out = np.full(len(arr), np.inf)
    if len(arr) == 0:
        return out
    if len(xy) < 2 or not np.any(xy[1:] != xy[:-1]):
        return distance_to_geometries(float(xy[0, 0]), float(xy[0, 1]), arr)
    # positions at most piece_m / 4 apart
    dense = densify_m(xy, piece_m / 4)
    _, _, seg = geod().inv(dense[:-1, 0], dense[:-1, 1], dense[1:, 0], dense[1:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    have = np.array([g is not None and not g.is_empty for g in arr], bool)
    targets = arr[have]
    dense_geoms = shapely.segmentize(targets, 0.01)
    pieces: list[tuple[int, int]] = []
    start = 0
    while start < len(dense) - 1:
        end = int(np.searchsorted(cum, cum[start] + piece_m, side="right")) - 1
        end = max(end, start + 1)
        pieces.append((start, end))
        start = end
    pb = np.array(
        [[*dense[a : b + 1].min(axis=0), *dense[a : b + 1].max(axis=0)] for a, b in pieces]
    )
    # a lower bound of each (geometry, piece) distance: measure a piece only where it may be
    # nearer than the nearest piece measured so far (and within max_m)
    lower = _box_gap_m(shapely.bounds(targets), pb)
    limit = np.inf if max_m is None else float(max_m)
    best = np.full(len(targets), np.inf)
    rows = np.arange(len(targets))
    first = np.argmin(lower, axis=1)
    near = lower[rows, first] <= limit
    _measure(dense, pieces, dense_geoms, rows[near], first[near], best)
    more = (lower < best[:, None]) & (lower <= limit)
    more[rows, first] = False
    gi, pi = np.nonzero(more)
    _measure(dense, pieces, dense_geoms, gi, pi, best)
    out[have] = best
    out[~have] = np.nan
    return out


def _box_gap_m(boxes: FloatArray, pieces: FloatArray) -> FloatArray:
    """A lower bound, in metres, of the distance between each box (rows, within ±180) and each
    piece's box (columns; longitudes may leave ±180): the gaps in latitude and longitude at the
    smallest metres per degree over both boxes, less 2 %."""
    b = boxes[:, None, :]
    p = pieces[None, :, :]
    gy = np.maximum(0.0, np.maximum(b[..., 1] - p[..., 3], p[..., 1] - b[..., 3]))
    gx = np.full(gy.shape, np.inf)
    for shift in (-360.0, 0.0, 360.0):
        g = np.maximum(
            0.0, np.maximum(b[..., 0] + shift - p[..., 2], p[..., 0] - b[..., 2] - shift)
        )
        gx = np.minimum(gx, g)
    top = np.maximum(
        np.maximum(np.abs(b[..., 1]), np.abs(b[..., 3])),
        np.maximum(np.abs(p[..., 1]), np.abs(p[..., 3])),
    )
    kx = 111_320.0 * np.cos(np.radians(np.minimum(top, 90.0)))
    out: FloatArray = 0.98 * np.hypot(gx * kx, gy * 110_574.0)
    return out


def _measure(
    dense: FloatArray,
    pieces: list[tuple[int, int]],
    geoms: npt.NDArray[np.object_],
    gi: IntArray,
    pi: IntArray,
    best: FloatArray,
) -> None:
    """``best[g]`` lowered to the distance from piece ``p`` for each pair (g, p), measured in
    an azimuthal equidistant projection centred on the piece's middle."""
    order = np.argsort(pi, kind="stable")
    gi, pi = gi[order], pi[order]
    for j in np.unique(pi):
        idx = gi[pi == j]
        a, b = pieces[int(j)]
        part = dense[a : b + 1]
        mid = part[len(part) // 2]
        tr = _aeqd(float(mid[0]), float(mid[1]))

        def fwd(c: FloatArray, tr: Any = tr) -> FloatArray:
            x, y = tr(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        px, py = tr(part[:, 0], part[:, 1])
        pline = shapely.linestrings(np.column_stack([px, py]))
        proj = shapely.transform(geoms[idx], fwd)
        best[idx] = np.minimum(best[idx], shapely.distance(pline, proj))
