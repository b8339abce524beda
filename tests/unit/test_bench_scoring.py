"""Scoring and reporting of the tuning benchmark on hand-made numbers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from rectune.bench.report import markdown, summarize
from rectune.bench.scoring import (
    guardrail_excess,
    mean_ci,
    paired_difference,
    percent_of_optimum,
    rounds_to_reach,
)
from rectune.domain import MetricSpec


def test_percent_of_optimum() -> None:
    assert percent_of_optimum(0.02, 0.04) == pytest.approx(50.0)
    assert percent_of_optimum(-0.01, 0.04) == pytest.approx(-25.0)
    assert percent_of_optimum(0.0, 0.05) == 0.0
    # An optimum that does not beat production makes the ratio meaningless.
    assert math.isnan(percent_of_optimum(0.01, 0.0))
    assert math.isnan(percent_of_optimum(0.01, -0.02))


def test_rounds_to_reach_counts_from_one() -> None:
    curve = [0.0, 70.0, 82.0, 96.0, 91.0]
    assert rounds_to_reach(curve, 80.0) == 3
    assert rounds_to_reach(curve, 95.0) == 4
    assert rounds_to_reach(curve, 99.0) is None
    assert rounds_to_reach([], 80.0) is None


def test_guardrail_excess_sums_distances_past_the_limits() -> None:
    metrics = [
        MetricSpec(name="dwell_time", role="primary", direction="increase"),
        MetricSpec(
            name="retention", role="guardrail", direction="increase", guardrail_threshold=-0.005
        ),
        MetricSpec(
            name="negative_rate", role="guardrail", direction="decrease", guardrail_threshold=0.03
        ),
    ]
    # Inside both limits: no excess; the primary never counts.
    assert guardrail_excess(metrics, {"dwell_time": -0.5, "retention": -0.004}) == 0.0
    # Retention 0.3 points below its floor, negative feedback 2 points above its ceiling.
    got = guardrail_excess(metrics, {"dwell_time": 0.1, "retention": -0.008, "negative_rate": 0.05})
    assert got == pytest.approx(0.003 + 0.02)


def test_paired_difference_matches_a_t_interval() -> None:
    a = [92.0, 88.0, 95.0, 90.0]
    b = [80.0, 85.0, 83.0, 86.0]
    d = paired_difference(a, b)
    diffs = [12.0, 3.0, 12.0, 4.0]
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 3)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3) * sd / sqrt(4)
    assert d.n == 4
    assert d.mean == pytest.approx(7.75)
    assert d.low == pytest.approx(mean - half)
    assert d.high == pytest.approx(mean + half)
    # Four noisy pairs: the interval still reaches below zero, so it favours neither side.
    assert d.low < 0 < d.high and d.favours() == "neither"
    assert paired_difference([9.0, 11.0, 10.0], [1.0, 2.0, 0.5]).favours() == "a"
    assert paired_difference([1.0, 2.0, 0.5], [9.0, 11.0, 10.0]).favours() == "b"


def test_paired_difference_drops_nan_pairs_and_checks_lengths() -> None:
    d = paired_difference([1.0, math.nan, 3.0], [0.0, 2.0, 1.0])
    assert d.n == 2 and d.mean == pytest.approx(1.5)
    single = paired_difference([1.0], [0.0])
    assert single.n == 1 and math.isnan(single.low) and single.favours() == "neither"
    with pytest.raises(ValueError, match="pairs"):
        paired_difference([1.0, 2.0], [1.0])


def test_mean_ci_and_an_interval_straddling_zero() -> None:
    m, lo, hi = mean_ci([1.0, -1.0, 2.0, -2.0])
    assert m == 0.0 and lo < 0 < hi
    assert paired_difference([1.0, -1.0, 2.0], [0.0, 0.0, 0.0]).favours() == "neither"
    assert math.isnan(mean_ci([])[0])


def _run(method: str, seed: int, curve: list[float], breaching: int) -> dict[str, Any]:
    arm = {"excess": 0.0, "oracle": {"dwell_time": curve[-1] / 2000}}
    rounds = [
        {
            "launched_breaches": False,
            "launched_is_production": pct == 0.0,
            "pct_of_optimum": pct,
            "arms": [arm],
        }
        for pct in curve
    ]
    return {
        "task": "value_fusion",
        "method": method,
        "seed": seed,
        "curve": curve,
        "final_pct": curve[-1],
        "final_breaches": False,
        "rounds_to_80": rounds_to_reach(curve, 80.0),
        "rounds_to_95": rounds_to_reach(curve, 95.0),
        "arms_tested": 4,
        "breaching_arms": breaching,
        "harm": 0.001 * breaching,
        "rounds": rounds,
        "timing": {"method_seconds": 1.0, "simulator_seconds": 2.0},
    }


def test_summary_pairs_rectune_with_each_peer_by_seed() -> None:
    data: dict[str, Any] = {
        "settings": {
            "tasks": ["value_fusion"],
            "rounds": 2,
            "arms": 2,
            "seeds": 3,
            "world_seed": 0,
            "population": 1000,
            "days": 1,
            "oracle_users": 100,
        },
        "methods": {"rectune": "ok", "sobol": "ok", "ax": "absent: package ax is not installed"},
        "optima": {"value_fusion": {"primary_lift": 0.05, "search_lift": 0.05}},
        "runs": [
            _run("rectune", 0, [50.0, 90.0], 0),
            _run("rectune", 1, [60.0, 100.0], 1),
            _run("rectune", 2, [0.0, 95.0], 0),
            _run("sobol", 0, [40.0, 70.0], 2),
            _run("sobol", 1, [50.0, 80.0], 3),
            _run("sobol", 2, [0.0, 60.0], 2),
        ],
    }
    summary = summarize(data)
    rt = summary["tasks"]["value_fusion"]["rectune"]
    assert rt["median_pct"] == 95.0
    assert rt["reached_95"] == 2 and rt["median_rounds_to_95"] == 2.0
    assert rt["breaching_arms"] == 1
    assert summary["tasks"]["value_fusion"]["ax"]["status"].startswith("absent")
    pair = summary["paired"]["value_fusion"]["sobol"]
    assert pair["pct"]["mean"] == pytest.approx((20 + 20 + 35) / 3)
    assert pair["pct"]["n"] == 3 and pair["pct"]["favours"] == "rectune"
    assert pair["breaching_arms"]["mean"] == pytest.approx(-2.0)
    table = markdown(data, summary)
    assert "| value_fusion | ax | absent" in table
    assert "| value_fusion | sobol |" in table
    # Best tested arms: dwell 0.045, 0.05 and 0.0475 against an optimum of 0.05.
    assert rt["median_best_tested_pct"] == pytest.approx(95.0)
