"""The numeric pieces both estimators share: the statistics and quantiles they report, the
random streams of the failure rates, the P(live) table per lifecycle state, and quantiles and
logarithms computed as numpy computes them (exact at the ends, 0 devices giving 0)."""

from __future__ import annotations

import math
import zlib

import numpy as np
from numpy.typing import ArrayLike, NDArray

from demine.errors import Fault, ValidationError
from demine.risk.lifecycle import Lifecycle

F64 = NDArray[np.float64]

QUANTILES = (0.05, 0.95)
STATISTICS = (
    "expected_live",
    "expected_live_p05",
    "expected_live_p95",
    "p_any_live",
    "p_any_live_mean",
    "p_any_live_p05",
    "p_any_live_p95",
)
# estimate() only (not estimate_many): quantiles of the predictive count of live devices
COUNT_STATISTICS = ("live_count_p05", "live_count_p95")
_RATES = 0x52415445  # stream tag ("RATE") of a device type's failure rates
QUANTITY_STREAM = 0x5155414E  # stream tag ("QUAN") of the quantity draws


def check_run(draws: int, seed: int) -> None:
    faults = []
    if not (isinstance(draws, int | np.integer) and draws >= 1):
        faults.append(Fault(f"must be an integer >= 1, not {draws!r}", field="draws"))
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        faults.append(Fault(f"must be an integer >= 0, not {seed!r}", field="seed"))
    if faults:
        raise ValidationError("invalid estimate options", faults)


def as_days(dates: ArrayLike) -> F64:
    d = np.atleast_1d(np.asarray(dates, dtype=np.float64))
    if d.ndim != 1 or not np.isfinite(d).all():
        raise ValidationError(
            "invalid dates", [Fault("dates must be finite day numbers", field="dates")]
        )
    return d


def _code_key(code: str) -> int:
    return zlib.crc32(code.encode("utf-8"))


def rate_draws(lc: Lifecycle, draws: int, seed: int) -> tuple[F64 | None, F64 | None]:
    """The draws of (p_sd, p_res) of a device type: the stream keyed by (seed, code), p_sd
    first. With both mechanisms p_res = p_sd * q, q drawn from ``deact_fail`` (so p_res <= p_sd
    in every draw); with self-deactivation only p_res is drawn from ``residual``."""
    rng = np.random.default_rng([int(seed), _RATES, _code_key(lc.code)])
    p_sd = rng.beta(lc.sd_fail.alpha, lc.sd_fail.beta, draws) if lc.sd_fail else None
    p_res: F64 | None
    if lc.coherent and lc.deact_fail is not None and p_sd is not None:
        p_res = p_sd * rng.beta(lc.deact_fail.alpha, lc.deact_fail.beta, draws)
    elif lc.residual is not None:
        p_res = rng.beta(lc.residual.alpha, lc.residual.beta, draws)
    else:
        p_res = None
    return p_sd, p_res


def pi_table(lc: Lifecycle, draws: int, seed: int) -> F64:
    """P(live) per draw in each state: rows before laying, live, after SD, after battery."""
    p_sd, p_res = rate_draws(lc, draws, seed)
    t = np.empty((4, draws), dtype=np.float64)
    t[0] = 0.0
    t[1] = 1.0
    t[2] = p_sd if p_sd is not None else np.nan
    t[3] = p_res if p_res is not None else np.nan
    return t


def pi_means(lc: Lifecycle) -> F64:
    return np.array([0.0, 1.0, lc.p_sd_mean, lc.p_res_mean], dtype=np.float64)


def quantile_pos(n: int, q: float) -> tuple[int, int, float]:
    """numpy's 'linear' quantile: the two order statistics and the weight."""
    h = (n - 1) * q
    lo = min(max(math.floor(h), 0), n - 1)
    return lo, min(lo + 1, n - 1), h - lo


def lerp(a: F64, b: F64, w: float) -> F64:
    """a + w (b - a), as numpy's quantile computes it (exact at both ends)."""
    d = b - a
    with np.errstate(invalid="ignore"):
        r = b - d * (1.0 - w) if w >= 0.5 else a + d * w
    return np.asarray(np.where(a == b, a, r), dtype=np.float64)


def quantile_sorted(s: F64, q: float) -> F64:
    """Quantile along the last axis of an array sorted along it."""
    lo, hi, w = quantile_pos(s.shape[-1], q)
    return lerp(s[..., lo], s[..., hi], w)


def neg_expm1(x: F64) -> F64:
    """1 - e^x; + 0.0 turns the -0.0 of x == 0 (no device) into 0.0."""
    return np.asarray(-np.expm1(x) + 0.0, dtype=np.float64)


def log1m(p: F64) -> F64:
    with np.errstate(divide="ignore"):
        return np.asarray(np.log1p(-p), dtype=np.float64)


def times_log(n: F64, logs: F64) -> F64:
    """n * log(1 - p), with 0 where n == 0 (0 devices: no chance, even when p == 1)."""
    with np.errstate(invalid="ignore"):
        r = n * logs
    return np.asarray(np.where(n > 0, r, 0.0), dtype=np.float64)
