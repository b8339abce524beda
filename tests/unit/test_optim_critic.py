"""The surrogate critic: forecasts, guardrail risk, code checks and diverse selection."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rectune.domain import ConfigValue, FloatParameter, MetricSpec, RuleConstraint, SearchSpace
from rectune.optimizers import (
    Observation,
    Proposal,
    SurrogateCritic,
    TuningProblem,
    rank_candidates,
)
from rectune.optimizers.problem import LiftEstimate

SPACE = SearchSpace(
    parameters=[
        FloatParameter(name="x", low=0.0, high=1.0),
        FloatParameter(name="y", low=0.0, high=1.0, soft_high=0.9),
    ]
)
PROBLEM = TuningProblem(
    task="critic",
    space=SPACE,
    metrics=[
        MetricSpec(name="dwell_time", role="primary", direction="increase"),
        MetricSpec(name="clicks", role="secondary", direction="increase"),
        MetricSpec(
            name="retention", role="guardrail", direction="increase", guardrail_threshold=-0.005
        ),
    ],
    baseline={"x": 0.3, "y": 0.3},
    constraints=[RuleConstraint(parameter="y", op=">=", value=0.05)],
)


def world(x: float, y: float) -> dict[str, float]:
    # Engagement rises with x, but retention collapses once x passes 0.7.
    return {
        "dwell_time": 0.03 * (x - 0.3) + 0.01 * (y - 0.3),
        "clicks": 0.01 * (x - 0.3),
        "retention": -0.06 * max(x - 0.7, 0.0),
    }


def history(seed: int = 0) -> list[Observation]:
    rng = np.random.default_rng(seed)
    pts = [(x, y) for x in (0.1, 0.3, 0.5, 0.7, 0.85, 0.95) for y in (0.2, 0.6)]
    out = []
    for x, y in pts:
        metrics = {
            k: LiftEstimate(lift=v + float(rng.normal(0, 0.002)), se=0.002)
            for k, v in world(x, y).items()
        }
        out.append(Observation(config={"x": x, "y": y}, metrics=metrics, round=1))
    return out


def test_planted_harmful_candidate_ranks_last() -> None:
    safe = [{"x": 0.45, "y": 0.5}, {"x": 0.6, "y": 0.4}, {"x": 0.2, "y": 0.7}]
    harmful = {"x": 0.9, "y": 0.45}  # highest predicted engagement, but retention drops ~1.2%
    candidates = [*safe[:1], harmful, *safe[1:]]
    ranking = rank_candidates(PROBLEM, history(), candidates, k=4, risk_threshold=0.2)
    assert ranking.order[-1].config == harmful
    # The harmful one is rejected and judged the most harmful; a candidate far from the
    # measured arms may be refused too (its spread is honest about the distance).
    assert ranking.rejected[-1].config == harmful
    verdict = ranking.rejected[-1]
    assert verdict.risky and verdict.p_breach > 0.9
    assert verdict.forecasts["retention"].high < -0.005  # the whole interval is below -0.5%
    assert all(a.p_breach < 0.2 for a in ranking.selected)
    # Even with no threshold at all, the risk estimate puts it last.
    critic = SurrogateCritic.from_history(PROBLEM, history(), risk_threshold=1.0)
    risks = [a.p_breach for a in critic.assess(candidates)]
    assert int(np.argmax(risks)) == 1


def test_forecasts_carry_intervals_for_every_metric() -> None:
    critic = SurrogateCritic.from_history(PROBLEM, history())
    (a,) = critic.assess([{"x": 0.6, "y": 0.5}])
    truth = world(0.6, 0.5)
    for name, f in a.forecasts.items():
        assert f.low < f.mean < f.high
        assert f.low - 0.003 <= truth[name] <= f.high + 0.003
    assert a.forecasts["retention"].p_holds is not None
    assert a.forecasts["clicks"].p_holds is None
    assert a.to_dict()["forecasts"]["dwell_time"]["mean"] == a.forecasts["dwell_time"].mean


def test_without_history_risk_follows_the_prior() -> None:
    critic = SurrogateCritic.from_history(PROBLEM, [], risk_threshold=0.3)
    near, mid, far = critic.assess([{"x": 0.32, "y": 0.3}, {"x": 0.5, "y": 0.4},
                                    {"x": 1.0, "y": 0.9}])
    # The prior's spread (the task's own guardrail scale per step of distance) widens with
    # the distance from production, and the breach odds with it.
    sds = [a.forecasts["retention"].sd for a in (near, mid, far)]
    assert sds[0] < sds[1] < sds[2]
    assert sds[2] > PROBLEM.prior_scale("retention")
    assert near.p_breach <= mid.p_breach <= far.p_breach and near.p_breach < far.p_breach
    assert not near.risky


def test_code_checks_reject_invalid_soft_rule_and_duplicates() -> None:
    hist = history()
    candidates: list[Proposal | Mapping[str, ConfigValue]] = [
        {"x": 0.5, "y": 0.5},
        {"x": 1.5, "y": 0.5},  # outside hard bounds
        {"x": 0.5, "y": 0.95},  # outside soft bounds
        {"x": 0.5, "y": 0.01},  # breaks the learned rule
        hist[0].config,  # already tested
        PROBLEM.baseline,  # production
        Proposal(delta={"x": 0.2}, config={"x": 0.5, "y": 0.5}, source="llm"),  # repeat
    ]
    ranking = rank_candidates(PROBLEM, hist, candidates, k=3)
    assert [a.config for a in ranking.selected] == [{"x": 0.5, "y": 0.5}]
    reasons = [" ".join(a.problems) for a in ranking.rejected]
    for needle in ("invalid", "soft bounds", "learned rules", "tested", "repeats another"):
        assert any(needle in r for r in reasons), needle


def test_selection_prefers_diverse_candidates() -> None:
    cluster = [{"x": 0.6, "y": 0.5 + d} for d in (0.0, 0.005, 0.01)]
    other = {"x": 0.45, "y": 0.2}
    ranking = rank_candidates(PROBLEM, history(), [*cluster, other], k=2, diversity=0.5)
    picked = [a.config for a in ranking.selected]
    assert other in picked and len(picked) == 2
    assert len(ranking.rest) == 2


def test_a_round_never_stalls_when_every_candidate_looks_risky() -> None:
    from rectune.optimizers import Engine
    from rectune.optimizers.problem import LiftEstimate

    # A first round in which every arm hurt retention past its -0.5% limit: every candidate
    # looks likely to breach, far above the risk limit.
    history = [
        Observation(config={"x": x, "y": y}, round=1, metrics={
            "dwell_time": LiftEstimate(lift=0.01, se=0.004),
            "clicks": LiftEstimate(lift=0.0, se=0.004),
            "retention": LiftEstimate(lift=-0.012, se=0.002),
        })
        for x, y in ((0.2, 0.3), (0.4, 0.1), (0.6, 0.5), (0.9, 0.9))
    ]
    engine = Engine(risk_threshold=0.2)
    candidates = [{"x": 0.9, "y": 0.8}, {"x": 0.1, "y": 0.1}, {"x": 0.7, "y": 0.2}]
    ranking = engine.critique(PROBLEM, history, candidates, k=2)
    assert len(ranking.selected) == 2
    assert all(a.risky for a in ranking.selected)
    assert ranking.notes and "no safer candidate was left" in ranking.notes[0]
    # The kept ones are the least risky of the refused.
    kept = max(a.p_breach for a in ranking.selected)
    assert all(a.p_breach >= kept for a in ranking.rejected if not a.problems)
