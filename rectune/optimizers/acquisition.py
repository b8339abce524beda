"""Constrained acquisition and batch selection.

The acquisition of a point is its expected improvement on the primary objective over the
incumbent, multiplied by the probability that every guardrail holds there. Both factors are
handled in log space: far from the data the expected improvement underflows to zero for every
candidate, and ranking on exact zeros would pick arbitrarily.

A batch of arms is chosen greedily with the kriging-believer heuristic: after a point is
picked, the model pretends it was observed at its predicted mean. That leaves every posterior
mean unchanged and only shrinks the variances near the chosen point (computed exactly from the
joint posterior covariance), so the next pick moves away from it unless staying close is
clearly better. This gives diversity without refitting anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx
from scipy.stats import norm

from rectune.optimizers.encoding import FloatArray
from rectune.optimizers.surrogate import Prediction, SurrogateModel

__all__ = ["BatchChoice", "log_constrained_ei", "log_expected_improvement", "select_batch"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _log_h(z: FloatArray) -> FloatArray:
    """log(phi(z) + z * Phi(z)), accurate for very negative z."""
    out = np.empty_like(z)
    big = z > -1.0
    zb = z[big]
    out[big] = np.log(norm.pdf(zb) + zb * norm.cdf(zb))
    zs = z[~big]
    # phi(z) * (1 + z * Phi(z)/phi(z)); the Mills ratio comes from erfcx without underflow.
    mills = erfcx(-zs / math.sqrt(2)) * math.sqrt(math.pi / 2)
    out[~big] = -0.5 * zs**2 - _LOG_SQRT_2PI + np.log1p(np.maximum(zs * mills, -1 + 1e-300))
    return out


def log_expected_improvement(mean: FloatArray, std: FloatArray, best: float) -> FloatArray:
    """Log of the expected improvement of a normal variable over `best`."""
    sd = np.maximum(std, 1e-12)
    z = (mean - best) / sd
    return np.asarray(np.log(sd) + _log_h(z), dtype=np.float64)


def log_constrained_ei(model: SurrogateModel, pred: Prediction, best: float) -> FloatArray:
    """Log of (expected improvement of the objective) x P(all guardrails hold)."""
    mean, std = model.objective_from(pred)
    out = log_expected_improvement(mean, std, best)
    for g in model.problem.guardrails:
        m, s = pred.of(g.name)
        t = 0.0 if g.guardrail_threshold is None else g.guardrail_threshold
        z = g.sign * (m - t) / np.maximum(s, 1e-12)
        out = out + norm.logcdf(z)
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class BatchChoice:
    """The chosen rows of the pool and their log acquisition at the time they were chosen."""

    indices: list[int]
    log_acquisition: list[float]


def select_batch(
    model: SurrogateModel,
    x: FloatArray,
    n: int,
    best: float,
    *,
    max_pool: int = 256,
    forced: Sequence[int] = (),
) -> BatchChoice:
    """Pick up to `n` rows of `x` greedily by constrained EI with kriging-believer updates.

    Only the `max_pool` best rows by initial acquisition take part in the greedy loop, which
    keeps the covariance matrices small. Rows in `forced` are picked first, whatever their
    acquisition, and the rest of the batch accounts for them.
    """
    if x.shape[0] == 0 or n <= 0:
        return BatchChoice([], [])
    pred = model.predict(x)
    acq0 = log_constrained_ei(model, pred, best)
    forced = [int(i) for i in forced][:n]
    ranked = [int(i) for i in np.argsort(-acq0) if int(i) not in forced]
    order = np.asarray([*forced, *ranked][: max(max_pool, len(forced))], dtype=np.int64)
    xs = x[order]
    means = pred.mean[order]
    names = model.metric_names
    covs = [model.gps[name].posterior_cov(xs) for name in names]
    noise = [model.gps[name].typical_noise_var for name in names]
    chosen: list[int] = []
    values: list[float] = []
    for _ in range(min(n, xs.shape[0])):
        stds = np.sqrt(np.maximum(np.column_stack([np.diag(c) for c in covs]), 1e-14))
        cur = Prediction(names, means, stds)
        acq = log_constrained_ei(model, cur, best)
        acq[chosen] = -np.inf
        j = len(chosen) if len(chosen) < len(forced) else int(np.argmax(acq))
        if not np.isfinite(acq[j]) and j >= len(forced):
            break
        chosen.append(j)
        values.append(float(acq[j]))
        for c, nv in zip(covs, noise, strict=True):
            col = c[:, j].copy()
            c -= np.outer(col, col) / (c[j, j] + nv)
        # Under the believer the chosen point's predicted value counts as observed, so it can
        # raise the bar the remaining picks must beat.
        obj_mean, _ = model.objective_from(Prediction(names, means[j : j + 1], stds[j : j + 1]))
        p_feas, _ = model.p_guardrails_from(Prediction(names, means[j : j + 1], stds[j : j + 1]))
        if p_feas[0] >= 0.5:
            best = max(best, float(obj_mean[0]))
    return BatchChoice([int(order[j]) for j in chosen], values)
