"""Made-up A/B results for tests that drive rounds without the simulator."""

from __future__ import annotations

from collections.abc import Callable

from rectune.bench.methods import ArmOutcome
from rectune.domain import (
    ArmResult,
    Config,
    GuardrailOutcome,
    GuardrailVerdict,
    MetricResult,
    MetricRole,
    MetricSpec,
)


def arm_outcome(
    config: Config,
    arm: str,
    metrics: list[MetricSpec],
    lift: Callable[[int, MetricSpec], float],
    *,
    half_width: float,
    p_value: float,
    stopped: bool = False,
    days: int = 3,
) -> ArmOutcome:
    """One arm's result with `lift(i, metric)` per metric and a symmetric interval.

    Every guardrail passes, or, when `stopped`, the monitor breached it on day 1 and the arm
    was aborted after one day of `days`.
    """
    results = {}
    verdicts = []
    for i, m in enumerate(metrics):
        value = lift(i, m)
        results[m.name] = MetricResult(
            metric=m.name, control_mean=1.0, treatment_mean=1.0 + value, relative_lift=value,
            ci_low=value - half_width, ci_high=value + half_width, p_value=p_value,
        )
        if m.role is MetricRole.GUARDRAIL:
            assert m.guardrail_threshold is not None
            verdicts.append(
                GuardrailVerdict(
                    metric=m.name, direction=m.direction, threshold=m.guardrail_threshold,
                    lift=value, bound=value - half_width * m.sign, alpha=0.05,
                    p_value=0.9 if stopped else 0.01,
                    outcome=GuardrailOutcome.BREACHED if stopped else GuardrailOutcome.PASSED,
                    breached_on_day=1 if stopped else None,
                )
            )
    result = ArmResult(
        arm=arm, metrics=results, aborted=stopped,
        abort_reason="guardrail breached" if stopped else None,
        days_run=1 if stopped else days, days_planned=days, stopped_early=stopped,
        guardrails=verdicts,
    )
    return ArmOutcome(config=dict(config), result=result)
