"""Residual-risk estimates: expected live devices and the chance that any is live, with their
uncertainty, for one emplacement record or a hazard (the sum over its records), at one date or
a series of dates. Pure numpy/scipy, no I/O. The model is documented in docs/risk-model.md.

Random streams (numpy ``Generator``, reproducible from ``seed``):

* the failure rates of a device type are drawn from a stream keyed by (seed, device-type code),
  p_sd first, then p_res. Every record of that type in a hazard uses the same draws
  (the rates are properties of the type, so the records are correlated); the same type gets the
  same draws in :func:`estimate` and :func:`estimate_many`.
* quantities (Beta-PERT) are drawn per record: in :func:`estimate` from one stream keyed by the
  seed, record after record; in :func:`estimate_many` from one stream per block of
  ``BLOCK`` records, so its result does not depend on ``chunk`` or on the number of threads.
  A record with a fixed quantity draws nothing: :func:`estimate` of that record alone and its
  row of :func:`estimate_many` are then identical; with a PERT quantity they agree within
  Monte Carlo error.
* the predictive number of live devices (``live_count_p05`` / ``live_count_p95``, in
  :func:`estimate` only) is drawn from its own streams, keyed by (seed, the records' states at
  the date), so the other statistics are the same with or without it and a date gives the same
  count whichever other dates are asked with it.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special  # type: ignore[import-untyped]

from demine.errors import Fault, ValidationError
from demine.model.devices import Persistence
from demine.risk.lifecycle import AFTER_BATTERY, AFTER_SD, BEFORE_LAYING, LIVE, Lifecycle

__all__ = [
    "BLOCK",
    "COUNT_STATISTICS",
    "QUANTILES",
    "STATISTICS",
    "Estimate",
    "Quantity",
    "RecordInput",
    "closed_form",
    "dates_series",
    "day_number",
    "estimate",
    "estimate_many",
    "iso_date",
    "rate_draws",
]

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
BLOCK = 1024  # estimate_many: records per quantity stream
_RATES, _QUANTITY = 0x52415445, 0x5155414E  # stream tags ("RATE", "QUAN")
_COUNT = 0x434F554E  # stream tag ("COUN") of the predictive count
_EPOCH = date(1970, 1, 1)
_TARGET_ELEMENTS = 4_000_000  # per working array in estimate()

# --- dates ------------------------------------------------------------------------------------


def day_number(d: date | datetime | str | float) -> float:
    """Days since 1970-01-01 (UTC) as a float. A date is its midnight UTC; a naive datetime is
    taken as UTC; a string is ISO 8601 (a date or a date and time)."""
    if isinstance(d, int | float) and not isinstance(d, bool):
        return float(d)
    if isinstance(d, str):
        s = d.strip()
        try:
            d = date.fromisoformat(s) if len(s) == 10 else datetime.fromisoformat(s)
        except ValueError:
            raise ValidationError(
                f"bad date {d!r}",
                [Fault("expected an ISO 8601 date (YYYY-MM-DD) or date and time", field="date")],
            ) from None
    if isinstance(d, datetime):
        if d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        return d.timestamp() / 86400.0
    if isinstance(d, date):
        return float((d - _EPOCH).days)
    raise ValidationError(f"bad date {d!r}", [Fault("expected a date", field="date")])


def iso_date(day: float) -> str:
    """The ISO date (YYYY-MM-DD, UTC) of a day number."""
    return (_EPOCH + timedelta(days=math.floor(day))).isoformat()


def dates_series(
    start: date | datetime | str | float,
    end: date | datetime | str | float,
    step_days: float,
) -> F64:
    """Day numbers from ``start`` to ``end`` (inclusive when on the grid) every ``step_days``."""
    if not (math.isfinite(step_days) and step_days > 0):
        raise ValidationError("bad date series", [Fault("step must be > 0 days", field="step")])
    s, e = day_number(start), day_number(end)
    if e < s:
        raise ValidationError("bad date series", [Fault("end is before start", field="end")])
    n = math.floor((e - s) / step_days + 1e-9) + 1
    return s + step_days * np.arange(n, dtype=np.float64)


# --- inputs -----------------------------------------------------------------------------------


def _finite_nonneg(v: float | None) -> bool:
    return v is not None and math.isfinite(v) and v >= 0


@dataclass(frozen=True)
class Quantity:
    """How many devices a record holds: a best estimate with an optional minimum and maximum.
    With a range the number is Beta-PERT on [low, high] with mode ``best``; without, fixed."""

    best: float
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        faults: list[Fault] = []
        for name in ("best", "low", "high"):
            v = getattr(self, name)
            if (name == "best" or v is not None) and not _finite_nonneg(v):
                faults.append(
                    Fault(f"must be a finite number >= 0, not {v!r}", field=f"quantity.{name}")
                )
        if not faults:
            if self.low is not None and self.low > self.best:
                faults.append(
                    Fault(
                        f"min {self.low:g} is above the best estimate {self.best:g}",
                        field="quantity.low",
                    )
                )
            if self.high is not None and self.high < self.best:
                faults.append(
                    Fault(
                        f"max {self.high:g} is below the best estimate {self.best:g}",
                        field="quantity.high",
                    )
                )
        if faults:
            raise ValidationError("invalid quantity", faults)

    @property
    def a(self) -> float:
        return self.best if self.low is None else float(self.low)

    @property
    def c(self) -> float:
        return self.best if self.high is None else float(self.high)

    @property
    def fixed(self) -> bool:
        return self.a == self.c

    @property
    def mean(self) -> float:
        """E[N]: (a + 4b + c) / 6 for PERT, b when fixed."""
        return self.best if self.fixed else (self.a + 4.0 * self.best + self.c) / 6.0

    def pert(self) -> tuple[float, float]:
        """The Beta shape (alpha, beta) of the PERT on [a, c]."""
        return _pert_shape(self.a, self.best, self.c)

    def describe(self) -> str:
        if self.fixed:
            return f"fixed at {self.best:g}"
        return f"PERT({self.a:g}, {self.best:g}, {self.c:g})"

    def draw(self, rng: np.random.Generator, draws: int) -> F64:
        if self.fixed:
            return np.full(draws, self.best, dtype=np.float64)
        al, be = self.pert()
        return np.asarray(self.a + (self.c - self.a) * rng.beta(al, be, draws), np.float64)


def _pert_shape(a: Any, b: Any, c: Any) -> tuple[Any, Any]:
    m = (b - a) / (c - a)
    return 1.0 + 4.0 * m, 1.0 + 4.0 * (1.0 - m)


@dataclass
class RecordInput:
    """One emplacement record: its device type's lifecycle, its quantity, when it was laid (day
    number, days since 1970-01-01). With a laying period, ``laid_day`` is its latest day (the
    state is counted from it: conservative) and ``laid_earliest_day`` its first (shown in the
    assumptions only)."""

    lifecycle: Lifecycle
    quantity: Quantity
    laid_day: float
    record_id: str | None = None
    laid_earliest_day: float | None = None

    def describe_laid(self) -> str:
        b = iso_date(self.laid_day)
        e = self.laid_earliest_day
        if e is None or not math.isfinite(e) or iso_date(e) == b:
            return f"laid {b}"
        return f"laid between {iso_date(e)} and {b}; counted from {b}, the latest"


@dataclass
class Estimate:
    """Statistics at each evaluation date (one value per date)."""

    days: F64
    expected_live: F64
    expected_live_p05: F64
    expected_live_p95: F64
    p_any_live: F64
    p_any_live_mean: F64
    p_any_live_p05: F64
    p_any_live_p95: F64
    # 5th/95th percentiles of the predictive NUMBER of live devices K (the binomial chance and
    # the rate uncertainty together), whole numbers; not the interval of expected_live
    live_count_p05: F64
    live_count_p95: F64
    draws: int
    seed: int
    assumptions: list[str] = field(default_factory=list)

    def to_dicts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, d in enumerate(self.days):
            row: dict[str, Any] = {"date": iso_date(float(d)), "day": float(d)}
            for k in STATISTICS:
                row[k] = float(getattr(self, k)[i])
            for k in COUNT_STATISTICS:
                row[k] = float(getattr(self, k)[i])
            row.update(draws=self.draws, seed=self.seed, assumptions=list(self.assumptions))
            out.append(row)
        return out


# --- shared pieces ----------------------------------------------------------------------------


def _check_run(draws: int, seed: int) -> None:
    faults = []
    if not (isinstance(draws, int | np.integer) and draws >= 1):
        faults.append(Fault(f"must be an integer >= 1, not {draws!r}", field="draws"))
    if not (isinstance(seed, int | np.integer) and seed >= 0):
        faults.append(Fault(f"must be an integer >= 0, not {seed!r}", field="seed"))
    if faults:
        raise ValidationError("invalid estimate options", faults)


def _as_days(dates: ArrayLike) -> F64:
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


def _pi_table(lc: Lifecycle, draws: int, seed: int) -> F64:
    """P(live) per draw in each state: rows before laying, live, after SD, after battery."""
    p_sd, p_res = rate_draws(lc, draws, seed)
    t = np.empty((4, draws), dtype=np.float64)
    t[0] = 0.0
    t[1] = 1.0
    t[2] = p_sd if p_sd is not None else np.nan
    t[3] = p_res if p_res is not None else np.nan
    return t


def _mean_pi(lc: Lifecycle) -> F64:
    return np.array([0.0, 1.0, lc.p_sd_mean, lc.p_res_mean], dtype=np.float64)


def _qpos(n: int, q: float) -> tuple[int, int, float]:
    """numpy's 'linear' quantile: the two order statistics and the weight."""
    h = (n - 1) * q
    lo = min(max(math.floor(h), 0), n - 1)
    return lo, min(lo + 1, n - 1), h - lo


