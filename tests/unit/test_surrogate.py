"""The surrogate: heteroscedastic and shared-control noise, the pinned baseline, winsorized
tails, the explorable region, and recovering a known optimum."""

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
)
from rectune.optimizers.bayesian import explorable_region
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
    # The spread grows with the distance from production and is not capped at one effect
    # scale: a move across the whole box is far less certain than a one-step move
    # (`rectune.optimizers.reach`; the old cap made bold untested arms look safe).
    assert s_near < LINE.prior_scale("dwell_time") < s_far


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


def test_the_explorable_region_grows_with_rounds_and_skips_harmful_anchors() -> None:
    one = [obs(1.3, 0.01, 0.003, round=1), obs(0.7, -0.2, 0.003, round=1)]
    r1 = explorable_region(SurrogateModel.fit(LINE, one))
    more = [*one, obs(1.6, 0.02, 0.003, round=2), obs(1.9, 0.02, 0.003, round=3)]
    r3 = explorable_region(SurrogateModel.fit(LINE, more))
    assert r1.radius < r3.radius <= 1.0
    anchors = sorted(float(a[0]) for a in r1.anchors)
    enc = SurrogateModel.fit(LINE, one).encoder
    # Production and the good arm anchor the region; the arm that lost 20% does not.
    assert anchors == pytest.approx(sorted(enc.encode({"w": w})[0] for w in (1.0, 1.3)))


def test_a_catastrophic_arm_is_winsorized_so_small_differences_stay_visible() -> None:
    history = [obs(w, 0.004 * w, 0.002) for w in (1.2, 1.6, 2.0, 2.4, 2.8)]
    history.append(obs(3.9, -0.4, 0.002))
    model = SurrogateModel.fit(LINE, history)
    gp = model.gps["dwell_time"]
    # The spread of the standardized targets comes from the bulk, not from the -40% arm.
    assert gp.scale < 0.1
    m_lo, _ = predict(model, 1.2)
    m_hi, _ = predict(model, 2.4)
    assert m_hi > m_lo


def test_arms_sharing_a_control_are_not_counted_as_independent() -> None:
    # Two arms of one experiment, both lucky by the same control draw, versus the same two
    # results from two experiments: the shared control makes the evidence weaker.
    same = [obs(2.0, 0.02, 0.006, round=1), obs(2.1, 0.02, 0.006, round=1)]
    apart = [obs(2.0, 0.02, 0.006, round=1), obs(2.1, 0.02, 0.006, round=2)]
    _, sd_same = predict(SurrogateModel.fit(LINE, same), 2.05)
    _, sd_apart = predict(SurrogateModel.fit(LINE, apart), 2.05)
    assert sd_same > sd_apart


def final_share_of_optimum(proposer: BayesianProposer | SobolProposer, seed: int) -> float:
    world = quadratic_bowl()
    history = run_loop(world, proposer, rounds=6, arms=4, seed=seed)
    rec = recommend_launch(world.problem, history)
    assert world.problem.guardrails_hold(world.true_lifts(rec.config)), "launch breaches"
    return max(world.true_objective(rec.config), 0.0) / world.true_objective(world.optimum)


def test_bayes_loop_recovers_the_constrained_optimum() -> None:
    # 6 rounds x 4 arms on a 4-knob bowl whose optimum sits on a guardrail boundary.
    # The launch rule wants P(guardrail holds) >= 0.9 on noisy arms, so it stops short of the
    # boundary the optimum sits on. Seed 0 reaches 0.62, seeds 0-5 0.66-0.87 (mean 0.73).
    # With slopes but no curvature term seed 0 reached 0.56 (mean 0.67; a linear trend
    # overshoots this bowl's curved boundary), with neither 0.81 (mean 0.74); docs/engine.md.
    share = final_share_of_optimum(BayesianProposer(), seed=0)
    assert share >= 0.6


@pytest.mark.slow
def test_bayes_beats_sobol_over_seeds() -> None:
    seeds = range(6)
    bayes = [final_share_of_optimum(BayesianProposer(), s) for s in seeds]
    sobol = [final_share_of_optimum(SobolProposer(), s) for s in seeds]
    # The safety levels (P(loss within the arm-loss limit) >= 0.9 under an honest spread)
    # slow the walk to the boundary a little: 0.55-0.82 per seed after six rounds (median
    # 0.66, mean 0.67; Sobol's mean 0.24).
    assert float(np.median(bayes)) >= 0.6
    assert float(np.mean(bayes)) > float(np.mean(sobol)) + 0.2
