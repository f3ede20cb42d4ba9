"""The configuration of ``demine prioritize``: each factor's weight and parameters, from a
TOML file (``--config``), the store's settings (:data:`SETTING`), or the built-in default
(:data:`DEFAULT_TOML`), every value checked and every fault named by its key."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demine.errors import Fault, ValidationError
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
