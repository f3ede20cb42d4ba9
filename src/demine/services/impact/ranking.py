"""The ranking of ``demine prioritize``: each open hazard's score (the sum of its factors'
weighted values), best first, ties broken by id, with a breakdown of every factor and a
summary of what was missing."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from demine.services.impact.config import FACTORS, ImpactConfig, resolve_config
from demine.services.impact.factors import (
    Factor,
    area,
    distance_factor,
    farmland,
    hazard_geometries,
    incidents,
    layer_names,
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
    broken by id."""
    from demine.risk import iso_date
    from demine.services.risk import today_day

    cfg = config if config is not None else resolve_config(store)
    day = today_day() if at is None else float(at)
    hazards = sorted(
        store.list("hazards", where={"status": "open"}),
        key=lambda h: h.id,
    )
    geoms, geometry = hazard_geometries(store, hazards)
    layers = layer_names(store)
    builders: dict[str, Callable[[], Factor]] = {
        "population": lambda: population(cfg, geoms),
        "settlements": lambda: distance_factor(store, cfg, "settlements", geoms, layers),
        "schools": lambda: distance_factor(store, cfg, "schools", geoms, layers),
        "roads": lambda: distance_factor(store, cfg, "roads", geoms, layers),
        "farmland": lambda: farmland(store, cfg, geoms, layers),
        "accidents": lambda: incidents(store, cfg, "accidents", geoms),
        "eo_reports": lambda: incidents(store, cfg, "eo_reports", geoms),
        "risk": lambda: risk(store, cfg, hazards, day),
        "area": lambda: area(cfg, geoms, geometry.split(" ")[0]),
    }
    factors = [builders[name]() for name in FACTORS] if hazards else []
    rows: list[dict[str, Any]] = []
    for i, h in enumerate(hazards):
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
        score = round(math.fsum(contributions), 6)
        rows.append(
            {
                "id": h.id,
                "name": h.properties.get("name"),
                "reference": h.properties.get("reference"),
                "score": score,
                "factors": breakdown,
                "missing": missing,
                "synthetic": synthetic,
            }
        )
    rows.sort(key=lambda r: (-r["score"], r["id"]))
    for k, r in enumerate(rows, 1):
        r["rank"] = k
    rows = [{"rank": r.pop("rank"), **r} for r in rows]
    overall: dict[str, int] = {}
    for r in rows:
        for m in r["missing"]:
            overall[m] = overall.get(m, 0) + 1
    summary = [
        f"{m} ({'every hazard' if c == len(rows) else f'{c} of {len(rows)} hazards'})"
        for m, c in sorted(overall.items())
    ]
    if not hazards:
        summary.append("no open hazards to rank")
    if top is not None:
        rows = rows[: max(0, top)]
    return Prioritization(rows, summary, cfg, iso_date(day), geometry)
