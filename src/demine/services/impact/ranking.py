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


def _scores(cfg: ImpactConfig, factors: list[Factor], n: int) -> list[float]:
    """Every hazard's score as its breakdown (:func:`_row`) gives it: each value rounded,
    times its weight, rounded, summed exactly and rounded; each distinct value of a factor
    is rounded once."""
    if not factors or not n:
        return [0.0] * n
    cols = np.empty((n, len(factors)))
    for j, f in enumerate(factors):
        w = cfg.weight(f.name)
        uniq, inverse = np.unique(np.asarray(f.value, dtype=np.float64), return_inverse=True)
        contrib = np.asarray([round(w * (_r(v) or 0.0), 6) for v in uniq.tolist()])
        cols[:, j] = contrib[inverse.reshape(-1)]
    return [round(math.fsum(r), 6) for r in cols.tolist()]


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
    builders: dict[str, Callable[[], Factor]] = {
        "population": lambda: population(cfg, geoms),
        "settlements": lambda: distance_factor(store, cfg, "settlements", geoms, layers),
        "schools": lambda: distance_factor(store, cfg, "schools", geoms, layers),
        "roads": lambda: distance_factor(store, cfg, "roads", geoms, layers),
        "farmland": lambda: farmland(store, cfg, geoms, layers),
        "accidents": lambda: incidents(store, cfg, "accidents", geoms),
        "eo_reports": lambda: incidents(store, cfg, "eo_reports", geoms),
        "risk": lambda: risk(store, cfg, hz.ids, day),
        "area": lambda: area(cfg, geoms, hz.geometry.split(" ")[0]),
    }
    n = len(hz.ids)
    factors = [builders[name]() for name in FACTORS] if n else []
    scores = _scores(cfg, factors, n)
    order = sorted(range(n), key=lambda i: (-scores[i], hz.ids[i]))
    if top is not None:
        order = order[: max(0, top)]
    rows = [{"rank": k, **_row(cfg, factors, hz, i, synthetic)} for k, i in enumerate(order, 1)]
    overall: Counter[str] = Counter()
    for f in factors:
        overall.update(f"{f.name}: {m}" for m in f.missing if m is not None)
    summary = [
        f"{m} ({'every hazard' if c == n else f'{c} of {n} hazards'})"
        for m, c in sorted(overall.items())
    ]
    if not n:
        summary.append("no open hazards to rank")
    return Prioritization(rows, summary, cfg, iso_date(day), hz.geometry)
