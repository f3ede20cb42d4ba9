"""Device types: generic classes of explosive ordnance with what risk estimation needs.

Deliberately generic. A device type holds its category, its persistence class and the
failure-rate priors that the residual-risk model uses, each with the source it comes from.
It holds no design, arming or employment detail: nothing beyond what risk estimation needs.

Failure probabilities are Beta(alpha, beta) priors:

* ``sd_fail``: the probability that a device fails to self-destruct within ``sd_days``.
* ``residual``: the probability that a device still functions after ``battery_days`` (it failed
  both to self-destruct and to self-deactivate). For a device with no self-deactivation this is
  None: one that fails to self-destruct stays live.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CATEGORIES = (
    "ap_blast",
    "ap_fragmentation",
    "at",
    "uxo",
    "cluster_submunition",
    "ied",
    "other",
    "unknown",  # legacy records that do not say; IMAS 10.60 accident data allows it
)


class Persistence(StrEnum):
    PERSISTENT = "persistent"
    SELF_DESTRUCT = "self_destruct"
    SELF_DEACTIVATE = "self_deactivate"
    BOTH = "self_destruct_and_deactivate"


TREATY_SOURCE = (
    "CCW Amended Protocol II (1996), Technical Annex, para. 3(a): no more than 10% of activated "
    "mines fail to self-destruct within 30 days of emplacement, and with self-deactivation no "
    "more than 1 in 1,000 function as a mine 120 days after emplacement. Treaty limits, not "
    "field data."
)
PERSISTENT_SOURCE = "Persistent by design: no self-destruct or self-deactivation mechanism."


@dataclass(frozen=True, slots=True)
class BetaPrior:
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def to_dict(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta, "mean": self.mean}


@dataclass(frozen=True, slots=True)
class DeviceType:
    code: str
    name: str
    category: str
    persistence: Persistence
    sd_days: float | None = None  # nominal self-destruct period, days after laying
    battery_days: float | None = None  # nominal self-deactivation (battery) life, days
    sd_fail: BetaPrior | None = None
    residual: BetaPrior | None = None
    prior_source: str = ""
    notes: str = ""

    def to_properties(self) -> dict[str, Any]:
        """As the flat properties of a ``device_types`` record."""
        return {
            "code": self.code,
            "name": self.name,
            "category": self.category,
            "persistence": self.persistence.value,
            "sd_days": self.sd_days,
            "battery_days": self.battery_days,
            "sd_fail_alpha": self.sd_fail.alpha if self.sd_fail else None,
            "sd_fail_beta": self.sd_fail.beta if self.sd_fail else None,
            "residual_alpha": self.residual.alpha if self.residual else None,
            "residual_beta": self.residual.beta if self.residual else None,
            "prior_source": self.prior_source,
            "notes": self.notes or None,
        }

    @classmethod
    def from_properties(cls, p: dict[str, Any]) -> DeviceType:
        def prior(a: str, b: str) -> BetaPrior | None:
            if p.get(a) is None or p.get(b) is None:
                return None
            return BetaPrior(float(p[a]), float(p[b]))

        return cls(
            code=p["code"],
            name=p.get("name") or p["code"],
            category=p["category"],
            persistence=Persistence(p["persistence"]),
            sd_days=p.get("sd_days"),
            battery_days=p.get("battery_days"),
            sd_fail=prior("sd_fail_alpha", "sd_fail_beta"),
            residual=prior("residual_alpha", "residual_beta"),
            prior_source=p.get("prior_source") or "",
            notes=p.get("notes") or "",
        )


CATALOGUE: tuple[DeviceType, ...] = (
    DeviceType(
        code="apii-limit",
        name="Remotely delivered AP mine at the Amended Protocol II limits",
        category="ap_fragmentation",
        persistence=Persistence.BOTH,
        sd_days=30.0,
        battery_days=120.0,
        # mean 0.10: at most 10% fail to self-destruct within 30 days
        sd_fail=BetaPrior(10.0, 90.0),
        # mean 0.001: at most 1 in 1,000 still functions 120 days after laying
        residual=BetaPrior(1.0, 999.0),
        prior_source=TREATY_SOURCE,
        notes="A reference type: a non-persistent AP mine exactly at the treaty limits.",
    ),
    DeviceType(
        code="ap-sd-only",
        name="AP mine with self-destruction but no self-deactivation, at the treaty limit",
        category="ap_blast",
        persistence=Persistence.SELF_DESTRUCT,
        sd_days=30.0,
        sd_fail=BetaPrior(10.0, 90.0),
        prior_source=TREATY_SOURCE
        + " With no self-deactivation, a device that fails to self-destruct stays live.",
    ),
    DeviceType(
        code="ap-blast-persistent",
        name="Persistent AP blast mine (generic)",
        category="ap_blast",
        persistence=Persistence.PERSISTENT,
        prior_source=PERSISTENT_SOURCE,
    ),
    DeviceType(
        code="ap-frag-persistent",
        name="Persistent AP fragmentation mine (generic)",
        category="ap_fragmentation",
        persistence=Persistence.PERSISTENT,
        prior_source=PERSISTENT_SOURCE,
    ),
    DeviceType(
        code="at-persistent",
        name="Persistent anti-vehicle mine (generic)",
        category="at",
        persistence=Persistence.PERSISTENT,
        prior_source=PERSISTENT_SOURCE,
    ),
    DeviceType(
        code="submunition",
        name="Unexploded cluster submunition (generic)",
        category="cluster_submunition",
        persistence=Persistence.PERSISTENT,
        prior_source=PERSISTENT_SOURCE
        + " A submunition that failed to function is treated as live until cleared.",
    ),
    DeviceType(
        code="uxo",
        name="Unexploded ordnance (generic)",
        category="uxo",
        persistence=Persistence.PERSISTENT,
        prior_source=PERSISTENT_SOURCE,
    ),
    DeviceType(
        code="ied",
        name="Improvised explosive device (generic)",
        category="ied",
        persistence=Persistence.PERSISTENT,
        prior_source=PERSISTENT_SOURCE
        + " Any power source of an IED is of unknown life: treated as persistent.",
    ),
    DeviceType(
        code="unknown",
        name="Unknown device (legacy records that do not say)",
        category="unknown",
        persistence=Persistence.PERSISTENT,
        prior_source=PERSISTENT_SOURCE
        + " Nothing is known of the device: no self-destruction or self-deactivation is "
        "assumed, the conservative choice.",
    ),
)

_BY_CODE = {d.code: d for d in CATALOGUE}


def device_type(code: str) -> DeviceType:
    """The catalogue's device type with this code (KeyError if none)."""
    return _BY_CODE[code]
