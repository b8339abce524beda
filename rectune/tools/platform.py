"""The A/B platform protocol every adapter implements, and power analysis.

Agents talk to an `ABPlatform` only: they never import the simulator. Deploying (launch) and
measuring (status, results) are separate calls because a real test runs for days; the graph
may stop between them and resume from a checkpoint in another process.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain import ExperimentResult, ExperimentSpec, ExperimentState, RecTuneError

__all__ = [
    "SRM_ALPHA",
    "ABPlatform",
    "ExperimentNotFoundError",
    "ExperimentStatus",
    "MetricBaseline",
    "PowerPlan",
    "SupportsBaselines",
    "experiment_id_for",
    "minimum_detectable_effect",
    "plan_experiment",
    "power_analysis",
    "power_at",
    "spec_fingerprint",
    "validated_spec",
]

SRM_ALPHA = 0.001
"""Sample-ratio mismatch is flagged below this p-value (a deliberately strict level)."""


class ExperimentNotFoundError(RecTuneError, KeyError):
    """No experiment with that id is known to the platform."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "experiment not found"


class ExperimentStatus(BaseModel):
    """Where an experiment is, without its numbers.

    Attributes:
        experiment_id: The platform's id.
        task: The task of the experiment.
        state: RUNNING, COMPLETED or ABORTED.
        days_run: Days of traffic measured so far.
        days_total: Planned duration.
        aborted_arms: Arms stopped early, with the reason (e.g. a guardrail breach).
        abort_reason: Why the whole experiment was aborted, if it was.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: str
    task: str
    state: ExperimentState
    days_run: int = Field(ge=0)
    days_total: int = Field(ge=1)
    aborted_arms: dict[str, str] = Field(default_factory=dict)
    abort_reason: str | None = None

    @property
    def finished(self) -> bool:
        """Whether no more data will come (completed or aborted)."""
        return self.state is not ExperimentState.RUNNING


@runtime_checkable
class ABPlatform(Protocol):
    """What rectune needs from an A/B testing platform."""

    def launch(self, spec: ExperimentSpec, idempotency_key: str) -> str:
        """Start an experiment and return its id.

        The same key always returns the same id and never starts a second experiment, even
        from another process. Invalid specs raise before anything is started.
        """
        ...

    def status(self, experiment_id: str) -> ExperimentStatus:
        """The experiment's state and progress."""
        ...

    def results(self, experiment_id: str) -> ExperimentResult:
        """Results per treatment arm and metric: interim while running, final when done."""
        ...

    def abort(self, experiment_id: str, reason: str) -> ExperimentStatus:
        """Stop a running experiment; a finished one is left unchanged."""
        ...


class MetricBaseline(BaseModel):
    """What a power analysis needs to know about a metric under the production config.

    Attributes:
        metric: Metric name.
        mean: Population mean (or ratio) under production.
        cv: Per-user coefficient of variation of the quantity the test compares, after any
            variance reduction the platform applies (CUPED); the standard error of a relative
            lift between two arms of n users each is about ``cv * sqrt(2 / n)``.
        days: Experiment duration the numbers refer to (per-user metrics average over days).
        population: Users available to experiments, when known.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    mean: float
    cv: float = Field(gt=0)
    days: int = Field(ge=1)
    population: int | None = None


@runtime_checkable
class SupportsBaselines(Protocol):
    """A platform that can tell how noisy its metrics are (for power analysis)."""

    def baselines(self, task: str, days: int) -> dict[str, MetricBaseline]:
        """Per-metric baselines of `task` for an experiment of `days` days."""
        ...


class PowerPlan(BaseModel):
    """Users (and traffic, days) an experiment needs to detect an effect.

    Attributes:
        metric: Metric the plan is for.
        mde: Minimum detectable relative effect (e.g. 0.01 for 1%).
        alpha: Two-sided significance level.
        power: Probability of detecting an effect of size `mde`.
        days: Duration the plan assumes.
        users_per_arm: Users needed in each arm (control included).
        traffic_per_arm: `users_per_arm / population` when the population is known.
        feasible: Whether that traffic is within the allowed maximum.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    mde: float
    alpha: float
    power: float
    days: int
    users_per_arm: int
    traffic_per_arm: float | None = None
    feasible: bool = True


