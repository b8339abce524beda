"""The group-sequential guardrail monitor: boundaries, error spending, stopping power."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rectune.domain import Direction, MetricRole, MetricSpec
from rectune.tools.sequential import look_guardrail, obrien_fleming_spending, spending_bounds
from rectune.tools.stats import compare_means

GUARD = MetricSpec(
    name="clicks", role=MetricRole.GUARDRAIL, direction=Direction.INCREASE,
    guardrail_threshold=-0.01,
)


def test_bounds_match_published_lan_demets_obrien_fleming_values() -> None:
    # gsDesign sfLDOF, K = 5 equally spaced looks, one-sided alpha 0.025.
    published = [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]
    assert spending_bounds([0.2, 0.4, 0.6, 0.8, 1.0], 0.025) == pytest.approx(published, abs=2e-3)
    assert spending_bounds([1.0], 0.025) == pytest.approx([1.95996], abs=1e-4)
    assert obrien_fleming_spending(1.0, 0.025) == pytest.approx(0.025)
    assert obrien_fleming_spending(0.0, 0.025) == 0.0


def _paths(t: np.ndarray, drift: float, runs: int, seed: int) -> np.ndarray:
    """z statistics at the looks of a Brownian score with the given drift at t = 1."""
    rng = np.random.default_rng(seed)
    dt = np.diff(np.concatenate([[0.0], t]))
    s = (rng.normal(size=(runs, t.size)) * np.sqrt(dt) + drift * dt).cumsum(axis=1)
    return np.asarray(s / np.sqrt(t))


def test_error_spent_at_the_threshold_equals_alpha_for_uneven_looks() -> None:
    # Information of per-user metrics grows slower than days; the boundaries follow the
    # fractions actually given, and each look spends its share.
    t = np.array([0.31, 0.5, 0.63, 0.74, 0.84, 0.92, 1.0])
    c = np.array(spending_bounds(list(t), 0.025))
    z = _paths(t, 0.0, 200_000, 1)
    crossed = z >= c
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    assert (first >= 0).mean() == pytest.approx(0.025, abs=0.0015)
    spent = [obrien_fleming_spending(x, 0.025) for x in t]
    for k in range(t.size):
        want = spent[k] - (spent[k - 1] if k else 0.0)
        assert (first == k).mean() == pytest.approx(want, abs=0.0012)


def test_stops_most_arms_three_standard_errors_past_the_limit() -> None:
    t = np.array([i / 7 for i in range(1, 8)])
    c = np.array(spending_bounds(list(t), 0.025))
    stop = (_paths(t, 3.0, 50_000, 2) >= c).any(axis=1).mean()
    assert stop >= 0.75
    harm4 = (_paths(t, 4.0, 50_000, 3) >= c).any(axis=1).mean()
    assert harm4 >= 0.95


def test_look_is_signed_by_the_guardrail_direction() -> None:
    assert look_guardrail(GUARD, -0.05, 0.01, 2.0).breached
    assert not look_guardrail(GUARD, 0.05, 0.01, 2.0).breached
    # On the log-ratio scale: (log 0.99 - log 0.97) / (0.01 / 0.97).
    want = (math.log(0.99) - math.log(0.97)) / (0.01 / 0.97)
    assert look_guardrail(GUARD, -0.03, 0.01, 2.0).z == pytest.approx(want)
    neg = GUARD.model_copy(
        update={"name": "negative_rate", "direction": Direction.DECREASE,
                "guardrail_threshold": 0.03}
    )
    assert look_guardrail(neg, 0.06, 0.01, 2.0).breached
    assert not look_guardrail(neg, -0.2, 0.01, 2.0).breached
    assert math.isinf(look_guardrail(GUARD, -0.02, 0.0, 2.0).z)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="increase"):
        spending_bounds([0.5, 0.4, 1.0], 0.025)
    with pytest.raises(ValueError, match="alpha"):
        spending_bounds([1.0], 1.5)
    with pytest.raises(ValueError, match="not a guardrail"):
        look_guardrail(GUARD.model_copy(update={"guardrail_threshold": None}), 0.0, 0.01, 2.0)


def test_log_ratio_holds_the_one_sided_level_on_heavy_tailed_users() -> None:
    """Lognormal users (CV 2, like the world's dwell): the raw lift's harmful tail is long.

    Both arms share one distribution and the threshold is the truth (0), so every rejection
    at one look with the single-look bound z >= 1.96 (level 2.5%) is a false stop. The raw
    statistic overshoots its level; the log ratio's must stay within binomial noise of it.
    """
    rng = np.random.default_rng(7)
    runs, n, sigma = 4000, 1500, math.sqrt(math.log(5.0))  # CV^2 = e^sigma^2 - 1 = 4
    raw = logged = 0
    spec = GUARD.model_copy(update={"guardrail_threshold": 0.0})
    for _ in range(runs):
        c, t = rng.lognormal(0.0, sigma, n), rng.lognormal(0.0, sigma, n)
        cmp = compare_means(c, t)
        raw += -cmp.lift / cmp.se >= 1.96
        logged += look_guardrail(spec, cmp.lift, cmp.se, 1.96).breached
    sd = math.sqrt(0.025 * 0.975 / runs)
    assert raw / runs > 0.025 + 2 * sd  # the defect the log scale removes
    assert abs(logged / runs - 0.025) < 3 * sd
