"""The launch advice: which configuration to ship now, and how sure the engine is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.configs import Config
from rectune.domain.review import Interval

__all__ = ["ArmEvidence", "LaunchAdvice"]


class ArmEvidence(BaseModel):
    """What the engine believes about one tested configuration.

    Attributes:
        candidate_id: The tested candidate (the latest arm of this configuration).
        config: Its configuration.
        measured_objective: The objective as its arm measured it (no shrinkage).
        measured_significant: Whether a primary metric was significant on that arm.
        objective: The shrunken estimate of the objective (what the engine believes).
        objective_sd: Its standard deviation.
        p_better: Probability that it beats production on the objective.
        p_feasible: Probability that every guardrail holds.
        n_arms: How many arms tested this configuration.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidate_id: str | None = None
    config: Config
    measured_objective: float
    measured_significant: bool = False
    objective: float
    objective_sd: float
    p_better: float = Field(ge=0.0, le=1.0)
    p_feasible: float = Field(ge=0.0, le=1.0)
    n_arms: int = Field(default=1, ge=0)


class LaunchAdvice(BaseModel):
    """What the engine would ship after the evidence so far.

    Attributes:
        candidate_id: The tested candidate it recommends (None for production).
        config: The configuration to ship.
        delta: Its change versus production.
        is_baseline: Whether the advice is to keep production.
        objective: Shrunken estimate of the weighted primary objective (the skill's primary
            metrics, signed so that higher is better, weighted by priority), as a fraction.
        objective_sd: Its standard deviation.
        p_better: Probability that it beats production on that objective.
        p_feasible: Probability that every guardrail holds.
        lifts: Shrunken per-metric lifts with 95% intervals.
        reason: Why this and not the best-looking arm, in plain words.
        needs_confirmation: Whether the engine wants it re-tested before it ships.
        objective_metrics: The primary metrics the objective weighs, most important first.
        best_looking: The tested configuration with the best measured objective, when it is
            not the one recommended (so a person sees why not).
        min_p_better: The probability of beating production a launch needs.
        min_p_feasible: The probability that every guardrail holds a launch needs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidate_id: str | None = None
    config: Config
    delta: Config = Field(default_factory=dict)
    is_baseline: bool
    objective: float = 0.0
    objective_sd: float = 0.0
    p_better: float = Field(default=0.0, ge=0.0, le=1.0)
    p_feasible: float = Field(default=1.0, ge=0.0, le=1.0)
    lifts: dict[str, Interval] = Field(default_factory=dict)
    reason: str = ""
    needs_confirmation: bool = False
    objective_metrics: list[str] = Field(default_factory=list)
    best_looking: ArmEvidence | None = None
    min_p_better: float = Field(default=0.7, ge=0.0, le=1.0)
    min_p_feasible: float = Field(default=0.9, ge=0.0, le=1.0)

    @property
    def summary(self) -> str:
        """One line: the estimate with its interval and the two probabilities."""
        what = "keep production" if self.is_baseline else f"ship {self.candidate_id or 'config'}"
        return (
            f"{what}: objective {self.objective:+.2%} ± {1.96 * self.objective_sd:.2%}, "
            f"P(better) {self.p_better:.2f}, P(guardrails hold) {self.p_feasible:.2f}"
        )
