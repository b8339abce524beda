"""An exact Gaussian process for noisy A/B results, with MAP hyperparameters and gradients.

Hand-written rather than scikit-learn's `GaussianProcessRegressor` for three reasons the A/B
setting needs and that library does not offer:

- **A full noise covariance.** Arms of one experiment are compared with the same control, so
  their measured lifts share the control's noise (correlation about one half with equal
  traffic). scikit-learn only adds a diagonal.
- **Priors on the hyperparameters.** With 5-25 noisy points, plain maximum likelihood sends
  most length scales to their bounds (a knob declared irrelevant) and collapses one or two.
  A log-normal prior on each length scale (BoTorch's dimension-scaled default) and on the
  signal variance keeps the fit honest; it is optimized from several starts.
- **Gradients of the posterior with respect to the inputs**, so the acquisition can be
  optimized by L-BFGS over the whole soft box instead of being evaluated on a random pool.

The kernel is Matern-5/2 with one length scale per input (ARD) times a signal variance, plus
optional fixed polynomial terms anchored at one point ``a``: a linear term
``sum_j v_j (x_j - a_j)(x'_j - a_j)`` (the slopes a prior says a knob may have) and a
quadratic one ``sum_j q_j (x_j - a_j)^2 (x'_j - a_j)^2`` (its curvature). Without the linear
term, a few small noisy steps from production are explained as noise around a flat function -
the Matern term with its long length scales gives a step of a twentieth of the box a prior
effect hundreds of times smaller than a skill declares - and the posterior at a measured arm
stays pinned to zero whatever it measured. A linear term alone reads a loss on one side of
production as a gain of the same size on the other; the quadratic term lets the data say
that both sides lose (production near a knob's optimum, the usual case for a tuned system).
Neither term is fitted (too few points to learn them); the Matern hyperparameters are.
The mean is a constant estimated by generalized least squares. `tests/unit/test_gp.py` checks the
posterior and the likelihood against scikit-learn on a diagonal-noise problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.optimize import minimize

__all__ = ["ExactGP", "HyperPrior", "matern52"]

FloatArray = NDArray[np.float64]
_SQRT5 = math.sqrt(5.0)
_JITTER = 1e-8


def matern52(
    a: FloatArray, b: FloatArray, length_scales: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Matern-5/2 correlation between rows of `a` and `b`, and the scaled differences.

    Returns:
        ``(k, d)`` with ``k[i, j]`` the correlation and ``d[i, j, :]`` the differences
        ``(a_i - b_j) / length_scales``.

    Example:
        >>> k, _ = matern52(np.zeros((1, 2)), np.zeros((1, 2)), np.ones(2))
        >>> float(k[0, 0])
        1.0
    """
    d = (a[:, None, :] - b[None, :, :]) / length_scales
    r = np.sqrt(np.maximum(np.sum(d * d, axis=-1), 0.0))
    k = (1.0 + _SQRT5 * r + (5.0 / 3.0) * r * r) * np.exp(-_SQRT5 * r)
    return k, d


@dataclass(frozen=True)
class HyperPrior:
    """Log-normal priors of the GP hyperparameters (inputs in the unit cube, outputs standardized).

    Attributes:
        ls_loc: Mean of log length scale. None uses BoTorch's dimension-scaled default,
            ``sqrt(2) + log(dim) / 2`` (Hvarfner et al., 2024): long length scales, so a
            handful of points yields a smooth trend, not a comb of bumps.
        ls_scale: Standard deviation of log length scale.
        var_loc: Mean of log signal variance (0: the signal explains the standardized spread).
        var_scale: Its standard deviation.
        ls_bounds: Hard range of the length scales.
        var_bounds: Hard range of the signal variance.
    """

    ls_loc: float | None = None
    ls_scale: float = math.sqrt(3.0)
    var_loc: float = 0.0
    var_scale: float = 1.0
    ls_bounds: tuple[float, float] = (0.02, 100.0)
    var_bounds: tuple[float, float] = (1e-3, 50.0)

    def loc(self, dim: int) -> float:
        """Mean of the log length scale for `dim` inputs."""
        return self.ls_loc if self.ls_loc is not None else math.sqrt(2.0) + 0.5 * math.log(dim)