def _lerp(a: F64, b: F64, w: float) -> F64:
    """a + w (b - a), as numpy's quantile computes it (exact at both ends)."""
    d = b - a
    with np.errstate(invalid="ignore"):
        r = b - d * (1.0 - w) if w >= 0.5 else a + d * w
    return np.asarray(np.where(a == b, a, r), dtype=np.float64)


def _quantile_sorted(s: F64, q: float) -> F64:
    """Quantile along the last axis of an array sorted along it."""
    lo, hi, w = _qpos(s.shape[-1], q)
    return _lerp(s[..., lo], s[..., hi], w)


def _neg_expm1(x: F64) -> F64:
    """1 - e^x; + 0.0 turns the -0.0 of x == 0 (no device) into 0.0."""
    return np.asarray(-np.expm1(x) + 0.0, dtype=np.float64)


def _log1m(p: F64) -> F64:
    with np.errstate(divide="ignore"):
        return np.asarray(np.log1p(-p), dtype=np.float64)


def _times_log(n: F64, logs: F64) -> F64:
    """n * log(1 - p), with 0 where n == 0 (0 devices: no chance, even when p == 1)."""
    with np.errstate(invalid="ignore"):
        r = n * logs
    return np.asarray(np.where(n > 0, r, 0.0), dtype=np.float64)


