"""The period of the statistics: one year or a span of years (:class:`Period`), the year
a record's date falls in, and counts by year."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from demine.errors import Fault, ValidationError

UNKNOWN_YEAR = "unknown"  # the year of a record whose date is missing or unknown


@dataclass(frozen=True, slots=True)
class Period:
    first: int
    last: int

    @property
    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    @property
    def end(self) -> str:
        """The last day, ISO."""
        return f"{self.last:04d}-12-31"

    def years(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    def __contains__(self, year: object) -> bool:
        return isinstance(year, int) and self.first <= year <= self.last

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.first, "to": self.last, "label": self.label}


def parse_period(text: str | int | None) -> Period | None:
    """``None`` (every year), ``YEAR`` or ``YEAR-YEAR`` (inclusive)."""
    if text is None or str(text).strip().lower() in ("", "all"):
        return None
    s = str(text).strip()
    a, sep, b = s.partition("-")
    try:
        first = int(a)
        last = int(b) if sep else first
    except ValueError:
        first = last = -1
    if not (1900 <= first <= 2200 and 1900 <= last <= 2200) or first > last:
        raise ValidationError(
            f"bad period {s!r}",
            [Fault("expected YEAR or YEAR-YEAR (e.g. 2025 or 2024-2025)", field="period")],
        )
    return Period(first, last)


def year_of(value: Any) -> int | None:
    """The year of a date, date-time or partial date (``2019``, ``2019-05``): its first four
    characters; None when missing or unknown."""
    if value is None:
        return None
    s = str(value)[:4]
    if len(s) != 4 or not s.isdigit():
        return None
    return int(s)


def year_key(value: Any) -> str:
    """The year of a date as a breakdown key: ``"2024"``, or ``"unknown"``."""
    y = year_of(value)
    return UNKNOWN_YEAR if y is None else str(y)


def by_year(keys: Iterable[str], per: Period | None) -> dict[str, int]:
    """Counts by year key (:func:`year_key`): every year of ``per`` (0 when none), else the
    years in the data; in year order, ``unknown`` last (there only when some are unknown)."""
    out = {str(y): 0 for y in per.years()} if per else {}
    for k in keys:
        out[k] = out.get(k, 0) + 1
    return {k: out[k] for k in sorted(out, key=lambda k: (k == UNKNOWN_YEAR, k))}


def dated_in(per: Period | None, value: Any) -> bool:
    if per is None:
        return True
    y = year_of(value)
    return y is not None and y in per
