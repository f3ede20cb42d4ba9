"""The residual-risk model (demine.risk): lifecycles, estimates against their closed forms,
hazard sums with correlated failure rates, the vectorised many-record path, and learning from
clearance. No store, no CLI: the domain alone."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import special, stats

from demine.errors import ValidationError
from demine.model.devices import CATALOGUE, BetaPrior, DeviceType, Persistence, device_type
from demine.risk import (
    STATISTICS,
    Lifecycle,
    Quantity,
    RecordInput,
    closed_form,
    dates_series,
    day_number,
    estimate,
    estimate_many,
    iso_date,
    rate_draws,
)

APII = Lifecycle.from_device_type(device_type("apii-limit"))
SD_ONLY = Lifecycle.from_device_type(device_type("ap-sd-only"))
PERSISTENT = Lifecycle.from_device_type(device_type("at-persistent"))
SDA_ONLY = Lifecycle(
    "sda-only", Persistence.SELF_DEACTIVATE, None, 120.0, None, BetaPrior(1, 999), ""
)
LIFECYCLES = [Lifecycle.from_device_type(d) for d in CATALOGUE]


def one(lc: Lifecycle, n: float | Quantity, days: list[float], **kw: int) -> dict[str, np.ndarray]:
    q = n if isinstance(n, Quantity) else Quantity(float(n))
    e = estimate([RecordInput(lc, q, 0.0)], np.asarray(days, dtype=float), **kw)
    return {k: getattr(e, k) for k in STATISTICS}


# --- the treaty limits ------------------------------------------------------------------------


def test_apii_limit_1000_devices_at_day_120() -> None:
    r = one(APII, 1000, [120.0])
    # 1,000 devices x mean residual 1/1,000 = 1 expected live device
    assert r["expected_live"][0] == pytest.approx(1.00, abs=0.05)
    assert r["expected_live"][0] == pytest.approx(1.0, rel=1e-12)
    # 1 - (1 - 0.001)^1000 = 1 - e^(1000 ln 0.999) = 1 - e^-1.0005 = 0.6323
    assert r["p_any_live"][0] == pytest.approx(0.632, abs=0.01)
    assert r["p_any_live"][0] == pytest.approx(1 - 0.999**1000, rel=1e-12)
    assert r["expected_live_p05"][0] < r["expected_live"][0] < r["expected_live_p95"][0]


def test_apii_limit_day_30_at_most_100_not_self_destructed() -> None:
    r = one(APII, 1000, [29.99, 30.0, 60.0, 119.99])
    assert r["expected_live"][0] == 1000.0  # before the nominal self-destruct time
    assert r["expected_live"][1] <= 100.0
    assert r["expected_live"][1] == pytest.approx(100.0, rel=1e-12)  # exactly the 10% limit
    assert r["expected_live"][2] == r["expected_live"][3] == r["expected_live"][1]


def test_lifecycle_states_and_p_live() -> None:
    t = np.array([-1.0, 0.0, 29.0, 30.0, 119.0, 120.0, 1e6])
    assert APII.state(t).tolist() == [-1, 0, 0, 1, 1, 2, 2]
    assert SD_ONLY.state(t).tolist() == [-1, 0, 0, 1, 1, 1, 1]
    assert PERSISTENT.state(t).tolist() == [-1, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(APII.p_live(t), [0, 1, 1, 0.1, 0.1, 0.001, 0.001])
    np.testing.assert_allclose(SD_ONLY.p_live(t), [0, 1, 1, 0.1, 0.1, 0.1, 0.1])
    np.testing.assert_array_equal(PERSISTENT.p_live(t), [0, 1, 1, 1, 1, 1, 1])
    # broadcasting: draws x dates
    p = APII.p_live(t[None, :], np.array([0.2, 0.3])[:, None], np.array([0.01, 0.02])[:, None])
    assert p.shape == (2, 7) and p[1, 3] == 0.3 and p[1, 6] == 0.02
    sda = Lifecycle("sda", Persistence.SELF_DEACTIVATE, None, 50.0, None, BetaPrior(1, 99), "")
    assert sda.state(t).tolist() == [-1, 0, 0, 0, 2, 2, 2]  # battery life 50 days
    assert APII.treaty_limits and not PERSISTENT.treaty_limits


def test_persistent_devices_stay_live_and_nothing_before_laying() -> None:
    r = one(PERSISTENT, 250, [-0.5, 0.0, 365.0, 36500.0])
    assert r["expected_live"].tolist() == [0.0, 250.0, 250.0, 250.0]
    assert r["p_any_live"].tolist() == [0.0, 1.0, 1.0, 1.0]
    for k in STATISTICS:
        assert r[k][0] == 0.0  # not yet laid
    assert r["expected_live_p05"][-1] == r["expected_live_p95"][-1] == 250.0


def test_incomplete_lifecycles() -> None:
    with pytest.raises(ValidationError) as ei:
        Lifecycle("x", Persistence.BOTH, 30.0, 120.0, BetaPrior(1, 9), None, "")
    assert ei.value.faults[0].field == "residual"
    with pytest.raises(ValidationError) as ei:
        Lifecycle("x", Persistence.BOTH, 130.0, 120.0, BetaPrior(1, 9), BetaPrior(1, 9), "")
    assert ei.value.faults[0].field == "battery_days"
    # from a device type: a mechanism without its prior is not credited (conservative)
    dt = DeviceType(
        "nopri", "n", "other", Persistence.BOTH, 30.0, 120.0, BetaPrior(10, 90), None, ""
    )
    lc = Lifecycle.from_device_type(dt)
    assert lc.persistence is Persistence.SELF_DESTRUCT and lc.notes
    assert one(lc, 10, [200.0])["expected_live"][0] == pytest.approx(1.0)  # 10 x 0.1


# --- Monte Carlo against the closed forms -----------------------------------------------------


@pytest.mark.parametrize(("lc", "t"), [(APII, 60.0), (SDA_ONLY, 200.0), (SD_ONLY, 45.0)])
def test_monte_carlo_agrees_with_closed_form(lc: Lifecycle, t: float) -> None:
    n, draws = 1000.0, 20_000
    mc = one(lc, n, [t], draws=draws, seed=7)
    cf = closed_form(lc, n, t)
    prior = lc.prior(int(lc.state(t)))
    assert prior is not None
    a, b = prior.alpha, prior.beta
    assert mc["expected_live"][0] == pytest.approx(cf["expected_live"], rel=1e-12)
    assert mc["p_any_live"][0] == pytest.approx(cf["p_any_live"], rel=1e-12)
    # quantiles: standard error of a sample quantile sqrt(q (1 - q) / D) / f(x_q)
    for q, key in ((0.05, "expected_live_p05"), (0.95, "expected_live_p95")):
        xq = special.betaincinv(a, b, q)
        se = n * math.sqrt(q * (1 - q) / draws) / stats.beta.pdf(xq, a, b)
        assert abs(mc[key][0] - cf[key]) < 4 * se, key
        # any-live quantiles: the same draws through p -> 1 - (1 - p)^n
        k2 = key.replace("expected_live", "p_any_live")
        slope = n * (1 - xq) ** (n - 1)
        assert abs(mc[k2][0] - cf[k2]) < 4 * se / n * slope + 1e-12, k2
    # the mean over draws of 1 - (1 - P)^n, against 1 - B(a, b + n) / B(a, b)
    e1 = math.exp(special.betaln(a, b + n) - special.betaln(a, b))
    e2 = math.exp(special.betaln(a, b + 2 * n) - special.betaln(a, b))
    sd = math.sqrt(max(e2 - e1 * e1, 0.0))
    assert abs(mc["p_any_live_mean"][0] - cf["p_any_live_mean"]) < 4 * sd / math.sqrt(draws)
    assert cf["p_any_live_mean"] == pytest.approx(1 - e1, rel=1e-12)
    # and the draws of the rate itself
    p_sd, p_res = rate_draws(lc, draws, 7)
    p = p_sd if prior == lc.sd_fail else p_res
    assert p is not None
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert abs(p.mean() - prior.mean) < 4 * math.sqrt(var / draws)


def test_degenerate_cases_agree_exactly() -> None:
    for lc, n, t in (
        (PERSISTENT, 37.0, 400.0),
        (APII, 1000.0, 29.0),
        (APII, 5.0, -3.0),
        (SD_ONLY, 0.0, 90.0),
    ):
        mc = one(lc, n, [t], draws=500)
        cf = closed_form(lc, n, t)
        for k in STATISTICS:
            assert mc[k][0] == cf[k], (lc.code, t, k)


def test_sda_only_day_120_closed_form_numbers() -> None:
    cf = closed_form(SDA_ONLY, 1000, 120)
    # Beta(1, b) has the closed quantile 1 - (1 - q)^(1/b): 1000 x that
    assert cf["expected_live_p05"] == pytest.approx(1000 * (1 - 0.95 ** (1 / 999)), rel=1e-9)
    assert cf["expected_live_p95"] == pytest.approx(1000 * (1 - 0.05 ** (1 / 999)), rel=1e-9)
    # E[(1 - P)^N] = B(1, 999 + 1000) / B(1, 999) = 999 / 1999
    assert cf["p_any_live_mean"] == pytest.approx(1 - 999 / 1999, rel=1e-12)
    assert cf["p_any_live"] > cf["p_any_live_mean"]  # the plug-in is the conservative headline


def test_coherent_product_closed_form_against_an_independent_integral_and_draws() -> None:
    """After the battery life of a type with both mechanisms P = p_sd * q: the quadrature
    closed form against scipy's adaptive integration and against 400,000 draws."""
    from scipy import integrate

    sd, q = APII.sd_fail, APII.deact_fail
    assert sd is not None and q is not None
    n = 1000.0
    cf = closed_form(APII, n, 200.0)
    assert cf["expected_live"] == pytest.approx(n * sd.mean * q.mean, rel=1e-12)
    assert cf["expected_live"] == pytest.approx(1.0, rel=1e-12)  # the treaty limit, coherent

    def inner(x: float) -> float:
        return float(
            integrate.quad(
                lambda y: (1 - x * y) ** n * stats.beta.pdf(y, q.alpha, q.beta), 0, 1, limit=200
            )[0]
        )

    surv = integrate.quad(lambda x: inner(x) * stats.beta.pdf(x, sd.alpha, sd.beta), 0, 1)[0]
    assert cf["p_any_live_mean"] == pytest.approx(1 - surv, rel=1e-6)
    draws = 400_000
    p_sd, p_res = rate_draws(APII, draws, 3)
    assert p_sd is not None and p_res is not None
    assert (p_res <= p_sd).all()
    for qq, key in ((0.05, "expected_live_p05"), (0.95, "expected_live_p95")):
        assert n * np.quantile(p_res, qq) == pytest.approx(cf[key], rel=0.02), key
    mc = 1 - np.exp(n * np.log1p(-p_res))
    assert mc.mean() == pytest.approx(cf["p_any_live_mean"], abs=4 * mc.std() / draws**0.5)
    # the prior of p_res it replaces: Beta(1, 999), matched in mean and variance
    assert p_res.mean() == pytest.approx(0.001, rel=0.01)
    assert p_res.std() == pytest.approx(math.sqrt(999 / (1000**2 * 1001)), rel=0.02)


