"""Statistics: land cancelled, reduced and cleared; devices found; accidents and casualties;
risk education — by administrative area (a reference layer) and period.

One function, :func:`compute`, gives the whole table as JSON-ready data; the CLI (``demine
stats``), the HTTP API (``/api/v1/stats``), the charts and the annual report all format it, so
they never disagree. Definitions, the rounding rule and the suppression rule are in
docs/statistics.md; in short:

* **Land release.** Each hazard's releases are credited in date order (an overlap is credited
  once, to the earlier release; parts outside the hazard are never counted): see
  :mod:`demine.geo.release`. A release counts in the year of its ``released_on``. Each credited
  piece is split among the admin polygons of the ``by`` layer (in the layer's order, each part
  taken out of what is left, so the parts are disjoint; what lies in no polygon is
  ``unassigned``), measured geodesically in one equal-area projection centred on its hazard,
  and **rounded to a whole m² once, at that finest level** (piece × area). Every other figure is
  a sum of those integers, so ``cancelled + reduced + cleared = released`` exactly in every row
  and in the total, and the rows add up to the total exactly.
* **Casualties.** Victims are personal data. Roles other than ``victim_assistance`` and
  ``admin`` see aggregates only: a count from 1 to 4 is shown as ``"<5"`` (0 stays 0), and a
  breakdown (by outcome, sex, age group, victim type, accident type, year) that has any cell
  from 1 to 4 is withheld whole (every cell ``None``), so that no small cell can be recovered by
  subtracting the others from the total.
"""

from __future__ import annotations

import csv
import importlib
import io
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import shapely

from demine.errors import Fault, ValidationError
from demine.geo.geodesy import geodesic_area
from demine.geo.release import DENSIFY_DEG, GRID, Account, ReleaseInput, account
from demine.geo.release import polygonal as _polygonal
from demine.model.devices import CATEGORIES
from demine.model.kinds import ACTIVITY_TYPES, RELEASE_TYPES, Kind
from demine.model.schema import FieldType
from demine.services.access import ROLES, at_least
from demine.store.base import Store

ALL = "all"  # the one area when no layer is given
UNASSIGNED = "unassigned"  # what lies in no admin polygon
SMALL = "<5"
SMALL_LIMIT = 5  # counts from 1 to SMALL_LIMIT - 1 are suppressed
MIN_ACCIDENTS = 3  # a casualty figure from fewer accidents than this is suppressed
WITHHELD = "withheld"  # a casualty total that is not published
FIND_STATES = ("live", "self_destructed_remnant", "deactivated_intact", "unknown")
SEXES = ("female", "male", "unknown")
AGE_GROUPS = ("child", "adult", "unknown")  # child: under 18
OUTCOMES = ("killed", "injured")
VICTIM_TYPES = ("civilian", "deminer", "military", "unknown")
ACCIDENT_TYPES = ("demining", "civilian")
NAME_FIELDS = ("name", "name_en", "name_uk", "region", "admin_name", "adm1_en", "title")
SUPPRESSION_RULE = (
    "Casualty figures are aggregates, built from single calendar years. For roles other than "
    "victim_assistance and admin, a year's figure is small when it counts 1 to 4 people or "
    "people from fewer than 3 accidents. A total is published only when no year of the period "
    "is small (otherwise '<5' when it counts 1 to 4, else 'withheld'); a breakdown is "
    "withheld whole (its cells are null) when any of its cells is small in any year of the "
    "period, and by area always. So every published figure is a sum of whole years with no "
    "small cell, and neither the cells of one answer nor two periods can be subtracted to "
    "give a small count or one accident's casualties. 0 stays 0."
)
ROUNDING_RULE = (
    "Areas are geodesic (WGS 84). Each credited release piece is split by admin area and "
    "rounded to a whole m² once; every other figure is a sum of those integers, so "
    "cancelled + reduced + cleared = released exactly, and rows add up to the total."
)


