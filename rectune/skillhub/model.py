"""The `Skill`: everything the agents need to tune one task, as one validated object."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rectune.domain.configs import Config
from rectune.domain.errors import ConfigError, SpecError
from rectune.domain.metrics import MetricRole, MetricSpec, find_metric, with_role
from rectune.domain.parameters import SearchSpace
from rectune.domain.rules import LearnedRule, RuleStatus
from rectune.domain.structure import TaskStructure
from rectune.skillhub.template import CONTEXT_PLACEHOLDERS, placeholders

__all__ = [
    "REQUIRED_SECTIONS",
    "SKILL_SCHEMA_VERSION",
    "ABDefaults",
    "PlatformSpec",
    "Skill",
    "SkillSections",
    "SkillStatus",
]

SKILL_SCHEMA_VERSION: Literal[1] = 1

REQUIRED_SECTIONS: dict[str, str] = {
    "Task Context": "task_context",
    "Task Requirement": "task_requirement",
    "North Star Metric": "north_star_metric",
    "Domain Knowledge": "domain_knowledge",
    "Tools": "tools",
}
"""Markdown heading -> field of `SkillSections`, in the order they are written."""

_NAME = r"^[a-z][a-z0-9_]*$"


class SkillStatus(StrEnum):
    """Whether a skill is in use. Drafts wait for a person to enable them."""

    ACTIVE = "active"
    DRAFT = "draft"


class ABDefaults(BaseModel):
    """How the task's A/B tests are run unless a run overrides it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    traffic_per_arm: float = Field(default=0.05, gt=0.0, le=0.5)
    days: int = Field(default=7, ge=1)
    min_detectable_effect: float = Field(
        default=0.01, gt=0.0, description="relative lift the test should detect"
    )
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    power: float = Field(default=0.8, gt=0.0, lt=1.0)


class PlatformSpec(BaseModel):
    """Which platform runs the task and how its config file is produced from a configuration.

    `template` is any JSON value; see `rectune.skillhub.template` for the placeholder rules.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="sim", min_length=1)
    config_file: str = Field(default="{{task}}__{{arm}}.json", min_length=1)
    format: Literal["json"] = "json"
    template: dict[str, Any]


class SkillSections(BaseModel):
    """The Markdown text of a skill. `domain_knowledge` is the human-written part only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_context: str = Field(min_length=1)
    task_requirement: str = Field(min_length=1)
    north_star_metric: str = Field(min_length=1)
    domain_knowledge: str = Field(min_length=1)
    tools: str = Field(min_length=1)
    extra: dict[str, str] = Field(
        default_factory=dict, description="further `##` sections, kept verbatim and in order"
    )


