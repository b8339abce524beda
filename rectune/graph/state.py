"""The state of one tuning round, and the graph's input and output schemas.

State values are plain JSON-able data (dicts of domain records dumped in JSON mode), so that
any checkpointer can store them and Studio can show them.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from rectune.agents.models import add_usage

__all__ = ["RoundInput", "RoundOutput", "RoundStatus", "State"]

RoundStatus = Literal["running", "awaiting_approval", "waiting", "completed", "rejected", "failed"]


def _merge_usage(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    return add_usage(left or {}, right or {})


class RoundInput(TypedDict, total=False):
    """What starts a round."""

    task: str
    """Name of the skill/task to tune, e.g. ``value_fusion``."""
    round: int
    """Round number; defaults to one past the last round in the journal."""
    steering: str
    """Free-text instruction from a person for this round (overrides the Context's)."""


class State(TypedDict, total=False):
    """Everything a round carries from node to node."""

    task: str
    """The task being tuned."""
    round: int
    """This round's number (1-based)."""
    steering: str
    """The person's steering instruction used for this round."""
    skill_version: int
    """Version of the skill the round was planned with."""
    baseline: dict[str, Any]
    """Production configuration (the A/B control)."""
    prompt: dict[str, str]
    """Sections for the Actor's prompt: skill, history, retrieved, surrogate."""
    proposals: list[dict[str, Any]]
    """Raw proposals of the latest Actor pass: hypothesis, explanation, delta, source."""
    actor_error: str | None
    """Why the latest Actor pass produced nothing usable (parse error, model failure)."""
    critic_iterations: int
    """How many Actor->Critic passes ran; capped by ``Context.critic_loop_cap``."""
    critic_feedback: list[str]
    """The Critic's reasons, handed back to the Actor on the next pass."""
    verdicts: list[dict[str, Any]]
    """Per proposal of the last pass: kept or not, the reasons, the surrogate's prediction."""
    candidates: list[dict[str, Any]]
    """Candidates the Critic selected (domain ``Candidate`` dumps)."""
    decisions: list[dict[str, Any]]
    """The person's (or auto-approval's) decision per candidate."""
    approved: list[dict[str, Any]]
    """Approved candidates, possibly edited, in arm order."""
    experiment: dict[str, Any] | None
    """The launched ``ExperimentSpec`` dump."""
    experiment_id: str | None
    """The platform's id of the launched experiment."""
    rendered_files: dict[str, str]
    """Arm name -> the platform config file rendered from the skill's template (path in the
    workspace)."""
    results: dict[str, Any] | None
    """The ``ExperimentResult`` dump once collected."""
    elites: list[dict[str, Any]]
    """Elite candidates after recording this round."""
    recommendation: dict[str, Any] | None
    """The configuration the system would ship now, with its shrunken estimate."""
    findings: Annotated[list[dict[str, Any]], operator.add]
    """Insight findings; map branches (one per task) append here."""
    insight_summary: str
    """Reduced cross-task summary (LLM-written when a model is configured)."""
    learned_rules: list[dict[str, Any]]
    """Rules the Skill agent added this round."""
    retired_rules: list[str]
    """Ids of rules the Skill agent retired this round."""
    token_usage: Annotated[dict[str, int], _merge_usage]
    """Tokens used by model calls this round."""
    status: RoundStatus
    """Where the round is."""
    error: str | None
    """Why the round failed, when it did."""


class RoundOutput(TypedDict, total=False):
    """What a finished (or paused) round returns."""

    task: str
    round: int
    status: RoundStatus
    error: str | None
    candidates: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    experiment_id: str | None
    results: dict[str, Any] | None
    elites: list[dict[str, Any]]
    recommendation: dict[str, Any] | None
    learned_rules: list[dict[str, Any]]
    retired_rules: list[str]
    token_usage: dict[str, int]