class ExactGP:
    """A GP regression with a fixed, possibly correlated, noise covariance.

    Args:
        x: Inputs, one row per point.
        y: Targets (already transformed: the class does not rescale them).
        noise: Noise covariance of `y`, (n, n), or its diagonal, (n,).
        prior: Hyperparameter priors.
        linear: Prior variance of the slope along each input (units of `y` per unit of
            input, squared), or None for no linear term.
        quadratic: Prior variance of the curvature along each input (units of `y` per unit
            of input squared, squared), or None for no quadratic term.
        anchor: The point the fixed terms are zero at (default: the first row of `x`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.random((12, 2))
        >>> y = np.sin(3 * x[:, 0])
        >>> gp = ExactGP(x, y, np.full(12, 1e-4)).fit(rng)
        >>> mean, var = gp.predict(np.array([[0.5, 0.5]]))
        >>> bool(abs(mean[0] - np.sin(1.5)) < 0.1)
        True
    """

    def __init__(
        self,
        x: FloatArray,
        y: FloatArray,
        noise: FloatArray,
        prior: HyperPrior | None = None,
        *,
        linear: FloatArray | None = None,
        quadratic: FloatArray | None = None,
        anchor: FloatArray | None = None,
    ) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        n, self.dim = self.x.shape
        noise = np.asarray(noise, dtype=np.float64)
        self.noise = np.diag(noise) if noise.ndim == 1 else noise
        if self.noise.shape != (n, n) or self.y.shape != (n,):
            raise ValueError(f"ExactGP: {n} inputs, {self.y.shape} targets, noise {noise.shape}")
        self.prior = prior or HyperPrior()
        self.linear = _variances("linear", linear, self.dim)
        self.quadratic = _variances("quadratic", quadratic, self.dim)
        a = self.x[0] if anchor is None and n else anchor
        self.anchor = np.zeros(self.dim) if a is None else np.asarray(a, dtype=np.float64)
        # The fixed part of the training covariance does not depend on the hyperparameters:
        # built once, not at every step of the fit.
        self._fixed = self.noise + self._poly(self.x, self.x) + _JITTER * np.eye(n)
        self.length_scales = np.full(self.dim, math.exp(self.prior.loc(self.dim)))
        self.variance = math.exp(self.prior.var_loc)
        self.mean = 0.0
        self._factor()

    # ----------------------------------------------------------------- fitting

    @property
    def _has_poly(self) -> bool:
        return self.linear is not None or self.quadratic is not None

    def _poly(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """The fixed polynomial terms between rows of `a` and `b` (zeros without any)."""
        out = np.zeros((a.shape[0], b.shape[0]))
        da, db = a - self.anchor, b - self.anchor
        if self.linear is not None:
            out += (da * self.linear) @ db.T
        if self.quadratic is not None:
            out += (da * da * self.quadratic) @ (db * db).T
        return out

    def _poly_var(self, xq: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The polynomial terms' prior variance at the rows of `xq`, and its gradient."""
        d = xq - self.anchor
        var, grad = np.zeros(xq.shape[0]), np.zeros_like(xq)
        if self.linear is not None:
            var += np.sum(d * d * self.linear, axis=1)
            grad += 2.0 * d * self.linear
        if self.quadratic is not None:
            var += np.sum(d**4 * self.quadratic, axis=1)
            grad += 4.0 * d**3 * self.quadratic
        return var, grad

    def _poly_grad(self, xq: FloatArray) -> FloatArray:
        """Gradient of `_poly(xq, self.x)` in `xq`: (points, n, dim)."""
        dx = self.x - self.anchor
        out = np.zeros((xq.shape[0], *dx.shape))
        if self.linear is not None:
            out += (dx * self.linear)[None, :, :]
        if self.quadratic is not None:
            dq = xq - self.anchor
            out += 2.0 * dq[:, None, :] * (dx * dx * self.quadratic)[None, :, :]
        return out

    def _cov(self, ls: FloatArray, var: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        k, d = matern52(self.x, self.x, ls)
        return var * k + self._fixed, k, d

    def _gls_mean(self, chol: tuple[FloatArray, bool]) -> float:
        ones = np.ones_like(self.y)
        ki1 = cho_solve(chol, ones)
        return float(ki1 @ self.y / max(float(ki1 @ ones), 1e-300))

    def _neg_log_posterior(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Negative log marginal likelihood plus negative log prior, and its gradient.

        ``theta`` holds the log length scales then the log signal variance; the constant
        mean is profiled out (its GLS estimate), which leaves the gradient unchanged at the
        profiled optimum.
        """
        ls, var = np.exp(theta[:-1]), math.exp(theta[-1])
        cov, k, d = self._cov(ls, var)
        try:
            chol = cho_factor(cov, lower=True)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        c = self._gls_mean(chol)
        r = self.y - c
        alpha = cho_solve(chol, r)
        logdet = 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
        nll = 0.5 * float(r @ alpha) + 0.5 * logdet + 0.5 * len(r) * math.log(2 * math.pi)
        w = cho_solve(chol, np.eye(len(r))) - np.outer(alpha, alpha)
        grad = np.empty_like(theta)
        # d k / d log l_i = (5/3)(1 + sqrt5 r) exp(-sqrt5 r) (d_i)^2: no division by r.
        rr = np.sqrt(np.sum(d * d, axis=-1))
        base = var * (5.0 / 3.0) * (1.0 + _SQRT5 * rr) * np.exp(-_SQRT5 * rr)
        for i in range(self.dim):
            grad[i] = 0.5 * float(np.sum(w * (base * d[:, :, i] ** 2)))
        grad[-1] = 0.5 * float(np.sum(w * (var * k)))
        p = self.prior
        loc = p.loc(self.dim)
        nlp = float(np.sum((theta[:-1] - loc) ** 2)) / (2 * p.ls_scale**2)
        nlp += (theta[-1] - p.var_loc) ** 2 / (2 * p.var_scale**2)
        grad[:-1] += (theta[:-1] - loc) / p.ls_scale**2
        grad[-1] += (theta[-1] - p.var_loc) / p.var_scale**2
        return nll + nlp, grad

    def fit(self, rng: np.random.Generator, restarts: int = 3) -> ExactGP:
        """MAP hyperparameters by L-BFGS-B from the prior's mode and `restarts` prior draws."""
        p = self.prior
        loc = p.loc(self.dim)
        bounds = [(math.log(p.ls_bounds[0]), math.log(p.ls_bounds[1]))] * self.dim
        bounds.append((math.log(p.var_bounds[0]), math.log(p.var_bounds[1])))
        lo = np.array([b[0] for b in bounds])
        hi = np.array([b[1] for b in bounds])
        starts = [np.append(np.full(self.dim, loc), p.var_loc)]
        for _ in range(restarts):
            draw = np.append(
                rng.normal(loc, 0.5 * p.ls_scale, self.dim), rng.normal(p.var_loc, p.var_scale)
            )
            starts.append(np.clip(draw, lo, hi))
        best: tuple[float, FloatArray] | None = None
        for s in starts:
            res = minimize(
                self._neg_log_posterior, s, jac=True, method="L-BFGS-B", bounds=bounds,
                options={"maxiter": 200},
            )
            value = float(res.fun)
            if np.isfinite(value) and (best is None or value < best[0]):
                best = (value, np.asarray(res.x, dtype=np.float64))
        if best is not None:
            self.length_scales = np.exp(best[1][:-1])
            self.variance = float(math.exp(best[1][-1]))
        self._factor()
        return self

    def _factor(self) -> None:
        cov, _, _ = self._cov(self.length_scales, self.variance)
        self._chol = cho_factor(cov, lower=True)
        self.mean = self._gls_mean(self._chol)
        self._alpha = cho_solve(self._chol, self.y - self.mean)

    # ----------------------------------------------------------------- posterior

    def predict(self, xq: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and variance of the latent function at the rows of `xq`."""
        k, _ = matern52(xq, self.x, self.length_scales)
        k = self.variance * k
        if self._has_poly:
            k = k + self._poly(xq, self.x)
        mean = self.mean + k @ self._alpha
        v = solve_triangular(self._chol[0], k.T, lower=True)
        prior_var = self.variance + self._poly_var(xq)[0]
        var = np.maximum(prior_var - np.sum(v * v, axis=0), 1e-12 * self.variance)
        return np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)

    def predict_with_grad(
        self, xq: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Posterior mean and variance at the rows of `xq`, with their gradients in `xq`.

        Returns:
            ``(mean, var, dmean, dvar)``; the gradients are (points, dim).
        """
        kc, d = matern52(xq, self.x, self.length_scales)
        k = self.variance * kc
        rr = np.sqrt(np.sum(d * d, axis=-1))
        # d k / d xq = -(5/3) var (1 + sqrt5 r) exp(-sqrt5 r) (xq - x) / l^2
        g = -(5.0 / 3.0) * self.variance * (1.0 + _SQRT5 * rr) * np.exp(-_SQRT5 * rr)
        dk = g[:, :, None] * d / self.length_scales  # (q, n, dim)
        pvar, dprior = self._poly_var(xq)
        prior_var = self.variance + pvar
        if self._has_poly:
            k = k + self._poly(xq, self.x)
            dk = dk + self._poly_grad(xq)
        mean = self.mean + k @ self._alpha
        dmean = np.einsum("qnd,n->qd", dk, self._alpha)
        kinv_k = cho_solve(self._chol, k.T)  # (n, q)
        var = prior_var - np.sum(k.T * kinv_k, axis=0)
        dvar = dprior - 2.0 * np.einsum("qnd,nq->qd", dk, kinv_k)
        small = var < 1e-12 * self.variance
        var = np.where(small, 1e-12 * self.variance, var)
        dvar[small] = 0.0
        return (
            np.asarray(mean, dtype=np.float64),
            np.asarray(var, dtype=np.float64),
            np.asarray(dmean, dtype=np.float64),
            np.asarray(dvar, dtype=np.float64),
        )

    def posterior_cov(self, xq: FloatArray) -> FloatArray:
        """Joint posterior covariance of the latent function at the rows of `xq`."""
        k, _ = matern52(xq, self.x, self.length_scales)
        k = self.variance * k + self._poly(xq, self.x)
        v = solve_triangular(self._chol[0], k.T, lower=True)
        kq, _ = matern52(xq, xq, self.length_scales)
        prior = self.variance * kq + self._poly(xq, xq)
        return np.asarray(prior - v.T @ v, dtype=np.float64)

    def loo_z(self) -> FloatArray:
        """Standardized leave-one-out residuals (closed form, noise included)."""
        kinv = cho_solve(self._chol, np.eye(len(self.y)))
        return np.asarray(self._alpha / np.sqrt(np.maximum(np.diag(kinv), 1e-300)))

    def condition(self, xn: FloatArray, yn: FloatArray, noise_var: float) -> ExactGP:
        """A copy that has also seen `yn` at `xn` with independent noise, same hyperparameters.

        Used to fantasize the pending arms of a batch (kriging believer).
        """
        n0, n1 = len(self.y), len(yn)
        noise = np.zeros((n0 + n1, n0 + n1))
        noise[:n0, :n0] = self.noise
        noise[n0:, n0:] = np.eye(n1) * noise_var
        out = ExactGP.__new__(ExactGP)
        out.x = np.vstack([self.x, xn])
        out.y = np.concatenate([self.y, yn])
        out.dim = self.dim
        out.noise = noise
        out.prior = self.prior
        out.linear = self.linear
        out.quadratic = self.quadratic
        out.anchor = self.anchor
        out._fixed = noise + out._poly(out.x, out.x) + _JITTER * np.eye(n0 + n1)
        out.length_scales = self.length_scales
        out.variance = self.variance
        out._factor()
        # Keep the original constant mean: the fantasies must not move it.
        out.mean = self.mean
        out._alpha = cho_solve(out._chol, out.y - out.mean)
        return out


def _variances(name: str, values: FloatArray | None, dim: int) -> FloatArray | None:
    if values is None:
        return None
    out = np.asarray(values, dtype=np.float64)
    if out.shape != (dim,):
        raise ValueError(f"ExactGP: {name} variances have shape {out.shape}, inputs {dim}")
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise ValueError(f"ExactGP: {name} variances must be finite and >= 0, got {out}")
    return out
