"""Learning the failure rates of a device type from what clearance found.

Evidence comes from cleared land with an emplacement record. Each find whose fate was observed
(live, deactivated but intact, self-destructed remnant) is counted as one Bernoulli trial of the
mechanism that should have acted by the time the finds were made, and the Beta prior is updated
by conjugacy; devices recorded but not found and finds of unknown state are not counted. The
counting rules are :data:`COUNTING_ASSUMPTIONS`, stored with every update and set out in
docs/risk-model.md.
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
    "treaty_floor",
]

FIND_STATES = ("live", "self_destructed_remnant", "deactivated_intact", "unknown")
PARAMETERS = ("sd_fail", "residual")

COUNTING_ASSUMPTIONS: list[str] = [
    "evidence comes only from cleared land: an emplacement record whose hazard is closed or "
    "handed over and whose place is covered by releases of type cleared, made by completed "
    "clearance activities (land cancelled by non-technical survey, reduced by technical survey "
    "or imported already closed teaches nothing); when that land is reopened or the release "
    "withdrawn, the evidence goes and the next 'risk learn' reverts the rate",
    "trials n = the finds whose fate was observed (live, deactivated but intact, "
    "self-destructed remnant): devices recorded but not found are NOT counted (they may never "
    "have been laid, may have been missed, or may have exploded); the recorded number N is "
    "not used",
    "finds of unknown state are dropped: neither trials nor successes",
    "t = median found day - laid day: the time at which the finds show the mechanisms' work; "
    "each mechanism acts at the later of the type's nominal time and the record's",
    "t >= battery life (types with self-deactivation): residual evidence, successes = finds "
    "still live; and sd_fail evidence, successes = live + deactivated but intact",
    "sd_days <= t < battery life, or any t >= sd_days for a type with self-destruction only: "
    "sd_fail evidence only, successes = live + deactivated but intact",
    "t < sd_days (and t < battery life for self-deactivation only): no evidence, the mechanisms "
    "had not yet acted; persistent types give no evidence",
    "every device is an independent trial of the same failure rate (no batch effects), and "
    "clearance sees every fate alike (a live device is as likely to be found as a remnant)",
    "a type whose priors are treaty limits never gets a learned mean below the limit: when the "
    "update would go below, the prior is kept (an analyst sign-off to go below is not "
    "implemented yet)",
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
    counts = dict.fromkeys(FIND_STATES, 0)
    for _, state, _ in finds:
        counts[state] += 1
    live, intact = counts["live"], counts["deactivated_intact"]
    remnants = counts["self_destructed_remnant"]
    n = live + intact + remnants  # observed fates only
    if n == 0:
        return []
    ids = tuple(f for f, state, _ in finds if state != "unknown")
    where = f"emplacement {emplacement_id}" if emplacement_id else "a cleared emplacement"
    tally = (
        f"{len(finds)} finds ({live} live, {intact} deactivated intact, "
        f"{remnants} self-destructed remnants, {counts['unknown']} unknown, dropped) of "
        f"N = {quantity_recorded} recorded; n = {n} observed fates, {t:.0f} days after laying"
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


def treaty_floor(prior: BetaPrior, posterior: BetaPrior, treaty: bool) -> tuple[BetaPrior, bool]:
    """The posterior to use, and whether it was floored: for a type whose prior is a treaty
    limit (``treaty``), a posterior whose mean is below the prior mean is replaced by the prior
    (the limit and its uncertainty). Field data may show a type worse than the treaty allows,
    never better without an analyst's sign-off (not implemented yet: see docs/risk-model.md)."""
    if treaty and posterior.mean < prior.mean:
        return prior, True
    return posterior, False
