"""The file hand-off platform: written files, idempotency and results validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rectune.domain import ArmSpec, ExperimentSpec, ExperimentState, SpecError
from rectune.tools.files import FileHandoffPlatform, ResultsFileError
from rectune.tools.platform import ABPlatform

METRICS = ["dwell_time", "clicks"]


def make_spec() -> ExperimentSpec:
    return ExperimentSpec(
        task="value_fusion",
        days=7,
        control=ArmSpec(name="control", config={"vf_w_click": 1.0}, traffic=0.1),
        treatments=[
            ArmSpec(name="a", config={"vf_w_click": 0.8}, traffic=0.1, candidate_id="c1"),
            ArmSpec(name="b", config={"vf_w_dwell": 1.1}, traffic=0.1),
        ],
        metrics=METRICS,
    )


def entry(lift: float = 0.01, p: float = 0.04) -> dict[str, Any]:
    return {"relative_lift": lift, "ci_low": lift - 0.01, "ci_high": lift + 0.01, "p_value": p}


EID = "handoff-2c70e12b7a06"  # experiment_id_for("key", prefix="handoff")


def good_results(eid: str = EID) -> dict[str, Any]:
    return {
        "experiment_id": eid,
        "days_run": 7,
        "arms": {
            "a": {"metrics": {"dwell_time": entry(0.02), "clicks": entry(-0.001, 0.85)}},
            "b": {"metrics": {"dwell_time": entry(), "clicks": entry()}},
        },
    }


def drop(folder: Path, data: object) -> None:
    (folder / "results.json").write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_launch_writes_spec_and_one_config_per_arm(tmp_path: Path) -> None:
    p = FileHandoffPlatform(tmp_path)
    assert isinstance(p, ABPlatform)
    eid = p.launch(make_spec(), "key")
    folder = tmp_path / eid
    assert json.loads((folder / "spec.json").read_text())["task"] == "value_fusion"
    assert eid == EID
    arms = {f.stem: json.loads(f.read_text()) for f in (folder / "arms").glob("*.json")}
    assert set(arms) == {"control", "a", "b"}
    assert arms["a"]["config"] == {"vf_w_click": 0.8} and arms["a"]["traffic"] == 0.1
    assert arms["control"]["role"] == "control"
    assert p.launch(make_spec(), "key") == eid
    assert FileHandoffPlatform(tmp_path).launch(make_spec(), "key") == eid
    assert len([d for d in tmp_path.iterdir() if d.is_dir()]) == 1
    with pytest.raises(SpecError, match="already used"):
        p.launch(make_spec().model_copy(update={"days": 3}), "key")


def test_running_until_results_then_completed(tmp_path: Path) -> None:
    p = FileHandoffPlatform(tmp_path)
    eid = p.launch(make_spec(), "key")
    st = p.status(eid)
    assert st.state is ExperimentState.RUNNING and st.days_run == 0
    with pytest.raises(ResultsFileError, match="no results yet"):
        p.results(eid)
    drop(tmp_path / eid, good_results())
    assert p.status(eid).state is ExperimentState.COMPLETED
    res = p.results(eid)
    assert res.arm("a").candidate_id == "c1"
    a = res.arm("a").metrics["dwell_time"]
    assert a.relative_lift == pytest.approx(0.02) and a.p_adjusted == pytest.approx(0.16)
    assert not a.significant and res.days_run == 7


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["arms"].update({"zzz": d["arms"]["a"]}), "unknown arm 'zzz'"),
        (lambda d: d["arms"].update({"control": d["arms"]["a"]}), "control is the reference"),
        (lambda d: d["arms"].pop("b"), "missing arm 'b'"),
        (lambda d: d["arms"]["a"]["metrics"].pop("clicks"), "missing metric 'clicks'"),
        (lambda d: d["arms"]["a"]["metrics"].update({"fun": entry()}), "unknown metric 'fun'"),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].update({"p_value": "0.3"}),
         "p_value: '0.3' is not a number"),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].update({"p_value": 1.5}),
         "outside \\[0, 1\\]"),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].update({"ci_low": 0.5}), "ci_low <="),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].pop("ci_high"), "missing field 'ci_high'"),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].update({"n_control": -3}),
         "non-negative integer"),
        (lambda d: d.update({"days_run": "seven"}), "days_run"),
        (lambda d: d.update({"extra": 1}), "unknown key 'extra'"),
        (lambda d: d.pop("experiment_id"), "missing 'experiment_id'"),
        (lambda d: d.update({"experiment_id": "handoff-other"}), "copied from another"),
        (lambda d: d.update({"days_run": 70}), "not possible for a 7-day test"),
        (lambda d: d.update({"days_run": 0}), "not possible for a 7-day test"),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].update({"n_treatment": 0}),
         "n_treatment 0 means no users"),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].update(
            {"ci_low": -0.001, "ci_high": -0.001}), "has no width"),
        (lambda d: d["arms"]["a"]["metrics"]["clicks"].update({"p_value": 0.001}),
         "says significant at 5% but the interval"),
        (lambda d: d["arms"]["a"]["metrics"]["dwell_time"].update({"p_value": 0.6}),
         "says not significant at 5% but the interval"),
    ],
)
def test_bad_results_file_is_rejected_and_records_nothing(
    tmp_path: Path, mutate: Any, message: str
) -> None:
    p = FileHandoffPlatform(tmp_path)
    eid = p.launch(make_spec(), "key")
    record_before = (tmp_path / eid / "record.json").read_text()
    data = good_results()
    mutate(data)
    drop(tmp_path / eid, data)
    with pytest.raises(ResultsFileError, match=message):
        p.status(eid)
    assert (tmp_path / eid / "record.json").read_text() == record_before
    # A corrected file replaces the bad one and is accepted.
    drop(tmp_path / eid, good_results())
    assert p.status(eid).state is ExperimentState.COMPLETED


def test_nan_and_broken_json_are_rejected(tmp_path: Path) -> None:
    p = FileHandoffPlatform(tmp_path)
    eid = p.launch(make_spec(), "key")
    drop(tmp_path / eid, "{not json")
    with pytest.raises(ResultsFileError, match="not valid JSON"):
        p.status(eid)
    data = good_results()
    text = json.dumps(data).replace('"relative_lift": 0.02', '"relative_lift": NaN')
    drop(tmp_path / eid, text)
    with pytest.raises(ResultsFileError, match="not a finite number"):
        p.results(eid)


def test_abort_and_aborted_arms(tmp_path: Path) -> None:
    p = FileHandoffPlatform(tmp_path)
    eid = p.launch(make_spec(), "key")
    data = good_results(eid)
    data["arms"]["b"]["aborted"] = True
    data["arms"]["b"]["abort_reason"] = "negative_rate breached"
    drop(tmp_path / eid, data)
    st = p.status(eid)
    assert st.aborted_arms == {"b": "negative_rate breached"}
    eid2 = p.launch(make_spec(), "other")
    assert p.abort(eid2, "stop").state is ExperimentState.ABORTED
    assert (tmp_path / eid2 / "ABORTED.txt").exists()


def test_rendered_files_readme_and_the_round_to_resume(tmp_path: Path) -> None:
    from rectune.domain import ConfigFile
    from rectune.domain.experiments import EXPERIMENT_ID_PLACEHOLDER

    spec = make_spec()
    content = json.dumps({"exp": EXPERIMENT_ID_PLACEHOLDER, "w": 0.8})
    arms = [
        a.model_copy(update={"config_file": ConfigFile(file_name="fusion.json", content=content)})
        for a in spec.treatments
    ]
    spec = spec.model_copy(
        update={"treatments": arms, "description": "rectune round 3 (thread t-1): resume me"}
    )
    eid = FileHandoffPlatform(tmp_path).launch(spec, "key")
    deployed = json.loads((tmp_path / eid / "arms" / "a" / "fusion.json").read_text())
    assert deployed == {"exp": eid, "w": 0.8}
    readme = (tmp_path / eid / "README.txt").read_text()
    assert "thread t-1" in readme and "resume me" in readme
    assert f'"experiment_id": "{eid}"' in readme and "arms/a/fusion.json" in readme
    assert "dwell_time" in readme and "10.0% of users" in readme


def test_guardrail_verdicts_and_holm_by_role_from_the_spec(tmp_path: Path) -> None:
    from rectune.domain import GuardrailOutcome, MetricSpec

    specs = [
        MetricSpec(name="dwell_time", role="primary", direction="increase"),
        MetricSpec(name="clicks", role="guardrail", direction="increase",
                   guardrail_threshold=-0.01),
    ]
    spec = make_spec().model_copy(update={"metric_specs": specs})
    p = FileHandoffPlatform(tmp_path)
    eid = p.launch(spec, "key-verdicts")
    data = good_results(eid)
    data["arms"]["a"]["metrics"]["clicks"] = {  # well inside the -1% limit
        "relative_lift": 0.0, "ci_low": -0.004, "ci_high": 0.004, "p_value": 0.99}
    data["arms"]["b"]["metrics"]["clicks"] = {  # reaches past it: not shown safe
        "relative_lift": -0.008, "ci_low": -0.02, "ci_high": 0.004, "p_value": 0.2}
    drop(tmp_path / eid, data)
    res = p.results(eid)
    assert res.arm("a").guardrail("clicks").outcome is GuardrailOutcome.PASSED
    assert res.arm("b").guardrail("clicks").outcome is GuardrailOutcome.INCONCLUSIVE
    dwell = res.arm("a").metrics["dwell_time"]
    assert dwell.p_adjusted == pytest.approx(0.08)  # Holm over the 2 arms' primaries only
    eid2 = p.launch(spec, "key-breach")
    data = good_results(eid2)
    data["arms"]["a"]["breached_guardrails"] = ["clicks"]
    data["arms"]["a"]["aborted"] = True
    data["days_run"] = 2
    drop(tmp_path / eid2, data)
    arm = p.results(eid2).arm("a")
    assert arm.guardrail("clicks").outcome is GuardrailOutcome.BREACHED
    assert arm.stopped_early and not arm.full_horizon
