"""Constrained acquisition, optimized with gradients over the explorable part of the soft box.

The acquisition of a point is, in log space,

    log EI(objective over the incumbent)
    + sum over guardrails of log P(guardrail holds)
    + log P(objective loss below the task's arm-loss limit)

The first factor seeks improvement, the second keeps arms inside the guardrails, the third
keeps users from paying for reckless exploration (the loss a tested arm inflicts is real).
Log space matters: far from the data every expected improvement underflows to zero.

It is maximized like BoTorch's `optimize_acqf`: many quasi-random raw points are scored, the
best few start L-BFGS-B with analytic gradients (the GP's posterior gradients, chained through
the acquisition), each start bounded by its *region*: a box around one anchor (production or a
tested configuration the model believes safe) whose side grows with the rounds of evidence.
Coordinates that end within `snap` of a bound are put on it (optima of configuration problems
often sit on a bound of the soft box or of a hard constraint). A batch is built greedily:
after each pick the model is conditioned on its own prediction there (kriging believer), which
leaves the means alone and shrinks the variance around the pick, so the next pick goes
elsewhere unless staying close is clearly better.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_ndtr
from scipy.stats import norm, qmc

from rectune.optimizers.encoding import FloatArray
from rectune.optimizers.surrogate import Prediction, SurrogateModel

__all__ = [
    "P_GUARDRAILS",
    "P_WITHIN_LOSS",
    "AcquisitionSettings",
    "Region",
    "greedy_value",
    "log_constrained_ei",
    "log_expected_improvement",
    "optimize_acquisition",
    "safety",
]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _inv_mills(z: FloatArray) -> FloatArray:
    """phi(z) / Phi(z), stable for very negative z."""
    return np.asarray(np.exp(norm.logpdf(z) - log_ndtr(z)), dtype=np.float64)


def _log_h(z: FloatArray) -> FloatArray:
    """log(phi(z) + z * Phi(z)), accurate for very negative z."""
    # phi + z Phi = Phi (lambda + z) with lambda the inverse Mills ratio; for z << 0,
    # lambda + z ~ -1/z > 0 and the product never underflows in log space.
    lam = _inv_mills(z)
    return np.asarray(log_ndtr(z) + np.log(np.maximum(lam + z, 1e-300)), dtype=np.float64)


def log_expected_improvement(mean: FloatArray, std: FloatArray, best: float) -> FloatArray:
    """Log of the expected improvement of a normal variable over `best`.

    Example:
        >>> v = log_expected_improvement(np.array([0.0, -1.0]), np.array([1.0, 1.0]), 0.0)
        >>> bool(v[0] > v[1])
        True
    """
    sd = np.maximum(std, 1e-12)
    z = (mean - best) / sd
    return np.asarray(np.log(sd) + _log_h(z), dtype=np.float64)


SAFE_PENALTY = 40.0
"""Slope of the log-acquisition penalty below a safety level (per unit of log probability)."""

P_GUARDRAILS = 0.8
"""Probability that every guardrail holds below which an arm's acquisition is penalized."""

P_WITHIN_LOSS = 0.9
"""Probability that the objective's loss stays within the arm-loss limit below which an
arm's acquisition is penalized."""


