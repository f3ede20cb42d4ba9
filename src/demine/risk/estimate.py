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

The pieces live in sibling modules: :mod:`~demine.risk.dates` (day numbers),
:mod:`~demine.risk.inputs` (quantities and records), :mod:`~demine.risk.kernels` (the shared
streams and numerics), :mod:`~demine.risk.closed_form` (exact statistics of one record) and
:mod:`~demine.risk.many` (:func:`estimate_many`); this module is their public face and holds
:func:`estimate`, the estimate of one hazard.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from demine.errors import Fault, ValidationError
from demine.model.devices import Persistence
from demine.risk.closed_form import closed_form
from demine.risk.dates import dates_series, day_number, iso_date
from demine.risk.inputs import Quantity, RecordInput
from demine.risk.kernels import (
    COUNT_STATISTICS,
    F64,
    QUANTILES,
    QUANTITY_STREAM,
    STATISTICS,
    as_days,
    check_run,
    log1m,
    neg_expm1,
    pi_means,
    pi_table,
    quantile_sorted,
    rate_draws,
    times_log,
)
from demine.risk.lifecycle import Lifecycle
from demine.risk.many import BLOCK, estimate_many

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

_COUNT = 0x434F554E  # stream tag ("COUN") of the predictive count
_TARGET_ELEMENTS = 4_000_000  # per working array in estimate()


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
    check_run(draws, seed)
    days = as_days(dates)
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
    pi = np.stack([pi_table(lc, D, seed) for lc in lcs])  # L x 4 x D
    logpi = log1m(pi)
    mean_pi = np.stack([pi_means(lc) for lc in lcs])  # L x 4

    rng = np.random.default_rng([int(seed), QUANTITY_STREAM, 0])
    N = np.stack([r.quantity.draw(rng, D) for r in records])  # R x D
    EN = np.array([r.quantity.mean for r in records], dtype=np.float64)
    N_whole = _whole(N)

    col = uniq.astype(np.intp) + 1  # U x R, column of the pi table
    # closed form and plug-in, exact
    mp = mean_pi[lc_of[None, :], col]  # U x R
    ex = (EN[None, :] * mp).sum(axis=1)
    plug = neg_expm1(times_log(np.broadcast_to(EN[None, :], mp.shape), log1m(mp)).sum(axis=1))

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
        W = times_log(np.broadcast_to(N[None, :, :], P.shape), logpi[lc_of[None, :], c, :]).sum(
            axis=1
        )
        A = neg_expm1(W)
        sl = slice(u0, u0 + c.shape[0])
        stats["p_any_live_mean"][sl] = A.mean(axis=-1)
        A.sort(axis=-1)
        stats["expected_live_p05"][sl] = quantile_sorted(V, QUANTILES[0])
        stats["expected_live_p95"][sl] = quantile_sorted(V, QUANTILES[1])
        stats["p_any_live_p05"][sl] = quantile_sorted(A, QUANTILES[0])
        stats["p_any_live_p95"][sl] = quantile_sorted(A, QUANTILES[1])
        for j, u in enumerate(range(u0, u0 + c.shape[0])):
            qs = _count_quantiles(N_whole, P[j], lc_of * 4 + c[j], uniq[u], int(seed))
            stats["live_count_p05"][u], stats["live_count_p95"][u] = qs
    out["expected_live"] = ex[inv]
    out["p_any_live"] = plug[inv]
    for k, v in stats.items():
        out[k] = v[inv]
    return Estimate(days, **out, draws=D, seed=int(seed), assumptions=assumptions)
