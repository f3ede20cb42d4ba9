"""Civilian safety lookups: which known hazards are within reach of a place or a route.

Distances are geodesic on WGS 84 (see docs/geometry.md for their accuracy); a place inside a
hazard is at distance 0. These answers say where *recorded* hazards are: the absence of a
record is not proof that a place is safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from demine.errors import Fault, ValidationError
from demine.model.schema import Record
from demine.store.base import Store

MAX_RADIUS_M = 100_000.0
_M_PER_DEG_LAT = 110_574.0  # the smallest metres per degree of latitude on WGS 84


def _check_args(lat: float, lon: float, radius_m: float) -> None:
    faults = []
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        faults.append(Fault(f"latitude {lat} is outside -90..90", field="LAT"))
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        faults.append(Fault(f"longitude {lon} is outside -180..180", field="LON"))
    if abs(lat) <= 180 and abs(lon) <= 90 and abs(lat) > 90:
        faults.append(
            Fault("latitude and longitude appear swapped: give LAT then LON", field="LAT")
        )
    if not (math.isfinite(radius_m) and 0 <= radius_m <= MAX_RADIUS_M):
        faults.append(
            Fault(f"radius {radius_m} m must be between 0 and {MAX_RADIUS_M:g} m", field="--radius")
        )
    if faults:
        raise ValidationError("cannot check this place", faults)


def search_bbox(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box that surely holds every point within radius_m of (lat, lon)."""
    dlat = radius_m / _M_PER_DEG_LAT * 1.01 + 1e-7
    c = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
    dlon = 180.0 if c <= 1e-9 else min(180.0, radius_m / (111_320.0 * c) * 1.01 + 1e-7)
    return (lon - dlon, max(-90.0, lat - dlat), lon + dlon, min(90.0, lat + dlat))


@dataclass(frozen=True, slots=True)
class Hit:
    record: Record
    distance_m: float

    def to_dict(self) -> dict[str, Any]:
        p = self.record.properties
        return {
            "id": self.record.id,
            "distance_m": round(self.distance_m, 1),
            "inside": self.distance_m == 0.0,
            "name": p.get("name"),
            "reference": p.get("reference"),
            "hazard_type": p.get("hazard_type"),
            "status": p.get("status"),
            "device_categories": p.get("device_categories"),
        }


def check_point(
    store: Store, lat: float, lon: float, radius_m: float = 500.0, *, include_closed: bool = False
) -> list[Hit]:
    """Hazards within ``radius_m`` of the point, nearest first (0 m inside a hazard)."""
    from demine.geo.geodesy import distance_to_geometries

    _check_args(lat, lon, radius_m)
    cands = [
        r
        for r in store.list("hazards", bbox=search_bbox(lat, lon, radius_m))
        if include_closed or r.properties.get("status") == "open"
    ]
    if not cands:
        return []
    d = distance_to_geometries(lon, lat, np.asarray([r.geometry for r in cands], dtype=object))
    hits = [Hit(r, float(x)) for r, x in zip(cands, d, strict=True) if x <= radius_m]
    hits.sort(key=lambda h: (h.distance_m, h.record.id))
    return hits


class HazardIndex:
    """The open hazards of a store in memory, for batch lookups of many points at once."""

    def __init__(self, records: list[Record]) -> None:
        from demine.geo.geodesy import GeometryIndex

        self.records = records
        self.geoms = np.asarray([r.geometry for r in records], dtype=object)
        self._index = GeometryIndex(self.geoms)  # built once, queried many times

    @classmethod
    def from_store(cls, store: Store, *, include_closed: bool = False) -> HazardIndex:
        return cls(
            [
                r
                for r in store.list("hazards")
                if include_closed or r.properties.get("status") == "open"
            ]
        )

    def within(
        self, lons: np.ndarray, lats: np.ndarray, radius_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (point index, hazard index, geodesic distance m) pairs within radius_m."""
        return self._index.within(
            np.asarray(lons, dtype=float), np.asarray(lats, dtype=float), radius_m
        )
