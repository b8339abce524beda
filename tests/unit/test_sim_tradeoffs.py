"""The trade-offs the simulator must reproduce (oracle lifts, common random numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rectune.simulator.oracle import OracleOptimum, feasible, oracle_lifts, oracle_optimum
from rectune.simulator.tasks import get_task

N_USERS = 4_000


def lifts(task: str, config: dict[str, float | int], seed: int = 0) -> dict[str, float]:
    return oracle_lifts(task, config, seed=seed, n_users=N_USERS, days=5, pre_days=1)


def test_diversity_heavy_reranking_raises_diversity_and_retention_lowers_clicks() -> None:
    heavy = {"div_mmr_lambda": 0.8, "div_topic_cap": 2, "div_creator_cap": 1}
    lift = lifts("diversity", heavy)
    assert lift["topic_diversity"] > 0.05
    assert lift["retention"] > 0.002
    assert lift["clicks"] < -0.015
    assert not feasible(get_task("diversity"), lift)  # clicks guardrail (-1%) is breached


def test_clickbait_heavy_fusion_raises_clicks_and_negative_feedback() -> None:
    bait = {"vf_w_click": 3.0, "vf_w_negative": 0.0}
    lift = lifts("value_fusion", bait)
    assert lift["clicks"] > 0.005
    assert lift["negative_rate"] > 0.10
    assert lift["dwell_time"] < -0.03
    assert not feasible(get_task("value_fusion"), lift)


@pytest.mark.slow
def test_a_wider_candidate_cut_buys_engagement_with_serving_cost() -> None:
    lift = lifts("value_based_retrieval", {"vbr_candidate_cut": 300})
    assert lift["dwell_time"] > 0.01
    assert lift["serving_cost"] == pytest.approx(1.0, abs=0.03)
    assert not feasible(get_task("value_based_retrieval"), lift)


def test_production_has_zero_lift() -> None:
    lift = lifts("value_fusion", {})
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in lift.values())


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
