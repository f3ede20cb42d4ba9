"""Statistics: land cancelled, reduced and cleared; devices found; accidents and casualties
(each also by year); explosive ordnance reports; risk education — by administrative area (a
reference layer) and period.

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

This package's face (here) has :func:`compute`, the CSV, and every public name; the parts:
:mod:`.periods` (the period of the figures), :mod:`.areas` (admin areas, a polygon split among
them in whole m²), :mod:`.land` (land release, hazardous areas remaining), :mod:`.counts`
(activities, devices found, explosive ordnance reports, risk education) and
:mod:`.casualties` (accidents, casualties and the suppression rule).
"""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from demine.errors import Fault, ValidationError
from demine.services.access import ROLES
from demine.services.stats.areas import (
    ALL,
    NAME_FIELDS,
    UNASSIGNED,
    Areas,
    layer_of,
    load_areas,
)
from demine.services.stats.casualties import (
    ACCIDENT_TYPES,
    AGE_GROUPS,
    MIN_ACCIDENTS,
    OUTCOMES,
    SEXES,
    SMALL,
    SMALL_LIMIT,
    SUPPRESSION_RULE,
    VICTIM_TYPES,
    WITHHELD,
    accident_counts,
    breakdown,
    casualty_counts,
    exact_for,
    suppress,
)
from demine.services.stats.counts import FIND_STATES, activities, devices, eo_reports, eore
from demine.services.stats.figures import derived_figures
from demine.services.stats.land import ROUNDING_RULE, land_release
from demine.services.stats.periods import Period, parse_period
from demine.store.base import Store

__all__ = [
    "ACCIDENT_TYPES",
    "AGE_GROUPS",
    "ALL",
    "CSV_COLUMNS",
    "FIND_STATES",
    "MIN_ACCIDENTS",
    "NAME_FIELDS",
    "OUTCOMES",
    "ROUNDING_RULE",
    "SEXES",
    "SMALL",
    "SMALL_LIMIT",
    "SUPPRESSION_RULE",
    "UNASSIGNED",
    "VICTIM_TYPES",
    "WITHHELD",
    "Areas",
    "Period",
    "breakdown",
    "compute",
    "exact_for",
    "km2",
    "land_release_csv",
    "layer_of",
    "load_areas",
    "parse_period",
    "suppress",
]


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
    # the figures make millions of small objects and no reference cycles: the cyclic
    # garbage collector's passes over them took a third of the time (100,000 hazards)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _compute(store, role, by, name_field, per)
    finally:
        if collecting:
            gc.enable()


def _compute(
    store: Store, role: str, by: str | None, name_field: str | None, per: Period | None
) -> dict[str, Any]:
    exact = exact_for(role)
    areas = load_areas(store, by, name_field)
    land, hazards = land_release(store, per, areas, derived_figures(store, per, areas))
    total = land["total"]
    out: dict[str, Any] = {
        "synthetic": bool(_setting(store, "synthetic")),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "role": role,
        "suppressed": not exact,
        "by": areas.layer,
        "period": per.to_dict() if per else None,
        **{k: total[k] for k in ("cancelled_m2", "reduced_m2", "cleared_m2", "released_m2")},
        "land_release": land,
        "hazards": hazards,
        "activities": activities(store, per),
        "devices": devices(store, per, areas),
        "accidents": accident_counts(store, per, areas),
        "eo_reports": eo_reports(store, per, areas, role),
        "casualties": casualty_counts(store, per, exact, areas),
        "eore": eore(store, per),
        "rules": {"rounding": ROUNDING_RULE, "suppression": SUPPRESSION_RULE},
    }
    return out


def _setting(store: Store, key: str) -> Any:
    try:
        return store.setting(key)
    except Exception:  # a store without settings yet
        return None


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