def power_analysis(
    baseline: MetricBaseline,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    max_traffic_per_arm: float = 0.5,
) -> PowerPlan:
    """Users per arm needed to detect a relative effect `mde` on a metric.

    Uses statsmodels' two-sample normal power with the standardised effect ``mde / cv``.

    Example:
        >>> b = MetricBaseline(metric="dwell_time", mean=900.0, cv=0.6, days=7, population=60000)
        >>> power_analysis(b, 0.02).users_per_arm
        14128
    """
    if not mde > 0:
        raise ValueError(f"mde={mde}: must be a positive relative effect, e.g. 0.01 for 1%")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must lie strictly between 0 and 1")
    from statsmodels.stats.power import NormalIndPower  # heavy import, only when planning

    n = NormalIndPower().solve_power(
        effect_size=mde / baseline.cv, alpha=alpha, power=power, ratio=1.0
    )
    users = math.ceil(float(n))
    traffic = None if baseline.population is None else users / baseline.population
    feasible = traffic is None or traffic <= max_traffic_per_arm
    return PowerPlan(
        metric=baseline.metric,
        mde=mde,
        alpha=alpha,
        power=power,
        days=baseline.days,
        users_per_arm=users,
        traffic_per_arm=traffic,
        feasible=feasible,
    )


def minimum_detectable_effect(
    baseline: MetricBaseline, users_per_arm: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest relative effect detected with probability `power` at this arm size."""
    from statsmodels.stats.power import NormalIndPower

    es = NormalIndPower().solve_power(
        nobs1=users_per_arm, alpha=alpha, power=power, ratio=1.0, effect_size=None
    )
    return float(es) * baseline.cv


def power_at(
    baseline: MetricBaseline, mde: float, users_per_arm: int, *, alpha: float = 0.05
) -> float:
    """Probability of detecting a relative effect `mde` with `users_per_arm` users per arm."""
    from statsmodels.stats.power import NormalIndPower

    return float(
        NormalIndPower().power(
            effect_size=mde / baseline.cv, nobs1=users_per_arm, alpha=alpha, ratio=1.0
        )
    )


def plan_experiment(
    platform: SupportsBaselines,
    task: str,
    metric: str,
    mde: float,
    *,
    traffic_per_arm: float,
    day_options: Iterable[int] = (3, 5, 7, 10, 14),
    alpha: float = 0.05,
    power: float = 0.8,
) -> PowerPlan:
    """The shortest duration in `day_options` that gives `power` at `traffic_per_arm`.

    Longer tests average more days per user, which lowers the metric's noise. When no option
    is enough, the plan for the longest one is returned with `feasible=False`.
    """
    plan: PowerPlan | None = None
    for days in sorted(day_options):
        base = platform.baselines(task, days)[metric]
        plan = power_analysis(base, mde, alpha=alpha, power=power, max_traffic_per_arm=1.0)
        ok = plan.traffic_per_arm is None or plan.traffic_per_arm <= traffic_per_arm
        if ok:
            return plan
    if plan is None:
        raise ValueError("day_options is empty")
    return plan.model_copy(update={"feasible": False})


def experiment_id_for(idempotency_key: str, prefix: str = "exp") -> str:
    """A stable experiment id derived from an idempotency key."""
    if not idempotency_key:
        raise ValueError("idempotency_key must be a non-empty string")
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"{prefix}-{digest}"


def validated_spec(spec: ExperimentSpec) -> ExperimentSpec:
    """Validate a spec again (it may have been built with `model_copy`, which skips checks).

    Raises:
        SpecError: with the validators' messages (days, traffic sum, duplicate names, ...).
    """
    from pydantic import ValidationError

    from rectune.domain import SpecError

    try:
        return ExperimentSpec.model_validate(spec.model_dump())
    except ValidationError as exc:
        msgs = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise SpecError(f"invalid experiment spec: {msgs}") from None


def spec_fingerprint(spec: ExperimentSpec) -> str:
    """A hash of a spec's content, to detect a key reused for a different experiment."""
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]

