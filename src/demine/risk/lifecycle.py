"""The lifecycle of one device type: when its self-destruction (SD) and self-deactivation (SDA)
mechanisms act, and how likely each is to fail.

Time ``t`` is in days since laying. A device is counted live with probability

* persistent: 1;
* self-destruct only: 1 for t < sd_days, p_sd from sd_days on;
* self-deactivate only: 1 for t < battery_days, p_res from battery_days on;
* both: 1 for t < sd_days, p_sd for sd_days <= t < battery_days, p_res from battery_days on;
* 0 before laying (t < 0).

``p_sd`` is the probability that a device failed to self-destruct, ``p_res`` the overall
probability that it still functions after its battery life (not conditional on the SD failure).
For a type with both mechanisms ``p_res = p_sd * q``, with ``q`` the probability that
self-deactivation fails given that self-destruction failed (``deact_fail``): the rates are
coherent by construction (p_res <= p_sd in every draw), and the likelihood of clearance finds
factorises exactly (p_sd from intact / all fates, q from live / intact).
Mechanisms that work are taken to act at their nominal time (step functions): every device is
counted live until then, which is conservative. See docs/risk-model.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from demine.errors import Fault, ValidationError
from demine.model.devices import BetaPrior, DeviceType, Persistence

__all__ = [
    "AFTER_BATTERY",
    "AFTER_SD",
    "BEFORE_LAYING",
    "LIVE",
    "TREATY_BATTERY_DAYS",
    "TREATY_SD_DAYS",
    "Lifecycle",
    "conditional_prior",
]

# CCW Amended Protocol II, Technical Annex 3(a): the times at which the treaty limits hold
TREATY_SD_DAYS = 30.0
TREATY_BATTERY_DAYS = 120.0

# States returned by Lifecycle.state
BEFORE_LAYING = -1
LIVE = 0  # no mechanism has acted yet (or none exists): P(live) = 1
AFTER_SD = 1  # after the nominal self-destruct time: P(live) = p_sd
AFTER_BATTERY = 2  # after the nominal battery life: P(live) = p_res

_HAS_SD = (Persistence.SELF_DESTRUCT, Persistence.BOTH)
_HAS_SDA = (Persistence.SELF_DEACTIVATE, Persistence.BOTH)


def _persistence(sd: bool, sda: bool) -> Persistence:
    if sd and sda:
        return Persistence.BOTH
    if sd:
        return Persistence.SELF_DESTRUCT
    if sda:
        return Persistence.SELF_DEACTIVATE
    return Persistence.PERSISTENT


def _positive(v: float | None) -> float | None:
    if v is None:
        return None
    x = float(v)
    return x if math.isfinite(x) and x > 0 else None


def _check_prior(name: str, p: BetaPrior | None, faults: list[Fault]) -> None:
    if p is None:
        return
    for part, v in (("alpha", p.alpha), ("beta", p.beta)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            faults.append(
                Fault(f"must be a positive finite number, not {v!r}", field=f"{name}.{part}")
            )


_MAX_CONCENTRATION = 1e7


def _treaty_time(
    code: str, what: str, days: float | None, treaty: float, notes: list[str]
) -> float | None:
    """A treaty-limit type's time for one mechanism: never sooner than the treaty's, with a
    warning in ``notes`` when the type's own differs."""
    if days is None or days == treaty:
        return days
    notes.append(
        f"{code}: warning: treaty-limit rates hold at {treaty:g} days but the type says "
        f"{what.format(d=days)}: counted from day {max(days, treaty):g}, the later"
    )
    return max(days, treaty)


def conditional_prior(sd_fail: BetaPrior, residual: BetaPrior) -> BetaPrior:
    """The Beta prior of q = P(self-deactivation fails | self-destruction failed) such that
    p_res = p_sd * q (p_sd ~ ``sd_fail``, q independent of it) has the mean and the variance of
    ``residual`` (moment matching). When ``residual``'s mean is not below ``sd_fail``'s (an
    incoherent pair), q's mean is taken as 0.999; when its variance is smaller than p_sd's
    uncertainty alone implies, q is taken as nearly fixed (concentration 10^7)."""
    mx, my_res = sd_fail.mean, residual.mean
    ax, bx = sd_fail.alpha, sd_fail.beta
    ex2 = mx * mx + ax * bx / ((ax + bx) ** 2 * (ax + bx + 1.0))
    ar, br = residual.alpha, residual.beta
    v_res = ar * br / ((ar + br) ** 2 * (ar + br + 1.0))
    mq = min(my_res / mx, 0.999)
    eq2 = (v_res + my_res * my_res) / ex2
    vq = eq2 - mq * mq
    if vq <= 0:
        c = _MAX_CONCENTRATION
    else:
        c = min(max(mq * (1.0 - mq) / vq - 1.0, 2.0), _MAX_CONCENTRATION)
    return BetaPrior(mq * c, (1.0 - mq) * c)


