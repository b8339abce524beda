"""The decision round: the last round before shipping re-tests the leaders side by side."""

from __future__ import annotations

from test_optim_launch import PROBLEM  # two knobs in [0, 1], dwell primary, negative_rate +3%

from rectune.agents.runtime import policy_settings
from rectune.config import Context
from rectune.domain import Draft, config_key
from rectune.optimizers import Engine, Observation
from rectune.optimizers.launch import decision_arms
from rectune.optimizers.problem import LiftEstimate
from rectune.ports.engine import EnginePort
from rectune.round.checks import check_drafts
from rectune.round.policy import PolicySettings, choose


def arm(x: float, y: float, lift: float, neg: float = 0.0, round: int = 1) -> Observation:
    return Observation(
        config={"x": x, "y": y},
        round=round,
        metrics={
            "dwell_time": LiftEstimate(lift=lift, se=0.01),
            "negative_rate": LiftEstimate(lift=neg, se=0.005),
        },
    )


def history() -> list[Observation]:
    """Three promising configurations, one that loses, one that breaks the guardrail."""
    return [
        arm(0.6, 0.5, 0.020),
        arm(0.5, 0.6, 0.015),
        arm(0.4, 0.5, 0.012),
        arm(0.5, 0.4, -0.020),
        arm(0.1, 0.9, 0.030, neg=0.08),
    ]


def test_decision_arms_are_the_plausible_leaders_best_first() -> None:
    got = decision_arms(PROBLEM, history(), 4)
    configs = [p.config for p in got]
    assert all(p.source == "confirm" for p in got)
    assert {"x": 0.5, "y": 0.4} not in configs  # it lost
    assert {"x": 0.1, "y": 0.9} not in configs  # its guardrail broke (+8% against +3%)
    assert configs[:2] in (
        [{"x": 0.6, "y": 0.5}, {"x": 0.5, "y": 0.6}],
        [{"x": 0.5, "y": 0.6}, {"x": 0.6, "y": 0.5}],
    )
    objectives = [p.predicted["objective"] for p in got]
    assert objectives == sorted(objectives, reverse=True) and objectives[-1] > 0
    assert len(decision_arms(PROBLEM, history(), 1)) == 1
    assert decision_arms(PROBLEM, [], 4) == []


def test_check_drafts_lets_as_many_repeats_through_as_allowed() -> None:
    tested = {config_key(o.config) for o in history()}
    drafts = [
        Draft(delta={"x": 0.6}, source="confirm"),
        Draft(delta={"y": 0.6}, source="confirm"),
        Draft(delta={"x": 0.4}, source="confirm"),
    ]

    def kept(repeats: int) -> list[bool]:
        verdicts = check_drafts(
            drafts, space=PROBLEM.space, baseline=PROBLEM.baseline, constraints=[],
            tested_keys=tested, failed_keys=set(), repeats=repeats,
        )
        return [v.kept for v in verdicts]

    assert kept(1) == [True, False, False]
    assert kept(3) == [True, True, True]
    assert kept(0) == [False, False, False]


def test_a_decision_round_spends_its_arms_on_the_leaders() -> None:
    port = EnginePort(Engine(), PROBLEM)
    obs = history()
    tested = {config_key(o.config) for o in obs}
    normal = choose(
        port, obs, PolicySettings(proposals=6, arms=3), tested=tested, failed=set(), seed=0,
        round_no=2,
    )
    decided = choose(
        port, obs, PolicySettings(proposals=6, arms=3, decide=True), tested=tested,
        failed=set(), seed=0, round_no=2,
    )
    repeats = [v for v in normal.picks if config_key(v.config or {}) in tested]
    assert len(repeats) <= 1
    leaders = [p.config for p in decision_arms(PROBLEM, obs, 2)]
    assert len(leaders) == 2
    assert [v.config for v in decided.picks[:2]] == leaders
    assert all("decision round" in v.justification for v in decided.picks[:2])
    fresh = decided.picks[2:]
    assert len(fresh) == 1 and config_key(fresh[0].config or {}) not in tested


def test_the_context_switch_reaches_the_policy() -> None:
    assert policy_settings(Context(workspace="ws")).decide is False
    assert policy_settings(Context(workspace="ws", decision_round=True)).decide is True
    assert PolicySettings(arms=4, decide=True).repeats == 2
    assert PolicySettings(arms=6, decide=True).repeats == 3
    assert PolicySettings(arms=2, decide=True).repeats == 2
    assert PolicySettings(arms=1, decide=True).repeats == 1
    assert PolicySettings(arms=4).repeats == 1
    assert PolicySettings(arms=1).repeats == 0
