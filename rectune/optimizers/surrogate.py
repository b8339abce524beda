"""Gaussian-process surrogates of each metric's relative lift, fitted on noisy A/B results.

BoTorch's recipe, on `rectune.optimizers.gp.ExactGP`, one model per metric:

- **inputs** scaled so the soft box is the unit cube (`SpaceEncoder`), scale-invariant weight
  groups reduced to one representative;
- **the bad tail winsorized** (Ax's rule): a few catastrophic arms would otherwise set the
  model's amplitude and hide the small differences near the optimum. An objective metric is
  clipped below ``Q1 - 1.5 IQR`` (above ``Q3 + 1.5 IQR`` when lower is better); a guardrail
  only on its bad side and never closer than its threshold, so no breach is hidden;
- **outcomes standardized**, so priors mean the same for a metric moving by 0.1% and one
  moving by 10%; before any result the scale is the problem's `prior_scale` (the skill's
  declared effect scale, else the task's guardrail thresholds);
- **fixed noise from the A/B standard errors**, with the correlation of arms that share a
  control (`shared_control`): two arms of one experiment are compared with the same control
  arm, so with equal traffic half of each one's error variance is common;
- **log-normal priors on the length scales** with several restarts (MAP, not maximum
  likelihood);
- **a fixed linear term from the skill's effect scale** (`slope_prior`): each knob's slope
  has a prior standard deviation of a multiple of the metric's scale per step (a fifth of
  the soft box),
  so a measured small step moves the posterior and its trend carries to the next round
  instead of being absorbed as noise around a flat function;
- **a fixed quadratic term** (`curve_prior`) of the same size per step: with slopes alone a
  loss on one side of production predicts a gain on the other, and round 2 overreaches into
  it; the curvature lets "both sides lose" be explained as production sitting near the
  knob's optimum;
- production as an exact point of lift zero for every metric.

A metric the skill declares deterministic (serving cost follows the candidate cut) is not
modelled: `DeterministicMetric` computes it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from rectune.domain import (
    CategoricalParameter,
    Config,
    ConfigValue,
    Direction,
    MetricRole,
    MetricSpec,
    config_key,
)
from rectune.domain.structure import DeterministicMetric as DeterministicRelation
from rectune.optimizers._threads import single_blas_thread
from rectune.optimizers.encoding import FloatArray, SpaceEncoder
from rectune.optimizers.gp import ExactGP, HyperPrior
from rectune.optimizers.problem import Observation, TuningProblem
from rectune.optimizers.reach import STEP, Reach, empirical_scale

__all__ = [
    "DeterministicMetric",
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
    "winsor_cutoffs",
]


@dataclass(frozen=True)
class SurrogateSettings:
    """Knobs of the surrogate fit.

    Attributes:
        prior: Log-normal priors of the GP hyperparameters.
        restarts: Random restarts of the MAP fit, beside the prior's mode.
        se_floor: Smallest standard error believed, so no arm is ever treated as exact.
        shared_control: Error correlation of two arms of one experiment (one half when the
            control has the arms' traffic).
        winsorize: Clip the bad tail of each metric before fitting (Ax's rule).
        transfer_noise: Transferred observations (another task, an older model) have their
            error standard deviation multiplied by this, plus `transfer_drift` standardized
            units of drift: they inform, they do not decide.
        transfer_drift: See `transfer_noise`.
        calibrate: Widen the posterior when the fitted model explains its own data worse
            than it claims (standardized leave-one-out residuals).
        max_inflation: Largest factor `calibrate` may widen the posterior by.
        reach_floor: Floor the posterior spread by the distance to the nearest measured
            configuration (`rectune.optimizers.reach`); off only for ablations.
        slope_prior: Prior standard deviation of each knob's slope in the fixed linear term
            of each GP (anchored at production), as a multiple of the metric's scale per
            step (the reach floor's scale; a categorical switch counts as one step); 0 turns
            the linear term off.
        curve_prior: Prior standard deviation of each numeric knob's curvature in the fixed
            quadratic term, as the multiple of the metric's scale that a one-step move
            gains or loses through curvature alone; 0 turns the quadratic term off.
        seed: Seed of the restarts.
    """

    prior: HyperPrior = field(default_factory=HyperPrior)
    restarts: int = 3
    se_floor: float = 1e-4
    shared_control: float = 0.5
    winsorize: bool = True
    transfer_noise: float = 1.5
    transfer_drift: float = 0.5
    calibrate: bool = True
    max_inflation: float = 3.0
    reach_floor: bool = True
    slope_prior: float = 1.0
    curve_prior: float = 1.0
    seed: int = 0


def prob_guardrail_holds(spec: MetricSpec, mean: FloatArray, std: FloatArray) -> FloatArray:
    """Probability that the true lift lies on the good side of the guardrail's threshold."""
    t = 0.0 if spec.guardrail_threshold is None else spec.guardrail_threshold
    sd = np.maximum(std, 1e-12)
    z = (mean - t) / sd if spec.direction is Direction.INCREASE else (t - mean) / sd
    return np.asarray(norm.cdf(z), dtype=np.float64)


def _tukey(y: FloatArray) -> tuple[float, float, float]:
    q1 = float(np.percentile(y, 25, method="lower"))
    q3 = float(np.percentile(y, 75, method="higher"))
    return q1, q3, q3 - q1


def winsor_cutoffs(spec: MetricSpec, y: FloatArray) -> tuple[float, float]:
    """Ax's automatic winsorization bounds for one metric's lifts (bad side only).

    Example:
        >>> m = MetricSpec(name="dwell", role="primary", direction="increase")
        >>> lo, hi = winsor_cutoffs(m, np.array([0.0, 0.01, 0.02, 0.01, -0.4]))
        >>> round(lo, 3), hi
        (-0.015, inf)
    """
    if y.size < 4:
        return -math.inf, math.inf
    q1, q3, iqr = _tukey(y)
    t = spec.guardrail_threshold
    if spec.role is MetricRole.GUARDRAIL and t is not None:
        if spec.direction is Direction.INCREASE:
            base = min(q1, t)
            return base - 1.5 * (q3 - base), math.inf
        top = max(q3, t)
        return -math.inf, top + 1.5 * (top - q1)
    if spec.direction is Direction.INCREASE:
        return q1 - 1.5 * iqr, math.inf
    return -math.inf, q3 + 1.5 * iqr


class MetricGP:
    """The surrogate of one metric's relative lift (lift units in, lift units out)."""

    def __init__(self, spec: MetricSpec, prior_scale: float, settings: SurrogateSettings):
        self.name = spec.name
        self.spec = spec
        self.prior_scale = prior_scale
        self.settings = settings
        self.center = 0.0
        self.scale = prior_scale
        self.calibration = 1.0
        self.fitted_hyperparameters = False
        self.n_points = 0
        self._gp: ExactGP | None = None
        self._noise_var = prior_scale**2
        self.reach: Reach | None = None
        self.reach_scale = 0.0

    def with_reach(self, reach: Reach, scale: float) -> MetricGP:
        """Floor the posterior spread at `scale` times the growth of the distance to `reach`'s
        anchors (see `rectune.optimizers.reach`)."""
        self.reach = reach
        self.reach_scale = float(scale)
        return self

    def _floor(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        if self.reach is None or self.reach_scale <= 0.0:
            return np.zeros(x.shape[0]), np.zeros_like(x)
        return self.reach.spread(x, self.reach_scale)

    def fit(
        self,
        x: FloatArray,
        y: FloatArray,
        se: FloatArray,
        experiment: Sequence[int],
        transferred: Sequence[bool],
        slopes: FloatArray | None = None,
        curvatures: FloatArray | None = None,
    ) -> MetricGP:
        """Fit on features `x` and lifts `y` with standard errors `se`; row 0 is production.

        `experiment` names each row's experiment (rows of one experiment share a control;
        production's row has its own), `transferred` marks rows from another task or model.
        `slopes` holds the prior variance of the lift's slope along each feature (lift units
        per feature unit, squared) for the fixed linear term anchored at production, and
        `curvatures` that of its curvature (per feature unit squared) for the quadratic one.
        """
        s = self.settings
        se = np.maximum(se, s.se_floor)
        n = len(y)
        self.n_points = n - 1
        if s.winsorize:
            lo, hi = winsor_cutoffs(self.spec, y)
            y = np.clip(y, lo, hi)
        if n > 1:
            self.center = float(np.mean(y))
            self.scale = max(float(np.std(y)), 0.5 * float(np.median(se[1:])), s.se_floor)
        else:
            self.center, self.scale = 0.0, self.prior_scale
        ys = (y - self.center) / self.scale
        sd = se / self.scale
        tr = np.asarray(transferred, dtype=bool)
        sd = np.where(tr, np.sqrt((sd * s.transfer_noise) ** 2 + s.transfer_drift**2), sd)
        cov = np.diag(sd**2)
        exp = np.asarray(experiment)
        same = (exp[:, None] == exp[None, :]) & ~np.eye(n, dtype=bool)
        cov = cov + np.where(same, s.shared_control * np.outer(sd, sd), 0.0)
        self._noise_var = float(np.median(se[1:] ** 2)) if n > 1 else self.prior_scale**2
        linear = None if slopes is None else np.asarray(slopes) / self.scale**2
        quadratic = None if curvatures is None else np.asarray(curvatures) / self.scale**2
        gp = ExactGP(x, ys, cov, s.prior, linear=linear, quadratic=quadratic, anchor=x[0])
        if n > 2:
            gp.fit(np.random.default_rng(s.seed), restarts=s.restarts)
            self.fitted_hyperparameters = True
        else:
            # Production alone (or with one arm) says nothing about the hyperparameters.
            gp.mean = 0.0 if n == 1 else gp.mean
        self._gp = gp
        self.calibration = self._loo_inflation() if n > 3 and s.calibrate else 1.0
        return self

    def _loo_inflation(self) -> float:
        """How much wider the posterior must be to cover the data it was fitted on.

        Each tested arm is predicted from all the others (closed form). For a well-specified
        model these standardized residuals have unit variance; their root mean square (at
        least 1, at most `max_inflation`) widens every posterior standard deviation.
        Production's point (exact by construction) is left out.
        """
        z = self.gp.loo_z()[1:]
        rms = math.sqrt(float(np.mean(z**2))) if z.size else 1.0
        return min(max(rms, 1.0), self.settings.max_inflation)

    @property
    def gp(self) -> ExactGP:
        """The fitted GP (standardized units)."""
        if self._gp is None:
            raise RuntimeError(f"surrogate of {self.name!r} used before fit()")
        return self._gp

    @property
    def length_scales(self) -> FloatArray:
        """Fitted ARD length scales, one per feature (small means the metric is sensitive)."""
        return np.asarray(self.gp.length_scales, dtype=np.float64)

    @property
    def typical_noise_var(self) -> float:
        """Median noise variance of the observed arms, in lift units squared."""
        return self._noise_var

    def predict(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and standard deviation of the true lift at each row of `x`.

        The spread is the GP's, combined in quadrature with the distance floor: never
        narrower than the distance to the nearest measured configuration warrants.
        """
        m, v = self.gp.predict(x)
        gp_sd = self.scale * self.calibration * np.sqrt(v)
        floor, _ = self._floor(x)
        return self.center + self.scale * m, np.sqrt(gp_sd**2 + floor**2)

    def predict_with_grad(
        self, x: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Mean, standard deviation and their gradients in `x` (lift units)."""
        m, v, dm, dv = self.gp.predict_with_grad(x)
        sd = np.sqrt(v)
        k = self.scale * self.calibration
        gp_sd = k * sd
        d_gp_sd = k * dv / (2.0 * sd[:, None])
        floor, d_floor = self._floor(x)
        total = np.sqrt(gp_sd**2 + floor**2)
        d_total = (gp_sd[:, None] * d_gp_sd + floor[:, None] * d_floor) / total[:, None]
        return self.center + self.scale * m, total, self.scale * dm, d_total

    def gp_std(self, x: FloatArray) -> FloatArray:
        """The GP's own posterior standard deviation (no distance floor), in lift units."""
        _, v = self.gp.predict(x)
        return np.asarray(self.scale * self.calibration * np.sqrt(v), dtype=np.float64)

    def posterior_cov(self, x: FloatArray) -> FloatArray:
        """Joint posterior covariance of the true lifts at the rows of `x`.

        The distance floor enters as independent variance on the diagonal.
        """
        floor, _ = self._floor(x)
        cov = self.gp.posterior_cov(x) * (self.scale * self.calibration) ** 2
        return np.asarray(cov + np.diag(floor**2), dtype=np.float64)

    def fantasize(self, x: FloatArray) -> MetricGP:
        """A copy that has seen its own posterior mean at `x` (kriging believer)."""
        out = MetricGP.__new__(MetricGP)
        out.__dict__.update(self.__dict__)
        m, _ = self.gp.predict(x)
        # Noise-free belief (classic kriging believer): a pending arm's neighbourhood counts as
        # known, so the next pick of the batch goes where the model is still unsure.
        out._gp = self.gp.condition(x, m, 1e-4 * self._noise_var / self.scale**2)
        # The distance floor keeps its measured anchors: a pending arm is not a measurement,
        # and a batch must not walk away from the data one believed pick at a time.
        return out


class DeterministicMetric:
    """A metric computed exactly from one knob (declared by the skill), with the GP interface."""

    def __init__(
        self, spec: MetricSpec, relation: DeterministicRelation, encoder: SpaceEncoder,
        production: float,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.relation = relation
        self.encoder = encoder
        self.production = production
        self.column = encoder.param_slice(relation.parameter).start
        self.fitted_hyperparameters = True
        self.calibration = 1.0
        self.typical_noise_var = 1e-12

    def _values(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        v, slope = self.encoder.value_and_slope(self.relation.parameter, x[:, self.column])
        return np.maximum(v, 1e-12), slope

    def predict(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The exact lift (standard deviation zero, up to a tiny floor)."""
        v, _ = self._values(x)
        e = self.relation.exponent
        return (v / self.production) ** e - 1.0, np.full(len(v), 1e-9)

    def predict_with_grad(
        self, x: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Exact lift, zero spread, and the lift's gradient in `x`."""
        v, slope = self._values(x)
        e = self.relation.exponent
        mean = (v / self.production) ** e - 1.0
        dm = np.zeros_like(x)
        dm[:, self.column] = e * (v / self.production) ** (e - 1.0) * slope / self.production
        return mean, np.full(len(v), 1e-9), dm, np.zeros_like(x)

    def posterior_cov(self, x: FloatArray) -> FloatArray:
        """No uncertainty."""
        return np.eye(x.shape[0]) * 1e-18

    def fantasize(self, x: FloatArray) -> DeterministicMetric:
        """Nothing to learn."""
        return self

    @property
    def length_scales(self) -> FloatArray:
        """Not a GP: no length scales (infinite everywhere but on its knob)."""
        out = np.full(self.encoder.dim, np.inf)
        out[self.column] = 1.0
        return out


MetricModel = MetricGP | DeterministicMetric


def _slope_variances(problem: TuningProblem, encoder: SpaceEncoder, scale: float) -> FloatArray:
    """Prior variance of the lift's slope along each feature: `scale` per step of a numeric
    knob (`STEP` of the soft box), and per category switch (which moves two one-hot
    features by one each) for a categorical one."""
    out = np.zeros(encoder.dim)
    for p in problem.space.parameters:
        sl = encoder.param_slice(p.name)
        if isinstance(p, CategoricalParameter):
            out[sl] = 0.5 * scale**2
        elif encoder.free_mask[sl.start]:  # a scale-invariant group's fixed reference: none
            out[sl] = (scale / STEP) ** 2
    return out


def _curvature_variances(
    problem: TuningProblem, encoder: SpaceEncoder, scale: float
) -> FloatArray:
    """Prior variance of the lift's curvature along each feature: a move of one step
    (`STEP`) of a numeric knob gains or loses `scale` through curvature alone. One-hot
    features get none (on 0/1 values the square is the feature itself: the linear term
    already covers it)."""
    out = np.zeros(encoder.dim)
    for p in problem.space.parameters:
        sl = encoder.param_slice(p.name)
        if not isinstance(p, CategoricalParameter) and encoder.free_mask[sl.start]:
            out[sl] = (scale / STEP**2) ** 2
    return out


def _reach_scale(
    problem: TuningProblem,
    name: str,
    encoder: SpaceEncoder,
    reach: Reach,
    rows: Sequence[Observation],
) -> float:
    """The distance floor's scale of metric `name`: the larger of the declared (or
    guardrail-derived) prior scale and what this task's measured arms show."""
    prior = problem.prior_scale(name)
    own = [o for o in rows if not o.transferred]
    if not own:
        return prior
    x = np.vstack([encoder.encode(problem.baseline), *(encoder.encode(o.config) for o in own)])
    y = [0.0, *(o.metrics[name].lift for o in own)]
    se = [0.0, *(o.metrics[name].se for o in own)]
    seen = empirical_scale(reach, x, y, se)
    if seen is None:
        return prior
    if problem.structure.effect_scale(name) is not None:
        # The skill's statement is a floor: measured arms may only show the knobs sharper.
        return max(prior, seen)
    # Without a statement the guardrail-derived prior is only a guess of the order of
    # magnitude: the task's own arms replace it, never below a quarter of it (a round of
    # pure noise must not declare the surface flat).
    return max(seen, UNDECLARED_FLOOR * prior)


UNDECLARED_FLOOR = 0.25
"""Smallest share of the guardrail-derived prior scale a task without declared effect scales
keeps once its own arms have measured the scale."""


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

    `tested` lists production first, then every configuration tested in this task
    (transferred observations inform the fit but are not "tested").

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
        >>> bool(0.0 < mean[0] <= 0.02)
        True
    """

    def __init__(
        self,
        problem: TuningProblem,
        encoder: SpaceEncoder,
        gps: dict[str, MetricModel],
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
        encoder = SpaceEncoder(problem.space, problem.structure, problem.baseline)
        base_x = encoder.encode(problem.baseline)
        tested: dict[str, Config] = {config_key(problem.baseline): problem.baseline}
        for obs in history:
            if not obs.transferred:
                tested.setdefault(obs.key, obs.config)
        gps: dict[str, MetricModel] = {}
        measured_x = encoder.encode_many(list(tested.values()))
        moved = [o.config for o in history if o.transferred]
        reach = Reach.for_encoder(
            encoder, measured_x, encoder.encode_many(moved) if moved else None
        )
        for spec in problem.metrics:
            relation = problem.structure.deterministic_for(spec.name)
            if relation is not None:
                gps[spec.name] = DeterministicMetric(
                    spec, relation, encoder, float(problem.baseline[relation.parameter])
                )
                continue
            rows = [o for o in history if spec.name in o.metrics]
            x = np.vstack([base_x, *(encoder.encode(o.config) for o in rows)])
            y = np.array([0.0, *(o.metrics[spec.name].lift for o in rows)])
            ses = [o.metrics[spec.name].se for o in rows]
            # Production's zero is exact by construction; a tiny error keeps the
            # factorization stable.
            base_se = 0.02 * float(np.median(ses)) if ses else 1e-3 * problem.prior_scale(spec.name)
            se = np.array([base_se, *ses])
            experiment = [-1, *(o.round for o in rows)]
            transferred = [False, *(o.transferred for o in rows)]
            # Transferred rows belong to other experiments than this task's rounds.
            experiment = [
                e - 10_000 if t else e for e, t in zip(experiment, transferred, strict=True)
            ]
            scale = _reach_scale(problem, spec.name, encoder, reach, rows)
            slopes = (
                _slope_variances(problem, encoder, settings.slope_prior * scale)
                if settings.slope_prior > 0
                else None
            )
            curvatures = (
                _curvature_variances(problem, encoder, settings.curve_prior * scale)
                if settings.curve_prior > 0
                else None
            )
            gp = MetricGP(spec, problem.prior_scale(spec.name), settings).fit(
                x, y, se, experiment, transferred, slopes, curvatures
            )
            if settings.reach_floor:
                gp.with_reach(reach, scale)
            gps[spec.name] = gp
        return cls(problem, encoder, gps, list(tested.values()), history)

    @property
    def metric_names(self) -> list[str]:
        """Metrics in the problem's order."""
        return [m.name for m in self.problem.metrics]

    @property
    def n_observations(self) -> int:
        """Number of observed arms of this task (transferred ones not counted)."""
        return sum(not o.transferred for o in self.history)

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

    def fantasize(self, x: FloatArray) -> SurrogateModel:
        """A model that believes its own predictions at the rows of `x` were observed."""
        gps = {n: g.fantasize(x) for n, g in self.gps.items()}
        out = SurrogateModel.__new__(SurrogateModel)
        out.__dict__.update(self.__dict__)
        out.gps = gps
        return out

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
        score[0] = 0.0
        i = int(np.argmax(score))
        return Incumbent(
            config=self.tested[i],
            x=self.tested_x[i],
            objective=float(mean[i]) if i else 0.0,
            p_feasible=1.0 if i == 0 else float(p_feas[i]),
            is_baseline=i == 0,
        )

    def length_scales(self, metrics: Sequence[str] | None = None) -> FloatArray:
        """Geometric mean of the ARD length scales over `metrics` (default: the primaries)."""
        names = list(metrics) if metrics is not None else [m.name for m in self.problem.primaries]
        names = [n for n in names if isinstance(self.gps[n], MetricGP)] or names
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
