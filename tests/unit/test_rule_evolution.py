"""Re-derived rules: one rule per statement, whose evidence grows; the history stays honest."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rectune.domain import LearnedRule, MetricRole, RuleStatus
from rectune.memory.insight_stats import Finding, FindingKind, findings_to_rules, rule_changes
from rectune.ports.insight import InsightPort
from rectune.skillhub import SkillHub, SkillInvariantError, agent_change_violations

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 8, tzinfo=UTC)
DELTA = {"div_mmr_lambda": 0.17, "div_topic_cap": 6}


def _win(exps: list[str], effect: float = 0.03) -> Finding:
    return Finding(
        kind=FindingKind.REPLICATED_WIN, task="diversity", parameters=sorted(DELTA),
        metric="topic_diversity", metric_role=MetricRole.PRIMARY, effect=effect,
        std_error=0.004, ci_low=effect - 0.008, ci_high=effect + 0.008, good=True,
        experiment_ids=exps, n_experiments=len(exps), significant=False, replicated=True,
        delta=dict(DELTA), text=f"In diversity, the configuration {DELTA} won.",
    )


def _sens(exps: list[str], effect: float) -> Finding:
    return Finding(
        kind=FindingKind.SENSITIVITY, task="diversity", parameters=["div_mmr_lambda"],
        metric="topic_diversity", metric_role=MetricRole.PRIMARY, effect=effect,
        std_error=0.002, ci_low=effect - 0.006, ci_high=effect + 0.006, good=effect > 0,
        slope_sign=1 if effect > 0 else -1, experiment_ids=exps, n_experiments=len(exps),
        significant=True, replicated=False, text=f"div_mmr_lambda slope {effect:+.3f}.",
    )


def test_the_same_win_rederived_is_not_added_again() -> None:
    """The bug: the benchmark's graph appended R-win-...-na, -na-2, ... every round."""
    first = rule_changes([_win(["e1", "e2"])], [], now=T0, round_no=2)
    assert len(first.new) == 1 and not first.update and not first.retire
    again = rule_changes([_win(["e1", "e2"])], first.new, now=T1, round_no=3)
    assert again == ([], {}, [])  # nothing new: no change at all (so no skill version)


def test_a_win_retested_in_a_new_experiment_updates_its_evidence() -> None:
    rule = rule_changes([_win(["e1", "e2"])], [], now=T0, round_no=2).new[0]
    changes = rule_changes([_win(["e1", "e2", "e5"], 0.032)], [rule], now=T1, round_no=5)
    assert changes.new == [] and changes.retire == {}
    [fresh] = changes.update
    assert fresh.id == rule.id and fresh.text == rule.text and fresh.added_at == rule.added_at
    assert fresh.experiment_ids == ["e1", "e2", "e5"]
    assert fresh.evidence[0].n_experiments == 3 and fresh.evidence[0].effect == 0.032
    assert (fresh.confirmed_round, fresh.confirmed_at) == (5, T1)


def test_a_win_learned_under_the_old_experiment_hash_id_is_recognised() -> None:
    old_id = "R-win-cfg" + hashlib.sha256(b"e1|e2").hexdigest()[:8] + "-topic_diversity-na"
    legacy = rule_changes([_win(["e1", "e2"])], [], now=T0).new[0].model_copy(
        update={"id": old_id}
    )
    # The duplicates the old ids produced came from exactly this: the same experiments again.
    assert rule_changes([_win(["e1", "e2"])], [legacy], now=T1) == ([], {}, [])


def test_knob_rules_update_and_still_retire_and_add() -> None:
    [pos] = findings_to_rules([_sens(["e1", "e2"], 0.02)], [], now=T0)[0]
    grown = rule_changes([_sens(["e1", "e2", "e3"], 0.025)], [pos], now=T1, round_no=4)
    assert grown.new == [] and [r.id for r in grown.update] == [pos.id]
    # A significant opposite effect retires the rule (no refresh) and adds the opposite one.
    flipped = rule_changes([_sens(["e4", "e5"], -0.03)], [pos], now=T1, round_no=4)
    assert list(flipped.retire) == [pos.id] and flipped.update == []
    assert [r.id for r in flipped.new] == ["R-sens-div_mmr_lambda-topic_diversity-neg"]
    # A genuinely new statement is still added.
    other = _win(["e1", "e2"])
    [added] = rule_changes([other], [pos]).new
    assert added.id.startswith("R-win-cfg")


def test_hub_refreshes_evidence_as_one_version_and_refuses_other_edits(tmp_path: Path) -> None:
    hub = SkillHub.in_workspace(tmp_path)
    port = InsightPort(journal=None, skills=hub)  # type: ignore[arg-type]
    learned = port.apply("diversity", port.proposed_learning(
        "diversity", [_win(["e1", "e2"])], round_no=2), round_no=2)
    assert learned.version == 2
    same = port.apply("diversity", port.proposed_learning(
        "diversity", [_win(["e1", "e2"])], round_no=3), round_no=3)
    assert same.version is None and not same.changed  # re-confirmation alone: no version
    more = port.proposed_learning("diversity", [_win(["e1", "e2", "e7"])], round_no=4)
    assert more.add == [] and len(more.update) == 1
    done = port.apply("diversity", more, round_no=4)
    assert done.version == 3
    skill = hub.get("diversity")
    [rule] = skill.learned_rules
    assert rule.experiment_ids == ["e1", "e2", "e7"] and rule.confirmed_round == 4
    assert "new evidence for 1 rule(s)" in hub.versions("diversity")[-1].reason
    assert "confirmed" in hub.path("diversity").read_text() and "in round 4" in (
        hub.path("diversity").read_text()
    )

    def edited(**changes: object) -> list[str]:
        r: LearnedRule = rule.model_copy(update=changes)
        return agent_change_violations(skill, skill.model_copy(update={"learned_rules": [r]}))

    assert edited(experiment_ids=["e1", "e2", "e7", "e9"], confirmed_at=T1) == []
    assert any("not edited" in v for v in edited(text="something else"))
    assert any("only be added" in v for v in edited(experiment_ids=["e1"], confirmed_at=T1))
    assert any("confirmed_at" in v for v in edited(experiment_ids=[*rule.experiment_ids, "e9"],
                                                    confirmed_at=None))
    retired = hub.retire_rules("diversity", {rule.id: "wrong"}, "retire")
    with pytest.raises(SkillInvariantError, match="only an active rule"):
        hub.apply_learning("diversity", [], {}, "refresh a retired rule", update=[
            retired.learned_rules[0].model_copy(
                update={"experiment_ids": ["e1", "e2", "e7", "e9"], "confirmed_at": T1})
        ])
    assert hub.get("diversity").learned_rules[0].status is RuleStatus.RETIRED