class Skill(BaseModel):
    """A validated skill.

    Example:
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> skill = SkillHub(shipped_skills_dir()).get("diversity")
        >>> skill.stage, skill.primary_metrics[0].name
        ('re_ranking', 'topic_diversity')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SKILL_SCHEMA_VERSION
    name: str = Field(pattern=_NAME)
    description: str = Field(min_length=1)
    stage: str = Field(min_length=1)
    status: SkillStatus = SkillStatus.ACTIVE
    version: int = Field(default=1, ge=1)
    derived_from: list[str] = Field(default_factory=list)
    space: SearchSpace
    metrics: list[MetricSpec] = Field(min_length=1)
    baseline: Config
    ab_defaults: ABDefaults = Field(default_factory=ABDefaults)
    structure: TaskStructure = Field(
        default_factory=TaskStructure,
        description="optional, human-set facts about the response surface the optimizer uses",
    )
    platform: PlatformSpec
    learned_rules: list[LearnedRule] = Field(default_factory=list)
    sections: SkillSections

    @model_validator(mode="after")
    def _consistent(self) -> Skill:
        for problem in skill_problems(self):
            raise SpecError(f"skill {self.name!r}: field {problem[0]!r}: {problem[1]}")
        return self

    @property
    def active_rules(self) -> list[LearnedRule]:
        """Learned rules in force, in the order they were added."""
        return [r for r in self.learned_rules if r.status is RuleStatus.ACTIVE]

    @property
    def retired_rules(self) -> list[LearnedRule]:
        """Learned rules withdrawn by later evidence."""
        return [r for r in self.learned_rules if r.status is RuleStatus.RETIRED]

    @property
    def primary_metrics(self) -> list[MetricSpec]:
        """Primary metrics, most important first."""
        return with_role(self.metrics, MetricRole.PRIMARY)

    @property
    def secondary_metrics(self) -> list[MetricSpec]:
        """Secondary metrics, most important first."""
        return with_role(self.metrics, MetricRole.SECONDARY)

    @property
    def guardrails(self) -> list[MetricSpec]:
        """Guardrail metrics."""
        return with_role(self.metrics, MetricRole.GUARDRAIL)

    def metric(self, name: str) -> MetricSpec:
        """The metric called `name`."""
        return find_metric(self.metrics, name, f"skill {self.name!r}")

    @property
    def task(self) -> str:
        """The task a skill tunes carries the skill's name."""
        return self.name

    def section_text(self, heading: str) -> str:
        """The text of a section by its Markdown heading (e.g. ``"Task Context"``)."""
        field = REQUIRED_SECTIONS.get(heading)
        if field is not None:
            return str(getattr(self.sections, field))
        return self.sections.extra[heading]


def skill_problems(skill: Skill) -> list[tuple[str, str]]:
    """Cross-field problems of a skill as ``(field, problem)`` pairs; empty when consistent."""
    problems: list[tuple[str, str]] = []
    names = [m.name for m in skill.metrics]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(("metrics", f"metric {dup!r} is listed more than once"))
    if not any(m.role is MetricRole.PRIMARY for m in skill.metrics):
        problems.append(("metrics", "at least one metric needs role 'primary'"))
    for key in skill.baseline:
        if key not in skill.space:
            problems.append(
                (f"baseline.{key}", f"unknown parameter; known parameters: {skill.space.names}")
            )
    for p in skill.space:
        if p.name not in skill.baseline:
            problems.append(
                (f"baseline.{p.name}", "missing; the baseline must set every parameter")
            )
        else:
            try:
                p.validate_value(skill.baseline[p.name])
            except ConfigError as exc:
                problems.append((f"baseline.{p.name}", f"{exc.value!r} is not {exc.allowed}"))
    problems.extend(skill.structure.problems(skill.space, skill.metrics, skill.baseline))
    ids = [r.id for r in skill.learned_rules]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(("learned_rules", f"rule id {dup!r} is used more than once"))
    for i, rule in enumerate(skill.learned_rules):
        for pname in rule.parameters:
            if pname not in skill.space:
                problems.append(
                    (f"learned_rules[{i}].parameters", f"unknown parameter {pname!r}")
                )
        if rule.constraint is not None and rule.constraint.parameter not in skill.space:
            problems.append(
                (
                    f"learned_rules[{i}].constraint.parameter",
                    f"unknown parameter {rule.constraint.parameter!r}",
                )
            )
    used = placeholders(skill.platform.template) | placeholders(skill.platform.config_file)
    allowed = set(skill.space.names) | CONTEXT_PLACEHOLDERS
    for unknown in sorted(used - allowed):
        problems.append(
            (
                "platform.template",
                f"placeholder {{{{{unknown}}}}} is neither a parameter nor one of "
                f"{sorted(CONTEXT_PLACEHOLDERS)}",
            )
        )
    if "config_json" not in used:
        # Without every knob in the file the platform would silently run production values.
        for missing in [n for n in skill.space.names if n not in used]:
            problems.append(
                ("platform.template", f"parameter {missing!r} never appears in the template")
            )
    for heading in skill.sections.extra:
        if not re.fullmatch(r"[^\n#]+", heading):
            problems.append(("sections", f"invalid section heading {heading!r}"))
    return problems