# --- closed form ------------------------------------------------------------------------------


def _log_beta_ratio(a: float, b: float, n: float) -> float:
    """log B(a, b + n) / B(a, b) = log E[(1 - P)^n] for P ~ Beta(a, b).

    For a whole n (up to 10^7) as the sum of log(1 - a / (a + b + i)), i < n, which keeps full
    precision; otherwise from betaln (about 1e-9 relative for large b, by cancellation)."""
    if n == math.floor(n) and n <= 10_000_000:
        i = np.arange(int(n), dtype=np.float64)
        return float(np.log1p(-a / (a + b + i)).sum())
    return float(special.betaln(a, b + n)) - float(special.betaln(a, b))


def closed_form(lifecycle: Lifecycle, n: float, t: float) -> dict[str, float]:
    """Exact statistics for one record of ``n`` devices (fixed) ``t`` days after laying.

    expected_live = n E[P]; its quantiles n F^-1(q) (Beta quantile function); p_any_live the
    plug-in 1 - (1 - E[P])^n; p_any_live_mean = E[1 - (1 - P)^n] = 1 - B(a, b + n) / B(a, b);
    its quantiles 1 - (1 - F^-1(q))^n (the map p -> 1 - (1 - p)^n is increasing).
    """
    if not _finite_nonneg(n):
        raise ValidationError("invalid quantity", [Fault("must be >= 0", field="n")])
    s = int(lifecycle.state(t))
    keys = STATISTICS
    if s == BEFORE_LAYING or n == 0:
        return dict.fromkeys(keys, 0.0)
    if s == LIVE:
        return {
            "expected_live": n,
            "expected_live_p05": n,
            "expected_live_p95": n,
            "p_any_live": 1.0,
            "p_any_live_mean": 1.0,
            "p_any_live_p05": 1.0,
            "p_any_live_p95": 1.0,
        }

    def pany(p: float) -> float:
        return float(-math.expm1(n * math.log1p(-p))) if p < 1 else 1.0

    prior = lifecycle.prior(s)
    if prior is None:  # after the battery life of a coherent type: P = p_sd * q
        assert lifecycle.sd_fail is not None and lifecycle.deact_fail is not None
        return _closed_form_product(lifecycle.sd_fail, lifecycle.deact_fail, n, pany)
    a, b = prior.alpha, prior.beta
    q05, q95 = (float(special.betaincinv(a, b, q)) for q in QUANTILES)

    return {
        "expected_live": n * prior.mean,
        "expected_live_p05": n * q05,
        "expected_live_p95": n * q95,
        "p_any_live": pany(prior.mean),
        "p_any_live_mean": float(-math.expm1(_log_beta_ratio(a, b, n))),
        "p_any_live_p05": pany(q05),
        "p_any_live_p95": pany(q95),
    }