def test_same_seed_same_numbers_other_seed_other_draws() -> None:
    recs = [
        RecordInput(APII, Quantity(1000, 800, 1500), 0.0),
        RecordInput(SD_ONLY, Quantity(40, 10, 50), 20.0),
    ]
    days = dates_series(0, 400, 10)
    a = estimate(recs, days, draws=800, seed=3)
    b = estimate(recs, days, draws=800, seed=3)
    c = estimate(recs, days, draws=800, seed=4)
    for k in STATISTICS:
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    np.testing.assert_array_equal(a.expected_live, c.expected_live)  # closed form: no draws
    assert not np.array_equal(a.expected_live_p95, c.expected_live_p95)
    assert not np.array_equal(rate_draws(APII, 10, 3)[0], rate_draws(APII, 10, 4)[0])
    assert a.seed == 3 and a.draws == 800


# --- hazards ----------------------------------------------------------------------------------


def test_hazard_sums_its_records() -> None:
    days = np.array([-10.0, 5.0, 40.0, 130.0, 1000.0])
    r1 = RecordInput(APII, Quantity(1000), 0.0)
    r2 = RecordInput(SD_ONLY, Quantity(50), 20.0)
    r3 = RecordInput(PERSISTENT, Quantity(3), 100.0)
    h = estimate([r1, r2, r3], days)
    singles = [estimate([r], days) for r in (r1, r2, r3)]
    np.testing.assert_allclose(h.expected_live, sum(s.expected_live for s in singles))
    # the plug-in: 1 - prod_r (1 - E[P_r])^E[N_r]
    none_live = np.prod([1 - s.p_any_live for s in singles], axis=0)
    np.testing.assert_allclose(h.p_any_live, 1 - none_live, atol=1e-12)
    assert h.expected_live.tolist()[:2] == [0.0, 1000.0]
    assert h.expected_live[2] == pytest.approx(100.0 + 50.0)  # day 40: r2 is 20 days old
    assert h.expected_live[4] == pytest.approx(1.0 + 5.0 + 3.0)
    assert estimate([], days).expected_live.tolist() == [0.0] * 5