def _terms(
    model: SurrogateModel,
    mean: FloatArray,
    std: FloatArray,
    best: float,
    p_guard: float = P_GUARDRAILS,
    p_loss: float = P_WITHIN_LOSS,
) -> tuple[FloatArray, dict[str, tuple[FloatArray, FloatArray]]]:
    """Log acquisition and, per metric, its derivatives in that metric's mean and sd.

    Below `p_guard` (the probability that every guardrail holds) or `p_loss` (that the
    objective's loss stays within the arm-loss limit) the log acquisition drops steeply:
    constrained EI alone happily explores uncertain regions that are probably infeasible or
    costly, and users pay for those arms. With the distance floor on the spread
    (`rectune.optimizers.reach`) these levels bound how far from the data an arm may go.
    """
    problem = model.problem
    names = model.metric_names
    q = mean.shape[0]
    d_mean = {n: np.zeros(q) for n in names}
    d_std = {n: np.zeros(q) for n in names}
    w = problem.objective_weights
    mu_o = sum(w[n] * mean[:, names.index(n)] for n in w)
    var_o = sum((w[n] * std[:, names.index(n)]) ** 2 for n in w)
    sd_o = np.sqrt(np.maximum(var_o, 1e-24))
    z = (mu_o - best) / sd_o
    out = np.log(sd_o) + _log_h(z)
    ratio = 1.0 / np.maximum(_inv_mills(z) + z, 1e-300)  # Phi / h
    g_mu = ratio / sd_o
    g_sd = 1.0 / sd_o - ratio * z / sd_o
    limit = problem.arm_loss_limit
    z_loss = (mu_o + limit) / sd_o
    log_loss_ok = log_ndtr(z_loss)
    lam = _inv_mills(z_loss)
    short_l = log_loss_ok < math.log(p_loss)
    factor_l = 1.0 + np.where(short_l, SAFE_PENALTY, 0.0)
    out = out + log_loss_ok + np.where(
        short_l, SAFE_PENALTY * (log_loss_ok - math.log(p_loss)), 0.0
    )
    # Derivatives of log P(loss within the limit) in the objective's mean and sd.
    g_mu = g_mu + factor_l * lam / sd_o
    g_sd = g_sd - factor_l * lam * z_loss / sd_o
    log_guard = np.zeros(q)
    guard: list[tuple[str, FloatArray, FloatArray]] = []
    for g in problem.guardrails:
        j = names.index(g.name)
        t = 0.0 if g.guardrail_threshold is None else g.guardrail_threshold
        s = np.maximum(std[:, j], 1e-12)
        zg = g.sign * (mean[:, j] - t) / s
        log_guard = log_guard + log_ndtr(zg)
        lg = _inv_mills(zg)
        guard.append((g.name, lg * g.sign / s, -lg * zg / s))
    short_g = log_guard < math.log(p_guard)
    factor_g = 1.0 + np.where(short_g, SAFE_PENALTY, 0.0)
    out = out + log_guard + np.where(
        short_g, SAFE_PENALTY * (log_guard - math.log(p_guard)), 0.0
    )
    for n, wn in w.items():
        j = names.index(n)
        d_mean[n] += g_mu * wn
        d_std[n] += g_sd * wn**2 * std[:, j] / sd_o
    for name, dm, ds in guard:
        d_mean[name] += factor_g * dm
        d_std[name] += factor_g * ds
    return np.asarray(out, dtype=np.float64), {n: (d_mean[n], d_std[n]) for n in names}


def safety(model: SurrogateModel, pred: Prediction) -> tuple[FloatArray, FloatArray]:
    """P(every guardrail holds) and P(the objective's loss is within the arm-loss limit)."""
    problem = model.problem
    p_guard = np.ones(pred.mean.shape[0])
    for g in problem.guardrails:
        t = 0.0 if g.guardrail_threshold is None else g.guardrail_threshold
        m, sd = pred.of(g.name)
        p_guard = p_guard * norm.cdf(g.sign * (m - t) / np.maximum(sd, 1e-12))
    mu = np.zeros(pred.mean.shape[0])
    var = np.zeros(pred.mean.shape[0])
    for n, w in problem.objective_weights.items():
        m, sd = pred.of(n)
        mu += w * m
        var += (w * sd) ** 2
    p_loss = norm.cdf((mu + problem.arm_loss_limit) / np.sqrt(np.maximum(var, 1e-24)))
    return np.asarray(p_guard, dtype=np.float64), np.asarray(p_loss, dtype=np.float64)


def log_constrained_ei(model: SurrogateModel, pred: Prediction, best: float) -> FloatArray:
    """Log of EI(objective) x P(all guardrails hold) x P(loss within the arm-loss limit)."""
    value, _ = _terms(model, pred.mean, pred.std, best)
    return value


def _value_and_grad(
    model: SurrogateModel, x: FloatArray, best: float
) -> tuple[FloatArray, FloatArray]:
    names = model.metric_names
    parts = [model.gps[n].predict_with_grad(x) for n in names]
    mean = np.column_stack([p[0] for p in parts])
    std = np.column_stack([p[1] for p in parts])
    value, derivs = _terms(model, mean, std, best)
    grad = np.zeros_like(x)
    for n, p in zip(names, parts, strict=True):
        dm, ds = derivs[n]
        grad += dm[:, None] * p[2] + ds[:, None] * p[3]
    return value, grad


