"""Geodesic figures in plain Python (no numpy, shapely or pyproj): what one ``demine check``
process needs to answer quickly, computed as :func:`demine.geo.geodesy.distance_to_geometries`
computes it, so that both give the same distances (to well under a centimetre).

That function projects the geometries, their edges densified to 0.01°, into PROJ's
azimuthal equidistant projection centred near the point (on a 0.25° grid) and measures in the
plane (GEOS). Here the same projection is made from the geodesic inverse problem (Vincenty's
iteration: sub-millimetre for lines of a few hundred kilometres, as PROJ's ``aeqd`` uses
Karney's ``geod_inverse``), the edges are densified as GEOS densifies them, and the point's
distance to the projected rings is measured as GEOS measures it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Box = tuple[float, float, float, float]
Ring = Sequence[tuple[float, float]]
Polygon = Sequence[Ring]  # exterior ring first, then holes

_A = 6378137.0
_F = 1 / 298.257223563
_B = _A * (1 - _F)
GRID_DEG = 0.25  # the projection's centre: the point rounded to this grid (geodesy._aeqd_near)
MAX_SEGMENT_DEG = 0.01  # edges densified to this before projecting (distance_to_geometries)


class NotHandled(Exception):
    """A case this module does not answer (near a pole, a line that does not converge): the
    caller answers it the full way."""


def lon_boxes(box: Box) -> list[Box]:
    """A lon/lat box whose longitudes may leave ±180 (made from unwrapped longitudes, or a
    search window around a place near the antimeridian) as one or two boxes within ±180."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 - x0 >= 360.0:
        return [(-180.0, y0, 180.0, y1)]
    k = math.floor((x0 + 180.0) / 360.0)
    x0, x1 = x0 - 360.0 * k, x1 - 360.0 * k  # now -180 <= x0 < 180
    if x1 <= 180.0:
        return [(x0, y0, x1, y1)]
    return [(x0, y0, 180.0, y1), (-180.0, y0, x1 - 360.0, y1)]


def grid_centre(lon: float, lat: float) -> tuple[float, float]:
    """The centre of the projection used for a point (geodesy._aeqd_near)."""
    return round(lon / GRID_DEG) * GRID_DEG, round(lat / GRID_DEG) * GRID_DEG


class Aeqd:
    """The ellipsoidal azimuthal equidistant projection (WGS 84) centred on (lon0, lat0), in
    metres: a point's x, y are its geodesic distance from the centre times the sine and cosine
    of its azimuth there."""

    def __init__(self, lon0: float, lat0: float) -> None:
        if abs(lat0) > 80.0:  # PROJ's polar modes and long lines near a pole: not handled here
            raise NotHandled("near a pole")
        self.lon0, self.lat0 = lon0, lat0
        u1 = math.atan((1 - _F) * math.tan(math.radians(lat0)))
        self._su1, self._cu1 = math.sin(u1), math.cos(u1)
        self._cache: dict[tuple[float, float], tuple[float, float]] = {}

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        key = (lon, lat)
        xy = self._cache.get(key)
        if xy is None:
            xy = self._cache[key] = self._forward(lon, lat)
        return xy

    def _forward(self, lon: float, lat: float) -> tuple[float, float]:
        dlon = (lon - self.lon0 + 180.0) % 360.0 - 180.0
        if abs(dlon) < 1e-12 and abs(lat - self.lat0) < 1e-12:
            return 0.0, 0.0
        big_l = math.radians(dlon)
        u2 = math.atan((1 - _F) * math.tan(math.radians(lat)))
        su1, cu1, su2, cu2 = self._su1, self._cu1, math.sin(u2), math.cos(u2)
        lam = big_l
        for _ in range(200):
            sl, cl = math.sin(lam), math.cos(lam)
            ss = math.hypot(cu2 * sl, cu1 * su2 - su1 * cu2 * cl)
            if ss == 0.0:
                return 0.0, 0.0
            cs = su1 * su2 + cu1 * cu2 * cl
            sigma = math.atan2(ss, cs)
            sa = cu1 * cu2 * sl / ss
            c2a = 1 - sa * sa
            c2sm = cs - 2 * su1 * su2 / c2a if c2a != 0.0 else 0.0
            c = _F / 16 * c2a * (4 + _F * (4 - 3 * c2a))
            lam_prev = lam
            lam = big_l + (1 - c) * _F * sa * (
                sigma + c * ss * (c2sm + c * cs * (-1 + 2 * c2sm * c2sm))
            )
            if abs(lam - lam_prev) < 1e-13:
                break
        else:
            raise NotHandled("the geodesic did not converge")
        u_sq = c2a * (_A * _A - _B * _B) / (_B * _B)
        a_ = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
        b_ = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
        ds = (
            b_
            * ss
            * (
                c2sm
                + b_
                / 4
                * (
                    cs * (-1 + 2 * c2sm * c2sm)
                    - b_ / 6 * c2sm * (-3 + 4 * ss * ss) * (-3 + 4 * c2sm * c2sm)
                )
            )
        )
        s = _B * a_ * (sigma - ds)
        sl, cl = math.sin(lam), math.cos(lam)
        az = math.atan2(cu2 * sl, cu1 * su2 - su1 * cu2 * cl)
        return s * math.sin(az), s * math.cos(az)


