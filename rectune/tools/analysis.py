"""Turning per-user aggregates of the arms into an `ExperimentResult`.

Shared by the simulated platform and the A/A / calibration runs so that every statistic in a
calibration number goes through the exact code path of a real experiment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rectune.domain import (
    ArmResult,
    ExperimentResult,
    ExperimentState,
    GuardrailVerdict,
    MetricResult,
    MetricRole,
    MetricSpec,
)
from rectune.simulator.metrics import METRICS, MetricKind, metric_values
from rectune.tools.platform import SRM_ALPHA, MetricBaseline
from rectune.tools.stats import (
    Comparison,
    compare_means,
    compare_ratios,
    cuped_adjust,
    holm,
    ratio_cuped,
    srm_test,
)
from rectune.tools.verdicts import guardrail_verdict

__all__ = [
    "SRM_ALPHA",
    "ArmData",
    "build_result",
    "compare_metric",
    "daily_srm",
    "guardrail_verdict",
    "metric_baseline",
]

F64 = NDArray[np.float64]



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
        days_planned: Days the arm was planned to run.
        stopped_early: Whether the guardrail monitor stopped it before `days_planned`.
        breaches: Guardrail metric -> day the monitor crossed its boundary.
        daily_enrolled: Users who entered the experiment on each day (per-day SRM check).
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
    days_planned: int | None = None
    stopped_early: bool = False
    breaches: Mapping[str, int] = field(default_factory=dict)
    daily_enrolled: Sequence[int] = ()


def compare_metric(metric: str, control: ArmData, treatment: ArmData) -> Comparison:
    """Compare one metric of `treatment` against `control` (CUPED/Welch or delta method)."""
    mdef = METRICS[metric]
    c_exp = treatment.control_exp if treatment.control_exp is not None else control.exp
    c_pre = treatment.control_pre if treatment.control_exp is not None else control.pre
    c = metric_values(mdef, c_exp, c_pre)
    t = metric_values(mdef, treatment.exp, treatment.pre)
    if mdef.kind is MetricKind.RATIO:
        pre = None
        if c.pre_numerator is not None and t.pre_numerator is not None:
            assert c.pre_denominator is not None and t.pre_denominator is not None
            pre = (c.pre_numerator, c.pre_denominator, t.pre_numerator, t.pre_denominator)
        return compare_ratios(c.numerator, c.denominator, t.numerator, t.denominator, pre)
    use_cov = c_pre is not None and treatment.pre is not None
    return compare_means(
        c.value, t.value, c.covariate if use_cov else None, t.covariate if use_cov else None
    )


def _spec_of(metric: MetricSpec | str) -> tuple[str, MetricSpec | None]:
    return (metric, None) if isinstance(metric, str) else (metric.name, metric)


def build_result(
    experiment_id: str,
    task: str,
    state: ExperimentState,
    days_run: int,
    control: ArmData,
    treatments: Sequence[ArmData],
    metrics: Sequence[MetricSpec | str],
    *,
    alpha: float = 0.05,
    guardrail_alpha: float = 0.05,
    notes: Sequence[str] = (),
    assigned: Mapping[str, int] | None = None,
) -> ExperimentResult:
    """Compare every treatment with control on every metric; verdicts, Holm and SRM checks.

    With metric specs, each role is its own Holm family over (arm, metric) pairs - the
    primary flag people read is corrected over ``arms x primaries`` only - and each guardrail
    gets a one-sided non-inferiority verdict per arm (`guardrail_verdict`), separate from
    the primary's superiority test. Metrics given by name only form one family (no verdicts).

    Args:
        experiment_id: Id of the experiment.
        task: Task name.
        state: Experiment state to report.
        days_run: Days of data.
        control: The control arm.
        treatments: The treatment arms.
        metrics: Metric specs (roles, directions, thresholds) or plain names.
        alpha: Family-wise error rate of each Holm family.
        guardrail_alpha: Level of each guardrail's non-inferiority verdict.
        notes: Free-text notes to carry.
        assigned: Users counted per arm for the SRM check (defaults to the aggregate rows).

    Returns:
        The result; metrics that cannot be computed yet (no data) are left out.
    """
    out_notes = list(notes)
    raw: list[tuple[str, MetricSpec | None, MetricResult]] = []
    verdicts: dict[str, list[GuardrailVerdict]] = {a.name: [] for a in treatments}
    for arm in treatments:
        for item in metrics:
            name, spec = _spec_of(item)
            try:
                cmp = compare_metric(name, control, arm)
            except ValueError as exc:
                out_notes.append(f"{arm.name}/{name}: not computed ({exc})")
                continue
            role = None if spec is None else spec.role
            raw.append((arm.name, spec, cmp.to_result(name).model_copy(update={"role": role})))
            if spec is not None and spec.role is MetricRole.GUARDRAIL:
                verdicts[arm.name].append(
                    guardrail_verdict(
                        spec, cmp, alpha=guardrail_alpha, breached_on_day=arm.breaches.get(name)
                    )
                )
    per_arm: dict[str, dict[str, MetricResult]] = {a.name: {} for a in treatments}
    families = sorted({r.role for _, _, r in raw}, key=lambda x: str(x))
    for family in families:
        members = [(a, r) for a, _, r in raw if r.role == family]
        adjusted, reject = holm([r.p_value for _, r in members], alpha)
        for (arm_name, r), p_adj, rej in zip(members, adjusted, reject, strict=True):
            per_arm[arm_name][r.metric] = r.model_copy(
                update={"p_adjusted": p_adj, "significant": rej}
            )
    order = [_spec_of(m)[0] for m in metrics]
    arms = [
        ArmResult(
            arm=a.name,
            candidate_id=a.candidate_id,
            metrics={m: per_arm[a.name][m] for m in order if m in per_arm[a.name]},
            aborted=a.aborted,
            abort_reason=a.abort_reason,
            days_run=a.days_run,
            days_planned=a.days_planned,
            stopped_early=a.stopped_early,
            guardrails=verdicts[a.name],
        )
        for a in treatments
    ]
    for a in arms:
        if a.stopped_early:
            out_notes.append(
                f"{a.arm}: stopped early after {a.days_run} of {a.days_planned} days; its lifts "
                "are short-horizon and biased away from zero, not a full measurement"
            )
    all_arms = (control, *treatments)
    counts = dict(assigned) if assigned is not None else {
        a.name: int(a.exp.shape[0]) for a in all_arms
    }
    fractions = {a.name: a.traffic for a in all_arms}
    srm_p = srm_test(counts, fractions)
    srm = srm_p < SRM_ALPHA
    if srm:
        out_notes.append(
            f"sample-ratio mismatch: users per arm {counts} do not match the planned split "
            f"(chi-square p={srm_p:.2e}); do not trust these results"
        )
    daily = daily_srm(all_arms)
    if daily and not srm:
        bad = [d + 1 for d, p in enumerate(daily) if p < SRM_ALPHA / len(daily)]
        if bad:
            srm = True
            out_notes.append(
                f"sample-ratio mismatch on day(s) {bad}: the users entering each arm that day "
                "do not match the planned split; do not trust these results"
            )
    return ExperimentResult(
        experiment_id=experiment_id,
        task=task,
        state=state,
        days_run=days_run,
        arms=arms,
        srm_p_value=srm_p,
        srm_detected=srm,
        srm_daily_p_values=daily,
        notes=out_notes,
    )


def daily_srm(arms: Sequence[ArmData]) -> list[float]:
    """Per-day chi-square SRM p-values of the users entering each arm (empty if unknown).

    A loss confined to some days, or to the users who arrive during the test, is diluted in
    the cumulative count; a test per day of entries sees it. The caller flags a day below
    ``SRM_ALPHA / days`` (Bonferroni over the days).
    """
    if not arms or any(not a.daily_enrolled for a in arms):
        return []
    days = min(len(a.daily_enrolled) for a in arms)
    fractions = {a.name: a.traffic for a in arms}
    return [
        srm_test({a.name: int(a.daily_enrolled[d]) for a in arms}, fractions)
        for d in range(days)
    ]


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
        if u.pre_numerator is not None and u.pre_denominator is not None and (
            u.pre_denominator.sum() > 0
        ):
            # The same CUPED the analysis applies, on the linearised metric.
            half = lin.size // 2
            pn, pd = u.pre_numerator, u.pre_denominator
            _, v1, _, v2 = ratio_cuped(
                u.numerator[:half], u.denominator[:half], u.numerator[half:],
                u.denominator[half:], (pn[:half], pd[:half], pn[half:], pd[half:]),
            )
            sd = math.sqrt((v1 * half + v2 * (lin.size - half)) / 2.0)
        else:
            sd = float(lin.std(ddof=1))
        mean = ratio
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
    rows = max(1, int(exp.shape[0]))
    coverage = 1.0 if mdef.kind is MetricKind.RATIO else max(u.value.size / rows, 1e-6)
    return MetricBaseline(
        metric=metric,
        mean=mean,
        cv=max(sd / abs(mean), 1e-9),
        days=days,
        population=population,
        coverage=min(1.0, coverage),
        spread_elasticity=mdef.spread_elasticity,
    )
