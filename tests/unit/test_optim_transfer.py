"""Transfer: a task whose optimum moved after a model launch starts from the old elites."""

from __future__ import annotations

import numpy as np

from rectune.optimizers import (
    BayesianProposer,
    Engine,
    Observation,
    SobolProposer,
    transfer_observations,
)
from rectune.optimizers.synthetic import quadratic_bowl, run_loop


def test_a_moved_task_starts_from_the_old_elites_and_never_ships_them_untested() -> None:
    world = quadratic_bowl()
    problem = world.problem
    # Before the model launch: a wide search whose best arms sit near the old optimum.
    before = run_loop(world, SobolProposer(), rounds=6, arms=4, seed=3)
    prior = transfer_observations(before, problem)
    assert prior and all(o.transferred for o in prior)
    best_old = max(before, key=lambda o: world.true_objective(o.config))
    enc_x = lambda c: np.array([float(c[k]) for k in problem.space.names])  # noqa: E731
    fresh = BayesianProposer().propose(problem, [], 4, seed=0)
    warm = BayesianProposer().propose(problem, prior, 4, seed=0)
    dist = lambda ps: float(np.mean([np.linalg.norm(enc_x(p.config) - enc_x(best_old.config))  # noqa: E731
                                     for p in ps]))
    # From scratch, round 1 steps around production; warm, it looks near the old elites.
    assert dist(warm) < dist(fresh)
    # Old evidence alone never ships anything: production stays until this task measures.
    assert Engine().recommend(problem, prior).is_baseline


def test_transfer_keeps_the_targets_knobs_and_metrics_only() -> None:
    world = quadratic_bowl()
    problem = world.problem
    old = world.observe({"a": 1.2, "b": 1.0, "c": 1.0, "d": 9.0}, np.random.default_rng(0))
    extra = Observation(config={**old.config, "d": 1.0, "zzz": 3}, metrics=old.metrics)
    out = transfer_observations([old, extra], problem, metrics=["dwell_time"])
    # d=9 is outside the hard box [0, 4]: it cannot be re-tested here, so it is skipped.
    assert [o.config for o in out] == [{"a": 1.2, "b": 1.0, "c": 1.0, "d": 1.0}]
    assert list(out[0].metrics) == ["dwell_time"]
