"""Launch recommendation: shrunken estimates, feasibility, fallback and confirmation."""

from __future__ import annotations

import numpy as np
import pytest

from rectune.domain import FloatParameter, MetricSpec, SearchSpace
from rectune.optimizers import (
    Observation,
    TuningProblem,
    empirical_bayes_shrink,
    recommend_launch,
)
from rectune.optimizers.problem import LiftEstimate

PROBLEM = TuningProblem(
    task="launch",
    space=SearchSpace(
        parameters=[
            FloatParameter(name="x", low=0.0, high=1.0),
            FloatParameter(name="y", low=0.0, high=1.0),
        ]
    ),
    metrics=[
        MetricSpec(name="dwell_time", role="primary", direction="increase"),
        MetricSpec(
            name="negative_rate",
            role="guardrail",
            direction="decrease",
            guardrail_threshold=0.03,
        ),
    ],
    baseline={"x": 0.5, "y": 0.5},
)


def arm(
    x: float,
    y: float,
    lift: float,
    se: float,
    neg: float = 0.0,
    neg_se: float = 0.003,
    round: int = 1,
) -> Observation:
    return Observation(
        config={"x": x, "y": y},
        round=round,
        metrics={
            "dwell_time": LiftEstimate(lift=lift, se=se),
            "negative_rate": LiftEstimate(lift=neg, se=neg_se),
        },
    )


def winners_curse_history() -> list[Observation]:
    """A consistently good config (+2%, three precise arms, good neighbours) and a lucky one.

    The lucky arm shows +6% once, with a wide interval, in a region where its neighbours
    show nothing: the best *observed* lift, but not the best configuration.
    """
    steady = [
        arm(0.7, 0.6, lift, 0.004, round=r) for r, lift in ((1, 0.021), (2, 0.019), (3, 0.020))
    ]
    near_steady = [arm(0.75, 0.6, 0.018, 0.004), arm(0.65, 0.65, 0.017, 0.004)]
    lucky = [arm(0.1, 0.9, 0.06, 0.03, round=3)]
    near_lucky = [
        arm(0.15, 0.85, 0.001, 0.004),
        arm(0.05, 0.95, -0.002, 0.004),
        arm(0.2, 0.95, 0.0, 0.004),
    ]
    return [*steady, *near_steady, *lucky, *near_lucky]


@pytest.mark.parametrize("estimator", ["gp", "eb"])
def test_does_not_fall_for_the_winners_curse(estimator: str) -> None:
    history = winners_curse_history()
    best_observed = max(history, key=lambda o: o.metrics["dwell_time"].lift)
    assert best_observed.config == {"x": 0.1, "y": 0.9}
    rec = recommend_launch(PROBLEM, history, estimator=estimator)  # type: ignore[arg-type]
    # The steady configuration or its equally good neighbour, never the lucky arm.
    assert rec.config in ({"x": 0.7, "y": 0.6}, {"x": 0.75, "y": 0.6})
    assert not rec.is_baseline
    assert 0.012 < rec.objective < 0.025  # shrunken, not the optimistic raw maximum
    assert rec.p_better > 0.95 and rec.p_feasible > 0.9


def test_keeps_production_when_nothing_is_confidently_better() -> None:
    history = [arm(0.2, 0.2, 0.004, 0.01), arm(0.8, 0.8, -0.003, 0.01), arm(0.2, 0.8, 0.006, 0.012)]
    rec = recommend_launch(PROBLEM, history)
    assert rec.is_baseline and rec.config == PROBLEM.baseline and rec.delta == {}
    assert "Keep production" in rec.reason
    # The leader by shrunken objective, seen once, gets a second look; production never does.
    assert rec.confirmation is not None and rec.confirmation.source == "confirm"
    assert rec.confirmation.config in ({"x": 0.2, "y": 0.8}, {"x": 0.2, "y": 0.2})
    quiet = recommend_launch(PROBLEM, history, confirm_promising=False)
    assert quiet.is_baseline and quiet.confirmation is None
    # Seen twice already: no more confirmation arms for it.
    lead = dict(rec.confirmation.config)
    twice = [*history, arm(float(lead["x"]), float(lead["y"]), 0.0, 0.012, round=2)]
    again = recommend_launch(PROBLEM, twice)
    assert again.confirmation is None or again.confirmation.config != lead


