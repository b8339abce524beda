"""Guardrail verdicts from a comparison: one-sided non-inferiority against the threshold.

Kept apart from `rectune.tools.analysis` (which reads the simulator's per-user data) so that
every platform adapter - the file hand-off included - judges guardrails the same way.
"""

from __future__ import annotations

import math

from scipy import stats as sps

from rectune.domain import GuardrailOutcome, GuardrailVerdict, MetricSpec
from rectune.tools.stats import Comparison

__all__ = ["guardrail_verdict", "harm_z"]


def harm_z(spec: MetricSpec, lift: float, se: float) -> float:
    """How far past its threshold a guardrail's lift is, in standard errors (positive: harm).

    Measured on the log of the ratio ``1 + lift``, not on the lift itself. The relative lift
    is a ratio of two arm means; with heavy-tailed users the control mean's right skew gives
    the lift a long harmful tail, and a one-sided test on the raw lift then rejects more often
    than its level (the monitor's false stops at the threshold were 3.2% against a 2.5% budget
    over 600 launches; 2.2% on the log scale, whose skew is less than half). The standard
    error of ``log(1 + lift)`` is ``se / (1 + lift)`` by the delta method. A lift or
    threshold at or below -100% has no logarithm and is measured on the raw scale.

    Args:
        spec: The guardrail (direction and threshold).
        lift: Relative lift estimate.
        se: Its standard error (delta method).

    Returns:
        The signed distance; +-inf when ``se`` is zero and the lift is off the threshold.

    Example:
        >>> spec = MetricSpec(name="clicks", role="guardrail", direction="increase",
        ...                   guardrail_threshold=-0.01)
        >>> round(harm_z(spec, -0.03, 0.01), 3)
        1.98
    """
    thr = spec.guardrail_threshold
    if thr is None:
        raise ValueError(f"metric {spec.name!r} is not a guardrail")
    if lift > -1.0 and thr > -1.0:
        excess, scale = -spec.sign * (math.log1p(lift) - math.log1p(thr)), se / (1.0 + lift)
    else:
        excess, scale = -spec.sign * (lift - thr), se
    if scale > 0:
        return excess / scale
    return math.inf if excess > 0 else -math.inf if excess < 0 else 0.0


def guardrail_verdict(
    spec: MetricSpec, cmp: Comparison, *, alpha: float, breached_on_day: int | None = None
) -> GuardrailVerdict:
    """The one-sided non-inferiority verdict on one guardrail of one arm.

    The null is "the true lift is at or past the threshold"; `passed` rejects it at level
    `alpha` (the one-sided ``1 - alpha`` bound on the harmful side lies inside the
    threshold), both on the log-ratio scale of `harm_z`. `breached` comes only from the
    sequential monitor, whose own error budget controls false breaches; everything else is
    `inconclusive`.

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
    z_harm = harm_z(spec, cmp.lift, cmp.se)
    p = float(sps.norm.cdf(z_harm)) if math.isfinite(z_harm) else 1.0 if z_harm > 0 else 0.0
    z_alpha = float(sps.norm.isf(alpha))
    if cmp.lift > -1.0:
        bound = (1.0 + cmp.lift) * math.exp(-spec.sign * z_alpha * cmp.se / (1.0 + cmp.lift)) - 1
    else:
        bound = cmp.lift - spec.sign * z_alpha * cmp.se
    where = "drop" if spec.sign > 0 else "rise"
    if breached_on_day is not None:
        outcome = GuardrailOutcome.BREACHED
        detail = f"the monitor found {spec.name} past its limit {thr:+.2%} on day {breached_on_day}"
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
