"""Learning the failure rates of a device type from what clearance found.

Evidence comes from a cleared area whose emplacement record gives the number of devices laid.
Each device is counted as one Bernoulli trial of the mechanism that should have acted by the time
the finds were made, and the Beta prior is updated by conjugacy. The counting rules are
:data:`COUNTING_ASSUMPTIONS`, stored with every update and set out in docs/risk-model.md.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from demine.errors import Fault, ValidationError
from demine.model.devices import BetaPrior
from demine.risk.lifecycle import Lifecycle

__all__ = [
    "COUNTING_ASSUMPTIONS",
    "FIND_STATES",
    "PARAMETERS",
    "Evidence",
    "beta_update",
    "evidence_from_clearance",
]

FIND_STATES = ("live", "self_destructed_remnant", "deactivated_intact", "unknown")
PARAMETERS = ("sd_fail", "residual")

COUNTING_ASSUMPTIONS: list[str] = [
    "evidence comes only from cleared areas whose emplacement record gives the number laid N",
    "trials n = max(N, number of finds): a record that under-counts is corrected by the finds; "
    "devices recorded but not found are counted as having worked (destroyed or inert)",
    "t = median found day - laid day: the time at which the finds show the mechanisms' work",
    "t >= battery life (types with self-deactivation): residual evidence, successes = finds "
    "still live; and sd_fail evidence, successes = live + deactivated but intact",
    "sd_days <= t < battery life, or any t >= sd_days for a type with self-destruction only: "
    "sd_fail evidence only, successes = live + deactivated but intact",
    "t < sd_days (and t < battery life for self-deactivation only): no evidence, the mechanisms "
    "had not yet acted; persistent types give no evidence",
    "finds of unknown state are never successes; they count toward n only through "
    "max(N, number of finds)",
    "every device is an independent trial of the same failure rate (no batch effects), and "
    "clearance found every live device in the area",
]


@dataclass(frozen=True)
class Evidence:
    """Trials and successes (failures of a mechanism) for one parameter of one device type."""

    device_type: str
    parameter: str  # 'sd_fail' | 'residual'
    trials: int
    successes: int
    t_days: float
    emplacement_id: str | None
    find_ids: tuple[str, ...]
    note: str

    def __post_init__(self) -> None:
        faults = []
        if self.parameter not in PARAMETERS:
            faults.append(Fault(f"must be one of {', '.join(PARAMETERS)}", field="parameter"))
        if not (0 <= self.successes <= self.trials):
            faults.append(Fault("need 0 <= successes <= trials", field="successes"))
        if faults:
            raise ValidationError("invalid evidence", faults)


def evidence_from_clearance(
    lifecycle: Lifecycle,
    quantity_recorded: int,
    laid_day: float,
    finds: Sequence[tuple[str, str, float]],
    *,
    emplacement_id: str | None = None,
) -> list[Evidence]:
    """What the finds (find id, state, found day) of one cleared emplacement say about the
    failure rates of its device type (see :data:`COUNTING_ASSUMPTIONS`)."""
    faults = []
    if not (isinstance(quantity_recorded, int) and quantity_recorded >= 0):
        faults.append(Fault("must be an integer >= 0", field="quantity_recorded"))
    if not math.isfinite(laid_day):
        faults.append(Fault("must be a finite day number", field="laid_day"))
    for i, (_fid, state, day) in enumerate(finds):
        if state not in FIND_STATES:
            faults.append(
                Fault(
                    f"state {state!r} is not one of {', '.join(FIND_STATES)}",
                    index=i,
                    field="state",
                )
            )
        if not math.isfinite(day):
            faults.append(Fault("found day must be finite", index=i, field="found_day"))
    if faults:
        raise ValidationError("invalid clearance evidence", faults)
    if not finds or not (lifecycle.has_sd or lifecycle.has_sda):
        return []
    t = float(statistics.median(d for _, _, d in finds)) - laid_day
    n = max(quantity_recorded, len(finds))
    counts = dict.fromkeys(FIND_STATES, 0)
    for _, state, _ in finds:
        counts[state] += 1
    live, intact = counts["live"], counts["deactivated_intact"]
    ids = tuple(f for f, _, _ in finds)
    where = f"emplacement {emplacement_id}" if emplacement_id else "a cleared emplacement"
    tally = (
        f"{len(finds)} finds ({live} live, {intact} deactivated intact, "
        f"{counts['self_destructed_remnant']} self-destructed remnants, "
        f"{counts['unknown']} unknown) of N = {quantity_recorded} recorded, n = {n}, "
        f"{t:.0f} days after laying"
    )

    def ev(parameter: str, successes: int, why: str) -> Evidence:
        return Evidence(
            lifecycle.code,
            parameter,
            n,
            successes,
            t,
            emplacement_id,
            ids,
            f"{where}: {tally}; {why}",
        )

    out: list[Evidence] = []
    if lifecycle.has_sda and t >= lifecycle.battery_threshold:
        out.append(ev("residual", live, f"{live} still live after the battery life"))
        if lifecycle.has_sd:
            out.append(
                ev(
                    "sd_fail",
                    live + intact,
                    f"{live + intact} failed to self-destruct (live + deactivated intact)",
                )
            )
    elif lifecycle.has_sd and t >= lifecycle.sd_threshold:
        out.append(
            ev(
                "sd_fail",
                live + intact,
                f"{live + intact} failed to self-destruct (live + deactivated intact)",
            )
        )
    return out


def beta_update(
    prior: BetaPrior,
    evidence: Sequence[Evidence],
    *,
    parameter: str | None = None,
) -> BetaPrior:
    """The conjugate update: Beta(alpha + sum successes, beta + sum (trials - successes)).

    With ``parameter`` only the evidence about it is used; without, all the evidence must be
    about one parameter (ValidationError otherwise)."""
    evs = [e for e in evidence if parameter is None or e.parameter == parameter]
    params = {e.parameter for e in evs}
    if len(params) > 1:
        raise ValidationError(
            "evidence about several parameters",
            [
                Fault(
                    f"evidence mixes {', '.join(sorted(params))}: pass parameter= or split it",
                    field="evidence",
                )
            ],
        )
    k = sum(e.successes for e in evs)
    n = sum(e.trials for e in evs)
    return BetaPrior(prior.alpha + k, prior.beta + (n - k))
