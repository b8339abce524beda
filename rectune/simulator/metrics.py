"""Per-user aggregates and the metric definitions computed from them.

The simulator keeps one row of running sums per user and period (pre-period and experiment),
never per-impression logs, so memory grows with users, not with traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "METRICS",
    "Col",
    "MetricDef",
    "MetricKind",
    "UserMetric",
    "metric_values",
    "new_aggregates",
]

F64 = NDArray[np.float64]


class Col(IntEnum):
    """Columns of the per-user aggregate table."""

    DAYS = 0
    ACTIVE_DAYS = 1
    REQUESTS = 2
    IMPRESSIONS = 3
    CLICKS = 4
    DWELL = 5
    NEGATIVES = 6
    TOPICS = 7
    COST = 8
    LIKES = 9


N_COLS = len(Col)


def new_aggregates(n_users: int) -> F64:
    """An all-zero aggregate table for `n_users` users."""
    return np.zeros((n_users, N_COLS), dtype=np.float64)


class MetricKind(StrEnum):
    """How a metric is computed and tested."""

    MEAN = "mean"
    """A per-user value averaged over users (Welch's test, CUPED)."""
    RATIO = "ratio"
    """Sum of a numerator over sum of a denominator across users (delta method)."""


@dataclass(frozen=True)
class MetricDef:
    """A metric the platform reports.

    Attributes:
        name: Metric name as in docs/contracts.md.
        kind: Per-user mean or ratio of sums.
        numerator: Aggregate column summed in the numerator.
        denominator: Aggregate column it is divided by (per user for MEAN, in total for RATIO).
        higher_is_better: Direction, for documentation and sanity checks.
        description: One-line meaning.
        spread_elasticity: How the per-user spread moves with the mean under a treatment
            (spread x (1 + lift) ** elasticity): 1 for intensities that scale with how much a
            user browses (clicks, dwell: a lift scales heavy users most), 0 for bounded
            per-day rates whose spread does not grow with the mean (topic diversity,
            retention). Power planning uses it for the spread under the alternative.
    """

    name: str
    kind: MetricKind
    numerator: Col
    denominator: Col
    higher_is_better: bool
    description: str
    spread_elasticity: float = 1.0


METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef("clicks", MetricKind.MEAN, Col.CLICKS, Col.DAYS, True,
                  "clicks per user per day"),
        MetricDef("dwell_time", MetricKind.MEAN, Col.DWELL, Col.DAYS, True,
                  "seconds of dwell per user per day"),
        MetricDef("topic_diversity", MetricKind.MEAN, Col.TOPICS, Col.ACTIVE_DAYS, True,
                  "distinct topics clicked per active user-day", spread_elasticity=0.0),
        MetricDef("retention", MetricKind.MEAN, Col.ACTIVE_DAYS, Col.DAYS, True,
                  "fraction of days the user was active", spread_elasticity=0.0),
        MetricDef("negative_rate", MetricKind.RATIO, Col.NEGATIVES, Col.IMPRESSIONS, False,
                  "negative feedback per impression"),
        MetricDef("serving_cost", MetricKind.RATIO, Col.COST, Col.REQUESTS, False,
                  "cost-weighted items scored by the ranking model per request"),
    )
}
"""Every metric the simulator reports, in a stable order."""


@dataclass(frozen=True, eq=False)
class UserMetric:
    """One metric's per-user data for one group of users.

    For MEAN metrics `value` holds the per-user values (users with a zero denominator are
    dropped) and `covariate` the same users' pre-period values (NaN where undefined). For
    RATIO metrics `numerator` / `denominator` hold per-user sums, and `pre_numerator` /
    `pre_denominator` the same users' pre-period sums (empty without a pre-period).
    """

    kind: MetricKind
    value: F64
    covariate: F64
    numerator: F64
    denominator: F64
    pre_numerator: F64 | None = None
    pre_denominator: F64 | None = None


def metric_values(metric: MetricDef, exp: F64, pre: F64 | None = None) -> UserMetric:
    """Extract one metric's per-user data from experiment (and pre-period) aggregates."""
    num = exp[:, metric.numerator]
    den = exp[:, metric.denominator]
    if metric.kind is MetricKind.RATIO:
        empty = np.empty(0)
        if pre is None:
            return UserMetric(metric.kind, empty, empty, num.copy(), den.copy())
        return UserMetric(
            metric.kind, empty, empty, num.copy(), den.copy(),
            pre[:, metric.numerator].copy(), pre[:, metric.denominator].copy(),
        )
    ok = den > 0
    value = num[ok] / den[ok]
    if pre is None:
        cov = np.full(value.shape, np.nan)
    else:
        pn = pre[ok, metric.numerator]
        pd = pre[ok, metric.denominator]
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = np.where(pd > 0, pn / np.where(pd > 0, pd, 1.0), np.nan)
    empty = np.empty(0)
    return UserMetric(metric.kind, value, cov, empty, empty)
