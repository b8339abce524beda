"""Wiring of the round graph; the nodes live in `rectune.agents`, the state in
`rectune.round.state`."""

from __future__ import annotations

from typing import Any

from langgraph.graph import START, StateGraph
from langgraph.types import RetryPolicy

from rectune.agents.actor import actor
from rectune.agents.approve import approve
from rectune.agents.context import load_context
from rectune.agents.critic import critic
from rectune.agents.insight import insight_reduce, insight_task
from rectune.agents.online import launch, monitor, wait
from rectune.agents.plan import plan
from rectune.agents.record import record
from rectune.agents.skill import skill
from rectune.config import Context
from rectune.round.state import RoundInput, RoundOutput, State

__all__ = ["PLATFORM_RETRY", "build_graph", "compile_graph"]

# Platform calls can fail transiently; launches are idempotent and a poll has no side
# effect beyond the platform's own clock, so a retry is safe.
PLATFORM_RETRY = RetryPolicy(max_attempts=3, initial_interval=0.5)


def build_graph() -> StateGraph[State, Context, RoundInput, RoundOutput]:
    """The uncompiled round graph (tests compile it with an in-memory saver).

    load_context -> actor -> critic -(too few)-> actor ... -> plan -> approve -> launch
    -> monitor -(running)-> wait -> monitor ... -> record -> insight_task (one per task, via
    Send) -> insight_reduce -> skill -> END
    """
    builder = StateGraph(
        State, context_schema=Context, input_schema=RoundInput, output_schema=RoundOutput
    )
    builder.add_node("load_context", load_context)
    builder.add_node("actor", actor)
    builder.add_node("critic", critic)
    builder.add_node("plan", plan, retry_policy=PLATFORM_RETRY)
    builder.add_node("approve", approve)
    builder.add_node("launch", launch, retry_policy=PLATFORM_RETRY)
    builder.add_node("monitor", monitor, retry_policy=PLATFORM_RETRY)
    builder.add_node("wait", wait)
    builder.add_node("record", record)
    builder.add_node("insight_task", insight_task)
    builder.add_node("insight_reduce", insight_reduce)
    builder.add_node("skill", skill)
    builder.add_edge(START, "load_context")
    builder.add_edge("insight_task", "insight_reduce")
    builder.add_edge("insight_reduce", "skill")
    return builder


def compile_graph(checkpointer: Any = None) -> Any:
    """Compile the graph; pass a checkpointer for durable, resumable rounds."""
    return build_graph().compile(checkpointer=checkpointer, name="rectune")
