"""What every node takes from its run: the ports, the policy settings, models and the thread."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.config import get_config, get_stream_writer

from rectune.agents.models import resolve_model
from rectune.config import Context
from rectune.ports.instances import lookup
from rectune.round.policy import PolicySettings

__all__ = ["chat_model", "current_thread", "idempotency_key", "policy_settings", "progress"]


def policy_settings(ctx: Context) -> PolicySettings:
    """The round policy's knobs from the run's settings."""
    return PolicySettings(
        proposals=ctx.proposals_per_round,
        arms=ctx.arms_per_ab,
        loop_cap=ctx.critic_loop_cap,
        risk_threshold=ctx.risk_threshold,
        llm_share=ctx.llm_share,
        confirm=ctx.confirm_launch,
        single_agent=ctx.single_agent,
        decide=ctx.decision_round,
    )


def chat_model(ctx: Context, role: str) -> BaseChatModel | None:
    """The chat model of `role`, or None for the offline engine."""
    spec = ctx.model_for(role)
    if spec is None:
        return None
    if spec.startswith("instance:"):
        obj: BaseChatModel = lookup(spec)
        return obj
    return resolve_model(spec)


def current_thread() -> str:
    """The checkpoint thread of this run, or a one-off id when there is none."""
    try:
        configurable = get_config().get("configurable", {})
    except RuntimeError:  # called outside a graph run
        configurable = {}
    thread = configurable.get("thread_id")
    return str(thread) if thread else f"run-{uuid.uuid4().hex[:12]}"


def idempotency_key(thread_id: str, task: str, round_no: int) -> str:
    """The launch key of a round: one experiment per thread, task and round."""
    return f"{thread_id}:{task}:r{round_no}"


def progress() -> Callable[[dict[str, Any]], None]:
    """A sink for progress events (the CLI's bars); a no-op outside a streaming run."""
    try:
        writer: Callable[[dict[str, Any]], None] = get_stream_writer()
    except Exception:  # outside a streaming run there is nobody to tell
        return lambda _chunk: None
    return writer