def test_failure_rates_are_correlated_within_a_hazard() -> None:
    days = np.array([200.0])
    two = estimate(
        [RecordInput(APII, Quantity(500), 0.0), RecordInput(APII, Quantity(500), 0.0)],
        days,
        draws=20_000,
    )
    # the same priors under another code: independent draws
    other = dataclasses.replace(APII, code="apii-limit-b")
    indep = estimate(
        [RecordInput(APII, Quantity(500), 0.0), RecordInput(other, Quantity(500), 0.0)],
        days,
        draws=20_000,
    )
    spread = two.expected_live_p95 - two.expected_live_p05
    spread_indep = indep.expected_live_p95 - indep.expected_live_p05
    assert spread[0] > 1.2 * spread_indep[0]
    assert two.expected_live[0] == indep.expected_live[0] == pytest.approx(1.0)
    # fully correlated: 500 p + 500 p = 1000 p, the same numbers as one record of 1,000
    single = estimate([RecordInput(APII, Quantity(1000), 0.0)], days, draws=20_000)
    np.testing.assert_allclose(two.expected_live_p05, single.expected_live_p05, rtol=1e-12)
    np.testing.assert_allclose(two.expected_live_p95, single.expected_live_p95, rtol=1e-12)
    np.testing.assert_allclose(two.p_any_live_mean, single.p_any_live_mean, rtol=1e-12)


