"""load_context: reserve the round and gather what the agents need for it."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from rectune.agents.runtime import current_thread
from rectune.agents.skill_text import skill_prompt_text
from rectune.config import ROLES, Context
from rectune.domain import Degradation
from rectune.memory.elites import select_elites
from rectune.memory.history import history_view
from rectune.ports import observations_of, ports_for
from rectune.round.codec import decode, encode
from rectune.round.state import State
from rectune.workspace import Workspace, WorkspaceError

__all__ = ["load_context"]

MAX_ELITES = 8
HISTORY_BUDGET = 8000


def load_context(state: State, runtime: Runtime[Context]) -> Command[Literal["actor"]]:
    """Reserve this thread's round number in the journal, fix the steering text and, when a
    model will read them, build the prompt sections (skill, history, retrieved knowledge and
    the surrogate's view).

    Raises:
        WorkspaceError: when the Context's workspace is not a rectune workspace.
    """
    ctx = runtime.context
    ws = Workspace(ctx.workspace)
    if not ws.is_workspace():
        raise WorkspaceError(
            f"{ws.root.resolve()} is not a rectune workspace; set the run's `workspace` "
            "setting (in Studio: the assistant's configuration; elsewhere RECTUNE_WORKSPACE "
            "or --workspace) to a folder made by `rectune init DIR`"
        )
    ports = ports_for(ctx)
    data = decode(state)
    skill = ports.skills.get(data.task)
    thread = data.thread_id or current_thread()
    steering = data.steering or ctx.steering
    record = ports.journal.reserve_round(
        data.task,
        thread,
        requested=data.round or None,
        steering=steering,
        skill_version=skill.version,
    )
    cands = ports.journal.candidates(data.task)
    history, skipped = observations_of(cands)
    degraded: list[Degradation] = list(skipped)
    prompt: dict[str, str] = {}
    if any(ctx.model_for(role) is not None for role in ROLES):
        elites = select_elites(cands, skill.metrics, max_size=MAX_ELITES)
        query = " ".join([data.task, skill.stage, steering, *skill.space.names])
        retrieved, failure = ports.knowledge.retrieve(query, k=6)
        if failure is not None:
            degraded.append(failure)
        prompt = {
            "skill": skill_prompt_text(skill),
            "history": history_view(
                cands, skill.metrics, elites=elites, baseline=skill.baseline,
                budget_chars=HISTORY_BUDGET,
            ).text,
            "retrieved": "\n".join(f"- {r}" for r in retrieved) or "(nothing retrieved)",
            "surrogate": ports.engine(skill).view(history),
            "steering": steering or "(none)",
        }
    update = encode(
        task=data.task,
        round=record.round,
        thread_id=thread,
        steering=steering,
        skill_version=skill.version,
        prompt=prompt,
        critic_iterations=0,
        critic_feedback=[],
        status="running",
        error=None,
        degraded=degraded,
    )
    return Command(goto="actor", update=update)