def greedy_value(
    min_feasible: float, min_within_loss: float = P_WITHIN_LOSS
) -> Callable[[SurrogateModel, FloatArray, float], tuple[FloatArray, FloatArray]]:
    """Posterior mean of the objective, penalized where P(all guardrails hold) < `min_feasible`
    or P(loss within the arm-loss limit) < `min_within_loss`.

    The exploitation arm of a batch: with few rounds and noisy arms, testing the model's best
    guess pays off, and the expected improvement fills the other arms around it.
    """
    log_min = math.log(min_feasible)
    log_loss = math.log(min_within_loss)

    def value(model: SurrogateModel, x: FloatArray, best: float) -> tuple[FloatArray, FloatArray]:
        names = model.metric_names
        problem = model.problem
        parts = {n: model.gps[n].predict_with_grad(x) for n in names}
        scale = max(problem.arm_loss_limit, 1e-6)
        v = np.zeros(x.shape[0])
        grad = np.zeros_like(x)
        for n, w in problem.objective_weights.items():
            v += w * parts[n][0] / scale
            grad += w * parts[n][2] / scale
        # The model's best guess must also keep its loss within the arm-loss limit: a mean
        # that looks good far from the data is the least trustworthy number it has.
        sd_o = np.zeros(x.shape[0])
        dvar_o = np.zeros_like(x)
        for n, w in problem.objective_weights.items():
            sd_o = sd_o + (w * parts[n][1]) ** 2
            dvar_o = dvar_o + 2.0 * w**2 * parts[n][1][:, None] * parts[n][3]
        sd_o = np.sqrt(np.maximum(sd_o, 1e-24))
        dsd_o = dvar_o / (2.0 * sd_o[:, None])
        mu_o = v * scale
        dmu_o = grad * scale
        z_l = (mu_o + problem.arm_loss_limit) / sd_o
        lam_l = _inv_mills(z_l)
        logl = log_ndtr(z_l)
        dlogl = lam_l[:, None] * (dmu_o / sd_o[:, None] - z_l[:, None] * dsd_o / sd_o[:, None])
        short_l = logl < log_loss
        v = v + np.where(short_l, SAFE_PENALTY * (logl - log_loss), 0.0)
        grad = grad + np.where(short_l[:, None], SAFE_PENALTY * dlogl, 0.0)
        logp = np.zeros(x.shape[0])
        dlogp = np.zeros_like(x)
        for g in problem.guardrails:
            m, sd, dm, dsd = parts[g.name]
            t = 0.0 if g.guardrail_threshold is None else g.guardrail_threshold
            sd = np.maximum(sd, 1e-12)
            z = g.sign * (m - t) / sd
            lam = _inv_mills(z)
            logp += log_ndtr(z)
            dlogp += lam[:, None] * (g.sign * dm / sd[:, None] - z[:, None] * dsd / sd[:, None])
        short = logp < log_min
        v = v + np.where(short, SAFE_PENALTY * (logp - log_min), 0.0)
        grad = grad + np.where(short[:, None], SAFE_PENALTY * dlogp, 0.0)
        return v, grad

    return value


@dataclass(frozen=True)
class AcquisitionSettings:
    """How the acquisition is maximized.

    Attributes:
        raw_samples: Quasi-random points scored to choose the starts.
        starts: L-BFGS-B starts per pick.
        maxiter: Iterations per optimization.
        snap: A coordinate closer than this (fraction of the soft box) to a bound is put on
            it.
        categorical_flip: Chance that a raw point changes a categorical knob of its anchor.
        min_separation: Smallest distance (largest coordinate, fraction of the soft box)
            between a new arm and a tested or already chosen one; closer arms measure
            nearly the same thing twice (a deliberate replicate is the launch rule's job).
    """

    raw_samples: int = 384
    starts: int = 6
    maxiter: int = 60
    snap: float = 0.02
    categorical_flip: float = 0.3
    min_separation: float = 0.05


@dataclass(frozen=True)
class Region:
    """Where a pick may land: boxes (feature space) around anchors, and the free columns.

    Attributes:
        anchors: (a, dim) feature rows the boxes are centred on.
        radius: Half side of each box, as a fraction of the soft box.
        lo: Global lower bound of each feature (the soft box, narrowed by hard constraints).
        hi: Global upper bound.
        free: Columns the optimizer moves (numeric, not a group's reference).
    """

    anchors: FloatArray
    radius: float
    lo: FloatArray
    hi: FloatArray
    free: np.ndarray

    def box(self, i: int) -> tuple[FloatArray, FloatArray]:
        """Bounds of anchor `i`'s box (fixed columns pinned to the anchor)."""
        a = self.anchors[i]
        lo = np.where(self.free, np.maximum(a - self.radius, self.lo), a)
        hi = np.where(self.free, np.minimum(a + self.radius, self.hi), a)
        return lo, np.maximum(hi, lo)