def test_estimate_outputs_and_assumptions() -> None:
    days = dates_series("2024-01-01", "2024-03-01", 30)
    e = estimate(
        [RecordInput(APII, Quantity(1000, 900, 1200), day_number("2023-12-01"), record_id="e-1")],
        days,
    )
    rows = e.to_dicts()
    assert [r["date"] for r in rows] == ["2024-01-01", "2024-01-31", "2024-03-01"]
    assert set(STATISTICS) | {"date", "draws", "seed", "assumptions"} <= set(rows[0])
    text = " | ".join(e.assumptions)
    assert "treaty limits, not field data" in text
    assert "nominal time" in text
    assert "e-1: quantity PERT(900, 1000, 1200)" in text
    assert "time never releases land" in text
    assert "never above p_sd in any draw" in text
    assert "compliant worst case" in text
    pers = estimate([RecordInput(PERSISTENT, Quantity(1), 0.0)], [1.0])
    assert "treaty limits" not in " ".join(pers.assumptions)
    with pytest.raises(ValidationError) as ei:
        estimate([RecordInput(APII, Quantity(1), 0.0)], [1.0], draws=0)
    assert ei.value.faults[0].field == "draws"


def test_dates() -> None:
    assert day_number("1970-01-02") == 1.0
    assert day_number(date(2024, 1, 1)) == 19723.0
    assert day_number(datetime(2024, 1, 1, 12, tzinfo=UTC)) == 19723.5
    assert day_number("2024-01-01T12:00:00Z") == 19723.5
    assert iso_date(19723.5) == "2024-01-01"
    s = dates_series("2024-01-01", "2024-12-30", 7)
    assert s.size == 53 and s[-1] == day_number("2024-12-30")  # 364 days: 52 weeks
    with pytest.raises(ValidationError):
        day_number("yesterday")
    with pytest.raises(ValidationError):
        dates_series(0, 10, 0)


# --- quantities -------------------------------------------------------------------------------


def test_quantity_pert() -> None:
    q = Quantity(100, 50, 250)
    assert q.mean == pytest.approx((50 + 400 + 250) / 6)
    al, be = q.pert()
    assert al == pytest.approx(1 + 4 * 50 / 200) and be == pytest.approx(1 + 4 * 150 / 200)
    x = q.draw(np.random.default_rng(0), 50_000)
    assert x.min() >= 50 and x.max() <= 250
    assert x.mean() == pytest.approx(q.mean, rel=0.01)
    assert Quantity(7).fixed and Quantity(7, 7, 7).fixed and Quantity(7).describe() == "fixed at 7"
    for bad, fld in (
        ((5, 6, None), "quantity.low"),
        ((5, None, 4), "quantity.high"),
        ((-1, None, None), "quantity.best"),
        ((float("nan"),), "quantity.best"),
    ):
        with pytest.raises(ValidationError) as ei:
            Quantity(*bad)  # type: ignore[arg-type]
        assert ei.value.faults[0].field == fld
    # an uncertain quantity widens the spread of a persistent record
    r = one(PERSISTENT, q, [10.0], draws=4000)
    assert 50 < r["expected_live_p05"][0] < 100 < r["expected_live_p95"][0] < 250
    assert r["expected_live"][0] == pytest.approx(q.mean)


