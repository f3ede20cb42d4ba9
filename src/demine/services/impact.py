"""Civilian impact per hazard and an explainable priority score (``demine prioritize``).

Each open hazard gets one value in 0..1 per factor (people around it, how near settlements,
schools and roads are, farmland it takes, accidents and EO reports near it, the residual-risk
estimate, the area still to release). A factor's contribution is its weight times its value;
the score is the sum of the contributions. Weights and parameters come from a TOML file
(``--config``), the store's settings, or the built-in default (:data:`DEFAULT_TOML`).
A missing input never lowers a priority: the factor takes its fallback value (1.0, the worst
case, by default) and the hazard's ``missing`` list says what was missing.

See docs/prioritization.md.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from demine.errors import Fault, ValidationError
from demine.model.schema import Record
from demine.store.base import Store

SETTING = "prioritize.config"  # the store setting that holds a saved configuration

DEFAULT_TOML = """\
# demine prioritize: the built-in configuration. Copy it (demine prioritize --show-config),
# change it, and pass it with --config FILE (--save keeps it in the store).
# Every factor has a weight (>= 0); its value is in 0..1; contribution = weight x value;
# score = the sum of the contributions. A factor whose input is missing takes its
# fallback value (default 1.0, the worst case: missing data never lowers a priority).

[population]            # people within buffer_m of the hazard, from a population raster
weight = 3.0
raster = ""             # GeoTIFF of people per cell; a relative path is taken from this file
buffer_m = 1000.0       # metres around the hazard
half_at = 500.0         # value = people / (people + half_at)
fallback = 1.0

[settlements]           # distance to the nearest settlement (a point, line or polygon layer)
weight = 1.5
layer = "settlements"   # reference layer name ("" for none)
reach_m = 5000.0        # value = 1 - distance / reach_m, 0 beyond reach
fallback = 1.0

[schools]
weight = 1.5
layer = "schools"
reach_m = 2000.0
fallback = 1.0

[roads]
weight = 1.0
layer = "roads"
reach_m = 1000.0
fallback = 1.0

[farmland]              # farmland inside the hazard
weight = 1.0
layer = "farmland"
half_at_ha = 5.0        # value = ha / (ha + half_at_ha)
fallback = 1.0

[accidents]             # accident records within radius_m of the hazard
weight = 2.0
radius_m = 2000.0
half_at = 1.0           # value = n / (n + half_at)

[eo_reports]            # civilians' EO reports within radius_m of the hazard
weight = 1.0
radius_m = 2000.0
half_at = 2.0

[risk]                  # P(at least one device live) at the date; unknown -> fallback
weight = 2.0
fallback = 1.0

[area]                  # the area still to release
weight = 0.5
half_at_ha = 10.0       # value = ha / (ha + half_at_ha)
"""

FACTORS = (
    "population",
    "settlements",
    "schools",
    "roads",
    "farmland",
    "accidents",
    "eo_reports",
    "risk",
    "area",
)
LAYER_FACTORS = ("settlements", "schools", "roads", "farmland")

# key -> (kind, lowest, highest, lowest allowed itself)
_NUM = "number"
_STR = "text"
_KEYS: dict[str, dict[str, tuple[str, float, float, bool]]] = {
    "population": {
        "weight": (_NUM, 0, math.inf, True),
        "raster": (_STR, 0, 0, True),
        "buffer_m": (_NUM, 0, 100_000, True),
        "half_at": (_NUM, 0, math.inf, False),
        "fallback": (_NUM, 0, 1, True),
    },
    **{
        name: {
            "weight": (_NUM, 0, math.inf, True),
            "layer": (_STR, 0, 0, True),
            "reach_m": (_NUM, 0, 100_000, False),
            "fallback": (_NUM, 0, 1, True),
        }
        for name in ("settlements", "schools", "roads")
    },
    "farmland": {
        "weight": (_NUM, 0, math.inf, True),
        "layer": (_STR, 0, 0, True),
        "half_at_ha": (_NUM, 0, math.inf, False),
        "fallback": (_NUM, 0, 1, True),
    },
    **{
        name: {
            "weight": (_NUM, 0, math.inf, True),
            "radius_m": (_NUM, 0, 100_000, False),
            "half_at": (_NUM, 0, math.inf, False),
        }
        for name in ("accidents", "eo_reports")
    },
    "risk": {"weight": (_NUM, 0, math.inf, True), "fallback": (_NUM, 0, 1, True)},
    "area": {"weight": (_NUM, 0, math.inf, True), "half_at_ha": (_NUM, 0, math.inf, False)},
}


@dataclass(frozen=True)
class ImpactConfig:
    """The factors' weights and parameters; ``source`` says where they came from."""

    sections: dict[str, dict[str, Any]]
    source: str = "built-in default"

    def weight(self, factor: str) -> float:
        return float(self.sections[factor]["weight"])

    def get(self, factor: str, key: str) -> Any:
        return self.sections[factor][key]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.sections.items()}

    def to_toml(self) -> str:
        lines = [f"# demine prioritize configuration (from {self.source})"]
        for name in FACTORS:
            lines.append(f"\n[{name}]")
            for k, v in self.sections[name].items():
                val = _toml_str(v) if isinstance(v, str) else repr(float(v))
                lines.append(f"{k} = {val}")
        return "\n".join(lines) + "\n"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _defaults() -> dict[str, dict[str, Any]]:
    return tomllib.loads(DEFAULT_TOML)


