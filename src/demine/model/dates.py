"""Partial and unknown dates: what legacy records (IMSMA and older registers) know of a date.

A date field that allows it (``FieldSpec.partial``) holds, besides a full date (``2019-05-14``)
or date and time, a year-month (``2019-05``) or a year (``2019``); one that also allows
``unknown`` (``FieldSpec.unknown``) holds the word ``unknown``. These are kept as such: never
widened to a made-up day. Every rule that compares dates asks for the period a value covers
(:func:`bounds`) and fails only when the order is certainly wrong.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

UNKNOWN = "unknown"

_PARTIAL = re.compile(r"([0-9]{4})(?:-([0-9]{2}))?")  # whole value: fullmatch

MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "uk": [
        "січень",
        "лютий",
        "березень",
        "квітень",
        "травень",
        "червень",
        "липень",
        "серпень",
        "вересень",
        "жовтень",
        "листопад",
        "грудень",
    ],
}
UNKNOWN_TEXT = {"en": "unknown", "uk": "невідомо"}


class BadPartial(ValueError):
    """A value shaped like a partial date that is not one (``2019-13``)."""


def parse_partial(text: str) -> str | None:
    """``YYYY`` or ``YYYY-MM`` in canonical form, None if ``text`` is not shaped like one;
    :class:`BadPartial` with the reason if it is shaped like one but out of range."""
    m = _PARTIAL.fullmatch(text)
    if m is None:
        return None
    year = int(m.group(1))
    if not 1 <= year <= 9999:
        raise BadPartial(f"year {year} is out of range")
    if m.group(2) is None:
        return m.group(1)
    month = int(m.group(2))
    if not 1 <= month <= 12:
        raise BadPartial(f"month {month:02d} is not a month (01 to 12)")
    return text


def is_partial(value: Any) -> bool:
    """True for a year, a year-month or ``unknown``: a value that is not one day or instant."""
    return isinstance(value, str) and (value == UNKNOWN or len(value) in (4, 7))


def precision(value: Any) -> str | None:
    """``day`` (a full date or a date-time), ``month``, ``year``, ``unknown``; None if empty."""
    if value is None or value == "":
        return None
    s = str(value)
    if s == UNKNOWN:
        return UNKNOWN
    return {4: "year", 7: "month"}.get(len(s), "day")


def bounds(value: Any) -> tuple[date, date] | None:
    """The first and the last day a stored value may be; None for ``unknown``, empty or a
    value that is not a date (the caller decides what that means)."""
    if value is None:
        return None
    s = str(value)
    try:
        if len(s) == 4:
            y = int(s)
            return date(y, 1, 1), date(y, 12, 31)
        if len(s) == 7:
            y, m = int(s[:4]), int(s[5:7])
            return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
        d = date.fromisoformat(s[:10])
    except ValueError:
        return None
    return d, d


def year_of(value: Any) -> int | None:
    """The year of a full or partial date, None for ``unknown`` or empty."""
    b = bounds(value)
    return None if b is None else b[0].year


def certainly_before(later: Any, earlier: Any) -> bool:
    """True when ``later`` is certainly before ``earlier``: every day ``later`` may be is before
    every day ``earlier`` may be. Full date-times compare as text (ISO, UTC), as before."""
    if precision(later) == "day" and precision(earlier) == "day":
        return str(later) < str(earlier)
    a, b = bounds(later), bounds(earlier)
    return a is not None and b is not None and a[1] < b[0]


def certainly_after(value: Any, limit: str) -> bool:
    """True when every day ``value`` may be is after ``limit`` (an ISO date or date-time)."""
    if precision(value) == "day":
        return str(value) > limit
    b = bounds(value)
    return b is not None and b[0].isoformat() > limit[:10]


def display(value: Any, lang: str = "en") -> str:
    """A stored date as people read it: ``2019``, ``May 2019`` (``травень 2019``), ``unknown``
    (``невідомо``); a full date or date-time as it is stored."""
    if value is None:
        return ""
    s = str(value)
    p = precision(s)
    if p == UNKNOWN:
        return UNKNOWN_TEXT.get(lang, UNKNOWN)
    if p == "month":
        return f"{MONTHS.get(lang, MONTHS['en'])[int(s[5:7]) - 1]} {s[:4]}"
    return s
