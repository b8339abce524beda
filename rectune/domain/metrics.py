"""Metric specifications: what an A/B test measures and how it is judged."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rectune.domain.errors import SpecError

__all__ = ["Direction", "MetricRole", "MetricSpec", "find_metric", "with_role"]


class MetricRole(StrEnum):
    """Why a metric is watched."""

    PRIMARY = "primary"
    """A north-star metric the tuning tries to improve."""
    SECONDARY = "secondary"
    """Watched and reported, traded off when primaries are tied."""
    GUARDRAIL = "guardrail"
    """Must not move past its threshold; a breach makes a configuration unlaunchable."""


class Direction(StrEnum):
    """Which way is good for a metric."""

    INCREASE = "increase"
    DECREASE = "decrease"


class MetricSpec(BaseModel):
    """One metric of a task.

    `guardrail_threshold` is a relative change versus control, signed in the metric's own
    units: for a metric that should increase, ``-0.005`` means "must not drop below -0.5%";
    for one that should decrease, ``0.01`` means "must not rise above +1%".

    Example:
        >>> m = MetricSpec(name="retention", role="guardrail", direction="increase",
        ...                guardrail_threshold=-0.005)
        >>> m.breaches(-0.01)
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    role: MetricRole
    direction: Direction
    guardrail_threshold: float | None = None
    priority: int = Field(default=1, ge=1, description="1 is most important")
    description: str = ""

    @model_validator(mode="after")
    def _check_threshold(self) -> MetricSpec:
        if self.role is MetricRole.GUARDRAIL:
            if self.guardrail_threshold is None:
                raise SpecError(f"metric {self.name!r}: a guardrail needs a guardrail_threshold")
            t = self.guardrail_threshold
            if self.direction is Direction.INCREASE and t > 0:
                raise SpecError(
                    f"metric {self.name!r}: direction 'increase' needs guardrail_threshold <= 0 "
                    f"(the largest allowed drop), got {t}"
                )
            if self.direction is Direction.DECREASE and t < 0:
                raise SpecError(
                    f"metric {self.name!r}: direction 'decrease' needs guardrail_threshold >= 0 "
                    f"(the largest allowed rise), got {t}"
                )
        elif self.guardrail_threshold is not None:
            raise SpecError(
                f"metric {self.name!r}: guardrail_threshold is only allowed on role 'guardrail'"
            )
        return self

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better."""
        return 1.0 if self.direction is Direction.INCREASE else -1.0

    def goodness(self, relative_lift: float) -> float:
        """The lift signed so that positive is always good."""
        return self.sign * relative_lift

    def breaches(self, relative_lift: float) -> bool:
        """Whether a relative lift crosses this guardrail's threshold (False for non-guardrails)."""
        if self.guardrail_threshold is None:
            return False
        if self.direction is Direction.INCREASE:
            return relative_lift < self.guardrail_threshold
        return relative_lift > self.guardrail_threshold

    def is_looser_than(self, other: MetricSpec) -> bool:
        """Whether this guardrail allows more harm than `other` (same metric)."""
        if other.guardrail_threshold is None:
            return False
        if self.guardrail_threshold is None:
            return True
        return self.sign * self.guardrail_threshold < self.sign * other.guardrail_threshold


def with_role(metrics: Iterable[MetricSpec], role: MetricRole) -> list[MetricSpec]:
    """The metrics of one role, most important (lowest priority number) first."""
    return sorted((m for m in metrics if m.role is role), key=lambda m: m.priority)


def find_metric(metrics: Iterable[MetricSpec], name: str, owner: str) -> MetricSpec:
    """The metric called `name`; `KeyError` naming `owner` (e.g. "skill 'x'") otherwise."""
    for m in metrics:
        if m.name == name:
            return m
    raise KeyError(f"{owner} has no metric {name!r}")
