"""Insight statistics: planted effects are found, noise does not plant rules."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from rectune.domain import (
    ArmResult,
    Candidate,
    LearnedRule,
    MetricResult,
    MetricSpec,
    RuleStatus,
)
from rectune.memory import (
    FindingKind,
    aggregate_findings,
    analyze_task,
    findings_to_rules,
)
from rectune.memory.insight_stats import harmful_moves, replicated_wins, sensitivity
from rectune.skillhub import SkillHub, shipped_skills_dir

HUB = SkillHub(shipped_skills_dir())
VF = HUB.get("value_fusion")
VBR = HUB.get("value_based_retrieval")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def measured(
    metrics: list[MetricSpec], means: dict[str, float], rng: np.random.Generator, se: float,
    p_value: float,
) -> dict[str, MetricResult]:
    """One arm's results: each metric's mean lift (0 when not named) plus N(0, se) noise."""
    out = {}
    for m in metrics:
        lift = means.get(m.name, 0.0) + float(rng.normal(0, se))
        out[m.name] = MetricResult(
            metric=m.name, control_mean=1, treatment_mean=1 + lift, relative_lift=lift,
            ci_low=lift - 1.96 * se, ci_high=lift + 1.96 * se, p_value=p_value,
        )
    return out


def simulate(
    skill_name: str,
    seed: int,
    n: int = 32,
    planted: dict[tuple[str, str], float] | None = None,
    se: float = 0.01,
    knobs_per_arm: tuple[int, int] = (1, 3),
) -> list[Candidate]:
    """Arms with random moves; lift = sum(planted slope * raw delta) + N(0, se) noise."""
    skill = HUB.get(skill_name)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cfg = dict(skill.baseline)
        k = int(rng.integers(knobs_per_arm[0], knobs_per_arm[1] + 1))
        for name in rng.choice(skill.space.names, size=k, replace=False):
            p = skill.space[name]
            lo, hi = p.soft_range  # type: ignore[union-attr]
            v = float(rng.uniform(lo, hi))
            cfg[str(name)] = round(v) if p.kind == "int" else round(v, 3)
        means = {
            m.name: sum(
                slope * (float(cfg[param]) - float(skill.baseline[param]))
                for (param, metric), slope in (planted or {}).items()
                if metric == m.name
            )
            for m in skill.metrics
        }
        metrics = measured(skill.metrics, means, rng, se, p_value=0.5)
        out.append(Candidate(
            id=f"{skill_name}-c{i}", task=skill_name, round=i // 4, delta={}, config=cfg,
            experiment_id=f"{skill_name}-e{i // 4}",
            result=ArmResult(arm=f"a{i}", metrics=metrics),
        ))
    return out


def run(skill_name: str, cands: list[Candidate]) -> list[LearnedRule]:
    skill = HUB.get(skill_name)
    findings = analyze_task(skill.name, cands, skill.space, skill.baseline, skill.metrics)
    rules, _ = findings_to_rules(findings, [], space=skill.space, now=NOW)
    return rules


def test_recovers_planted_sensitive_parameter() -> None:
    planted = {("vf_w_click", "negative_rate"): 0.03}
    hits = 0
    for seed in range(10):
        cands = simulate("value_fusion", seed, n=40, planted=planted)
        findings = sensitivity("value_fusion", cands, VF.space, VF.baseline, VF.metrics)
        sig = [f for f in findings if f.significant]
        top = max(findings, key=lambda f: abs(f.effect) / f.std_error)
        if top.parameters == ["vf_w_click"] and top.metric == "negative_rate" and top.significant:
            hits += 1
            assert top.effect > 0 and not top.good and top.slope_sign == 1
            assert set(top.experiment_ids) <= {c.experiment_id for c in cands}
            assert top.experiment_ids  # evidence names the experiments
        assert all(f.parameters == ["vf_w_click"] for f in sig)
    assert hits >= 9


def test_planted_effect_becomes_rule_with_experiment_ids() -> None:
    cands = simulate("value_fusion", 3, n=40, planted={("vf_w_click", "negative_rate"): 0.03})
    rules = run("value_fusion", cands)
    assert rules, "expected at least one rule"
    r = next(r for r in rules if r.parameters == ["vf_w_click"])
    assert r.evidence[0].metric == "negative_rate" and r.experiment_ids
    assert r.status is RuleStatus.ACTIVE and r.source_task == "value_fusion"


def test_noise_plants_no_rules_fast() -> None:
    runs = 100
    false = sum(bool(run("value_fusion", simulate("value_fusion", 1000 + s))) for s in range(runs))
    assert false / runs <= 0.05


@pytest.mark.slow
def test_noise_plants_no_rules_many_runs() -> None:
    runs = 300
    false = 0
    for s in range(runs):
        task = "value_fusion" if s % 2 else "value_based_retrieval"
        false += bool(run(task, simulate(task, s, knobs_per_arm=(1, 1 + s % 3))))
    assert false / runs <= 0.05


def test_harmful_move_gives_constraint() -> None:
    # Single-knob arms; raising the negative penalty far hurts dwell (primary).
    planted = {("vf_w_negative", "dwell_time"): -0.02}
    cands = simulate("value_fusion", 7, n=40, planted=planted, knobs_per_arm=(1, 1))
    findings = harmful_moves("value_fusion", cands, VF.space, VF.baseline, VF.metrics)
    harm = [f for f in findings if f.kind is FindingKind.HARMFUL_MOVE and f.significant]
    assert any(f.parameters == ["vf_w_negative"] and f.metric == "dwell_time" for f in harm)
    rules, _ = findings_to_rules(harm, [], space=VF.space, now=NOW)
    constrained = [r for r in rules if r.constraint is not None]
    assert constrained
    c = constrained[0].constraint
    assert c is not None and c.parameter == "vf_w_negative" and c.op == "<"
    assert c.satisfied(VF.baseline)  # production stays allowed


def click_arms(neg_lift: float, n: int = 12, se: float = 0.004) -> list[Candidate]:
    """Arms that raise only vf_w_click (1.5 to 2.6), three per experiment; negative feedback
    moves by `neg_lift` plus noise, every other metric by noise only."""
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        cfg = {**VF.baseline, "vf_w_click": round(1.5 + 0.1 * i, 2)}
        metrics = measured(VF.metrics, {"negative_rate": neg_lift}, rng, se, p_value=0.5)
        out.append(Candidate(
            id=f"vf-click-c{i}", task="value_fusion", round=i // 3, delta={}, config=cfg,
            experiment_id=f"vf-click-e{i // 3}", result=ArmResult(arm=f"a{i}", metrics=metrics),
        ))
    return out


@pytest.mark.parametrize(("neg_lift", "limited"), [(0.012, False), (0.045, True)])
def test_guardrail_move_limits_only_past_its_threshold(neg_lift: float, limited: bool) -> None:
    # Raising the click weight raises negative feedback, a guardrail with a +3% limit: by
    # 1.2% it is significant but allowed; by 4.5% it breaks the guardrail. Only the second
    # may forbid the knob's region (constrained optima sit close to a guardrail's limit).
    cands = click_arms(neg_lift)
    findings = harmful_moves("value_fusion", cands, VF.space, VF.baseline, VF.metrics)
    harm = [f for f in findings if f.kind is FindingKind.HARMFUL_MOVE and f.significant
            and f.parameters == ["vf_w_click"] and f.metric == "negative_rate"]
    assert len(harm) == 1, "the planted guardrail effect is found either way"
    assert harm[0].past_limit is limited
    said = "; past its +3.0% limit" if limited else "; not shown past its +3.0% limit"
    assert said in harm[0].text
    rules, _ = findings_to_rules(harm, [], space=VF.space, now=NOW)
    assert len(rules) == 1, "the finding is a rule people read either way"
    assert (rules[0].constraint is not None) is limited
    if limited:
        c = rules[0].constraint
        assert c is not None and c.parameter == "vf_w_click" and c.op == "<"
        assert c.satisfied(VF.baseline)


def test_replicated_win() -> None:
    base = simulate("value_fusion", 1, n=1)[0]
    assert base.result is not None
    wins = []
    for e in range(3):
        metrics = dict(base.result.metrics)
        metrics["dwell_time"] = MetricResult(
            metric="dwell_time", control_mean=1, treatment_mean=1.02, relative_lift=0.02,
            ci_low=0.01, ci_high=0.03, p_value=0.001)
        for g in ("negative_rate", "topic_diversity"):
            metrics[g] = MetricResult(metric=g, control_mean=1, treatment_mean=1,
                                      relative_lift=0.0, ci_low=-0.01, ci_high=0.01, p_value=1)
        wins.append(base.model_copy(update={
            "id": f"w{e}", "experiment_id": f"exp{e}",
            "result": base.result.model_copy(update={"metrics": metrics})}))
    f = replicated_wins("value_fusion", wins, VF.baseline, VF.metrics)
    assert len(f) == 1 and f[0].replicated and f[0].n_experiments == 3
    assert f[0].rule_worthy


def test_cross_task_aggregation_and_gate() -> None:
    planted_vf = {("vf_w_click", "negative_rate"): 0.03}
    planted_vbr = {("vbr_w_click", "negative_rate"): 0.03}
    f_vf = analyze_task("value_fusion", simulate("value_fusion", 11, 40, planted_vf),
                        VF.space, VF.baseline, VF.metrics)
    f_vbr = analyze_task("value_based_retrieval",
                         simulate("value_based_retrieval", 12, 40, planted_vbr),
                         VBR.space, VBR.baseline, VBR.metrics)
    agg = aggregate_findings([*f_vf, *f_vbr])
    assert agg == aggregate_findings([*f_vbr, *f_vf])  # order does not matter
    click = [f for f in agg if f.metric == "negative_rate" and "vf_w_click" in f.parameters]
    assert len(click) == 1 and click[0].kind is FindingKind.CROSS_TASK
    assert click[0].tasks == ["value_based_retrieval", "value_fusion"]
    assert click[0].significant and click[0].replicated
    assert {c.split("-e")[0] for c in click[0].experiment_ids} == {
        "value_fusion", "value_based_retrieval"}
    rules, _ = findings_to_rules(click, [], space=VF.space, now=NOW)
    assert rules and rules[0].parameters == ["vf_w_click"]


def test_findings_to_rules_dedup_and_retire() -> None:
    cands = simulate("value_fusion", 3, n=40, planted={("vf_w_click", "negative_rate"): 0.03})
    findings = analyze_task("value_fusion", cands, VF.space, VF.baseline, VF.metrics)
    rules, retire = findings_to_rules(findings, [], space=VF.space, now=NOW)
    assert rules and not retire
    again, retire = findings_to_rules(findings, rules, space=VF.space, now=NOW)
    assert again == [] and retire == {}
    # Evidence now points the other way: the old rule is retired, a new one is added.
    flipped = simulate("value_fusion", 4, n=40, planted={("vf_w_click", "negative_rate"): -0.03})
    f2 = analyze_task("value_fusion", flipped, VF.space, VF.baseline, VF.metrics)
    new, retire = findings_to_rules(f2, rules, space=VF.space, now=NOW)
    sens_old = next(
        r.id for r in rules
        if r.parameters == ["vf_w_click"] and r.evidence[0].metric == "negative_rate"
    )
    assert sens_old in retire and "contradicted" in retire[sens_old]
    assert any(r.id.endswith("-neg") for r in new)


def test_noise_findings_are_not_rule_worthy() -> None:
    findings = analyze_task("value_fusion", simulate("value_fusion", 5), VF.space, VF.baseline,
                            VF.metrics)
    assert findings  # it still reports, for prompts
    assert not [f for f in findings if f.rule_worthy]


def test_too_little_data() -> None:
    assert analyze_task("value_fusion", simulate("value_fusion", 0, n=3), VF.space,
                        VF.baseline, VF.metrics) == []


def comoving(seed: int, n: int = 24, se: float = 0.004) -> list[Candidate]:
    """Arms that raise vf_w_click and vf_w_share together; only vf_w_share hurts dwell."""
    skill = VF
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cfg = dict(skill.baseline)
        step = float(rng.uniform(0.6, 1.2))
        cfg["vf_w_click"] = round(float(skill.baseline["vf_w_click"]) + step, 3)
        cfg["vf_w_share"] = round(float(skill.baseline["vf_w_share"]) + 0.4 * step, 3)
        harm = -0.06 * (cfg["vf_w_share"] - float(skill.baseline["vf_w_share"]))
        metrics = measured(skill.metrics, {"dwell_time": harm}, rng, se, p_value=0.01)
        out.append(Candidate(
            id=f"vf-c{i}", task="value_fusion", round=i // 4, delta={}, config=cfg,
            experiment_id=f"vf-e{i // 4}", result=ArmResult(arm=f"a{i}", metrics=metrics),
        ))
    return out


def test_a_rule_on_a_knob_confounded_with_another_is_refused() -> None:
    cands = comoving(0)
    moves = harmful_moves("value_fusion", cands, VF.space, VF.baseline, VF.metrics)
    blamed = [f for f in moves if f.parameters == ["vf_w_click"] and f.metric == "dwell_time"]
    # The harm is real and significant, but vf_w_share moved in every one of those arms.
    assert blamed and blamed[0].significant
    assert blamed[0].confounded_with == ["vf_w_share"]
    assert not blamed[0].rule_worthy
    slopes = sensitivity("value_fusion", cands, VF.space, VF.baseline, VF.metrics)
    tangled = [f for f in slopes if f.metric == "dwell_time"]
    assert tangled and all(f.confounded_with for f in tangled)
    assert not any("vf_w_click" in r.parameters for r in run("value_fusion", cands))


def test_one_knob_arms_still_make_rules() -> None:
    # The same harm, measured with arms that move vf_w_share alone, is attributable.
    cands = simulate("value_fusion", seed=3, n=40, planted={("vf_w_share", "dwell_time"): -0.04},
                     se=0.004, knobs_per_arm=(1, 1))
    rules = run("value_fusion", cands)
    assert any(r.parameters == ["vf_w_share"] for r in rules)