def test_never_ships_a_likely_guardrail_breach() -> None:
    history = [
        arm(0.9, 0.9, 0.05, 0.004, neg=0.045, neg_se=0.004),  # big win, breaches +3%
        arm(0.9, 0.8, 0.045, 0.004, neg=0.04, neg_se=0.004),
        arm(0.6, 0.5, 0.01, 0.002, neg=0.0, neg_se=0.003),  # modest, safe
        arm(0.6, 0.55, 0.011, 0.002, neg=0.002, neg_se=0.003),
    ]
    rec = recommend_launch(PROBLEM, history)
    assert rec.config["x"] == 0.6
    assert all(a["config"]["x"] != 0.9 or not a["eligible"] for a in rec.alternatives)


def test_weak_evidence_comes_with_a_confirmation_arm() -> None:
    history = [arm(0.7, 0.6, 0.02, 0.008), arm(0.2, 0.2, -0.01, 0.008), arm(0.3, 0.8, 0.0, 0.008)]
    rec = recommend_launch(PROBLEM, history, min_p_better=0.7, min_p_feasible=0.8)
    assert not rec.is_baseline
    assert rec.confirmation is not None
    assert rec.confirmation.source == "confirm"
    assert rec.confirmation.config == rec.config
    strong = recommend_launch(PROBLEM, winners_curse_history())
    assert strong.confirmation is None or strong.n_observations < 2


def test_empirical_bayes_shrinks_noisy_estimates_hardest() -> None:
    means, sds = empirical_bayes_shrink([0.05, 0.01, 0.012, 0.011], [0.04, 0.003, 0.003, 0.003])
    assert means[0] < 0.02
    assert abs(means[1] - 0.01) < abs(means[0] - 0.05)
    assert np.all(sds <= np.array([0.04, 0.003, 0.003, 0.003]) + 1e-12)
    single, _ = empirical_bayes_shrink([0.05], [0.05], prior_sd=0.05)
    assert single[0] == pytest.approx(0.025)


def test_engine_passes_its_launch_thresholds_to_the_recommendation() -> None:
    from rectune.optimizers import Engine

    history = [arm(0.8, 0.8, 0.03, 0.012), arm(0.2, 0.2, -0.01, 0.012)]
    strict = Engine(min_p_better=0.999).recommend(PROBLEM, history)
    loose = Engine(min_p_better=0.5).recommend(PROBLEM, history)
    assert strict.is_baseline
    assert not loose.is_baseline and loose.config == {"x": 0.8, "y": 0.8}
    assert loose.p_better < 0.999


def test_a_thin_guardrail_margin_needs_a_replicate_before_shipping() -> None:
    # A clear win whose negative_rate sits close to its +3% limit, seen once.
    once = [
        arm(0.8, 0.8, 0.04, 0.008, neg=0.016, neg_se=0.008),
        arm(0.2, 0.2, -0.01, 0.008),
        arm(0.3, 0.8, 0.0, 0.008),
    ]
    rec = recommend_launch(PROBLEM, once, replicate_above=0.975)
    assert 0.9 <= rec.alternatives[0]["p_feasible"] < 0.975
    assert rec.is_baseline
    assert rec.confirmation is not None and rec.confirmation.config == {"x": 0.8, "y": 0.8}
    assert recommend_launch(PROBLEM, once, replicate_above=0.9).config == {"x": 0.8, "y": 0.8}
    # The replicate agrees: now it ships.
    twice = [*once, arm(0.8, 0.8, 0.035, 0.008, neg=0.008, neg_se=0.008, round=2)]
    shipped = recommend_launch(PROBLEM, twice, replicate_above=0.975)
    assert shipped.config == {"x": 0.8, "y": 0.8} and shipped.n_observations == 2
