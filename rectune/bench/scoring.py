"""Scoring helpers of the tuning benchmark: pure functions on plain numbers.

Nothing here runs a simulation; the runner feeds these functions oracle lifts and measured
results, and the tests feed them hand-made numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

from rectune.domain import MetricSpec
from rectune.domain.metrics import MetricRole

__all__ = [
    "PairedDifference",
    "guardrail_excess",
    "mean_ci",
    "paired_difference",
    "percent_of_optimum",
    "rounds_to_reach",
]


def percent_of_optimum(lift: float, optimum: float) -> float:
    """The lift of a configuration as a percentage of the oracle optimum's lift.

    Args:
        lift: Oracle lift of the configuration on the primary objective.
        optimum: Oracle lift of the optimum on the same objective.

    Returns:
        ``100 * lift / optimum``; NaN when the optimum does not improve on production, since
        the ratio then means nothing.

    Example:
        >>> percent_of_optimum(0.03, 0.04)
        75.0
    """
    if not optimum > 0.0:
        return math.nan
    return 100.0 * lift / optimum


def rounds_to_reach(curve: Sequence[float], level: float) -> int | None:
    """The first round (counted from 1) whose value is at least `level`.

    Args:
        curve: One value per round, e.g. the percentage of the optimum after each round.
        level: The level to reach, in the same unit.

    Returns:
        The round number, or None when the curve never gets there.

    Example:
        >>> rounds_to_reach([10.0, 85.0, 96.0], 80.0)
        2
    """
    for i, value in enumerate(curve):
        if value >= level:
            return i + 1
    return None


def guardrail_excess(metrics: Sequence[MetricSpec], lifts: Mapping[str, float]) -> float:
    """How far past their limits the guardrails are, summed over the breached ones.

    Each breached guardrail contributes the distance between its lift and its threshold, in
    the metric's bad direction (0.004 for a retention lift of -0.9% against a -0.5% limit).
    Zero means no guardrail is breached.

    Args:
        metrics: The task's metric specifications; only guardrails count.
        lifts: Relative lift per metric (a missing guardrail counts as not breached).

    Example:
        >>> g = MetricSpec(name="retention", role="guardrail", direction="increase",
        ...                guardrail_threshold=-0.005)
        >>> round(guardrail_excess([g], {"retention": -0.009}), 6)
        0.004
    """
    total = 0.0
    for m in metrics:
        if m.role is not MetricRole.GUARDRAIL or m.name not in lifts:
            continue
        assert m.guardrail_threshold is not None
        total += max(0.0, m.sign * (m.guardrail_threshold - lifts[m.name]))
    return total


@dataclass(frozen=True)
class PairedDifference:
    """The mean of paired differences with a confidence interval.

    Attributes:
        mean: Mean of ``a - b`` over the pairs.
        low: Lower end of the interval (NaN with fewer than two pairs).
        high: Upper end of the interval.
        n: Number of pairs with both values finite.
        level: Confidence level of the interval.
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def to_dict(self) -> dict[str, float | int]:
        """The numbers as a JSON-able dictionary."""
        return {
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "level": self.level,
        }

    def favours(self) -> str:
        """Which side the interval favours: ``"a"``, ``"b"`` or ``"neither"``."""
        if self.n < 2 or math.isnan(self.low):
            return "neither"
        if self.low > 0:
            return "a"
        if self.high < 0:
            return "b"
        return "neither"


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """The mean of `values` and its Student-t confidence interval (NaN values ignored).

    Example:
        >>> m, lo, hi = mean_ci([1.0, 2.0, 3.0])
        >>> m, round(lo, 3), round(hi, 3)
        (2.0, -0.484, 4.484)
    """
    xs = [float(v) for v in values if not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(xs) / n
    if n < 2:
        return mean, math.nan, math.nan
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(var / n)
    return mean, mean - half, mean + half


def paired_difference(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> PairedDifference:
    """Mean of ``a[i] - b[i]`` with a Student-t interval over the pairs.

    Pairs where either side is NaN are dropped; the two sequences are matched by position
    (one position per seed).

    Raises:
        ValueError: when the sequences have different lengths.

    Example:
        >>> d = paired_difference([90.0, 95.0, 100.0], [80.0, 85.0, 90.0])
        >>> d.mean, d.low, d.high
        (10.0, 10.0, 10.0)
    """
    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} values against {len(b)}; need pairs")
    diffs = [
        float(x) - float(y)
        for x, y in zip(a, b, strict=True)
        if not (math.isnan(float(x)) or math.isnan(float(y)))
    ]
    mean, low, high = mean_ci(diffs, level)
    return PairedDifference(mean=mean, low=low, high=high, n=len(diffs), level=level)