def config_from_dict(data: Any, *, source: str, base_dir: Path | None = None) -> ImpactConfig:
    """Check a parsed configuration (every fault named by its key) and fill in defaults.
    A relative raster path is taken from ``base_dir``."""
    faults: list[Fault] = []

    def bad(key: str, reason: str) -> None:
        faults.append(Fault(reason, field=key, source=source))

    sections = _defaults()
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: not a table", [Fault("expected a table", source=source)])
    for name, table in data.items():
        if name not in _KEYS:
            bad(name, f"unknown section; the factors are: {', '.join(FACTORS)}")
            continue
        if not isinstance(table, dict):
            bad(name, "expected a table ([" + name + "])")
            continue
        for key, value in table.items():
            where = f"{name}.{key}"
            spec = _KEYS[name].get(key)
            if spec is None:
                bad(where, f"unknown key; known keys: {', '.join(_KEYS[name])}")
                continue
            kind, lo, hi, lo_ok = spec
            if kind == _STR:
                if not isinstance(value, str):
                    bad(where, f"expected text, got {value!r}")
                    continue
                sections[name][key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                bad(where, f"expected a number, got {value!r}")
                continue
            v = float(value)
            if not math.isfinite(v) or v > hi or v < lo or (v == lo and not lo_ok):
                rng = f"{'>=' if lo_ok else '>'} {lo:g}" + (
                    f" and <= {hi:g}" if hi < math.inf else ""
                )
                bad(where, f"{value!r} is out of range: expected a number {rng}")
                continue
            sections[name][key] = v
    if faults:
        raise ValidationError(f"{source}: bad prioritization configuration", faults)
    raster = sections["population"]["raster"]
    if raster and base_dir is not None and not Path(raster).is_absolute():
        sections["population"]["raster"] = str((base_dir / raster).resolve())
    return ImpactConfig(sections, source)


def load_config(path: Path) -> ImpactConfig:
    """Read a TOML configuration file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError(
            f"cannot read {path}", [Fault(e.strerror or str(e), source=str(path))]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValidationError(
            f"{path}: not valid TOML", [Fault(str(e), source=str(path))]
        ) from None
    return config_from_dict(data, source=str(path), base_dir=path.parent)


def resolve_config(store: Store, path: Path | None = None) -> ImpactConfig:
    """The file given, else the configuration saved in the store, else the built-in one."""
    if path is not None:
        return load_config(path)
    saved = store.setting(SETTING)
    if saved:
        return config_from_dict(saved, source=f"store setting {SETTING}")
    return config_from_dict({}, source="built-in default")


def save_config(store: Store, config: ImpactConfig) -> None:
    store.set_setting(SETTING, config.to_dict())


# --- inputs ---------------------------------------------------------------------------------


def _geoms(records: Iterable[Record]) -> np.ndarray:
    arr = np.empty(0, dtype=object)
    recs = list(records)
    if recs:
        arr = np.empty(len(recs), dtype=object)
        arr[:] = [r.geometry for r in recs]
    return arr


def _remaining(store: Store, hazards: list[Record]) -> tuple[np.ndarray, str]:
    """The part of each hazard not yet released (the whole polygon if land release is not
    available)."""
    try:
        from demine.services.release import remaining_geometries
    except ImportError:  # pragma: no cover - land release is part of demine
        return _geoms(hazards), "hazard polygon"
    rem = remaining_geometries(store)
    out = _geoms(hazards)
    for i, h in enumerate(hazards):
        g = rem.get(h.id)
        if g is not None:
            out[i] = g
    return out, "remaining (hazard minus released land)"


def _layer_names(store: Store) -> set[str]:
    return {k.name for k in store.kinds() if k.is_layer}


# --- the factors ----------------------------------------------------------------------------


def saturating(x: float, half: float) -> float:
    """x / (x + half): 0 at 0, 0.5 at ``half``, towards 1 for large x."""
    return 0.0 if x <= 0 else x / (x + half)


def proximity(d: float, reach: float) -> float:
    """1 at distance 0, falling linearly to 0 at ``reach``."""
    return 0.0 if not math.isfinite(d) else max(0.0, 1.0 - d / reach)


@dataclass
class _Factor:
    name: str
    raw: list[float | None]
    unit: str
    transform: str
    value: list[float]
    missing: list[str | None]
    notes: list[str | None] = field(default_factory=list)


def _fallback_factor(
    name: str, n: int, unit: str, transform: str, fallback: float, reason: str
) -> _Factor:
    return _Factor(name, [None] * n, unit, transform, [fallback] * n, [reason] * n, [None] * n)


def _population(cfg: ImpactConfig, geoms: np.ndarray) -> _Factor:
    from demine.geo.zonal import Raster, buffer_m, zonal_sums

    n = len(geoms)
    buf = float(cfg.get("population", "buffer_m"))
    half = float(cfg.get("population", "half_at"))
    fb = float(cfg.get("population", "fallback"))
    unit = f"people within {buf:g} m"
    tr = f"people / (people + {half:g})"
    path = cfg.get("population", "raster")
    if not path:
        return _fallback_factor(
            "population",
            n,
            unit,
            tr,
            fb,
            f"population raster not configured (population.raster): fallback value {fb:g}",
        )
    if not Path(path).exists():
        raise ValidationError(
            f"{cfg.source}: the population raster {path} does not exist",
            [Fault(f"no file {path}", field="population.raster", source=cfg.source)],
        )
    raster = Raster.open(path)
    zr = zonal_sums(buffer_m(geoms, buf), raster)
    f = _Factor("population", [], unit, tr, [], [], [])
    for s, cov in zip(zr.sums, zr.coverage, strict=True):
        if cov <= 0:
            f.raw.append(None)
            f.value.append(fb)
            f.missing.append(f"outside the population raster: fallback value {fb:g}")
            f.notes.append(None)
            continue
        people = float(s) / float(cov) if cov < 0.999 else float(s)
        f.raw.append(people)
        f.value.append(saturating(people, half))
        f.missing.append(None)
        f.notes.append(
            None
            if cov >= 0.999
            else f"the raster covers {100 * cov:.0f}% of the buffer; the sum is scaled to the "
            "whole buffer"
        )
    return f


def _layer_geoms(store: Store, name: str) -> np.ndarray:
    return _geoms(r for r in store.list(name) if r.geometry is not None)


def _distance_factor(
    store: Store, cfg: ImpactConfig, factor: str, geoms: np.ndarray, layers: set[str]
) -> _Factor:
    from demine.geo.zonal import nearest_within

    n = len(geoms)
    reach = float(cfg.get(factor, "reach_m"))
    fb = float(cfg.get(factor, "fallback"))
    layer = cfg.get(factor, "layer")
    unit = f"metres to the nearest of layer {layer!r}" if layer else "metres"
    tr = f"1 - distance / {reach:g} (0 beyond {reach:g} m)"
    if not layer:
        return _fallback_factor(
            factor,
            n,
            unit,
            tr,
            fb,
            f"no {factor} layer configured ({factor}.layer): fallback value {fb:g}",
        )
    if layer not in layers:
        return _fallback_factor(
            factor,
            n,
            unit,
            tr,
            fb,
            f"layer {layer!r} ({factor}) is not in the store: fallback value {fb:g}",
        )
    dist, _ = nearest_within(geoms, _layer_geoms(store, layer), reach)
    raw: list[float | None] = [float(d) if math.isfinite(d) else None for d in dist]
    return _Factor(
        factor,
        raw,
        unit,
        tr,
        [proximity(float(d), reach) for d in dist],
        [None] * n,
        [None if math.isfinite(d) else f"none within {reach:g} m" for d in dist],
    )


def _farmland(store: Store, cfg: ImpactConfig, geoms: np.ndarray, layers: set[str]) -> _Factor:
    from demine.geo.zonal import overlap_area

    n = len(geoms)
    half = float(cfg.get("farmland", "half_at_ha"))
    fb = float(cfg.get("farmland", "fallback"))
    layer = cfg.get("farmland", "layer")
    unit = "hectares of farmland inside the hazard"
    tr = f"ha / (ha + {half:g})"
    if not layer:
        return _fallback_factor(
            "farmland",
            n,
            unit,
            tr,
            fb,
            f"no farmland layer configured (farmland.layer): fallback value {fb:g}",
        )
    if layer not in layers:
        return _fallback_factor(
            "farmland",
            n,
            unit,
            tr,
            fb,
            f"layer {layer!r} (farmland) is not in the store: fallback value {fb:g}",
        )
    ha = overlap_area(geoms, _layer_geoms(store, layer)) / 10_000
    return _Factor(
        "farmland",
        [float(x) for x in ha],
        unit,
        tr,
        [saturating(float(x), half) for x in ha],
        [None] * n,
        [None] * n,
    )


def _incidents(store: Store, cfg: ImpactConfig, factor: str, geoms: np.ndarray) -> _Factor:
    from demine.geo.zonal import count_within

    radius = float(cfg.get(factor, "radius_m"))
    half = float(cfg.get(factor, "half_at"))
    pts = [r.geometry for r in store.list(factor) if r.geometry is not None]
    label = "accidents" if factor == "accidents" else "EO reports"
    if pts:
        xy = shapely.get_coordinates(shapely.centroid(np.asarray(pts, dtype=object)))
        counts = count_within(geoms, xy[:, 0], xy[:, 1], radius)
    else:
        counts = np.zeros(len(geoms), np.int64)
    return _Factor(
        factor,
        [float(c) for c in counts],
        f"{label} within {radius:g} m",
        f"n / (n + {half:g})",
        [saturating(float(c), half) for c in counts],
        [None] * len(geoms),
        [None] * len(geoms),
    )


def _risk(store: Store, cfg: ImpactConfig, hazards: list[Record], day: float) -> _Factor:
    from demine.services.risk import hazard_risks

    fb = float(cfg.get("risk", "fallback"))
    risks = {r.hazard.id: r for r in hazard_risks(store, np.array([day]), draws=1000, seed=0)}
    f = _Factor("risk", [], "P(at least one device live)", "identity", [], [], [])
    for h in hazards:
        r = risks.get(h.id)
        if r is None or r.estimate is None:
            f.raw.append(None)
            f.value.append(fb)
            f.missing.append(
                "no emplacement record could be counted (unknown device type): residual risk "
                f"unknown (not safe): fallback value {fb:g}"
                if r is not None and r.records
                else "no emplacement record: residual risk unknown (not safe): fallback value "
                f"{fb:g}"
            )
            f.notes.append(None)
            continue
        p = float(r.estimate.p_any_live[0])
        f.raw.append(p)
        if r.incomplete:
            # a record the estimate could not count (unknown device type, quantity 0) never
            # ranks the hazard below one with no record at all
            f.value.append(max(fb, min(1.0, max(0.0, p))))
            f.missing.append(
                "an emplacement record could not be counted (unknown device type or quantity "
                f"0): the estimate is a lower bound: fallback value {fb:g} unless higher"
            )
        else:
            f.value.append(min(1.0, max(0.0, p)))
            f.missing.append(None)
        f.notes.append(None)
    return f


def _area(cfg: ImpactConfig, geoms: np.ndarray, source: str) -> _Factor:
    from demine.geo.geodesy import geodesic_area

    half = float(cfg.get("area", "half_at_ha"))
    ha = geodesic_area(geoms) / 10_000
    return _Factor(
        "area",
        [float(x) for x in ha],
        f"hectares ({source})",
        f"ha / (ha + {half:g})",
        [saturating(float(x), half) for x in ha],
        [None] * len(geoms),
        [None] * len(geoms),
    )


# --- the ranking ----------------------------------------------------------------------------


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
    geoms, geometry = _remaining(store, hazards)
    layers = _layer_names(store)
    builders: dict[str, Callable[[], _Factor]] = {
        "population": lambda: _population(cfg, geoms),
        "settlements": lambda: _distance_factor(store, cfg, "settlements", geoms, layers),
        "schools": lambda: _distance_factor(store, cfg, "schools", geoms, layers),
        "roads": lambda: _distance_factor(store, cfg, "roads", geoms, layers),
        "farmland": lambda: _farmland(store, cfg, geoms, layers),
        "accidents": lambda: _incidents(store, cfg, "accidents", geoms),
        "eo_reports": lambda: _incidents(store, cfg, "eo_reports", geoms),
        "risk": lambda: _risk(store, cfg, hazards, day),
        "area": lambda: _area(cfg, geoms, geometry.split(" ")[0]),
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
