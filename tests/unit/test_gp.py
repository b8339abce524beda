"""The hand-written GP against scikit-learn, and its gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern

from rectune.optimizers.gp import ExactGP, HyperPrior


def data(n: int = 15, d: int = 3, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 + rng.normal(0, 0.1, n)
    return x, y


def assert_input_gradients_exact(gp: ExactGP, xq: np.ndarray) -> None:
    """The posterior's input gradients against forward differences."""
    mean, var, dmean, dvar = gp.predict_with_grad(xq)
    for j in range(xq.shape[1]):
        step = np.zeros(xq.shape[1])
        step[j] = 1e-6
        m2, v2 = gp.predict(xq + step)
        assert (m2 - mean) / 1e-6 == pytest.approx(dmean[:, j], abs=1e-4)
        assert (v2 - var) / 1e-6 == pytest.approx(dvar[:, j], abs=1e-4)


def test_posterior_matches_scikit_learn_with_diagonal_noise() -> None:
    x, y = data()
    noise = np.full(len(y), 0.01)
    gp = ExactGP(x, y, noise).fit(np.random.default_rng(0))
    kernel = ConstantKernel(gp.variance, "fixed") * Matern(gp.length_scales, "fixed", nu=2.5)
    sk = GaussianProcessRegressor(kernel, alpha=noise + 1e-8, optimizer=None)
    sk.fit(x, y - gp.mean)
    xq = np.random.default_rng(2).random((6, 3))
    mean, var = gp.predict(xq)
    sk_mean, sk_sd = sk.predict(xq, return_std=True)
    assert mean == pytest.approx(sk_mean + gp.mean, abs=1e-8)
    assert var == pytest.approx(sk_sd**2, abs=1e-8)


def test_marginal_likelihood_matches_scikit_learn_without_prior() -> None:
    x, y = data()
    noise = np.full(len(y), 0.01)
    # A flat-ish prior leaves the likelihood; the constant mean is profiled, so compare on
    # centred targets whose GLS mean is then close to zero.
    gp = ExactGP(x, y - y.mean(), noise, HyperPrior(ls_scale=1e6, var_scale=1e6))
    theta = np.array([0.2, -0.1, 0.4, 0.3])
    ours, _ = gp._neg_log_posterior(theta)
    kernel = ConstantKernel(np.exp(theta[-1])) * Matern(np.exp(theta[:-1]), nu=2.5)
    sk = GaussianProcessRegressor(kernel, alpha=noise + 1e-8, optimizer=None).fit(
        x, y - y.mean() - gp._gls_mean(gp._chol)
    )
    # The GLS mean of the current factorization is only approximately that of theta.
    assert ours == pytest.approx(-sk.log_marginal_likelihood(), rel=0.05)


def test_hyperparameter_and_input_gradients_are_exact() -> None:
    x, y = data()
    gp = ExactGP(x, y, np.full(len(y), 0.01))
    theta = np.array([0.1, -0.3, 0.5, 0.2])
    err = check_grad(lambda t: gp._neg_log_posterior(t)[0],
                     lambda t: gp._neg_log_posterior(t)[1], theta)
    assert err < 1e-4 * max(1.0, float(np.linalg.norm(gp._neg_log_posterior(theta)[1])))
    gp.fit(np.random.default_rng(0))
    xq = np.random.default_rng(3).random((4, 3))
    assert_input_gradients_exact(gp, xq)


def test_priors_keep_length_scales_off_their_bounds_on_few_noisy_points() -> None:
    rng = np.random.default_rng(4)
    x = rng.random((8, 5))
    y = 0.5 * x[:, 0] + rng.normal(0, 0.5, 8)
    gp = ExactGP(x, (y - y.mean()) / y.std(), np.full(8, 0.5)).fit(rng)
    lo, hi = gp.prior.ls_bounds
    assert np.all(gp.length_scales > 1.5 * lo)
    assert np.all(gp.length_scales < hi / 1.5)


def test_correlated_noise_enters_the_posterior() -> None:
    x = np.array([[0.4], [0.6]])
    y = np.array([1.0, 1.0])
    indep = ExactGP(x, y, np.diag([0.2, 0.2]))
    shared = ExactGP(x, y, np.array([[0.2, 0.1], [0.1, 0.2]]))
    _, v_indep = indep.predict(np.array([[0.5]]))
    _, v_shared = shared.predict(np.array([[0.5]]))
    assert v_shared[0] > v_indep[0]


POLY_TERMS = {
    "linear": {"linear": np.array([4.0, 0.5, 0.0])},
    "quadratic": {"quadratic": np.array([9.0, 0.0, 2.0])},
    "both": {"linear": np.array([4.0, 0.5, 0.0]), "quadratic": np.array([9.0, 0.0, 2.0])},
}