def _raw_points(
    model: SurrogateModel, region: Region, n: int, settings: AcquisitionSettings,
    rng: np.random.Generator,
) -> tuple[FloatArray, np.ndarray]:
    enc = model.encoder
    k = region.anchors.shape[0]
    per = max(8, n // k)
    m = math.ceil(math.log2(per))
    rows, owner = [], []
    for i in range(k):
        lo, hi = region.box(i)
        u = qmc.Sobol(d=enc.dim, scramble=True, seed=rng).random_base2(m)[:per]
        pts = lo + u * (hi - lo)
        for p in model.problem.space.parameters:
            choices = getattr(p, "choices", None)
            if choices is None:
                continue
            sl = enc.param_slice(p.name)
            allowed = [choices.index(c) for c in enc.allowed(p)]  # type: ignore[arg-type]
            flip = rng.random(per) < settings.categorical_flip
            pick = rng.choice(allowed, per)
            block = np.tile(region.anchors[i, sl], (per, 1))
            block[flip] = 0.0
            block[flip, pick[flip]] = 1.0
            pts[:, sl] = block
        rows.append(pts)
        owner.extend([i] * per)
    return np.vstack(rows), np.asarray(owner)


def _snap(
    x: FloatArray, lo: FloatArray, hi: FloatArray, free: np.ndarray, tol: float
) -> FloatArray:
    out = x.copy()
    near_lo = free & (np.abs(x - lo) <= tol)
    near_hi = free & (np.abs(x - hi) <= tol)
    out[near_lo] = lo[near_lo]
    out[near_hi] = hi[near_hi]
    return out


def optimize_acquisition(
    model: SurrogateModel,
    region: Region,
    best: float,
    rng: np.random.Generator,
    settings: AcquisitionSettings | None = None,
    *,
    value: Callable[[SurrogateModel, FloatArray, float], tuple[FloatArray, FloatArray]]
    | None = None,
    avoid: FloatArray | None = None,
) -> list[tuple[FloatArray, float]]:
    """Local optima of the acquisition from the best raw points, best first.

    Args:
        model: The fitted (possibly fantasized) surrogate.
        region: Where points may go.
        best: The incumbent's objective (the bar of the expected improvement).
        rng: Randomness of the raw points.
        settings: Optimizer settings.
        value: Acquisition and its gradient at rows of x; default the constrained log EI.
        avoid: Feature rows (tested arms, earlier picks of the batch) that results must stay
            `min_separation` away from, in the largest coordinate.

    Returns:
        ``(features, log acquisition)`` pairs, snapped onto nearby bounds.
    """
    s = settings or AcquisitionSettings()
    fn = value or _value_and_grad
    raw, owner = _raw_points(model, region, s.raw_samples, s, rng)
    far = _far(raw, avoid, s.min_separation)
    raw, owner = raw[far], owner[far]
    if raw.shape[0] == 0:
        return []
    raw_val, _ = fn(model, raw, best)
    order = np.argsort(-raw_val)
    picks: list[int] = []
    for i in order:
        if len(picks) == s.starts:
            break
        if all(np.max(np.abs(raw[i] - raw[j])) > 1e-3 for j in picks):
            picks.append(int(i))
    x0 = raw[picks]
    boxes = [region.box(int(owner[i])) for i in picks]
    lo = np.vstack([b[0] for b in boxes])
    hi = np.vstack([b[1] for b in boxes])
    free = region.free
    shape = x0.shape

    def objective(flat: FloatArray) -> tuple[float, FloatArray]:
        x = x0.copy()
        x[:, free] = flat.reshape(shape[0], -1)
        v, g = fn(model, x, best)
        # Sum over independent starts: one L-BFGS-B run optimizes them all at once.
        return -float(np.sum(v)), -g[:, free].ravel()

    bounds = list(zip(lo[:, free].ravel(), hi[:, free].ravel(), strict=True))
    if free.any() and bounds:
        res = minimize(
            objective, x0[:, free].ravel(), jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": s.maxiter},
        )
        xs = x0.copy()
        xs[:, free] = np.asarray(res.x).reshape(shape[0], -1)
    else:
        xs = x0
    xs = np.vstack([_snap(row, region.lo, region.hi, free, s.snap) for row in xs])
    vals, _ = fn(model, xs, best)
    results = list(zip(list(xs), [float(v) for v in vals], strict=True))
    # A start that converged back onto an avoided point is replaced by its raw origin.
    results = [
        (x, v) if _far(x[None, :], avoid, s.min_separation)[0] else (raw[i], float(raw_val[i]))
        for (x, v), i in zip(results, picks, strict=True)
    ]
    return sorted(results, key=lambda t: -t[1])


def _far(x: FloatArray, avoid: FloatArray | None, sep: float) -> np.ndarray:
    """Rows of `x` at least `sep` (largest coordinate) away from every row of `avoid`."""
    if avoid is None or avoid.shape[0] == 0 or sep <= 0:
        return np.ones(x.shape[0], dtype=bool)
    dist = np.max(np.abs(x[:, None, :] - avoid[None, :, :]), axis=-1)
    return np.asarray(np.min(dist, axis=1) >= sep)
