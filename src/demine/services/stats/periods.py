"""The period of the statistics: one year or a span of years (:class:`Period`), and the year
a record's date falls in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from demine.errors import Fault, ValidationError


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
    if value is None:
        return None
    s = str(value)
    try:
        return int(s[:4])
    except ValueError:
        return None


def dated_in(per: Period | None, value: Any) -> bool:
    if per is None:
        return True
    y = year_of(value)
    return y is not None and y in per
