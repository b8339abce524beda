"""The tuning problem as the engine sees it, plus observations and proposals.

These types are the only thing the engine needs from the rest of rectune: a search space with
its soft box, the metrics and how they are judged, the production configuration, the learned
rules in force, and the A/B results gathered so far.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rectune.domain import (
    ArmResult,
    Config,
    ConfigValue,
    LearnedRule,
    MetricResult,
    MetricRole,
    MetricSpec,
    RuleConstraint,
    RuleStatus,
    SearchSpace,
    SpecError,
    apply_delta,
    config_diff,
    config_key,
)
from rectune.domain.metrics import find_metric, with_role
from rectune.domain.structure import TaskStructure

__all__ = [
    "LiftEstimate",
    "Observation",
    "Proposal",
    "TuningProblem",
    "constraints_from_rules",
]


class TuningProblem(BaseModel):
    """Everything the engine needs to know about one task.

    The baseline is the production configuration: every A/B test compares against it, so its
    relative lift is zero by definition. `structure` carries what the skill declares about the
    response surface (effect scales, scale-invariant groups, monotone effects, deterministic
    metrics; see `rectune.domain.structure`). `max_arm_loss` is the largest loss of the
    objective an exploratory arm may risk; None derives it from the guardrails
    (`arm_loss_limit`).

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(
        ...     task="demo",
        ...     space=space,
        ...     metrics=[
        ...         MetricSpec(name="dwell_time", role="primary", direction="increase"),
        ...         MetricSpec(name="negative_rate", role="guardrail", direction="decrease",
        ...                    guardrail_threshold=0.03),
        ...     ],
        ...     baseline={"w": 1},
        ... )
        >>> problem.baseline
        {'w': 1.0}
        >>> problem.objective({"dwell_time": 0.02})
        0.02
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field(min_length=1)
    space: SearchSpace
    metrics: list[MetricSpec] = Field(min_length=1)
    baseline: Config
    constraints: list[RuleConstraint] = Field(default_factory=list)
    structure: TaskStructure = Field(default_factory=TaskStructure)
    max_arm_loss: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _normalize_baseline(cls, data: Any) -> Any:
        # Validating the baseline here (rather than after) lets us store the canonical form
        # (ints as ints, floats as floats) in a frozen model.
        if isinstance(data, dict) and "space" in data and "baseline" in data:
            space = data["space"]
            if not isinstance(space, SearchSpace):
                space = SearchSpace.model_validate(space)
            data = {**data, "space": space, "baseline": space.validate_config(data["baseline"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> TuningProblem:
        names = [m.name for m in self.metrics]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"tuning problem {self.task!r}: duplicate metric names {dup}")
        if not any(m.role is MetricRole.PRIMARY for m in self.metrics):
            raise SpecError(f"tuning problem {self.task!r}: at least one primary metric is needed")
        for c in self.constraints:
            if c.parameter not in self.space:
                raise SpecError(
                    f"tuning problem {self.task!r}: rule {c} names an unknown parameter; "
                    f"known: {self.space.names}"
                )
        self.structure.check(
            f"tuning problem {self.task!r}", self.space, self.metrics, self.baseline
        )
        return self

    def prior_scale(self, name: str) -> float:
        """The prior spread of metric `name`'s lift before any A/B result.

        The skill's declared effect scale when there is one; otherwise the metric's own
        guardrail threshold, or the tightest guardrail of the task (what the task's owners
        consider a meaningful move). Only used before the first result: from then on the
        surrogate takes every metric's scale from the data.
        """
        declared = self.structure.effect_scale(name)
        if declared is not None:
            return declared
        spec = self.metric(name)
        if spec.guardrail_threshold:
            return abs(spec.guardrail_threshold)
        limits = [abs(g.guardrail_threshold) for g in self.guardrails if g.guardrail_threshold]
        return min(limits) if limits else 0.01

    @property
    def arm_loss_limit(self) -> float:
        """The largest objective loss an exploratory arm may risk.

        `max_arm_loss` when set, else twice the tightest guardrail threshold: a loss on the
        primary is held to the same order as what the task's owners refuse on a guardrail.
        """
        if self.max_arm_loss is not None:
            return self.max_arm_loss
        limits = [abs(g.guardrail_threshold) for g in self.guardrails if g.guardrail_threshold]
        return 2.0 * min(limits) if limits else 0.02

    def deterministic_lifts(self, config: Mapping[str, ConfigValue]) -> dict[str, float]:
        """Exact lifts of the metrics the structure declares deterministic."""
        out: dict[str, float] = {}
        for d in self.structure.deterministic:
            out[d.metric] = d.lift(
                float(config[d.parameter]),
                float(self.baseline[d.parameter]),
            )
        return out

    def hard_bounds(self) -> dict[str, tuple[float, float]]:
        """Per knob, the soft range narrowed by every deterministic guardrail.

        A deterministic guardrail on a knob is a hard constraint on that knob's value: the
        relation is monotone, so the guardrail's threshold maps to one bound.
        """
        out: dict[str, tuple[float, float]] = {}
        for d in self.structure.deterministic:
            spec = self.metric(d.metric)
            if spec.role is not MetricRole.GUARDRAIL or spec.guardrail_threshold is None:
                continue
            p = self.space[d.parameter]
            lo, hi = out.get(d.parameter, p.soft_range)  # type: ignore[union-attr]
            limit = d.value_at(spec.guardrail_threshold, float(self.baseline[d.parameter]))
            # The lift rises with the knob; an upper limit on the metric caps the knob.
            if spec.sign < 0:
                hi = min(hi, limit)
            else:
                lo = max(lo, limit)
            out[d.parameter] = (lo, hi)
        return out

    @property
    def primaries(self) -> list[MetricSpec]:
        """The primary metrics, most important first."""
        return with_role(self.metrics, MetricRole.PRIMARY)

    @property
    def guardrails(self) -> list[MetricSpec]:
        """The guardrail metrics."""
        return with_role(self.metrics, MetricRole.GUARDRAIL)

    def metric(self, name: str) -> MetricSpec:
        """The metric called `name`."""
        return find_metric(self.metrics, name, f"tuning problem {self.task!r}")

    @property
    def objective_weights(self) -> dict[str, float]:
        """Signed weights of the primaries in the scalar objective (higher is better).

        Priority 1 counts most: weights are proportional to ``1 / priority`` and sum to one
        in absolute value; the sign turns "decrease" metrics around.
        """
        raw = {m.name: 1.0 / m.priority for m in self.primaries}
        total = sum(raw.values())
        return {m.name: m.sign * raw[m.name] / total for m in self.primaries}

    def objective(self, lifts: Mapping[str, float]) -> float:
        """The scalar objective of a set of relative lifts (missing primaries count as 0)."""
        return sum(w * lifts.get(name, 0.0) for name, w in self.objective_weights.items())

    def guardrails_hold(self, lifts: Mapping[str, float]) -> bool:
        """Whether no guardrail is breached by these lifts (missing ones are assumed fine)."""
        return not any(g.name in lifts and g.breaches(lifts[g.name]) for g in self.guardrails)

    def satisfies_rules(self, config: Mapping[str, ConfigValue]) -> bool:
        """Whether `config` obeys every learned rule in force."""
        return all(c.satisfied(config) for c in self.constraints)

    def breaks_deterministic(self, config: Mapping[str, ConfigValue]) -> list[str]:
        """The deterministic guardrails `config` is certain to breach."""
        lifts = self.deterministic_lifts(config)
        return [
            g.name for g in self.guardrails if g.name in lifts and g.breaches(lifts[g.name])
        ]

    def is_admissible(self, config: Mapping[str, ConfigValue]) -> bool:
        """Whether `config` may be proposed: valid, inside the soft box, obeying the rules
        and no deterministic guardrail."""
        try:
            valid = self.space.validate_config(config)
        except ValueError:
            return False
        return (
            not self.space.soft_violations(valid)
            and self.satisfies_rules(valid)
            and not self.breaks_deterministic(valid)
        )


def constraints_from_rules(rules: Iterable[LearnedRule]) -> list[RuleConstraint]:
    """The machine-readable constraints of the active rules (prose-only rules are skipped)."""
    return [
        r.constraint for r in rules if r.status is RuleStatus.ACTIVE and r.constraint is not None
    ]


class LiftEstimate(BaseModel):
    """A measured relative lift versus control and its standard error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lift: float
    se: float = Field(ge=0.0)

    @model_validator(mode="after")
    def _finite(self) -> LiftEstimate:
        if not (math.isfinite(self.lift) and math.isfinite(self.se)):
            raise SpecError(f"lift estimate: lift={self.lift} and se={self.se} must be finite")
        return self

    @classmethod
    def from_result(cls, result: MetricResult) -> LiftEstimate:
        """Take the lift and the standard error implied by the 95% interval."""
        return cls(lift=result.relative_lift, se=result.standard_error)


class Observation(BaseModel):
    """One tested arm: its configuration and what each metric did versus control.

    Arms of the same `round` were one experiment and share its control. A `transferred`
    observation comes from another task or from before a model launch
    (`rectune.memory.warmstart.transfer_observations`): the surrogate learns from it with
    widened errors, but it is never a launch candidate and never blocks a re-test.

    Example:
        >>> obs = Observation(config={"w": 1.5}, metrics={"dwell_time": LiftEstimate(
        ...     lift=0.01, se=0.004)}, round=1)
        >>> obs.lifts
        {'dwell_time': 0.01}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: Config
    metrics: dict[str, LiftEstimate]
    round: int = Field(default=0, ge=0)
    candidate_id: str | None = None
    traffic: float | None = Field(default=None, gt=0.0, le=1.0)
    transferred: bool = False

    @property
    def lifts(self) -> dict[str, float]:
        """The point estimates, by metric."""
        return {k: v.lift for k, v in self.metrics.items()}

    @property
    def key(self) -> str:
        """The configuration's duplicate-detection key."""
        return config_key(self.config)

    @classmethod
    def from_metric_results(
        cls,
        config: Config,
        results: Mapping[str, MetricResult] | Iterable[MetricResult],
        *,
        round: int = 0,
        candidate_id: str | None = None,
        traffic: float | None = None,
    ) -> Observation:
        """Build an observation from the platform's per-metric comparisons."""
        items = results.values() if isinstance(results, Mapping) else results
        metrics = {r.metric: LiftEstimate.from_result(r) for r in items}
        return cls(
            config=config,
            metrics=metrics,
            round=round,
            candidate_id=candidate_id,
            traffic=traffic,
        )

    @classmethod
    def from_arm_result(
        cls, config: Config, arm: ArmResult, *, round: int = 0, traffic: float | None = None
    ) -> Observation:
        """Build an observation from one treatment arm of an experiment result."""
        return cls.from_metric_results(
            config, arm.metrics, round=round, candidate_id=arm.candidate_id, traffic=traffic
        )


class Proposal(BaseModel):
    """A candidate configuration with the reasoning behind it.

    `predicted` holds the engine's numbers (predicted lifts, their standard deviations,
    probability that guardrails hold, acquisition value); it is empty for proposals nobody
    scored yet.

    Example:
        >>> from rectune.domain import FloatParameter, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> p = Proposal.from_delta(space, {"w": 1.0}, {"w": 1.5}, source="llm")
        >>> p.config
        {'w': 1.5}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delta: Config
    config: Config
    hypothesis: str = ""
    explanation: str = ""
    source: str = "engine"
    predicted: dict[str, float] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """The configuration's duplicate-detection key."""
        return config_key(self.config)

    @classmethod
    def from_config(
        cls, space: SearchSpace, baseline: Config, config: Mapping[str, object], **fields: Any
    ) -> Proposal:
        """A proposal for a full configuration; the delta is computed against `baseline`."""
        full = space.validate_config(config)
        return cls(delta=config_diff(baseline, full), config=full, **fields)

    @classmethod
    def from_delta(
        cls, space: SearchSpace, baseline: Config, delta: Mapping[str, object], **fields: Any
    ) -> Proposal:
        """A proposal for a delta on `baseline`; raises `ConfigError` on an invalid delta."""
        full = apply_delta(space, baseline, delta)
        return cls(delta=config_diff(baseline, full), config=full, **fields)
