"""Residual-risk estimates per device type and per hazard (with its emplacement records, and an
open hazard's own finds and accidents), with the notes that say what an estimate leaves out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from demine.model.devices import BetaPrior
from demine.model.schema import Record
from demine.services.risk.evidence import accident_emplacement
from demine.services.risk.inputs import (
    RELEASED,
    as_float,
    event_day,
    laid_day,
    laid_earliest,
    lifecycle,
    lifecycles,
    record_lifecycle,
)
from demine.store.base import Store


def estimate_device_type(
    store: Store,
    code: str,
    quantity: float,
    days: Sequence[float],
    *,
    low: float | None = None,
    high: float | None = None,
    draws: int = 1000,
    seed: int = 0,
) -> Any:
    """Residual estimate for ``quantity`` devices of one type, ``days`` after laying."""
    from demine.risk import Quantity, RecordInput, estimate

    lc = lifecycle(store, code)
    q = Quantity(float(quantity), low, high)
    return estimate(
        [RecordInput(lc, q, 0.0)], np.asarray(days, dtype=float), draws=draws, seed=seed
    )


@dataclass
class HazardRisk:
    hazard: Record
    records: list[Record]
    estimate: Any | None  # None: no emplacement record, or released land
    notes: list[str] = field(default_factory=list)
    lifecycles: list[Any] = field(default_factory=list)  # the device types estimated
    coarse: bool = False  # quantities taken at their coarse step (what roles below analyst see)
    released: bool = False  # closed or handed over: no estimate is shown for released land
    incomplete: bool = False  # a record could not be counted in full (unknown type, quantity 0)

    def to_dict(self) -> dict[str, Any]:
        p = self.hazard.properties
        return {
            "id": self.hazard.id,
            "name": p.get("name"),
            "status": p.get("status"),
            "hazard_type": p.get("hazard_type"),
            "emplacement_records": [r.id for r in self.records],
            "known": self.estimate is not None,
            "released": self.released,
            "complete": not self.incomplete,
            "notes": self.notes,
            "assumptions": [] if self.estimate is None else self.estimate.assumptions,
            "estimates": [] if self.estimate is None else self.estimate.to_dicts(),
        }


UNKNOWN_NOTE = (
    "no emplacement record: the residual risk cannot be estimated. This does not mean the "
    "area is safe; it is a hazard until land release says otherwise."
)
UNCOUNTED_NOTE = (
    "no emplacement record could be counted (unknown device type): the residual risk cannot "
    "be estimated. This does not mean the area is safe."
)
RELEASED_NOTE = (
    "released: no estimate. The land was released by survey or clearance; the estimate from "
    "before release does not describe it"
)
ZERO_NOTE = (
    "quantity 0: a record of no devices is taken as incomplete, not as safe; for priorities "
    "the hazard counts as unknown"
)
INCOMPLETE_RECORD_NOTE = (  # what roles below analyst see: no quantity
    "an emplacement record is incomplete: it is taken as unknown, not as safe"
)
INCOMPLETE_NOTE = (
    "the estimate leaves out records it cannot count: it is a lower bound, and for "
    "priorities the hazard counts as unknown"
)
UNKNOWN_TYPE_NOTE = "an emplacement record of an "  # what roles below analyst see


def hazard_risks(
    store: Store,
    dates: np.ndarray,
    *,
    hazard_id: str | None = None,
    draws: int = 1000,
    seed: int = 0,
    coarse: bool = False,
) -> list[HazardRisk]:
    """Estimates for one hazard or all, at each of ``dates`` (day numbers).

    ``coarse``: each record's quantity is taken at the top of its step on the coarse scale
    (:func:`demine.risk.public.coarse_quantity` of its maximum), fixed: the estimate roles below
    analyst see (:func:`risk_view`), which cannot tell quantities of one step apart."""
    from demine.risk import Quantity, RecordInput, estimate
    from demine.risk.public import coarse_quantity

    if hazard_id is not None:
        hazards = [store.get("hazards", hazard_id)]
        emplacements = store.list("emplacements", where={"hazard_id": hazard_id})
    else:
        hazards = list(store.list("hazards"))
        emplacements = store.list("emplacements")
    by_hazard: dict[str, list[Record]] = {}
    for e in emplacements:
        hid = e.properties.get("hazard_id")
        if hid:
            by_hazard.setdefault(hid, []).append(e)
    lcs = lifecycles(store)
    own = _own_observations(store, by_hazard, {h.id for h in hazards})
    out = []
    for h in hazards:
        recs = by_hazard.get(h.id, [])
        notes: list[str] = []
        inputs = []
        used: list[Any] = []
        if h.properties.get("status") in RELEASED:
            notes.append(RELEASED_NOTE)
            out.append(HazardRisk(h, recs, None, notes, [], coarse, released=True))
            continue
        incomplete = False
        for e in recs:
            p = e.properties
            lc = lcs.get(p["device_type"])
            if lc is None:
                incomplete = True
                notes.append(
                    (UNKNOWN_TYPE_NOTE if coarse else f"emplacement {e.id}: ")
                    + f"unknown device type {p['device_type']!r}"
                )
                continue
            if float(p["quantity"]) == 0 and not (as_float(p.get("quantity_max")) or 0.0) > 0:
                incomplete = True
                note = INCOMPLETE_RECORD_NOTE if coarse else f"emplacement {e.id}: {ZERO_NOTE}"
                if note not in notes:
                    notes.append(note)
            lc = record_lifecycle(lc, p)
            seen = own.get(e.id)
            removed = 0
            if seen is not None:
                lc = _own_update(lc, e, seen)
                removed = len(seen[0]) + len(seen[1])
            if lc not in used:
                used.append(lc)
            if coarse:
                # the devices found are not taken off: the band must not move within a step
                top = max(float(p["quantity"]), as_float(p.get("quantity_max")) or 0.0)
                q = Quantity(float(coarse_quantity(top)))
            else:
                q = _remaining(e, removed, notes)
                if q is None:
                    incomplete = True
                    q = Quantity(0.0)
            inputs.append(RecordInput(lc, q, laid_day(p), laid_earliest_day=laid_earliest(p)))
        est = estimate(inputs, dates, draws=draws, seed=seed) if inputs else None
        if est is None:
            notes.append(UNCOUNTED_NOTE if recs else UNKNOWN_NOTE)
        elif incomplete:
            notes.append(INCOMPLETE_NOTE)
        out.append(HazardRisk(h, recs, est, notes, used, coarse, incomplete=incomplete))
    return out


OWN_NOTE = (
    "{code}: failure rates updated by this hazard's own finds and accidents: a rate can rise "
    "with them, never fall (the devices not yet found matter, and partial clearance can be "
    "selective)"
)
FOUND_MORE_NOTE = (
    "emplacement {id}: {removed} devices found or set off, as many as or more than the {high:g} "
    "recorded: any left are beyond the record; taken as unknown, not as safe"
)


def _own_observations(
    store: Store, by_hazard: dict[str, list[Record]], hazard_ids: set[str]
) -> dict[str, tuple[list[tuple[str, str, float]], list[tuple[str, float]]]]:
    """Per emplacement record of an open hazard among ``hazard_ids``: the finds linked to it
    (id, state, day) and the accidents in its hazard attributed to it (id, day)."""
    from demine.risk import day_number

    open_ids = {hid for hid in hazard_ids if hid in by_hazard}
    if not open_ids:
        return {}
    rec_ids = {e.id for hid in open_ids for e in by_hazard[hid]}
    out: dict[str, tuple[list[tuple[str, str, float]], list[tuple[str, float]]]] = {}
    for f in store.list("finds"):
        eid = f.properties.get("emplacement_id")
        if eid in rec_ids:
            out.setdefault(str(eid), ([], []))[0].append(
                (f.id, f.properties["state"], day_number(f.properties["found_at"]))
            )
    for a in store.list("accidents"):
        hid = a.properties.get("hazard_id")
        if hid in open_ids:
            near = accident_emplacement(a, by_hazard[str(hid)])
            if near is not None:
                out.setdefault(near.id, ([], []))[1].append(
                    (a.id, event_day(a.properties["occurred_at"]))
                )
    return out


def _own_update(
    lc: Any, e: Record, seen: tuple[list[tuple[str, str, float]], list[tuple[str, float]]]
) -> Any:
    """The lifecycle of an open hazard's record with its own finds and accidents: each rate the
    conjugate update of the one in force (the in-force distribution is that of a new field's
    rate; this field's own evidence updates it in full), used only when it is higher."""
    from dataclasses import replace

    from demine.risk import evidence_from_clearance

    p = e.properties
    evs = evidence_from_clearance(
        lc, int(p["quantity"]), laid_day(p, evidence=True), seen[0], accidents=seen[1]
    )
    changes: dict[str, BetaPrior] = {}
    for ev in evs:
        cur = changes.get(ev.parameter) or getattr(lc, ev.parameter)
        if cur is None:
            continue
        upd = BetaPrior(cur.alpha + ev.k, cur.beta + (ev.n - ev.k))
        if upd.mean > cur.mean:
            changes[ev.parameter] = upd
    if not changes:
        return lc
    return replace(lc, **changes, notes=(*lc.notes, OWN_NOTE.format(code=lc.code)))


def _remaining(e: Record, removed: int, notes: list[str]) -> Any:
    """The quantity still in the ground: the record's less the devices found or set off
    (each of min, best, max, never below 0). None (with a note) when more were found than
    the record's maximum: the record undercounts and is taken as unknown."""
    from demine.risk import Quantity

    p = e.properties
    best = float(p["quantity"])
    low, high = as_float(p.get("quantity_min")), as_float(p.get("quantity_max"))
    top = max(best, high or 0.0)
    if removed == 0:
        return Quantity(best, low, high)
    if removed >= top:
        notes.append(FOUND_MORE_NOTE.format(id=e.id, removed=removed, high=top))
        return None
    return Quantity(
        max(best - removed, 0.0),
        None if low is None else max(low - removed, 0.0),
        None if high is None else max(high - removed, 0.0),
    )
