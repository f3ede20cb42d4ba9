"""Parsing an OGC API - Features request: its query parameters (bbox, datetime, limit,
CRS, f) and the errors a bad one gets (400 naming the parameter, 412, 415).

Only parsing lives here; the handlers are in :mod:`demine.api.ogc` and every rule about what
may be written in :mod:`demine.services.records`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import Request

from demine.errors import DemineError
from demine.geo.crs import CRS84, CrsError, bbox_to_crs84, parse_crs
from demine.model.dates import bounds, is_partial
from demine.model.kinds import Kind
from demine.model.schema import Record

# the main date of each kind: what ?datetime= filters on
DATE_FIELD = {
    "hazards": "reported_on",
    "finds": "found_at",
    "eo_reports": "reported_at",
    "emplacements": "laid_at",
    "risk_updates": "learned_at",
}


# --- errors -----------------------------------------------------------------------------------


class BadRequest(DemineError):
    """A bad query parameter or body: 400, naming the parameter."""

    exit_code = 1
    http_status = 400
    title = "Bad request"

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter

    def to_problem(self) -> dict[str, Any]:
        p = super().to_problem()
        if self.parameter is not None:
            p["parameter"] = self.parameter
            p["errors"] = [{"index": None, "field": self.parameter, "reason": self.message}]
        return p


class PreconditionFailed(DemineError):
    exit_code = 4
    http_status = 412
    title = "Precondition failed"


class UnsupportedMediaType(DemineError):
    exit_code = 1
    http_status = 415
    title = "Unsupported media type"


def check_params(request: Request, allowed: frozenset[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise BadRequest(
                f"unknown query parameter {name!r}; this resource takes: "
                + (", ".join(sorted(allowed)) or "none"),
                name,
            )
        if len(request.query_params.getlist(name)) > 1:
            raise BadRequest(f"query parameter {name!r} given more than once", name)


def want_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        f = f.strip().lower()
        if f == "html":
            return True
        if f in ("json", "geojson"):
            return False
        raise BadRequest(f"f must be json or html, not {f!r}", "f")
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    h = accept.find("text/html")
    js = [i for i in (accept.find("json"),) if i >= 0]
    return not js or h < min(js)


# --- items: query parameters -----------------------------------------------------------------


def number_param(text: str, param: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise BadRequest(f"{param}: {text!r} is not a number", param) from None
    if not math.isfinite(v):
        raise BadRequest(f"{param}: {text!r} is not a finite number", param)
    return v


def int_param(text: str, param: str, minimum: int, maximum: int | None = None) -> int:
    shown = text if len(text) <= 40 else text[:40] + "..."
    t = text.strip()
    digits = t[1:] if t[:1] in ("+", "-") else t
    if not (digits.isascii() and digits.isdigit()):
        raise BadRequest(f"{param} must be a whole number, not {shown!r}", param)
    # beyond 30 digits the value only matters as "huge" (int() of 5,000 digits is refused)
    v = int(t) if len(digits) <= 30 else (-1 if t[0] == "-" else 1) * 10**30
    if v < minimum:
        raise BadRequest(f"{param} must be at least {minimum}, not {shown.strip()}", param)
    if maximum is not None and v > maximum:
        raise BadRequest(f"{param} must be at most {maximum}, not {shown.strip()}", param)
    return v


def crs_param(request: Request, name: str) -> str:
    v = request.query_params.get(name)
    if v is None:
        return CRS84
    try:
        return parse_crs(v)
    except CrsError as e:
        raise BadRequest(f"{name}: {e}", name) from None


def parse_bbox(text: str, crs: str) -> tuple[float, float, float, float]:
    """``bbox`` (4 or 6 numbers, in the axis order of ``crs``) as a CRS84 box."""
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise BadRequest(f"bbox takes 4 or 6 comma-separated numbers, not {len(parts)}", "bbox")
    nums = [number_param(p, "bbox") for p in parts]
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    x0, y0, x1, y1 = nums
    if x0 > x1 or y0 > y1:
        raise BadRequest(
            "bbox: the lower corner must come first and be below the upper one (boxes across "
            "the antimeridian are not supported)",
            "bbox",
        )
    if crs == CRS84 and not (x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90):
        raise BadRequest("bbox: longitudes must be within ±180 and latitudes ±90", "bbox")
    if crs.endswith("/4326") and not (x0 >= -90 and x1 <= 90 and y0 >= -180 and y1 <= 180):
        raise BadRequest("bbox: in EPSG:4326 the order is lat,lon,lat,lon", "bbox")
    try:
        box = bbox_to_crs84((x0, y0, x1, y1), crs)
    except Exception as e:  # pyproj: a box outside the projection's domain
        raise BadRequest(f"bbox: cannot transform it to CRS84: {e}", "bbox") from None
    if not all(math.isfinite(v) for v in box):
        raise BadRequest("bbox: outside the area this CRS can describe", "bbox")
    return box


_Interval = tuple[datetime | None, datetime | None]


def _instant(text: str, end: bool) -> datetime | None:
    t = text.strip()
    if t in ("..", ""):
        return None
    try:
        if len(t) == 10:
            d = date.fromisoformat(t)
            return datetime.combine(d, time.max if end else time.min, UTC)
        dt = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"datetime: {text!r} is not an RFC 3339 date-time (e.g. 2024-05-01T00:00:00Z), a "
            "date or '..'",
            "datetime",
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_datetime(text: str) -> _Interval:
    if "/" in text:
        a, _, b = text.partition("/")
        lo, hi = _instant(a, False), _instant(b, True)
        if a.strip() in ("", "..") and b.strip() in ("", ".."):
            raise BadRequest("datetime: an interval needs at least one end", "datetime")
        if lo is not None and hi is not None and lo > hi:
            raise BadRequest("datetime: the interval ends before it starts", "datetime")
        return lo, hi
    if text.strip() == "..":
        raise BadRequest("datetime: '..' is only allowed as an end of an interval", "datetime")
    return _instant(text, False), _instant(text, True)


def _date_span(value: Any) -> tuple[datetime, datetime] | None:
    if value is None:
        return None
    s = str(value)
    if is_partial(s):  # a year or a year-month covers its days; "unknown" matches no interval
        b = bounds(s)
        if b is None:
            return None
        return (datetime.combine(b[0], time.min, UTC), datetime.combine(b[1], time.max, UTC))
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return (datetime.combine(d, time.min, UTC), datetime.combine(d, time.max, UTC))
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return (dt, dt)


def datetime_predicate(kind: Kind, text: str) -> Callable[[Record], bool]:
    name = DATE_FIELD.get(kind.name)
    if name is None or name not in kind.field_names:
        raise BadRequest(
            f"datetime: the collection {kind.name!r} has no temporal property", "datetime"
        )
    lo, hi = parse_datetime(text)

    def test(r: Record) -> bool:
        span = _date_span(r.properties.get(name))
        if span is None:
            return False
        return (hi is None or span[0] <= hi) and (lo is None or span[1] >= lo)

    return test