_GL_NODES = 400


def _closed_form_product(sd: Any, q: Any, n: float, pany: Any) -> dict[str, float]:
    """The statistics when P = X * Y, X ~ Beta(sd), Y ~ Beta(q) independent, by Gauss-Legendre
    quadrature in quantile space (u, v on (0, 1), X = F^-1(u), Y = G^-1(v)): E[P] exactly,
    E[(1 - P)^n] on a 400 x 400 grid, the quantiles of P by root-finding its distribution
    function P(XY <= x) = E_u[G(x / F^-1(u))]."""
    from scipy import optimize

    nodes, weights = np.polynomial.legendre.leggauss(_GL_NODES)
    u = 0.5 * (nodes + 1.0)
    w = 0.5 * weights
    x = special.betaincinv(sd.alpha, sd.beta, u)
    y = special.betaincinv(q.alpha, q.beta, u)
    m = sd.mean * q.mean
    prod = x[:, None] * y[None, :]
    with np.errstate(divide="ignore"):
        ln = np.where(prod < 1.0, n * np.log1p(-np.minimum(prod, 1.0)), -np.inf)
    surv = float((w[:, None] * w[None, :] * np.exp(ln)).sum())

    def cdf(v: float) -> float:
        return float((w * special.betainc(q.alpha, q.beta, np.minimum(v / x, 1.0))).sum())

    def quantile(p: float) -> float:
        return float(optimize.brentq(lambda v: cdf(v) - p, 0.0, 1.0, xtol=1e-15, rtol=1e-12))

    q05, q95 = (quantile(p) for p in QUANTILES)
    return {
        "expected_live": n * m,
        "expected_live_p05": n * q05,
        "expected_live_p95": n * q95,
        "p_any_live": pany(m),
        "p_any_live_mean": float(min(max(1.0 - surv, 0.0), 1.0)),
        "p_any_live_p05": pany(q05),
        "p_any_live_p95": pany(q95),
    }


# --- the predictive count --------------------------------------------------------------------


