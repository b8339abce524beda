"""Sequential guardrail monitoring with an always-valid test (mixture SPRT).

A guardrail is checked every simulated day. Peeking daily at an ordinary p-value would inflate
false alarms; the mixture sequential probability ratio test (mSPRT, Johari et al. 2017) gives a
likelihood ratio that can be monitored continuously: under the null the chance it ever exceeds
``1/alpha`` is at most ``alpha``.

The null hypothesis is "the arm does not breach the guardrail": the relative lift sits exactly
at the threshold. Evidence counts only when the estimate lies beyond the threshold on the
harmful side, so an arm is aborted only when it is clearly past the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rectune.domain import Direction, MetricSpec

__all__ = ["GuardrailCheck", "check_guardrail", "msprt_likelihood_ratio"]


def msprt_likelihood_ratio(estimate: float, variance: float, null: float, tau: float) -> float:
    """Normal-mixture SPRT statistic for a normally distributed estimate.

    Args:
        estimate: The current estimate (here a relative lift).
        variance: Its sampling variance at this look.
        null: The value under the null hypothesis.
        tau: Standard deviation of the normal mixing distribution over alternatives, i.e.
            the size of effect the test is tuned to find quickly.

    Returns:
        The mixture likelihood ratio (>= 0); reject when it reaches 1 / alpha.
    """
    if variance <= 0:
        return math.inf if estimate != null else 0.0
    t2 = tau * tau
    total = variance + t2
    exponent = (estimate - null) ** 2 * t2 / (2.0 * variance * total)
    return math.sqrt(variance / total) * math.exp(min(exponent, 700.0))


@dataclass(frozen=True)
class GuardrailCheck:
    """The outcome of one guardrail look.

    Attributes:
        metric: Guardrail metric name.
        lift: Current relative lift estimate.
        likelihood_ratio: The mSPRT statistic against "lift is at the threshold".
        breached: Whether the always-valid test concludes the guardrail is breached.
    """

    metric: str
    lift: float
    likelihood_ratio: float
    breached: bool


def check_guardrail(
    spec: MetricSpec, lift: float, se: float, alpha: float = 0.05, tau: float = 0.1
) -> GuardrailCheck:
    """Always-valid check that a guardrail is breached.

    Args:
        spec: The guardrail metric (direction and threshold).
        lift: Current relative lift estimate.
        se: Its standard error.
        alpha: Error rate of a false abort over the whole experiment (per guardrail).
        tau: Mixture scale of the mSPRT.

    Returns:
        The check; `breached` is True only on the harmful side of the threshold.
    """
    if spec.guardrail_threshold is None:
        raise ValueError(f"metric {spec.name!r} is not a guardrail")
    thr = spec.guardrail_threshold
    harmful = lift < thr if spec.direction is Direction.INCREASE else lift > thr
    lr = msprt_likelihood_ratio(lift, se * se, thr, tau)
    return GuardrailCheck(spec.name, lift, lr, bool(harmful and lr >= 1.0 / alpha))
