"""Land release (IMAS 07.11): a hazard's account (what was released, what overlaps, what lies
outside, what remains), closure and hand-over. The rules checked on every write, and the
accounts, are in :mod:`demine.services.release_rules` (importable from here too); the
completion certificate is rendered apart (:mod:`demine.services.certificate`, a template fed
with plain data). Closure and hand-over write through the one write path
(:mod:`demine.services.records`), so the rules hold for them too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import shapely

from demine.errors import Conflict, Fault, NotFound, ValidationError
from demine.model.kinds import KINDS
from demine.model.schema import Record
from demine.services import records
from demine.services.access import for_role, require_read, restricted_fields
from demine.services.release_rules import (
    CHECKED_KINDS,
    REFERENCES,
    TOLERANCE_M2,
    TOLERANCE_SHARE,
    accounts,
    check_write,
    closure_account,
    closure_reasons,
    on_hazard,
    release_input,
    remaining_geometries,
    tolerance_m2,
)
from demine.store.base import Store

__all__ = [
    "ACTIVITY_LABELS",
    "CHECKED_KINDS",
    "REFERENCES",
    "TOLERANCE_M2",
    "TOLERANCE_SHARE",
    "accounts",
    "check_write",
    "close_hazard",
    "closure_account",
    "closure_reasons",
    "hand_over",
    "hazard_account",
    "on_hazard",
    "release_input",
    "remaining_geometries",
    "tolerance_m2",
]

ACTIVITY_LABELS = {
    "non_technical_survey": "Non-technical survey",
    "technical_survey": "Technical survey",
    "clearance": "Clearance",
    "qa_qc": "QA/QC",
}


def _geojson(g: Any) -> Any:
    if g is None or shapely.is_empty(g):
        return None
    return shapely.geometry.mapping(g)


def _r(x: float) -> float:
    return round(float(x), 2)


def hazard_account(store: Store, hazard_id: str, *, role: str = "admin") -> dict[str, Any]:
    """A hazard's land-release account as plain data (JSON-ready), as ``role`` may see it:
    fields of the hazard, its activities and releases the role may not read are left out;
    PermissionDenied when the role may not read these kinds, NotFound for a hazard it may not
    see. Every face (CLI, HTTP) shows this."""
    for name in ("hazards", "activities", "releases"):  # the account is made of these
        require_read(KINDS[name], role)
    h = store.get("hazards", hazard_id)
    if for_role(KINDS["hazards"], h, role) is None:
        raise NotFound(f"no hazard {hazard_id!r}")
    out = _account_dict(store, h)
    for kname, key in (("hazards", None), ("activities", "activities"), ("releases", "releases")):
        hidden = set(restricted_fields(KINDS[kname], role))
        if not hidden:
            continue
        if key is None:
            for name in hidden:
                out.pop(name, None)
        else:
            out[key] = [{k: v for k, v in r.items() if k not in hidden} for r in out[key]]
    return out


def _account_dict(store: Store, h: Record) -> dict[str, Any]:
    acts = on_hazard(store, "activities", h.id)
    rels = on_hazard(store, "releases", h.id)
    kept = store.derived_accounts([h.id])  # the account kept on write, when built
    acc, reasons = closure_account(h.geometry, acts, rels, None, (kept or {}).get(h.id))
    status = h.properties.get("status")
    if status != "open":
        reasons = [f"the hazard is already {status}"] + reasons
    rel_act = {r.id: r.properties.get("activity_id") for r in rels}
    tol = tolerance_m2(acc.hazard_m2)
    return {
        "hazard_id": h.id,
        "name": h.properties.get("name"),
        "reference": h.properties.get("reference"),
        "status": status,
        "closed_on": h.properties.get("closed_on"),
        "handed_over_to": h.properties.get("handed_over_to"),
        "handed_over_on": h.properties.get("handed_over_on"),
        "area_m2": _r(acc.hazard_m2),
        "released_m2": _r(acc.released_m2),
        "remaining_m2": _r(acc.remaining_m2),
        "tolerance_m2": _r(tol),
        "nothing_remains": acc.remaining_m2 <= tol,
        "by_type": {k: _r(v) for k, v in acc.by_type.items()},
        "releases": [
            {
                "release_id": p.release_id,
                "activity_id": rel_act.get(p.release_id),
                "release_type": p.release_type,
                "released_on": p.released_on,
                "recorded_m2": _r(p.recorded_m2),
                "credited_m2": _r(p.credited_m2),
                "overlap_m2": _r(p.overlap_m2),
                "overlaps_with": p.overlaps_with,
                "outside_m2": _r(p.outside_m2),
            }
            for p in acc.pieces
        ],
        "overlaps": [{**o, "overlap_m2": _r(o["overlap_m2"])} for o in acc.overlaps],
        "outside": [{**o, "outside_m2": _r(o["outside_m2"])} for o in acc.outside],
        "activities": [
            {
                "activity_id": a.id,
                "activity_type": a.properties.get("activity_type"),
                "status": a.properties.get("status"),
                "organisation": a.properties.get("organisation"),
                "method": a.properties.get("method"),
                "depth_cm": a.properties.get("depth_cm"),
                "started_on": a.properties.get("started_on"),
                "completed_on": a.properties.get("completed_on"),
                "reference": a.properties.get("reference"),
            }
            for a in sorted(acts, key=lambda a: (str(a.properties.get("started_on")), a.id))
        ],
        "can_close": not reasons,
        "reasons": reasons,
        "remaining": _geojson(acc.remaining),
    }


# --- closure and hand-over ------------------------------------------------------------------


def _day(value: date | str, name: str) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a date", [Fault("expected YYYY-MM-DD", field=name)]
        ) from None


def close_hazard(
    store: Store,
    hazard_id: str,
    closed_on: date | str,
    actor: str | None = None,
    reason: str | None = None,
) -> Record:
    """Close an open hazard whose land is all released by completed activities.

    Conflict (with every reason) when it cannot close."""
    on = _day(closed_on, "closed_on")
    h = store.get("hazards", hazard_id)
    status = h.properties.get("status")
    if status != "open":
        raise Conflict(f"hazard {h.id} is already {status}")
    reasons = closure_reasons(store, h.id, h.geometry, on)
    if reasons:
        raise Conflict(f"hazard {h.id} cannot close: " + "; ".join(reasons))
    return records.update(
        store,
        h.id,
        {"status": "closed", "closed_on": on},
        ctx=records.WriteContext(
            actor=actor, reason=reason or "land release: all land released by completed activities"
        ),
    )


def hand_over(
    store: Store,
    hazard_id: str,
    to: str,
    on: date | str,
    actor: str | None = None,
    reason: str | None = None,
) -> Record:
    """Record that a closed hazard's land was handed over to ``to`` (community, land user)."""
    day = _day(on, "handed_over_on")
    if not to or not to.strip():
        raise ValidationError(
            "a hand-over needs a recipient", [Fault("empty", field="handed_over_to")]
        )
    h = store.get("hazards", hazard_id)
    status = h.properties.get("status")
    if status != "closed":
        raise Conflict(f"only a closed hazard can be handed over; hazard {h.id} is {status}")
    return records.update(
        store,
        h.id,
        {"status": "handed_over", "handed_over_to": to.strip(), "handed_over_on": day},
        ctx=records.WriteContext(actor=actor, reason=reason or f"land handed over to {to.strip()}"),
    )
