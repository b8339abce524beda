"""Proposers: validity, soft bounds, learned rules, duplicates, cold start and speed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rectune.domain import (
    CategoricalParameter,
    FloatParameter,
    IntParameter,
    MetricSpec,
    RuleConstraint,
    SearchSpace,
    config_key,
)
from rectune.optimizers import (
    BayesianProposer,
    Observation,
    Proposer,
    SobolProposer,
    TuningProblem,
)
from rectune.optimizers.problem import LiftEstimate
from rectune.optimizers.synthetic import quadratic_bowl

METRICS = [
    MetricSpec(name="dwell_time", role="primary", direction="increase"),
    MetricSpec(
        name="negative_rate", role="guardrail", direction="decrease", guardrail_threshold=0.03
    ),
]


@st.composite
def problems(draw: st.DrawFn) -> TuningProblem:
    """Mixed spaces with random soft boxes, a random baseline and random learned rules."""
    w_lo = draw(st.floats(0.0, 3.0))
    w_hi = draw(st.floats(w_lo + 0.1, 4.0))
    cap_lo = draw(st.integers(1, 9))
    cap_hi = draw(st.integers(cap_lo, 10))
    soft_modes = tuple(draw(st.sets(st.sampled_from("abc"), min_size=1)))
    space = SearchSpace(
        parameters=[
            FloatParameter(name="w", low=0.0, high=4.0, soft_low=w_lo, soft_high=w_hi),
            FloatParameter(
                name="lr", low=0.001, high=1.0, scale="log", soft_high=draw(st.floats(0.01, 1.0))
            ),
            IntParameter(name="cap", low=1, high=10, soft_low=cap_lo, soft_high=cap_hi),
            CategoricalParameter(
                name="mode", choices=("a", "b", "c"), soft_choices=tuple(sorted(soft_modes))
            ),
        ]
    )
    baseline = {
        "w": draw(st.floats(0.0, 4.0)),
        "lr": draw(st.floats(0.001, 1.0)),
        "cap": draw(st.integers(1, 10)),
        "mode": draw(st.sampled_from("abc")),
    }
    constraints = []
    if draw(st.booleans()):
        constraints.append(
            RuleConstraint(parameter="w", op="<=", value=draw(st.floats(w_lo + 0.05, 4.0)))
        )
    if draw(st.booleans()) and cap_hi > cap_lo:
        constraints.append(RuleConstraint(parameter="cap", op="!=", value=cap_lo))
    return TuningProblem(
        task="prop", space=space, metrics=METRICS, baseline=baseline, constraints=constraints
    )


def random_history(problem: TuningProblem, n: int, seed: int) -> list[Observation]:
    props = SobolProposer().propose(problem, [], n, seed=seed)
    rng = np.random.default_rng(seed)
    return [
        Observation(
            config=p.config,
            round=1 + i // 4,
            metrics={
                "dwell_time": LiftEstimate(lift=float(rng.normal(0, 0.01)), se=0.004),
                "negative_rate": LiftEstimate(lift=float(rng.normal(0, 0.01)), se=0.005),
            },
        )
        for i, p in enumerate(props)
    ]


def check_proposals(
    problem: TuningProblem, history: list[Observation], proposer: Proposer, n: int, seed: int
) -> None:
    props = proposer.propose(problem, history, n, seed=seed)
    assert 0 < len(props) <= n
    tested = {config_key(problem.baseline)} | {o.key for o in history}
    keys = [p.key for p in props]
    assert len(set(keys)) == len(keys), "duplicate proposals"
    assert not tested & set(keys), "a proposal repeats a tested configuration"
    for p in props:
        cfg = problem.space.validate_config(p.config)  # hard bounds and types
        assert cfg == p.config
        assert isinstance(p.config["cap"], int)
        assert isinstance(p.config["w"], float) and isinstance(p.config["mode"], str)
        assert not problem.space.soft_violations(p.config), p.config
        assert problem.satisfies_rules(p.config), p.config
        assert {**problem.baseline, **p.delta} == p.config


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), seed=st.integers(0, 2**16))
def test_sobol_respects_bounds_types_and_rules(problem: TuningProblem, seed: int) -> None:
    check_proposals(problem, random_history(problem, 3, seed), SobolProposer(), 6, seed)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), seed=st.integers(0, 2**16), n_hist=st.sampled_from([0, 2, 9]))
def test_bayes_respects_bounds_types_and_rules(
    problem: TuningProblem, seed: int, n_hist: int
) -> None:
    history = random_history(problem, n_hist, seed)
    check_proposals(problem, history, BayesianProposer(), 4, seed)


def test_proposers_satisfy_the_protocol() -> None:
    assert isinstance(SobolProposer(), Proposer)
    assert isinstance(BayesianProposer(), Proposer)


def test_sobol_is_seeded() -> None:
    problem = quadratic_bowl().problem
    a = SobolProposer().propose(problem, [], 4, seed=3)
    b = SobolProposer().propose(problem, [], 4, seed=3)
    c = SobolProposer().propose(problem, [], 4, seed=4)
    assert [p.config for p in a] == [p.config for p in b] != [p.config for p in c]


def test_first_round_moves_one_knob_per_arm_by_a_safe_step() -> None:
    problem = quadratic_bowl().problem
    proposer = BayesianProposer()
    props = proposer.propose(problem, [], 4, seed=0)
    assert len(props) == 4 and {p.source for p in props} == {"bayes"}
    # Each arm moves a different knob, by the cold step of its soft range.
    assert sorted(next(iter(p.delta)) for p in props) == sorted(problem.space.names)
    for p in props:
        ((name, v),) = p.delta.items()
        lo, hi = problem.space[name].soft_range  # type: ignore[union-attr]
        step = abs(float(v) - float(problem.baseline[name])) / (hi - lo)
        assert step == pytest.approx(proposer.cold_step, abs=0.01)
    # With more arms than knobs, the second pass goes the other way.
    more = proposer.propose(problem, [], 6, seed=0)
    twice = [p for p in more if next(iter(p.delta)) == next(iter(more[4].delta))]
    assert len(twice) == 2
    signs = {float(p.config[n]) > float(problem.baseline[n]) for p in twice for n in p.delta}
    assert signs == {True, False}


def test_bayes_proposal_call_on_a_long_history() -> None:
    world = quadratic_bowl()
    history = random_history(world.problem, 40, seed=1)
    proposer = BayesianProposer()
    proposer.propose(world.problem, history, 4, seed=0)  # warm imports and caches
    props = proposer.propose(world.problem, history, 4, seed=1)
    assert len(props) == 4 and {p.source for p in props} == {"bayes"}
