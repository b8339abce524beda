"""Candidate configurations proposed by the actor, judged by the critic and tested online."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.configs import Config
from rectune.domain.experiments import SCHEMA_VERSION, ArmResult
from rectune.domain.lifecycle import CandidateStatus, check_transition
from rectune.domain.review import Prediction

__all__ = ["Candidate", "StatusChange", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class StatusChange(BaseModel):
    """One lifecycle transition, kept as an audit trail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: CandidateStatus
    at: datetime
    note: str = ""


class Candidate(BaseModel):
    """A proposed configuration and everything learned about it.

    The candidate is a durable record: it carries a schema version and round-trips through
    JSON. Status changes go through `transition`, which refuses illegal moves.

    Example:
        >>> c = Candidate(id="c1", task="t", round=1, delta={"a": 1.0}, config={"a": 1.0})
        >>> c = c.transition(CandidateStatus.APPROVED)
        >>> c.status.value
        'approved'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(min_length=1)
    task: str = Field(min_length=1)
    round: int = Field(ge=0)
    delta: Config
    config: Config
    hypothesis: str = ""
    explanation: str = ""
    critic_justification: str = ""
    source: str = Field(
        default="engine", description="who proposed it: engine, llm, confirm, human, import"
    )
    status: CandidateStatus = CandidateStatus.PROPOSED
    history: list[StatusChange] = Field(default_factory=list)
    proposed_at: datetime = Field(default_factory=utcnow)
    experiment_id: str | None = None
    result: ArmResult | None = None
    checks: dict[str, str] = Field(
        default_factory=dict, description="evaluation-check info: check name -> outcome"
    )
    prediction: Prediction | None = Field(
        default=None, description="the surrogate's forecast when the Critic selected it"
    )
    edited: bool = Field(default=False, description="a reviewer changed the configuration")

    def transition(self, new: CandidateStatus, note: str = "") -> Candidate:
        """A copy moved to `new`, or `LifecycleError` if the move is illegal."""
        check_transition(self.status, new)
        change = StatusChange(status=new, at=utcnow(), note=note)
        return self.model_copy(update={"status": new, "history": [*self.history, change]})
