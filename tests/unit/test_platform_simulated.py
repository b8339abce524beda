"""The simulated A/B platform: protocol, idempotency, persistence, validation, monitoring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rectune.domain import ArmSpec, ConfigError, ExperimentSpec, ExperimentState, SpecError
from rectune.tools.platform import ABPlatform, ExperimentNotFoundError
from rectune.tools.simulated import SimulatedABPlatform, assign_users

SMALL = {"population": 2000, "pre_days": 1}


def spec(
    task: str = "diversity",
    days: int = 2,
    traffic: float = 0.25,
    treatments: dict[str, dict[str, float | int]] | None = None,
    metrics: list[str] | None = None,
) -> ExperimentSpec:
    arms = treatments if treatments is not None else {"a": {"div_mmr_lambda": 0.4}}
    return ExperimentSpec(
        task=task,
        days=days,
        control=ArmSpec(name="control", config={}, traffic=traffic),
        treatments=[ArmSpec(name=n, config=c, traffic=traffic) for n, c in arms.items()],
        metrics=metrics or [],
    )


def test_is_an_ab_platform() -> None:
    assert isinstance(SimulatedABPlatform(**SMALL), ABPlatform)


def test_runs_to_completion_with_results_per_arm_and_metric() -> None:
    p = SimulatedABPlatform(seed=3, **SMALL)
    eid = p.launch(spec(treatments={"a": {"div_mmr_lambda": 0.4}, "b": {"div_topic_cap": 3}}), "k")
    st = p.status(eid)
    assert st.state is ExperimentState.COMPLETED and st.days_run == 2 and st.days_total == 2
    res = p.results(eid)
    assert res.experiment_id == eid and res.task == "diversity"
    assert [a.arm for a in res.arms] == ["a", "b"]
    for arm in res.arms:
        assert set(arm.metrics) == {
            "topic_diversity", "retention", "dwell_time", "clicks", "negative_rate"
        }
        for m in arm.metrics.values():
            assert m.ci_low <= m.relative_lift <= m.ci_high
            assert m.p_adjusted is not None and m.p_adjusted >= m.p_value
            assert m.n_control > 0 and m.n_treatment > 0
    assert res.srm_p_value is not None and not res.srm_detected


def test_metrics_subset_is_respected() -> None:
    p = SimulatedABPlatform(**SMALL)
    eid = p.launch(spec(metrics=["clicks"]), "k")
    assert set(p.results(eid).arms[0].metrics) == {"clicks"}


def test_same_key_same_experiment_and_different_spec_is_refused() -> None:
    p = SimulatedABPlatform(**SMALL)
    s = spec()
    eid = p.launch(s, "round-1")
    assert p.launch(s, "round-1") == eid
    assert p.list_experiments() == [eid]
    assert p.launch(s, "round-2") != eid
    with pytest.raises(SpecError, match="already used"):
        p.launch(spec(days=3), "round-1")


def test_idempotent_across_instances_on_one_state_dir(tmp_path: Path) -> None:
    a = SimulatedABPlatform(state_dir=tmp_path, **SMALL)
    b = SimulatedABPlatform(state_dir=tmp_path, **SMALL)
    eid = a.launch(spec(), "thread-7:round-2")
    assert b.launch(spec(), "thread-7:round-2") == eid
    assert b.list_experiments() == [eid]
    assert b.status(eid).state is ExperimentState.COMPLETED
    assert a.results(eid) == b.results(eid)
    record = json.loads((tmp_path / "experiments" / f"{eid}.json").read_text())
    assert record["state"] == "completed"


def test_idempotent_across_processes(tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "from rectune.domain import ArmSpec, ExperimentSpec\n"
        "from rectune.tools.simulated import SimulatedABPlatform\n"
        "p = SimulatedABPlatform(state_dir=sys.argv[1], population=2000, pre_days=1)\n"
        "s = ExperimentSpec(task='diversity', days=2,"
        " control=ArmSpec(name='control', config={}, traffic=0.25),"
        " treatments=[ArmSpec(name='a', config={'div_mmr_lambda': 0.4}, traffic=0.25)])\n"
        "print(p.launch(s, 'same-key'))\n"
    )
    ids = {
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(ids) == 1
    assert len(list((tmp_path / "experiments").glob("*.json"))) == 1


def test_virtual_clock_and_resume_in_a_new_instance(tmp_path: Path) -> None:
    s = spec(days=4)
    first = SimulatedABPlatform(state_dir=tmp_path, days_per_poll=1, **SMALL)
    eid = first.launch(s, "k")
    st = first.status(eid)
    assert st.state is ExperimentState.RUNNING and st.days_run == 1
    interim = first.results(eid)
    assert interim.state is ExperimentState.RUNNING and interim.days_run == 1
    assert first.status(eid).days_run == 2
    # A fresh process (new instance) replays the two days and carries on.
    second = SimulatedABPlatform(state_dir=tmp_path, days_per_poll=1, **SMALL)
    assert second.status(eid).days_run == 3
    assert second.status(eid).state is ExperimentState.COMPLETED
    resumed = second.results(eid)
    straight = SimulatedABPlatform(**SMALL)
    eid2 = straight.launch(s, "k")
    assert eid2 == eid
    assert straight.results(eid2) == resumed


def test_deterministic_given_seed_and_spec() -> None:
    r1 = SimulatedABPlatform(seed=5, **SMALL)
    r2 = SimulatedABPlatform(seed=5, **SMALL)
    r3 = SimulatedABPlatform(seed=6, **SMALL)
    s = spec()
    res = [p.results(p.launch(s, "k")) for p in (r1, r2, r3)]
    assert res[0] == res[1]
    assert res[0].arms[0].metrics["clicks"] != res[2].arms[0].metrics["clicks"]


def test_abort_freezes_results() -> None:
    p = SimulatedABPlatform(days_per_poll=1, **SMALL)
    eid = p.launch(spec(days=5), "k")
    p.status(eid)
    st = p.abort(eid, "owner changed their mind")
    assert st.state is ExperimentState.ABORTED and st.abort_reason == "owner changed their mind"
    assert st.days_run == 1
    res = p.results(eid)
    assert res.state is ExperimentState.ABORTED and res.days_run == 1
    assert p.status(eid).state is ExperimentState.ABORTED
    assert p.abort(eid, "again").abort_reason == "owner changed their mind"


def test_unknown_experiment() -> None:
    p = SimulatedABPlatform(**SMALL)
    with pytest.raises(ExperimentNotFoundError, match="no experiment"):
        p.status("exp-nope")


@pytest.mark.parametrize(
    ("config", "field", "allowed"),
    [
        ({"div_nonsense": 1.0}, "div_nonsense", "div_mmr_lambda"),
        ({"vf_w_click": 1.0}, "vf_w_click", "div_mmr_lambda"),
        ({"div_mmr_lambda": 1.5}, "div_mmr_lambda", "[0, 1]"),
        ({"div_topic_cap": 0}, "div_topic_cap", "[1, 10]"),
        ({"div_topic_cap": 2.5}, "div_topic_cap", "integer"),
    ],
)
def test_bad_arm_config_names_field_and_allowed(
    config: dict[str, float], field: str, allowed: str
) -> None:
    p = SimulatedABPlatform(**SMALL)
    with pytest.raises(ConfigError) as err:
        p.launch(spec(treatments={"a": config}), "k")
    assert err.value.field == field
    assert allowed in str(err.value) and "arm 'a'" in str(err.value)
    assert p.list_experiments() == []


def test_bad_spec_level_inputs() -> None:
    p = SimulatedABPlatform(**SMALL)
    good = spec()
    with pytest.raises(SpecError, match="days"):
        p.launch(good.model_copy(update={"days": 0}), "k1")
    heavy = ArmSpec(name="control", config={}, traffic=0.8)
    with pytest.raises(SpecError, match="sum to"):
        p.launch(good.model_copy(update={"control": heavy}), "k2")
    arm = good.treatments[0]
    with pytest.raises(SpecError, match="duplicate arm names"):
        p.launch(good.model_copy(update={"treatments": [arm, arm]}), "k3")
    with pytest.raises(ConfigError, match="a simulator knob"):
        new_skill = spec(treatments={"a": {"div_nonsense": 1}}).model_copy(update={"task": "new"})
        p.launch(new_skill, "k4")
    with pytest.raises(SpecError, match="unknown metric 'serving_cost'"):
        p.launch(spec(metrics=["serving_cost"]), "k5")
    with pytest.raises(SpecError, match="at least 50"):
        p.launch(spec(traffic=0.01), "k6")
    with pytest.raises(SpecError, match="idempotency_key"):
        p.launch(good, "")
    assert p.list_experiments() == []


def test_salted_split_matches_traffic_and_differs_by_salt() -> None:
    a1 = assign_users(100_000, "s1", [0.1, 0.2, 0.3])
    a2 = assign_users(100_000, "s2", [0.1, 0.2, 0.3])
    sizes = [len(x) for x in a1]
    assert abs(sizes[0] - 10_000) < 400 and abs(sizes[2] - 30_000) < 600
    assert set(a1[0].tolist()).isdisjoint(a1[1].tolist())
    overlap = len(set(a1[0].tolist()) & set(a2[0].tolist()))
    assert 600 < overlap < 1400  # independent splits overlap by ~10% of 10%


def test_broken_split_is_flagged_as_srm() -> None:
    p = SimulatedABPlatform(population=4000, pre_days=0, fault_drop={"a": 0.15})
    res = p.results(p.launch(spec(days=1), "k"))
    assert res.srm_detected and res.srm_p_value is not None and res.srm_p_value < 1e-3
    assert any("sample-ratio mismatch" in n for n in res.notes)


def test_clearly_harmful_arm_is_stopped_early() -> None:
    p = SimulatedABPlatform(population=10_000, pre_days=1, seed=1)
    s = spec(
        task="value_fusion",
        days=4,
        traffic=0.25,
        treatments={
            "bait": {"vf_w_click": 4.0, "vf_w_dwell": 0.0, "vf_w_negative": 0.0},
            "ok": {"vf_w_dwell": 0.8},
        },
    )
    eid = p.launch(s, "k")
    st = p.status(eid)
    assert "bait" in st.aborted_arms and "ok" not in st.aborted_arms
    assert "negative_rate" in st.aborted_arms["bait"]
    res = p.results(eid)
    bait = res.arm("bait")
    assert bait.aborted and bait.days_run < 4
    assert res.arm("ok").days_run == 4 and st.state is ExperimentState.COMPLETED


def test_baselines_and_power_plan() -> None:
    from rectune.tools.platform import SupportsBaselines, plan_experiment

    p = SimulatedABPlatform(population=60_000, pre_days=1, pilot_users=2000)
    assert isinstance(p, SupportsBaselines)
    base = p.baselines("value_fusion", 3)
    assert set(base) == {"dwell_time", "clicks", "retention", "negative_rate", "topic_diversity"}
    assert 0.2 < base["dwell_time"].cv < 2.0
    plan = plan_experiment(p, "value_fusion", "dwell_time", 0.05, traffic_per_arm=0.1,
                           day_options=(1, 3))
    assert plan.users_per_arm > 0 and plan.days in (1, 3)


def test_interim_results_before_any_day_are_empty_but_valid() -> None:
    p = SimulatedABPlatform(days_per_poll=1, **SMALL)
    eid = p.launch(spec(days=3), "k")
    res = p.results(eid)
    assert res.state is ExperimentState.RUNNING and res.days_run == 0
    assert res.arms[0].metrics == {} and any("no experiment day" in n for n in res.notes)
