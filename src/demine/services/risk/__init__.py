"""Residual risk for the people who plan survey and clearance: estimates per device type, per
emplacement record and per hazard, and learning the real failure rates from what clearance
found. Risk is information: nothing here changes a hazard's status (the store refuses it).

The model is in :mod:`demine.risk` and docs/risk-model.md. This package's modules:
:mod:`~demine.services.risk.inputs` (the lifecycles in force, a record's numbers and dates),
:mod:`~demine.services.risk.hazards` (estimates per device type and per hazard),
:mod:`~demine.services.risk.views` (what each role sees),
:mod:`~demine.services.risk.evidence` (the evidence of cleared land) and
:mod:`~demine.services.risk.learning` (learning the failure rates, written through
:mod:`demine.services.records`). The names below are its public face.
"""

from demine.services.risk.evidence import CLEARED, cleared_land, evidence_dict, gather_evidence
from demine.services.risk.hazards import (
    FOUND_MORE_NOTE,
    INCOMPLETE_NOTE,
    INCOMPLETE_RECORD_NOTE,
    OWN_NOTE,
    RELEASED_NOTE,
    UNCOUNTED_NOTE,
    UNKNOWN_NOTE,
    UNKNOWN_TYPE_NOTE,
    ZERO_NOTE,
    HazardRisk,
    estimate_device_type,
    hazard_risks,
)
from demine.services.risk.inputs import (
    RELEASED,
    iso_date_of,
    lifecycles,
    lifecycles_prior,
    parse_date,
    today_day,
)
from demine.services.risk.learning import (
    ACTOR,
    FLOOR_NOTE,
    ORIGIN,
    REVERT_NOTE,
    Learned,
    learn,
    learned_history,
)
from demine.services.risk.views import (
    FULL_RISK_ROLE,
    PUBLIC_RISK_LINES,
    ROW_ANALYST,
    ROW_PUBLIC,
    full_risk,
    public_view,
    require_full_risk,
    role_hazard_risks,
    row_view,
)

__all__ = [
    "ACTOR",
    "CLEARED",
    "FLOOR_NOTE",
    "FOUND_MORE_NOTE",
    "FULL_RISK_ROLE",
    "INCOMPLETE_NOTE",
    "INCOMPLETE_RECORD_NOTE",
    "ORIGIN",
    "OWN_NOTE",
    "PUBLIC_RISK_LINES",
    "RELEASED",
    "RELEASED_NOTE",
    "REVERT_NOTE",
    "ROW_ANALYST",
    "ROW_PUBLIC",
    "UNCOUNTED_NOTE",
    "UNKNOWN_NOTE",
    "UNKNOWN_TYPE_NOTE",
    "ZERO_NOTE",
    "HazardRisk",
    "Learned",
    "cleared_land",
    "estimate_device_type",
    "evidence_dict",
    "full_risk",
    "gather_evidence",
    "hazard_risks",
    "iso_date_of",
    "learn",
    "learned_history",
    "lifecycles",
    "lifecycles_prior",
    "parse_date",
    "public_view",
    "require_full_risk",
    "role_hazard_risks",
    "row_view",
    "today_day",
]
