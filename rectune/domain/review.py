"""What the Critic reviews: draft proposals, the surrogate's predictions, and its verdicts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.configs import Config

__all__ = ["Draft", "Interval", "Prediction", "Verdict"]


class Draft(BaseModel):
    """A proposal before validation, as the engine or a model wrote it.

    The delta is kept as given (it may name unknown parameters or carry wrong types: the
    Critic's code checks say so), so nothing a model proposed is lost before it is judged.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hypothesis: str = ""
    explanation: str = ""
    delta: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(default="engine", description="engine, llm, confirm, human, import")


class Interval(BaseModel):
    """A predicted relative lift with its 95% interval (fractions: 0.01 is +1%)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean: float
    low: float
    high: float


class Prediction(BaseModel):
    """The surrogate's forecast for one configuration.

    Attributes:
        lifts: Per-metric predicted relative lift with a 95% interval.
        objective: Predicted weighted primary objective (the skill's primaries, signed so that
            higher is better, weighted by priority).
        objective_sd: Its standard deviation.
        breach_probability: Probability that at least one guardrail is breached.
        evidence: Whether any A/B result informed the forecast (before that, only the prior).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lifts: dict[str, Interval] = Field(default_factory=dict)
    objective: float = 0.0
    objective_sd: float = 0.0
    breach_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    evidence: bool = False


class Verdict(BaseModel):
    """The Critic's judgement of one draft.

    Attributes:
        index: Position of the draft in the Actor's batch.
        draft: The draft as proposed.
        delta: The validated change versus production (the draft's delta when invalid).
        config: The full configuration, when the delta is valid.
        kept: Whether it passed the code checks and the risk limit.
        reasons: Why it was dropped (empty when kept).
        notes: Remarks that did not drop it (e.g. text cut to length).
        prediction: The surrogate's forecast, when one was made.
        selected: Whether it became one of the round's candidates.
        justification: Why it was selected, or why a kept draft was not.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    draft: Draft
    delta: dict[str, Any] = Field(default_factory=dict)
    config: Config | None = None
    kept: bool = False
    reasons: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    prediction: Prediction | None = None
    selected: bool = False
    justification: str = ""

    @property
    def source(self) -> str:
        """Who proposed it."""
        return self.draft.source

    def dropped(self, reason: str) -> Verdict:
        """A copy that is no longer kept, with `reason` added."""
        return self.model_copy(update={"kept": False, "reasons": [*self.reasons, reason]})
