"""Loading, validating and rendering SKILL.md files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rectune.domain import ConfigError, MetricRole
from rectune.skillhub import (
    SkillHub,
    SkillValidationError,
    load_skill,
    parse_skill,
    render_platform_config,
    render_skill,
    shipped_skills_dir,
)

# The contract of docs/contracts.md, restated so a drift in either place fails loudly.
CONTRACT = {
    "value_based_retrieval": {
        "stage": "pre_ranking",
        "knobs": {
            "vbr_w_click": ("float", 0, 4, 1.0),
            "vbr_w_dwell": ("float", 0, 4, 0.5),
            "vbr_w_quality": ("float", 0, 4, 0.2),
            "vbr_freshness_boost": ("float", 0, 2, 0.3),
            "vbr_candidate_cut": ("int", 50, 400, 100),
        },
        "primary": ["dwell_time"],
        "secondary": ["clicks", "topic_diversity"],
        "guardrails": {"serving_cost": 0.05, "retention": -0.005, "negative_rate": 0.03},
    },
    "value_fusion": {
        "stage": "ranking",
        "knobs": {
            "vf_w_click": ("float", 0, 4, 1.0),
            "vf_w_dwell": ("float", 0, 4, 0.6),
            "vf_w_like": ("float", 0, 4, 0.3),
            "vf_w_share": ("float", 0, 4, 0.2),
            "vf_w_negative": ("float", 0, 8, 0.5),
        },
        "primary": ["dwell_time"],
        "secondary": ["clicks", "retention"],
        "guardrails": {"negative_rate": 0.03, "topic_diversity": -0.02},
    },
    "diversity": {
        "stage": "re_ranking",
        "knobs": {
            "div_mmr_lambda": ("float", 0, 1, 0.1),
            "div_topic_cap": ("int", 1, 10, 6),
            "div_creator_cap": ("int", 1, 10, 4),
            "div_fatigue_penalty": ("float", 0, 2, 0.1),
            "div_fatigue_threshold": ("int", 1, 20, 8),
        },
        "primary": ["topic_diversity"],
        "secondary": ["retention", "dwell_time"],
        "guardrails": {"clicks": -0.01, "negative_rate": 0.03},
    },
}

SHIPPED = shipped_skills_dir()
GOOD = (SHIPPED / "value_fusion" / "SKILL.md").read_text()


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_shipped_skill_matches_contract(name: str) -> None:
    skill = load_skill(SHIPPED / name)
    spec = CONTRACT[name]
    assert skill.name == name and skill.stage == spec["stage"]
    knobs = spec["knobs"]
    assert isinstance(knobs, dict)
    assert skill.space.names == list(knobs)
    for knob, (kind, low, high, prod) in knobs.items():
        p = skill.space[knob]
        assert (p.kind, p.low, p.high) == (kind, low, high)
        assert skill.baseline[knob] == prod
    assert [m.name for m in skill.primary_metrics] == spec["primary"]
    assert [m.name for m in skill.secondary_metrics] == spec["secondary"]
    assert {m.name: m.guardrail_threshold for m in skill.guardrails} == spec["guardrails"]
    assert skill.ab_defaults.traffic_per_arm == 0.1 and skill.ab_defaults.days == 7
    assert skill.active_rules == [] and skill.version == 1
    for heading in ("Task Context", "Task Requirement", "North Star Metric", "Tools"):
        assert len(skill.section_text(heading)) > 50


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_render_round_trip(name: str) -> None:
    skill = load_skill(SHIPPED / name)
    text = render_skill(skill)
    assert parse_skill(text) == skill
    assert render_skill(parse_skill(text)) == text  # rendering is stable


def test_platform_config_rendering() -> None:
    skill = load_skill(SHIPPED / "value_based_retrieval")
    cfg = {**skill.baseline, "vbr_candidate_cut": 200}
    out = render_platform_config(skill, cfg, arm="arm-1", experiment_id="exp 7")
    assert out.file_name == "value_based_retrieval__arm-1.json"
    data = json.loads(out.content)
    assert data["candidate_cut"] == 200 and isinstance(data["candidate_cut"], int)
    assert data["value_formula"]["click"] == 1.0 and data["experiment_id"] == "exp 7"
    with pytest.raises(ConfigError):
        render_platform_config(skill, {**cfg, "vbr_candidate_cut": 9999})


def _err(text: str, tmp_path: Path) -> SkillValidationError:
    p = tmp_path / "broken" / "SKILL.md"
    p.parent.mkdir(exist_ok=True)
    p.write_text(text)
    with pytest.raises(SkillValidationError) as info:
        load_skill(p)
    assert str(p) in str(info.value)
    return info.value


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    lines = GOOD.splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith("stage:"))
    lines[idx] = "stage: [ranking"
    err = _err("\n".join(lines), tmp_path)
    assert err.field == "yaml" and err.line is not None
    assert abs(err.line - (idx + 1)) <= 2


def test_unknown_parameter_in_baseline(tmp_path: Path) -> None:
    err = _err(GOOD.replace("  vf_w_share: 0.2\n", "  vf_w_share: 0.2\n  vf_w_bogus: 1.0\n"),
               tmp_path)
    assert err.field == "baseline.vf_w_bogus" and "unknown parameter" in err.problem
    assert err.line is not None


def test_baseline_out_of_bounds(tmp_path: Path) -> None:
    err = _err(GOOD.replace("  vf_w_negative: 0.5\n", "  vf_w_negative: 9.5\n"), tmp_path)
    assert err.field == "baseline.vf_w_negative"


def test_soft_bound_outside_hard_bound(tmp_path: Path) -> None:
    err = _err(GOOD.replace("  soft_high: 5.0\n", "  soft_high: 12.0\n", 1), tmp_path)
    assert err.field.startswith("parameters[4]")
    assert "outside the hard bounds" in err.problem


def test_metric_without_direction(tmp_path: Path) -> None:
    text = GOOD.replace("- name: clicks\n  role: secondary\n  direction: increase\n",
                        "- name: clicks\n  role: secondary\n")
    err = _err(text, tmp_path)
    assert err.field == "metrics[1].direction" and "required" in err.problem.lower()


def test_missing_section(tmp_path: Path) -> None:
    text = GOOD.replace("## North Star Metric", "## Something Else")
    err = _err(text, tmp_path)
    assert err.field == "North Star Metric" and "missing section" in err.problem


def test_unknown_front_matter_key_and_template_placeholder(tmp_path: Path) -> None:
    err = _err(GOOD.replace("stage: ranking\n", "stage: ranking\nstgae: typo\n", 1), tmp_path)
    assert err.field == "stgae"
    err = _err(GOOD.replace("'{{vf_w_share}}'", "'{{vf_w_shar}}'"), tmp_path)
    assert err.field == "platform.template" and "vf_w_shar" in err.problem


def test_no_front_matter(tmp_path: Path) -> None:
    err = _err("# just markdown\n", tmp_path)
    assert err.field == "front matter"


def test_guardrail_without_threshold(tmp_path: Path) -> None:
    text = GOOD.replace("  guardrail_threshold: 0.03\n", "", 1)
    err = _err(text, tmp_path)
    assert err.field.startswith("metrics[3]") and "guardrail_threshold" in err.problem


def test_learned_rules_render_readably() -> None:
    from rectune.domain import LearnedRule, RuleConstraint, RuleEvidence

    skill = load_skill(SHIPPED / "diversity")
    rule = LearnedRule(
        id="R-1",
        text="A large MMR lambda costs clicks.",
        parameters=["div_mmr_lambda"],
        constraint=RuleConstraint(parameter="div_mmr_lambda", op="<=", value=0.6),
        experiment_ids=["e1", "e2"],
        evidence=[RuleEvidence(metric="clicks", effect=-0.02, ci_low=-0.03, ci_high=-0.01)],
    )
    skill2 = skill.model_copy(update={"learned_rules": [rule]})
    text = render_skill(skill2)
    assert "### Learned rules" in text and "div_mmr_lambda <= 0.6" in text
    back = parse_skill(text)
    assert back.active_rules == [rule]
    # The generated list is not mistaken for hand-written knowledge.
    assert back.sections.domain_knowledge == skill.sections.domain_knowledge


def test_hub_lists_shipped_skills() -> None:
    hub = SkillHub(SHIPPED)
    assert hub.names() == sorted(CONTRACT)
    assert all(m.role is MetricRole.PRIMARY for m in hub.get("diversity").primary_metrics)
