"""plan: the A/B plan for the selected candidates, computed once and stored for review."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from rectune.config import Context
from rectune.ports import ports_for
from rectune.round.codec import decode, encode
from rectune.round.state import State

__all__ = ["plan"]


def plan(state: State, runtime: Runtime[Context]) -> Command[Literal["approve"]]:
    """Traffic per arm and duration (the power analysis when the run does not fix it).

    Computed in its own step so that the approval shows, and the launch uses, one stored
    plan: the approval step re-runs on every answer and must not plan again.
    """
    ctx = runtime.context
    ports = ports_for(ctx)
    data = decode(state)
    skill = ports.skills.get(data.task)
    ab_plan = ports.platform.plan(
        skill, len(data.candidates), days=ctx.days, traffic=ctx.traffic_per_arm
    )
    return Command(goto="approve", update=encode(plan=ab_plan))