# --- period -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    first: int
    last: int

    @property
    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    @property
    def end(self) -> str:
        """The last day, ISO."""
        return f"{self.last:04d}-12-31"

    def years(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    def __contains__(self, year: object) -> bool:
        return isinstance(year, int) and self.first <= year <= self.last

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.first, "to": self.last, "label": self.label}


def parse_period(text: str | int | None) -> Period | None:
    """``None`` (every year), ``YEAR`` or ``YEAR-YEAR`` (inclusive)."""
    if text is None or str(text).strip().lower() in ("", "all"):
        return None
    s = str(text).strip()
    a, sep, b = s.partition("-")
    try:
        first = int(a)
        last = int(b) if sep else first
    except ValueError:
        first = last = -1
    if not (1900 <= first <= 2200 and 1900 <= last <= 2200) or first > last:
        raise ValidationError(
            f"bad period {s!r}",
            [Fault("expected YEAR or YEAR-YEAR (e.g. 2025 or 2024-2025)", field="period")],
        )
    return Period(first, last)


def _year(value: Any) -> int | None:
    if value is None:
        return None
    s = str(value)
    try:
        return int(s[:4])
    except ValueError:
        return None


# --- suppression --------------------------------------------------------------------------------


def exact_for(role: str) -> bool:
    """Whether ``role`` sees exact casualty counts (victim assistance and admin)."""
    return at_least(role, "victim_assistance")


def suppress(n: int, exact: bool) -> int | str:
    """A count as published: ``"<5"`` for 1 to 4 unless ``exact``."""
    if exact or n == 0 or n >= SMALL_LIMIT:
        return n
    return SMALL


def breakdown(cells: Mapping[str, int], exact: bool) -> dict[str, Any]:
    """One breakdown of a total: exact, or withheld whole when any cell is from 1 to 4."""
    withheld = not exact and any(0 < v < SMALL_LIMIT for v in cells.values())
    return {
        "withheld": withheld,
        "cells": {k: (None if withheld else v) for k, v in cells.items()},
    }


# --- areas --------------------------------------------------------------------------------------


def _m2(x: float) -> int:
    """A figure rounded to the nearest whole m² (halves up)."""
    return int(math.floor(x + 0.5))


class Areas:
    """The admin polygons of a reference layer, in the layer's order, or one area (``all``)."""

    def __init__(self, names: Sequence[str], geoms: Sequence[Any], layer: str | None) -> None:
        self.layer = layer
        self.names = list(names)
        self.geoms = [_polygonal(shapely.set_precision(shapely.make_valid(g), GRID)) for g in geoms]
        self.tree = shapely.STRtree(self.geoms) if self.geoms else None

    @property
    def order(self) -> list[str]:
        if self.layer is None:
            return [ALL]
        seen: dict[str, None] = dict.fromkeys(self.names)
        seen[UNASSIGNED] = None
        return list(seen)

    def split(self, g: Any, centre: tuple[float, float]) -> list[tuple[str, int]]:
        """The parts of polygon ``g`` in each area, in whole m² (one rounding each)."""
        if g is None or shapely.is_empty(g):
            return []
        if self.layer is None:
            parts: list[tuple[str, Any]] = [(ALL, g)]
        else:
            parts = []
            rest = g
            hits = sorted(int(i) for i in self.tree.query(g)) if self.tree is not None else []
            x0, y0, x1, y1 = (float(v) for v in shapely.bounds(g))
            pad = 1e-3
            for i in hits:
                if shapely.is_empty(rest):
                    break
                # the admin polygon near the piece, its edges cut like the account's (edges
                # straight in CRS84 stay straight where the areas are measured)
                near = shapely.clip_by_rect(self.geoms[i], x0 - pad, y0 - pad, x1 + pad, y1 + pad)
                near = _polygonal(shapely.segmentize(near, DENSIFY_DEG))
                part = _polygonal(shapely.intersection(rest, near, grid_size=GRID))
                if shapely.is_empty(part):
                    continue
                parts.append((self.names[i], part))
                rest = _polygonal(shapely.difference(rest, near, grid_size=GRID))
            if not shapely.is_empty(rest):
                parts.append((UNASSIGNED, rest))
        # measured like the account measures (edges cut at DENSIFY_DEG: straight in CRS84)
        areas = geodesic_area(
            shapely.segmentize(np.asarray([p for _, p in parts], dtype=object), DENSIFY_DEG),
            centre=centre,
        )
        out: dict[str, int] = defaultdict(int)
        for (name, _), a in zip(parts, areas, strict=True):
            out[name] += _m2(float(a))
        return [(k, v) for k, v in out.items() if v]

    def of_point(self, g: Any) -> str:
        if self.layer is None:
            return ALL
        if g is None or shapely.is_empty(g) or self.tree is None:
            return UNASSIGNED
        hits = self.tree.query(g, predicate="intersects")
        return self.names[int(min(hits))] if len(hits) else UNASSIGNED


