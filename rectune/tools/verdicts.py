"""Guardrail verdicts from a comparison: one-sided non-inferiority against the threshold.

Kept apart from `rectune.tools.analysis` (which reads the simulator's per-user data) so that
every platform adapter - the file hand-off included - judges guardrails the same way.
"""

from __future__ import annotations

from scipy import stats as sps

from rectune.domain import GuardrailOutcome, GuardrailVerdict, MetricSpec
from rectune.tools.stats import Comparison

__all__ = ["guardrail_verdict"]


def guardrail_verdict(
    spec: MetricSpec, cmp: Comparison, *, alpha: float, breached_on_day: int | None = None
) -> GuardrailVerdict:
    """The one-sided non-inferiority verdict on one guardrail of one arm.

    The null is "the true lift is at or past the threshold"; `passed` rejects it at level
    `alpha` (the one-sided ``1 - alpha`` bound on the harmful side lies inside the
    threshold). `breached` comes only from the sequential monitor, whose own error budget
    controls false breaches; everything else is `inconclusive`.

    Example:
        >>> from rectune.tools.stats import Comparison
        >>> spec = MetricSpec(name="clicks", role="guardrail", direction="increase",
        ...                   guardrail_threshold=-0.01)
        >>> cmp = Comparison(10.0, 9.99, -0.001, 0.004, 0.8, 5000, 5000)
        >>> guardrail_verdict(spec, cmp, alpha=0.05).outcome.value
        'passed'
    """
    thr = spec.guardrail_threshold
    if thr is None:
        raise ValueError(f"metric {spec.name!r} is not a guardrail")
    safe_margin = spec.sign * (cmp.lift - thr)
    no_noise = 0.0 if safe_margin > 0 else 1.0
    p = float(sps.norm.sf(safe_margin / cmp.se)) if cmp.se > 0 else no_noise
    bound = cmp.lift - spec.sign * float(sps.norm.isf(alpha)) * cmp.se
    where = "drop" if spec.sign > 0 else "rise"
    if breached_on_day is not None:
        outcome = GuardrailOutcome.BREACHED
        detail = (
            f"the monitor found {spec.name} past its limit {thr:+.2%} on day {breached_on_day}"
        )
    elif p < alpha:
        outcome = GuardrailOutcome.PASSED
        detail = (
            f"{spec.name} {cmp.lift:+.2%}: a {where} past {thr:+.2%} is ruled out at level "
            f"{alpha:g} (one-sided bound {bound:+.2%})"
        )
    else:
        outcome = GuardrailOutcome.INCONCLUSIVE
        detail = (
            f"{spec.name} {cmp.lift:+.2%}: cannot rule out a {where} past {thr:+.2%} "
            f"(one-sided bound {bound:+.2%})"
        )
    return GuardrailVerdict(
        metric=spec.name,
        direction=spec.direction,
        threshold=thr,
        lift=cmp.lift,
        bound=bound,
        alpha=alpha,
        p_value=min(1.0, max(0.0, p)),
        outcome=outcome,
        breached_on_day=breached_on_day,
        detail=detail,
    )


