"""The Critic: code checks, surrogate risk, then the selection of K diverse candidates.

When fewer than K proposals survive, the Actor gets the reasons and tries again, up to
``Context.critic_loop_cap`` passes; at the cap the round goes on with what survived, or ends
with a clear error (recorded in the journal) and nothing launched when nothing did.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

from rectune.agents.checks import Verdict, check_proposals
from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import CRITIC_PROMPT
from rectune.agents.services import Services, services
from rectune.config import Context
from rectune.domain import Candidate
from rectune.graph.state import State
from rectune.skillhub.model import Skill

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
) -> Command[Literal["actor", "approve", "record"]]:
    """Check, assess and select; loop back to the Actor when too few survive."""
    ctx = runtime.context
    svc = services(ctx)
    task = state["task"]
    skill = svc.skill(task)
    cands = svc.candidates(task)
    k = ctx.arms_per_ab
    tested, failed = svc.tested_keys(skill, cands)
    verdicts = check_proposals(
        state.get("proposals", []), skill, tested_keys=tested, failed_keys=failed
    )
    valid = [v for v in verdicts if v["kept"]]
    if valid and not ctx.single_agent:
        # Before any A/B result the surrogate only knows its prior, whose breach probability
        # grows with the distance from production; it is shown but does not veto.
        evidence = svc.has_evidence(skill, cands)
        for v, a in zip(valid, svc.assess(skill, cands, [v["config"] for v in valid]), strict=True):
            v["predicted"] = a
            if evidence and a["breach_probability"] > ctx.risk_threshold:
                v["kept"] = False
                v["reasons"].append(
                    f"predicted guardrail-breach probability {a['breach_probability']:.0%} "
                    f"exceeds the limit {ctx.risk_threshold:.0%}"
                )
        valid = [v for v in valid if v["kept"]]

    update: dict[str, Any] = {"verdicts": verdicts}
    if ctx.single_agent:
        picks = [(v, "single-agent mode: taken in the Actor's order") for v in valid[:k]]
    else:
        picks, usage = _select(svc, skill, cands, state, valid, k, ctx.llm_share)
        if usage:
            update["token_usage"] = usage
    iteration = state.get("critic_iterations", 1)
    short = len(picks) < k or bool(state.get("actor_error"))
    if short and iteration < ctx.critic_loop_cap:
        update["critic_feedback"] = _feedback(verdicts, state.get("actor_error"), len(picks), k)
        return Command(goto="actor", update=update)
    if not picks:
        reason = state.get("actor_error") or "no proposal passed the checks"
        update |= {
            "status": "failed",
            "candidates": [],
            "error": f"round {state['round']}: nothing to launch after {iteration} "
            f"actor/critic passes ({reason}); nothing was launched",
        }
        return Command(goto="record", update=update)

    candidates = [
        Candidate(
            id=f"{task}-r{state['round']}-c{j + 1}",
            task=task,
            round=state["round"],
            delta=v["delta"],
            config=v["config"],
            hypothesis=v["hypothesis"],
            explanation=v["explanation"],
            critic_justification=why,
            source=v["source"],
            checks=_checks(v),
        )
        for j, (v, why) in enumerate(picks)
    ]
    svc.upsert(task, candidates)
    update["candidates"] = [c.model_dump(mode="json") for c in candidates]
    for v, _ in picks:
        v["selected"] = True
    return Command(goto="approve", update=update)


def _checks(v: Verdict) -> dict[str, str]:
    out = {"code_checks": "passed"}
    pred = v.get("predicted")
    if pred:
        out["breach_probability"] = f"{pred['breach_probability']:.3f}"
        for metric, (mean, lo, hi) in pred.get("lifts", {}).items():
            out[f"predicted_{metric}"] = f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}]"
    return out


def _feedback(verdicts: list[Verdict], actor_error: str | None, got: int, k: int) -> list[str]:
    lines = []
    if actor_error:
        lines.append(f"Your previous answer was unusable: {actor_error}")
    lines.append(f"Only {got} of the {k} needed proposals survived review.")
    counts = Counter(r for v in verdicts for r in v["reasons"])
    for reason, n in counts.most_common(8):
        lines.append(f"{n} proposal(s) rejected: {reason}")
    return lines


def _select(
    svc: Services,
    skill: Skill,
    cands: list[Candidate],
    state: State,
    valid: list[Verdict],
    k: int,
    llm_share: float,
) -> tuple[list[tuple[Verdict, str]], dict[str, int]]:
    """Engine ranking always; the LLM critique reorders when a model is configured."""
    if not valid:
        return [], {}
    # A confirmation arm re-tests the launch candidate; the surrogate critic would refuse it as
    # a repeat, so it is placed first and the rest is ranked without it.
    confirm = [v for v in valid if v["source"] == "confirm"][:1] if k > 1 else []
    fresh = [v for v in valid if v["source"] != "confirm"]
    if not fresh:
        return [(v, "confirmation of the launch candidate") for v in confirm], {}
    ranked = svc.rank(skill, cands, [v["config"] for v in fresh], len(fresh))
    engine_order = [(fresh[i], why) for i, why in ranked]
    model = svc.model("critic")
    usage: dict[str, int] = {}
    order = engine_order
    if model is not None:
        llm_order, usage = _llm_critique(model, state, fresh, k)
        if llm_order:
            chosen = {id(v) for v, _ in llm_order}
            order = llm_order + [(v, w) for v, w in engine_order if id(v) not in chosen]
    cap = max(0, math.floor(llm_share * k + 1e-9))
    picks: list[tuple[Verdict, str]] = [
        (v, "confirmation: re-test the launch candidate before anything ships") for v in confirm
    ]
    llm_taken = 0
    for v, why in order:
        if len(picks) == k:
            break
        if v["source"] == "llm":
            if llm_taken >= cap:
                v["reasons"].append(f"not selected: LLM share cap ({cap} of {k} arms) reached")
                continue
            llm_taken += 1
        picks.append((v, why))
    return picks, usage


def _llm_critique(
    model: Any, state: State, valid: list[Verdict], k: int
) -> tuple[list[tuple[Verdict, str]], dict[str, int]]:
    listing = "\n".join(
        json.dumps(
            {
                "index": i,
                "source": v["source"],
                "delta": v["delta"],
                "hypothesis": v["hypothesis"][:500],
                "prediction": v.get("predicted", {}),
            }
        )
        for i, v in enumerate(valid)
    )
    prompt = CRITIC_PROMPT.format(
        skill=state["prompt"]["skill"],
        history=state["prompt"]["history"],
        proposals=listing,
        k=k,
    )
    try:
        out = with_retry(model.with_structured_output(Critique, include_raw=True)).invoke(
            [HumanMessage(content=prompt)]
        )
    except Exception:  # a failed critique falls back to the engine's ranking
        return [], {}
    usage = usage_of(out.get("raw"))
    parsed = out.get("parsed")
    if not isinstance(parsed, Critique):
        return [], usage
    picks: list[tuple[Verdict, str]] = []
    used: set[int] = set()
    for p in parsed.selected:
        if 0 <= p.index < len(valid) and p.index not in used:
            used.add(p.index)
            picks.append((valid[p.index], p.justification.strip() or "selected by the critic"))
    return picks, usage