@dataclass(frozen=True)
class Lifecycle:
    """What the residual-risk model needs of one device type.

    ``sd_fail`` and ``residual`` are Beta priors (or learned posteriors) of ``p_sd`` and
    ``p_res``. For a type with both mechanisms ``deact_fail`` is the Beta prior of q (p_res =
    p_sd * q): derived from ``sd_fail`` and ``residual`` by :func:`conditional_prior` when not
    given, and ``residual`` is then only the catalogue's prior of p_res it came from.
    ``learned`` names the parameters that are posteriors learned from clearance;
    ``notes`` holds anything the model had to assume about this type (such as a mechanism not
    credited for want of a prior).
    """

    code: str
    persistence: Persistence
    sd_days: float | None
    battery_days: float | None
    sd_fail: BetaPrior | None
    residual: BetaPrior | None
    source: str
    learned: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    deact_fail: BetaPrior | None = None

    def __post_init__(self) -> None:
        faults: list[Fault] = []
        p = self.persistence
        if p is not Persistence.BOTH and self.deact_fail is not None:
            object.__setattr__(self, "deact_fail", None)
        if p in _HAS_SD:
            if self.sd_days is None or not (math.isfinite(self.sd_days) and self.sd_days > 0):
                faults.append(
                    Fault(
                        f"a self-destructing type needs sd_days > 0, not {self.sd_days!r} "
                        "(at 0 every device would be counted at p_sd from the day it is laid)",
                        field="sd_days",
                    )
                )
            if self.sd_fail is None:
                faults.append(
                    Fault("a self-destructing type needs a sd_fail prior", field="sd_fail")
                )
        if p in _HAS_SDA:
            if self.battery_days is None or not (
                math.isfinite(self.battery_days) and self.battery_days > 0
            ):
                faults.append(
                    Fault(
                        f"a self-deactivating type needs battery_days > 0, not "
                        f"{self.battery_days!r}",
                        field="battery_days",
                    )
                )
            if self.residual is None and (p is not Persistence.BOTH or self.deact_fail is None):
                faults.append(
                    Fault("a self-deactivating type needs a residual prior", field="residual")
                )
        if (
            p is Persistence.BOTH
            and self.sd_days is not None
            and self.battery_days is not None
            and self.battery_days < self.sd_days
        ):
            faults.append(
                Fault("battery_days must not be shorter than sd_days", field="battery_days")
            )
        _check_prior("sd_fail", self.sd_fail, faults)
        _check_prior("residual", self.residual, faults)
        _check_prior("deact_fail", self.deact_fail, faults)
        if faults:
            raise ValidationError(f"device type {self.code!r}: incomplete lifecycle", faults)
        if p is Persistence.BOTH and self.deact_fail is None:
            assert self.sd_fail is not None and self.residual is not None
            object.__setattr__(self, "deact_fail", conditional_prior(self.sd_fail, self.residual))

    @classmethod
    def from_device_type(
        cls,
        dt: DeviceType,
        *,
        sd_fail: BetaPrior | None = None,
        residual: BetaPrior | None = None,
        deact_fail: BetaPrior | None = None,
    ) -> Lifecycle:
        """The lifecycle of a device type; ``sd_fail`` / ``residual`` / ``deact_fail`` override
        its priors (learned posteriors).

        A mechanism whose nominal time or failure prior is missing is not credited: the device
        is counted live as if it had no such mechanism (conservative), and a note says so. A
        type whose priors are treaty limits has its mechanisms act no sooner than the treaty's
        times (30 and 120 days), at which alone the limits hold, with a warning when its own
        times differ.
        """
        sdf = sd_fail if sd_fail is not None else dt.sd_fail
        res = residual if residual is not None else dt.residual
        notes: list[str] = []
        sd = dt.persistence in _HAS_SD
        sda = dt.persistence in _HAS_SDA
        if sd and (_positive(dt.sd_days) is None or sdf is None):
            sd = False
            notes.append(
                f"{dt.code}: self-destruction not credited (no nominal time > 0 or no "
                "failure-rate prior): counted live as if persistent"
            )
        if sda and (_positive(dt.battery_days) is None or (res is None and deact_fail is None)):
            sda = False
            notes.append(
                f"{dt.code}: self-deactivation not credited (no battery life > 0 or no "
                "residual prior): counted as if it had none"
            )
        sd_days = float(dt.sd_days) if sd and dt.sd_days is not None else None
        battery_days = float(dt.battery_days) if sda and dt.battery_days is not None else None
        if "treaty limits" in dt.prior_source.lower():
            sd_days, battery_days = (
                _treaty_time(dt.code, what, days, treaty, notes)
                for what, days, treaty in (
                    ("self-destruct at day {d:g}", sd_days, TREATY_SD_DAYS),
                    ("a battery life of {d:g} days", battery_days, TREATY_BATTERY_DAYS),
                )
            )
        both = sd and sda
        given = {"sd_fail": sd_fail, "residual": residual, "deact_fail": deact_fail}
        learned = tuple(
            n
            for n in ("sd_fail", "residual", "deact_fail")
            if given[n] is not None
            and (
                (n == "sd_fail" and sd) or (n == "residual" and sda) or (n == "deact_fail" and both)
            )
        )
        return cls(
            code=dt.code,
            persistence=_persistence(sd, sda),
            sd_days=sd_days,
            battery_days=battery_days,
            sd_fail=sdf if sd else None,
            residual=res if sda else None,
            source=dt.prior_source,
            learned=learned,
            notes=tuple(notes),
            deact_fail=deact_fail if both else None,
        )

    def for_record(
        self, self_destruct_days: float | None = None, fuse_life_days: float | None = None
    ) -> Lifecycle:
        """This lifecycle with an emplacement record's own times: each mechanism acts at the
        later of the type's nominal time and the record's (``self_destruct_days``,
        ``fuse_life_days``), so a record never makes a device count as safe sooner than its
        type. Times a record gives for a mechanism the type does not credit are ignored; the
        battery life is never shorter than the self-destruct time."""
        sd, bat = self.sd_days, self.battery_days
        changed: list[str] = []
        rsd = _positive(self_destruct_days)
        rbat = _positive(fuse_life_days)
        if self.has_sd and sd is not None and rsd is not None and rsd > sd:
            sd = rsd
            changed.append(f"self-destruct at day {sd:g} (the record's)")
        if self.has_sda and bat is not None and rbat is not None and rbat > bat:
            bat = rbat
            changed.append(f"battery life {bat:g} days (the record's fuse life)")
        if self.has_sda and bat is not None and sd is not None and bat < sd:
            bat = sd
            changed.append(f"battery life {bat:g} days (not shorter than the self-destruct time)")
        if not changed:
            return self
        return replace(
            self,
            sd_days=sd,
            battery_days=bat,
            notes=(*self.notes, f"{self.code}: a record gives later times: " + "; ".join(changed)),
        )

    # --- properties ----------------------------------------------------------------------

    @property
    def has_sd(self) -> bool:
        return self.persistence in _HAS_SD

    @property
    def has_sda(self) -> bool:
        return self.persistence in _HAS_SDA

    @property
    def treaty_limits(self) -> bool:
        """True when the priors come from treaty limits (the prior source says so)."""
        return "treaty limits" in self.source.lower()

    @property
    def sd_threshold(self) -> float:
        """The day from which p_sd applies (inf when there is no self-destruction)."""
        return self.sd_days if self.has_sd and self.sd_days is not None else math.inf

    @property
    def battery_threshold(self) -> float:
        """The day from which p_res applies (inf when there is no self-deactivation)."""
        if self.has_sda and self.battery_days is not None:
            return self.battery_days
        return math.inf

    @property
    def p_sd_mean(self) -> float:
        return self.sd_fail.mean if self.sd_fail is not None else 1.0

    @property
    def p_res_mean(self) -> float:
        if self.persistence is Persistence.BOTH and self.deact_fail is not None:
            return self.p_sd_mean * self.deact_fail.mean
        return self.residual.mean if self.residual is not None else 1.0

    @property
    def coherent(self) -> bool:
        """p_res = p_sd * q (both mechanisms): p_res <= p_sd in every draw."""
        return self.persistence is Persistence.BOTH and self.deact_fail is not None

    def prior(self, state: int) -> BetaPrior | None:
        """The Beta distribution of P(live) in a state (None: fixed at 0 or 1, or after the
        battery life of a type with both mechanisms, where P(live) = p_sd * q is a product of
        two Betas)."""
        if state == AFTER_SD:
            return self.sd_fail
        if state == AFTER_BATTERY:
            return None if self.coherent else self.residual
        return None

    # --- the model -----------------------------------------------------------------------

    def state(self, t: ArrayLike) -> NDArray[np.int8]:
        """-1 before laying (t < 0); 0 while no mechanism has acted (always, for persistent
        types); 1 after the nominal self-destruct time; 2 after the nominal battery life."""
        ta = np.asarray(t, dtype=np.float64)
        s = np.zeros(ta.shape, dtype=np.int8)
        s[ta >= self.sd_threshold] = AFTER_SD
        s[ta >= self.battery_threshold] = AFTER_BATTERY
        s[ta < 0] = BEFORE_LAYING
        s[np.isnan(ta)] = BEFORE_LAYING
        return s

    def p_live(
        self,
        t: ArrayLike,
        p_sd: float | NDArray[np.float64] | None = None,
        p_res: float | NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """P(live) of one device at days ``t`` after laying, given the failure rates (default:
        the prior means). ``t`` and the rates broadcast, e.g. ``p_live(t[None, :],
        p_sd[:, None])`` gives draws × dates."""
        s = self.state(t)
        psd: Any = self.p_sd_mean if p_sd is None else np.asarray(p_sd, dtype=np.float64)
        pres: Any = self.p_res_mean if p_res is None else np.asarray(p_res, dtype=np.float64)
        out = np.where(s == LIVE, 1.0, 0.0)
        out = np.where(s == AFTER_SD, psd, out)
        out = np.where(s == AFTER_BATTERY, pres, out)
        return np.asarray(out, dtype=np.float64)

    def describe(self) -> str:
        """One line for an assumptions list."""
        parts = [f"{self.code}: {self.persistence.value}"]
        if self.has_sd and self.sd_fail is not None:
            parts.append(
                f"self-destruct at day {self.sd_days:g}, P(fails) ~ "
                f"Beta({self.sd_fail.alpha:g}, {self.sd_fail.beta:g}), mean "
                f"{self.sd_fail.mean:.4g}"
                + (" (learned from clearance)" if "sd_fail" in self.learned else "")
            )
        if self.coherent and self.deact_fail is not None:
            q = self.deact_fail
            parts.append(
                f"battery life {self.battery_days:g} days, P(still functions after) = p_sd x q, "
                f"q = P(self-deactivation fails | self-destruction failed) ~ "
                f"Beta({q.alpha:g}, {q.beta:g}), mean {q.mean:.4g}"
                + (" (learned from clearance)" if "deact_fail" in self.learned else "")
                + f"; mean P(still functions after) {self.p_res_mean:.4g}"
            )
        elif self.has_sda and self.residual is not None:
            parts.append(
                f"battery life {self.battery_days:g} days, P(still functions after) ~ "
                f"Beta({self.residual.alpha:g}, {self.residual.beta:g}), mean "
                f"{self.residual.mean:.4g}"
                + (" (learned from clearance)" if "residual" in self.learned else "")
            )
        return "; ".join(parts)

    def describe_mechanisms(self) -> str:
        """One line for people who may not see failure rates: the type, its persistence and the
        nominal times of its mechanisms (catalogue data), without any rate or prior."""
        parts = [f"{self.code}: {self.persistence.value}"]
        if self.has_sd:
            parts.append(f"self-destruct at day {self.sd_days:g}")
        if self.has_sda:
            parts.append(f"battery life {self.battery_days:g} days")
        return "; ".join(parts)
