"""The Skill agent: turns evidence-gated findings into learned rules in the skill.

Every change goes through the skillhub's invariants (append/retire rules, tighten soft bounds
only) as one new version; a refused change is reported and nothing is written.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel

from rectune.agents.models import usage_of, with_retry
from rectune.agents.prompts import SKILL_PROMPT
from rectune.agents.record import round_record
from rectune.agents.runtime import chat_model
from rectune.config import Context
from rectune.domain import Degradation, LearnedRule
from rectune.ports import ports_for
from rectune.ports.insight import Learning
from rectune.round.codec import decode, encode
from rectune.round.state import State

__all__ = ["skill"]


class RuleText(BaseModel):
    """A rewritten rule text."""

    id: str
    text: str


class RuleTexts(BaseModel):
    """The Skill model's structured answer."""

    rules: list[RuleText]


def skill(state: State, runtime: Runtime[Context]) -> Command[Literal["__end__"]]:
    """Add, re-confirm and retire rules of this round's task as one skill version (none when
    nothing changed), reindex, finish.

    A rule the skill already holds is never added again: when this round's findings re-derive
    it with new supporting experiments its evidence is refreshed in place (see
    `rectune.memory.insight_stats.rule_changes`)."""
    ctx = runtime.context
    ports = ports_for(ctx)
    data = decode(state)
    proposed = ports.insight.proposed_learning(data.task, data.findings, round_no=data.round)
    fields: dict[str, Any] = {}
    degraded: list[Degradation] = []
    model = chat_model(ctx, "skill")
    if model is not None and proposed.add:
        rules, usage, wording = _polish(model, proposed.add)
        proposed = Learning(add=rules, retire=proposed.retire, update=proposed.update)
        fields["token_usage"] = usage
        if wording:
            degraded.append(Degradation(where="skill", what=wording))
    learned = ports.insight.apply(data.task, proposed, round_no=data.round)
    if learned.refused:
        degraded.append(Degradation(where="skill", what=f"update refused: {learned.refused}"))
    skill_now = ports.skills.get(data.task)
    failure = ports.knowledge.reindex(skill_now, ports.journal.candidates(data.task))
    if failure is not None:
        degraded.append(failure)
    fields |= {
        "learned_rules": learned.add if learned.changed else [],
        "retired_rules": sorted(learned.retire) if learned.changed else [],
        "degraded": degraded,
    }
    done = data.model_copy(
        update={
            "learned_rules": fields["learned_rules"],
            "retired_rules": fields["retired_rules"],
            "degraded": [*data.degraded, *degraded],
        }
    )
    record = round_record(done).model_copy(update={"new_skill_version": learned.version})
    ports.journal.finish_round(data.task, record)
    return Command(goto="__end__", update=encode(**fields))


def _polish(
    model: Any, rules: list[LearnedRule]
) -> tuple[list[LearnedRule], dict[str, int], str | None]:
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
    except Exception as exc:  # keep the statistical wording
        return rules, {}, f"the model's rule wording failed ({type(exc).__name__}); kept ours"
    parsed = out.get("parsed")
    usage = usage_of(out.get("raw"))
    if not isinstance(parsed, RuleTexts):
        return rules, usage, "the model's rule wording could not be parsed; kept ours"
    texts = {r.id: r.text.strip() for r in parsed.rules if r.text.strip()}
    polished = [r.model_copy(update={"text": texts.get(r.id, r.text)}) for r in rules]
    return polished, usage, None
