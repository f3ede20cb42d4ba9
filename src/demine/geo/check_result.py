"""What a geometry check returns (:class:`GeometryCheck`) and how its faults name a place.

Shared by the steps of :mod:`demine.geo.checks`: the rules on positions
(:mod:`demine.geo.check_rules`) and the building and repair of the geometries
(:mod:`demine.geo.check_build`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import shapely

from demine.errors import Fault
from demine.geo.structure import LINE, POINT, RING, Flat

__all__ = ["GeometryCheck", "MakeFault", "path_name"]


@dataclass(slots=True)
class GeometryCheck:
    """What the rules found in one geometry, and what was changed."""

    geometry: shapely.Geometry | None  # None when rejected (or a null geometry)
    faults: list[Fault] = field(default_factory=list)
    repairs: list[Fault] = field(default_factory=list)
    warnings: list[Fault] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults


class MakeFault(Protocol):
    """Makes the fault of geometry ``gi`` of the batch (its feature index and id filled in)."""

    def __call__(
        self, gi: int, reason: str, fld: str | None, repairable: bool = False
    ) -> Fault: ...


def path_name(flat: Flat, p: int) -> str:
    """How a fault names path ``p`` of ``flat``: "exterior ring of polygon 1", "line 2"..."""
    kind = int(flat.path_kind[p])
    t = flat.gtype[int(flat.path_geom[p])]
    o = int(flat.path_ord[p])
    if kind == RING:
        role = "exterior ring" if o == 0 else f"ring {o} (a hole)"
        if t == "MultiPolygon":
            return f"{role} of polygon {int(flat.path_part[p])}"
        return "exterior ring" if o == 0 else f"ring {o} (a hole)"
    if kind == LINE:
        return "line" if t == "LineString" else f"line {o}"
    return "point" if kind == POINT else "multipoint"
