from __future__ import annotations

import pytest

from rectune.agents.approval import apply_decisions, approval_payload
from rectune.domain import Candidate, CandidateStatus, RuleConstraint, apply_delta, config_diff
from rectune.skillhub.hub import SkillHub, shipped_skills_dir


@pytest.fixture(scope="module")
def skill():  # type: ignore[no-untyped-def]
    return SkillHub(shipped_skills_dir()).get("diversity")


def _cands(skill, n: int = 3) -> list[Candidate]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        delta = {"div_mmr_lambda": 0.2 + 0.1 * i}
        cfg = apply_delta(skill.space, skill.baseline, delta)
        out.append(Candidate(id=f"c{i}", task=skill.name, round=1, delta=delta, config=cfg))
    return out


def test_payload_is_json_and_shows_diffs(skill) -> None:  # type: ignore[no-untyped-def]
    import json

    from rectune.domain import ABPlan, Draft, Verdict

    cands = _cands(skill)
    plan = ABPlan(arms=3, traffic_per_arm=0.1, days=7, duration_from="skill default",
                  min_detectable_effect=0.01)
    dropped = Verdict(index=4, draft=Draft(delta={"div_mmr_lambda": 9}),
                      delta={"div_mmr_lambda": 9}, reasons=["too big"])
    p = approval_payload(
        task=skill.name,
        round_no=1,
        candidates=cands,
        verdicts=[dropped],
        baseline=skill.baseline,
        plan=plan,
        model_error="the model's answer was discarded: no <proposal> block",
    )
    json.dumps(p)
    assert p["kind"] == "approval" and p["ab_plan"]["days"] == 7
    assert p["dropped"] == [
        {"index": 4, "source": "engine", "delta": {"div_mmr_lambda": 9}, "reasons": ["too big"]}
    ]
    assert "discarded" in p["model_answer_discarded"]
    assert p["candidates"][0]["diff_vs_baseline"] == {
        "div_mmr_lambda": {"from": skill.baseline["div_mmr_lambda"], "to": 0.2}
    }
    assert "how_to_answer" in p


def test_approve_all_and_reject_all(skill) -> None:  # type: ignore[no-untyped-def]
    cands = _cands(skill)
    out = apply_decisions("approve", cands, space=skill.space, baseline=skill.baseline)
    assert [c.status for c in out.approved] == [CandidateStatus.APPROVED] * 3
    out = apply_decisions("reject", cands, space=skill.space, baseline=skill.baseline)
    assert not out.approved and len(out.rejected) == 3 and not out.errors


def test_pick_edit_and_implicit_reject(skill) -> None:  # type: ignore[no-untyped-def]
    cands = _cands(skill)
    ans = {
        "decisions": [
            {"id": "c0", "action": "approve"},
            {"id": "c1", "action": "edit", "delta": {"div_topic_cap": 3}},
        ]
    }
    out = apply_decisions(ans, cands, space=skill.space, baseline=skill.baseline)
    assert [c.id for c in out.approved] == ["c0", "c1"]
    edited = out.approved[1]
    assert edited.config["div_topic_cap"] == 3
    assert edited.delta == config_diff(skill.baseline, edited.config)
    assert [c.id for c in out.rejected] == ["c2"]


@pytest.mark.parametrize(
    ("answer", "msg"),
    [
        (
            {"decisions": [{"id": "c0", "action": "edit", "delta": {"div_topic_cap": 99}}]},
            "div_topic_cap",
        ),
        ({"decisions": [{"id": "zz", "action": "approve"}]}, "unknown candidate"),
        ({"decisions": [{"id": "c0", "action": "launch"}]}, "not one of"),
        ({"decisions": [{"id": "c0", "action": "edit"}]}, "needs a non-empty"),
        ("maybe", "not understood"),
        (42, "must be"),
    ],
)
def test_bad_answers_are_errors_and_approve_nothing(skill, answer, msg) -> None:  # type: ignore[no-untyped-def]
    out = apply_decisions(answer, _cands(skill), space=skill.space, baseline=skill.baseline)
    assert any(msg in e for e in out.errors)


def test_human_may_override_a_rule_but_it_is_noted(skill) -> None:  # type: ignore[no-untyped-def]
    rule = RuleConstraint(parameter="div_mmr_lambda", op="<=", value=0.25)
    ans = {"decisions": [{"id": "c0", "action": "edit", "delta": {"div_mmr_lambda": 0.5}}]}
    out = apply_decisions(
        ans, _cands(skill), space=skill.space, baseline=skill.baseline, constraints=[rule]
    )
    assert not out.errors
    assert "div_mmr_lambda <= 0.25" in out.approved[0].checks["rule_override"]
