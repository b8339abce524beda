"""The Actor: proposes candidate configurations as deltas over production.

Offline it asks the optimization engine; with a model it asks the LLM too (structured output,
falling back to the XML format) and the Critic later mixes both, with the LLM's share capped.
When the engine's launch recommendation rests on weak evidence, the Actor also proposes to
test it again (source "confirm"), which the Critic lets repeat a tested configuration.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import ACTOR_PROMPT
from rectune.agents.proposals import (
    ProposalBatch,
    ProposalParseError,
    RawProposal,
    parse_xml_proposals,
)
from rectune.agents.services import services
from rectune.config import Context
from rectune.graph.state import State

__all__ = ["actor", "ask_llm_for_proposals"]


def actor(state: State, runtime: Runtime[Context]) -> Command[Literal["critic"]]:
    """Propose `proposals_per_round` candidates (engine, LLM, or both)."""
    ctx = runtime.context
    svc = services(ctx)
    skill = svc.skill(state["task"])
    cands = svc.candidates(state["task"])
    iteration = state.get("critic_iterations", 0)
    n = ctx.proposals_per_round
    seed = ctx.seed * 10_007 + state["round"] * 101 + iteration
    proposals: list[RawProposal] = svc.engine_proposals(skill, cands, n, seed=seed)
    if ctx.confirm_launch and ctx.arms_per_ab > 1:
        confirm = svc.confirmation_proposal(skill, cands)
        if confirm is not None:
            proposals = [confirm, *proposals]
    update: dict[str, Any] = {"critic_iterations": iteration + 1, "actor_error": None}
    model = svc.model("actor")
    if model is not None:
        prompt = ACTOR_PROMPT.format(
            skill=state["prompt"]["skill"],
            history=state["prompt"]["history"],
            retrieved=state["prompt"]["retrieved"],
            surrogate=state["prompt"]["surrogate"],
            steering=state["prompt"]["steering"],
            feedback="\n".join(f"- {f}" for f in state.get("critic_feedback", [])) or "(none)",
            n=n,
            round_no=state["round"],
        )
        llm_props, usage, error = ask_llm_for_proposals(model, prompt)
        update["token_usage"] = usage
        update["actor_error"] = error
        proposals = llm_props + proposals
    update["proposals"] = proposals
    return Command(goto="critic", update=update)


def ask_llm_for_proposals(
    model: Any, prompt: str
) -> tuple[list[RawProposal], dict[str, int], str | None]:
    """Ask the model; return (proposals, token usage, error or None).

    Structured output is tried first; when the provider cannot do it, or returns None, the raw
    text is parsed as XML. An answer with no usable proposal is an error, never an empty list.
    """
    usage: dict[str, int] = {}
    messages = [HumanMessage(content=prompt)]
    try:
        structured = with_retry(model.with_structured_output(ProposalBatch, include_raw=True))
        out = structured.invoke(messages)
        raw = out.get("raw")
        usage = usage_of(raw)
        parsed = out.get("parsed")
        if isinstance(parsed, ProposalBatch) and parsed.proposals:
            return parsed.to_raw("llm"), usage, None
        text = _text_of(raw)
    except NotImplementedError:
        answer = with_retry(model).invoke(messages)
        usage = usage_of(answer)
        text = _text_of(answer)
    except Exception as exc:  # provider errors after retries: the critic loop handles it
        return [], usage, f"the model call failed: {type(exc).__name__}: {exc}"
    try:
        return parse_xml_proposals(text, "llm"), usage, None
    except ProposalParseError as exc:
        return [], usage, f"the model's answer could not be parsed: {exc}"


def _text_of(message: Any) -> str:
    content = getattr(message, "content", "")
    if isinstance(content, list):
        return "".join(c if isinstance(c, str) else str(c.get("text", "")) for c in content)
    return str(content or "")
