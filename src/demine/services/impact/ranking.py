"""The ranking of ``demine prioritize``: each open hazard's score (the sum of its factors'
weighted values), best first, ties broken by id, with a breakdown of every factor and a
summary of what was missing."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from demine.services.impact.config import FACTORS, ImpactConfig, resolve_config
from demine.services.impact.factors import (
    Factor,
    OpenHazards,
    area,
    distance_factor,
    farmland,
    incident_counts,
    incidents,
    layer_names,
    open_hazards,
    population,
    risk,
)
from demine.store.base import Store


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


@dataclass
class Prioritization:
    """The ranked open hazards (best first), what was missing, and the configuration used."""

    hazards: list[dict[str, Any]]
    missing: list[str]
    config: ImpactConfig
    at: str
    geometry: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "config": self.config.source,
            "geometry": self.geometry,
            "missing": self.missing,
            "hazards": self.hazards,
        }


def round6(x: np.ndarray) -> np.ndarray:
    """``round(v, 6)`` of each value, as Python rounds it (the double nearest to the value
    rounded to 6 decimals, half to even), vectorised: ``rint(v * 1e6) / 1e6`` is that double
    (a correctly rounded division of two exact integers) except where ``v * 1e6`` lies within
    its rounding error of a half; those few are rounded by Python."""
    x = np.asarray(x, dtype=np.float64)
    scaled = x * 1e6
    out = np.rint(scaled) / 1e6
    frac = np.abs(scaled - np.floor(scaled) - 0.5)
    near = (frac < 1e-6) | ~np.isfinite(scaled) | (np.abs(scaled) >= 2.0**52)
    for k in np.flatnonzero(near):
        out[k] = round(float(x[k]), 6)
    out[out == 0] = 0.0  # -0.0 as 0.0, as ``_r(v) or 0.0`` gives
    return out


def _scores(cfg: ImpactConfig, factors: list[Factor], n: int) -> np.ndarray:
    """Every hazard's score as its breakdown (:func:`_row`) gives it, vectorised: each value
    rounded, times its weight, rounded (:func:`round6`), summed exactly and rounded. The
    contributions are whole millionths, so their exact sum rounded is the sum of those
    integers over 1e6."""
    micro = np.zeros(n, dtype=np.int64)
    for f in factors:
        w = cfg.weight(f.name)
        contrib = round6(w * round6(np.asarray(f.value, dtype=np.float64)))
        micro += np.rint(contrib * 1e6).astype(np.int64)
    return micro / 1e6


def _row(
    cfg: ImpactConfig, factors: list[Factor], hz: OpenHazards, i: int, synthetic: bool
) -> dict[str, Any]:
    """Hazard ``i``'s row: its score and the breakdown of every factor."""
    breakdown: list[dict[str, Any]] = []
    contributions: list[float] = []
    missing: list[str] = []
    for f in factors:
        w = cfg.weight(f.name)
        value = _r(f.value[i]) or 0.0
        contribution = round(w * value, 6)
        contributions.append(contribution)
        breakdown.append(
            {
                "name": f.name,
                "raw": _r(f.raw[i]),
                "unit": f.unit,
                "transform": f.transform,
                "value": value,
                "weight": w,
                "contribution": contribution,
                "fallback": f.missing[i] is not None,
                "missing": f.missing[i],
                "note": f.notes[i] if i < len(f.notes) else None,
            }
        )
        if f.missing[i] is not None:
            missing.append(f"{f.name}: {f.missing[i]}")
    return {
        "id": hz.ids[i],
        "name": hz.names[i],
        "reference": hz.references[i],
        "score": round(math.fsum(contributions), 6),
        "factors": breakdown,
        "missing": missing,
        "synthetic": synthetic,
    }


def prioritize(
    store: Store,
    config: ImpactConfig | None = None,
    *,
    at: float | None = None,
    top: int | None = None,
    synthetic: bool = False,
) -> Prioritization:
    """Rank the open hazards by their weighted factors. ``at``: the day number for the
    residual-risk estimate (default today). Deterministic: same inputs, same output; ties are
    broken by id. Every hazard is scored (each factor computed for all at once); the
    breakdowns are made only for the hazards returned (``top``)."""
    from demine.risk import iso_date
    from demine.services.risk import today_day

    cfg = config if config is not None else resolve_config(store)
    day = today_day() if at is None else float(at)
    hz = open_hazards(store)
    geoms = hz.geoms
    layers = layer_names(store)
    counts: dict[str, Any] = {}

    def counted() -> dict[str, Any]:  # accidents and EO reports near the hazards, together
        if not counts:
            counts.update(incident_counts(store, cfg, geoms))
        return counts

    builders: dict[str, Callable[[], Factor]] = {
        "population": lambda: population(cfg, geoms),
        "settlements": lambda: distance_factor(store, cfg, "settlements", geoms, layers),
        "schools": lambda: distance_factor(store, cfg, "schools", geoms, layers),
        "roads": lambda: distance_factor(store, cfg, "roads", geoms, layers),
        "farmland": lambda: farmland(store, cfg, geoms, layers),
        "accidents": lambda: incidents(store, cfg, "accidents", geoms, counted()["accidents"]),
        "eo_reports": lambda: incidents(store, cfg, "eo_reports", geoms, counted()["eo_reports"]),
        "risk": lambda: risk(store, cfg, hz.ids, day),
        "area": lambda: area(cfg, geoms, hz.geometry.split(" ")[0]),
    }
    n = len(hz.ids)
    factors = [builders[name]() for name in FACTORS] if n else []
    scores = _scores(cfg, factors, n).tolist()
    order = sorted(range(n), key=lambda i: (-scores[i], hz.ids[i]))
    if top is not None:
        order = order[: max(0, top)]
    rows = [{"rank": k, **_row(cfg, factors, hz, i, synthetic)} for k, i in enumerate(order, 1)]
    overall: Counter[str] = Counter()
    for f in factors:
        for m, c in Counter(f.missing).items():
            if m is not None:
                overall[f"{f.name}: {m}"] += c
    summary = [
        f"{m} ({'every hazard' if c == n else f'{c} of {n} hazards'})"
        for m, c in sorted(overall.items())
    ]
    if not n:
        summary.append("no open hazards to rank")
    return Prioritization(rows, summary, cfg, iso_date(day), hz.geometry)