def layer_of(store: Store, layer: str) -> Kind:
    """The reference layer named ``layer``. One answer for every name that is not one (a record
    kind or nothing), listing only the reference layers, which every role may read: the error
    tells no one which record kinds there are."""
    layers = sorted(k.name for k in store.kinds() if k.is_layer)
    name = layer[len("layer:") :] if layer.startswith("layer:") else layer
    if name not in layers:
        raise ValidationError(
            f"no reference layer named {layer!r}",
            [
                Fault(
                    "reference layers: "
                    + (
                        ", ".join(layers)
                        or "none (import admin areas with: demine import FILE --kind layer:NAME)"
                    ),
                    field="by",
                )
            ],
        )
    return store.kind(name)


def load_areas(store: Store, layer: str | None, name_field: str | None = None) -> Areas:
    """The admin polygons of reference layer ``layer`` (None: one area, ``all``), named by
    ``name_field`` (default: the first of name, name_en, name_uk, region, ... the layer has,
    else its first text field, else the record id)."""
    if layer is None:
        return Areas([], [], None)
    kind = layer_of(store, layer)
    fields = kind.field_names
    if name_field is not None and name_field not in fields:
        raise ValidationError(
            f"layer {kind.name!r} has no field {name_field!r}",
            [Fault(f"expected one of {', '.join(fields) or '(none)'}", field="name_field")],
        )
    nf = name_field or next((f for f in NAME_FIELDS if f in fields), None)
    if nf is None:
        nf = next((f.name for f in kind.fields if f.type is FieldType.TEXT), None)
    names: list[str] = []
    geoms: list[Any] = []
    for r in store.list(kind.name):
        if r.geometry is None or r.geometry.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        v = r.properties.get(nf) if nf else None
        names.append(str(v) if v not in (None, "") else r.id)
        geoms.append(r.geometry)
    return Areas(names, geoms, kind.name)


# --- land-release accounts ----------------------------------------------------------------------


def _accounts(store: Store, until: str | None) -> tuple[dict[str, Account], dict[str, Any], int]:
    """Every hazard's land-release account with the releases up to ``until`` (ISO date,
    inclusive; None: all), the hazards by id, and how many releases name no known hazard.

    Uses :func:`demine.services.release.accounts` when the service has it."""
    hazards = {h.id: h for h in store.list("hazards")}
    try:
        fn = getattr(importlib.import_module("demine.services.release"), "accounts", None)
    except ImportError:
        fn = None
    orphans = 0
    by_hazard: dict[str, list[ReleaseInput]] = defaultdict(list)
    for r in store.list("releases"):
        on = str(r.properties.get("released_on") or "")
        if until is not None and on > until:
            continue
        hid = r.properties.get("hazard_id")  # derived from the activity on every write
        if hid not in hazards or r.geometry is None:
            orphans += 1
            continue
        by_hazard[str(hid)].append(
            ReleaseInput(r.id, str(r.properties["release_type"]), on, r.geometry)
        )
    if fn is not None:
        accounts: dict[str, Account] = fn(store, until=date.fromisoformat(until) if until else None)
    else:
        accounts = {
            hid: account(h.geometry, by_hazard.get(hid, []))
            for hid, h in hazards.items()
            if h.geometry is not None
        }
    return accounts, hazards, orphans


