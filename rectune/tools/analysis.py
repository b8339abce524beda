"""Turning per-user aggregates of the arms into an `ExperimentResult`.

Shared by the simulated platform and the A/A / calibration runs so that every statistic in a
calibration number goes through the exact code path of a real experiment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rectune.domain import ArmResult, ExperimentResult, ExperimentState, MetricResult
from rectune.simulator.metrics import METRICS, MetricKind, metric_values
from rectune.tools.platform import MetricBaseline
from rectune.tools.stats import (
    Comparison,
    compare_means,
    compare_ratios,
    cuped_adjust,
    holm,
    srm_test,
)

__all__ = ["SRM_ALPHA", "ArmData", "build_result", "compare_metric", "metric_baseline"]

F64 = NDArray[np.float64]

SRM_ALPHA = 0.001
"""Sample-ratio mismatch is flagged below this p-value (a deliberately strict level)."""


@dataclass(frozen=True, eq=False)
class ArmData:
    """One arm's per-user aggregates and bookkeeping.

    Attributes:
        name: Arm name.
        traffic: Planned traffic fraction.
        exp: Experiment-period aggregates, one row per user.
        pre: Pre-period aggregates of the same users (CUPED covariates), or None.
        days_run: Days of data in `exp`.
        aborted: Whether the arm was stopped early.
        abort_reason: Why it was stopped.
        candidate_id: The candidate the arm tests, if any.
        control_exp: Control's experiment aggregates at the day this arm stopped (only for
            aborted arms, so both sides cover the same days).
        control_pre: Control's pre-period aggregates matching `control_exp`.
    """

    name: str
    traffic: float
    exp: F64
    pre: F64 | None
    days_run: int
    aborted: bool = False
    abort_reason: str | None = None
    candidate_id: str | None = None
    control_exp: F64 | None = None
    control_pre: F64 | None = None


def compare_metric(metric: str, control: ArmData, treatment: ArmData) -> Comparison:
    """Compare one metric of `treatment` against `control` (CUPED/Welch or delta method)."""
    mdef = METRICS[metric]
    c_exp = treatment.control_exp if treatment.control_exp is not None else control.exp
    c_pre = treatment.control_pre if treatment.control_exp is not None else control.pre
    c = metric_values(mdef, c_exp, c_pre)
    t = metric_values(mdef, treatment.exp, treatment.pre)
    if mdef.kind is MetricKind.RATIO:
        return compare_ratios(c.numerator, c.denominator, t.numerator, t.denominator)
    use_cov = c_pre is not None and treatment.pre is not None
    return compare_means(
        c.value, t.value, c.covariate if use_cov else None, t.covariate if use_cov else None
    )


def build_result(
    experiment_id: str,
    task: str,
    state: ExperimentState,
    days_run: int,
    control: ArmData,
    treatments: Sequence[ArmData],
    metrics: Sequence[str],
    *,
    alpha: float = 0.05,
    notes: Sequence[str] = (),
    assigned: Mapping[str, int] | None = None,
) -> ExperimentResult:
    """Compare every treatment with control on every metric, with Holm and SRM checks.

    Args:
        experiment_id: Id of the experiment.
        task: Task name.
        state: Experiment state to report.
        days_run: Days of data.
        control: The control arm.
        treatments: The treatment arms.
        metrics: Metrics to report.
        alpha: Family-wise error rate of the Holm correction.
        notes: Free-text notes to carry.
        assigned: Users counted per arm for the SRM check (defaults to the aggregate rows).

    Returns:
        The result; metrics that cannot be computed yet (no data) are left out.
    """
    out_notes = list(notes)
    raw: list[tuple[str, str, MetricResult]] = []
    for arm in treatments:
        for m in metrics:
            try:
                cmp = compare_metric(m, control, arm)
            except ValueError as exc:
                out_notes.append(f"{arm.name}/{m}: not computed ({exc})")
                continue
            raw.append((arm.name, m, cmp.to_result(m)))
    adjusted, reject = holm([r.p_value for _, _, r in raw], alpha)
    per_arm: dict[str, dict[str, MetricResult]] = {a.name: {} for a in treatments}
    for (arm_name, m, r), p_adj, rej in zip(raw, adjusted, reject, strict=True):
        per_arm[arm_name][m] = r.model_copy(update={"p_adjusted": p_adj, "significant": rej})
    arms = [
        ArmResult(
            arm=a.name,
            candidate_id=a.candidate_id,
            metrics=per_arm[a.name],
            aborted=a.aborted,
            abort_reason=a.abort_reason,
            days_run=a.days_run,
        )
        for a in treatments
    ]
    counts = dict(assigned) if assigned is not None else {
        a.name: int(a.exp.shape[0]) for a in (control, *treatments)
    }
    fractions = {a.name: a.traffic for a in (control, *treatments)}
    srm_p = srm_test(counts, fractions)
    srm = srm_p < SRM_ALPHA
    if srm:
        out_notes.append(
            f"sample-ratio mismatch: users per arm {counts} do not match the planned split "
            f"(chi-square p={srm_p:.2e}); do not trust these results"
        )
    return ExperimentResult(
        experiment_id=experiment_id,
        task=task,
        state=state,
        days_run=days_run,
        arms=arms,
        srm_p_value=srm_p,
        srm_detected=srm,
        notes=out_notes,
    )


def metric_baseline(
    metric: str, exp: F64, pre: F64 | None, days: int, population: int | None = None
) -> MetricBaseline:
    """Estimate a metric's mean and per-user CV from production users' aggregates.

    The CV is that of the quantity the analysis actually compares: CUPED-adjusted per-user
    values for per-user metrics, the delta-method linearisation for ratio metrics.
    """
    mdef = METRICS[metric]
    u = metric_values(mdef, exp, pre)
    if mdef.kind is MetricKind.RATIO:
        ratio = float(u.numerator.sum() / u.denominator.sum())
        lin = (u.numerator - ratio * u.denominator) / u.denominator.mean()
        mean, sd = ratio, float(lin.std(ddof=1))
    else:
        half = u.value.size // 2
        cov = u.covariate if pre is not None else None
        a, b, _ = cuped_adjust(
            u.value[:half],
            u.value[half:],
            None if cov is None else cov[:half],
            None if cov is None else cov[half:],
        )
        mean, sd = float(u.value.mean()), float(np.concatenate([a, b]).std(ddof=1))
    return MetricBaseline(
        metric=metric, mean=mean, cv=max(sd / abs(mean), 1e-9), days=days, population=population
    )
