"""Gaussian-process surrogates of each metric's relative lift, fitted on noisy A/B results.

One scikit-learn `GaussianProcessRegressor` per metric, with a Matern-5/2 kernel and one
length scale per feature (ARD), so that the fitted length scales say which knobs matter. A/B
results are heteroscedastic: an arm with little traffic or a noisy metric has a wide interval.
Each point therefore carries its own noise variance, the square of its standard error, passed
to the regressor as a per-point `alpha`; the regressor never treats a lucky, noisy arm as exact.

The baseline (production) enters every fit as an extra point with lift exactly zero, because
every lift is measured against it. With a zero prior mean this gives sensible behaviour before
any data exist: predictions near production are confidently close to zero, and uncertainty
grows with the distance from it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern

from rectune.domain import Config, ConfigValue, Direction, MetricSpec, config_key
from rectune.optimizers._threads import single_blas_thread
from rectune.optimizers.encoding import FloatArray, SpaceEncoder
from rectune.optimizers.problem import Observation, TuningProblem

__all__ = [
    "Incumbent",
    "MetricForecast",
    "MetricGP",
    "Prediction",
    "SurrogateModel",
    "SurrogateSettings",
    "forecasts",
    "objective_of",
    "p_guardrails_of",
    "prediction_numbers",
    "prediction_text",
    "prob_guardrail_holds",
]


@dataclass(frozen=True)
class SurrogateSettings:
    """Knobs of the surrogate fit.

    Attributes:
        nu: Smoothness of the Matern kernel.
        prior_length_scale: Length scale (in unit-cube features) used before hyperparameters
            can be fitted.
        length_scale_bounds: Range the fitted ARD length scales may take.
        amplitude_bounds: Range of the kernel amplitude, in units of the scaled targets.
        min_fit: Fewer distinct tested configurations than this keeps the prior
            hyperparameters instead of fitting them (a fit on two points is noise).
        ard_per_dim: Distinct tested configurations needed per feature before each feature
            gets its own length scale; below that one shared length scale is fitted, because
            ARD on a handful of points happily declares real knobs irrelevant.
        n_restarts: Extra random restarts of the marginal-likelihood optimizer.
        se_floor: Smallest standard error believed, so no arm is ever treated as exact.
        calibrate: Widen the posterior when the fitted model explains its own data worse
            than it claims (see `MetricGP.calibration`).
        max_inflation: Largest factor `calibrate` may widen the posterior by.
    """

    nu: float = 2.5
    prior_length_scale: float = 0.35
    length_scale_bounds: tuple[float, float] = (0.05, 20.0)
    amplitude_bounds: tuple[float, float] = (0.1, 50.0)
    min_fit: int = 5
    ard_per_dim: float = 2.0
    n_restarts: int = 1
    se_floor: float = 1e-4
    calibrate: bool = True
    max_inflation: float = 3.0


def prob_guardrail_holds(spec: MetricSpec, mean: FloatArray, std: FloatArray) -> FloatArray:
    """Probability that the true lift lies on the good side of the guardrail's threshold."""
    t = 0.0 if spec.guardrail_threshold is None else spec.guardrail_threshold
    sd = np.maximum(std, 1e-12)
    z = (mean - t) / sd if spec.direction is Direction.INCREASE else (t - mean) / sd
    return np.asarray(norm.cdf(z), dtype=np.float64)


