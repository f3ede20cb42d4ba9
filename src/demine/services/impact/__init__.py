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

from demine.services.impact.config import (
    DEFAULT_TOML,
    FACTORS,
    LAYER_FACTORS,
    SETTING,
    ImpactConfig,
    config_from_dict,
    load_config,
    resolve_config,
    save_config,
)
from demine.services.impact.factors import Factor, proximity, saturating
from demine.services.impact.ranking import Prioritization, prioritize

__all__ = [
    "DEFAULT_TOML",
    "FACTORS",
    "LAYER_FACTORS",
    "SETTING",
    "Factor",
    "ImpactConfig",
    "Prioritization",
    "config_from_dict",
    "load_config",
    "prioritize",
    "proximity",
    "resolve_config",
    "saturating",
    "save_config",
]
