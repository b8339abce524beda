"""The A/B platform protocol every adapter implements, and power analysis.

Agents talk to an `ABPlatform` only: they never import the simulator. Deploying (launch) and
measuring (status, results) are separate calls because a real test runs for days; the graph
may stop between them and resume from a checkpoint in another process.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from scipy import stats as sps
from scipy.optimize import brentq

from rectune.domain import (
    ExperimentResult,
    ExperimentSpec,
    ExperimentState,
    MetricRole,
    MetricSpec,
    RecTuneError,
)

__all__ = [
    "SRM_ALPHA",
    "ABPlatform",
    "ABTestPlan",
    "ExperimentNotFoundError",
    "ExperimentStatus",
    "MetricBaseline",
    "MetricPlan",
    "PowerPlan",
    "SupportsBaselines",
    "experiment_id_for",
    "minimum_detectable_effect",
    "plan_ab_test",
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
            variance reduction the platform applies (CUPED), over the users who contribute to
            the metric; the standard error of a relative lift between two arms of n
            contributing users each is about ``cv * sqrt(2 / n)`` under no effect.
        days: Experiment duration the numbers refer to (per-user metrics average over days).
        population: Users available to experiments, when known.
        coverage: Share of assigned users who contribute to the metric (a per-user metric
            divided by active days drops users who were never active); a plan multiplies
            assigned users by it.
        spread_elasticity: How the treatment arm's per-user spread moves with its mean
            (spread x (1 + lift) ** elasticity): 1 (the default) when a lift scales every
            user's value, 0 when it shifts values without widening them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    mean: float
    cv: float = Field(gt=0)
    days: int = Field(ge=1)
    population: int | None = None
    coverage: float = Field(default=1.0, gt=0.0, le=1.0)
    spread_elasticity: float = Field(default=1.0, ge=0.0, le=2.0)


def _spread_factor(baseline: MetricBaseline, mde: float) -> float:
    """``1 + k**2`` with k the treatment's spread relative to control's at a lift `mde`."""
    k = float((1.0 + mde) ** baseline.spread_elasticity)
    return 1.0 + k * k


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
        alpha: Two-sided family-wise significance level.
        power: Probability of detecting an effect of size `mde`.
        days: Duration the plan assumes.
        users_per_arm: Users to assign to each arm (control included).
        traffic_per_arm: `users_per_arm / population` when the population is known.
        feasible: Whether that traffic is within the allowed maximum.
        tests: Size of the Holm family the flag is corrected over; the plan uses
            ``alpha / tests``, the level of Holm's first step.
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
    tests: int = Field(default=1, ge=1)


def _check_levels(alpha: float, power: float | None = None, tests: int = 1) -> None:
    if not 0 < alpha < 1 or (power is not None and not 0 < power < 1):
        raise ValueError(
            f"alpha={alpha}, power={power}: both must lie strictly between 0 and 1"
        )
    if tests < 1:
        raise ValueError(f"tests={tests}: the size of the test family must be >= 1")


def power_at(
    baseline: MetricBaseline,
    mde: float,
    users_per_arm: int,
    *,
    alpha: float = 0.05,
    tests: int = 1,
) -> float:
    """Probability that a relative effect `mde` comes out significant with this many users.

    Plans what the platform actually tests: the users who contribute to the metric
    (`coverage` of those assigned); the statistic behind the flag - the difference of the
    two arms' (CUPED-adjusted) means over its standard error, whose noncentrality at a lift
    `mde` is ``mde / (cv * sqrt((1 + k**2) / n))`` with ``k = (1 + mde) **
    spread_elasticity`` the treatment's spread relative to control's (k = 1 + mde when a
    lift scales every user, as for clicks and dwell; k = 1 for bounded rates such as topic
    diversity, whose spread does not widen - assuming a widening there made the plan
    understate the power of a 16% diversity lift by 9 points); and the level of the
    correction applied to the flag (``alpha / tests``, Holm's first step; Holm is at least
    as powerful when several arms have effects).

    The formula is written out because statsmodels' normal power uses one standard error for
    both hypotheses; a unit test checks that the two agree when ``mde`` is small.

    Example:
        >>> b = MetricBaseline(metric="dwell_time", mean=900.0, cv=0.6, days=7)
        >>> round(power_at(b, 0.02, 14_500), 3), round(power_at(b, 0.02, 14_500, tests=4), 3)
        (0.802, 0.623)
    """
    _check_levels(alpha, None, tests)
    if users_per_arm < 1:
        raise ValueError(f"users_per_arm={users_per_arm}: must be >= 1")
    n = users_per_arm * baseline.coverage
    se_alt = baseline.cv * math.sqrt(_spread_factor(baseline, mde) / n)
    z = float(sps.norm.isf(alpha / tests / 2.0))
    d = abs(mde) / se_alt
    return float(sps.norm.cdf(d - z) + sps.norm.cdf(-d - z))


def power_analysis(
    baseline: MetricBaseline,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    max_traffic_per_arm: float = 0.5,
    tests: int = 1,
) -> PowerPlan:
    """Users per arm needed to detect a relative effect `mde` on a metric (see `power_at`).

    Example:
        >>> b = MetricBaseline(metric="dwell_time", mean=900.0, cv=0.6, days=7, population=60000)
        >>> power_analysis(b, 0.02).users_per_arm
        14414
    """
    if not mde > 0:
        raise ValueError(f"mde={mde}: must be a positive relative effect, e.g. 0.01 for 1%")
    _check_levels(alpha, power, tests)
    z = float(sps.norm.isf(alpha / tests / 2.0) + sps.norm.isf(1.0 - power))
    spread = baseline.cv**2 * _spread_factor(baseline, mde)
    users = math.ceil(spread * z * z / mde**2 / baseline.coverage)
    users = max(users, 2)
    while power_at(baseline, mde, users, alpha=alpha, tests=tests) < power:
        users += max(1, users // 1000)
    while users > 2 and power_at(baseline, mde, users - 1, alpha=alpha, tests=tests) >= power:
        users -= 1
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
        tests=tests,
    )


def minimum_detectable_effect(
    baseline: MetricBaseline,
    users_per_arm: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    tests: int = 1,
) -> float:
    """The smallest positive relative effect detected with probability `power` at this size."""
    _check_levels(alpha, power, tests)

    def gap(d: float) -> float:
        return power_at(baseline, d, users_per_arm, alpha=alpha, tests=tests) - power

    hi = 0.01
    while gap(hi) < 0:
        hi *= 2.0
        if hi > 1e6:
            raise ValueError(f"no effect reaches power {power} with {users_per_arm} users")
    return float(brentq(gap, 0.0, hi, xtol=1e-9))


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
    tests: int = 1,
) -> PowerPlan:
    """The shortest duration in `day_options` that gives `power` at `traffic_per_arm`.

    Longer tests average more days per user, which lowers the metric's noise. When no option
    is enough, the plan for the longest one is returned with `feasible=False`. See
    `plan_ab_test` for a whole experiment (several arms and metrics).
    """
    plan: PowerPlan | None = None
    for days in sorted(day_options):
        base = platform.baselines(task, days)[metric]
        plan = power_analysis(
            base, mde, alpha=alpha, power=power, max_traffic_per_arm=1.0, tests=tests
        )
        ok = plan.traffic_per_arm is None or plan.traffic_per_arm <= traffic_per_arm
        if ok:
            return plan
    if plan is None:
        raise ValueError("day_options is empty")
    return plan.model_copy(update={"feasible": False})


class MetricPlan(BaseModel):
    """What one metric of a planned experiment can show at the planned size.

    Attributes:
        metric: Metric name.
        role: Its role in the spec.
        power: Primary: power of the flag at the plan's MDE. Guardrail: chance of a
            `passed` non-inferiority verdict when the true lift is zero. Secondary: power of
            its own Holm family at the MDE.
        detectable_effect: Primary/secondary: the effect detected with the target power at
            this traffic and duration. Guardrail: the smallest distance from the threshold
            at which `passed` has the target power.
        users_needed_per_arm: Primary/secondary: users per arm for the target power at the
            MDE; guardrail: for the target pass probability at zero lift.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    role: MetricRole
    power: float
    detectable_effect: float
    users_needed_per_arm: int


