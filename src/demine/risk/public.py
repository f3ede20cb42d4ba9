"""What of an estimate may be shown to people who may not read emplacement records.

An emplacement's quantity is analyst-only. A point estimate of the chance that at least one
device is live, p = 1 − (1 − rate)^N, gives the quantity back: N = ln(1 − p) / ln(1 − rate),
with the rate the device type's (public) catalogue mean. So roles below analyst get:

* the chance as a **band** (:data:`P_BANDS`), never a number;
* computed with each record's quantity replaced by the top of its step on a coarse 1-2-5 scale
  from 5 (:func:`coarse_quantity`: 1–5 → 5, 6–10 → 10, 11–20 → 20, 21–50 → 50, ...), the
  record's maximum if it has one: conservative (never fewer devices than recorded), and every
  figure the public sees is the same for every quantity of a step, so no answer — at any date,
  from any face — can tell quantities of one step apart (each step spans a factor of 1.6 or more:
  no quantity is known within ±10 %);
* no failure rate, prior or learned posterior, and no expected number of live devices.

See docs/risk-model.md ("What the public sees").
"""

from __future__ import annotations

import math

# (low, high, label): low <= p < high; the last band includes 1
P_BANDS: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.01, "0–1 %"),
    (0.01, 0.10, "1–10 %"),
    (0.10, 0.50, "10–50 %"),
    (0.50, 0.90, "50–90 %"),
    (0.90, 1.0, "90–100 %"),
)
FIRST_STEP = 5  # the smallest non-zero coarse quantity
_MANTISSAS = (1, 2, 5)


def coarse_quantity(n: float) -> int:
    """The top of ``n``'s step on the scale 0, 5, 10, 20, 50, 100, 200, 500, ...: 0 stays 0,
    anything else goes up to the first step at or above it."""
    if not math.isfinite(n) or n < 0:
        raise ValueError(f"a quantity must be a finite number >= 0, not {n!r}")
    if n == 0:
        return 0
    if n <= FIRST_STEP:
        return FIRST_STEP
    scale = 10
    while True:
        for m in _MANTISSAS:
            step = m * scale
            if n <= step:
                return step
        scale *= 10


def coarse_steps(upto: int) -> list[int]:
    """The steps of the scale up to ``upto`` (for tests and docs)."""
    out = [0, FIRST_STEP]
    while out[-1] < upto:
        out.append(coarse_quantity(out[-1] + 1))
    return out


def p_band(p: float) -> dict[str, float | str]:
    """The band of a probability: ``{"band": label, "low": a, "high": b}``."""
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise ValueError(f"a probability must be in [0, 1], not {p!r}")
    for low, high, label in P_BANDS:
        if p < high or high == 1.0:
            return {"band": label, "low": low, "high": high}
    raise AssertionError("unreachable")  # pragma: no cover
