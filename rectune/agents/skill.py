"""The Skill agent: turns evidence-gated findings into learned rules in the skill.

Every change goes through the skillhub's invariants (append/retire rules, tighten soft bounds
only); a refused change is reported in the state and nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel

from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import SKILL_PROMPT
from rectune.agents.services import services
from rectune.config import Context
from rectune.domain import LearnedRule
from rectune.graph.state import State

__all__ = ["skill"]


class RuleText(BaseModel):
    """A rewritten rule text."""

    id: str
    text: str


class RuleTexts(BaseModel):
    """The Skill model's structured answer."""

    rules: list[RuleText]


def skill(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Add and retire rules of this round's task, write a new skill version, reindex."""
    ctx = runtime.context
    svc = services(ctx)
    task = state["task"]
    new_rules, retire_ids = svc.rules_from_findings(task, state.get("findings", []))
    update: dict[str, Any] = {}
    model = svc.model("skill")
    if model is not None and new_rules:
        new_rules, usage = _polish(model, new_rules)
        update["token_usage"] = usage
    error = svc.apply_rules(task, new_rules, retire_ids, round_no=state["round"])
    svc.reindex(task)
    update["learned_rules"] = [] if error else [r.model_dump(mode="json") for r in new_rules]
    update["retired_rules"] = [] if error else sorted(retire_ids)
    if state.get("status") in (None, "running"):
        update["status"] = "completed"
    if error:
        update["error"] = f"skill update refused: {error}"
    return update


def _polish(model: Any, rules: list[LearnedRule]) -> tuple[list[LearnedRule], dict[str, int]]:
    listing = json.dumps(
        [
            {"id": r.id, "text": r.text, "evidence": [e.model_dump() for e in r.evidence]}
            for r in rules
        ],
        indent=1,
    )
    try:
        out = with_retry(model.with_structured_output(RuleTexts, include_raw=True)).invoke(
            [HumanMessage(content=SKILL_PROMPT.format(rules=listing))]
        )
    except Exception:  # keep the statistical wording
        return rules, {}
    parsed = out.get("parsed")
    usage = usage_of(out.get("raw"))
    if not isinstance(parsed, RuleTexts):
        return rules, usage
    texts = {r.id: r.text.strip() for r in parsed.rules if r.text.strip()}
    return [r.model_copy(update={"text": texts.get(r.id, r.text)}) for r in rules], usage
