"""What each role sees of an estimate: analysts and admins the exact figures, every other role
a band of the chance that any device is live, worked out from coarse quantities
(:mod:`demine.risk.public`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from demine.services.risk.hazards import HazardRisk, hazard_risks
from demine.services.risk.inputs import iso_date_of
from demine.store.base import Store

FULL_RISK_ROLE = "analyst"  # exact figures, rates, posteriors, quantities: analyst and admin
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
