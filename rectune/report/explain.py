"""The launch advice in a reviewer's words: what to ship, how sure, and why not the arm that
looks best.

The CLI and the HTML report print the same sentences, so a person reads one explanation.
"""

from __future__ import annotations

from rectune.domain import ArmEvidence, LaunchAdvice

__all__ = ["OBJECTIVE_DEFINITION", "explain_advice", "why_not"]

OBJECTIVE_DEFINITION = (
    "objective = the primary metrics' relative lifts, signed so that higher is better and "
    "weighted by priority"
)


def _pct(x: float) -> str:
    return f"{100 * x:+.2f}%"


def _band(mean: float, sd: float) -> str:
    return f"{_pct(mean)} [{_pct(mean - 1.96 * sd)}, {_pct(mean + 1.96 * sd)}]"


def why_not(best: ArmEvidence, advice: LaunchAdvice) -> str:
    """Why the best-looking tested configuration is not the one to ship."""
    reasons = []
    if best.p_feasible < advice.min_p_feasible:
        reasons.append(
            f"P(every guardrail holds) is {best.p_feasible:.2f}, below the "
            f"{advice.min_p_feasible:.2f} a launch needs"
        )
    if best.p_better < advice.min_p_better:
        reasons.append(
            f"P(better than production) is {best.p_better:.2f}, below the "
            f"{advice.min_p_better:.2f} a launch needs"
        )
    if not reasons and best.objective <= advice.objective:
        reasons.append(
            f"its shrunken objective is lower than the advice's {_pct(advice.objective)}"
        )
    if not reasons:
        reasons.append(f"one arm ({best.n_arms}) with a thin margin is not enough to ship")
    star = "*" if best.measured_significant else ""
    times = "once" if best.n_arms == 1 else f"in {best.n_arms} arms"
    return (
        f"Not {best.candidate_id}, the best-looking arm ({_pct(best.measured_objective)}{star} "
        f"measured {times}): its estimate shrinks to "
        f"{_band(best.objective, best.objective_sd)} once every arm is weighed, and "
        + "; ".join(reasons)
        + "."
    )


def explain_advice(advice: LaunchAdvice) -> list[str]:
    """Two or three sentences: the advice with its estimate, then why not the best-looking arm.

    Example:
        >>> adv = LaunchAdvice(config={"w": 1.0}, is_baseline=True, objective_metrics=["clicks"])
        >>> explain_advice(adv)[0].startswith("Keep production")
        True
    """
    metrics = ", ".join(advice.objective_metrics) or "the primary metrics"
    if advice.is_baseline:
        lines = [
            "Keep production: no tested configuration is both likely better "
            f"(P >= {advice.min_p_better:.2f}) and likely within every guardrail "
            f"(P >= {advice.min_p_feasible:.2f})."
        ]
    else:
        lines = [
            f"Ship {advice.candidate_id or 'the recommended configuration'}: objective "
            f"{_band(advice.objective, advice.objective_sd)} on {metrics} after shrinkage, "
            f"P(better than production) {advice.p_better:.2f}, P(every guardrail holds) "
            f"{advice.p_feasible:.2f}."
        ]
    if advice.best_looking is not None:
        lines.append(why_not(advice.best_looking, advice))
    if advice.needs_confirmation:
        lines.append("The engine asks for one more arm of it before anything ships.")
    lines.append(f"({OBJECTIVE_DEFINITION}; here: {metrics}.)")
    return lines
