"""The statistics: Welch + CUPED, delta method, Holm, SRM, mSPRT and power analysis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from rectune.domain import Direction, MetricRole, MetricSpec
from rectune.tools.platform import (
    MetricBaseline,
    minimum_detectable_effect,
    power_analysis,
)
from rectune.tools.sequential import check_guardrail, msprt_likelihood_ratio
from rectune.tools.stats import compare_means, compare_ratios, cuped_adjust, holm, srm_test


def test_welch_p_value_matches_scipy_without_covariate() -> None:
    rng = np.random.default_rng(1)
    yc = rng.gamma(2.0, 5.0, 3000)
    yt = rng.gamma(2.0, 5.2, 2500)
    c = compare_means(yc, yt)
    assert c.p_value == pytest.approx(sps.ttest_ind(yt, yc, equal_var=False).pvalue)
    assert c.lift == pytest.approx(yt.mean() / yc.mean() - 1)
    assert c.n_control == 3000 and c.n_treatment == 2500
    low, high = c.ci
    assert low < c.lift < high


def test_cuped_shrinks_variance_and_keeps_the_estimate_unbiased() -> None:
    rng = np.random.default_rng(2)
    lifts_plain, lifts_cuped = [], []
    for _ in range(300):
        x = rng.gamma(2.0, 1.0, 2000)
        y = 0.8 * x + rng.normal(0, 0.5, 2000) + 1.0
        y[1000:] *= 1.03
        plain = compare_means(y[:1000], y[1000:])
        cuped = compare_means(y[:1000], y[1000:], x[:1000], x[1000:])
        assert cuped.se < plain.se
        lifts_plain.append(plain.lift)
        lifts_cuped.append(cuped.lift)
    assert np.mean(lifts_cuped) == pytest.approx(0.03, abs=0.002)
    assert np.std(lifts_cuped) < 0.6 * np.std(lifts_plain)


def test_cuped_tolerates_missing_covariates() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 1, 400)
    x = y + rng.normal(0, 0.5, 400)
    x[::7] = np.nan
    ac, at, theta = cuped_adjust(y[:200], y[200:], x[:200], x[200:])
    assert np.isfinite(ac).all() and np.isfinite(at).all() and 0.5 < theta < 1.5


def test_delta_method_interval_covers_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(4)
    true_c, true_t = 0.02, 0.021
    covered = 0
    runs = 400
    for _ in range(runs):
        dc = rng.poisson(20, 1500).astype(float)
        dt = rng.poisson(20, 1500).astype(float)
        nc = rng.binomial(dc.astype(int), true_c).astype(float)
        nt = rng.binomial(dt.astype(int), true_t).astype(float)
        c = compare_ratios(nc, dc, nt, dt)
        low, high = c.ci
        covered += low <= true_t / true_c - 1 <= high
    assert 0.92 <= covered / runs <= 0.98


def test_holm_matches_statsmodels() -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):  # statsmodels' Holm runs gc.collect() per call, so keep this short
        p = rng.random(rng.integers(5, 40)) ** 3
        ref_reject, ref_adj, _, _ = multipletests(p, alpha=0.05, method="holm")
        adj, rej = holm(list(p))
        assert np.allclose(adj, ref_adj) and rej == list(ref_reject)
    assert holm([]) == ([], [])


def test_srm_check() -> None:
    assert srm_test({"c": 5000, "t": 5030}, {"c": 0.1, "t": 0.1}) > 0.05
    assert srm_test({"c": 5000, "t": 4500}, {"c": 0.1, "t": 0.1}) < 1e-3
    assert srm_test({"c": 2000, "t": 6000}, {"c": 0.1, "t": 0.3}) > 0.05


def test_msprt_is_always_valid_under_the_null() -> None:
    """Daily looks for 14 days at a null effect: false alarms stay below alpha."""
    rng = np.random.default_rng(6)
    spec = MetricSpec(name="negative_rate", role=MetricRole.GUARDRAIL,
                      direction=Direction.DECREASE, guardrail_threshold=0.03)
    alarms = 0
    runs = 2000
    for _ in range(runs):
        total, n = 0.0, 0
        for _day in range(14):
            total += rng.normal(0.03, 1.0, 50).sum()  # true lift exactly at the threshold
            n += 50
            est, se = total / n, 1.0 / math.sqrt(n)
            if check_guardrail(spec, est, se, alpha=0.05, tau=0.05).breached:
                alarms += 1
                break
    assert alarms / runs < 0.05


def test_msprt_flags_a_clear_breach_and_not_the_good_side() -> None:
    spec = MetricSpec(name="clicks", role=MetricRole.GUARDRAIL,
                      direction=Direction.INCREASE, guardrail_threshold=-0.01)
    assert check_guardrail(spec, -0.08, 0.01).breached
    assert not check_guardrail(spec, 0.08, 0.01).breached
    assert not check_guardrail(spec, -0.012, 0.01).breached
    assert msprt_likelihood_ratio(0.0, 0.01, 0.0, 0.05) < 1.0


def test_power_analysis_matches_the_closed_form() -> None:
    base = MetricBaseline(metric="dwell_time", mean=900.0, cv=0.6, days=7, population=60_000)
    plan = power_analysis(base, 0.02)
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert plan.users_per_arm == pytest.approx(2 * (z * 0.6 / 0.02) ** 2, rel=0.01)
    assert plan.traffic_per_arm == pytest.approx(plan.users_per_arm / 60_000)
    assert minimum_detectable_effect(base, plan.users_per_arm) == pytest.approx(0.02, rel=0.01)
    assert not power_analysis(base, 0.001).feasible
    with pytest.raises(ValueError, match="mde"):
        power_analysis(base, 0.0)
