from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rectune.domain import (
    ArmResult,
    ArmSpec,
    Candidate,
    CandidateStatus,
    ExperimentResult,
    ExperimentSpec,
    ExperimentState,
    LearnedRule,
    LifecycleError,
    MetricResult,
    MetricSpec,
    RuleConstraint,
    RuleEvidence,
    check_transition,
)

S = CandidateStatus
LEGAL = {
    (S.PROPOSED, S.REJECTED),
    (S.PROPOSED, S.APPROVED),
    (S.APPROVED, S.LIVE),
    (S.LIVE, S.COMPLETED),
    (S.LIVE, S.ABORTED),
}


@pytest.mark.parametrize("cur", list(S))
@pytest.mark.parametrize("new", list(S))
def test_every_transition_is_legal_exactly_when_listed(cur: S, new: S) -> None:
    if (cur, new) in LEGAL:
        check_transition(cur, new)
    else:
        with pytest.raises(LifecycleError, match=f"{cur.value} -> {new.value}"):
            check_transition(cur, new)


def test_candidate_walks_its_lifecycle_and_keeps_history() -> None:
    c = Candidate(id="c1", task="t", round=1, delta={"a": 1.0}, config={"a": 1.0, "b": 2})
    c = c.transition(S.APPROVED, "ok").transition(S.LIVE).transition(S.COMPLETED)
    assert [h.status for h in c.history] == [S.APPROVED, S.LIVE, S.COMPLETED]
    with pytest.raises(LifecycleError):
        c.transition(S.LIVE)
    assert S.COMPLETED.is_final and not S.LIVE.is_final


def _metric(name: str = "clicks", lift: float = 0.01) -> MetricResult:
    return MetricResult(
        metric=name,
        control_mean=1.0,
        treatment_mean=1.0 + lift,
        relative_lift=lift,
        ci_low=lift - 0.02,
        ci_high=lift + 0.02,
        p_value=0.3,
        n_control=100,
        n_treatment=100,
    )


def test_candidate_with_results_round_trips_through_json() -> None:
    c = Candidate(
        id="c1",
        task="t",
        round=2,
        delta={"a": 1.0},
        config={"a": 1.0, "m": "x", "k": 3},
        hypothesis="raise a",
        critic_justification="safe",
        result=ArmResult(arm="arm1", metrics={"clicks": _metric()}),
    ).transition(S.APPROVED)
    again = Candidate.model_validate_json(c.model_dump_json())
    assert again == c
    assert again.schema_version == 1
    assert isinstance(again.config["k"], int) and isinstance(again.config["a"], float)


def test_experiment_spec_validation_names_the_problem() -> None:
    ctl = ArmSpec(name="control", config={}, traffic=0.5)
    with pytest.raises(ValueError, match=r"sum to 1\.2"):
        ExperimentSpec(
            task="t", control=ctl, treatments=[ArmSpec(name="a", config={}, traffic=0.7)], days=7
        )
    with pytest.raises(ValueError, match="days=0"):
        ExperimentSpec(
            task="t", control=ctl, treatments=[ArmSpec(name="a", config={}, traffic=0.1)], days=0
        )
    with pytest.raises(ValueError, match="duplicate arm names"):
        ExperimentSpec(
            task="t",
            control=ctl,
            treatments=[ArmSpec(name="control", config={}, traffic=0.1)],
            days=1,
        )


def test_experiment_records_round_trip() -> None:
    spec = ExperimentSpec(
        task="t",
        control=ArmSpec(name="control", config={"a": 1.0}, traffic=0.1),
        treatments=[ArmSpec(name="a1", config={"a": 2.0}, traffic=0.1, candidate_id="c1")],
        days=7,
    )
    assert ExperimentSpec.model_validate_json(spec.model_dump_json()) == spec
    res = ExperimentResult(
        experiment_id="e1",
        task="t",
        state=ExperimentState.COMPLETED,
        days_run=7,
        arms=[ArmResult(arm="a1", metrics={"clicks": _metric()})],
        srm_p_value=0.4,
    )
    assert ExperimentResult.model_validate_json(res.model_dump_json()) == res
    assert res.arm("a1").metrics["clicks"].standard_error == pytest.approx(0.02 / 1.96, rel=1e-3)


def test_metric_result_refuses_inverted_interval() -> None:
    with pytest.raises(ValueError, match="ci_low"):
        MetricResult(
            metric="m",
            control_mean=1,
            treatment_mean=1,
            relative_lift=0,
            ci_low=0.1,
            ci_high=-0.1,
            p_value=0.5,
        )


def test_guardrail_semantics() -> None:
    ret = MetricSpec(
        name="retention", role="guardrail", direction="increase", guardrail_threshold=-0.005
    )
    neg = MetricSpec(name="neg", role="guardrail", direction="decrease", guardrail_threshold=0.03)
    assert ret.breaches(-0.006) and not ret.breaches(-0.004)
    assert neg.breaches(0.031) and not neg.breaches(-0.5)
    looser = ret.model_copy(update={"guardrail_threshold": -0.01})
    assert looser.is_looser_than(ret) and not ret.is_looser_than(looser)
    with pytest.raises(ValueError, match="<= 0"):
        MetricSpec(name="r", role="guardrail", direction="increase", guardrail_threshold=0.01)
    with pytest.raises(ValueError, match="needs a guardrail_threshold"):
        MetricSpec(name="r", role="guardrail", direction="increase")
    with pytest.raises(ValueError, match="only allowed"):
        MetricSpec(name="r", role="primary", direction="increase", guardrail_threshold=-0.1)


def test_rule_round_trip_and_constraint() -> None:
    rule = LearnedRule(
        id="r1",
        text="keep lambda low",
        parameters=["lam"],
        constraint=RuleConstraint(parameter="lam", op="<=", value=0.6),
        experiment_ids=["e1"],
        evidence=[RuleEvidence(metric="clicks", effect=-0.02, ci_low=-0.03, ci_high=-0.01)],
    )
    assert LearnedRule.model_validate_json(rule.model_dump_json()) == rule
    assert rule.constraint is not None
    assert rule.constraint.satisfied({"lam": 0.5}) and not rule.constraint.satisfied({"lam": 0.7})
    with pytest.raises(ValueError):
        LearnedRule(id="r2", text="no evidence", experiment_ids=[])


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_transition_table_is_consistent(cur: S, new: S) -> None:
    try:
        check_transition(cur, new)
        ok = True
    except LifecycleError:
        ok = False
    assert ok == ((cur, new) in LEGAL)
