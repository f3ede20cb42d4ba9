"""Land release in the statistics: each hazard's releases credited in date order (see
:mod:`demine.geo.release`), each credited piece split among the admin areas and rounded to a
whole m² once (:data:`ROUNDING_RULE`), and the hazardous areas remaining at the end of the
period (Article 7 Form C)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

import shapely

from demine.geo.release import Account
from demine.model.kinds import RELEASE_TYPES
from demine.services.release import accounts as release_accounts
from demine.services.stats.areas import UNASSIGNED, Areas, whole_m2
from demine.services.stats.periods import Period, year_of
from demine.store.base import Store

ROUNDING_RULE = (
    "Areas are geodesic (WGS 84). Each credited release piece is split by admin area and "
    "rounded to a whole m² once; every other figure is a sum of those integers, so "
    "cancelled + reduced + cleared = released exactly, and rows add up to the total."
)


def _accounts(store: Store, until: str | None) -> tuple[dict[str, Account], dict[str, Any], int]:
    """Every hazard's land-release account with the releases up to ``until`` (ISO date,
    inclusive; None: all) from :func:`demine.services.release.accounts`, the hazards by id, and
    how many releases name no known hazard."""
    hazards = {h.id: h for h in store.list("hazards")}
    orphans = 0
    for r in store.list("releases"):
        on = str(r.properties.get("released_on") or "")
        if until is not None and on > until:
            continue
        hid = r.properties.get("hazard_id")  # derived from the activity on every write
        if hid not in hazards or r.geometry is None:
            orphans += 1
    accounts = release_accounts(store, until=date.fromisoformat(until) if until else None)
    return accounts, hazards, orphans


def _recorded(props: Mapping[str, Any], per: Period | None) -> bool:
    """The hazard was recorded by the end of the period."""
    reported = str(props.get("reported_on") or "")
    return not (per is not None and reported and reported > per.end)


def _is_open(props: Mapping[str, Any], per: Period | None) -> bool:
    """The hazard is open at the end of the period."""
    closed_on = str(props.get("closed_on") or "")
    return not (closed_on and (per is None or closed_on <= per.end))


def _splits(
    store: Store,
    accounts: Mapping[str, Account],
    hazards: Mapping[str, Any],
    per: Period | None,
    areas: Areas,
) -> list[list[tuple[str, int]]]:
    """Every polygon :func:`land_release` splits among the areas (each credited piece of the
    period, then each open hazard's remaining polygon, hazard by hazard), split together
    (:meth:`Areas.split_many`; with a layer, the splits kept in the store's zonal cache are
    read), in the order the loop takes them."""
    geoms: list[Any] = []
    centres: list[tuple[float, float]] = []
    owners: list[str] = []
    for hid, acc in accounts.items():
        h = hazards.get(hid)
        if h is None or h.geometry is None:
            continue
        c = _centre(h.geometry)
        for p in acc.pieces:
            y = year_of(p.released_on)
            if y is None or (per is not None and y not in per):
                continue
            geoms.append(p.credited)
            centres.append(c)
            owners.append(hid)
        if _recorded(h.properties, per) and _is_open(h.properties, per):
            geoms.append(acc.remaining)
            centres.append(c)
            owners.append(hid)
    return areas.split_many(geoms, centres, cache=store, owners=owners)


def _centre(g: Any) -> tuple[float, float]:
    b = shapely.bounds(g)
    return (float(b[0] + b[2]) / 2, float(b[1] + b[3]) / 2)


def _zero() -> dict[str, int]:
    return {f"{t}_m2": 0 for t in (*RELEASE_TYPES, "released")}


def _add(row: dict[str, Any], release_type: str, m2: int) -> None:
    row[f"{release_type}_m2"] += m2
    row["released_m2"] += m2


def land_release(
    store: Store, per: Period | None, areas: Areas
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The land released in ``per`` (None: every year) by area and year, and the hazardous
    areas at its end: the ``land_release`` and ``hazards`` parts of the statistics."""
    accounts, hazards, orphans = _accounts(store, per.end if per else None)

    # land release: piece x area, rounded once, then summed
    cells: dict[tuple[str, int], dict[str, int]] = defaultdict(_zero)
    not_counted = {"overlap_m2": 0.0, "outside_m2": 0.0}
    remaining_by_area: dict[str, dict[str, int]] = defaultdict(
        lambda: {"hazards": 0, "SHA_m2": 0, "CHA_m2": 0, "remaining_m2": 0}
    )
    hz_rows: list[dict[str, Any]] = []
    open_remaining: list[Any] = []  # each open hazard's remaining polygon, as hz_rows' open rows
    splits = iter(_splits(store, accounts, hazards, per, areas))
    for hid, acc in accounts.items():
        h = hazards.get(hid)
        if h is None or h.geometry is None:
            continue
        for p in acc.pieces:
            y = year_of(p.released_on)
            if y is None or (per is not None and y not in per):
                continue
            not_counted["overlap_m2"] += p.overlap_m2
            not_counted["outside_m2"] += p.outside_m2
            for name, m2 in next(splits):
                _add(cells[(name, y)], p.release_type, m2)
        props = h.properties
        if not _recorded(props, per):
            continue  # not yet recorded at the end of the period
        reported = str(props.get("reported_on") or "")
        closed_on = str(props.get("closed_on") or "")
        is_open = _is_open(props, per)
        remaining = next(splits) if is_open else []
        htype = "SHA" if props.get("hazard_type") == "SHA" else "CHA"
        for name, m2 in remaining:
            remaining_by_area[name][f"{htype}_m2"] += m2
            remaining_by_area[name]["remaining_m2"] += m2
        where = areas.of_point(h.geometry.representative_point())
        if is_open:
            remaining_by_area[where]["hazards"] += 1
            open_remaining.append(acc.remaining)
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
                "hazard_m2": whole_m2(acc.hazard_m2),
                "remaining_m2": sum(m for _, m in remaining),
                "closed_in_period": bool(closed_on and (per is None or year_of(closed_on) in per)),
                "reported_in_period": bool(reported and (per is None or year_of(reported) in per)),
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
        "not_counted": {k: whole_m2(v) for k, v in not_counted.items()},
        "releases_without_hazard": orphans,
    }

    hazards = _hazards_summary(hz_rows, remaining_by_area, areas)
    open_m2 = [r["remaining_m2"] for r in hz_rows if r["status_at_end"] == "open"]
    hazards.update(overlap_union(open_remaining, open_m2))
    return land, hazards


def overlap_union(geoms: list[Any], m2: list[int]) -> dict[str, Any]:
    """Open hazards that overlap are counted once: ``remaining_m2`` is the area of the union of
    the remaining polygons (``m2``: each one's own whole m²), ``remaining_sum_m2`` their sum,
    with how many hazards overlap another and a note saying so. Only the hazards that overlap
    are merged, cluster by cluster (services.duplicates.overlapping_union)."""
    from demine.services.duplicates import overlapping_union

    total = sum(m2)
    involved, union_m2 = overlapping_union(geoms)
    out: dict[str, Any] = {
        "remaining_sum_m2": total,
        "overlapping": len(involved),
        "overlap_note": None,
    }
    if not involved:
        return out
    union = total - sum(m2[i] for i in involved) + whole_m2(union_m2)
    out["remaining_m2"] = union
    out["overlap_note"] = (
        f"{len(involved)} overlapping hazards: area counted once "
        f"(sum {total / 1e6:,.3f} km², union {union / 1e6:,.3f} km²)"
    )
    return out


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
