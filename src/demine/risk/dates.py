"""Day numbers: dates as days since 1970-01-01 (UTC), the time axis of every estimate."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from demine.errors import Fault, ValidationError
from demine.model.dates import bounds, precision

__all__ = ["dates_series", "day_number", "day_span", "iso_date"]

_EPOCH = date(1970, 1, 1)


def day_number(d: date | datetime | str | float) -> float:
    """Days since 1970-01-01 (UTC) as a float. A date is its midnight UTC; a naive datetime is
    taken as UTC; a string is ISO 8601 (a date or a date and time)."""
    if isinstance(d, int | float) and not isinstance(d, bool):
        return float(d)
    if isinstance(d, str):
        s = d.strip()
        try:
            d = date.fromisoformat(s) if len(s) == 10 else datetime.fromisoformat(s)
        except ValueError:
            raise ValidationError(
                f"bad date {d!r}",
                [Fault("expected an ISO 8601 date (YYYY-MM-DD) or date and time", field="date")],
            ) from None
    if isinstance(d, datetime):
        if d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        return d.timestamp() / 86400.0
    if isinstance(d, date):
        return float((d - _EPOCH).days)
    raise ValidationError(f"bad date {d!r}", [Fault("expected a date", field="date")])


def day_span(value: date | datetime | str | float) -> tuple[float, float] | None:
    """The first and last day numbers a stored date may be: one day number twice for a full
    date or date-time; the first and last day of the month or year of a partial date
    (``2019-05``, ``2019``); None for ``unknown``. The caller picks the end that is
    conservative for what it computes (and says so)."""
    if isinstance(value, str) and precision(value) != "day":
        b = bounds(value)
        return None if b is None else (day_number(b[0]), day_number(b[1]))
    d = day_number(value)
    return d, d


def iso_date(day: float) -> str:
    """The ISO date (YYYY-MM-DD, UTC) of a day number."""
    return (_EPOCH + timedelta(days=math.floor(day))).isoformat()


def dates_series(
    start: date | datetime | str | float,
    end: date | datetime | str | float,
    step_days: float,
) -> NDArray[np.float64]:
    """Day numbers from ``start`` to ``end`` (inclusive when on the grid) every ``step_days``."""
    if not (math.isfinite(step_days) and step_days > 0):
        raise ValidationError("bad date series", [Fault("step must be > 0 days", field="step")])
    s, e = day_number(start), day_number(end)
    if e < s:
        raise ValidationError("bad date series", [Fault("end is before start", field="end")])
    n = math.floor((e - s) / step_days + 1e-9) + 1
    return s + step_days * np.arange(n, dtype=np.float64)
