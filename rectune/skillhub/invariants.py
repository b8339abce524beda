"""What an agent may change in a skill, checked in code.

People own the hard bounds, the metrics and guardrails, the baseline, the A/B defaults, the
structure the optimizer relies on (effect scales, scale-invariant groups, monotone effects,
deterministic metrics), the platform template and every hand-written section. An agent may
only append learned rules, refresh the evidence of active ones (more supporting experiments,
a new estimate, when it was confirmed), retire active ones, and tighten soft bounds (inside the
current soft box, hence inside the hard bounds).
"""

from __future__ import annotations

from rectune.domain.parameters import CategoricalParameter, FloatParameter, IntParameter
from rectune.domain.rules import LearnedRule, RuleStatus
from rectune.skillhub.model import Skill

__all__ = ["agent_change_violations"]

_Param = FloatParameter | IntParameter | CategoricalParameter

# What re-deriving a rule may change: its support and estimate, never its statement.
_EVIDENCE_FIELDS = {"experiment_ids", "evidence", "confirmed_round", "confirmed_at"}


def agent_change_violations(old: Skill, new: Skill) -> list[str]:
    """Every rule `new` breaks as an agent edit of `old`; empty means the change is allowed.

    The `version` field is ignored: the hub assigns it.

    Example:
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> s = SkillHub(shipped_skills_dir()).get("diversity")
        >>> agent_change_violations(s, s.model_copy(update={"baseline": {}}))
        ['baseline: agents may not edit the production baseline']
    """
    v: list[str] = []
    for field in ("name", "description", "stage", "status", "derived_from"):
        if getattr(old, field) != getattr(new, field):
            v.append(f"{field}: agents may not change it")
    if old.baseline != new.baseline:
        v.append("baseline: agents may not edit the production baseline")
    if old.ab_defaults != new.ab_defaults:
        v.append("ab_defaults: agents may not change the A/B defaults")
    v.extend(_structure_violations(old, new))
    if old.platform != new.platform:
        v.append("platform: agents may not change the platform or its template")
    v.extend(_section_violations(old, new))
    v.extend(_parameter_violations(old, new))
    v.extend(_metric_violations(old, new))
    v.extend(_rule_violations(old, new))
    return v


def _structure_violations(old: Skill, new: Skill) -> list[str]:
    """The structure is a statement of fact by people; an agent may not add, edit or drop it."""
    v: list[str] = []
    for field in ("effect_scales", "scale_invariant", "monotone", "deterministic"):
        if getattr(old.structure, field) != getattr(new.structure, field):
            v.append(
                f"structure.{field}: set by people (the optimizer treats it as fact); "
                "agents may not change it"
            )
    return v


def _section_violations(old: Skill, new: Skill) -> list[str]:
    v: list[str] = []
    for field in ("task_context", "task_requirement", "north_star_metric", "tools"):
        if getattr(old.sections, field) != getattr(new.sections, field):
            v.append(f"sections.{field}: human-written text; agents may not edit it")
    if old.sections.domain_knowledge != new.sections.domain_knowledge:
        v.append(
            "sections.domain_knowledge: the hand-written part is read-only for agents; "
            "add learned rules instead"
        )
    if old.sections.extra != new.sections.extra:
        v.append("sections.extra: human-written sections; agents may not add, edit or remove them")
    return v


def _parameter_violations(old: Skill, new: Skill) -> list[str]:
    v: list[str] = []
    if old.space.names != new.space.names:
        v.append(
            f"parameters: agents may not add, remove or reorder parameters "
            f"(was {old.space.names}, now {new.space.names})"
        )
    for p_old in old.space:
        if p_old.name not in new.space:
            continue
        p_new = new.space[p_old.name]
        v.extend(_one_parameter(p_old, p_new))
    return v


def _one_parameter(p_old: _Param, p_new: _Param) -> list[str]:
    name = f"parameters.{p_old.name}"
    if p_old.kind != p_new.kind:
        return [f"{name}.kind: agents may not change a parameter's type"]
    v: list[str] = []
    if p_old.description != p_new.description:
        v.append(f"{name}.description: human-written; agents may not edit it")
    if isinstance(p_old, CategoricalParameter) and isinstance(p_new, CategoricalParameter):
        if p_old.choices != p_new.choices:
            v.append(f"{name}.choices: hard bounds are immutable for agents")
        old_soft = set(p_old.soft_choices or p_old.choices)
        new_soft = set(p_new.soft_choices or p_new.choices)
        if not new_soft <= old_soft:
            v.append(
                f"{name}.soft_choices: may only shrink; {sorted(new_soft - old_soft)} "
                "are not in the current soft choices"
            )
        return v
    assert isinstance(p_old, FloatParameter | IntParameter)
    assert isinstance(p_new, FloatParameter | IntParameter)
    if (p_old.low, p_old.high) != (p_new.low, p_new.high):
        v.append(
            f"{name}: hard bounds are immutable for agents "
            f"([{p_old.low:g}, {p_old.high:g}] -> [{p_new.low:g}, {p_new.high:g}])"
        )
    if p_old.scale != p_new.scale:
        v.append(f"{name}.scale: agents may not change it")
    old_lo, old_hi = p_old.soft_range
    new_lo, new_hi = p_new.soft_range
    if new_lo < old_lo:
        v.append(f"{name}.soft_low: may only tighten; {new_lo:g} is below the current {old_lo:g}")
    if new_hi > old_hi:
        v.append(f"{name}.soft_high: may only tighten; {new_hi:g} is above the current {old_hi:g}")
    return v


