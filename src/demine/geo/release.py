"""Land-release accounting for one hazard (IMAS 07.11): what each release polygon really
released, what overlaps, what lies outside, and what remains.

Releases are taken in order (``released_on``, then id). Each is clipped to the hazard; the part
already released by an earlier release is an *overlap* (reported, never counted twice); the part
outside the hazard is reported and never counted. So the credited pieces are disjoint, their
areas add up to the released total, and ``remaining = hazard - union(releases)``.

Geometry is CRS84 (lon, lat). Overlay operations run on a fixed grid of 1e-9 degree (about
0.1 mm) so that shared edges never leave slivers; areas are geodesic (WGS 84) from
:func:`demine.geo.geodesy.geodesic_area`, all pieces of one hazard in one equal-area projection
centred on the hazard, so that they add up exactly (released + remaining = hazard, to float
rounding) and each is within about 1e-6 of the ellipsoidal geodesic area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from demine.geo.geodesy import geodesic_area

GRID = 1e-9  # degrees: the precision grid of every overlay (about 0.1 mm)
RELEASE_TYPES = ("cancelled", "reduced", "cleared")


@dataclass(frozen=True, slots=True)
class ReleaseInput:
    id: str
    release_type: str  # cancelled | reduced | cleared
    released_on: str  # ISO date
    geometry: Any  # shapely (Multi)Polygon, CRS84


@dataclass(slots=True)
class Piece:
    """What one release polygon released."""

    release_id: str
    release_type: str
    released_on: str
    recorded_m2: float  # the polygon as recorded
    credited: Any  # the part newly released inside the hazard (disjoint from other pieces)
    credited_m2: float
    overlap_m2: float  # inside the hazard, already released by earlier releases
    overlaps_with: list[str] = field(default_factory=list)
    outside: Any = None  # the part outside the hazard (None when nothing)
    outside_m2: float = 0.0


@dataclass(slots=True)
class Account:
    hazard_m2: float
    pieces: list[Piece]
    released: Any  # union of the credited pieces
    released_m2: float  # sum of credited areas (= area of the union, to rounding)
    remaining: Any  # hazard less everything released (empty geometry when nothing remains)
    remaining_m2: float
    by_type: dict[str, float]

    @property
    def overlaps(self) -> list[dict[str, Any]]:
        return [
            {"release_id": p.release_id, "overlap_m2": p.overlap_m2, "with": p.overlaps_with}
            for p in self.pieces
            if p.overlap_m2 > 0
        ]

    @property
    def outside(self) -> list[dict[str, Any]]:
        return [
            {"release_id": p.release_id, "outside_m2": p.outside_m2}
            for p in self.pieces
            if p.outside_m2 > 0
        ]


def _area_at(g: Any, centre: tuple[float, float]) -> float:
    if g is None or shapely.is_empty(g):
        return 0.0
    return float(geodesic_area(np.asarray([g], dtype=object), centre=centre)[0])


def _polygonal(g: Any) -> Any:
    """Keep only the polygonal part of an overlay result (drop lines and points)."""
    if g is None or shapely.is_empty(g):
        return shapely.MultiPolygon()
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.MultiPolygon()
    return shapely.union_all(parts, grid_size=GRID)


def _clean(g: Any) -> Any:
    return _polygonal(shapely.set_precision(shapely.make_valid(g), GRID))


# an overlap or outside part smaller than this is numerical noise of the overlay, not a fault
NOISE_M2 = 0.01


def account(hazard: Any, releases: Sequence[ReleaseInput]) -> Account:
    """The land-release account of one hazard polygon and its release polygons."""
    hz = _clean(hazard)
    b = shapely.bounds(hz)
    # one projection centre for every piece of this hazard: the pieces' areas then add up
    # exactly to the area of their union, and released + remaining = hazard
    c = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) if not shapely.is_empty(hz) else (0.0, 0.0)

    def _area(g: Any) -> float:
        return _area_at(g, c)

    hazard_m2 = _area(hz)
    done = shapely.MultiPolygon()
    owners: list[tuple[str, Any]] = []  # (release id, credited piece) for naming overlaps
    pieces: list[Piece] = []
    by_type = dict.fromkeys(RELEASE_TYPES, 0.0)
    for r in sorted(releases, key=lambda x: (str(x.released_on), x.id)):
        g = _clean(r.geometry)
        inside = _polygonal(shapely.intersection(g, hz, grid_size=GRID))
        outside = _polygonal(shapely.difference(g, hz, grid_size=GRID))
        credited = _polygonal(shapely.difference(inside, done, grid_size=GRID))
        overlap = _polygonal(shapely.intersection(inside, done, grid_size=GRID))
        overlap_m2 = _area(overlap)
        outside_m2 = _area(outside)
        with_ids = (
            [
                oid
                for oid, og in owners
                if _area(_polygonal(shapely.intersection(overlap, og, grid_size=GRID))) > NOISE_M2
            ]
            if overlap_m2 > NOISE_M2
            else []
        )
        credited_m2 = _area(credited)
        p = Piece(
            release_id=r.id,
            release_type=r.release_type,
            released_on=str(r.released_on),
            recorded_m2=_area(g),
            credited=credited,
            credited_m2=credited_m2,
            overlap_m2=overlap_m2 if overlap_m2 > NOISE_M2 else 0.0,
            overlaps_with=with_ids,
            outside=outside if outside_m2 > NOISE_M2 else None,
            outside_m2=outside_m2 if outside_m2 > NOISE_M2 else 0.0,
        )
        pieces.append(p)
        by_type[r.release_type] = by_type.get(r.release_type, 0.0) + credited_m2
        if not shapely.is_empty(credited):
            owners.append((r.id, credited))
            done = _polygonal(shapely.union(done, credited, grid_size=GRID))
    remaining = _polygonal(shapely.difference(hz, done, grid_size=GRID))
    return Account(
        hazard_m2=hazard_m2,
        pieces=pieces,
        released=done,
        released_m2=sum(p.credited_m2 for p in pieces),
        remaining=remaining,
        remaining_m2=_area(remaining),
        by_type=by_type,
    )