def densify(ring: Ring, max_segment: float = MAX_SEGMENT_DEG) -> list[tuple[float, float]]:
    """The ring with positions added along each edge longer than ``max_segment`` (degrees),
    equally spaced, as GEOS's Densifier (``shapely.segmentize``) adds them."""
    out: list[tuple[float, float]] = []
    for i in range(len(ring) - 1):
        (x0, y0), (x1, y1) = ring[i], ring[i + 1]
        if not out or out[-1] != (x0, y0):
            out.append((x0, y0))
        dx, dy = x1 - x0, y1 - y0
        length = math.hypot(dx, dy)
        if length <= max_segment:
            continue
        n = int(math.ceil(length / max_segment))
        step = length / n
        for j in range(1, n):
            f = (j * step) / length
            p = (x0 + f * dx, y0 + f * dy)
            if out[-1] != p:
                out.append(p)
    if ring and (not out or out[-1] != tuple(ring[-1])):
        out.append((ring[-1][0], ring[-1][1]))
    return out


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from P to segment AB (GEOS's Distance::pointToSegment)."""
    if ax == bx and ay == by:
        return math.hypot(px - ax, py - ay)
    len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
    r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
    if r <= 0.0:
        return math.hypot(px - ax, py - ay)
    if r >= 1.0:
        return math.hypot(px - bx, py - by)
    s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
    return abs(s) * math.sqrt(len2)


def distance_to_polygons(lon: float, lat: float, polygons: Sequence[Polygon]) -> float:
    """Geodesic metres from the point to a (multi)polygon, 0 inside or on it, measured as
    :func:`demine.geo.geodesy.distance_to_geometries` measures it."""
    proj = Aeqd(*grid_centre(lon, lat))
    return distance_in(proj, lon, lat, polygons)


def distance_in(proj: Aeqd, lon: float, lat: float, polygons: Sequence[Polygon]) -> float:
    """:func:`distance_to_polygons` with the projection given (one for many geometries)."""
    px, py = proj(lon, lat)
    best = math.inf
    for rings in polygons:
        crossings = 0
        for ring in rings:
            pts = [proj(x, y) for x, y in densify(ring)]
            for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False):
                if (ay > py) != (by > py) and px < ax + (py - ay) * (bx - ax) / (by - ay):
                    crossings += 1
                d = _segment_distance(px, py, ax, ay, bx, by)
                if d < best:
                    best = d
        if crossings % 2 == 1 or best == 0.0:
            return 0.0
    return best
