"""Land release in the statistics: each hazard's releases credited in date order (see
:mod:`demine.geo.release`), each credited piece split among the admin areas and rounded to a
whole m² once (:data:`ROUNDING_RULE`), and the hazardous areas remaining at the end of the
period (Article 7 Form C).

The figures of each hazard (:class:`Figures`) come from the derived tables when they are built
(:mod:`.figures`: sums of figures kept on write, the splits among a layer's areas kept in the
zonal table), else from every account computed again (:func:`computed_figures`); both give
the same figures, and one loop (:func:`land_release`) adds them up."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import orjson

from demine.model.kinds import RELEASE_TYPES
from demine.services.stats.areas import UNASSIGNED, Areas, whole_m2
from demine.services.stats.figures import TOTALS_SCOPE
from demine.services.stats.hazards import (
    Figures,
    computed_figures,
    until_of,
)
from demine.services.stats.overlaps import memo_overlaps, overlap_union
from demine.services.stats.periods import Period, year_of
from demine.store.base import Store

ROUNDING_RULE = (
    "Areas are geodesic (WGS 84). Each credited release piece is split by admin area and "
    "rounded to a whole m² once; every other figure is a sum of those integers, so "
    "cancelled + reduced + cleared = released exactly, and rows add up to the total."
)


def _full(store: Store, per: Period | None, areas: Areas) -> tuple[list[Figures], Any]:
    """Every figure computed from the records (the derived tables not built)."""
    from demine.services.release import accounts as release_accounts

    hazards = {h.id: h for h in store.list("hazards")}
    accounts = release_accounts(store, until=until_of(per))
    figs = list(computed_figures(accounts, hazards, per, areas).values())
    remaining = {hid: accounts[hid].remaining for hid in (f.id for f in figs)}
    return figs, lambda ids: [remaining[i] for i in ids]


def orphans(store: Store, per: Period | None) -> int:
    """How many releases (up to the end of the period) name no known hazard or have no
    geometry."""
    until = per.end if per else None
    return sum(1 for on in store.release_orphans() if until is None or str(on or "") <= until)


def _zero() -> dict[str, int]:
    return {f"{t}_m2": 0 for t in (*RELEASE_TYPES, "released")}


def _add(row: dict[str, Any], release_type: str, m2: int) -> None:
    row[f"{release_type}_m2"] += m2
    row["released_m2"] += m2


def land_release(
    store: Store, per: Period | None, areas: Areas, got: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The land released in ``per`` (None: every year) by area and year, and the hazardous
    areas at its end: the ``land_release`` and ``hazards`` parts of the statistics. ``got``:
    the figures read from the derived tables (:func:`.figures.derived_figures`), else every
    account is computed again."""
    kept: tuple[Any, Any, Mapping[str, str]] | None = None
    totals: Any = None  # the pieces' sums of the memo (.figures.PieceTotals)
    if got is None:
        figs, remaining_of = _full(store, per, areas)
    else:
        figs, boxes_of, remaining_of, stamps, totals = got
        kept = (boxes_of, remaining_of, stamps)

    # land release: piece x area, rounded once, then summed
    cells: dict[tuple[str, int], dict[str, int]] = defaultdict(_zero)
    not_counted = {"overlap_m2": 0.0, "outside_m2": 0.0}
    overlap_sum = outside_sum = 0.0
    if totals is not None and totals.value is not None:  # the figures have no pieces
        for a, y, v in totals.value["cells"]:
            cells[(a, y)] = v
        overlap_sum, outside_sum = totals.value["overlap_m2"], totals.value["outside_m2"]
    remaining_by_area: dict[str, dict[str, int]] = defaultdict(
        lambda: {"hazards": 0, "SHA_m2": 0, "CHA_m2": 0, "remaining_m2": 0}
    )
    hz_rows: list[dict[str, Any]] = []
    open_ids: list[str] = []  # the open hazards, as hz_rows' open rows
    open_rows: list[dict[str, Any]] = []  # those rows
    type_key = {t: f"{t}_m2" for t in RELEASE_TYPES}
    end = per.end if per is not None else None
    floor = math.floor
    for f in figs:
        for y, release_type, overlap_m2, outside_m2, parts in f.pieces:
            overlap_sum += overlap_m2
            outside_sum += outside_m2
            tk = type_key.get(release_type) or f"{release_type}_m2"
            for area, m2 in parts:
                cell = cells[(area, y)]  # as _add
                cell[tk] += m2
                cell["released_m2"] += m2
        name, reference, hazard_type, admin_area, categories, reported_on, closed = f.fields
        reported = str(reported_on or "")
        if end is not None and reported and reported > end:
            continue  # not yet recorded at the end of the period (as recorded())
        closed_on = str(closed or "")
        open_ = not (closed_on and (end is None or closed_on <= end))  # as is_open()
        hk = "SHA_m2" if hazard_type == "SHA" else "CHA_m2"
        rem = f.remaining
        if rem:
            for area, m2 in rem:
                ra = remaining_by_area[area]
                ra[hk] += m2
                ra["remaining_m2"] += m2
        row = {
            "id": f.id,
            "name": name,
            "reference": reference,
            "hazard_type": hazard_type,
            "status_at_end": "open" if open_ else "closed",
            "admin_area": admin_area,
            "area": f.where,
            "device_categories": categories or [],
            "reported_on": reported_on,
            "closed_on": closed,
            "hazard_m2": int(floor(f.hazard_m2 + 0.5)),  # whole_m2
            "remaining_m2": (
                0 if not rem else rem[0][1] if len(rem) == 1 else sum(m for _, m in rem)
            ),
            "closed_in_period": bool(closed_on and (per is None or year_of(closed_on) in per)),
            "reported_in_period": bool(reported and (per is None or year_of(reported) in per)),
        }
        hz_rows.append(row)
        if open_:
            remaining_by_area[f.where]["hazards"] += 1
            open_ids.append(f.id)
            open_rows.append(row)
    if totals is not None and totals.value is None:  # kept for the next time
        value = {
            "cells": [[a, y, v] for (a, y), v in cells.items()],
            "overlap_m2": overlap_sum,
            "outside_m2": outside_sum,
        }
        store.memo_write(TOTALS_SCOPE, [(totals.key, orjson.dumps(value).decode())], [totals.key])
    not_counted["overlap_m2"] += overlap_sum
    not_counted["outside_m2"] += outside_sum

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
        if a not in by_area:
            by_area[a] = _zero()
        if y not in by_year:
            by_year[y] = _zero()
        for bucket in (by_area[a], by_year[y], total):
            for t in RELEASE_TYPES:
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
        "releases_without_hazard": orphans(store, per),
    }

    hazards = _hazards_summary(hz_rows, open_rows, remaining_by_area, areas)
    open_m2 = [r["remaining_m2"] for r in open_rows]
    hazards.update(_overlaps(store, per, open_ids, open_m2, kept, remaining_of))
    return land, hazards


