"""approve: a person (or an explicit auto-approval policy) decides what goes live."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from rectune.agents.approval import ApprovalOutcome, apply_decisions, approval_payload
from rectune.config import Context
from rectune.ports import ports_for
from rectune.round.codec import decode, encode
from rectune.round.state import State

__all__ = ["MAX_ATTEMPTS", "approve"]

MAX_ATTEMPTS = 10
"""Invalid answers re-ask with the errors shown; after this many the round fails."""


def approve(state: State, runtime: Runtime[Context]) -> Command[Literal["launch", "record"]]:
    """Interrupt with the candidates and the stored A/B plan; resume with the decisions."""
    ctx = runtime.context
    ports = ports_for(ctx)
    data = decode(state)
    skill = ports.skills.get(data.task)
    assert data.plan is not None, "the plan step runs before approval"
    constraints = [r.constraint for r in skill.active_rules if r.constraint is not None]
    outcome: ApprovalOutcome
    if ctx.approval_mode == "auto":
        outcome = apply_decisions(
            "approve",
            data.candidates,
            space=skill.space,
            baseline=skill.baseline,
            constraints=constraints,
            by="auto",
        )
    else:
        errors: list[str] = []
        for _ in range(MAX_ATTEMPTS):
            answer = interrupt(
                approval_payload(
                    task=data.task,
                    round_no=data.round,
                    candidates=data.candidates,
                    verdicts=data.verdicts,
                    baseline=skill.baseline,
                    plan=data.plan,
                    model_error=data.actor_error,
                    degraded=data.degraded,
                    errors=errors,
                )
            )
            outcome = apply_decisions(
                answer,
                data.candidates,
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
                update=encode(
                    status="failed",
                    error=f"approval answers were invalid {MAX_ATTEMPTS} times: {errors}",
                    decisions=[],
                    approved=[],
                ),
            )
    ports.journal.decide(
        data.task, data.round, data.thread_id, [*outcome.approved, *outcome.rejected]
    )
    plan = data.plan
    if outcome.approved and (outcome.plan_changes or len(outcome.approved) != plan.arms):
        plan = ports.platform.plan(
            skill,
            len(outcome.approved),
            days=outcome.plan_changes.get("days", plan.days),
            traffic=outcome.plan_changes.get("traffic_per_arm", plan.traffic_per_arm),
            chosen_by="reviewer" if outcome.plan_changes else None,
        ).model_copy(
            update={} if outcome.plan_changes else {"duration_from": plan.duration_from}
        )
    update = encode(decisions=outcome.decisions, approved=outcome.approved, plan=plan)
    if not outcome.approved:
        return Command(goto="record", update=update | encode(status="rejected"))
    return Command(goto="launch", update=update)
