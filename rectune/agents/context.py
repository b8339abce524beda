"""load_context: gather what the agents need for this round."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from rectune.agents.services import services
from rectune.agents.skill_text import skill_prompt_text
from rectune.config import Context
from rectune.graph.state import State

__all__ = ["load_context"]


def load_context(state: State, runtime: Runtime[Context]) -> Command[Literal["actor"]]:
    """Load the skill, the journal (elites and sorted history), retrieved knowledge and the
    surrogate's view; fix the round number and the steering text."""
    ctx = runtime.context
    svc = services(ctx)
    task = state["task"]
    skill = svc.skill(task)
    cands = svc.candidates(task)
    round_no = state.get("round") or svc.next_round(task)
    elites = svc.elites(skill, cands)
    steering = state.get("steering") or ctx.steering
    query = " ".join([task, skill.stage, steering, *skill.space.names])
    retrieved = svc.retrieve(task, query, k=6)
    prompt = {
        "skill": skill_prompt_text(skill),
        "history": svc.history_text(skill, cands, elites),
        "retrieved": "\n".join(f"- {r}" for r in retrieved) or "(nothing retrieved)",
        "surrogate": svc.surrogate_view(skill, cands),
        "steering": steering or "(none)",
    }
    update: dict[str, Any] = {
        "task": task,
        "round": round_no,
        "steering": steering,
        "skill_version": skill.version,
        "baseline": dict(skill.baseline),
        "prompt": prompt,
        "elites": [e.model_dump(mode="json") for e in elites],
        "critic_iterations": 0,
        "critic_feedback": [],
        "status": "running",
        "error": None,
    }
    return Command(goto="actor", update=update)