def _whole(n: F64) -> NDArray[np.int64]:
    """A drawn quantity as a whole number of devices: the nearest, halves up (2.5 -> 3), so the
    mean number stays that of the quantity's distribution."""
    return np.floor(n + 0.5).astype(np.int64)


def _count_quantiles(
    n_whole: NDArray[np.int64], p: F64, group: NDArray[np.intp], states: NDArray[Any], seed: int
) -> tuple[float, float]:
    """5th and 95th percentiles of K = sum over records of Binomial(N_r, P_r), one K per draw
    (``n_whole`` and ``p``: records x draws), as whole numbers: the smallest k with
    P(K <= k) >= q over the draws (numpy's 'inverted_cdf').

    Records of one ``group`` (same lifecycle, same state) share P in each draw, so their sum is
    one Binomial(sum of N_r, P) (exact); P = 1 adds N, P = 0 nothing. The binomial draws come
    from a stream keyed by (seed, the records' states), so the other statistics do not change
    and every date with the same states gets the same count."""
    key = zlib.crc32(np.ascontiguousarray(states, dtype=np.int8).tobytes())
    rng = np.random.default_rng([seed, _COUNT, key])
    k = np.zeros(n_whole.shape[-1], dtype=np.int64)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        n = n_whole[rows].sum(axis=0)
        pg = p[rows[0]]
        if np.all(pg == 0.0):
            continue
        k += n if np.all(pg == 1.0) else rng.binomial(n, np.clip(pg, 0.0, 1.0))
    lo, hi = np.quantile(k, QUANTILES, method="inverted_cdf")
    return float(lo), float(hi)


# --- one hazard -------------------------------------------------------------------------------


def _assumptions(records: Sequence[RecordInput], draws: int) -> list[str]:
    out = [
        "functioning mechanisms act at their nominal time (step functions): every device is "
        "counted live until then (conservative)",
    ]
    seen: list[Lifecycle] = []
    for r in records:
        if r.lifecycle not in seen:
            seen.append(r.lifecycle)
    for lc in seen:
        out.append(lc.describe())
        if lc.persistence is Persistence.PERSISTENT:
            out.append(f"{lc.code}: persistent: live until cleared")
        elif lc.treaty_limits:
            learned = set(lc.learned)
            params = {"sd_fail"} if lc.sd_fail is not None else set()
            if lc.coherent:
                params.add("deact_fail")
            elif lc.residual is not None:
                params.add("residual")
            if params - learned:
                out.append(
                    f"{lc.code}: failure rates are treaty limits, not field data: a compliant "
                    "worst case (the most a device that meets CCW Amended Protocol II, "
                    "Technical Annex 3(a) may leave live), not measured rates; devices that do "
                    "not comply can be worse"
                )
        out.extend(lc.notes)
    if any(lc.coherent for lc in seen):
        out.append(
            "after the battery life P(live) = p_sd x q, q = P(self-deactivation fails | "
            "self-destruction failed): never above p_sd in any draw, so the expected number "
            "live never rises with time"
        )
    for i, r in enumerate(records):
        name = r.record_id or f"record {i + 1}"
        out.append(f"{name}: quantity {r.quantity.describe()}, {r.describe_laid()}")
    out += [
        "the failure rates belong to the device type: records of one type share each draw "
        "(correlated); quantities are drawn independently per record",
        f"expected_live_p05/p95: 5th/95th percentiles over {draws:,} draws of the expected "
        "number (epistemic uncertainty), not the binomial chance",
        "live devices, predictive 5–95 % (live_count_p05/p95): the range of the NUMBER of live "
        "devices itself, with the chance of which devices survive and the uncertainty of the "
        "rates together (per draw, each record's quantity rounded to the nearest whole number, "
        "halves up, then a binomial count); expected live 5–95 % is the uncertainty of the "
        "rates only and is no range of counts: more or fewer devices than it may be live",
        "p_any_live: plug-in at the expected values, never below p_any_live_mean (the average "
        "over the uncertainty) for N >= 1: the conservative headline",
        "not in the model: unrecorded or displaced devices, tampering, misidentified types, "
        "anti-handling devices (docs/risk-model.md)",
        "an estimate is information: time never releases land; only land release (non-technical "
        "survey, technical survey, clearance; IMAS 07.11) changes a hazard's status",
    ]
    return out