# --- many records -----------------------------------------------------------------------------


def _many_inputs(r: int, seed: int = 5, pert: bool = True) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    ti = rng.integers(0, len(LIFECYCLES), r)
    best = rng.integers(1, 2000, r).astype(float)
    low = np.where(pert, np.floor(best * rng.uniform(0.5, 1.0, r)), np.nan)
    high = np.where(pert, np.ceil(best * rng.uniform(1.0, 2.0, r)), np.nan)
    laid = rng.uniform(-400, 100, r)
    return ti, best, low, high, laid


def test_estimate_many_fixed_quantities_agree_exactly_with_estimate() -> None:
    ti, best, low, high, laid = _many_inputs(40, pert=False)
    days = np.arange(0.0, 300.0, 7.0)
    m = estimate_many(LIFECYCLES, ti, best, low, high, laid, days, draws=700, seed=2)
    for r in range(40):
        e = estimate(
            [RecordInput(LIFECYCLES[ti[r]], Quantity(best[r]), laid[r])], days, draws=700, seed=2
        )
        for k in STATISTICS:
            np.testing.assert_allclose(
                m[k][r], getattr(e, k), rtol=1e-12, atol=1e-300, err_msg=f"record {r} {k}"
            )


def test_estimate_many_pert_quantities_agree_within_mc_error() -> None:
    ti, best, low, high, laid = _many_inputs(12)
    days = np.array([-500.0, 10.0, 50.0, 150.0, 400.0])
    m = estimate_many(LIFECYCLES, ti, best, low, high, laid, days, draws=20_000, seed=1)
    for r in range(12):
        e = estimate(
            [RecordInput(LIFECYCLES[ti[r]], Quantity(best[r], low[r], high[r]), laid[r])],
            days,
            draws=20_000,
            seed=1,
        )
        np.testing.assert_allclose(m["expected_live"][r], e.expected_live, rtol=1e-12)
        np.testing.assert_allclose(m["p_any_live"][r], e.p_any_live, rtol=1e-12)
        for k in ("expected_live_p05", "expected_live_p95"):
            np.testing.assert_allclose(
                m[k][r], getattr(e, k), rtol=0.05, atol=1e-9, err_msg=f"record {r} {k}"
            )
        for k in ("p_any_live_mean", "p_any_live_p05", "p_any_live_p95"):
            np.testing.assert_allclose(m[k][r], getattr(e, k), atol=0.03, err_msg=f"record {r} {k}")


def test_estimate_many_does_not_depend_on_chunks_or_threads() -> None:
    args = (LIFECYCLES, *_many_inputs(3000, seed=9), np.arange(0.0, 364.0, 28.0))
    a = estimate_many(*args, draws=200, seed=4, chunk=1024, workers=1)
    b = estimate_many(*args, draws=200, seed=4, chunk=2048, workers=2)
    for k in STATISTICS:
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].shape == (3000, 13)
    c = estimate_many(*args, draws=200, seed=5, chunk=1024, workers=1)
    assert not np.array_equal(a["expected_live_p95"], c["expected_live_p95"])


