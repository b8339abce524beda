"""record: results into the journal, elites and the launch recommendation recomputed, then
fan out one insight task per tuned task (cross-learning map step)."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from rectune.agents.services import services
from rectune.config import Context
from rectune.domain import ExperimentResult
from rectune.graph.state import State

__all__ = ["record"]


def record(state: State, runtime: Runtime[Context]) -> Command[Literal["insight_task"]]:
    """Write the round to memory and start the insight map over every task with history."""
    ctx = runtime.context
    svc = services(ctx)
    task = state["task"]
    skill = svc.skill(task)
    update: dict[str, Any] = {}
    results = state.get("results")
    if results:
        svc.record_results(task, ExperimentResult.model_validate(results))
        update["status"] = "completed"
    status = update.get("status", state.get("status", "completed"))
    svc.record_round(
        task,
        {
            "round": state["round"],
            "status": status,
            "steering": state.get("steering", ""),
            "experiment_id": state.get("experiment_id"),
            "candidate_ids": [c["id"] for c in state.get("candidates", [])],
            "decisions": state.get("decisions", []),
            "token_usage": state.get("token_usage", {}),
            "skill_version": state.get("skill_version"),
            "error": state.get("error"),
        },
    )
    cands = svc.candidates(task)
    elites = svc.elites(skill, cands)
    update["elites"] = [e.model_dump(mode="json") for e in elites]
    update["recommendation"] = svc.recommend(skill, cands)
    sends = [Send("insight_task", {"task": t}) for t in svc.tasks_with_history()] or [
        Send("insight_task", {"task": task})
    ]
    return Command(goto=sends, update=update)
