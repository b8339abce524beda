"""Rounds: their status, the reviewer's decisions, degradations, and the durable round record."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.advice import LaunchAdvice
from rectune.domain.candidates import utcnow
from rectune.domain.configs import Config
from rectune.domain.plans import ABPlan

__all__ = ["Decision", "Degradation", "RoundRecord", "RoundStatus"]


class RoundStatus(StrEnum):
    """Where a round is.

    The graph itself sets RUNNING, COMPLETED, REJECTED, FAILED and ABORTED. While it is
    paused, a report says AWAITING_APPROVAL (a person must decide) or WAITING (the A/B test is
    running); INTERRUPTED means the process stopped in the middle of a step (Ctrl-C, a crash)
    and `rectune resume` continues from the last checkpoint.
    """

    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    WAITING = "waiting"
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def is_final(self) -> bool:
        """Whether the round will not continue."""
        return self in _FINAL


_FINAL = frozenset(
    {RoundStatus.COMPLETED, RoundStatus.REJECTED, RoundStatus.FAILED, RoundStatus.ABORTED}
)


class Decision(BaseModel):
    """The reviewer's (or the auto-approval policy's) decision on one candidate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="candidate id")
    action: Literal["approve", "reject", "edit"]
    note: str = ""
    delta: Config | None = Field(default=None, description="the edit, for action 'edit'")
    by: Literal["reviewer", "auto"] = "reviewer"


class Degradation(BaseModel):
    """A part of the round that fell back to a simpler path; shown to people, never hidden.

    Example:
        >>> str(Degradation(where="critic", what="the model's critique failed; engine order"))
        "critic: the model's critique failed; engine order"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


class RoundRecord(BaseModel):
    """What happened in one tuning round of a task (the journal keeps one per round).

    A round number is reserved by its thread when the round starts (status RUNNING), so two
    rounds of one task never share a number, and the record is finished in place.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    round: int = Field(ge=0)
    thread_id: str = ""
    status: RoundStatus = RoundStatus.RUNNING
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    steering: str = ""
    skill_version: int | None = Field(default=None, description="version planned with")
    candidate_ids: list[str] = Field(default_factory=list)
    experiment_id: str | None = None
    plan: ABPlan | None = None
    decisions: list[Decision] = Field(default_factory=list)
    recommendation: LaunchAdvice | None = None
    insight_summary: str = ""
    learned_rules: list[str] = Field(default_factory=list, description="ids of rules added")
    retired_rules: list[str] = Field(default_factory=list)
    new_skill_version: int | None = None
    degraded: list[Degradation] = Field(default_factory=list)
    error: str | None = None
    token_usage: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list, description="free text (older records)")