def test_estimate_many_validates() -> None:
    with pytest.raises(ValidationError) as ei:
        estimate_many(
            LIFECYCLES, [0, 1], [10.0, 5.0], [np.nan, 6.0], [np.nan, np.nan], [0.0, 0.0], [1.0]
        )
    assert [(f.index, f.field) for f in ei.value.faults] == [(1, "q_low")]
    with pytest.raises(ValidationError) as ei:
        estimate_many(LIFECYCLES, [99], [1.0], [np.nan], [np.nan], [0.0], [1.0])
    assert ei.value.faults[0].field == "type_index"


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.integers(0, len(LIFECYCLES) - 1),
    n=st.floats(1.0, 1e5),
    days=st.lists(st.floats(0.0, 2000.0), min_size=1, max_size=12),
)
def test_expected_live_never_rises_after_laying(k: int, n: float, days: list[float]) -> None:
    lc = LIFECYCLES[k]
    d = np.sort(np.asarray(days))
    e = estimate([RecordInput(lc, Quantity(n), 0.0)], d, draws=64)
    assert np.all(np.diff(e.expected_live) <= 1e-9 * n)
    for key in ("p_any_live", "p_any_live_mean", "p_any_live_p05", "p_any_live_p95"):
        v = getattr(e, key)
        assert np.all((v >= 0) & (v <= 1)), key
    assert np.all(e.expected_live_p05 <= e.expected_live_p95)
    for t, plug in zip(d, e.p_any_live, strict=True):
        cf = closed_form(lc, n, float(t))
        # 1 - (1 - p)^N is concave in p for N >= 1: the plug-in is never below the average
        assert plug >= cf["p_any_live_mean"] - 1e-12
        assert 0 <= cf["p_any_live_p05"] <= cf["p_any_live_p95"] <= 1


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(0, len(LIFECYCLES) - 1),
    n=st.integers(1, 5000),
    t=st.floats(-100.0, 2000.0),
)
def test_plug_in_is_at_least_the_predictive_probability(k: int, n: int, t: float) -> None:
    lc = LIFECYCLES[k]
    e = estimate([RecordInput(lc, Quantity(float(n)), 0.0)], [t], draws=4000, seed=1)
    cf = closed_form(lc, float(n), t)
    assert e.p_any_live[0] >= cf["p_any_live_mean"] - 1e-12
    # the Monte Carlo average, within its error (std <= 1/2)
    assert e.p_any_live[0] >= e.p_any_live_mean[0] - 4 * 0.5 / math.sqrt(4000)
    if t < 0:
        assert e.expected_live[0] == e.p_any_live[0] == 0.0


def test_step_function_guards() -> None:
    # nominal times must be > 0: at 0 every device counts at its failure rate on the day laid
    with pytest.raises(ValidationError) as ei:
        Lifecycle("x", Persistence.BOTH, 0.0, 120.0, BetaPrior(1, 9), BetaPrior(1, 99), "")
    assert [f.field for f in ei.value.faults] == ["sd_days"] and "> 0" in str(
        ei.value.faults[0].reason
    )
    with pytest.raises(ValidationError) as ei:
        Lifecycle("x", Persistence.SELF_DEACTIVATE, None, 0.0, None, BetaPrior(1, 99), "")
    assert [f.field for f in ei.value.faults] == ["battery_days"]
    # a stored type with a zero time: the mechanism is not credited (conservative), with a note
    dt = DeviceType(
        "zero", "z", "other", Persistence.BOTH, 0.0, 0.0, BetaPrior(10, 90), BetaPrior(1, 999), ""
    )
    lc = Lifecycle.from_device_type(dt)
    assert lc.persistence is Persistence.PERSISTENT and len(lc.notes) == 2
    assert one(lc, 100, [5.0])["expected_live"][0] == 100.0
    # record-level times: the later of the type's and the record's
    rec = APII.for_record(self_destruct_days=45.0, fuse_life_days=200.0)
    assert (rec.sd_days, rec.battery_days) == (45.0, 200.0) and rec.notes
    assert APII.for_record(self_destruct_days=10.0, fuse_life_days=60.0) is APII
    assert APII.for_record(None, None) is APII and APII.for_record(0.0, 0.0) is APII
    # a record self-destruct time past the type's battery life moves the battery life with it
    r2 = APII.for_record(self_destruct_days=150.0)
    assert (r2.sd_days, r2.battery_days) == (150.0, 150.0)
    # a persistent type stays persistent whatever the record says
    assert PERSISTENT.for_record(30.0, 120.0) is PERSISTENT
    # the estimate uses them: at day 40 the record's devices have not self-destructed yet
    r = one(rec, 1000, [40.0, 100.0, 150.0, 250.0])
    assert r["expected_live"].tolist() == pytest.approx([1000.0, 100.0, 100.0, 1.0])
    base = one(APII, 1000, [40.0, 150.0])
    assert base["expected_live"].tolist() == pytest.approx([100.0, 1.0])


def test_zero_quantity_gives_zero_not_negative_zero() -> None:
    for lc in (APII, SD_ONLY, PERSISTENT):
        r = one(lc, 0, [-1.0, 10.0, 60.0, 400.0])
        for k in STATISTICS:
            for v in r[k]:
                assert v == 0.0 and math.copysign(1.0, float(v)) == 1.0, (lc.code, k, v)
        many = estimate_many([lc], [0], [0.0], [np.nan], [np.nan], [0.0], [10.0, 400.0])
        for k in STATISTICS:
            assert all(math.copysign(1.0, float(v)) == 1.0 for v in many[k].ravel()), k


