"""What an estimate is made of: a record's quantity (fixed or Beta-PERT) and one emplacement
record's input (its lifecycle, quantity and laying date)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from demine.errors import Fault, ValidationError
from demine.risk.dates import iso_date
from demine.risk.kernels import F64
from demine.risk.lifecycle import Lifecycle

__all__ = ["Quantity", "RecordInput", "finite_nonneg", "pert_shape"]


def finite_nonneg(v: float | None) -> bool:
    return v is not None and math.isfinite(v) and v >= 0


@dataclass(frozen=True)
class Quantity:
    """How many devices a record holds: a best estimate with an optional minimum and maximum.
    With a range the number is Beta-PERT on [low, high] with mode ``best``; without, fixed."""

    best: float
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        faults: list[Fault] = []
        for name in ("best", "low", "high"):
            v = getattr(self, name)
            if (name == "best" or v is not None) and not finite_nonneg(v):
                faults.append(
                    Fault(f"must be a finite number >= 0, not {v!r}", field=f"quantity.{name}")
                )
        if not faults:
            if self.low is not None and self.low > self.best:
                faults.append(
                    Fault(
                        f"min {self.low:g} is above the best estimate {self.best:g}",
                        field="quantity.low",
                    )
                )
            if self.high is not None and self.high < self.best:
                faults.append(
                    Fault(
                        f"max {self.high:g} is below the best estimate {self.best:g}",
                        field="quantity.high",
                    )
                )
        if faults:
            raise ValidationError("invalid quantity", faults)

    @property
    def a(self) -> float:
        return self.best if self.low is None else float(self.low)

    @property
    def c(self) -> float:
        return self.best if self.high is None else float(self.high)

    @property
    def fixed(self) -> bool:
        return self.a == self.c

    @property
    def mean(self) -> float:
        """E[N]: (a + 4b + c) / 6 for PERT, b when fixed."""
        return self.best if self.fixed else (self.a + 4.0 * self.best + self.c) / 6.0

    def pert(self) -> tuple[float, float]:
        """The Beta shape (alpha, beta) of the PERT on [a, c]."""
        return pert_shape(self.a, self.best, self.c)

    def describe(self) -> str:
        if self.fixed:
            return f"fixed at {self.best:g}"
        return f"PERT({self.a:g}, {self.best:g}, {self.c:g})"

    def draw(self, rng: np.random.Generator, draws: int) -> F64:
        if self.fixed:
            return np.full(draws, self.best, dtype=np.float64)
        al, be = self.pert()
        return np.asarray(self.a + (self.c - self.a) * rng.beta(al, be, draws), np.float64)


def pert_shape(a: Any, b: Any, c: Any) -> tuple[Any, Any]:
    m = (b - a) / (c - a)
    return 1.0 + 4.0 * m, 1.0 + 4.0 * (1.0 - m)


@dataclass
class RecordInput:
    """One emplacement record: its device type's lifecycle, its quantity, when it was laid (day
    number, days since 1970-01-01). With a laying period, ``laid_day`` is its latest day (the
    state is counted from it: conservative) and ``laid_earliest_day`` its first (shown in the
    assumptions only)."""

    lifecycle: Lifecycle
    quantity: Quantity
    laid_day: float
    record_id: str | None = None
    laid_earliest_day: float | None = None

    def describe_laid(self) -> str:
        b = iso_date(self.laid_day)
        e = self.laid_earliest_day
        if e is None or not math.isfinite(e) or iso_date(e) == b:
            return f"laid {b}"
        return f"laid between {iso_date(e)} and {b}; counted from {b}, the latest"
