"""The Insight agent: deterministic statistics per task (map), then a cross-task reduce with an
LLM-written summary when a model is configured."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import INSIGHT_PROMPT
from rectune.agents.services import services
from rectune.config import Context
from rectune.graph.state import State

__all__ = ["insight_reduce", "insight_task"]


def insight_task(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Map step: the findings of one task's journal (sent with ``{"task": name}``)."""
    svc = services(runtime.context)
    findings = svc.findings(state["task"])
    return {"findings": findings}


def insight_reduce(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Reduce step: cross-task patterns and a summary for people and the Skill agent."""
    ctx = runtime.context
    svc = services(ctx)
    findings = state.get("findings", [])
    cross = svc.cross_task(findings)
    summary = svc.findings_text(findings, cross)
    # Cross-task findings join the list so that the Skill agent gates them like the others.
    update: dict[str, Any] = {"insight_summary": summary, "findings": cross}
    model = svc.model("insight")
    if model is not None and findings:
        listing = json.dumps(findings[:40], default=str, indent=1)
        try:
            answer = with_retry(model).invoke(
                [HumanMessage(content=INSIGHT_PROMPT.format(findings=listing))]
            )
            update["token_usage"] = usage_of(answer)
            text = answer.content if isinstance(answer.content, str) else str(answer.content)
            if text.strip():
                update["insight_summary"] = f"{text.strip()}\n\n(statistics)\n{summary}"
        except Exception:  # the deterministic summary stands on its own
            pass
    return update
