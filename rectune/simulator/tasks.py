"""Task definitions: the single authority in code for docs/contracts.md.

A task is one stage's configuration problem: its knobs (a `SearchSpace`), the metrics an A/B
test judges it by (roles, directions, guardrail thresholds), the production baseline and the
default A/B plan. Skills, the platform's validation and the oracle all read these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rectune.domain import (
    Config,
    ConfigError,
    FloatParameter,
    IntParameter,
    MetricSpec,
    SearchSpace,
    SpecError,
)
from rectune.domain.metrics import Direction, MetricRole
from rectune.simulator.knobs import StackConfig

__all__ = [
    "PRODUCTION",
    "TASKS",
    "TaskDefinition",
    "full_config",
    "get_task",
    "production_stack",
    "stack_for",
]


@dataclass(frozen=True)
class TaskDefinition:
    """One tuning task.

    Attributes:
        name: Task name (`value_based_retrieval`, `value_fusion`, `diversity`).
        stage: The recommender stage whose configuration it tunes.
        space: The knobs with their hard bounds.
        metrics: Primary, secondary and guardrail metrics.
        production: The production value of every knob of the task.
        traffic_per_arm: Default share of all users in each arm (control included).
        days: Default A/B duration in days.
        description: One paragraph for people and prompts.
    """

    name: str
    stage: str
    space: SearchSpace
    metrics: tuple[MetricSpec, ...]
    production: Mapping[str, float | int]
    traffic_per_arm: float
    days: int
    description: str

    @property
    def primary(self) -> MetricSpec:
        """The (first) primary metric."""
        return next(m for m in self.metrics if m.role is MetricRole.PRIMARY)

    @property
    def guardrails(self) -> list[MetricSpec]:
        """The guardrail metrics."""
        return [m for m in self.metrics if m.role is MetricRole.GUARDRAIL]

    @property
    def metric_names(self) -> list[str]:
        """Names of all metrics of the task, primary first."""
        return [m.name for m in self.metrics]

    def metric(self, name: str) -> MetricSpec:
        """The metric spec called `name`."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise SpecError(f"task {self.name!r}: no metric {name!r}; allowed: {self.metric_names}")

    def validate_config(self, config: Mapping[str, object]) -> Config:
        """Validate a full task configuration (every knob, nothing else, within hard bounds)."""
        return self.space.validate_config(config)


def _f(name: str, low: float, high: float, description: str) -> FloatParameter:
    return FloatParameter(name=name, low=low, high=high, description=description)


def _i(name: str, low: int, high: int, description: str) -> IntParameter:
    return IntParameter(name=name, low=low, high=high, description=description)


def _metric(
    name: str, role: str, direction: str, threshold: float | None = None, priority: int = 1
) -> MetricSpec:
    return MetricSpec(
        name=name,
        role=MetricRole(role),
        direction=Direction(direction),
        guardrail_threshold=threshold,
        priority=priority,
    )


VALUE_BASED_RETRIEVAL = TaskDefinition(
    name="value_based_retrieval",
    stage="pre_ranking",
    space=SearchSpace(
        parameters=(
            _f("vbr_w_click", 0, 4, "weight of the cheap click head in the pre-ranking value"),
            _f("vbr_w_dwell", 0, 4, "weight of expected dwell (click x dwell prior)"),
            _f("vbr_w_quality", 0, 4, "weight of the noisy quality estimate"),
            _f("vbr_freshness_boost", 0, 2, "additive boost for fresh items (exploration)"),
            _i("vbr_candidate_cut", 50, 400, "candidates passed to the ranking model"),
        )
    ),
    metrics=(
        _metric("dwell_time", "primary", "increase"),
        _metric("clicks", "secondary", "increase"),
        _metric("topic_diversity", "secondary", "increase", priority=2),
        _metric("serving_cost", "guardrail", "decrease", 0.05),
        _metric("retention", "guardrail", "increase", -0.005),
        _metric("negative_rate", "guardrail", "decrease", 0.03),
    ),
    production={
        "vbr_w_click": 1.0,
        "vbr_w_dwell": 0.5,
        "vbr_w_quality": 0.2,
        "vbr_freshness_boost": 0.1,
        "vbr_candidate_cut": 150,
    },
    traffic_per_arm=0.1,
    days=7,
    description=(
        "Pre-ranking value-based retrieval: fuse the cheap pre-ranking heads into one value, "
        "boost fresh items, and choose how many candidates the ranking model scores."
    ),
)

