"""Residual risk of non-persistent mines: lifecycles, estimates with their uncertainty, and
learning failure rates from clearance. Pure numpy/scipy, no I/O; see docs/risk-model.md.

An estimate is information: time never releases land. Only land release (non-technical survey,
technical survey, clearance) changes a hazard's status.
"""

from demine.risk.dates import day_span
from demine.risk.estimate import (
    BLOCK,
    COUNT_STATISTICS,
    QUANTILES,
    STATISTICS,
    Estimate,
    Quantity,
    RecordInput,
    closed_form,
    dates_series,
    day_number,
    estimate,
    estimate_many,
    iso_date,
    rate_draws,
)
from demine.risk.learn import (
    COUNTING_ASSUMPTIONS,
    FIND_STATES,
    PARAMETERS,
    Evidence,
    Pooled,
    beta_update,
    evidence_from_clearance,
    pool,
    treaty_floor,
)
from demine.risk.lifecycle import AFTER_BATTERY, AFTER_SD, BEFORE_LAYING, LIVE, Lifecycle

__all__ = [
    "AFTER_BATTERY",
    "AFTER_SD",
    "BEFORE_LAYING",
    "BLOCK",
    "COUNT_STATISTICS",
    "COUNTING_ASSUMPTIONS",
    "FIND_STATES",
    "LIVE",
    "PARAMETERS",
    "QUANTILES",
    "STATISTICS",
    "Estimate",
    "Evidence",
    "Lifecycle",
    "Pooled",
    "Quantity",
    "RecordInput",
    "beta_update",
    "closed_form",
    "dates_series",
    "day_number",
    "day_span",
    "estimate",
    "estimate_many",
    "evidence_from_clearance",
    "iso_date",
    "pool",
    "rate_draws",
    "treaty_floor",
]
