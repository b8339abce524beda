"""The platform judges by the spec: metric specs, directions, thresholds; knobs, not tasks."""

from __future__ import annotations

import pytest

from rectune.domain import (
    ArmSpec,
    ExperimentSpec,
    GuardrailOutcome,
    MetricRole,
    MetricSpec,
    SpecError,
)
from rectune.tools.platform import spec_fingerprint
from rectune.tools.simulated import SimulatedABPlatform

SMALL = {"population": 4000, "pre_days": 1}


def m(name: str, role: str, direction: str = "increase", thr: float | None = None) -> MetricSpec:
    return MetricSpec(name=name, role=role, direction=direction, guardrail_threshold=thr)


def spec(task: str, arms: dict[str, dict[str, float | int]], metrics: list[MetricSpec] | None,
         days: int = 3, traffic: float = 0.3) -> ExperimentSpec:
    return ExperimentSpec(
        task=task, days=days,
        control=ArmSpec(name="control", config={}, traffic=traffic),
        treatments=[ArmSpec(name=n, config=c, traffic=traffic) for n, c in arms.items()],
        metric_specs=metrics or [],
    )


SKILL_METRICS = [
    m("dwell_time", "primary"),
    m("clicks", "secondary"),
    m("negative_rate", "guardrail", "decrease", 0.03),
    m("retention", "guardrail", "increase", -0.02),
]


def test_a_new_skill_on_existing_knobs_runs_and_is_judged_by_its_specs() -> None:
    p = SimulatedABPlatform(seed=2, **SMALL)
    s = spec("my_fusion_v2", {"a": {"vf_w_negative": 1.5, "div_topic_cap": 4}}, SKILL_METRICS)
    res = p.results(p.launch(s, "k"))
    arm = res.arm("a")
    assert list(arm.metrics) == ["dwell_time", "clicks", "negative_rate", "retention"]
    assert arm.metrics["dwell_time"].role is MetricRole.PRIMARY
    assert [v.metric for v in arm.guardrails] == ["negative_rate", "retention"]
    ret = arm.guardrail("retention")
    assert ret.threshold == -0.02 and ret.outcome in set(GuardrailOutcome)
    assert arm.guardrail_outcome is max(
        (v.outcome for v in arm.guardrails),
        key=[GuardrailOutcome.PASSED, GuardrailOutcome.INCONCLUSIVE,
             GuardrailOutcome.BREACHED].index,
    )
    # The primary flag is Holm over arms x primaries only: one pair, so p_adjusted == p.
    assert arm.metrics["dwell_time"].p_adjusted == pytest.approx(arm.metrics["dwell_time"].p_value)
    assert arm.full_horizon and arm.days_planned == 3 and not arm.stopped_early


def test_the_specs_threshold_not_the_task_table_decides_the_stop() -> None:
    bait = {"vf_w_click": 4.0, "vf_w_dwell": 0.0, "vf_w_negative": 0.0}
    loose = [m("dwell_time", "primary"), m("negative_rate", "guardrail", "decrease", 5.0)]
    tight = [m("dwell_time", "primary"), m("negative_rate", "guardrail", "decrease", 0.03)]
    p = SimulatedABPlatform(seed=1, population=10_000, pre_days=1)
    lax = p.results(p.launch(spec("value_fusion", {"bait": bait}, loose, days=4, traffic=0.25),
                             "loose")).arm("bait")
    strict = p.results(p.launch(spec("value_fusion", {"bait": bait}, tight, days=4,
                                     traffic=0.25), "tight")).arm("bait")
    assert not lax.aborted and lax.guardrail("negative_rate").outcome is GuardrailOutcome.PASSED
    assert strict.aborted and strict.stopped_early and not strict.full_horizon
    assert strict.guardrail("negative_rate").outcome is GuardrailOutcome.BREACHED
    assert strict.days_run < strict.days_planned == 4


def test_names_only_specs_keep_working() -> None:
    p = SimulatedABPlatform(**SMALL)
    old = ExperimentSpec(
        task="diversity", days=2, control=ArmSpec(name="control", config={}, traffic=0.3),
        treatments=[ArmSpec(name="a", config={"div_mmr_lambda": 0.3}, traffic=0.3)],
    )
    assert "metric_specs" not in old.model_dump()  # stored records keep their fingerprint
    res = p.results(p.launch(old, "old"))
    assert {v.metric for v in res.arm("a").guardrails} == {"clicks", "negative_rate"}
    unknown = old.model_copy(update={"task": "brand_new", "metrics": ["clicks", "dwell_time"]})
    res2 = p.results(p.launch(unknown, "new"))
    assert set(res2.arm("a").metrics) == {"clicks", "dwell_time"}
    assert res2.arm("a").guardrails == [] and any("no guardrail" in n for n in res2.notes)
    assert spec_fingerprint(old) != spec_fingerprint(unknown)


def test_bad_metric_specs_are_refused() -> None:
    p = SimulatedABPlatform(**SMALL)
    with pytest.raises(SpecError, match="unknown metric 'revenue'"):
        p.launch(spec("x", {"a": {}}, [m("revenue", "primary")]), "k1")
    with pytest.raises(ValueError, match="primary"):
        spec("x", {"a": {}}, [m("clicks", "secondary")])
    with pytest.raises(ValueError, match="same metrics"):
        ExperimentSpec(
            task="x", days=1, control=ArmSpec(name="control", config={}, traffic=0.3),
            treatments=[ArmSpec(name="a", config={}, traffic=0.3)],
            metrics=["clicks"], metric_specs=[m("dwell_time", "primary")],
        )
