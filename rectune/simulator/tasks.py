"""Task definitions: the single authority in code for docs/contracts.md.

A task is one stage's configuration problem: its knobs (a `SearchSpace`), the metrics an A/B
test judges it by (roles, directions, guardrail thresholds), the production baseline and the
default A/B plan. Skills, the platform's validation and the oracle all read these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rectune.domain import Config, ConfigError, MetricSpec, SearchSpace, SpecError
from rectune.domain.metrics import Direction, MetricRole
from rectune.simulator.knobs import KNOBS, PRODUCTION, StackConfig

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
        traffic_per_arm: Default share of all users in each arm (control included).
        days: Default A/B duration in days.
        description: One paragraph for people and prompts.
    """

    name: str
    stage: str
    space: SearchSpace
    metrics: tuple[MetricSpec, ...]
    traffic_per_arm: float
    days: int
    description: str

    @property
    def production(self) -> dict[str, float | int]:
        """The production value of every knob of the task."""
        return {n: PRODUCTION[n] for n in self.space.names}

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


def _space(*names: str) -> SearchSpace:
    return SearchSpace(parameters=tuple(KNOBS[n] for n in names))


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
    space=_space(
        "vbr_w_click",
        "vbr_w_dwell",
        "vbr_w_quality",
        "vbr_freshness_boost",
        "vbr_candidate_cut",
    ),
    metrics=(
        _metric("dwell_time", "primary", "increase"),
        _metric("clicks", "secondary", "increase"),
        _metric("topic_diversity", "secondary", "increase", priority=2),
        _metric("serving_cost", "guardrail", "decrease", 0.05),
        _metric("retention", "guardrail", "increase", -0.005),
        _metric("negative_rate", "guardrail", "decrease", 0.03),
    ),
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
    space=_space(
        "vf_w_click",
        "vf_w_dwell",
        "vf_w_like",
        "vf_w_share",
        "vf_w_negative",
    ),
    metrics=(
        _metric("dwell_time", "primary", "increase"),
        _metric("clicks", "secondary", "increase"),
        _metric("retention", "secondary", "increase", priority=2),
        _metric("negative_rate", "guardrail", "decrease", 0.03),
        _metric("topic_diversity", "guardrail", "increase", -0.02),
    ),
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
    space=_space(
        "div_mmr_lambda",
        "div_topic_cap",
        "div_creator_cap",
        "div_fatigue_penalty",
        "div_fatigue_threshold",
    ),
    metrics=(
        _metric("topic_diversity", "primary", "increase"),
        _metric("retention", "secondary", "increase"),
        _metric("dwell_time", "secondary", "increase", priority=2),
        _metric("clicks", "guardrail", "increase", -0.01),
        _metric("negative_rate", "guardrail", "decrease", 0.03),
    ),
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