@pytest.mark.parametrize("terms", POLY_TERMS.values(), ids=POLY_TERMS.keys())
def test_fixed_terms_keep_gradients_exact_and_covariances_consistent(
    terms: dict[str, np.ndarray],
) -> None:
    x, y = data()
    gp = ExactGP(x, y, np.full(len(y), 0.01), **terms)
    theta = np.array([0.1, -0.3, 0.5, 0.2])
    err = check_grad(lambda t: gp._neg_log_posterior(t)[0],
                     lambda t: gp._neg_log_posterior(t)[1], theta)
    assert err < 1e-4 * max(1.0, float(np.linalg.norm(gp._neg_log_posterior(theta)[1])))
    gp.fit(np.random.default_rng(0))
    xq = np.random.default_rng(5).random((4, 3))
    mean, var, _, _ = gp.predict_with_grad(xq)
    m1, v1 = gp.predict(xq)
    assert mean == pytest.approx(m1, abs=1e-10)
    assert var == pytest.approx(v1, abs=1e-10)
    assert np.diag(gp.posterior_cov(xq)) == pytest.approx(v1, abs=1e-8)
    assert_input_gradients_exact(gp, xq)


def test_the_linear_term_carries_a_measured_slope_beyond_the_data() -> None:
    # Production exact at 0, one noisy arm a small step away measured at +1 (noise sd 1):
    # with a slope prior the posterior leans towards the measurement and extends the trend;
    # the Matern term alone, with its long prior length scale, keeps both near zero.
    x = np.array([[0.0], [0.05]])
    y = np.array([0.0, 1.0])
    noise = np.array([1e-6, 1.0])
    xq = np.array([[0.05], [0.25]])
    flat, _ = ExactGP(x, y, noise).predict(xq)
    sloped = ExactGP(x, y, noise, linear=np.array([400.0]))
    mean, var = sloped.predict(xq)
    assert abs(flat[0]) < 0.05
    assert 0.3 < mean[0] < 1.0 and mean[1] > 2 * mean[0]
    assert var[1] > var[0]


def test_a_conditioned_copy_equals_a_refit_with_the_same_hyperparameters() -> None:
    x, y = data()
    terms = POLY_TERMS["both"]
    gp = ExactGP(x[:10], y[:10], np.full(10, 0.01), **terms, anchor=x[0])
    gp.fit(np.random.default_rng(0))
    cond = gp.condition(x[10:], y[10:], 0.01)
    full = ExactGP(x, y, np.full(len(y), 0.01), **terms, anchor=x[0])
    full.length_scales, full.variance = gp.length_scales, gp.variance
    full._factor()
    xq = np.random.default_rng(6).random((5, 3))
    # Same covariance; only the constant mean is kept from before the fantasies.
    assert cond.predict(xq)[1] == pytest.approx(full.predict(xq)[1], rel=1e-8)


def test_the_quadratic_term_lets_a_loss_on_one_side_stay_on_that_side() -> None:
    # Production exact at 0, one arm a step below it measured at -1. Slopes alone mirror
    # the loss into a gain of the same size a step above (the overreach the curvature
    # prevents); with a curvature prior of the same size per step the other side is
    # unknown (mean near zero, wide), not a promise.
    x = np.array([[0.0], [-0.2]])
    y = np.array([0.0, -1.0])
    noise = np.array([1e-6, 0.25])
    xq = np.array([[0.2], [-0.2]])
    linear = np.array([25.0])
    quadratic = linear / 0.2**2
    slope_mean, _ = ExactGP(x, y, noise, linear=linear).predict(xq)
    both_mean, both_var = ExactGP(x, y, noise, linear=linear, quadratic=quadratic).predict(xq)
    assert slope_mean[0] > 0.7
    assert abs(both_mean[0]) < 0.1 < 1.0 < float(np.sqrt(both_var[0]))
    assert both_mean[1] < -0.7
    # Losses on both sides: slopes alone see a flat function; the curvature, a peak at 0.
    x = np.array([[0.0], [-0.2], [0.2]])
    y = np.array([0.0, -1.0, -1.0])
    slope_beyond, _ = ExactGP(x, y, np.append(noise, 0.25), linear=linear).predict(
        np.array([[0.3]])
    )
    both_beyond, _ = ExactGP(
        x, y, np.append(noise, 0.25), linear=linear, quadratic=quadratic
    ).predict(np.array([[0.3]]))
    assert abs(slope_beyond[0]) < 0.1
    assert both_beyond[0] < -1.5


def test_bad_fixed_term_variances_are_refused_with_their_name() -> None:
    x, y = data()
    with pytest.raises(ValueError, match="quadratic variances have shape"):
        ExactGP(x, y, np.full(len(y), 0.01), quadratic=np.ones(2))
    with pytest.raises(ValueError, match="linear variances must be finite and >= 0"):
        ExactGP(x, y, np.full(len(y), 0.01), linear=np.array([1.0, -1.0, 0.0]))
