"""Power planning: the quantity tested, the (1 + lift) factor and the correction applied."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower

from rectune.domain import MetricSpec
from rectune.tools.platform import (
    MetricBaseline,
    minimum_detectable_effect,
    plan_ab_test,
    power_analysis,
    power_at,
)
from rectune.tools.stats import compare_means, holm

BASE = MetricBaseline(metric="dwell_time", mean=900.0, cv=0.6, days=7, population=60_000)


def test_power_analysis_matches_the_closed_form_with_the_alternative_se() -> None:
    plan = power_analysis(BASE, 0.02)
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert plan.users_per_arm == pytest.approx((1 + 1.02**2) * (z * 0.6 / 0.02) ** 2, rel=0.01)
    assert plan.traffic_per_arm == pytest.approx(plan.users_per_arm / 60_000)
    assert minimum_detectable_effect(BASE, plan.users_per_arm) == pytest.approx(0.02, rel=0.01)
    assert power_at(BASE, 0.02, plan.users_per_arm) == pytest.approx(0.8, abs=0.002)
    assert not power_analysis(BASE, 0.001).feasible
    with pytest.raises(ValueError, match="mde"):
        power_analysis(BASE, 0.0)


def test_agrees_with_statsmodels_for_tiny_effects() -> None:
    ours = power_at(BASE, 0.001, 2_000_000)
    theirs = NormalIndPower().power(effect_size=0.001 / 0.6, nobs1=2_000_000, alpha=0.05)
    assert ours == pytest.approx(theirs, abs=0.003)


def test_coverage_and_holm_family_lower_the_power() -> None:
    half = BASE.model_copy(update={"coverage": 0.5})
    assert power_at(half, 0.02, 20_000) == pytest.approx(power_at(BASE, 0.02, 10_000))
    assert power_at(BASE, 0.02, 10_000, tests=4) < power_at(BASE, 0.02, 10_000) - 0.1


def test_planned_power_is_realised_by_the_test_and_the_holm_flag() -> None:
    """Simulated per-user data with a multiplicative effect: the flag people read (Holm over
    two arms, one of them null) comes out at the planned rate."""
    rng = np.random.default_rng(4)
    mde, n, runs = 0.03, 3_000, 1_500
    # Lognormal users with cv 0.6 (the spread scales with the mean under a lift).
    sigma = np.sqrt(np.log(1 + 0.6**2))
    base = MetricBaseline(metric="m", mean=1.0, cv=0.6, days=1)
    planned = power_at(base, mde, n, tests=2)
    flagged = raw = 0
    for _ in range(runs):
        c = rng.lognormal(-sigma**2 / 2, sigma, n)
        good = rng.lognormal(-sigma**2 / 2, sigma, n) * (1 + mde)
        null = rng.lognormal(-sigma**2 / 2, sigma, n)
        p = [compare_means(c, good).p_value, compare_means(c, null).p_value]
        raw += p[0] < 0.05
        flagged += holm(p, 0.05)[1][0]
    assert flagged / runs == pytest.approx(planned, abs=0.04)
    assert raw / runs == pytest.approx(power_at(base, mde, n), abs=0.04)


class _Platform:
    def __init__(self, cv_by_days: dict[int, float]) -> None:
        self.cv = cv_by_days

    def baselines(self, task: str, days: int) -> dict[str, MetricBaseline]:
        return {
            name: MetricBaseline(metric=name, mean=1.0, cv=self.cv[days], days=days,
                                 population=60_000, coverage=0.8)
            for name in ("dwell_time", "clicks", "retention")
        }


def test_plan_ab_test_picks_the_shortest_powered_duration() -> None:
    metrics = [
        MetricSpec(name="dwell_time", role="primary", direction="increase"),
        MetricSpec(name="retention", role="secondary", direction="increase"),
        MetricSpec(name="clicks", role="guardrail", direction="increase",
                   guardrail_threshold=-0.01),
    ]
    p = _Platform({3: 0.6, 5: 0.35, 7: 0.3})
    plan = plan_ab_test(p, "new_skill", metrics, arms=3, traffic_per_arm=0.1, mde=0.03,
                        day_options=(3, 5, 7))
    assert plan.tests == 3 and plan.users_per_arm == 6_000
    base5 = p.baselines("x", 5)["dwell_time"]
    assert plan.days == 5 and plan.powered
    assert plan.planned_power == pytest.approx(power_at(base5, 0.03, 6_000, tests=3))
    assert plan.detectable_effect == pytest.approx(
        minimum_detectable_effect(base5, 6_000, tests=3)
    )
    guard = next(m for m in plan.metrics if m.metric == "clicks")
    assert 0 < guard.power < 1
    weak = plan_ab_test(p, "new_skill", metrics, arms=3, traffic_per_arm=0.1, mde=0.002,
                        day_options=(3, 5, 7))
    assert weak.days == 7 and not weak.powered
    with pytest.raises(ValueError, match="primary"):
        plan_ab_test(p, "x", metrics[1:], arms=1, traffic_per_arm=0.1, mde=0.01)


def test_spread_elasticity_zero_plans_a_shift_that_does_not_widen_the_spread() -> None:
    """A large additive effect on a bounded metric: the spread stays, and the plan with
    elasticity 0 (what the simulator's topic diversity and retention declare) is realised;
    the scaling assumption would understate that power by several points."""
    rng = np.random.default_rng(7)
    mde, runs = 0.16, 1_500
    shift = MetricBaseline(metric="m", mean=1.0, cv=0.6, days=1, spread_elasticity=0.0)
    scale = shift.model_copy(update={"spread_elasticity": 1.0})
    n = power_analysis(shift, mde, tests=2).users_per_arm
    assert power_at(scale, mde, n, tests=2) < power_at(shift, mde, n, tests=2) - 0.04
    flagged = 0
    for _ in range(runs):
        c = rng.normal(1.0, 0.6, n)
        good = rng.normal(1.0 + mde, 0.6, n)
        null = rng.normal(1.0, 0.6, n)
        p = [compare_means(c, good).p_value, compare_means(c, null).p_value]
        flagged += holm(p, 0.05)[1][0]
    assert flagged / runs == pytest.approx(power_at(shift, mde, n, tests=2), abs=0.035)


def test_simulator_metrics_declare_how_their_spread_moves() -> None:
    from rectune.simulator.metrics import METRICS

    assert METRICS["topic_diversity"].spread_elasticity == 0.0
    assert METRICS["retention"].spread_elasticity == 0.0
    assert METRICS["clicks"].spread_elasticity == 1.0
