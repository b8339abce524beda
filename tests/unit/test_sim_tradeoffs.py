"""The trade-offs the simulator must reproduce (oracle lifts, common random numbers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rectune.simulator.engine import Simulator
from rectune.simulator.knobs import PRODUCTION, stack_config
from rectune.simulator.optimum import load_optima
from rectune.simulator.oracle import OracleOptimum, feasible, oracle_lifts, oracle_optimum
from rectune.simulator.population import population_means, run_cohort
from rectune.simulator.tasks import TASKS, get_task

N_USERS = 4_000


def lifts(task: str, config: dict[str, float | int], seed: int = 0) -> dict[str, float]:
    return oracle_lifts(task, config, seed=seed, n_users=N_USERS, days=5, pre_days=1)


def test_a_strong_fatigue_penalty_buys_diversity_with_engagement() -> None:
    lift = lifts("diversity", {"div_fatigue_penalty": 0.5})
    assert lift["topic_diversity"] > 0.02
    assert lift["dwell_time"] < -0.01 and lift["clicks"] < -0.005


def test_over_diversified_pages_lose_clicks_past_the_guardrail() -> None:
    heavy = {"div_mmr_lambda": 0.8, "div_topic_cap": 2, "div_creator_cap": 1}
    lift = lifts("diversity", heavy)
    assert lift["clicks"] < -0.01
    assert not feasible(get_task("diversity"), lift)  # clicks guardrail (-1%) is breached


def test_clickbait_heavy_fusion_raises_negative_feedback_and_loses_dwell() -> None:
    bait = {"vf_w_click": 3.0, "vf_w_dwell": 0.0, "vf_w_negative": 0.0}
    lift = lifts("value_fusion", bait)
    assert lift["negative_rate"] > 0.05
    assert lift["dwell_time"] < -0.03
    assert not feasible(get_task("value_fusion"), lift)


def test_a_wider_candidate_cut_costs_serving() -> None:
    lift = lifts("value_based_retrieval", {"vbr_candidate_cut": 300})
    production = int(PRODUCTION["vbr_candidate_cut"])
    assert lift["serving_cost"] == pytest.approx(300 / production - 1.0, abs=0.03)
    assert not feasible(get_task("value_based_retrieval"), lift)


def test_production_has_zero_lift() -> None:
    lift = lifts("value_fusion", {})
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in lift.values())


def _population(config: dict[str, float | int], users: int = 6_000) -> dict[str, float]:
    sim = Simulator.create(seed=0)
    ids = np.arange(users) + 10_000_000
    return population_means(run_cohort(sim, ids, stack_config(config), 5, seed=0, pre_days=2))


def test_fusion_scale_and_the_mmr_trade_off_interact() -> None:
    """The re-ranker weighs lambda against the fused score in nats: doubling the fusion
    weights takes back most of what a stronger MMR costs in clicks."""
    base = _population({})
    doubled = {k: 2 * v for k, v in PRODUCTION.items() if k.startswith("vf_w")}
    mmr = {"div_mmr_lambda": 0.4}

    def lift(cfg: dict[str, float | int]) -> float:
        return _population(cfg)["clicks"] / base["clicks"] - 1

    a, b, ab = lift(doubled), lift(mmr), lift({**doubled, **mmr})
    interaction = ab - a - b
    assert interaction > 0.015 and interaction > 0.5 * min(abs(a), abs(b)), (a, b, ab)


def test_fusion_weights_have_a_fixed_scale() -> None:
    """Doubling every fusion weight is a real move: the re-ranker reads the score in nats."""
    base = _population({})
    doubled = {k: 2 * v for k, v in PRODUCTION.items() if k.startswith("vf_w")}
    moved = _population(doubled)
    assert abs(moved["topic_diversity"] / base["topic_diversity"] - 1) > 0.01


def test_oracle_optimum_is_feasible_and_cached(tmp_path: Path) -> None:
    def search() -> OracleOptimum:
        return oracle_optimum(
            "diversity", 0, cache_dir=tmp_path, budget=4, search_users=150, final_users=300, days=1
        )

    best = search()
    task = get_task("diversity")
    assert set(best.config) == set(task.space.names)
    task.validate_config(best.config)
    assert best.primary_lift >= 0.0 and feasible(task, best.lifts)
    assert len(list(tmp_path.glob("oracle_optimum_diversity_*.json"))) == 1
    assert search() == best


def test_shipped_optima_table() -> None:
    table = load_optima()
    assert set(table["tasks"]) == set(TASKS)
    for name, entry in table["tasks"].items():
        task = get_task(name)
        task.validate_config(entry["config"])
        # A decently tuned production. The ceiling is 3%; diversity's optimum sits at
        # +3.6% (docs/simulator.md says so), inside the 0.06-3.4% production reports up to the
        # oracle's noise, so the bound here is 4%: a world whose optimum drifts past it fails.
        assert 0.0 < entry["primary_lift"] <= 0.04 + 2 * entry["oracle_noise"], name
        assert feasible(task, entry["lifts"])
        assert entry["oracle_noise"] > 0 and entry["method"]
        assert all(f[0] <= entry["primary_lift"] + 1e-12 for f in entry["finalists"] if f[1])
