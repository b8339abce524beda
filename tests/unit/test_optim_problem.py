"""Tuning problem, observations, proposals and the unit-cube encoding."""

from __future__ import annotations

import numpy as np
import pytest

from rectune.domain import (
    CategoricalParameter,
    Config,
    ConfigError,
    FloatParameter,
    IntParameter,
    LearnedRule,
    MetricResult,
    MetricSpec,
    RuleConstraint,
    SearchSpace,
)
from rectune.optimizers import (
    CandidateFilter,
    LiftEstimate,
    Observation,
    Proposal,
    SpaceEncoder,
    TuningProblem,
    constraints_from_rules,
    describe_delta,
)

SPACE = SearchSpace(
    parameters=[
        FloatParameter(name="w", low=0.0, high=4.0, soft_low=0.5, soft_high=3.0),
        FloatParameter(name="lr", low=0.001, high=1.0, scale="log"),
        IntParameter(name="cap", low=1, high=10, soft_high=8),
        CategoricalParameter(name="mode", choices=("a", "b", "c"), soft_choices=("a", "b")),
    ]
)
METRICS = [
    MetricSpec(name="dwell_time", role="primary", direction="increase"),
    MetricSpec(name="serving_cost", role="primary", direction="decrease", priority=2),
    MetricSpec(
        name="negative_rate", role="guardrail", direction="decrease", guardrail_threshold=0.03
    ),
]
BASE: Config = {"w": 1.0, "lr": 0.1, "cap": 4, "mode": "a"}


def make_problem(**kw: object) -> TuningProblem:
    return TuningProblem(task="t", space=SPACE, metrics=METRICS, baseline=BASE, **kw)


def test_problem_normalizes_baseline_and_weights_primaries() -> None:
    p = TuningProblem(task="t", space=SPACE, metrics=METRICS, baseline={**BASE, "cap": 4.0})
    assert p.baseline["cap"] == 4 and isinstance(p.baseline["cap"], int)
    w = p.objective_weights
    assert w["dwell_time"] == pytest.approx(2 / 3)
    assert w["serving_cost"] == pytest.approx(-1 / 3)
    assert p.objective({"dwell_time": 0.03, "serving_cost": 0.03}) == pytest.approx(0.01)
    assert p.guardrails_hold({"negative_rate": 0.02})
    assert not p.guardrails_hold({"negative_rate": 0.04})


def test_problem_rejects_bad_specs() -> None:
    # Pydantic wraps the domain's errors; both are ValueErrors with the domain's message.
    with pytest.raises(ValueError, match="'w'"):
        TuningProblem(task="t", space=SPACE, metrics=METRICS, baseline={**BASE, "w": 9.0})
    with pytest.raises(ValueError, match="primary"):
        TuningProblem(task="t", space=SPACE, metrics=METRICS[2:], baseline=BASE)
    with pytest.raises(ValueError, match="unknown parameter"):
        make_problem(constraints=[RuleConstraint(parameter="nope", op="<=", value=1.0)])


def test_admissibility_checks_soft_box_and_rules() -> None:
    p = make_problem(constraints=[RuleConstraint(parameter="w", op="<=", value=2.0)])
    assert p.is_admissible({**BASE, "w": 1.5})
    assert not p.is_admissible({**BASE, "w": 2.5})  # rule
    assert not p.is_admissible({**BASE, "cap": 9})  # soft box
    assert not p.is_admissible({**BASE, "mode": "c"})  # soft choices
    assert not p.is_admissible({**BASE, "w": "x"})  # invalid


def test_constraints_from_rules_keeps_active_machine_rules() -> None:
    rule = LearnedRule(
        id="r1", text="keep w low", experiment_ids=["e1"],
        constraint=RuleConstraint(parameter="w", op="<=", value=2.0),
    )
    retired = rule.model_copy(update={"id": "r2", "status": "retired"})
    prose = LearnedRule(id="r3", text="be careful", experiment_ids=["e1"])
    assert constraints_from_rules([rule, retired, prose]) == [rule.constraint]


def test_observation_from_metric_results_uses_standard_error() -> None:
    r = MetricResult(
        metric="dwell_time", control_mean=10.0, treatment_mean=10.2, relative_lift=0.02,
        ci_low=0.0, ci_high=0.04, p_value=0.05,
    )
    obs = Observation.from_metric_results(BASE, [r], round=2, traffic=0.1)
    assert obs.metrics["dwell_time"].lift == 0.02
    assert obs.metrics["dwell_time"].se == pytest.approx(0.04 / (2 * 1.96), rel=1e-3)
    with pytest.raises(ValueError):
        LiftEstimate(lift=0.0, se=-1.0)


def test_proposal_builders_compute_delta() -> None:
    p = Proposal.from_delta(SPACE, BASE, {"w": 2.0}, source="llm")
    assert p.delta == {"w": 2.0} and p.config["lr"] == 0.1
    q = Proposal.from_config(SPACE, BASE, {**BASE, "cap": 5})
    assert q.delta == {"cap": 5}
    with pytest.raises(ConfigError):
        Proposal.from_delta(SPACE, BASE, {"bogus": 1})
    assert describe_delta(BASE, q.config) == "raise cap 4 -> 5"


def test_encoder_round_trip_and_soft_clipping() -> None:
    enc = SpaceEncoder(SPACE)
    assert enc.dim == 6
    x = enc.encode(BASE)
    assert x[0] == pytest.approx(0.2)  # features scale the soft box [0.5, 3] to [0, 1]
    assert x[1] == pytest.approx((np.log(0.1) - np.log(0.001)) / (np.log(1.0) - np.log(0.001)))
    assert enc.decode(x) == BASE
    # Outside the soft box in every way: clipped, rounded, restricted to soft choices.
    far = np.array([1.0, 1.0, 1.0, 0.0, 0.3, 1.0])
    cfg = enc.decode(far)
    assert cfg == {"w": 3.0, "lr": 1.0, "cap": 8, "mode": "b"}


def test_encoder_unit_params_cover_integers_evenly() -> None:
    enc = SpaceEncoder(SPACE)
    grid = np.linspace(0, 1, 80)
    caps = [enc.from_unit_params(np.array([0.5, 0.5, u, 0.5]))["cap"] for u in grid]
    assert set(caps) == set(range(1, 9))
    modes = {enc.from_unit_params(np.array([0.5, 0.5, 0.5, u]))["mode"] for u in (0.0, 0.99)}
    assert modes == {"a", "b"}


def test_candidate_filter_refuses_baseline_tested_and_repeats() -> None:
    p = make_problem()
    tested = Observation(config={**BASE, "w": 2.0}, metrics={})
    f = CandidateFilter(p, [tested])
    assert not f.admit(BASE)
    assert not f.admit(tested.config)
    assert f.admit({**BASE, "w": 2.5})
    assert not f.admit({**BASE, "w": 2.5})
