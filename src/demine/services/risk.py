"""Residual risk for the people who plan survey and clearance: estimates per device type, per
emplacement record and per hazard, and learning the real failure rates from what clearance
found. Risk is information: nothing here changes a hazard's status (the store refuses it).

The model is in :mod:`demine.risk` and docs/risk-model.md.
"""

from __future__ import annotations

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
    return {
        (r.properties["device_type"], r.properties["parameter"]): BetaPrior(
            r.properties["posterior_alpha"], r.properties["posterior_beta"]
        )
        for r in store.list("risk_updates")
    }


def lifecycles(store: Store) -> dict[str, Any]:
    """Every device type's lifecycle, with the newest learned failure rates where there are."""
    from demine.risk import Lifecycle

    post = _posteriors(store)
    return {
        code: Lifecycle.from_device_type(
            dt, sd_fail=post.get((code, "sd_fail")), residual=post.get((code, "residual"))
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
    estimate: Any | None  # None when the hazard has no emplacement record
    notes: list[str] = field(default_factory=list)
    lifecycles: list[Any] = field(default_factory=list)  # the device types estimated
    coarse: bool = False  # quantities taken at their coarse step (what roles below analyst see)

    def to_dict(self) -> dict[str, Any]:
        p = self.hazard.properties
        return {
            "id": self.hazard.id,
            "name": p.get("name"),
            "status": p.get("status"),
            "hazard_type": p.get("hazard_type"),
            "emplacement_records": [r.id for r in self.records],
            "known": self.estimate is not None,
            "notes": self.notes,
            "assumptions": [] if self.estimate is None else self.estimate.assumptions,
            "estimates": [] if self.estimate is None else self.estimate.to_dicts(),
        }


UNKNOWN_NOTE = (
    "no emplacement record: the residual risk cannot be estimated. This does not mean the "
    "area is safe; it is a hazard until land release says otherwise."
)


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
    else:
        hazards = list(store.list("hazards"))
    by_hazard: dict[str, list[Record]] = {}
    for e in store.list("emplacements"):
        hid = e.properties.get("hazard_id")
        if hid:
            by_hazard.setdefault(hid, []).append(e)
    lcs = lifecycles(store)
    out = []
    for h in hazards:
        recs = by_hazard.get(h.id, [])
        notes: list[str] = []
        inputs = []
        used: list[Any] = []
        for e in recs:
            p = e.properties
            lc = lcs.get(p["device_type"])
            if lc is None:
                notes.append(
                    (UNKNOWN_TYPE_NOTE if coarse else f"emplacement {e.id}: ")
                    + f"unknown device type {p['device_type']!r}"
                )
                continue
            if lc not in used:
                used.append(lc)
            if coarse:
                top = max(float(p["quantity"]), _f(p.get("quantity_max")) or 0.0)
                q = Quantity(float(coarse_quantity(top)))
            else:
                q = Quantity(
                    float(p["quantity"]), _f(p.get("quantity_min")), _f(p.get("quantity_max"))
                )
            inputs.append(RecordInput(lc, q, day_number(p["laid_at"])))
        if h.properties.get("status") != "open":
            notes.append(f"hazard status is {h.properties.get('status')}: released land")
        est = estimate(inputs, dates, draws=draws, seed=seed) if inputs else None
        if est is None:
            notes.append(UNKNOWN_NOTE)
        out.append(HazardRisk(h, recs, est, notes, used, coarse))
    return out


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


# --- learning -----------------------------------------------------------------------------


@dataclass
class Learned:
    device_type: str
    parameter: str
    prior: BetaPrior
    posterior: BetaPrior
    successes: int
    trials: int
    evidence: list[Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_type": self.device_type,
            "parameter": self.parameter,
            "prior": self.prior.to_dict(),
            "posterior": self.posterior.to_dict(),
            "successes": self.successes,
            "trials": self.trials,
            "evidence": [_evidence_dict(e) for e in self.evidence],
        }


def _evidence_dict(e: Any) -> dict[str, Any]:
    return {
        "emplacement_id": e.emplacement_id,
        "find_ids": list(e.find_ids),
        "trials": e.trials,
        "successes": e.successes,
        "t_days": e.t_days,
        "note": e.note,
    }


CLEARED = ("closed", "handed_over")


def gather_evidence(store: Store) -> list[Any]:
    """Evidence from cleared areas: emplacement records whose hazard is closed (its land
    released) with the finds linked to them."""
    from demine.risk import day_number, evidence_from_clearance

    cleared = {h.id for h in store.list("hazards") if h.properties.get("status") in CLEARED}
    finds: dict[str, list[tuple[str, str, float]]] = {}
    for f in store.list("finds"):
        eid = f.properties.get("emplacement_id")
        if eid:
            finds.setdefault(eid, []).append(
                (f.id, f.properties["state"], day_number(f.properties["found_at"]))
            )
    lcs = lifecycles_prior(store)
    out: list[Any] = []
    for e in store.list("emplacements"):
        p = e.properties
        if p.get("hazard_id") not in cleared or e.id not in finds:
            continue
        lc = lcs.get(p["device_type"])
        if lc is None:
            continue
        out += evidence_from_clearance(
            lc, int(p["quantity"]), day_number(p["laid_at"]), finds[e.id], emplacement_id=e.id
        )
    return out


def lifecycles_prior(store: Store) -> dict[str, Any]:
    """Lifecycles at the catalogue priors (learning always starts again from the prior)."""
    from demine.risk import Lifecycle

    return {code: Lifecycle.from_device_type(dt) for code, dt in _device_types(store).items()}


def learn(store: Store) -> list[Learned]:
    """Update the failure-rate beliefs from all the evidence, and store each posterior with the
    evidence it came from (a new revision when it changed; the history keeps the earlier)."""
    from demine.ids import uuid7
    from demine.risk import COUNTING_ASSUMPTIONS, beta_update

    types = _device_types(store)
    evidence = gather_evidence(store)
    groups: dict[tuple[str, str], list[Any]] = {}
    for ev in evidence:
        groups.setdefault((ev.device_type, ev.parameter), []).append(ev)
    existing = {r.properties["key"]: r for r in store.list("risk_updates")}
    learned: list[Learned] = []
    records: list[Record] = []
    at = now_utc()
    for (code, param), evs in sorted(groups.items()):
        dt = types[code]
        prior = dt.sd_fail if param == "sd_fail" else dt.residual
        if prior is None:
            continue
        post = beta_update(prior, evs)
        k = sum(e.successes for e in evs)
        n = sum(e.trials for e in evs)
        learned.append(Learned(code, param, prior, post, k, n, evs))
        props: dict[str, Any] = {
            "key": f"{code}:{param}",
            "device_type": code,
            "parameter": param,
            "prior_alpha": prior.alpha,
            "prior_beta": prior.beta,
            "successes": k,
            "trials": n,
            "posterior_alpha": post.alpha,
            "posterior_beta": post.beta,
            "evidence": orjson.dumps([_evidence_dict(e) for e in evs]).decode(),
            "assumptions": "\n".join(COUNTING_ASSUMPTIONS),
        }
        old = existing.get(props["key"])
        if (
            old is not None
            and {k_: v for k_, v in old.properties.items() if k_ != "learned_at"} == props
        ):
            continue  # nothing new: no new revision
        props["learned_at"] = at
        records.append(Record(kind="risk_updates", id=uuid7(), properties=props))
    if records:
        store.upsert(
            "risk_updates",
            records,
            actor=ACTOR,
            reason="learned from clearance finds",
            origin=ORIGIN,
        )
    return learned


def learned_history(store: Store, code: str, parameter: str) -> list[dict[str, Any]]:
    """Every posterior ever stored for a device type's parameter, oldest first."""
    recs = [r for r in store.list("risk_updates") if r.properties["key"] == f"{code}:{parameter}"]
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
