"""The A/B plan: traffic, a duration chosen by the power analysis, and what it can detect."""

from __future__ import annotations

from pathlib import Path

import pytest

from rectune.domain import ExperimentResult, ExperimentSpec, SpecError
from rectune.ports import PlatformPort
from rectune.skillhub.hub import SkillHub, shipped_skills_dir
from rectune.tools.platform import ExperimentStatus, MetricBaseline
from rectune.workspace import Workspace


class NoisyPlatform:
    """Estimates noise like a platform that averages days: CV falls as 1/sqrt(days)."""

    def __init__(self, cv1: float, population: int = 60_000) -> None:
        self.cv1 = cv1
        self.population = population
        self.pilots: list[int] = []

    def baselines(self, task: str, days: int) -> dict[str, MetricBaseline]:
        self.pilots.append(days)
        names = ["dwell_time", "clicks", "retention", "negative_rate", "topic_diversity"]
        return {
            name: MetricBaseline(
                metric=name, mean=900.0, cv=self.cv1 / days**0.5, days=days,
                population=self.population,
            )
            for name in names
        }

    def launch(self, spec: ExperimentSpec, idempotency_key: str) -> str:
        raise NotImplementedError

    def status(self, experiment_id: str) -> ExperimentStatus:
        raise NotImplementedError

    def results(self, experiment_id: str) -> ExperimentResult:
        raise NotImplementedError

    def abort(self, experiment_id: str, reason: str) -> ExperimentStatus:
        raise NotImplementedError


@pytest.fixture
def skill():  # type: ignore[no-untyped-def]
    return SkillHub(shipped_skills_dir()).get("value_fusion")


def _port(tmp_path: Path, platform: object) -> PlatformPort:
    return PlatformPort(platform, Workspace(tmp_path), "fake")  # type: ignore[arg-type]


def test_power_analysis_picks_the_shortest_powered_duration(tmp_path: Path, skill) -> None:  # type: ignore[no-untyped-def]
    plan = _port(tmp_path, NoisyPlatform(cv1=0.25)).plan(skill, 2)
    assert plan.duration_from == "power analysis"
    assert plan.power_analysis is not None and plan.power_analysis.powered
    assert 1 < plan.days < skill.ab_defaults.days
    shorter = _port(tmp_path / "b", NoisyPlatform(cv1=0.25)).plan(skill, 2, days=plan.days - 1)
    assert shorter.power_analysis is not None and not shorter.power_analysis.powered
    assert shorter.power_analysis.days_needed == plan.days


def test_an_underpowered_plan_says_what_would_reach_the_mde(tmp_path: Path, skill) -> None:  # type: ignore[no-untyped-def]
    platform = NoisyPlatform(cv1=5.0)
    plan = _port(tmp_path, platform).plan(skill, 3)
    pa = plan.power_analysis
    assert pa is not None and not pa.powered
    assert plan.days == skill.ab_defaults.days and plan.duration_from == "skill default"
    assert pa.days_needed is None  # not within the skill's days
    assert pa.traffic_needed is not None and pa.traffic_needed > plan.traffic_per_arm
    assert pa.detectable_effect > plan.min_detectable_effect
    assert "underpowered" in plan.note
    assert pa.comparisons == 3 * len(skill.primary_metrics)  # the primary flag's Holm family
    assert set(pa.guardrail_pass) == {"negative_rate", "topic_diversity"}
    cached = len(platform.pilots)
    _port(tmp_path, platform).plan(skill, 3)
    assert len(platform.pilots) == cached  # noise estimates are cached in the workspace


def test_run_settings_fix_the_duration_and_traffic_must_fit(tmp_path: Path, skill) -> None:  # type: ignore[no-untyped-def]
    port = _port(tmp_path, NoisyPlatform(cv1=0.5))
    plan = port.plan(skill, 2, days=4, traffic=0.2)
    assert (plan.days, plan.traffic_per_arm, plan.duration_from) == (4, 0.2, "context")
    with pytest.raises(SpecError, match="at most 100%"):
        port.plan(skill, 4, traffic=0.25)


def test_a_platform_without_noise_estimates_gets_the_skill_default(tmp_path: Path, skill) -> None:  # type: ignore[no-untyped-def]
    from rectune.tools.files import FileHandoffPlatform

    plan = _port(tmp_path, FileHandoffPlatform(tmp_path / "h")).plan(skill, 2)
    assert plan.days == skill.ab_defaults.days and plan.power_analysis is None
    assert "no noise estimate" in plan.note


def test_the_spec_is_the_plan(tmp_path: Path, skill) -> None:  # type: ignore[no-untyped-def]
    from rectune.domain import Candidate, apply_delta

    port = _port(tmp_path, NoisyPlatform(cv1=0.5))
    plan = port.plan(skill, 2, days=3, traffic=0.05)
    cands = [
        Candidate(id=f"c{i}", task=skill.name, round=1, delta={"vf_w_click": v},
                  config=apply_delta(skill.space, skill.baseline, {"vf_w_click": v}))
        for i, v in enumerate([0.8, 1.2])
    ]
    spec = port.spec(skill, cands, plan, description="round 1")
    assert spec.days == 3 and {a.traffic for a in spec.arms} == {0.05}
    assert [a.candidate_id for a in spec.treatments] == ["c0", "c1"]
    assert all(a.config_file is not None for a in spec.arms)
    with pytest.raises(SpecError, match="plan again"):
        port.spec(skill, cands[:1], plan, description="")
