"""What a risk estimate is read from: the device types' lifecycles in force (the catalogue
with the learned failure rates), a record's own numbers and laying dates, and the day numbers
of the faces' dates."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from demine.errors import Fault, ValidationError
from demine.model.devices import BetaPrior, DeviceType
from demine.store.base import Store

RELEASED = ("closed", "handed_over")  # released land: no estimate; cleared land: evidence


def device_types(store: Store) -> dict[str, DeviceType]:
    """The store's device-type catalogue, by code."""
    return {
        r.properties["code"]: DeviceType.from_properties(r.properties)
        for r in store.list("device_types")
    }


def _posteriors(store: Store) -> dict[tuple[str, str], BetaPrior]:
    """The learned posteriors in force: a row reverted to the prior (its evidence gone,
    ``trials`` 0) is not one, nor one floored at a treaty limit (its posterior is the prior:
    nothing learned is used)."""
    return {
        (p["device_type"], p["parameter"]): BetaPrior(p["posterior_alpha"], p["posterior_beta"])
        for p in (r.properties for r in store.list("risk_updates"))
        if (p.get("trials") or 0) > 0
        and not (
            math.isclose(p["posterior_alpha"], p["prior_alpha"], rel_tol=1e-9)
            and math.isclose(p["posterior_beta"], p["prior_beta"], rel_tol=1e-9)
        )
    }


def lifecycles(store: Store) -> dict[str, Any]:
    """Every device type's lifecycle, with the newest learned failure rates where there are."""
    from demine.risk import Lifecycle

    post = _posteriors(store)
    return {
        code: Lifecycle.from_device_type(
            dt,
            sd_fail=post.get((code, "sd_fail")),
            residual=post.get((code, "residual")),
            deact_fail=post.get((code, "deact_fail")),
        )
        for code, dt in device_types(store).items()
    }


def lifecycle(store: Store, code: str) -> Any:
    """One device type's lifecycle in force; an unknown code is a ValidationError naming the
    known ones."""
    lcs = lifecycles(store)
    if code not in lcs:
        raise ValidationError(
            f"unknown device type {code!r}",
            [Fault(f"known device types: {', '.join(sorted(lcs))}", field="--device-type")],
        )
    return lcs[code]


def lifecycles_prior(store: Store) -> dict[str, Any]:
    """Lifecycles at the catalogue priors (learning always starts again from the prior)."""
    from demine.risk import Lifecycle

    return {code: Lifecycle.from_device_type(dt) for code, dt in device_types(store).items()}


def record_lifecycle(lc: Any, p: dict[str, Any]) -> Any:
    """The type's lifecycle with the record's own times (the later of the type's and the
    record's)."""
    return lc.for_record(as_float(p.get("self_destruct_days")), as_float(p.get("fuse_life_days")))


def iso_date_of(day: float) -> str:
    from demine.risk import iso_date

    return str(iso_date(day))


def as_float(v: Any) -> float | None:
    return None if v is None else float(v)


def laid_day(p: dict[str, Any], *, evidence: bool = False) -> float:
    """The day the estimate counts a record's devices from: ``laid_at``, the latest laying day;
    for a legacy record that gives only a year-month or a year, the LAST day of it. Devices
    that self-destruct or self-deactivate decay from their laying, so the latest day leaves
    the most of them live: the conservative end (the most residual risk for civilians).

    As ``evidence`` (finds and accidents counted against the self-destruction of the devices
    of a record), the FIRST day: the longer the devices were there when found live, the more
    it counts as a failure, and the failure rates (so the risk) come out higher."""
    from demine.risk import day_span

    span = day_span(p["laid_at"])
    if span is None:  # laid_at never takes "unknown" (model.kinds)
        raise ValueError(f"laid_at {p['laid_at']!r} is not a date")
    # a period that runs on past today (this year, this month): it was laid by now at latest
    return span[0] if evidence else min(span[1], today_day())


def laid_earliest(p: dict[str, Any]) -> float | None:
    """The first day of a record's laying period (``laid_earliest``, its first day if that is
    partial), if it has one; else the first day of a partial ``laid_at``. Shown in the
    assumptions; the estimate counts from :func:`laid_day`, the latest."""
    from demine.risk import day_span

    v = p.get("laid_earliest")
    if v is not None:
        span = day_span(v)
        return None if span is None else span[0]
    laid = p.get("laid_at")
    span = None if laid is None else day_span(laid)
    return None if span is None or span[0] == span[1] else span[0]


def event_day(value: Any) -> float:
    """The day of a find or an accident taken as evidence on a device's state: for a partial
    date its LAST day (today at latest), for ``unknown`` today (the last day it can be): the longer
    a device was there, the more its being live counts against its self-destruction, so the
    latest end is the conservative one."""
    from demine.risk import day_span

    span = day_span(value)
    return today_day() if span is None else min(span[1], today_day())


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
