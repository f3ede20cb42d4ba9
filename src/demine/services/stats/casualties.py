"""Accidents and casualties in the statistics, and the rule that suppresses small casualty
counts for roles without victim-assistance access (:data:`SUPPRESSION_RULE`,
docs/statistics.md). Victims are personal data: only counts leave this module."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from demine.model.devices import CATEGORIES
from demine.services.access import at_least
from demine.services.stats.areas import ALL, UNASSIGNED, Areas, in_area_order
from demine.services.stats.counts import props_rows
from demine.services.stats.periods import Period, by_year, dated_in, year_key, year_of
from demine.services.stats.placing import rows_placed
from demine.store.base import Store

SMALL = "<5"
SMALL_LIMIT = 5  # counts from 1 to SMALL_LIMIT - 1 are suppressed
MIN_ACCIDENTS = 3  # a casualty figure from fewer accidents than this is suppressed
WITHHELD = "withheld"  # a casualty total that is not published
SEXES = ("female", "male", "unknown")
AGE_GROUPS = ("child", "adult", "unknown")  # child: under 18
OUTCOMES = ("killed", "injured")
VICTIM_TYPES = ("civilian", "deminer", "military", "unknown")
ACCIDENT_TYPES = ("demining", "civilian")  # "unknown" (legacy) is listed when present
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


def accident_counts(store: Store, per: Period | None, areas: Areas) -> dict[str, Any]:
    by_type = dict.fromkeys(ACCIDENT_TYPES, 0)
    by_cat = dict.fromkeys(CATEGORIES, 0)  # "unknown" among them
    by_area: dict[str, int] = defaultdict(int)
    years: list[str] = []
    n = undated = 0
    fields = ("occurred_at", "accident_type", "device_category")
    if areas.layer is None:  # counted by their values (in the order of each group's first);
        # occurred_at by its year's characters: all that is read of it below (year_of)
        counted = [
            (k, dict(zip(fields, r, strict=True)), ALL)
            for k, *r in store.field_counts("accidents", fields, years=("occurred_at",))
        ]
    else:
        rows, where = rows_placed(store, "accidents", fields, areas)
        counted = [
            (1, dict(zip(fields, r[2:], strict=True)), area)
            for r, area in zip(rows, where, strict=True)
        ]
    for k, p, area in counted:
        year = year_of(p.get("occurred_at"))  # a year or a year-month counts in its year
        if year is None:
            undated += k  # "unknown": in no period, never dropped without a word
        if not dated_in(per, p.get("occurred_at")):
            continue
        n += k
        years += [year_key(p.get("occurred_at"))] * k
        by_type[str(p.get("accident_type"))] = by_type.get(str(p.get("accident_type")), 0) + k
        c = str(p.get("device_category") or "unknown")
        by_cat[c] = by_cat.get(c, 0) + k
        by_area[area] += k
    return {
        "total": n,
        # accidents whose date is unknown (legacy records): in the total only when no period
        # is asked for; with a period they are outside it, and counted here
        "undated": undated,
        "by_type": by_type,
        "by_device_category": by_cat,
        "by_area": in_area_order(by_area, areas),
        "by_year": by_year(years, per),
    }


def _age_group(age: Any) -> str:
    if age is None or age == "":
        return "unknown"
    try:
        return "child" if int(age) < 18 else "adult"
    except (TypeError, ValueError):
        return "unknown"


def casualty_counts(store: Store, per: Period | None, exact: bool, areas: Areas) -> dict[str, Any]:
    """Casualty counts of the period: exact for victim_assistance and admin; for every other
    role the rule of :data:`SUPPRESSION_RULE`, applied year by year (see docs/statistics.md)."""
    rows, places = rows_placed(store, "accidents", ("occurred_at", "accident_type"), areas)
    accidents = {r[0]: {"occurred_at": r[2], "accident_type": r[3]} for r in rows}
    where = dict(zip(accidents, places, strict=True))
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

    fields = ("accident_id", "outcome", "sex", "age", "victim_type")
    for p, _ in props_rows(store, "victims", fields):
        aid = str(p.get("accident_id"))
        acc = accidents.get(aid)
        year = year_key(acc.get("occurred_at") if acc else None)
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
