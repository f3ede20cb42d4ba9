"""Residual risk for the people who plan survey and clearance: estimates per device type, per
emplacement record and per hazard, and learning the real failure rates from what clearance
found. Risk is information: nothing here changes a hazard's status (the store refuses it).

The model is in :mod:`demine.risk` and docs/risk-model.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import orjson

from demine.errors import Fault, NotFound, ValidationError
from demine.model.devices import BetaPrior, DeviceType
from demine.model.schema import Record, now_utc
from demine.store.base import Store

ACTOR = "demine risk"
ORIGIN = "risk"  # the store refuses any status change from this origin


def _device_types(store: Store) -> dict[str, DeviceType]:
    return {
        r.properties["code"]: DeviceType.from_properties(r.properties)
        for r in store.list("device_types")
    }


def _posteriors(store: Store) -> dict[tuple[str, str], BetaPrior]:
    """The learned posteriors in force: a row reverted to the prior (its evidence gone,
    ``trials`` 0) is not one, nor one floored at a treaty limit (its posterior is the prior:
    nothing learned is used)."""
    return {
        (p["device_type"], p["parameter"]): BetaPrior(p["posterior_alpha"], p["posterior_beta"])
        for p in (r.properties for r in store.list("risk_updates"))
        if (p.get("trials") or 0) > 0
        and not (
            math.isclose(p["posterior_alpha"], p["prior_alpha"], rel_tol=1e-9)
            and math.isclose(p["posterior_beta"], p["prior_beta"], rel_tol=1e-9)
        )
    }


def lifecycles(store: Store) -> dict[str, Any]:
    """Every device type's lifecycle, with the newest learned failure rates where there are."""
    from demine.risk import Lifecycle

    post = _posteriors(store)
    return {
        code: Lifecycle.from_device_type(
            dt,
            sd_fail=post.get((code, "sd_fail")),
            residual=post.get((code, "residual")),
            deact_fail=post.get((code, "deact_fail")),
        )
        for code, dt in _device_types(store).items()
    }


def _lifecycle(store: Store, code: str) -> Any:
    lcs = lifecycles(store)
    if code not in lcs:
        raise ValidationError(
            f"unknown device type {code!r}",
            [Fault(f"known device types: {', '.join(sorted(lcs))}", field="--device-type")],
        )
    return lcs[code]


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

    lc = _lifecycle(store, code)
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
RELEASED = ("closed", "handed_over")
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


def _record_lifecycle(lc: Any, p: dict[str, Any]) -> Any:
    """The type's lifecycle with the record's own times (the later of the type's and the
    record's)."""
    return lc.for_record(_f(p.get("self_destruct_days")), _f(p.get("fuse_life_days")))


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
    from demine.risk import Quantity, RecordInput, day_number, estimate
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
            if float(p["quantity"]) == 0 and not (_f(p.get("quantity_max")) or 0.0) > 0:
                incomplete = True
                note = INCOMPLETE_RECORD_NOTE if coarse else f"emplacement {e.id}: {ZERO_NOTE}"
                if note not in notes:
                    notes.append(note)
            lc = _record_lifecycle(lc, p)
            seen = own.get(e.id)
            removed = 0
            if seen is not None:
                lc = _own_update(lc, e, seen)
                removed = len(seen[0]) + len(seen[1])
            if lc not in used:
                used.append(lc)
            if coarse:
                # the devices found are not taken off: the band must not move within a step
                top = max(float(p["quantity"]), _f(p.get("quantity_max")) or 0.0)
                q = Quantity(float(coarse_quantity(top)))
            else:
                q = _remaining(e, removed, notes)
                if q is None:
                    incomplete = True
                    q = Quantity(0.0)
            inputs.append(
                RecordInput(lc, q, day_number(p["laid_at"]), laid_earliest_day=_laid_earliest(p))
            )
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
            near = _accident_emplacement(a, by_hazard[str(hid)])
            if near is not None:
                out.setdefault(near.id, ([], []))[1].append(
                    (a.id, day_number(a.properties["occurred_at"]))
                )
    return out


