"""The synthetic task families and the benchmark's run record on them (no simulator)."""

from __future__ import annotations

import numpy as np
import pytest

from rectune.bench.runner import BenchSettings, compute_optimum, run_one
from rectune.bench.synthetic import is_synthetic, synthetic_task
from rectune.domain import CategoricalParameter


@pytest.mark.parametrize("name", ["synth_ridge:0", "synth_mixed:0", "synth_mixed:3"])
def test_optimum_is_feasible_on_a_guardrail_boundary_and_beats_production(name: str) -> None:
    task = synthetic_task(name)
    cfg, value = task.optimum
    lifts = task.truth(cfg)
    assert task.problem.guardrails_hold(lifts) and value > 0.01
    assert task.problem.guardrails_hold(task.truth(task.problem.baseline))
    slack = [abs(lifts[g.name] - float(g.guardrail_threshold or 0.0))
             for g in task.problem.guardrails]
    assert min(slack) < 1e-3  # the constrained optimum sits on a guardrail


def test_families_are_constrained_noisy_and_one_has_a_categorical() -> None:
    ridge, mixed = synthetic_task("synth_ridge:1"), synthetic_task("synth_mixed:1")
    assert 4 <= len(ridge.problem.space) <= 8 and 4 <= len(mixed.problem.space) <= 8
    assert any(isinstance(p, CategoricalParameter) for p in mixed.problem.space)
    assert is_synthetic("synth_mixed:1") and not is_synthetic("value_fusion")
    with pytest.raises(ValueError, match="unknown synthetic family"):
        synthetic_task("synth_nope:0")


def test_measurements_are_paired_by_salt_and_share_the_control() -> None:
    task = synthetic_task("synth_ridge:0")
    base = dict(task.problem.baseline)
    a = task.measure([base, base], "s0:r1")
    b = task.measure([base, base], "s0:r1")
    assert a[0].metrics["engagement"].relative_lift == b[0].metrics["engagement"].relative_lift
    # Two arms of one round, both at production: their errors correlate through the control.
    pairs = [task.measure([base, base], f"s{i}:r1") for i in range(400)]
    x = np.array([[p[0].metrics["engagement"].relative_lift,
                   p[1].metrics["engagement"].relative_lift] for p in pairs])
    assert 0.35 < float(np.corrcoef(x.T)[0, 1]) < 0.65


def test_a_run_records_user_harm_round_one_loss_and_the_common_launch() -> None:
    settings = BenchSettings(tasks=("synth_mixed:0",), methods=("rectune",), rounds=2, arms=3,
                             seeds=1, days=3, traffic_per_arm=0.1)
    opt = compute_optimum("synth_mixed:0", settings)
    run = run_one("synth_mixed:0", "rectune", 0, settings, opt)
    assert run["arms_tested"] == 6 and len(run["rounds"]) == 2
    assert run["user_harm"] == pytest.approx(run["primary_loss"] + run["harm"])
    assert 0.0 <= run["first_round_worst_loss"] < 0.05
    common = run["common_launch"]
    assert set(common) >= {"config", "oracle", "pct_of_optimum", "breaches"}
