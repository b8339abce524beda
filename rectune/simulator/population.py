"""Running a configuration on a population and reducing it to metric values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.engine import Cohort, Simulator
from rectune.simulator.knobs import StackConfig
from rectune.simulator.metrics import METRICS, MetricKind, metric_values
from rectune.simulator.tasks import production_stack

__all__ = ["population_means", "run_cohort"]


def run_cohort(
    sim: Simulator,
    user_ids: NDArray[np.int64],
    config: StackConfig,
    days: int,
    seed: int,
    pre_days: int = 4,
) -> Cohort:
    """Simulate `pre_days` of production then `days` of `config` for these users."""
    cohort = sim.cohort(user_ids, seed)
    prod = production_stack()
    for _ in range(pre_days):
        cohort.run_day(prod, "pre")
    for _ in range(days):
        cohort.run_day(config, "exp")
    return cohort


def population_means(cohort: Cohort, metrics: Sequence[str] | None = None) -> dict[str, float]:
    """The population value of each metric (the estimand an A/B test targets)."""
    exp = cohort.aggregates["exp"]
    out: dict[str, float] = {}
    for name in metrics or list(METRICS):
        m = metric_values(METRICS[name], exp)
        if m.kind is MetricKind.RATIO:
            out[name] = float(m.numerator.sum() / max(m.denominator.sum(), 1e-12))
        else:
            out[name] = float(m.value.mean()) if m.value.size else float("nan")
    return out
