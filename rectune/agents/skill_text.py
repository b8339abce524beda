"""The skill as text for prompts: context, requirement, metrics, knowledge and rules."""

from __future__ import annotations

from rectune.domain import FloatParameter, IntParameter
from rectune.skillhub.model import Skill

__all__ = ["skill_prompt_text"]


def skill_prompt_text(skill: Skill) -> str:
    """Everything a model needs to know about the task, in a compact Markdown form."""
    params = []
    for p in skill.space:
        bounds = p.describe_bounds()
        soft = ""
        if isinstance(p, FloatParameter | IntParameter) and p.soft_range != (p.low, p.high):
            lo, hi = p.soft_range
            soft = f", recommended [{lo:g}, {hi:g}]"
        params.append(
            f"- `{p.name}` ({p.kind}) allowed {bounds}{soft}; production "
            f"{skill.baseline[p.name]!r}. {p.description}"
        )
    metrics = []
    for m in skill.metrics:
        extra = ""
        if m.guardrail_threshold is not None:
            extra = f"; must not move past {m.guardrail_threshold:+.2%} vs control"
        metrics.append(f"- `{m.name}`: {m.role.value}, should {m.direction.value}{extra}")
    rules = [
        f"- [{r.id}] {r.text} (evidence: experiments {', '.join(r.experiment_ids[:5])}"
        + (f"; enforced: {r.constraint}" if r.constraint else "")
        + ")"
        for r in skill.active_rules
    ]
    s = skill.sections
    return "\n".join(
        [
            f"## Task: {skill.name} ({skill.stage})",
            s.task_context.strip(),
            "## Requirement",
            s.task_requirement.strip(),
            "## Parameters",
            *params,
            "## Metrics",
            s.north_star_metric.strip(),
            *metrics,
            "## Domain knowledge",
            s.domain_knowledge.strip(),
            "## Learned rules",
            *(rules or ["(none yet)"]),
        ]
    )