# --- the predictive count of live devices -----------------------------------------------------

RES_ONLY = Lifecycle(
    "res-only", Persistence.SELF_DEACTIVATE, None, 120.0, None, BetaPrior(1.0, 999.0), ""
)


def _count_ok(k_hat: float, cdf: Any, q: float, draws: int) -> None:
    """``k_hat`` is the 'inverted_cdf' quantile of ``draws`` draws of a count whose exact cdf is
    ``cdf``: the empirical cdf at k_hat reaches q, the one at k_hat - 1 does not. Within
    Monte Carlo error: 4 standard errors of an empirical cdf."""
    assert k_hat == math.floor(k_hat) >= 0
    tol = 4 * math.sqrt(q * (1 - q) / draws)
    assert cdf(k_hat) >= q - tol, (k_hat, cdf(k_hat), q)
    assert k_hat == 0 or cdf(k_hat - 1) <= q + tol, (k_hat, cdf(k_hat - 1), q)


@pytest.mark.parametrize(
    ("lc", "n", "t"),
    [(SD_ONLY, 200, 45.0), (SD_ONLY, 7, 400.0), (RES_ONLY, 1000, 120.0), (RES_ONLY, 5000, 300.0)],
)
def test_live_count_quantiles_agree_with_the_beta_binomial(lc: Lifecycle, n: int, t: float) -> None:
    """One record of a fixed quantity: K ~ BetaBinomial(n, a, b) exactly."""
    draws = 20_000
    e = estimate([RecordInput(lc, Quantity(float(n)), 0.0)], [t], draws=draws, seed=11)
    prior = lc.prior(int(lc.state(t)))
    assert prior is not None
    exact = stats.betabinom(n, prior.alpha, prior.beta)
    for q, k_hat in zip((0.05, 0.95), (e.live_count_p05[0], e.live_count_p95[0]), strict=True):
        _count_ok(float(k_hat), exact.cdf, q, draws)


def test_live_count_of_the_treaty_example_reaches_4_where_the_interval_stops_at_3() -> None:
    """1,000 devices, residual Beta(1, 999), day 120: P(K >= 4) is about 0.06 although the
    epistemic interval of the expected number ends at 3.0."""
    exact = stats.betabinom(1000, 1.0, 999.0)
    assert exact.sf(3) == pytest.approx(0.06, abs=0.005)
    e = estimate([RecordInput(RES_ONLY, Quantity(1000.0), 0.0)], [120.0], draws=20_000, seed=3)
    assert e.expected_live_p95[0] == pytest.approx(3.0, abs=0.05)
    assert e.live_count_p05[0] == 0.0
    assert e.live_count_p95[0] == 4.0  # P(K <= 3) = 0.938 < 0.95 <= P(K <= 4) = 0.969
    # and the same for the type in the catalogue (both mechanisms) at day 120: P = p_sd x q,
    # the reference P(K <= k) = E[Binomial(1000, P) cdf] over 1,000,000 independent draws of P
    a = estimate([RecordInput(APII, Quantity(1000.0), 0.0)], [120.0], draws=20_000, seed=3)
    assert APII.sd_fail is not None and APII.deact_fail is not None
    rng = np.random.default_rng(99)
    p = rng.beta(APII.sd_fail.alpha, APII.sd_fail.beta, 1_000_000) * rng.beta(
        APII.deact_fail.alpha, APII.deact_fail.beta, 1_000_000
    )

    def cdf(k: float) -> float:
        return float(stats.binom.cdf(k, 1000, p).mean())

    _count_ok(float(a.live_count_p95[0]), cdf, 0.95, 20_000)


