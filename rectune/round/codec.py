"""The one place where round state turns into domain models and back.

The graph's state holds JSON; nodes `decode` it into a `RoundData` of validated domain models
and return `encode(...)`d updates, so a malformed value fails loudly at the boundary instead of
deep inside a node, and no node builds or mutates raw dicts.

Example:
    >>> from rectune.domain import Draft
    >>> update = encode(proposals=[Draft(delta={"w": 1.0})], critic_iterations=1)
    >>> update["proposals"][0]["delta"], decode(update).proposals[0].source
    ({'w': 1.0}, 'engine')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain import (
    ABPlan,
    Candidate,
    Decision,
    Degradation,
    Draft,
    ExperimentResult,
    ExperimentSpec,
    LaunchAdvice,
    LearnedRule,
    RoundStatus,
    Verdict,
)
from rectune.memory.insight_stats import Finding
from rectune.tools.platform import ExperimentStatus

__all__ = ["RoundData", "RoundResult", "decode", "encode"]


class RoundResult(BaseModel):
    """What a round returns (the graph's output schema, typed); fields as in `RoundOutput`."""

    model_config = ConfigDict(extra="ignore")

    task: str = ""
    round: int = 0
    status: RoundStatus = RoundStatus.RUNNING
    error: str | None = None
    verdicts: list[Verdict] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    plan: ABPlan | None = None
    decisions: list[Decision] = Field(default_factory=list)
    experiment_id: str | None = None
    results: ExperimentResult | None = None
    elites: list[Candidate] = Field(default_factory=list)
    recommendation: LaunchAdvice | None = None
    insight_summary: str = ""
    learned_rules: list[LearnedRule] = Field(default_factory=list)
    retired_rules: list[str] = Field(default_factory=list)
    skill_version: int | None = None
    degraded: list[Degradation] = Field(default_factory=list)
    token_usage: dict[str, int] = Field(default_factory=dict)


class RoundData(RoundResult):
    """Everything a round carries, typed; fields as in `State`."""

    thread_id: str = ""
    steering: str = ""
    prompt: dict[str, str] = Field(default_factory=dict)
    proposals: list[Draft] = Field(default_factory=list)
    actor_error: str | None = None
    critic_iterations: int = 0
    critic_feedback: list[str] = Field(default_factory=list)
    approved: list[Candidate] = Field(default_factory=list)
    experiment: ExperimentSpec | None = None
    progress: ExperimentStatus | None = None
    rendered_files: dict[str, str] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)


def decode(state: Mapping[str, Any]) -> RoundData:
    """The state as validated domain models (missing fields take their defaults)."""
    return RoundData.model_validate(dict(state))


def encode(**fields: Any) -> dict[str, Any]:
    """A state update: each field validated against `RoundData`, then dumped as JSON.

    Raises:
        KeyError: for a field the state does not have.
    """
    unknown = sorted(set(fields) - set(RoundData.model_fields))
    if unknown:
        raise KeyError(f"not state fields: {unknown}; known: {sorted(RoundData.model_fields)}")
    data = RoundData.model_validate(fields)
    out: dict[str, Any] = data.model_dump(mode="json", include=set(fields))
    return out
