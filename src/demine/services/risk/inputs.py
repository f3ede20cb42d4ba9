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


def laid_earliest(p: dict[str, Any]) -> float | None:
    """The first day of a record's laying period (``laid_earliest``), if it has one; the
    estimate counts from ``laid_at``, the latest."""
    from demine.risk import day_number

    v = p.get("laid_earliest")
    return None if v is None else float(day_number(v))


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