def test_live_count_sums_records_sharing_or_not_the_rates() -> None:
    """Two records of one type in one state share P in every draw: K ~ BetaBinomial(n1 + n2);
    records of two types are independent: the convolution of their beta-binomials."""
    draws = 20_000
    same = estimate(
        [RecordInput(SD_ONLY, Quantity(100.0), 0.0), RecordInput(SD_ONLY, Quantity(150.0), 20.0)],
        [100.0],
        draws=draws,
        seed=5,
    )
    ex = stats.betabinom(250, 10.0, 90.0)
    _count_ok(float(same.live_count_p05[0]), ex.cdf, 0.05, draws)
    _count_ok(float(same.live_count_p95[0]), ex.cdf, 0.95, draws)
    two = estimate(
        [RecordInput(SD_ONLY, Quantity(300.0), 0.0), RecordInput(RES_ONLY, Quantity(2000.0), 0.0)],
        [200.0],
        draws=draws,
        seed=5,
    )
    pmf = np.convolve(
        stats.betabinom(300, 10.0, 90.0).pmf(np.arange(301)),
        stats.betabinom(2000, 1.0, 999.0).pmf(np.arange(2001)),
    )
    cdf = np.cumsum(pmf)

    def conv_cdf(k: float) -> float:
        return float(cdf[int(k)])

    _count_ok(float(two.live_count_p05[0]), conv_cdf, 0.05, draws)
    _count_ok(float(two.live_count_p95[0]), conv_cdf, 0.95, draws)


def test_live_count_states_rounding_and_streams() -> None:
    # before laying nothing, live every device (whole numbers: halves up)
    for n, whole in ((250.0, 250.0), (2.5, 3.0), (2.4, 2.0)):
        e = estimate([RecordInput(PERSISTENT, Quantity(n), 0.0)], [-1.0, 5.0])
        assert e.live_count_p05.tolist() == [0.0, whole]
        assert e.live_count_p95.tolist() == [0.0, whole]
    # a PERT quantity while live: the count is the (rounded) quantity's own quantiles
    q = Quantity(100.0, 50.0, 200.0)
    e = estimate([RecordInput(APII, q, 0.0)], [1.0], draws=20_000, seed=2)
    al, be = q.pert()
    for k_hat, p in ((e.live_count_p05[0], 0.05), (e.live_count_p95[0], 0.95)):

        def rounded_cdf(k: float) -> float:
            return float(stats.beta.cdf((k + 0.5 - 50.0) / 150.0, al, be))

        _count_ok(float(k_hat), rounded_cdf, p, 20_000)
    # reproducible, and a date gives the same count alone or in a series
    recs = [
        RecordInput(APII, Quantity(1000.0, 800.0, 1500.0), 0.0),
        RecordInput(SD_ONLY, Quantity(40.0), 10.0),
    ]
    days = np.array([-5.0, 5.0, 40.0, 90.0, 130.0, 400.0])
    a = estimate(recs, days, draws=2000, seed=8)
    b = estimate(recs, days, draws=2000, seed=8)
    np.testing.assert_array_equal(a.live_count_p05, b.live_count_p05)
    np.testing.assert_array_equal(a.live_count_p95, b.live_count_p95)
    for i, d in enumerate(days):
        alone = estimate(recs, [d], draws=2000, seed=8)
        assert alone.live_count_p95[0] == a.live_count_p95[i]
        assert alone.live_count_p05[0] == a.live_count_p05[i]
        for k in STATISTICS:
            assert getattr(alone, k)[0] == pytest.approx(getattr(a, k)[i], rel=1e-12), k
    assert np.all(a.live_count_p05 <= a.live_count_p95)
    # the count has its own stream: the other statistics are those of estimate_many
    many = estimate_many(
        [SD_ONLY], [0], [40.0], [np.nan], [np.nan], [10.0], days, draws=2000, seed=8
    )
    solo = estimate([recs[1]], days, draws=2000, seed=8)
    for k in STATISTICS:
        np.testing.assert_allclose(many[k][0], getattr(solo, k), rtol=1e-12, atol=1e-300)


def test_live_count_is_reported_apart_from_the_statistics() -> None:
    from demine.risk import COUNT_STATISTICS

    assert not set(COUNT_STATISTICS) & set(STATISTICS)
    e = estimate([RecordInput(APII, Quantity(1000.0), 0.0)], [10.0, 120.0], draws=500)
    rows = e.to_dicts()
    assert [(r["live_count_p05"], r["live_count_p95"]) for r in rows][0] == (1000.0, 1000.0)
    assert rows[1]["live_count_p95"] >= rows[1]["live_count_p05"] >= 0
    text = " | ".join(e.assumptions)
    assert "live devices, predictive 5–95 %" in text and "uncertainty of the rates only" in text
    many = estimate_many([APII], [0], [1000.0], [np.nan], [np.nan], [0.0], [10.0], draws=100)
    assert set(many) == set(STATISTICS)
