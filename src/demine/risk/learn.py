"""Learning the failure rates of a device type from what clearance found.

Evidence comes from cleared land with an emplacement record. Each device whose fate clearance
observed (a find: live, deactivated but intact, self-destructed remnant, intact of unknown
state; or an accident, a device that functioned) is one trial of the mechanism that should have
acted by the day it was found. The likelihood factorises exactly:

* P(remnant) = 1 - p_sd, P(intact) = p_sd: p_sd from intact / all observed fates;
* given intact (both mechanisms), P(live) = q, P(deactivated) = 1 - q: q from live / intact,
  with p_res = p_sd * q (coherent by construction);
* self-deactivation only: P(live) = p_res, P(deactivated) = 1 - p_res.

Devices recorded but not found are not counted (conditional likelihood: unbiased when
clearance finds every fate alike, conservative when remnants are harder to find than intact
devices). Evidence long after the nominal time is weighed down; each field's weight is capped at
the prior's; and the spread of a new field's rate never becomes narrower than the prior's
(batch effects). The counting rules are :data:`COUNTING_ASSUMPTIONS`, stored with every update
and set out in docs/risk-model.md.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from demine.errors import Fault, ValidationError
from demine.model.devices import BetaPrior
from demine.risk.lifecycle import Lifecycle

__all__ = [
    "COUNTING_ASSUMPTIONS",
    "FIND_STATES",
    "HALF_LIFE_DAYS",
    "MIN_FIELDS_SPREAD",
    "PARAMETERS",
    "Evidence",
    "Pooled",
    "beta_update",
    "between_field_concentration",
    "evidence_from_clearance",
    "pool",
    "treaty_floor",
]

FIND_STATES = ("live", "self_destructed_remnant", "deactivated_intact", "unknown")
PARAMETERS = ("sd_fail", "residual", "deact_fail")
HALF_LIFE_DAYS = 365.0  # evidence weight halves for each year after the nominal time
MIN_FIELDS_SPREAD = 5  # fields needed before their disagreement can widen the spread

COUNTING_ASSUMPTIONS: list[str] = [
    "evidence comes only from cleared land: an emplacement record whose hazard is closed or "
    "handed over and whose place is covered by releases of type cleared, made by completed "
    "clearance activities (land cancelled by non-technical survey, reduced by technical survey "
    "or imported already closed teaches nothing); when that land is reopened or the release "
    "withdrawn, the evidence goes and the next 'risk learn' reverts the rate",
    "each device whose fate was observed is one trial, at the day it was found: finds (live, "
    "deactivated intact, self-destructed remnant, intact of unknown state) and accidents in "
    "the cleared hazard (a device that functioned: live); devices recorded but not found are "
    "NOT counted (they may never have been laid, may have been missed, or may have exploded) "
    "and the recorded number N is not used",
    "self-destruction (found on or after its nominal time): failed = live, deactivated intact, "
    "intact of unknown state (destroyed in place, state not recorded) or accident; worked = "
    "remnant",
    "self-deactivation (found on or after the battery life): with both mechanisms, q = P(fails "
    "| self-destruction failed) from the intact devices only: failed = live or accident, worked "
    "= deactivated intact, intact of unknown state dropped; p_res = p_sd x q; with "
    "self-deactivation only, p_res from live or accident against deactivated intact",
    "a device found before a mechanism's nominal time says nothing about it; each mechanism "
    "acts at the later of the type's nominal time and the record's; persistent types give no "
    "evidence",
    f"a trial counts less the longer after the nominal time it was found: weight 1/2 per "
    f"{HALF_LIFE_DAYS:g} days (a late find shows the state then, when fuzes and batteries "
    "have kept failing, not at the nominal time)",
    "each field (emplacement record) weighs at most as much as the prior, so one large field "
    "cannot outweigh the prior many times over; the spread of a new field's rate never "
    f"becomes narrower than the prior's, and from {MIN_FIELDS_SPREAD} fields on it widens when "
    "the fields disagree more than the prior allows (batch effects, method of moments)",
    "clearance is taken to find every fate alike (a live device as likely as a remnant): if "
    "remnants are harder to find the rates come out high (conservative); if live devices are "
    "harder to find than deactivated ones, q comes out low",
    "a type whose priors are treaty limits never gets a learned mean below the limit (for "
    "both mechanisms: p_sd below 10 %, or p_sd x q below 1 in 1,000) unless an analyst signed "
    "off going below, which is recorded with the update",
]

_FAILED_SD = ("live", "deactivated_intact", "unknown")


@dataclass(frozen=True)
class Evidence:
    """Trials and successes (failures of a mechanism) for one parameter of one device type,
    from one field. ``weighted_trials`` / ``weighted_successes`` are the counts weighed by how
    long after the nominal time each device was found (default: the raw counts)."""

    device_type: str
    parameter: str  # 'sd_fail' | 'residual' | 'deact_fail'
    trials: int
    successes: int
    t_days: float
    emplacement_id: str | None
    find_ids: tuple[str, ...]
    note: str
    weighted_trials: float | None = None
    weighted_successes: float | None = None

    def __post_init__(self) -> None:
        faults = []
        if self.parameter not in PARAMETERS:
            faults.append(Fault(f"must be one of {', '.join(PARAMETERS)}", field="parameter"))
        if not (0 <= self.successes <= self.trials):
            faults.append(Fault("need 0 <= successes <= trials", field="successes"))
        if faults:
            raise ValidationError("invalid evidence", faults)

    @property
    def n(self) -> float:
        return float(self.trials if self.weighted_trials is None else self.weighted_trials)

    @property
    def k(self) -> float:
        return float(self.successes if self.weighted_successes is None else self.weighted_successes)


def _weight(t: float, threshold: float, half_life: float) -> float:
    return float(0.5 ** (max(0.0, t - threshold) / half_life))


def evidence_from_clearance(
    lifecycle: Lifecycle,
    quantity_recorded: int,
    laid_day: float,
    finds: Sequence[tuple[str, str, float]],
    *,
    accidents: Sequence[tuple[str, float]] = (),
    emplacement_id: str | None = None,
    half_life_days: float = HALF_LIFE_DAYS,
) -> list[Evidence]:
    """What the finds (find id, state, found day) and accidents (accident id, day) of one
    cleared emplacement say about the failure rates of its device type (see
    :data:`COUNTING_ASSUMPTIONS`)."""
    faults = []
    if not (isinstance(quantity_recorded, int) and quantity_recorded >= 0):
        faults.append(Fault("must be an integer >= 0", field="quantity_recorded"))
    if not math.isfinite(laid_day):
        faults.append(Fault("must be a finite day number", field="laid_day"))
    if not (math.isfinite(half_life_days) and half_life_days > 0):
        faults.append(Fault("must be > 0 days", field="half_life_days"))
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
    for i, (_aid, day) in enumerate(accidents):
        if not math.isfinite(day):
            faults.append(Fault("accident day must be finite", index=i, field="occurred_at"))
    if faults:
        raise ValidationError("invalid clearance evidence", faults)
    if not (lifecycle.has_sd or lifecycle.has_sda):
        return []
    # every observed device: (id, state, days after laying); an accident is a live device
    devices = [(f, s, d - laid_day) for f, s, d in finds] + [
        (a, "live", d - laid_day) for a, d in accidents
    ]
    sd_thr, bat_thr = lifecycle.sd_threshold, lifecycle.battery_threshold
    where = f"emplacement {emplacement_id}" if emplacement_id else "a cleared emplacement"
    counts = dict.fromkeys(FIND_STATES, 0)
    for _, s, _ in finds:
        counts[s] += 1
    tally = (
        f"{len(finds)} finds ({counts['live']} live, {counts['deactivated_intact']} deactivated "
        f"intact, {counts['self_destructed_remnant']} self-destructed remnants, "
        f"{counts['unknown']} intact of unknown state) and {len(accidents)} accidents, of "
        f"N = {quantity_recorded} recorded"
    )
    out: list[Evidence] = []

    def add(
        parameter: str, trials: list[tuple[str, bool, float]], threshold: float, why: str
    ) -> None:
        if not trials:
            return
        ws = [_weight(t, threshold, half_life_days) for _, _, t in trials]
        k = sum(1 for _, failed, _ in trials if failed)
        wk = sum(w for w, (_, failed, _) in zip(ws, trials, strict=True) if failed)
        t_med = float(statistics.median(t for _, _, t in trials))
        out.append(
            Evidence(
                lifecycle.code,
                parameter,
                len(trials),
                k,
                t_med,
                emplacement_id,
                tuple(i for i, _, _ in trials),
                f"{where}: {tally}; {why}: {k} of {len(trials)} failed, median "
                f"{t_med:.0f} days after laying, weighed {sum(ws):.1f} trials",
                float(sum(ws)),
                float(wk),
            )
        )

    if lifecycle.has_sd:
        sd_trials = [(i, s in _FAILED_SD, t) for i, s, t in devices if t >= sd_thr]
        add("sd_fail", sd_trials, sd_thr, "self-destruction (failed: intact or accident)")
    if lifecycle.has_sda:
        late = [(i, s, t) for i, s, t in devices if t >= bat_thr]
        res = [(i, s == "live", t) for i, s, t in late if s in ("live", "deactivated_intact")]
        if lifecycle.coherent:
            add("deact_fail", res, bat_thr, "self-deactivation of intact devices (failed: live)")
        else:
            add("residual", res, bat_thr, "self-deactivation (failed: live)")
    return out


@dataclass(frozen=True)
class Pooled:
    """The learned distribution of one parameter: ``posterior`` is the one to use (a new
    field's rate), ``update`` the pooled conjugate update before the spread was set."""

    prior: BetaPrior
    posterior: BetaPrior
    update: BetaPrior
    successes: int
    trials: int
    fields: int
    capped_fields: tuple[str, ...]
    kappa_between: float | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def between_field_concentration(counts: Sequence[tuple[float, float]]) -> float | None:
    """The concentration kappa of a Beta spread of rates between fields, from each field's
    (trials, successes), by the method of moments of the beta-binomial (intra-class
    correlation rho = 1 / (kappa + 1)). None when there are fewer than 2 fields with trials,
    when every field has the same rate, or when the fields vary no more than binomial chance
    allows (no spread seen)."""
    cs = [(n, k) for n, k in counts if n > 0]
    j = len(cs)
    if j < 2:
        return None
    tn = sum(n for n, _ in cs)
    p = sum(k for _, k in cs) / tn
    if not 0 < p < 1:
        return None
    s = sum(n * (k / n - p) ** 2 for n, k in cs) / (j - 1)
    n0 = (tn - sum(n * n for n, _ in cs) / tn) / (j - 1)
    if n0 <= 1:
        return None
    rho = (s / (p * (1 - p)) - 1.0) / (n0 - 1.0)
    if rho <= 0:
        return None
    return max(1.0 / rho - 1.0, 1e-6) if rho < 1 else 1e-6


def pool(prior: BetaPrior, evidence: Sequence[Evidence], *, parameter: str | None = None) -> Pooled:
    """Pool the evidence of one parameter over fields (emplacement records):

    1. each field's weighed counts n are scaled to n s / (n + s), with s the spread between
       fields (the prior's concentration alpha + beta, or the fields' own when they disagree
       more): what one field of a beta-binomial says about the mean, never more than s;
    2. the conjugate update Beta(alpha + sum k, beta + sum (n - k)) gives the centre;
    3. the spread: the concentration stays at most the prior's (clearance of a few fields
       cannot measure how lots differ), and from :data:`MIN_FIELDS_SPREAD` fields on at most
       the between-field concentration the fields show (:func:`between_field_concentration`).
    """
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
    c0 = prior.alpha + prior.beta
    fields: dict[str, list[float]] = {}
    for i, e in enumerate(evs):
        key = e.emplacement_id or f"#{i}"
        f = fields.setdefault(key, [0.0, 0.0, 0.0, 0.0])
        f[0] += e.n
        f[1] += e.k
        f[2] += e.trials
        f[3] += e.successes
    kappa = (
        between_field_concentration([(f[2], f[3]) for f in fields.values()])
        if len(fields) >= MIN_FIELDS_SPREAD
        else None
    )
    spread = c0 if kappa is None else min(kappa, c0)
    a, b = prior.alpha, prior.beta
    capped: list[str] = []
    for key, (n, k, _, _) in fields.items():
        # what a field says of the mean when fields differ as Beta(concentration ``spread``):
        # n_eff = n spread / (n + spread), never more than the spread
        s = spread / (n + spread) if n > 0 else 1.0
        if n * s < n - 1e-9 and n > spread / 10:
            capped.append(key)
        a += s * k
        b += s * (n - k)
    update = BetaPrior(a, b)
    c = min(a + b, c0, kappa if kappa is not None else math.inf)
    m = update.mean
    posterior = BetaPrior(m * c, (1.0 - m) * c) if c < a + b else update
    notes = []
    if capped:
        notes.append(
            f"{len(capped)} field(s) weighed down as one field among others (a field of n "
            f"trials counts n x {spread:.4g} / (n + {spread:.4g})): "
            + ", ".join(capped[:5])
            + (" ..." if len(capped) > 5 else "")
        )
    if kappa is not None and kappa < c0:
        notes.append(
            f"the {len(fields)} fields disagree more than the prior allows: spread widened to "
            f"concentration {kappa:.4g} (prior {c0:g})"
        )
    return Pooled(
        prior,
        posterior,
        update,
        sum(int(f[3]) for f in fields.values()),
        sum(int(f[2]) for f in fields.values()),
        len(fields),
        tuple(capped),
        kappa,
        tuple(notes),
    )


def beta_update(
    prior: BetaPrior,
    evidence: Sequence[Evidence],
    *,
    parameter: str | None = None,
) -> BetaPrior:
    """The learned distribution of one parameter (:func:`pool`'s posterior). With
    ``parameter`` only the evidence about it is used; without, all the evidence must be about
    one parameter (ValidationError otherwise)."""
    return pool(prior, evidence, parameter=parameter).posterior


def treaty_floor(prior: BetaPrior, posterior: BetaPrior, treaty: bool) -> tuple[BetaPrior, bool]:
    """The posterior to use, and whether it was floored: for a type whose prior is a treaty
    limit (``treaty``), a posterior whose mean is below the prior mean is moved up to the
    prior's mean, keeping its concentration. Field data may show a type worse than the treaty
    allows, never better without an analyst's sign-off (which the caller checks)."""
    if treaty and posterior.mean < prior.mean:
        return floor_mean(posterior, prior.mean), True
    return posterior, False


def floor_mean(dist: BetaPrior, mean: float) -> BetaPrior:
    """``dist`` moved to ``mean`` with its concentration kept."""
    c = dist.alpha + dist.beta
    return BetaPrior(mean * c, (1.0 - mean) * c)
