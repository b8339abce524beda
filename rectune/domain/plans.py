"""The A/B plan a person approves: arms, traffic, duration and what that can detect."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rectune.domain.errors import SpecError

__all__ = ["ABPlan", "DurationSource", "PowerSummary"]

DurationSource = Literal["context", "power analysis", "skill default", "reviewer"]
"""Who chose the duration: a run setting, the power analysis, the skill, or the reviewer."""


class PowerSummary(BaseModel):
    """What the plan can detect on the primary metric, from the platform's noise estimate.

    Attributes:
        metric: The metric the analysis is for (the first primary).
        users_per_arm: Users each arm gets with this plan.
        users_needed_per_arm: Users per arm needed to detect the MDE with the target power.
        planned_power: Probability of detecting an effect of exactly the MDE with this plan.
        detectable_effect: Smallest relative effect detected with the target power.
        powered: Whether the plan reaches the target power at the MDE.
        days_needed: Shortest duration (up to the skill's days) that would reach it at this
            traffic; None when none does.
        traffic_needed: Traffic per arm that would reach it with this duration.
        comparisons: Size of the multiple-testing family the significance flag corrects for.
        guardrail_pass: Per guardrail, the chance that its non-inferiority verdict says
            `passed` when the true lift is zero (low: expect `inconclusive` verdicts).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    users_per_arm: int = Field(ge=0)
    users_needed_per_arm: int = Field(ge=0)
    planned_power: float = Field(ge=0.0, le=1.0)
    detectable_effect: float = Field(gt=0.0)
    powered: bool
    days_needed: int | None = None
    traffic_needed: float | None = None
    comparisons: int = Field(default=1, ge=1)
    guardrail_pass: dict[str, float] = Field(default_factory=dict)


class ABPlan(BaseModel):
    """The A/B test to launch; stored when approved and launched exactly as stored.

    Example:
        >>> p = ABPlan(arms=3, traffic_per_arm=0.1, days=7, duration_from="skill default",
        ...            min_detectable_effect=0.01)
        >>> f"{p.total_traffic:.0%}"
        '40%'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    control: str = "production"
    arms: int = Field(ge=1, description="treatment arms")
    traffic_per_arm: float = Field(gt=0.0, le=0.5)
    days: int = Field(ge=1)
    duration_from: DurationSource
    min_detectable_effect: float = Field(gt=0.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    power: float = Field(default=0.8, gt=0.0, lt=1.0, description="target power at the MDE")
    power_analysis: PowerSummary | None = None
    note: str = Field(default="", description="why the plan is what it is, in one line")

    @model_validator(mode="after")
    def _fits(self) -> ABPlan:
        if self.total_traffic > 1.0 + 1e-9:
            raise SpecError(
                f"A/B plan: {self.arms} arms and a control at traffic_per_arm="
                f"{self.traffic_per_arm} need {self.total_traffic:.0%} of traffic; allowed: "
                "at most 100%"
            )
        return self

    @property
    def total_traffic(self) -> float:
        """Share of all users in the test, control included."""
        return (self.arms + 1) * self.traffic_per_arm
