"""Random places and times for the SYNTHETIC demo: the regions it uses, points and star-shaped
polygons inside them (sized in metres), and days and moments between two dates.

Every function draws from the ``numpy`` generator it is given, so that the same seed gives the
same demo; the regions are read from the packaged file (``demine/data/ukraine_regions.geojson``,
CC BY 4.0, see ``demine/data/NOTICE.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from demine.io.regions import REGIONS_FILE, load_regions

__all__ = [
    "EAST_REGIONS",
    "StarShape",
    "day_between",
    "east_shapes",
    "end_of",
    "geojson_geometry",
    "m_per_deg",
    "moment",
    "moment_between",
    "offset",
    "point_in",
    "star_shape",
]

# --- regions ----------------------------------------------------------------------------------


#: Regions (``region`` property of the packaged file) where demo hazards are placed, with the
#: relative weight of each. The weights are arbitrary; they only spread the demo.
EAST_REGIONS: dict[str, float] = {
    "Донецька область": 0.20,
    "Харківська область": 0.20,
    "Запорізька область": 0.12,
    "Херсонська область": 0.12,
    "Луганська область": 0.10,
    "Дніпропетровська область": 0.10,
    "Сумська область": 0.08,
    "Чернігівська область": 0.08,
}


@lru_cache(maxsize=1)
def east_shapes() -> dict[str, Any]:
    """Prepared shapely geometries of :data:`EAST_REGIONS`, by name (cached; never mutated)."""
    out: dict[str, Any] = {}
    for f in load_regions():
        name = f["properties"]["region"]
        if name in EAST_REGIONS:
            g = shape(f["geometry"])
            if not g.is_valid:  # the packaged file is repaired; stay safe with another copy
                g = shapely.make_valid(g)
            shapely.prepare(g)
            out[name] = g
    missing = set(EAST_REGIONS) - set(out)
    if missing:  # pragma: no cover - the packaged file holds them all
        raise RuntimeError(f"regions missing from {REGIONS_FILE}: {sorted(missing)}")
    return out


# --- geometry helpers -------------------------------------------------------------------------


def m_per_deg(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude on WGS 84 at this latitude."""
    p = math.radians(lat)
    m_lat = 111132.954 - 559.822 * math.cos(2 * p) + 1.175 * math.cos(4 * p)
    m_lon = 111412.84 * math.cos(p) - 93.5 * math.cos(3 * p) + 0.118 * math.cos(5 * p)
    return m_lon, m_lat


def offset(lon: float, lat: float, dx: float, dy: float) -> tuple[float, float]:
    m_lon, m_lat = m_per_deg(lat)
    return lon + dx / m_lon, lat + dy / m_lat


@dataclass(frozen=True, slots=True)
class StarShape:
    """An irregular star-shaped ring around the origin, in metres (x east, y north)."""

    xy: np.ndarray[Any, np.dtype[np.float64]]  # (n, 2), counter-clockwise, not closed
    length_m: float  # extent along the long axis
    width_m: float  # extent across it
    bearing_deg: float  # bearing of the long axis, degrees from north, 0-180

    def ring(self, lon: float, lat: float) -> list[list[float]]:
        m_lon, m_lat = m_per_deg(lat)
        lons = np.round(lon + self.xy[:, 0] / m_lon, 6)
        lats = np.round(lat + self.xy[:, 1] / m_lat, 6)
        coords = [[float(a), float(b)] for a, b in zip(lons, lats, strict=True)]
        coords.append(list(coords[0]))
        return coords


def star_shape(rng: np.random.Generator, area_m2: float, n: int) -> StarShape:
    """A simple polygon with ``n`` vertices and area ``area_m2``.

    The vertices have strictly increasing angles around the origin and positive radii, so the
    ring is star-shaped about the origin, hence simple, and counter-clockwise; stretching and
    rotating (positive determinant) keep both properties.
    """
    step = 2 * math.pi / n
    angles = step * (np.arange(n) + rng.uniform(-0.35, 0.35, n)) + rng.uniform(0, 2 * math.pi)
    noise = rng.normal(0.0, 1.0, n)
    smooth = (noise + np.roll(noise, 1) + np.roll(noise, -1)) / 3.0
    radii = np.exp(0.45 * smooth)
    stretch = float(rng.uniform(1.0, 2.5))
    x = radii * np.cos(angles) * stretch
    y = radii * np.sin(angles) / stretch
    a = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    k = math.sqrt(area_m2 / a)
    x, y = x * k, y * k
    theta = float(rng.uniform(0, math.pi))
    c, s = math.cos(theta), math.sin(theta)
    xy = np.column_stack((c * x - s * y, s * x + c * y))
    bearing = (90.0 - math.degrees(theta)) % 180.0
    return StarShape(xy, float(np.ptp(x)), float(np.ptp(y)), bearing)


def point_in(rng: np.random.Generator, geom: Any) -> tuple[float, float]:
    """A uniform random point inside a (prepared) polygonal geometry."""
    x0, y0, x1, y1 = geom.bounds
    for _ in range(1000):
        xs = np.round(rng.uniform(x0, x1, 64), 6)
        ys = np.round(rng.uniform(y0, y1, 64), 6)
        inside = np.flatnonzero(shapely.contains_xy(geom, xs, ys))
        if inside.size:
            i = int(inside[0])
            return float(xs[i]), float(ys[i])
    raise RuntimeError("no random point found inside the geometry")  # pragma: no cover


def geojson_geometry(geom: Any) -> dict[str, Any]:
    """GeoJSON geometry dict of a shapely Point or Polygon (no holes), coordinates as lists."""
    if geom.geom_type == "Point":
        return {"type": "Point", "coordinates": [float(geom.x), float(geom.y)]}
    ring = [[float(x), float(y)] for x, y in geom.exterior.coords]
    return {"type": "Polygon", "coordinates": [ring]}


# --- time helpers -----------------------------------------------------------------------------


def day_between(rng: np.random.Generator, lo: date, hi: date) -> date:
    if hi <= lo:
        return lo
    return lo + timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))


def moment(
    rng: np.random.Generator, day: date, first_hour: int = 0, last_hour: int = 24
) -> datetime:
    seconds = int(rng.integers(first_hour * 3600, last_hour * 3600))
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=seconds)


def moment_between(rng: np.random.Generator, lo: datetime, hi: datetime) -> datetime:
    span = max(0, int((hi - lo).total_seconds()))
    return lo + timedelta(seconds=int(rng.integers(0, span + 1)))


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