def _centre(g: Any) -> tuple[float, float]:
    b = shapely.bounds(g)
    return (float(b[0] + b[2]) / 2, float(b[1] + b[3]) / 2)


def _zero() -> dict[str, int]:
    return {f"{t}_m2": 0 for t in (*RELEASE_TYPES, "released")}


def _add(row: dict[str, Any], release_type: str, m2: int) -> None:
    row[f"{release_type}_m2"] += m2
    row["released_m2"] += m2


# --- the statistics -----------------------------------------------------------------------------


def compute(
    store: Store,
    *,
    role: str = "analyst",
    by: str | None = None,
    name_field: str | None = None,
    period: Period | str | int | None = None,
) -> dict[str, Any]:
    """Every statistic for ``period`` (None: all years), by the admin areas of layer ``by``
    (None: one area, ``all``), as ``role`` may see it. JSON-ready."""
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}", [Fault("unknown role", field="role")])
    per = period if isinstance(period, Period) or period is None else parse_period(period)
    exact = exact_for(role)
    areas = load_areas(store, by, name_field)
    accounts, hazards, orphans = _accounts(store, per.end if per else None)

    # land release: piece x area, rounded once, then summed
    cells: dict[tuple[str, int], dict[str, int]] = defaultdict(_zero)
    not_counted = {"overlap_m2": 0.0, "outside_m2": 0.0}
    remaining_by_area: dict[str, dict[str, int]] = defaultdict(
        lambda: {"hazards": 0, "SHA_m2": 0, "CHA_m2": 0, "remaining_m2": 0}
    )
    hz_rows: list[dict[str, Any]] = []
    for hid, acc in accounts.items():
        h = hazards.get(hid)
        if h is None or h.geometry is None:
            continue
        c = _centre(h.geometry)
        for p in acc.pieces:
            y = _year(p.released_on)
            if y is None or (per is not None and y not in per):
                continue
            not_counted["overlap_m2"] += p.overlap_m2
            not_counted["outside_m2"] += p.outside_m2
            for name, m2 in areas.split(p.credited, c):
                _add(cells[(name, y)], p.release_type, m2)
        props = h.properties
        reported = str(props.get("reported_on") or "")
        if per is not None and reported and reported > per.end:
            continue  # not yet recorded at the end of the period
        closed_on = str(props.get("closed_on") or "")
        is_open = not (closed_on and (per is None or closed_on <= per.end))
        remaining = areas.split(acc.remaining, c) if is_open else []
        htype = "SHA" if props.get("hazard_type") == "SHA" else "CHA"
        for name, m2 in remaining:
            remaining_by_area[name][f"{htype}_m2"] += m2
            remaining_by_area[name]["remaining_m2"] += m2
        where = areas.of_point(h.geometry.representative_point())
        if is_open:
            remaining_by_area[where]["hazards"] += 1
        hz_rows.append(
            {
                "id": hid,
                "name": props.get("name"),
                "reference": props.get("reference"),
                "hazard_type": props.get("hazard_type"),
                "status_at_end": "open" if is_open else "closed",
                "admin_area": props.get("admin_area"),
                "area": where,
                "device_categories": props.get("device_categories") or [],
                "reported_on": props.get("reported_on"),
                "closed_on": props.get("closed_on"),
                "hazard_m2": _m2(acc.hazard_m2),
                "remaining_m2": sum(m for _, m in remaining),
                "closed_in_period": bool(closed_on and (per is None or _year(closed_on) in per)),
                "reported_in_period": bool(reported and (per is None or _year(reported) in per)),
            }
        )

    order = {n: i for i, n in enumerate(areas.order)}
    rows = [
        {"area": a, "period": str(y), **v}
        for (a, y), v in sorted(cells.items(), key=lambda kv: (order.get(kv[0][0], 1e9), kv[0]))
        if v["released_m2"]
    ]
    by_area: dict[str, dict[str, int]] = {}
    by_year: dict[int, dict[str, int]] = {}
    total = _zero()
    for (a, y), v in cells.items():
        for t in RELEASE_TYPES:
            for bucket in (
                by_area.setdefault(a, _zero()),
                by_year.setdefault(y, _zero()),
                total,
            ):
                _add(bucket, t, v[f"{t}_m2"])
    if per is not None:
        for y in per.years():
            by_year.setdefault(y, _zero())
    if areas.layer is not None:
        for n in areas.names:
            by_area.setdefault(n, _zero())
    land = {
        "rows": rows,
        "by_area": [
            {"area": a, **by_area[a]}
            for a in sorted(by_area, key=lambda n: (order.get(n, 1e9), n))
            if a != UNASSIGNED or by_area[a]["released_m2"]
        ],
        "by_year": [{"period": str(y), **by_year[y]} for y in sorted(by_year)],
        "total": total,
        "not_counted": {k: _m2(v) for k, v in not_counted.items()},
        "releases_without_hazard": orphans,
    }

    hazards_out = _hazards_summary(hz_rows, remaining_by_area, areas)
    out: dict[str, Any] = {
        "synthetic": bool(_setting(store, "synthetic")),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "role": role,
        "suppressed": not exact,
        "by": areas.layer,
        "period": per.to_dict() if per else None,
        **{k: total[k] for k in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2")},
        "land_release": land,
        "hazards": hazards_out,
        "activities": _activities(store, per),
        "devices": _devices(store, per, areas),
        "accidents": _accidents(store, per, areas),
        "casualties": _casualties(store, per, exact, areas),
        "eore": _eore(store, per),
        "rules": {"rounding": ROUNDING_RULE, "suppression": SUPPRESSION_RULE},
    }
    return out


def _setting(store: Store, key: str) -> Any:
    try:
        return store.setting(key)
    except Exception:  # a store without settings yet
        return None


def _hazards_summary(
    rows: list[dict[str, Any]], remaining_by_area: Mapping[str, dict[str, int]], areas: Areas
) -> dict[str, Any]:
    open_rows = [r for r in rows if r["status_at_end"] == "open"]
    by_type: dict[str, dict[str, int]] = {}
    for t in ("SHA", "CHA"):
        rs = [r for r in open_rows if r["hazard_type"] == t]
        by_type[t] = {"count": len(rs), "remaining_m2": sum(r["remaining_m2"] for r in rs)}
    order = {n: i for i, n in enumerate(areas.order)}
    return {
        "recorded": len(rows),
        "open": len(open_rows),
        "closed_in_period": sum(1 for r in rows if r["closed_in_period"]),
        "reported_in_period": sum(1 for r in rows if r["reported_in_period"]),
        "remaining_m2": sum(r["remaining_m2"] for r in open_rows),
        "by_type": by_type,
        # hazards: counted in the area of a point inside each; areas: split among the areas
        "remaining_by_area": [
            {"area": a, **remaining_by_area[a]}
            for a in sorted(remaining_by_area, key=lambda n: (order.get(n, 1e9), n))
            if any(remaining_by_area[a].values())
        ],
        "open_hazards": sorted(
            open_rows, key=lambda r: (str(r["area"]), str(r["reference"] or r["name"] or ""))
        ),
    }


def _in(per: Period | None, value: Any) -> bool:
    if per is None:
        return True
    y = _year(value)
    return y is not None and y in per


def _activities(store: Store, per: Period | None) -> dict[str, Any]:
    completed = dict.fromkeys(ACTIVITY_TYPES, 0)
    for a in store.list("activities"):
        p = a.properties
        if p.get("status") == "completed" and _in(per, p.get("completed_on")):
            t = str(p.get("activity_type"))
            completed[t] = completed.get(t, 0) + 1
    return {"completed": completed, "completed_total": sum(completed.values())}


def _devices(store: Store, per: Period | None, areas: Areas) -> dict[str, Any]:
    category_of = {
        str(d.properties.get("code")): str(d.properties.get("category"))
        for d in store.list("device_types")
    }
    cats = [*CATEGORIES, "unknown"]
    by_cat_state = {c: dict.fromkeys(FIND_STATES, 0) for c in cats}
    by_area: dict[str, int] = defaultdict(int)
    n = 0
    for f in store.list("finds"):
        p = f.properties
        if not _in(per, p.get("found_at")):
            continue
        c = category_of.get(str(p.get("device_type")), "unknown")
        s = str(p.get("state") or "unknown")
        by_cat_state.setdefault(c, dict.fromkeys(FIND_STATES, 0))
        by_cat_state[c][s] = by_cat_state[c].get(s, 0) + 1
        by_area[areas.of_point(f.geometry)] += 1
        n += 1
    return {
        "total": n,
        "by_category": {c: sum(v.values()) for c, v in by_cat_state.items()},
        "by_state": {s: sum(v.get(s, 0) for v in by_cat_state.values()) for s in FIND_STATES},
        "by_category_state": by_cat_state,
        "by_area": _ordered(by_area, areas),
    }


def _ordered(counts: Mapping[str, int], areas: Areas) -> dict[str, int]:
    order = {n: i for i, n in enumerate(areas.order)}
    return {k: counts[k] for k in sorted(counts, key=lambda n: (order.get(n, 1e9), n))}


def _accidents(store: Store, per: Period | None, areas: Areas) -> dict[str, Any]:
    by_type = dict.fromkeys(ACCIDENT_TYPES, 0)
    by_cat = {c: 0 for c in (*CATEGORIES, "unknown")}
    by_area: dict[str, int] = defaultdict(int)
    n = 0
    for a in store.list("accidents"):
        p = a.properties
        if not _in(per, p.get("occurred_at")):
            continue
        n += 1
        by_type[str(p.get("accident_type"))] = by_type.get(str(p.get("accident_type")), 0) + 1
        c = str(p.get("device_category") or "unknown")
        by_cat[c] = by_cat.get(c, 0) + 1
        by_area[areas.of_point(a.geometry)] += 1
    return {
        "total": n,
        "by_type": by_type,
        "by_device_category": by_cat,
        "by_area": _ordered(by_area, areas),
    }


def _age_group(age: Any) -> str:
    if age is None or age == "":
        return "unknown"
    try:
        return "child" if int(age) < 18 else "adult"
    except (TypeError, ValueError):
        return "unknown"


def _casualties(store: Store, per: Period | None, exact: bool, areas: Areas) -> dict[str, Any]:
    """Casualty counts of the period: exact for victim_assistance and admin; for every other
    role the rule of :data:`SUPPRESSION_RULE`, applied year by year (see docs/statistics.md)."""
    accidents = {a.id: a.properties for a in store.list("accidents")}
    where = {a.id: areas.of_point(a.geometry) for a in store.list("accidents")}
    group_keys: dict[str, tuple[str, ...]] = {
        "outcome": OUTCOMES,
        "sex": SEXES,
        "age_group": AGE_GROUPS,
        "victim_type": VICTIM_TYPES,
        "accident_type": ACCIDENT_TYPES,
    }
    # every year's cells (count, accidents), for every year of the data: the rule looks at
    # the single years a period is made of
    cells: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(dict)

    def count(group: str, value: str, year: str, accident: str) -> None:
        c = cells[(group, value)].setdefault(year, [0, set()])
        c[0] += 1
        c[1].add(accident)

    for v in store.list("victims"):
        p = v.properties
        aid = str(p.get("accident_id"))
        acc = accidents.get(aid)
        y = _year(acc.get("occurred_at") if acc else None)
        year = str(y) if y is not None else "unknown"
        count("total", "", year, aid)
        count("year", year, year, aid)
        count("area", where.get(aid, UNASSIGNED), year, aid)
        for g, val in (
            ("outcome", p.get("outcome")),
            ("sex", p.get("sex") or "unknown"),
            ("age_group", _age_group(p.get("age"))),
            ("victim_type", p.get("victim_type") or "unknown"),
            ("accident_type", acc.get("accident_type") if acc else None),
        ):
            if val is not None:
                count(g, str(val), year, aid)

    def in_period(year: str) -> bool:
        return per is None or (year != "unknown" and int(year) in per)

    def total_of(group: str, value: str) -> int:
        return sum(c[0] for y, c in cells.get((group, value), {}).items() if in_period(y))

    def small(group: str, value: str) -> bool:
        """A cell of some single year of the period is small: 1–4 people, or people from
        fewer than MIN_ACCIDENTS accidents."""
        return any(
            in_period(y) and c[0] > 0 and (c[0] < SMALL_LIMIT or len(c[1]) < MIN_ACCIDENTS)
            for y, c in cells.get((group, value), {}).items()
        )

    groups: dict[str, dict[str, int]] = {
        g: {k: total_of(g, k) for k in keys} for g, keys in group_keys.items()
    }
    for g, k in list(cells):
        if g in group_keys and k not in groups[g]:
            groups[g][k] = total_of(g, k)
    years = {str(y): 0 for y in per.years()} if per else {}
    for g, k in cells:
        if g == "year" and in_period(k):
            years[k] = total_of(g, k)
    groups["year"] = dict(sorted(years.items()))
    if areas.layer is not None:  # by the area of the accident's place
        by_area = {a: total_of("area", a) for a in areas.order}
        groups["area"] = {k: n for k, n in by_area.items() if k != UNASSIGNED or n}
    n = total_of("total", "")
    if exact:
        return {
            "exact": True,
            "total": n,
            "breakdowns": {g: breakdown(c, True) for g, c in groups.items()},
            "rule": None,
        }
    if not small("total", ""):
        total: int | str = n
    elif n < SMALL_LIMIT:
        total = SMALL
    else:
        total = WITHHELD
    out: dict[str, dict[str, Any]] = {}
    for g, c in groups.items():
        # the area breakdown: any layer may be chosen (two layers with nested areas could be
        # subtracted from each other), so it is exact only for victim_assistance and admin
        withheld = g == "area" or any(small(g, k) for k in c)
        out[g] = {
            "withheld": withheld,
            "cells": {k: (None if withheld else v) for k, v in c.items()},
        }
    return {"exact": False, "total": total, "breakdowns": out, "rule": SUPPRESSION_RULE}


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def _eore(store: Store, per: Period | None) -> dict[str, Any]:
    totals = {"sessions": 0, "girls": 0, "boys": 0, "women": 0, "men": 0}
    by_org: dict[str, dict[str, int]] = {}
    for s in store.list("eore_sessions"):
        p = s.properties
        if not _in(per, p.get("held_on")):
            continue
        org = by_org.setdefault(
            str(p.get("organisation") or "unknown"),
            {"sessions": 0, "girls": 0, "boys": 0, "women": 0, "men": 0},
        )
        for bucket in (totals, org):
            bucket["sessions"] += 1
            for k in ("girls", "boys", "women", "men"):
                bucket[k] += _int(p.get(k))
    for bucket in (totals, *by_org.values()):
        bucket["beneficiaries"] = sum(bucket[k] for k in ("girls", "boys", "women", "men"))
    return {**totals, "by_organisation": dict(sorted(by_org.items()))}


# --- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS = ("area", "period", "cancelled_m2", "reduced_m2", "cleared_m2", "released_m2")


def land_release_csv(stats: Mapping[str, Any]) -> str:
    """The land-release table as CSV: one row per (area, year) with land released, then one
    ``total`` row for the whole period."""
    from demine.io.csvsafe import safe_cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    land = stats["land_release"]
    for r in land["rows"]:  # area names come from a layer: text cells are made formula-safe
        w.writerow([safe_cell(r[c]) for c in CSV_COLUMNS])
    label = stats["period"]["label"] if stats.get("period") else ALL
    w.writerow(["total", safe_cell(label), *(land["total"][c] for c in CSV_COLUMNS[2:])])
    return buf.getvalue()


def km2(m2: int | float) -> str:
    return f"{m2 / 1e6:,.3f}"
