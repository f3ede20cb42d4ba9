"""Statistics for each of many records on its own (:func:`estimate_many`), vectorised and
threaded: the map of every emplacement record and the benchmarks. Its random streams are
described in :mod:`demine.risk.estimate`."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from demine.errors import Fault, ValidationError
from demine.risk.inputs import pert_shape
from demine.risk.kernels import (
    F64,
    QUANTILES,
    QUANTITY_STREAM,
    STATISTICS,
    as_days,
    check_run,
    lerp,
    log1m,
    neg_expm1,
    pi_means,
    pi_table,
    quantile_pos,
    times_log,
)
from demine.risk.lifecycle import AFTER_BATTERY, AFTER_SD, BEFORE_LAYING, LIVE, Lifecycle

__all__ = ["BLOCK", "estimate_many"]

BLOCK = 1024  # estimate_many: records per quantity stream


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
    check_run(draws, seed)
    days = as_days(dates)
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
    pi = np.stack([pi_table(lc, D, seed) for lc in lifecycles]) if K else np.empty((0, 4, D))
    logpi = log1m(pi)
    mean_pi = np.stack([pi_means(lc) for lc in lifecycles])  # K x 4
    log_mean_pi = log1m(mean_pi)
    fixed = a == c
    with np.errstate(invalid="ignore", divide="ignore"):
        al, be = pert_shape(a, b, c)
    en = np.where(fixed, b, (a + 4.0 * b + c) / 6.0)
    qpos = [quantile_pos(D, q) for q in QUANTILES]

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
                rng = np.random.default_rng([int(seed), QUANTITY_STREAM, q0 // BLOCK + 1])
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
            tab[3, rows, s + 1] = neg_expm1(times_log(e[rows], log_mean_pi[kr, s + 1]))
            Nr = N[rows]
            if s == LIVE:  # P = 1: the value is N, any-live is 1 whenever N > 0
                V = np.sort(Nr, axis=-1)
                tab[4, rows, s + 1] = (Nr > 0).mean(axis=-1)
                for j, (lo, hi, w) in enumerate(qpos):
                    tab[1 + j, rows, s + 1] = lerp(V[:, lo], V[:, hi], w)
                    tab[5 + j, rows, s + 1] = lerp(
                        (V[:, lo] > 0).astype(np.float64), (V[:, hi] > 0).astype(np.float64), w
                    )
                continue
            V = Nr * pi[kr, s + 1, :]
            V.sort(axis=-1)
            W = times_log(Nr, logpi[kr, s + 1, :])
            tab[4, rows, s + 1] = neg_expm1(W).mean(axis=-1)
            W.sort(axis=-1)  # ascending W = descending any-live
            for j, (lo, hi, w) in enumerate(qpos):
                tab[1 + j, rows, s + 1] = lerp(V[:, lo], V[:, hi], w)
                tab[5 + j, rows, s + 1] = lerp(
                    neg_expm1(W[:, D - 1 - lo]), neg_expm1(W[:, D - 1 - hi]), w
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
