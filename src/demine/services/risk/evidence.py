"""The evidence learning takes from clearance: emplacement records on cleared land (closed
hazards, releases of type cleared by completed clearance), the finds linked to them and the
accidents in those hazards."""

from __future__ import annotations

import math
from typing import Any

from demine.model.schema import Record
from demine.services.risk.inputs import (
    RELEASED,
    event_day,
    laid_day,
    lifecycles_prior,
    record_lifecycle,
)
from demine.store.base import Store


def evidence_dict(e: Any) -> dict[str, Any]:
    """One piece of evidence as stored with a learned rate and shown by ``risk learn``."""
    return {
        "emplacement_id": e.emplacement_id,
        "find_ids": list(e.find_ids),
        "trials": e.trials,
        "successes": e.successes,
        "weighted_trials": e.n,
        "weighted_successes": e.k,
        "t_days": e.t_days,
        "note": e.note,
    }


CLEARED = RELEASED
_COVER_TOLERANCE_DEG = 1e-7  # about a centimetre: noise of the overlay, never land


def cleared_land(store: Store) -> dict[str, Any]:
    """Per hazard that is closed or handed over, the union of its releases of type cleared
    made by completed clearance activities (CRS84). Land cancelled by non-technical survey or
    reduced by technical survey was never cleared, and a hazard imported already closed has no
    such release: neither is here."""
    import shapely

    released = {h.id for h in store.list("hazards", where={"status": sorted(CLEARED)})}
    done = {
        a.id
        for a in store.list(
            "activities", where={"activity_type": "clearance", "status": "completed"}
        )
    }
    pieces: dict[str, list[Any]] = {}
    for r in store.list("releases"):
        p = r.properties
        hid = p.get("hazard_id")
        if (
            hid in released
            and p.get("release_type") == "cleared"
            and p.get("activity_id") in done
            and r.geometry is not None
            and not r.geometry.is_empty
        ):
            pieces.setdefault(str(hid), []).append(r.geometry)
    return {hid: shapely.union_all(gs) for hid, gs in pieces.items()}


def _covered(land: Any, geom: Any) -> bool:
    if land is None or geom is None or geom.is_empty:
        return False
    return bool(land.buffer(_COVER_TOLERANCE_DEG).covers(geom))


def accident_emplacement(a: Record, recs: list[Record]) -> Record | None:
    """The emplacement record an accident's device most likely came from: of the records of
    its hazard with its device type (or of the hazard's only type when the accident does not
    say), the nearest. None when that cannot be told."""
    dt = a.properties.get("device_type")
    if dt:
        cands = [e for e in recs if e.properties.get("device_type") == dt]
    else:
        cands = recs if len({e.properties.get("device_type") for e in recs}) == 1 else []
    if not cands or a.geometry is None:
        return None
    return min(
        cands,
        key=lambda e: e.geometry.distance(a.geometry) if e.geometry is not None else math.inf,
    )


def gather_evidence(store: Store) -> list[Any]:
    """Evidence from cleared land: emplacement records of closed (or handed over) hazards whose
    place is covered by releases of type cleared from completed clearance activities
    (:func:`cleared_land`), with the finds linked to them and the accidents in those hazards
    (each a device that functioned). Each record's own self-destruct and fuse-life times are
    used where later than its type's."""
    from demine.risk import day_number, evidence_from_clearance

    land = cleared_land(store)
    finds: dict[str, list[tuple[str, str, float]]] = {}
    for f in store.list("finds"):
        eid = f.properties.get("emplacement_id")
        if eid:
            finds.setdefault(eid, []).append(
                (f.id, f.properties["state"], day_number(f.properties["found_at"]))
            )
    by_hazard: dict[str, list[Record]] = {}
    for e in store.list("emplacements"):
        hid = e.properties.get("hazard_id")
        if hid and str(hid) in land and _covered(land[str(hid)], e.geometry):
            by_hazard.setdefault(str(hid), []).append(e)
    accidents: dict[str, list[tuple[str, float]]] = {}
    for a in store.list("accidents"):
        hid = str(a.properties.get("hazard_id") or "")
        if hid not in by_hazard or not _covered(land.get(hid), a.geometry):
            continue
        near = accident_emplacement(a, by_hazard[hid])
        if near is not None:
            accidents.setdefault(near.id, []).append((a.id, event_day(a.properties["occurred_at"])))
    lcs = lifecycles_prior(store)
    out: list[Any] = []
    for recs in by_hazard.values():
        for e in recs:
            p = e.properties
            if e.id not in finds and e.id not in accidents:
                continue
            lc = lcs.get(p["device_type"])
            if lc is None:
                continue
            out += evidence_from_clearance(
                record_lifecycle(lc, p),
                int(p["quantity"]),
                laid_day(p, evidence=True),
                finds.get(e.id, []),
                accidents=accidents.get(e.id, []),
                emplacement_id=e.id,
            )
    return out