def _own_update(
    lc: Any, e: Record, seen: tuple[list[tuple[str, str, float]], list[tuple[str, float]]]
) -> Any:
    """The lifecycle of an open hazard's record with its own finds and accidents: each rate the
    conjugate update of the one in force (the in-force distribution is that of a new field's
    rate; this field's own evidence updates it in full), used only when it is higher."""
    from dataclasses import replace

    from demine.risk import day_number, evidence_from_clearance

    p = e.properties
    evs = evidence_from_clearance(
        lc, int(p["quantity"]), day_number(p["laid_at"]), seen[0], accidents=seen[1]
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
    low, high = _f(p.get("quantity_min")), _f(p.get("quantity_max"))
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


# --- what each role sees ------------------------------------------------------------------

FULL_RISK_ROLE = "analyst"  # exact figures, rates, posteriors, quantities: analyst and admin
UNKNOWN_TYPE_NOTE = "an emplacement record of an "
PUBLIC_RISK_LINES = (
    "shown as a band of the chance that at least one device is still live (0–1 %, 1–10 %, "
    "10–50 %, 50–90 %, 90–100 %), worked out with each record's number of devices taken at "
    "the top of a coarse scale (5, 10, 20, 50, 100, 200, 500, ...): never fewer than recorded",
    "device numbers and failure rates are for analysts; the band cannot be turned back into "
    "a number of devices",
    "not in the model: unrecorded or displaced devices, tampering, misidentified types, "
    "anti-handling devices (docs/risk-model.md)",
    "an estimate is information: time never releases land; only land release (non-technical "
    "survey, technical survey, clearance; IMAS 07.11) changes a hazard's status",
)


def full_risk(role: str) -> bool:
    """Whether ``role`` sees exact estimates, rates and quantities (analyst and admin)."""
    from demine.services.access import at_least

    return at_least(role, FULL_RISK_ROLE)


def require_full_risk(role: str, what: str) -> None:
    """Refuse roles below analyst ``what`` (exact estimates for a quantity one chooses would
    give back the learned failure rates; learning prints them)."""
    from demine.errors import PermissionDenied

    if not full_risk(role):
        raise PermissionDenied(
            f"the {role} role cannot {what}: exact residual-risk figures and failure rates "
            f"learned from clearance are for {FULL_RISK_ROLE}s and admins ('demine risk "
            "hazard' shows every role its own view)"
        )


def role_hazard_risks(
    store: Store,
    dates: np.ndarray,
    role: str,
    *,
    hazard_id: str | None = None,
    draws: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Every hazard's (or one's) estimate as ``role`` may see it: :meth:`HazardRisk.to_dict`
    for analysts and admins, :func:`public_view` for every other role."""
    full = full_risk(role)
    risks = hazard_risks(store, dates, hazard_id=hazard_id, draws=draws, seed=seed, coarse=not full)
    return [r.to_dict() if full else public_view(r) for r in risks]


ROW_ANALYST = (
    "p_any_live",
    "p_any_live_mean",
    "p_any_live_p05",
    "p_any_live_p95",
    "expected_live",
    "expected_live_p05",
    "expected_live_p95",
    "live_count_p05",
    "live_count_p95",
)
ROW_PUBLIC = ("date", "p_any_live_band", "p_any_live_low", "p_any_live_high")


def row_view(row: dict[str, Any], full: bool) -> dict[str, Any]:
    """One date's figures as a role may see them (``full``: analyst and admin, see
    :func:`full_risk`): exact for analysts, the band of ``p_any_live`` for everyone else
    (:mod:`demine.risk.public`). The map and every other face use this, so they agree."""
    if not full:
        return {k: row[k] for k in ROW_PUBLIC}
    return {"date": row["date"], **{k: row[k] for k in ROW_ANALYST}}


def public_view(hr: HazardRisk) -> dict[str, Any]:
    """A hazard's estimate for roles below analyst, from a ``coarse`` :class:`HazardRisk`: the
    band of ``p_any_live`` per date, the mechanisms of the device types without any rate, and
    notes that name no emplacement record."""
    from demine.risk.public import p_band

    if not hr.coarse:
        raise ValueError("the public view needs an estimate with coarse quantities")
    p = hr.hazard.properties
    lines = [
        "functioning mechanisms act at their nominal time (step functions): every device is "
        "counted live until then (conservative)"
    ]
    for lc in hr.lifecycles:
        lines.append(lc.describe_mechanisms())
        lines.extend(lc.notes)
    lines.extend(PUBLIC_RISK_LINES)
    estimates = []
    if hr.estimate is not None:
        for i, d in enumerate(hr.estimate.days):
            b = p_band(float(hr.estimate.p_any_live[i]))
            estimates.append(
                {
                    "date": iso_date_of(float(d)),
                    "day": float(d),
                    "p_any_live_band": b["band"],
                    "p_any_live_low": b["low"],
                    "p_any_live_high": b["high"],
                }
            )
    return {
        "id": hr.hazard.id,
        "name": p.get("name"),
        "status": p.get("status"),
        "hazard_type": p.get("hazard_type"),
        "known": hr.estimate is not None,
        "released": hr.released,
        "complete": not hr.incomplete,
        "banded": True,
        "notes": list(hr.notes),
        "assumptions": lines if hr.estimate is not None else [],
        "estimates": estimates,
    }


def iso_date_of(day: float) -> str:
    from demine.risk import iso_date

    return str(iso_date(day))


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _laid_earliest(p: dict[str, Any]) -> float | None:
    """The first day of a record's laying period (``laid_earliest``), if it has one; the
    estimate counts from ``laid_at``, the latest."""
    from demine.risk import day_number

    v = p.get("laid_earliest")
    return None if v is None else float(day_number(v))


# --- learning -----------------------------------------------------------------------------


@dataclass
class Learned:
    device_type: str
    parameter: str
    prior: BetaPrior
    posterior: BetaPrior  # the one in force (floored at a treaty limit, or the prior reverted)
    successes: int
    trials: int
    evidence: list[Any]
    update: BetaPrior | None = None  # the pooled update itself, before any floor
    floored: bool = False  # a treaty-limit type's update went below the limit: moved up to it
    reverted: bool = False  # its evidence is gone: back to the prior
    fields: int = 0
    notes: list[str] = field(default_factory=list)
    sign_off: str | None = None  # an analyst's recorded sign-off to go below a treaty limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_type": self.device_type,
            "parameter": self.parameter,
            "prior": self.prior.to_dict(),
            "posterior": self.posterior.to_dict(),
            "update": None if self.update is None else self.update.to_dict(),
            "floored": self.floored,
            "reverted": self.reverted,
            "successes": self.successes,
            "trials": self.trials,
            "fields": self.fields,
            "notes": self.notes,
            "sign_off": self.sign_off,
            "evidence": [_evidence_dict(e) for e in self.evidence],
        }


def _evidence_dict(e: Any) -> dict[str, Any]:
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


def _accident_emplacement(a: Record, recs: list[Record]) -> Record | None:
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
        near = _accident_emplacement(a, by_hazard[hid])
        if near is not None:
            accidents.setdefault(near.id, []).append(
                (a.id, day_number(a.properties["occurred_at"]))
            )
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
                _record_lifecycle(lc, p),
                int(p["quantity"]),
                day_number(p["laid_at"]),
                finds.get(e.id, []),
                accidents=accidents.get(e.id, []),
                emplacement_id=e.id,
            )
    return out


def lifecycles_prior(store: Store) -> dict[str, Any]:
    """Lifecycles at the catalogue priors (learning always starts again from the prior)."""
    from demine.risk import Lifecycle

    return {code: Lifecycle.from_device_type(dt) for code, dt in _device_types(store).items()}


FLOOR_NOTE = (
    "floored at the treaty limit: the update (mean {m:.4g}) is below {what} of a treaty-limit "
    "type; moved up to mean {pm:.4g} (an analyst's sign-off, 'demine risk learn "
    "--accept-below-limit TYPE --reason ...', lets it go below)"
)
REVERT_NOTE = (
    "reverted to the prior: the evidence is gone (hazard reopened, release or find withdrawn, "
    "or the land was never cleared)"
)


def learn(
    store: Store,
    *,
    accept_below_limit: Sequence[str] = (),
    reason: str | None = None,
    withdraw_sign_off: Sequence[str] = (),
    actor: str = ACTOR,
) -> list[Learned]:
    """Update the failure-rate beliefs from all the evidence, from scratch, and store each
    posterior with the evidence it came from (a new revision when it changed; the history
    keeps the earlier). A stored posterior whose evidence is gone is reverted to the prior (a
    new revision with no trials, which estimates do not use).

    A treaty-limit type's learned mean never goes below the limit unless its code is in
    ``accept_below_limit`` (an analyst's sign-off, with ``reason``, recorded with the update
    and kept for later runs until withdrawn with ``withdraw_sign_off``)."""
    from demine.ids import uuid7
    from demine.risk import COUNTING_ASSUMPTIONS, pool
    from demine.risk.learn import floor_mean

    types = _device_types(store)
    faults = [
        Fault(f"unknown device type {c!r}", field="--accept-below-limit")
        for c in accept_below_limit
        if c not in types
    ]
    if accept_below_limit and not (reason and reason.strip()):
        faults.append(Fault("a sign-off needs a reason", field="--reason"))
    if faults:
        raise ValidationError("invalid sign-off", faults)
    prior_lcs = lifecycles_prior(store)
    evidence = gather_evidence(store)
    groups: dict[tuple[str, str], list[Any]] = {}
    for ev in evidence:
        groups.setdefault((ev.device_type, ev.parameter), []).append(ev)
    existing = {r.properties["key"]: r for r in store.list("risk_updates")}
    learned: list[Learned] = []
    records: list[Record] = []
    at = now_utc()
    signed: dict[str, str] = {}
    for r in existing.values():
        so = r.properties.get("sign_off")
        if so and r.properties["device_type"] not in withdraw_sign_off:
            signed[r.properties["device_type"]] = so
    for code in accept_below_limit:
        signed[code] = f"{actor} at {at}: {reason.strip() if reason else ''}"

    def prior_of(code: str, param: str) -> BetaPrior | None:
        lc = prior_lcs.get(code)
        if lc is None:
            return None
        prior: BetaPrior | None = getattr(lc, param)
        return prior

    def put(props: dict[str, Any]) -> None:
        old = existing.get(props["key"])
        if old is not None and {
            k_: v for k_, v in old.properties.items() if k_ != "learned_at" and v is not None
        } == {k_: v for k_, v in props.items() if v is not None}:
            return  # nothing new: no new revision
        props["learned_at"] = at
        records.append(Record(kind="risk_updates", id=uuid7(), properties=props))

    pooled = {
        key: pool(prior, evs)
        for key, evs in groups.items()
        if (prior := prior_of(*key)) is not None
    }
    for (code, param), pl in sorted(pooled.items()):
        evs = groups[(code, param)]
        lc = prior_lcs[code]
        prior = pl.prior
        post, floored, what = pl.posterior, False, ""
        sign_off = signed.get(code) if lc.treaty_limits else None
        if lc.treaty_limits and sign_off is None:
            if param == "deact_fail":
                sd = pooled.get((code, "sd_fail"))
                sd_post = sd.posterior if sd is not None else lc.sd_fail
                sd_mean = max(sd_post.mean, lc.p_sd_mean) if sd_post is not None else lc.p_sd_mean
                limit_res = types[code].residual
                need = min(
                    (limit_res.mean if limit_res is not None else lc.p_res_mean) / sd_mean,
                    0.999,
                )
                what = "the residual limit (p_sd x q)"
            else:
                need = prior.mean
                what = f"the prior mean {prior.mean:.4g}"
            if post.mean < need:
                post, floored = floor_mean(post, need), True
                c0 = prior.alpha + prior.beta
                if math.isclose(need, prior.mean) and math.isclose(post.alpha + post.beta, c0):
                    post = prior  # floored at the prior itself: store it exactly
        learned.append(
            Learned(
                code,
                param,
                prior,
                post,
                pl.successes,
                pl.trials,
                evs,
                pl.posterior,
                floored,
                fields=pl.fields,
                notes=list(pl.notes),
                sign_off=sign_off,
            )
        )
        notes = list(pl.notes) + list(COUNTING_ASSUMPTIONS)
        if floored:
            notes.insert(0, FLOOR_NOTE.format(m=pl.posterior.mean, what=what, pm=post.mean))
        put(
            {
                "key": f"{code}:{param}",
                "device_type": code,
                "parameter": param,
                "prior_alpha": prior.alpha,
                "prior_beta": prior.beta,
                "successes": pl.successes,
                "trials": pl.trials,
                "posterior_alpha": post.alpha,
                "posterior_beta": post.beta,
                "evidence": orjson.dumps([_evidence_dict(e) for e in evs]).decode(),
                "assumptions": "\n".join(notes),
                "sign_off": sign_off,
            }
        )
    for key, old in sorted(existing.items()):
        code, param = old.properties["device_type"], old.properties["parameter"]
        if (code, param) in pooled:
            continue
        if (old.properties.get("trials") or 0) == 0:
            continue  # already reverted
        prior = prior_of(code, param) or BetaPrior(
            old.properties["prior_alpha"], old.properties["prior_beta"]
        )
        learned.append(Learned(code, param, prior, prior, 0, 0, [], None, False, True))
        put(
            {
                "key": key,
                "device_type": code,
                "parameter": param,
                "prior_alpha": prior.alpha,
                "prior_beta": prior.beta,
                "successes": 0,
                "trials": 0,
                "posterior_alpha": prior.alpha,
                "posterior_beta": prior.beta,
                "evidence": "[]",
                "assumptions": "\n".join([REVERT_NOTE, *COUNTING_ASSUMPTIONS]),
                "sign_off": None,
            }
        )
    if records:
        store.upsert(
            "risk_updates",
            records,
            actor=actor,
            reason="learned from clearance finds",
            origin=ORIGIN,
        )
    return learned


def learned_history(store: Store, code: str, parameter: str) -> list[dict[str, Any]]:
    """Every posterior ever stored for a device type's parameter, oldest first."""
    recs = list(store.list("risk_updates", where={"key": f"{code}:{parameter}"}))
    if not recs:
        raise NotFound(f"nothing learned yet for {code} {parameter}")
    return [
        {
            "revision": h.revision,
            "at": h.at,
            "posterior_alpha": h.state.properties["posterior_alpha"],
            "posterior_beta": h.state.properties["posterior_beta"],
        }
        for h in store.history(recs[0].id)
        if h.state is not None
    ]


def parse_date(text: str, field_name: str) -> float:
    from demine.risk import day_number

    try:
        return day_number(date.fromisoformat(text))
    except ValueError:
        raise ValidationError(
            f"bad date {text!r}", [Fault("expected YYYY-MM-DD", field=field_name)]
        ) from None


def today_day() -> float:
    from demine.risk import day_number

    return day_number(datetime.now(UTC).date())
