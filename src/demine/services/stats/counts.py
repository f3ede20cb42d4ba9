"""The counts of the statistics: survey and clearance activities completed, devices found,
explosive ordnance reports, and explosive ordnance risk education (sessions and
beneficiaries)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from demine.model.devices import CATEGORIES
from demine.model.kinds import ACTIVITY_TYPES
from demine.services.stats.areas import ALL, Areas, in_area_order
from demine.services.stats.periods import Period, by_year, dated_in, year_key
from demine.services.stats.placing import rows_placed
from demine.store.base import Store

FIND_STATES = ("live", "self_destructed_remnant", "deactivated_intact", "unknown")


def props_rows(
    store: Store, kind: str, fields: tuple[str, ...], geometry: str = "none"
) -> list[tuple[dict[str, Any], Any]]:
    """(properties of ``fields``, geometry) of every record of ``kind``
    (:meth:`demine.store.base.Store.field_rows`): no records built."""
    return [
        (dict(zip(fields, r[2:], strict=True)), r[1])
        for r in store.field_rows(kind, fields, geometry=geometry)
    ]


def activities(store: Store, per: Period | None) -> dict[str, Any]:
    completed = dict.fromkeys(ACTIVITY_TYPES, 0)
    # counted by their values (in the order of each group's first record, as the records)
    dated = ("completed_on",) if per is not None else ()
    for n, status, *rest in store.field_counts("activities", ("status", *dated, "activity_type")):
        if status == "completed" and dated_in(per, rest[0] if dated else None):
            t = str(rest[-1])
            completed[t] = completed.get(t, 0) + n
    return {"completed": completed, "completed_total": sum(completed.values())}


def devices(store: Store, per: Period | None, areas: Areas) -> dict[str, Any]:
    category_of = {
        str(p.get("code")): str(p.get("category"))
        for p, _ in props_rows(store, "device_types", ("code", "category"))
    }
    cats = list(CATEGORIES)  # "unknown" among them
    by_cat_state = {c: dict.fromkeys(FIND_STATES, 0) for c in cats}
    by_area: dict[str, int] = defaultdict(int)
    n = 0
    fields = ("found_at", "device_type", "state")
    rows, places = rows_placed(store, "finds", fields, areas)
    for r, where in zip(rows, places, strict=True):
        p = dict(zip(fields, r[2:], strict=True))
        if not dated_in(per, p.get("found_at")):
            continue
        c = category_of.get(str(p.get("device_type")), "unknown")
        s = str(p.get("state") or "unknown")
        by_cat_state.setdefault(c, dict.fromkeys(FIND_STATES, 0))
        by_cat_state[c][s] = by_cat_state[c].get(s, 0) + 1
        by_area[where] += 1
        n += 1
    return {
        "total": n,
        "by_category": {c: sum(v.values()) for c, v in by_cat_state.items()},
        "by_state": {s: sum(v.get(s, 0) for v in by_cat_state.values()) for s in FIND_STATES},
        "by_category_state": by_cat_state,
        "by_area": in_area_order(by_area, areas),
    }


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def eore(store: Store, per: Period | None) -> dict[str, Any]:
    totals = {"sessions": 0, "girls": 0, "boys": 0, "women": 0, "men": 0}
    by_org: dict[str, dict[str, int]] = {}
    fields = ("held_on", "organisation", "girls", "boys", "women", "men")
    for p, _ in props_rows(store, "eore_sessions", fields):
        if not dated_in(per, p.get("held_on")):
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


def eo_reports(store: Store, per: Period | None, areas: Areas, role: str) -> dict[str, Any]:
    """Explosive ordnance reports made in the period (by ``reported_at``): by status, year and
    area, and how many are linked to a hazard. A role below ``field`` counts only the reports
    it may see (those marked public, as on the public map): ``public_only`` says so."""
    from demine.model.kinds import EO_REPORTS
    from demine.services.access import visible_record

    statuses = EO_REPORTS.field("status").choices or ()
    by_status = dict.fromkeys(statuses, 0)
    by_area: dict[str, int] = defaultdict(int)
    years: list[str] = []
    linked = 0
    fields = ("public", "reported_at", "status", "hazard_id")
    # the row-level rule: a report is visible to everyone, or (below field) when public
    everyone = visible_record(EO_REPORTS, SimpleNamespace(properties={}), role)  # type: ignore[arg-type]
    if areas.layer is None:  # counted by their values (reported_at by its year's characters,
        # all that is read of it: dated_in, year_key): no point to place
        groups = [
            (n, r)
            for n, *r in store.field_counts(
                "eo_reports", fields[:3], ("hazard_id",), years=("reported_at",)
            )
            if (everyone or r[0]) and dated_in(per, r[1])
        ]
        for n, (_, on, status, has_hazard) in groups:
            s = str(status or "unknown")
            by_status[s] = by_status.get(s, 0) + n
            years += [year_key(on)] * n
            by_area[ALL] += n
            linked += n if has_hazard else 0
        return _eo_out(years, per, by_status, by_area, areas, role, linked)
    rows, places = rows_placed(store, "eo_reports", fields, areas)
    for r, where in zip(rows, places, strict=True):
        if not ((everyone or r[2]) and dated_in(per, r[3])):
            continue
        s = str(r[4] or "unknown")
        by_status[s] = by_status.get(s, 0) + 1
        years.append(year_key(r[3]))
        by_area[where] += 1
        linked += r[5] is not None
    return _eo_out(years, per, by_status, by_area, areas, role, linked)


def _eo_out(
    years: list[str],
    per: Period | None,
    by_status: dict[str, int],
    by_area: dict[str, int],
    areas: Areas,
    role: str,
    linked: int,
) -> dict[str, Any]:
    from demine.services.access import at_least

    return {
        "total": len(years),
        "public_only": not at_least(role, "field"),
        "by_status": by_status,
        "by_year": by_year(years, per),
        "by_area": in_area_order(by_area, areas),
        "linked_to_hazard": linked,
    }
