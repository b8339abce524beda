"""The state of one tuning round, and the graph's input and output schemas.

Values are plain JSON (domain records dumped in JSON mode), so any checkpointer can store
them and Studio can show them; `rectune.round.codec` is the one place that turns them into
domain models and back. The schemas are `typing_extensions.TypedDict` because pydantic (which
LangGraph uses to publish the input and output schemas) needs it on Python 3.11.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from typing_extensions import TypedDict

__all__ = ["RoundInput", "RoundOutput", "State", "StateStatus"]

StateStatus = Literal["running", "completed", "rejected", "failed", "aborted"]
"""What the nodes set; a report adds awaiting_approval, waiting and interrupted."""

JSON = dict[str, Any]


def _merge_usage(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    left, right = left or {}, right or {}
    return {k: left.get(k, 0) + right.get(k, 0) for k in set(left) | set(right)}


class RoundInput(TypedDict, total=False):
    """What starts a round."""

    task: str
    """Name of the skill/task to tune, e.g. ``value_fusion``."""
    round: int
    """Round number to use; by default the next free one, reserved in the journal."""
    steering: str
    """Free-text instruction from a person for this round (overrides the Context's)."""


class _Output(TypedDict, total=False):
    task: str
    """The task being tuned."""
    round: int
    """This round's number (1-based), reserved in the journal by this thread."""
    status: StateStatus
    """Where the round is."""
    error: str | None
    """Why the round failed, when it did."""
    verdicts: list[JSON]
    """The Critic's `Verdict` on every proposal of its last pass (kept or dropped, and why)."""
    candidates: list[JSON]
    """The `Candidate`s the Critic selected."""
    plan: JSON | None
    """The `ABPlan` the reviewer saw and approved; launched exactly as stored."""
    decisions: list[JSON]
    """The reviewer's (or auto-approval's) `Decision` per candidate."""
    experiment_id: str | None
    """The platform's id of the launched experiment."""
    results: JSON | None
    """The `ExperimentResult` once collected."""
    elites: list[JSON]
    """Elite `Candidate`s after recording this round."""
    recommendation: JSON | None
    """The `LaunchAdvice`: what the engine would ship now, and why."""
    insight_summary: str
    """The Insight agent's cross-task summary (model-written when a model is configured)."""
    learned_rules: list[JSON]
    """`LearnedRule`s the Skill agent added this round."""
    retired_rules: list[str]
    """Ids of rules the Skill agent retired this round."""
    skill_version: int
    """Version of the skill the round was planned with."""
    degraded: Annotated[list[JSON], operator.add]
    """Each `Degradation`: a step that fell back to a simpler path (a failed model call...)."""
    token_usage: Annotated[dict[str, int], _merge_usage]
    """Tokens used by model calls this round."""


class RoundOutput(_Output, total=False):
    """What a finished (or paused) round returns."""


class State(_Output, total=False):
    """Everything a round carries from node to node."""

    thread_id: str
    """The thread that owns the round in the journal (the checkpoint thread; a one-off id
    when the graph runs without a checkpointer)."""
    steering: str
    """The person's steering instruction used for this round."""
    prompt: dict[str, str]
    """Sections of the model prompts (skill, history, retrieved, surrogate, steering); only
    filled when a model is configured."""
    proposals: list[JSON]
    """The `Draft`s of the latest Actor pass."""
    actor_error: str | None
    """Why the latest Actor pass produced nothing usable from the model."""
    critic_iterations: int
    """How many Actor->Critic passes ran; capped by ``Context.critic_loop_cap``."""
    critic_feedback: list[str]
    """The Critic's reasons, handed back to the Actor on the next pass."""
    approved: list[JSON]
    """Approved `Candidate`s, possibly edited, in arm order."""
    experiment: JSON | None
    """The launched `ExperimentSpec`."""
    progress: JSON | None
    """The platform's latest `ExperimentStatus` (one poll per visit of the monitor)."""
    rendered_files: dict[str, str]
    """Arm name -> its rendered platform config file (path in the workspace)."""
    findings: Annotated[list[JSON], operator.add]
    """Insight `Finding`s; map branches (one per task) append here."""
