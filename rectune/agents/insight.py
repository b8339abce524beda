"""The Insight agent: deterministic statistics per task (map), then a cross-task reduce with a
model-written summary when a model is configured."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import INSIGHT_PROMPT
from rectune.agents.runtime import chat_model
from rectune.config import Context
from rectune.domain import Degradation
from rectune.ports import ports_for
from rectune.round.codec import decode, encode
from rectune.round.state import State

__all__ = ["insight_reduce", "insight_task"]


def insight_task(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Map step: the findings of one task's journal (sent with ``{"task": name}``).

    One task's trouble (its journal or skill no longer reads) must not stop the round that
    is being recorded for another task; it is reported as a degradation.
    """
    task = decode(state).task
    try:
        findings = ports_for(runtime.context).insight.findings(task)
    except Exception as exc:  # another task's data: degrade, never fail this round
        return encode(
            degraded=[
                Degradation(where="insight", what=f"task {task} skipped: {type(exc).__name__}: "
                            f"{exc}")
            ]
        )
    return encode(findings=findings)


def insight_reduce(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Reduce step: cross-task patterns and a summary for people and the Skill agent."""
    ctx = runtime.context
    insight = ports_for(ctx).insight
    data = decode(state)
    cross = insight.cross_task(data.findings)
    summary = insight.summary(data.findings, cross)
    # Cross-task findings join the list so that the Skill agent gates them like the others.
    fields: dict[str, Any] = {"insight_summary": summary, "findings": cross}
    model = chat_model(ctx, "insight")
    if model is not None and data.findings:
        listing = json.dumps(
            [f.model_dump(mode="json") for f in data.findings[:40]], default=str, indent=1
        )
        try:
            answer = with_retry(model).invoke(
                [HumanMessage(content=INSIGHT_PROMPT.format(findings=listing))]
            )
        except Exception as exc:  # the deterministic summary stands on its own
            fields["degraded"] = [
                Degradation(
                    where="insight",
                    what=f"the model's summary failed ({type(exc).__name__}); statistics only",
                )
            ]
        else:
            fields["token_usage"] = usage_of(answer)
            text = answer.content if isinstance(answer.content, str) else str(answer.content)
            if text.strip():
                fields["insight_summary"] = f"{text.strip()}\n\n(statistics)\n{summary}"
    return encode(**fields)
