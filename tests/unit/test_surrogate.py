"""The surrogate: heteroscedastic noise, the pinned baseline, and recovering a known optimum."""

from __future__ import annotations

import numpy as np
import pytest

from rectune.domain import FloatParameter, MetricSpec, SearchSpace
from rectune.optimizers import (
    BayesianProposer,
    Observation,
    SobolProposer,
    SurrogateModel,
    TuningProblem,
    recommend_launch,
    trust_region,
)
from rectune.optimizers.problem import LiftEstimate
from rectune.optimizers.synthetic import quadratic_bowl, run_loop

LINE = TuningProblem(
    task="line",
    space=SearchSpace(parameters=[FloatParameter(name="w", low=0.0, high=4.0)]),
    metrics=[
        MetricSpec(name="dwell_time", role="primary", direction="increase"),
        MetricSpec(
            name="negative_rate", role="guardrail", direction="decrease",
            guardrail_threshold=0.03,
        ),
    ],
    baseline={"w": 1.0},
)


def obs(w: float, lift: float, se: float, round: int = 1) -> Observation:
    return Observation(
        config={"w": w}, round=round,
        metrics={"dwell_time": LiftEstimate(lift=lift, se=se),
                 "negative_rate": LiftEstimate(lift=0.0, se=se)},
    )


def predict(model: SurrogateModel, w: float) -> tuple[float, float]:
    mean, sd = model.gps["dwell_time"].predict(model.encoder.encode_many([{"w": w}]))
    return float(mean[0]), float(sd[0])


def test_baseline_is_pinned_and_prior_widens_with_distance() -> None:
    model = SurrogateModel.fit(LINE, [])
    m0, s0 = predict(model, 1.0)
    assert abs(m0) < 1e-6 and s0 < 1e-3
    _, s_near = predict(model, 1.2)
    _, s_far = predict(model, 4.0)
    assert s_near < s_far <= LINE.prior_lift_scale * 1.01


def test_noisy_points_count_less_than_precise_ones() -> None:
    # Two arms at nearly the same place disagree; the precise one should win.
    history = [
        obs(2.0, 0.02, 0.002), obs(2.02, -0.02, 0.03), obs(3.0, 0.01, 0.004),
        obs(0.5, -0.01, 0.004),
    ]
    model = SurrogateModel.fit(LINE, history)
    m, s = predict(model, 2.01)
    assert m == pytest.approx(0.02, abs=0.006)
    assert s < 0.005


def test_fitted_length_scales_flag_the_knob_that_matters() -> None:
    world = quadratic_bowl()
    history = run_loop(world, SobolProposer(), rounds=5, arms=4, seed=0)
    model = SurrogateModel.fit(world.problem, history)
    ls = model.gps["negative_rate"].length_scales
    # negative_rate depends on `a` only.
    assert int(np.argmin(ls)) == 0


def test_trust_region_grows_on_success_and_shrinks_on_failure() -> None:
    good = [obs(1.5, 0.03, 0.002, round=1), obs(2.0, 0.05, 0.002, round=2)]
    grown = trust_region(model := SurrogateModel.fit(LINE, good), model.incumbent())
    bad = [*good, *(obs(w, -0.05, 0.002, round=r) for r, w in ((3, 0.2), (4, 3.9)))]
    bad += [obs(0.4, -0.05, 0.002, round=5), obs(3.5, -0.05, 0.002, round=6)]
    shrunk = trust_region(model := SurrogateModel.fit(LINE, bad), model.incumbent())
    assert grown.length > 0.5 > shrunk.length
    assert shrunk.lo[0] <= model.encoder.encode({"w": 2.0})[0] <= shrunk.hi[0]


def final_share_of_optimum(proposer: BayesianProposer | SobolProposer, seed: int) -> float:
    world = quadratic_bowl()
    history = run_loop(world, proposer, rounds=6, arms=4, seed=seed)
    rec = recommend_launch(world.problem, history)
    assert world.problem.guardrails_hold(world.true_lifts(rec.config)), "launch breaches"
    return max(world.true_objective(rec.config), 0.0) / world.true_objective(world.optimum)


def test_bayes_loop_recovers_the_constrained_optimum() -> None:
    # 6 rounds x 4 arms on a 4-knob bowl whose optimum sits on a guardrail boundary.
    share = final_share_of_optimum(BayesianProposer(), seed=0)
    assert share >= 0.75


@pytest.mark.slow
def test_bayes_beats_sobol_over_seeds() -> None:
    seeds = range(6)
    bayes = [final_share_of_optimum(BayesianProposer(), s) for s in seeds]
    sobol = [final_share_of_optimum(SobolProposer(), s) for s in seeds]
    assert float(np.median(bayes)) >= 0.75
    assert float(np.mean(bayes)) > float(np.mean(sobol)) + 0.2
