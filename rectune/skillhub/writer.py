"""Render a `Skill` back to SKILL.md text; `parse_skill(render_skill(s)) == s`."""

from __future__ import annotations

from typing import Any

import yaml

from rectune.domain.parameters import CategoricalParameter, FloatParameter, IntParameter
from rectune.domain.rules import LearnedRule
from rectune.skillhub.loader import LEARNED_RULES_HEADING
from rectune.skillhub.model import REQUIRED_SECTIONS, Skill

__all__ = ["front_matter", "render_learned_rules", "render_skill"]


class _Dumper(yaml.CSafeDumper):
    """Safe dumper that writes multi-line strings as literal blocks, which diff well."""


def _str_presenter(dumper: Any, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    node: yaml.ScalarNode = dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)
    return node


_Dumper.add_representer(str, _str_presenter)


def front_matter(skill: Skill) -> dict[str, Any]:
    """The structured part of a skill as plain data, in a stable, readable key order."""
    data: dict[str, Any] = {
        "schema_version": skill.schema_version,
        "name": skill.name,
        "description": skill.description,
        "stage": skill.stage,
        "status": skill.status.value,
        "version": skill.version,
    }
    if skill.derived_from:
        data["derived_from"] = list(skill.derived_from)
    data["parameters"] = [_parameter(p) for p in skill.space]
    data["metrics"] = [m.model_dump(mode="json", exclude_none=True) for m in skill.metrics]
    data["baseline"] = dict(skill.baseline)
    data["ab_defaults"] = skill.ab_defaults.model_dump(mode="json")
    if not skill.structure.is_empty:
        data["structure"] = skill.structure.model_dump(mode="json", exclude_defaults=True)
    data["platform"] = skill.platform.model_dump(mode="json")
    data["learned_rules"] = [
        r.model_dump(mode="json", exclude_none=True) for r in skill.learned_rules
    ]
    return data


def _parameter(p: FloatParameter | IntParameter | CategoricalParameter) -> dict[str, Any]:
    raw = p.model_dump(mode="json", exclude_none=True)
    out: dict[str, Any] = {"kind": raw.pop("kind"), "name": raw.pop("name")}
    if raw.get("scale") == "linear":
        del raw["scale"]
    if isinstance(p, IntParameter):
        # Integer knobs read better without a trailing ".0".
        raw = {k: int(v) if isinstance(v, float) else v for k, v in raw.items()}
    out.update(raw)
    return out


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def render_learned_rules(rules: list[LearnedRule]) -> str:
    """The learned rules as a readable Markdown list (the front matter stays the source)."""
    if not rules:
        return "_No learned rules yet._"
    out: list[str] = []
    for r in rules:
        head = f"- **{r.id}** ({r.status.value}, added {r.added_at.date().isoformat()}"
        if r.source_task:
            head += f", from {r.source_task}"
        if r.confirmed_at is not None:
            head += f", confirmed {r.confirmed_at.date().isoformat()}"
            if r.confirmed_round is not None:
                head += f" in round {r.confirmed_round}"
        head += f"): {r.text}"
        if r.constraint is not None:
            head += f" Constraint: `{r.constraint}`."
        for ev in r.evidence:
            head += (
                f" Evidence: {ev.metric} {_pct(ev.effect)} [{_pct(ev.ci_low)}, {_pct(ev.ci_high)}]"
                f" over {ev.n_experiments} experiment(s)."
            )
        head += f" Experiments: {', '.join(r.experiment_ids)}."
        if r.retired_reason:
            head += f" Retired because: {r.retired_reason}"
        out.append(head)
    return "\n".join(out)


def render_skill(skill: Skill) -> str:
    """SKILL.md text for `skill`.

    Example:
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> from rectune.skillhub.loader import parse_skill
        >>> s = SkillHub(shipped_skills_dir()).get("diversity")
        >>> parse_skill(render_skill(s)) == s
        True
    """
    fm = yaml.dump(
        front_matter(skill),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    parts = ["---\n", fm, "---\n\n", f"# {skill.name}\n\n"]
    for heading, field in REQUIRED_SECTIONS.items():
        text = str(getattr(skill.sections, field)).strip()
        parts.append(f"## {heading}\n\n{text}\n\n")
        if field == "domain_knowledge":
            parts.append(
                f"{LEARNED_RULES_HEADING}\n\n"
                "<!-- Generated from `learned_rules` in the front matter; edit it there. -->\n\n"
                f"{render_learned_rules(skill.learned_rules)}\n\n"
            )
    for heading, text in skill.sections.extra.items():
        parts.append(f"## {heading}\n\n{text.strip()}\n\n")
    return "".join(parts).rstrip("\n") + "\n"