class ABTestPlan(BaseModel):
    """The A/B plan a person approves: duration, size, and what it can detect.

    Attributes:
        task: Task (or skill) name.
        arms: Treatment arms (control not counted).
        days: Chosen duration.
        users_per_arm: Users assigned to each arm (control included) at this traffic.
        traffic_per_arm: Share of the population per arm.
        mde: The effect the plan is sized for (relative, on the primary metrics).
        alpha: Family-wise level of the primary flag (Holm over arms x primaries).
        tests: Size of that family; planning uses ``alpha / tests``.
        target_power: Requested power.
        planned_power: Power of the primary flag at `mde` (the weakest primary).
        detectable_effect: Effect the primary flag detects with `target_power` at this
            traffic and duration (the weakest primary).
        powered: Whether `planned_power >= target_power`.
        guardrail_alpha: Level of each guardrail's non-inferiority verdict.
        metrics: Per-metric details.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    arms: int = Field(ge=1)
    days: int = Field(ge=1)
    users_per_arm: int = Field(ge=1)
    traffic_per_arm: float
    mde: float
    alpha: float
    tests: int = Field(ge=1)
    target_power: float
    planned_power: float
    detectable_effect: float
    powered: bool
    guardrail_alpha: float
    metrics: list[MetricPlan]


def _guardrail_plan(
    base: MetricBaseline, threshold: float, users: int, alpha: float, power: float
) -> MetricPlan:
    """Pass probability at zero lift and the distance from the threshold it needs."""
    n = users * base.coverage
    se = base.cv * math.sqrt(2.0 / n)
    z_a = float(sps.norm.isf(alpha))
    z_b = float(sps.norm.isf(1.0 - power))
    p_pass = float(sps.norm.cdf(abs(threshold) / se - z_a)) if threshold else alpha
    needed = (
        math.ceil(2.0 * base.cv**2 * (z_a + z_b) ** 2 / threshold**2 / base.coverage)
        if threshold
        else 2**31 - 1
    )
    return MetricPlan(
        metric=base.metric,
        role=MetricRole.GUARDRAIL,
        power=p_pass,
        detectable_effect=(z_a + z_b) * se,
        users_needed_per_arm=needed,
    )


def plan_ab_test(
    platform: SupportsBaselines,
    task: str,
    metrics: Sequence[MetricSpec],
    *,
    arms: int,
    traffic_per_arm: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    guardrail_alpha: float = 0.05,
    day_options: Iterable[int] = (3, 5, 7, 10, 14),
    population: int | None = None,
) -> ABTestPlan:
    """Plan an experiment as the platform will judge it: the shortest powered duration.

    For each duration in `day_options` (shortest first) the plan computes, at the users this
    traffic gives, the power of the flag people read on every primary metric (Holm over
    ``arms x primaries`` pairs) at the relative effect `mde`, and picks the first duration
    where the weakest primary reaches `power`; if none does, the longest, with
    ``powered=False``. Guardrails are planned as their one-sided non-inferiority verdicts.

    Args:
        platform: A platform with metric baselines.
        task: Task or skill name (passed to `baselines`).
        metrics: The skill's metric specs (roles, directions, thresholds).
        arms: Treatment arms in the experiment.
        traffic_per_arm: Share of the population each arm gets.
        mde: Relative effect to detect on the primary metrics.
        alpha: Family-wise level of the primary flag.
        power: Target power.
        guardrail_alpha: Level of each guardrail verdict.
        day_options: Durations to consider.
        population: Users available; defaults to the baselines' population.

    Raises:
        ValueError: no primary metric, bad levels, or an unknown population.
    """
    primaries = [m for m in metrics if m.role is MetricRole.PRIMARY]
    if not primaries:
        raise ValueError(f"plan for {task!r}: the metrics name no primary metric")
    if arms < 1:
        raise ValueError(f"arms={arms}: an experiment needs at least one treatment arm")
    if not mde > 0:
        raise ValueError(f"mde={mde}: must be a positive relative effect, e.g. 0.01 for 1%")
    _check_levels(alpha, power)
    secondaries = [m for m in metrics if m.role is MetricRole.SECONDARY]
    tests = arms * len(primaries)
    options = sorted(set(day_options))
    if not options:
        raise ValueError("day_options is empty")
    best: ABTestPlan | None = None
    for days in options:
        bases = platform.baselines(task, days)
        pop = population or next(iter(bases.values())).population
        if not pop:
            raise ValueError(f"plan for {task!r}: the population is unknown; pass population=")
        users = max(1, int(traffic_per_arm * pop))
        plans: list[MetricPlan] = []
        for group, family in ((primaries, tests), (secondaries, arms * max(1, len(secondaries)))):
            for m in group:
                b = bases[m.name]
                plans.append(
                    MetricPlan(
                        metric=m.name,
                        role=m.role,
                        power=power_at(b, mde, users, alpha=alpha, tests=family),
                        detectable_effect=minimum_detectable_effect(
                            b, users, alpha=alpha, power=power, tests=family
                        ),
                        users_needed_per_arm=power_analysis(
                            b, mde, alpha=alpha, power=power, tests=family
                        ).users_per_arm,
                    )
                )
        for m in metrics:
            if m.role is MetricRole.GUARDRAIL and m.guardrail_threshold is not None:
                plans.append(
                    _guardrail_plan(
                        bases[m.name], m.guardrail_threshold, users, guardrail_alpha, power
                    )
                )
        prim = [p for p in plans if p.role is MetricRole.PRIMARY]
        planned = min(p.power for p in prim)
        best = ABTestPlan(
            task=task,
            arms=arms,
            days=days,
            users_per_arm=users,
            traffic_per_arm=traffic_per_arm,
            mde=mde,
            alpha=alpha,
            tests=tests,
            target_power=power,
            planned_power=planned,
            detectable_effect=max(p.detectable_effect for p in prim),
            powered=planned >= power,
            guardrail_alpha=guardrail_alpha,
            metrics=plans,
        )
        if best.powered:
            return best
    assert best is not None
    return best


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

