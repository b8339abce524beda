"""The Actor: proposes candidate configurations as deltas over production.

Offline it asks the engine (through the round policy, which also adds a confirmation draft
when the launch advice rests on weak evidence); with a model it asks the LLM too (structured
output, falling back to the XML format) and the Critic later mixes both, with the LLM's share
capped.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import ACTOR_PROMPT
from rectune.agents.proposals import ProposalBatch, ProposalParseError, parse_xml_proposals
from rectune.agents.runtime import chat_model, policy_settings
from rectune.config import Context
from rectune.domain import Degradation, Draft
from rectune.ports import observations_of, ports_for
from rectune.round import policy
from rectune.round.codec import RoundData, decode, encode
from rectune.round.state import State

__all__ = ["actor", "ask_llm_for_proposals"]


def actor(state: State, runtime: Runtime[Context]) -> Command[Literal["critic"]]:
    """Draft `proposals_per_round` candidates (engine, LLM, or both)."""
    ctx = runtime.context
    ports = ports_for(ctx)
    data = decode(state)
    skill = ports.skills.get(data.task)
    cands = ports.journal.candidates(data.task)
    history, _ = observations_of(cands)
    iteration = data.critic_iterations
    seed = policy.draft_seed(ctx.seed, data.round, iteration)
    # Configurations queued or tested by other rounds (a concurrent round of the same task
    # has no results yet): the engine steers around them instead of drafting duplicates the
    # Critic would have to drop.
    taken, _ = policy.tested_keys(cands, skill.metrics, exclude_round=data.round)
    drafts = policy.draft(
        ports.engine(skill), history, policy_settings(ctx), seed=seed, exclude=sorted(taken)
    )
    fields: dict[str, Any] = {"critic_iterations": iteration + 1, "actor_error": None}
    model = chat_model(ctx, "actor")
    if model is not None:
        llm_drafts, usage, error = ask_llm_for_proposals(model, _prompt(data, ctx))
        fields |= {"token_usage": usage, "actor_error": error}
        if error:
            fields["degraded"] = [
                Degradation(where="actor", what=f"{error}; the engine's drafts stand in")
            ]
        drafts = [*llm_drafts, *drafts]
    return Command(goto="critic", update=encode(proposals=drafts, **fields))


def _prompt(data: RoundData, ctx: Context) -> str:
    p = data.prompt
    return ACTOR_PROMPT.format(
        skill=p.get("skill", ""),
        history=p.get("history", ""),
        retrieved=p.get("retrieved", ""),
        surrogate=p.get("surrogate", ""),
        steering=p.get("steering", "(none)"),
        feedback="\n".join(f"- {f}" for f in data.critic_feedback) or "(none)",
        n=ctx.proposals_per_round,
        round_no=data.round,
    )


def ask_llm_for_proposals(
    model: Any, prompt: str
) -> tuple[list[Draft], dict[str, int], str | None]:
    """Ask the model; return (drafts, token usage, error or None).

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
            return parsed.to_drafts("llm"), usage, None
        text = _text_of(raw)
    except NotImplementedError:
        try:
            answer = with_retry(model).invoke(messages)
        except Exception as exc:  # provider errors after retries: the critic loop handles it
            return [], usage, f"the model call failed: {type(exc).__name__}: {exc}"
        usage = usage_of(answer)
        text = _text_of(answer)
    except Exception as exc:  # provider errors after retries: the critic loop handles it
        return [], usage, f"the model call failed: {type(exc).__name__}: {exc}"
    try:
        return parse_xml_proposals(text, "llm"), usage, None
    except ProposalParseError as exc:
        return [], usage, f"the model's answer was discarded: {exc}"


def _text_of(message: Any) -> str:
    content = getattr(message, "content", "")
    if isinstance(content, list):
        return "".join(c if isinstance(c, str) else str(c.get("text", "")) for c in content)
    return str(content or "")