VALUE_FUSION = TaskDefinition(
    name="value_fusion",
    stage="ranking",
    space=SearchSpace(
        parameters=(
            _f("vf_w_click", 0, 4, "weight of predicted click probability"),
            _f("vf_w_dwell", 0, 4, "weight of predicted dwell (click x dwell)"),
            _f("vf_w_like", 0, 4, "weight of predicted like"),
            _f("vf_w_share", 0, 4, "weight of predicted share"),
            _f("vf_w_negative", 0, 8, "penalty weight of predicted negative feedback"),
        )
    ),
    metrics=(
        _metric("dwell_time", "primary", "increase"),
        _metric("clicks", "secondary", "increase"),
        _metric("retention", "secondary", "increase", priority=2),
        _metric("negative_rate", "guardrail", "decrease", 0.03),
        _metric("topic_diversity", "guardrail", "increase", -0.02),
    ),
    production={
        "vf_w_click": 1.0,
        "vf_w_dwell": 0.6,
        "vf_w_like": 0.3,
        "vf_w_share": 0.2,
        "vf_w_negative": 0.5,
    },
    traffic_per_arm=0.1,
    days=7,
    description=(
        "Ranking value fusion: weights that turn the ranking heads (click, dwell, like, share, "
        "negative feedback) into the final ranking score."
    ),
)

DIVERSITY = TaskDefinition(
    name="diversity",
    stage="re_ranking",
    space=SearchSpace(
        parameters=(
            _f("div_mmr_lambda", 0, 1, "MMR trade-off: 0 = pure relevance, 1 = pure novelty"),
            _i("div_topic_cap", 1, 10, "most items of one topic on a page"),
            _i("div_creator_cap", 1, 10, "most items of one creator on a page"),
            _f("div_fatigue_penalty", 0, 2, "score penalty per exposure above the threshold"),
            _i("div_fatigue_threshold", 1, 20, "recent exposures to a topic before penalising"),
        )
    ),
    metrics=(
        _metric("topic_diversity", "primary", "increase"),
        _metric("retention", "secondary", "increase"),
        _metric("dwell_time", "secondary", "increase", priority=2),
        _metric("clicks", "guardrail", "increase", -0.01),
        _metric("negative_rate", "guardrail", "decrease", 0.03),
    ),
    production={
        "div_mmr_lambda": 0.1,
        "div_topic_cap": 6,
        "div_creator_cap": 4,
        "div_fatigue_penalty": 0.1,
        "div_fatigue_threshold": 8,
    },
    traffic_per_arm=0.1,
    days=7,
    description=(
        "Re-ranking diversity: an MMR relevance/novelty trade-off, per-topic and per-creator "
        "caps on a page, and a penalty for topics the user has seen too often recently."
    ),
)

TASKS: dict[str, TaskDefinition] = {
    t.name: t for t in (VALUE_BASED_RETRIEVAL, VALUE_FUSION, DIVERSITY)
}
"""Every task the simulator knows, by name."""

PRODUCTION: dict[str, float | int] = {
    k: v for t in TASKS.values() for k, v in t.production.items()
}
"""The production value of every knob of the stack."""


def get_task(name: str) -> TaskDefinition:
    """The task called `name`.

    Raises:
        SpecError: naming the allowed tasks when `name` is unknown.
    """
    try:
        return TASKS[name]
    except KeyError:
        raise SpecError(f"unknown task {name!r}; allowed tasks: {sorted(TASKS)}") from None


def full_config(task: str, config: Mapping[str, object]) -> dict[str, float | int]:
    """Validate a task configuration and fill every other stage with production.

    Raises:
        SpecError: for an unknown task.
        ConfigError: for an unknown, missing or out-of-range knob.
    """
    t = get_task(task)
    unknown = [k for k in config if k not in t.space]
    if unknown:
        raise ConfigError(
            unknown[0], config[unknown[0]], f"a knob of task {task!r}: one of {t.space.names}"
        )
    valid = t.validate_config({**dict(t.production), **dict(config)})
    out = dict(PRODUCTION)
    for k, v in valid.items():
        if isinstance(v, str):  # pragma: no cover - no categorical knobs today
            raise ConfigError(k, v, "a number")
        out[k] = v
    return out


def stack_for(task: str, config: Mapping[str, object]) -> StackConfig:
    """The full `StackConfig` of a task configuration (other stages at production)."""
    return StackConfig.from_mapping(full_config(task, config))


def production_stack() -> StackConfig:
    """The production configuration of the whole stack."""
    return StackConfig.from_mapping(PRODUCTION)
