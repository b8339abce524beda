"""The launch advice: which configuration to ship now, and how sure the engine is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.configs import Config
from rectune.domain.review import Interval

__all__ = ["LaunchAdvice"]


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

    @property
    def summary(self) -> str:
        """One line: the estimate with its interval and the two probabilities."""
        what = "keep production" if self.is_baseline else f"ship {self.candidate_id or 'config'}"
        return (
            f"{what}: objective {self.objective:+.2%} ± {1.96 * self.objective_sd:.2%}, "
            f"P(better) {self.p_better:.2f}, P(guardrails hold) {self.p_feasible:.2f}"
        )