def estimate(
    records: Sequence[RecordInput],
    dates: ArrayLike,
    *,
    draws: int = 1000,
    seed: int = 0,
) -> Estimate:
    """The residual-risk estimate of one hazard (the sum over its records), or of one record,
    at each date (day numbers)."""
    _check_run(draws, seed)
    days = _as_days(dates)
    T, D, R = days.size, int(draws), len(records)
    out = {k: np.zeros(T, dtype=np.float64) for k in STATISTICS + COUNT_STATISTICS}
    assumptions = _assumptions(records, D)
    if R == 0 or T == 0:
        return Estimate(days, **out, draws=D, seed=int(seed), assumptions=assumptions)
    for i, r in enumerate(records):
        if not math.isfinite(r.laid_day):
            raise ValidationError(
                "invalid record", [Fault("laid day must be finite", index=i, field="laid_day")]
            )

    # states of each record at each date; every statistic depends on a date only through them
    S = np.stack([r.lifecycle.state(days - r.laid_day) for r in records])  # R x T
    uniq, inv = np.unique(S.T, axis=0, return_inverse=True)  # U x R
    inv = np.asarray(inv).reshape(-1)
    U = uniq.shape[0]

    lcs: list[Lifecycle] = []
    lc_of = np.empty(R, dtype=np.intp)
    for i, r in enumerate(records):
        if r.lifecycle not in lcs:
            lcs.append(r.lifecycle)
        lc_of[i] = lcs.index(r.lifecycle)
    pi = np.stack([_pi_table(lc, D, seed) for lc in lcs])  # L x 4 x D
    logpi = _log1m(pi)
    mean_pi = np.stack([_mean_pi(lc) for lc in lcs])  # L x 4

    rng = np.random.default_rng([int(seed), _QUANTITY, 0])
    N = np.stack([r.quantity.draw(rng, D) for r in records])  # R x D
    EN = np.array([r.quantity.mean for r in records], dtype=np.float64)
    N_whole = _whole(N)

    col = uniq.astype(np.intp) + 1  # U x R, column of the pi table
    # closed form and plug-in, exact
    mp = mean_pi[lc_of[None, :], col]  # U x R
    ex = (EN[None, :] * mp).sum(axis=1)
    plug = _neg_expm1(_times_log(np.broadcast_to(EN[None, :], mp.shape), _log1m(mp)).sum(axis=1))

    stats = {
        k: np.empty(U, dtype=np.float64)
        for k in STATISTICS + COUNT_STATISTICS
        if k not in ("expected_live", "p_any_live")
    }
    step = max(1, _TARGET_ELEMENTS // (R * D))
    for u0 in range(0, U, step):
        c = col[u0 : u0 + step]  # Uc x R
        P = pi[lc_of[None, :], c, :]  # Uc x R x D
        V = np.sort((N[None, :, :] * P).sum(axis=1), axis=-1)  # Uc x D
        W = _times_log(np.broadcast_to(N[None, :, :], P.shape), logpi[lc_of[None, :], c, :]).sum(
            axis=1
        )
        A = _neg_expm1(W)
        sl = slice(u0, u0 + c.shape[0])
        stats["p_any_live_mean"][sl] = A.mean(axis=-1)
        A.sort(axis=-1)
        stats["expected_live_p05"][sl] = _quantile_sorted(V, QUANTILES[0])
        stats["expected_live_p95"][sl] = _quantile_sorted(V, QUANTILES[1])
        stats["p_any_live_p05"][sl] = _quantile_sorted(A, QUANTILES[0])
        stats["p_any_live_p95"][sl] = _quantile_sorted(A, QUANTILES[1])
        for j, u in enumerate(range(u0, u0 + c.shape[0])):
            qs = _count_quantiles(N_whole, P[j], lc_of * 4 + c[j], uniq[u], int(seed))
            stats["live_count_p05"][u], stats["live_count_p95"][u] = qs
    out["expected_live"] = ex[inv]
    out["p_any_live"] = plug[inv]
    for k, v in stats.items():
        out[k] = v[inv]
    return Estimate(days, **out, draws=D, seed=int(seed), assumptions=assumptions)


# --- many records -----------------------------------------------------------------------------


def _check_many(n_types: int, type_index: NDArray[Any], b: F64, a: F64, c: F64, laid: F64) -> None:
    faults: list[Fault] = []

    def add(mask: NDArray[np.bool_], fld: str, reason: str) -> None:
        for i in np.flatnonzero(mask)[:50]:
            faults.append(Fault(reason, index=int(i), field=fld))

    add((type_index < 0) | (type_index >= n_types), "type_index", "no such lifecycle")
    add(~(np.isfinite(b) & (b >= 0)), "q_best", "must be a finite number >= 0")
    add(~(np.isfinite(a) & (a >= 0)), "q_low", "must be a finite number >= 0 (or NaN: none)")
    add(~(np.isfinite(c) & (c >= 0)), "q_high", "must be a finite number >= 0 (or NaN: none)")
    add(a > b, "q_low", "min above the best estimate")
    add(c < b, "q_high", "max below the best estimate")
    add(~np.isfinite(laid), "laid_day", "must be a finite day number")
    if faults:
        raise ValidationError("invalid records", faults)


def estimate_many(
    lifecycles: Sequence[Lifecycle],
    type_index: ArrayLike,
    q_best: ArrayLike,
    q_low: ArrayLike,
    q_high: ArrayLike,
    laid_day: ArrayLike,
    dates: ArrayLike,
    *,
    draws: int = 1000,
    seed: int = 0,
    chunk: int = 4 * BLOCK,
    workers: int | None = None,
) -> dict[str, F64]:
    """Statistics for each RECORD on its own (R x T arrays, one key per statistic).

    Record r has lifecycle ``lifecycles[type_index[r]]``, quantity ``q_best[r]`` with optional
    ``q_low[r]`` / ``q_high[r]`` (NaN: none), laid on day ``laid_day[r]``. Records are worked
    through in chunks of ``chunk`` (rounded up to a multiple of ``BLOCK``) on ``workers``
    threads (default: the number of CPUs, at most 4); memory is about
    ``workers x chunk x draws x 40`` bytes plus the output (R x T x 7 x 8 bytes).
    """
    _check_run(draws, seed)
    days = _as_days(dates)
    ti = np.asarray(type_index, dtype=np.intp).reshape(-1)
    b = np.asarray(q_best, dtype=np.float64).reshape(-1)
    a = np.asarray(q_low, dtype=np.float64).reshape(-1)
    c = np.asarray(q_high, dtype=np.float64).reshape(-1)
    laid = np.asarray(laid_day, dtype=np.float64).reshape(-1)
    R, T, D = ti.size, days.size, int(draws)
    if not (b.size == a.size == c.size == laid.size == R):
        raise ValidationError(
            "invalid records",
            [
                Fault(
                    "type_index, q_best, q_low, q_high and laid_day must have the same length",
                    field="records",
                )
            ],
        )
    a = np.where(np.isnan(a), b, a)
    c = np.where(np.isnan(c), b, c)
    _check_many(len(lifecycles), ti, b, a, c, laid)
    out = {k: np.zeros((R, T), dtype=np.float64) for k in STATISTICS}
    if R == 0 or T == 0:
        return out

    K = len(lifecycles)
    sd_thr = np.array([lc.sd_threshold for lc in lifecycles], dtype=np.float64)
    bat_thr = np.array([lc.battery_threshold for lc in lifecycles], dtype=np.float64)
    pi = np.stack([_pi_table(lc, D, seed) for lc in lifecycles]) if K else np.empty((0, 4, D))
    logpi = _log1m(pi)
    mean_pi = np.stack([_mean_pi(lc) for lc in lifecycles])  # K x 4
    log_mean_pi = _log1m(mean_pi)
    fixed = a == c
    with np.errstate(invalid="ignore", divide="ignore"):
        al, be = _pert_shape(a, b, c)
    en = np.where(fixed, b, (a + 4.0 * b + c) / 6.0)
    qpos = [_qpos(D, q) for q in QUANTILES]

    blk = max(1, math.ceil(max(int(chunk), 1) / BLOCK))
    starts = list(range(0, R, blk * BLOCK))

    def work(r0: int) -> None:
        r1 = min(R, r0 + blk * BLOCK)
        k = ti[r0:r1]
        t = days[None, :] - laid[r0:r1, None]
        st = np.zeros(t.shape, dtype=np.int8)
        st[t >= sd_thr[k][:, None]] = AFTER_SD
        st[t >= bat_thr[k][:, None]] = AFTER_BATTERY
        st[t < 0] = BEFORE_LAYING
        n = r1 - r0
        # quantity draws, one stream per block of BLOCK records
        N = np.empty((n, D), dtype=np.float64)
        N[:] = b[r0:r1, None]
        for q0 in range(r0, r1, BLOCK):
            q1 = min(r1, q0 + BLOCK)
            rows = np.flatnonzero(~fixed[q0:q1]) + q0
            if rows.size:
                rng = np.random.default_rng([int(seed), _QUANTITY, q0 // BLOCK + 1])
                x = rng.beta(al[rows, None], be[rows, None], size=(rows.size, D))
                x *= (c[rows] - a[rows])[:, None]
                x += a[rows, None]
                N[rows - r0] = x
        tab = np.zeros((len(STATISTICS), n, 4), dtype=np.float64)  # column 0: before laying
        e = en[r0:r1]
        for s in (LIVE, AFTER_SD, AFTER_BATTERY):
            rows = np.flatnonzero((st == s).any(axis=1))
            if rows.size == 0:
                continue
            kr = k[rows]
            tab[0, rows, s + 1] = e[rows] * mean_pi[kr, s + 1]
            tab[3, rows, s + 1] = _neg_expm1(_times_log(e[rows], log_mean_pi[kr, s + 1]))
            Nr = N[rows]
            if s == LIVE:  # P = 1: the value is N, any-live is 1 whenever N > 0
                V = np.sort(Nr, axis=-1)
                tab[4, rows, s + 1] = (Nr > 0).mean(axis=-1)
                for j, (lo, hi, w) in enumerate(qpos):
                    tab[1 + j, rows, s + 1] = _lerp(V[:, lo], V[:, hi], w)
                    tab[5 + j, rows, s + 1] = _lerp(
                        (V[:, lo] > 0).astype(np.float64), (V[:, hi] > 0).astype(np.float64), w
                    )
                continue
            V = Nr * pi[kr, s + 1, :]
            V.sort(axis=-1)
            W = _times_log(Nr, logpi[kr, s + 1, :])
            tab[4, rows, s + 1] = _neg_expm1(W).mean(axis=-1)
            W.sort(axis=-1)  # ascending W = descending any-live
            for j, (lo, hi, w) in enumerate(qpos):
                tab[1 + j, rows, s + 1] = _lerp(V[:, lo], V[:, hi], w)
                tab[5 + j, rows, s + 1] = _lerp(
                    _neg_expm1(W[:, D - 1 - lo]), _neg_expm1(W[:, D - 1 - hi]), w
                )
            del V, W
        idx = st.astype(np.intp) + 1
        for j, name in enumerate(STATISTICS):
            out[name][r0:r1] = np.take_along_axis(tab[j], idx, axis=1)

    nw = workers if workers is not None else min(4, os.cpu_count() or 1)
    if nw <= 1 or len(starts) == 1:
        for r0 in starts:
            work(r0)
    else:
        with ThreadPoolExecutor(max_workers=nw) as ex:
            for f in [ex.submit(work, r0) for r0 in starts]:
                f.result()
    return out
