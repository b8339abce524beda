"""approve: a person (or an explicit auto-approval policy) decides what goes live."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from rectune.agents.approval import ApprovalOutcome, apply_decisions, approval_payload
from rectune.agents.services import services
from rectune.config import Context
from rectune.domain import Candidate
from rectune.graph.state import State

__all__ = ["MAX_ATTEMPTS", "approve", "approved_candidates"]

MAX_ATTEMPTS = 10
"""Invalid answers re-ask with the errors shown; after this many the round fails."""


def approve(state: State, runtime: Runtime[Context]) -> Command[Literal["online", "record"]]:
    """Interrupt with the candidates and the A/B plan; resume with the decisions."""
    ctx = runtime.context
    svc = services(ctx)
    task = state["task"]
    skill = svc.skill(task)
    candidates = [Candidate.model_validate(c) for c in state.get("candidates", [])]
    constraints = [r.constraint for r in skill.active_rules if r.constraint is not None]
    plan = svc.ab_plan(skill, len(candidates))
    outcome: ApprovalOutcome
    if ctx.approval_mode == "auto":
        outcome = apply_decisions(
            "approve",
            candidates,
            space=skill.space,
            baseline=skill.baseline,
            constraints=constraints,
        )
        for d in outcome.decisions:
            d["note"] = "auto-approved (approval_mode='auto')"
    else:
        errors: list[str] = []
        for _ in range(MAX_ATTEMPTS):
            answer = interrupt(
                approval_payload(
                    task=task,
                    round_no=state["round"],
                    candidates=state.get("candidates", []),
                    baseline=skill.baseline,
                    ab_plan=plan,
                    errors=errors,
                )
            )
            outcome = apply_decisions(
                answer,
                candidates,
                space=skill.space,
                baseline=skill.baseline,
                constraints=constraints,
            )
            if not outcome.errors:
                break
            errors = outcome.errors
        else:
            return Command(
                goto="record",
                update={
                    "status": "failed",
                    "error": f"approval answers were invalid {MAX_ATTEMPTS} times: {errors}",
                    "decisions": [],
                    "approved": [],
                },
            )
    svc.upsert(task, [*outcome.approved, *outcome.rejected])
    update: dict[str, Any] = {
        "decisions": outcome.decisions,
        "approved": [c.model_dump(mode="json") for c in outcome.approved],
    }
    if not outcome.approved:
        update |= {"status": "rejected"}
        return Command(goto="record", update=update)
    return Command(goto="online", update=update)


def approved_candidates(state: State) -> list[Candidate]:
    """The approved candidates of the state, in arm order."""
    return [Candidate.model_validate(c) for c in state.get("approved", [])]
