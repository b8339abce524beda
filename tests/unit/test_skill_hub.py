"""SkillHub: versioning, diff, rollback, agent invariants, drafts and drop-in skills."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rectune.domain import (
    FloatParameter,
    LearnedRule,
    MetricSpec,
    RuleEvidence,
    RuleStatus,
)
from rectune.skillhub import (
    Skill,
    SkillError,
    SkillHub,
    SkillInvariantError,
    SkillNotFoundError,
    SkillStatus,
    agent_change_violations,
    shipped_skills_dir,
)


@pytest.fixture
def hub(tmp_path: Path) -> SkillHub:
    return SkillHub.in_workspace(tmp_path)


def _rule(rid: str, param: str = "vf_w_click") -> LearnedRule:
    return LearnedRule(
        id=rid,
        text=f"Raising {param} hurts negative_rate.",
        parameters=[param],
        experiment_ids=["exp-1", "exp-2"],
        evidence=[RuleEvidence(metric="negative_rate", effect=0.02, ci_low=0.01, ci_high=0.03)],
    )


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def _with_param(skill: Skill, name: str, **changes: object) -> Skill:
    params = [
        type(p).model_validate({**p.model_dump(), **changes}) if p.name == name else p
        for p in skill.space
    ]
    return skill.model_copy(
        update={"space": skill.space.model_copy(update={"parameters": tuple(params)})}
    )


def _with_metric(skill: Skill, name: str, **changes: object) -> Skill:
    metrics = [
        MetricSpec.model_validate({**m.model_dump(), **changes}) if m.name == name else m
        for m in skill.metrics
    ]
    return skill.model_copy(update={"metrics": metrics})


def _with_sections(skill: Skill, **changes: str) -> Skill:
    return skill.model_copy(update={"sections": skill.sections.model_copy(update=changes)})


def test_workspace_install_and_versions(hub: SkillHub) -> None:
    assert hub.names() == ["diversity", "value_based_retrieval", "value_fusion"]
    entries = hub.versions("value_fusion")
    assert [e.version for e in entries] == [1] and entries[0].author == "system"
    assert (hub.root / "value_fusion" / ".versions" / "v0001.md").exists()
    assert hub.install_shipped() == []  # idempotent


def test_agent_appends_rules_new_version_with_reason(hub: SkillHub) -> None:
    new = hub.add_rules("value_fusion", [_rule("R-1")], "insight round 3")
    assert new.version == 2 and [r.id for r in new.active_rules] == ["R-1"]
    assert hub.get("value_fusion") == new
    log = hub.versions("value_fusion")
    assert log[-1].reason == "insight round 3" and log[-1].author == "agent"
    diff = hub.diff("value_fusion", 1)
    assert diff.startswith("--- value_fusion/v0001") and "+- id: R-1" in diff
    assert "-version: 1" in diff and "+version: 2" in diff


def test_rollback_writes_new_version_equal_to_old(hub: SkillHub) -> None:
    hub.add_rules("value_fusion", [_rule("R-1")], "learned")
    back = hub.rollback("value_fusion", 1, "rule was wrong")
    assert back.version == 3 and back.learned_rules == []
    v1 = hub.get_version("value_fusion", 1)
    assert back.model_copy(update={"version": 1}) == v1
    assert hub.versions("value_fusion")[-1].rollback_of == 1
    assert [e.version for e in hub.versions("value_fusion")] == [1, 2, 3]


def test_agent_may_retire_rule(hub: SkillHub) -> None:
    hub.add_rules("value_fusion", [_rule("R-1"), _rule("R-2", "vf_w_dwell")], "learned")
    new = hub.retire_rules("value_fusion", {"R-1": "contradicted by exp-9"}, "retire")
    assert [r.id for r in new.active_rules] == ["R-2"]
    assert new.retired_rules[0].retired_reason == "contradicted by exp-9"


def test_agent_may_tighten_soft_bounds(hub: SkillHub) -> None:
    new = hub.tighten_soft_bounds("value_fusion", {"vf_w_click": (0.5, 2.0)}, "narrow")
    p = new.space["vf_w_click"]
    assert isinstance(p, FloatParameter) and p.soft_range == (0.5, 2.0)
    assert (p.low, p.high) == (0.0, 4.0)


# Each forbidden change: (label, edit, fragment expected in the violation list).
FORBIDDEN: list[tuple[str, Callable[[Skill], Skill], str]] = [
    ("widen hard bound", lambda s: _with_param(s, "vf_w_click", high=5.0), "hard bounds"),
    ("narrow hard bound", lambda s: _with_param(s, "vf_w_click", low=0.1), "hard bounds"),
    ("loosen soft bound", lambda s: _with_param(s, "vf_w_click", soft_high=3.5), "soft_high"),
    ("loosen soft low", lambda s: _with_param(s, "vf_w_click", soft_low=0.0), "soft_low"),
    ("edit description", lambda s: _with_param(s, "vf_w_like", description="x"), "description"),
    (
        "loosen guardrail",
        lambda s: _with_metric(s, "negative_rate", guardrail_threshold=0.1),
        "loosen",
    ),
    (
        "tighten guardrail",
        lambda s: _with_metric(s, "negative_rate", guardrail_threshold=0.01),
        "metric specifications",
    ),
    (
        "remove guardrail",
        lambda s: _with_metric(s, "negative_rate", role="secondary", guardrail_threshold=None),
        "loosen or remove",
    ),
    (
        "add guardrail",
        lambda s: s.model_copy(update={"metrics": [*s.metrics, MetricSpec(
            name="serving_cost", role="guardrail", direction="decrease",
            guardrail_threshold=0.05)]}),
        "may not add a guardrail",
    ),
    (
        "drop metric",
        # A metric's declared effect scale goes with it (a scale for an unknown metric is an
        # error in the skill).
        lambda s: s.model_copy(update={
            "metrics": [m for m in s.metrics if m.name != "clicks"],
            "structure": s.structure.model_copy(update={"effect_scales": {
                k: v for k, v in s.structure.effect_scales.items() if k != "clicks"}}),
        }),
        "drop a metric",
    ),
    (
        "edit baseline",
        lambda s: s.model_copy(update={"baseline": {**s.baseline, "vf_w_click": 1.2}}),
        "baseline",
    ),
    ("edit task context", lambda s: _with_sections(s, task_context="new"), "task_context"),
    ("edit tools", lambda s: _with_sections(s, tools="none"), "tools"),
    (
        "edit domain knowledge",
        lambda s: _with_sections(s, domain_knowledge="forget it"),
        "domain_knowledge",
    ),
    (
        "change ab defaults",
        lambda s: s.model_copy(
            update={"ab_defaults": s.ab_defaults.model_copy(update={"days": 3})}
        ),
        "ab_defaults",
    ),
    ("change stage", lambda s: s.model_copy(update={"stage": "re_ranking"}), "stage"),
]


@pytest.mark.parametrize(("label", "edit", "fragment"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_forbidden_agent_change_refused_nothing_written(
    hub: SkillHub, label: str, edit: Callable[[Skill], Skill], fragment: str
) -> None:
    before = _snapshot(hub.root)
    current = hub.get("value_fusion")
    with pytest.raises(SkillInvariantError) as info:
        hub.apply_agent_change("value_fusion", edit(current), label)
    assert any(fragment in v for v in info.value.violations), info.value.violations
    assert "nothing was written" in str(info.value)
    assert _snapshot(hub.root) == before


@pytest.mark.parametrize(("label", "edit", "fragment"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_same_change_allowed_for_humans(
    hub: SkillHub, label: str, edit: Callable[[Skill], Skill], fragment: str
) -> None:
    current = hub.get("value_fusion")
    new = hub.apply_human_change("value_fusion", edit(current), f"person: {label}")
    assert new.version == 2
    assert hub.versions("value_fusion")[-1].author == "human"


def test_violations_are_all_listed(hub: SkillHub) -> None:
    s = hub.get("value_fusion")
    bad = _with_param(s, "vf_w_click", high=5.0).model_copy(
        update={"baseline": {**s.baseline, "vf_w_click": 1.1}}
    )
    bad = _with_metric(bad, "negative_rate", guardrail_threshold=0.2)
    v = agent_change_violations(s, bad)
    assert len(v) == 3


def test_agent_may_not_delete_edit_or_reactivate_rules(hub: SkillHub) -> None:
    s = hub.add_rules("value_fusion", [_rule("R-1"), _rule("R-2", "vf_w_dwell")], "learned")
    deleted = s.model_copy(update={"learned_rules": s.learned_rules[1:]})
    edited = s.model_copy(
        update={"learned_rules": [s.learned_rules[0].model_copy(update={"text": "x"}),
                                  s.learned_rules[1]]}
    )
    reordered = s.model_copy(update={"learned_rules": s.learned_rules[::-1]})
    for bad in (deleted, edited, reordered):
        with pytest.raises(SkillInvariantError):
            hub.apply_agent_change("value_fusion", bad, "bad")
    retired = hub.retire_rules("value_fusion", {"R-1": "wrong"}, "retire")
    again = retired.model_copy(update={"learned_rules": [
        retired.learned_rules[0].model_copy(
            update={"status": RuleStatus.ACTIVE, "retired_reason": None}
        ),
        retired.learned_rules[1],
    ]})
    with pytest.raises(SkillInvariantError, match="re-activated"):
        hub.apply_agent_change("value_fusion", again, "bad")


def test_invalid_skill_is_refused_even_for_humans(hub: SkillHub) -> None:
    s = hub.get("value_fusion")
    bad = s.model_copy(update={"baseline": {**s.baseline, "vf_w_click": 99.0}})
    before = _snapshot(hub.root)
    with pytest.raises(SkillError):
        hub.apply_human_change("value_fusion", bad, "typo")
    assert _snapshot(hub.root) == before


def test_drafts_are_hidden_until_enabled(hub: SkillHub) -> None:
    base = hub.get("value_fusion")
    draft = base.model_copy(
        update={"name": "value_fusion_cold_start", "description": "Fusion tuning for new users."}
    )
    written = hub.propose_draft(draft, ["value_fusion"], "derived from fusion rules")
    assert written.status is SkillStatus.DRAFT and written.derived_from == ["value_fusion"]
    assert "value_fusion_cold_start" not in hub.names()
    assert "value_fusion_cold_start" in hub.names(include_drafts=True)
    enabled = hub.enable("value_fusion_cold_start", "reviewed by Ana")
    assert enabled.status is SkillStatus.ACTIVE and "value_fusion_cold_start" in hub.names()
    with pytest.raises(SkillError, match="active"):
        hub.propose_draft(draft, ["value_fusion"], "again")
    with pytest.raises(SkillError, match="unknown parent"):
        hub.propose_draft(draft.model_copy(update={"name": "x_y"}), ["nope"], "r")


def test_agent_may_not_enable_a_draft(hub: SkillHub) -> None:
    base = hub.get("value_fusion")
    draft = hub.propose_draft(base.model_copy(update={"name": "vf2"}), ["value_fusion"], "r")
    with pytest.raises(SkillInvariantError, match="status"):
        hub.apply_agent_change(
            "vf2", draft.model_copy(update={"status": SkillStatus.ACTIVE}), "sneaky"
        )


def test_dropped_in_skill_folder_works(hub: SkillHub, tmp_path: Path) -> None:
    src = shipped_skills_dir() / "diversity" / "SKILL.md"
    text = src.read_text().replace("name: diversity", "name: creator_boost")
    text = text.replace("# diversity", "# creator_boost")
    (hub.root / "creator_boost").mkdir()
    (hub.root / "creator_boost" / "SKILL.md").write_text(text)
    assert "creator_boost" in hub.names()
    assert hub.versions("creator_boost") == []
    new = hub.add_rules("creator_boost", [_rule("R-1", "div_topic_cap")], "first lesson")
    assert [e.version for e in hub.versions("creator_boost")] == [1, 2]
    assert hub.versions("creator_boost")[0].reason == "initial version found on disk"
    assert new.version == 2


def test_folder_name_must_match(hub: SkillHub) -> None:
    shutil.copytree(hub.root / "diversity", hub.root / "other")
    skills, errors = hub.scan()
    assert len(skills) == 3 and "must equal the folder name" in str(errors[0])


def test_unknown_skill(hub: SkillHub) -> None:
    with pytest.raises(SkillNotFoundError, match="value_fusion"):
        hub.get("nope")


def test_lock_timeout_gives_clear_error(hub: SkillHub) -> None:
    from filelock import FileLock

    slow = SkillHub(hub.root, lock_timeout=0.2)
    with FileLock(str(hub.root / "value_fusion" / ".lock")), pytest.raises(
        SkillError, match="another process"
    ):
        slow.add_rules("value_fusion", [_rule("R-1")], "x")


def test_learning_adds_and_retires_in_one_version(hub: SkillHub) -> None:
    hub.add_rules("value_fusion", [_rule("R-1")], "first")
    before = [e.version for e in hub.versions("value_fusion")]
    new = hub.apply_learning("value_fusion", [_rule("R-2", "vf_w_dwell")], {"R-1": "contradicted"},
                             "round 3: add one, retire one")
    after = [e.version for e in hub.versions("value_fusion")]
    assert after == [*before, before[-1] + 1]
    assert {r.id: r.status for r in new.learned_rules} == {
        "R-1": RuleStatus.RETIRED, "R-2": RuleStatus.ACTIVE
    }


def test_refused_learning_writes_nothing_at_all(hub: SkillHub) -> None:
    hub.add_rules("value_fusion", [_rule("R-1")], "first")
    snap = _snapshot(hub.root)
    with pytest.raises(SkillError, match="no learned rules"):
        hub.apply_learning("value_fusion", [_rule("R-2")], {"R-9": "x"}, "bad retire")
    assert _snapshot(hub.root) == snap  # the valid half was not written either


def test_one_broken_skill_does_not_hide_the_others(hub: SkillHub) -> None:
    shutil.copytree(hub.root / "diversity", hub.root / "broken")
    (hub.root / "broken" / "SKILL.md").write_text("---\nname: [unclosed\n---\n")
    assert hub.names() == ["diversity", "value_based_retrieval", "value_fusion"]
    assert [e.path.parent.name for e in hub.broken() if e.path] == ["broken"]


def test_a_logged_version_that_never_became_current_is_completed_once(hub: SkillHub) -> None:
    """A writer killed between the version log and SKILL.md: the next reader finishes the
    change, and learning the same again adds no version."""
    from rectune.skillhub.versions import VersionStore
    from rectune.skillhub.writer import render_skill

    current = hub.get("value_fusion")
    changed = current.model_copy(
        update={"learned_rules": [_rule("R-1")], "version": current.version + 1}
    )
    store = VersionStore(hub.root / "value_fusion")
    store.record(changed.version, render_skill(changed), "round 1: learned", "agent")
    assert "R-1" not in hub.path("value_fusion").read_text()  # the kill happened here
    again = hub.get("value_fusion")
    assert again.version == changed.version and [r.id for r in again.learned_rules] == ["R-1"]
    assert "R-1" in hub.path("value_fusion").read_text()
    versions = len(hub.versions("value_fusion"))
    hub.apply_learning("value_fusion", [], {}, "nothing new")
    assert len(hub.versions("value_fusion")) == versions
