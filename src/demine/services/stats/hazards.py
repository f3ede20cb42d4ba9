"""Each hazard as the land-release statistics count it (:class:`Figures`), and those figures
computed from the accounts (:func:`computed_figures`): what :mod:`.land` adds up, and what
:mod:`.figures` reads from the derived tables instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from demine.services.stats.areas import ALL, Areas, whole_m2
from demine.services.stats.periods import Period, year_of

# the hazards' fields the statistics show
HAZARD_FIELDS = (
    "name",
    "reference",
    "hazard_type",
    "admin_area",
    "device_categories",
    "reported_on",
    "closed_on",
)

Parts = list[tuple[str, int]]


@dataclass(slots=True)
class Figures:
    """One hazard (with a geometry) as the land-release statistics count it: its fields
    (:data:`HAZARD_FIELDS`, in this order), its
    area, each credited piece of the period (year, release type, overlap and outside m², its
    parts by area), the parts of what remains at the end of the period (only when it is
    recorded and open then) and the area of a point inside it."""

    id: str
    fields: tuple[Any, ...]  # the value of each of HAZARD_FIELDS (None: not set)
    hazard_m2: float
    pieces: list[tuple[int, str, float, float, Parts]]
    remaining: Parts
    where: str


def recorded(props: Mapping[str, Any], per: Period | None) -> bool:
    """The hazard was recorded by the end of the period."""
    reported = str(props.get("reported_on") or "")
    return not (per is not None and reported and reported > per.end)


def is_open(props: Mapping[str, Any], per: Period | None) -> bool:
    """The hazard is open at the end of the period."""
    closed_on = str(props.get("closed_on") or "")
    return not (closed_on and (per is None or closed_on <= per.end))


def counted(props: Mapping[str, Any], per: Period | None) -> bool:
    """What remains of the hazard at the end of the period is counted."""
    return recorded(props, per) and is_open(props, per)


def in_period(released_on: Any, per: Period | None) -> int | None:
    """The year a piece counts in, None when not in the period."""
    y = year_of(released_on)
    return None if y is None or (per is not None and y not in per) else y


def centre(g: Any) -> tuple[float, float]:
    import shapely

    b = shapely.bounds(g)
    return (float(b[0] + b[2]) / 2, float(b[1] + b[3]) / 2)


def until_of(per: Period | None) -> date | None:
    return date.fromisoformat(per.end) if per else None


def computed_figures(
    accounts: Mapping[str, Any], hazards: Mapping[str, Any], per: Period | None, areas: Areas
) -> dict[str, Figures]:
    """The figures of the hazards of ``accounts`` (:class:`demine.geo.release.Account` up
    to the end of the period) with their records ``hazards``, every polygon measured and split
    (:meth:`Areas.split_many`)."""
    geoms: list[Any] = []
    centres: list[tuple[float, float]] = []
    todo: list[tuple[str, Any, list[Any]]] = []
    bare: dict[int, float] = {}  # place in geoms -> area of a polygon with nothing released
    for hid, acc in accounts.items():
        h = hazards.get(hid)
        if h is None or h.geometry is None:
            continue
        c = centre(h.geometry)
        ps = []
        for p in acc.pieces:
            y = in_period(p.released_on, per)
            if y is None:
                continue
            ps.append((y, p))
            geoms.append(p.credited)
            centres.append(c)
        if counted(h.properties, per):
            # nothing released (up to the period's end): the polygon is counted with its area
            # as measured (geo.release.unreleased), not measured again, with one area
            geoms.append(None if not acc.pieces and areas.layer is None else acc.remaining)
            centres.append(c)
            if geoms[-1] is None:
                bare[len(geoms) - 1] = acc.remaining_m2
        todo.append((hid, acc, ps))
    splits_all = areas.split_many(geoms, centres)
    for i, m2 in bare.items():
        w = whole_m2(m2)
        splits_all[i] = [(ALL, w)] if w else []
    splits = iter(splits_all)
    out: dict[str, Figures] = {}
    for hid, acc, ps in todo:
        h = hazards[hid]
        pieces = [(y, p.release_type, p.overlap_m2, p.outside_m2, next(splits)) for y, p in ps]
        remaining = next(splits) if counted(h.properties, per) else []
        where = areas.of_point(h.geometry.representative_point())
        fields = tuple(map(h.properties.get, HAZARD_FIELDS))
        out[hid] = Figures(hid, fields, acc.hazard_m2, pieces, remaining, where)
    return out
