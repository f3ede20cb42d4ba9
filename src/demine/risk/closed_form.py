"""Exact statistics for one record of a fixed number of devices at one time after laying
(:func:`closed_form`): the check of the Monte Carlo estimators (tests/test_risk_model.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special  # type: ignore[import-untyped]

from demine.errors import Fault, ValidationError
from demine.risk.inputs import finite_nonneg
from demine.risk.kernels import QUANTILES, STATISTICS
from demine.risk.lifecycle import BEFORE_LAYING, LIVE, Lifecycle

__all__ = ["closed_form"]


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
    if not finite_nonneg(n):
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
