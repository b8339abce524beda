"""Guardrail verdicts: the one answer per (arm, guardrail) that every reader shows.

A guardrail is a one-sided non-inferiority question against its threshold ("is the drop worse
than -1%?"), not a two-sided "no difference" test. The platform answers it once per arm and
guardrail; the CLI, the report and the engine read the same `GuardrailVerdict` instead of
re-deriving their own from lifts and intervals.

Example:
    >>> v = GuardrailVerdict(metric="clicks", direction="increase", threshold=-0.01,
    ...                      lift=-0.002, bound=-0.006, alpha=0.05, p_value=0.01,
    ...                      outcome="passed")
    >>> v.outcome.ok, arm_guardrail_outcome([v]).value
    (True, 'passed')
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.metrics import Direction

__all__ = ["GuardrailOutcome", "GuardrailVerdict", "arm_guardrail_outcome"]


class GuardrailOutcome(StrEnum):
    """What the data say about one guardrail of one arm."""

    PASSED = "passed"
    """Non-inferiority shown: the one-sided bound on the harmful side is inside the threshold."""
    INCONCLUSIVE = "inconclusive"
    """Neither shown safe nor shown harmful: too little data for this threshold."""
    BREACHED = "breached"
    """The sequential monitor found the lift past the threshold (the arm may have stopped)."""

    @property
    def ok(self) -> bool:
        """Whether a configuration with this outcome may be launched on this guardrail."""
        return self is GuardrailOutcome.PASSED


_RANK = {GuardrailOutcome.PASSED: 0, GuardrailOutcome.INCONCLUSIVE: 1, GuardrailOutcome.BREACHED: 2}


class GuardrailVerdict(BaseModel):
    """The platform's verdict on one guardrail of one treatment arm.

    Attributes:
        metric: Guardrail metric name.
        direction: Which way is good for the metric (from the experiment spec).
        threshold: The largest allowed harmful relative change (from the experiment spec).
        lift: Measured relative lift at the end of the arm's data.
        bound: One-sided ``1 - alpha`` confidence bound of the lift on the harmful side
            (the lower bound for an increase metric, the upper bound for a decrease one).
        alpha: Error rate of wrongly declaring `passed` when the true lift sits at the
            threshold.
        p_value: Non-inferiority p-value (small = shown inside the threshold).
        outcome: Passed, inconclusive or breached.
        breached_on_day: The day the monitor crossed its boundary, for a breach.
        detail: One sentence for people.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    direction: Direction
    threshold: float
    lift: float
    bound: float
    alpha: float = Field(gt=0.0, lt=1.0)
    p_value: float = Field(ge=0.0, le=1.0)
    outcome: GuardrailOutcome
    breached_on_day: int | None = Field(default=None, ge=1)
    detail: str = ""


def arm_guardrail_outcome(verdicts: Iterable[GuardrailVerdict]) -> GuardrailOutcome:
    """An arm's overall guardrail outcome: its worst single verdict (passed with none).

    An arm is safe to launch only when every guardrail passed; that intersection needs no
    multiplicity correction (each verdict alone already controls its error at `alpha`).
    """
    worst = GuardrailOutcome.PASSED
    for v in verdicts:
        if _RANK[v.outcome] > _RANK[worst]:
            worst = v.outcome
    return worst
