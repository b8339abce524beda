"""Learned rules: findings that survived the evidence gate and now guide proposals.

A rule is prose for people and prompts, plus an optional machine-readable constraint that
proposers and the critic enforce in code.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.candidates import utcnow
from rectune.domain.errors import ConfigError
from rectune.domain.parameters import ConfigValue

__all__ = ["LearnedRule", "RuleConstraint", "RuleEvidence", "RuleStatus", "rules_after"]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}


class RuleConstraint(BaseModel):
    """`parameter op value`, e.g. ``div_mmr_lambda <= 0.6``; candidates must satisfy it.

    Example:
        >>> RuleConstraint(parameter="a", op="<=", value=0.5).satisfied({"a": 0.7})
        False
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    parameter: str
    op: Literal["<=", ">=", "<", ">", "==", "!="]
    value: ConfigValue

    def satisfied(self, config: Mapping[str, ConfigValue]) -> bool:
        """Whether `config` obeys the constraint."""
        if self.parameter not in config:
            raise ConfigError(self.parameter, None, "a parameter present in the configuration")
        return bool(_OPS[self.op](config[self.parameter], self.value))

    def __str__(self) -> str:
        return f"{self.parameter} {self.op} {self.value}"


class RuleEvidence(BaseModel):
    """The measured effect that supports a rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    effect: float = Field(description="estimated effect (relative lift or standardized slope)")
    ci_low: float
    ci_high: float
    n_experiments: int = Field(default=1, ge=1)


class RuleStatus(StrEnum):
    """Whether a rule is in force."""

    ACTIVE = "active"
    RETIRED = "retired"


class LearnedRule(BaseModel):
    """A rule the skill agent added to a skill's domain knowledge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    parameters: list[str] = Field(default_factory=list)
    constraint: RuleConstraint | None = None
    experiment_ids: list[str] = Field(min_length=1, description="experiments that support it")
    evidence: list[RuleEvidence] = Field(default_factory=list)
    added_at: datetime = Field(default_factory=utcnow)
    status: RuleStatus = RuleStatus.ACTIVE
    retired_reason: str | None = None
    source_task: str | None = None
    confirmed_round: int | None = Field(
        default=None, ge=0,
        description="the last round whose insight re-derived the rule with new evidence",
    )
    confirmed_at: datetime | None = Field(
        default=None, description="when the evidence was last refreshed (None: as added)"
    )


def rules_after(
    rules: Sequence[LearnedRule],
    add: Iterable[LearnedRule] = (),
    retire: Mapping[str, str] | None = None,
    update: Iterable[LearnedRule] = (),
) -> list[LearnedRule]:
    """A skill's rules after one round of learning: active rules in `retire` retired with
    their reason, rules in `update` replaced by their refreshed copy (same id), `add`
    appended. Ids in `retire` or `update` that `rules` lacks are the caller's to refuse.

    Example:
        >>> old = LearnedRule(id="r1", text="keep a low", experiment_ids=["e1"])
        >>> [(r.id, r.status.value) for r in rules_after([old], retire={"r1": "contradicted"})]
        [('r1', 'retired')]
    """
    retire = retire or {}
    fresh = {r.id: r for r in update}
    kept = [
        r.model_copy(update={"status": RuleStatus.RETIRED, "retired_reason": retire[r.id]})
        if r.id in retire and r.status is RuleStatus.ACTIVE
        else fresh.get(r.id, r)
        for r in rules
    ]
    return [*kept, *add]