def _metric_violations(old: Skill, new: Skill) -> list[str]:
    v: list[str] = []
    old_m = {m.name: m for m in old.metrics}
    new_m = {m.name: m for m in new.metrics}
    for name in old_m.keys() - new_m.keys():
        v.append(f"metrics.{name}: agents may not drop a metric")
    for name in sorted(new_m.keys() - old_m.keys()):
        kind = "guardrail" if new_m[name].guardrail_threshold is not None else "metric"
        v.append(f"metrics.{name}: agents may not add a {kind}; metrics are set by people")
    for name in sorted(old_m.keys() & new_m.keys()):
        a, b = old_m[name], new_m[name]
        if a == b:
            continue
        if b.is_looser_than(a):
            v.append(
                f"metrics.{name}: agents may not loosen or remove a guardrail "
                f"(threshold {a.guardrail_threshold} -> {b.guardrail_threshold})"
            )
        elif a.role != b.role or a.direction != b.direction or a.priority != b.priority:
            v.append(
                f"metrics.{name}: agents may not change a metric's role, direction or priority"
            )
        else:
            v.append(f"metrics.{name}: agents may not change metric specifications")
    return v


def _rule_violations(old: Skill, new: Skill) -> list[str]:
    v: list[str] = []
    new_by_id = {r.id: r for r in new.learned_rules}
    old_ids = [r.id for r in old.learned_rules]
    for r_old in old.learned_rules:
        r_new = new_by_id.get(r_old.id)
        if r_new is None:
            v.append(f"learned_rules.{r_old.id}: rules are retired, never deleted")
            continue
        if r_old.status is RuleStatus.RETIRED and r_new.status is RuleStatus.ACTIVE:
            v.append(f"learned_rules.{r_old.id}: a retired rule may not be re-activated")
        fixed = {"status", "retired_reason"} | _EVIDENCE_FIELDS
        unchanged = r_old.model_dump(exclude=fixed) == r_new.model_dump(exclude=fixed)
        if not unchanged:
            v.append(
                f"learned_rules.{r_old.id}: an existing rule may only be retired or have its "
                "evidence refreshed, not edited"
            )
        elif r_old.model_dump(include=_EVIDENCE_FIELDS) != r_new.model_dump(
            include=_EVIDENCE_FIELDS
        ):
            v.extend(_evidence_violations(r_old.id, r_old, r_new))
        if r_new.status is RuleStatus.RETIRED and not r_new.retired_reason:
            v.append(f"learned_rules.{r_old.id}: retiring a rule needs a retired_reason")
        if (
            r_old.status is RuleStatus.RETIRED
            and r_new.status is RuleStatus.RETIRED
            and r_old.retired_reason != r_new.retired_reason
        ):
            v.append(f"learned_rules.{r_old.id}: the reason of a retired rule is final")
    kept = [r.id for r in new.learned_rules if r.id in set(old_ids)]
    if kept != [i for i in old_ids if i in new_by_id]:
        v.append("learned_rules: existing rules must keep their order; new rules are appended")
    appended = [r.id for r in new.learned_rules[len(kept) :]]
    if [r.id for r in new.learned_rules[: len(kept)]] != kept or set(appended) & set(old_ids):
        v.append("learned_rules: new rules must be appended after the existing ones")
    return v


def _evidence_violations(rid: str, old: LearnedRule, new: LearnedRule) -> list[str]:
    """A refresh of a rule's evidence: only of an active rule, never losing support."""
    v: list[str] = []
    if old.status is not RuleStatus.ACTIVE or new.status is not RuleStatus.ACTIVE:
        v.append(f"learned_rules.{rid}: only an active rule's evidence may be refreshed")
    lost = sorted(set(old.experiment_ids) - set(new.experiment_ids))
    if lost:
        v.append(f"learned_rules.{rid}: supporting experiments may only be added (lost {lost})")
    if new.confirmed_at is None:
        v.append(f"learned_rules.{rid}: refreshed evidence needs confirmed_at")
    return v