def _overlaps(
    store: Store,
    per: Period | None,
    ids: Sequence[str],
    m2: list[int],
    got: tuple[Any, Any, Mapping[str, str]] | None,
    remaining_of: Any,
) -> dict[str, Any]:
    """:func:`.overlaps.overlap_union` of the open hazards' remaining polygons; with the
    derived tables (their bounding boxes), only those whose boxes meet another's are read and
    merged (the others overlap nothing: the same answer), and what was merged is kept
    (:func:`.overlaps.memo_overlaps`)."""
    if got is None:
        return overlap_union(remaining_of(ids), m2)
    boxes_of, remaining_of, stamps = got
    scope = per.end if per is not None else "all"
    return memo_overlaps(store, scope, ids, m2, boxes_of, remaining_of, stamps)


def _hazards_summary(
    rows: list[dict[str, Any]],
    open_rows: list[dict[str, Any]],
    remaining_by_area: Mapping[str, dict[str, int]],
    areas: Areas,
) -> dict[str, Any]:
    """The ``hazards`` part of the statistics: ``rows``, every hazard recorded at the end of
    the period (:func:`land_release`), ``open_rows`` those open then (in the same order)."""
    m2 = itemgetter("remaining_m2")
    by_type: dict[str, dict[str, int]] = {
        t: {"count": 0, "remaining_m2": 0} for t in ("SHA", "CHA")
    }
    for r in open_rows:  # one pass: each open hazard's type
        bt = by_type.get(r["hazard_type"])
        if bt is not None:
            bt["count"] += 1
            bt["remaining_m2"] += r["remaining_m2"]
    # by area, then reference (or name): the keys made at once, the sort stable as sorted()
    keys = [(str(r["area"]), str(r["reference"] or r["name"] or "")) for r in open_rows]
    by_key = sorted(range(len(open_rows)), key=keys.__getitem__)
    order = {n: i for i, n in enumerate(areas.order)}
    return {
        "recorded": len(rows),
        "open": len(open_rows),
        "closed_in_period": sum(map(itemgetter("closed_in_period"), rows)),
        "reported_in_period": sum(map(itemgetter("reported_in_period"), rows)),
        "remaining_m2": sum(map(m2, open_rows)),
        "by_type": by_type,
        # hazards: counted in the area of a point inside each; areas: split among the areas
        "remaining_by_area": [
            {"area": a, **remaining_by_area[a]}
            for a in sorted(remaining_by_area, key=lambda n: (order.get(n, 1e9), n))
            if any(remaining_by_area[a].values())
        ],
        "open_hazards": [open_rows[i] for i in by_key],
    }
