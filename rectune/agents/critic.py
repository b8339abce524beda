"""The Critic: code checks, surrogate risk, then the selection of K diverse candidates.

The round policy (`rectune.round.policy`) does the checking and the selection; a configured
model may reorder the survivors. When fewer than K survive, the Actor gets the reasons and
tries again, up to ``Context.critic_loop_cap`` passes; at the cap the round goes on with what
survived, or ends with a clear error (recorded in the journal) and nothing launched.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import CRITIC_PROMPT
from rectune.agents.runtime import chat_model, policy_settings
from rectune.config import Context
from rectune.domain import Candidate, Degradation, Verdict
from rectune.ports import observations_of, ports_for
from rectune.round import policy
from rectune.round.codec import RoundData, decode, encode
from rectune.round.state import State

__all__ = ["Critique", "critic"]


class Pick(BaseModel):
    """One selected proposal."""

    index: int = Field(description="index of the proposal in the list")
    justification: str = Field(description="why it is worth testing")


class Critique(BaseModel):
    """The Critic model's structured answer."""

    selected: list[Pick]
    not_selected_reasons: list[str] = Field(default_factory=list)


def critic(
    state: State, runtime: Runtime[Context]
) -> Command[Literal["actor", "plan", "record"]]:
    """Check, assess and select; loop back to the Actor when too few survive."""
    ctx = runtime.context
    ports = ports_for(ctx)
    data = decode(state)
    skill = ports.skills.get(data.task)
    engine = ports.engine(skill)
    cands = ports.journal.candidates(data.task)
    history, _ = observations_of(cands)
    settings = policy_settings(ctx)
    tested, failed = policy.tested_keys(cands, skill.metrics, exclude_round=data.round)
    verdicts = policy.review(
        data.proposals, engine, history, settings, tested=tested, failed=failed
    )
    fields: dict[str, Any] = {}
    order: list[tuple[int, str]] = []
    model = chat_model(ctx, "critic")
    if model is not None and not settings.single_agent and any(v.kept for v in verdicts):
        order, usage, failure = _llm_critique(model, data, verdicts, settings.arms)
        fields["token_usage"] = usage
        if failure:
            fields["degraded"] = [Degradation(where="critic", what=failure)]
    iteration = data.critic_iterations
    last = iteration >= ctx.critic_loop_cap
    verdicts, picks = policy.select(
        verdicts, engine, history, settings, model_order=order, last_pass=last
    )
    fields["verdicts"] = verdicts
    short = len(picks) < settings.arms or bool(data.actor_error)
    if short and not last:
        fields["critic_feedback"] = _feedback(verdicts, data.actor_error, len(picks), settings.arms)
        return Command(goto="actor", update=encode(**fields))
    if not picks:
        reason = data.actor_error or "no proposal passed the checks"
        fields |= {
            "status": "failed",
            "candidates": [],
            "error": f"round {data.round}: nothing to launch after {iteration} actor/critic "
            f"passes ({reason}); nothing was launched",
        }
        return Command(goto="record", update=encode(**fields))
    candidates = [_candidate(data, j, v) for j, v in enumerate(picks)]
    ports.journal.propose(data.task, data.round, data.thread_id, candidates)
    fields["candidates"] = candidates
    return Command(goto="plan", update=encode(**fields))


def _candidate(data: RoundData, j: int, v: Verdict) -> Candidate:
    assert v.config is not None
    checks = {"code_checks": "passed"}
    if v.notes:
        checks["notes"] = "; ".join(v.notes)
    return Candidate(
        id=f"{data.task}-r{data.round}-c{j + 1}",
        task=data.task,
        round=data.round,
        delta=v.delta,
        config=v.config,
        hypothesis=v.draft.hypothesis,
        explanation=v.draft.explanation,
        critic_justification=v.justification,
        source=v.source,
        checks=checks,
        prediction=v.prediction,
    )


def _feedback(
    verdicts: Sequence[Verdict], actor_error: str | None, got: int, k: int
) -> list[str]:
    lines = []
    if actor_error:
        lines.append(f"Your previous answer was unusable: {actor_error}")
    lines.append(f"Only {got} of the {k} needed proposals survived review.")
    counts = Counter(r for v in verdicts for r in v.reasons)
    for reason, n in counts.most_common(8):
        lines.append(f"{n} proposal(s) rejected: {reason}")
    return lines


def _llm_critique(
    model: Any, data: RoundData, verdicts: Sequence[Verdict], k: int
) -> tuple[list[tuple[int, str]], dict[str, int], str | None]:
    """The model's order of the kept drafts as (draft index, justification)."""
    kept = [v for v in verdicts if v.kept]
    listing = "\n".join(
        json.dumps(
            {
                "index": i,
                "source": v.source,
                "delta": v.delta,
                "hypothesis": v.draft.hypothesis[:500],
                "prediction": v.prediction.model_dump(mode="json") if v.prediction else {},
            }
        )
        for i, v in enumerate(kept)
    )
    prompt = CRITIC_PROMPT.format(
        skill=data.prompt.get("skill", ""),
        history=data.prompt.get("history", ""),
        proposals=listing,
        k=k,
    )
    try:
        out = with_retry(model.with_structured_output(Critique, include_raw=True)).invoke(
            [HumanMessage(content=prompt)]
        )
    except Exception as exc:  # a failed critique falls back to the engine's ranking
        return [], {}, f"the model's critique failed ({type(exc).__name__}); engine order used"
    usage = usage_of(out.get("raw"))
    parsed = out.get("parsed")
    if not isinstance(parsed, Critique):
        return [], usage, "the model's critique could not be parsed; engine order used"
    order: list[tuple[int, str]] = []
    used: set[int] = set()
    for p in parsed.selected:
        if 0 <= p.index < len(kept) and p.index not in used:
            used.add(p.index)
            order.append((kept[p.index].index, p.justification.strip() or "selected by the critic"))
    return order, usage, None