class MetricGP:
    """The surrogate of one metric's relative lift.

    Targets are divided by a data-driven scale before fitting so that the kernel amplitude and
    its bounds mean the same thing for a metric that moves by 0.1% and one that moves by 10%.
    """

    def __init__(self, name: str, dim: int, prior_scale: float, settings: SurrogateSettings):
        self.name = name
        self.dim = dim
        self.prior_scale = prior_scale
        self.settings = settings
        self.scale = prior_scale
        self.fitted_hyperparameters = False
        self.calibration = 1.0
        self._gp: GaussianProcessRegressor | None = None
        self._x = np.zeros((0, dim))
        self._noise = np.zeros(0)

    def _kernel(self, fixed: bool, ard: bool) -> Kernel:
        s = self.settings
        ls: float | FloatArray = (
            np.full(self.dim, s.prior_length_scale) if ard else s.prior_length_scale
        )
        if fixed:
            return ConstantKernel(1.0, "fixed") * Matern(ls, "fixed", nu=s.nu)
        return ConstantKernel(1.0, s.amplitude_bounds) * Matern(ls, s.length_scale_bounds, nu=s.nu)

    def fit(self, x: FloatArray, y: FloatArray, se: FloatArray, n_distinct: int) -> MetricGP:
        """Fit on features `x`, lifts `y` and their standard errors `se` (baseline included)."""
        se = np.maximum(se, self.settings.se_floor)
        enough = n_distinct >= self.settings.min_fit
        if enough:
            spread = float(np.std(np.append(y, 0.0)))
            self.scale = max(spread, float(np.median(se)), 1e-4)
        else:
            self.scale = self.prior_scale
        noise = (se / self.scale) ** 2
        gp = GaussianProcessRegressor(
            kernel=self._kernel(
                fixed=not enough, ard=n_distinct >= self.settings.ard_per_dim * self.dim
            ),
            alpha=noise + 1e-8,
            normalize_y=False,
            optimizer="fmin_l_bfgs_b" if enough else None,
            n_restarts_optimizer=self.settings.n_restarts if enough else 0,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(x, y / self.scale)
        self._gp = gp
        self._x = x
        self._noise = noise
        self.fitted_hyperparameters = enough
        self.calibration = self._loo_inflation() if enough and self.settings.calibrate else 1.0
        return self

    def _loo_inflation(self) -> float:
        """How much wider the posterior must be to cover the data it was fitted on.

        Each tested arm is predicted from all the others (closed-form leave-one-out for a GP:
        residual ``[K^-1 y]_i / [K^-1]_ii`` with variance ``1 / [K^-1]_ii``, noise included).
        For a well-specified model these standardized residuals have unit variance. A/B data
        are few and noisy, and the marginal likelihood then often settles on a smooth, small
        model that is far surer of itself than its own held-out errors justify: a guardrail
        forecast of "holds with 95%" that breaks half the time. The root mean square of the
        residuals (at least 1, at most `max_inflation`) widens every posterior standard
        deviation; the means are untouched. Production's point (exact by construction) is left
        out.
        """
        gp = self._model
        k_inv = cho_solve((gp.L_, True), np.eye(gp.L_.shape[0]))
        z = gp.alpha_.ravel() / np.sqrt(np.maximum(np.diag(k_inv), 1e-300))
        rms = math.sqrt(float(np.mean(z[1:] ** 2))) if z.size > 1 else 1.0
        return min(max(rms, 1.0), self.settings.max_inflation)

    @property
    def _model(self) -> GaussianProcessRegressor:
        if self._gp is None:
            raise RuntimeError(f"surrogate of {self.name!r} used before fit()")
        return self._gp

    @property
    def length_scales(self) -> FloatArray:
        """Fitted ARD length scales, one per feature (small means the metric is sensitive)."""
        matern = self._model.kernel_.k2
        return np.broadcast_to(np.asarray(matern.length_scale, dtype=np.float64), (self.dim,))

    @property
    def typical_noise_var(self) -> float:
        """Median noise variance of the observed arms, in lift units squared."""
        obs = self._noise[1:] if self._noise.size > 1 else self._noise
        return float(np.median(obs)) * self.scale**2 if obs.size else self.prior_scale**2

    def _v(self, x: FloatArray) -> FloatArray:
        k = self._model.kernel_(self._x, x)
        return np.asarray(solve_triangular(self._model.L_, k, lower=True), dtype=np.float64)

    def predict(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and standard deviation of the true lift at each row of `x`."""
        gp = self._model
        k = gp.kernel_(x, self._x)
        mean = k @ gp.alpha_
        v = self._v(x)
        var = np.maximum(gp.kernel_.diag(x) - np.sum(v**2, axis=0), 1e-14)
        return mean * self.scale, np.sqrt(var) * self.scale * self.calibration

    def posterior_cov(self, x: FloatArray) -> FloatArray:
        """Joint posterior covariance of the true lifts at the rows of `x`."""
        v = self._v(x)
        cov = self._model.kernel_(x) - v.T @ v
        return np.asarray(cov * (self.scale * self.calibration) ** 2, dtype=np.float64)


@dataclass(frozen=True)
class Prediction:
    """Posterior of every metric at a set of points; arrays are (points, metrics)."""

    metrics: list[str]
    mean: FloatArray
    std: FloatArray

    def of(self, name: str) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviation of one metric."""
        j = self.metrics.index(name)
        return self.mean[:, j], self.std[:, j]


def objective_of(problem: TuningProblem, pred: Prediction) -> tuple[FloatArray, FloatArray]:
    """Mean and standard deviation of the weighted primary objective.

    Metrics are modelled independently, so the variances of the weighted terms add.
    """
    mean = np.zeros(pred.mean.shape[0])
    var = np.zeros(pred.mean.shape[0])
    for name, w in problem.objective_weights.items():
        m, s = pred.of(name)
        mean += w * m
        var += (w * s) ** 2
    return mean, np.sqrt(var)


def p_guardrails_of(
    problem: TuningProblem, pred: Prediction
) -> tuple[FloatArray, dict[str, FloatArray]]:
    """Probability that all guardrails hold (independent metrics), and that each one does."""
    each = {g.name: prob_guardrail_holds(g, *pred.of(g.name)) for g in problem.guardrails}
    joint = np.ones(pred.mean.shape[0])
    for p in each.values():
        joint = joint * p
    return joint, each


@dataclass(frozen=True)
class Incumbent:
    """The best tested configuration by the model's (shrunken) estimate."""

    config: Config
    x: FloatArray
    objective: float
    p_feasible: float
    is_baseline: bool


class SurrogateModel:
    """Per-metric surrogates of one problem, with the derived objective and feasibility.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> from rectune.optimizers.problem import LiftEstimate
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> history = [Observation(config={"w": 2.0},
        ...                        metrics={"clicks": LiftEstimate(lift=0.02, se=0.005)})]
        >>> model = SurrogateModel.fit(problem, history)
        >>> mean, sd = model.objective(model.encoder.encode_many([{"w": 2.0}]))
        >>> bool(0.0 < mean[0] < 0.02)
        True
    """

    def __init__(
        self,
        problem: TuningProblem,
        encoder: SpaceEncoder,
        gps: dict[str, MetricGP],
        tested: list[Config],
        history: Sequence[Observation],
    ) -> None:
        self.problem = problem
        self.encoder = encoder
        self.gps = gps
        self.tested = tested
        self.history = list(history)
        self.tested_x = encoder.encode_many(tested)

    @classmethod
    @single_blas_thread
    def fit(
        cls,
        problem: TuningProblem,
        history: Sequence[Observation],
        settings: SurrogateSettings | None = None,
    ) -> SurrogateModel:
        """Fit one surrogate per metric of `problem` on `history` (may be empty)."""
        settings = settings or SurrogateSettings()
        encoder = SpaceEncoder(problem.space)
        base_x = encoder.encode(problem.baseline)
        tested: dict[str, Config] = {config_key(problem.baseline): problem.baseline}
        for obs in history:
            tested.setdefault(obs.key, obs.config)
        gps: dict[str, MetricGP] = {}
        for spec in problem.metrics:
            rows = [o for o in history if spec.name in o.metrics]
            x = np.vstack([base_x, *(encoder.encode(o.config) for o in rows)])
            y = np.array([0.0, *(o.metrics[spec.name].lift for o in rows)])
            ses = [o.metrics[spec.name].se for o in rows]
            # The baseline's zero is exact by construction; give it a tiny fraction of the
            # typical error instead of zero to keep the Cholesky factorization stable.
            base_se = 0.05 * float(np.median(ses)) if ses else 1e-4
            se = np.array([base_se, *ses])
            n_distinct = len({o.key for o in rows})
            gps[spec.name] = MetricGP(
                spec.name, encoder.dim, problem.prior_lift_scale, settings
            ).fit(x, y, se, n_distinct)
        return cls(problem, encoder, gps, list(tested.values()), history)

    @property
    def metric_names(self) -> list[str]:
        """Metrics in the problem's order."""
        return [m.name for m in self.problem.metrics]

    @property
    def n_observations(self) -> int:
        """Number of observed arms."""
        return len(self.history)

    def predict(self, x: FloatArray) -> Prediction:
        """Posterior of every metric at the rows of `x`."""
        means, stds = zip(*(self.gps[n].predict(x) for n in self.metric_names), strict=True)
        return Prediction(self.metric_names, np.column_stack(means), np.column_stack(stds))

    def predict_configs(self, configs: Sequence[Mapping[str, ConfigValue]]) -> Prediction:
        """Posterior of every metric at the given configurations."""
        return self.predict(self.encoder.encode_many(configs))

    def objective_from(self, pred: Prediction) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviation of the weighted primary objective (see `objective_of`)."""
        return objective_of(self.problem, pred)

    def objective(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviation of the objective at the rows of `x`."""
        return self.objective_from(self.predict(x))

    def p_guardrails_from(self, pred: Prediction) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Probability that all guardrails hold, and that each one does."""
        return p_guardrails_of(self.problem, pred)

    def incumbent(self, min_p_feasible: float = 0.5) -> Incumbent:
        """The tested configuration with the best posterior objective that is likely feasible.

        The baseline is always eligible, so the incumbent never gets worse than production.
        """
        pred = self.predict(self.tested_x)
        mean, _ = self.objective_from(pred)
        p_feas, _ = self.p_guardrails_from(pred)
        # Index 0 is the baseline, which is feasible by definition (all its lifts are zero).
        ok = p_feas >= min_p_feasible
        ok[0] = True
        score = np.where(ok, mean, -math.inf)
        i = int(np.argmax(score))
        return Incumbent(
            config=self.tested[i],
            x=self.tested_x[i],
            objective=float(mean[i]),
            p_feasible=1.0 if i == 0 else float(p_feas[i]),
            is_baseline=i == 0,
        )

    def length_scales(self, metrics: Sequence[str] | None = None) -> FloatArray:
        """Geometric mean of the ARD length scales over `metrics` (default: the primaries)."""
        names = list(metrics) if metrics is not None else [m.name for m in self.problem.primaries]
        logs = np.vstack([np.log(self.gps[n].length_scales) for n in names])
        return np.asarray(np.exp(logs.mean(axis=0)), dtype=np.float64)


def prediction_numbers(problem: TuningProblem, pred: Prediction, i: int) -> dict[str, float]:
    """The predicted numbers of row `i` as a flat dict (lifts, their sds, objective, risk)."""
    out: dict[str, float] = {}
    for j, name in enumerate(pred.metrics):
        out[name] = float(pred.mean[i, j])
        out[f"{name}_sd"] = float(pred.std[i, j])
    row = Prediction(pred.metrics, pred.mean[i : i + 1], pred.std[i : i + 1])
    obj, obj_sd = objective_of(problem, row)
    p_feas, _ = p_guardrails_of(problem, row)
    out["objective"] = float(obj[0])
    out["objective_sd"] = float(obj_sd[0])
    out["p_feasible"] = float(p_feas[0])
    return out


def prediction_text(problem: TuningProblem, numbers: Mapping[str, float]) -> str:
    """One sentence with the predicted primary lifts (95% intervals) and guardrail odds."""
    parts = []
    for m in problem.primaries:
        mu, sd = numbers[m.name], numbers[f"{m.name}_sd"]
        parts.append(
            f"{m.name} {mu:+.2%} (95% interval {mu - 1.96 * sd:+.2%} to {mu + 1.96 * sd:+.2%})"
        )
    text = "predicted " + ", ".join(parts)
    if problem.guardrails:
        text += f"; P(all guardrails hold) = {numbers['p_feasible']:.2f}"
    return text


@dataclass(frozen=True)
class MetricForecast:
    """The predicted relative lift of one metric with its 95% interval.

    `p_holds` is the probability that the guardrail holds (None for other metrics).
    """

    metric: str
    mean: float
    sd: float
    low: float
    high: float
    p_holds: float | None = None


def forecasts(problem: TuningProblem, pred: Prediction, i: int) -> dict[str, MetricForecast]:
    """Per-metric forecasts of row `i` of `pred`."""
    _, each = p_guardrails_of(problem, pred)
    out: dict[str, MetricForecast] = {}
    for j, name in enumerate(pred.metrics):
        mu, sd = float(pred.mean[i, j]), float(pred.std[i, j])
        p = float(each[name][i]) if name in each else None
        out[name] = MetricForecast(name, mu, sd, mu - 1.96 * sd, mu + 1.96 * sd, p)
    return out
