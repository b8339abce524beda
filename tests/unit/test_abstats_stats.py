"""The statistics: Welch + CUPED, delta method, Holm and SRM."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

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


def test_ratio_cuped_shrinks_the_variance_and_keeps_coverage() -> None:
    rng = np.random.default_rng(11)
    covered = shrink = 0
    runs = 300
    for _ in range(runs):
        users = 2000
        rate = rng.lognormal(-3.0, 0.8, 2 * users)  # persistent per-user rate
        imp_pre = rng.poisson(50 * rng.lognormal(0, 0.7, 2 * users)) + 1
        imp = rng.poisson(imp_pre * 1.0) + 1
        pre_neg = rng.poisson(rate * imp_pre)
        neg = rng.poisson(rate * imp * np.r_[np.ones(users), np.full(users, 1.05)])
        c, t = slice(0, users), slice(users, 2 * users)
        plain = compare_ratios(neg[c], imp[c], neg[t], imp[t])
        adj = compare_ratios(neg[c], imp[c], neg[t], imp[t],
                             (pre_neg[c], imp_pre[c], pre_neg[t], imp_pre[t]))
        shrink += adj.se < plain.se
        low, high = adj.ci
        covered += low <= 0.05 <= high
    assert shrink / runs > 0.95
    assert 0.92 <= covered / runs <= 0.98
