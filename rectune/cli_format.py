"""Text for the terminal: one unit (%) for lifts, and the words of the A/B plan.

Lifts are fractions everywhere in rectune (0.01 is +1%); people read percentages, so every
number a person sees goes through `pct` / `interval`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SIGNIFICANCE_NOTE", "interval", "pct", "plan_lines", "prediction_text"]

SIGNIFICANCE_NOTE = (
    "* = significant after Holm's correction over every (arm, metric) pair; "
    "[intervals] are unadjusted 95% intervals"
)


def pct(x: float, digits: int = 2) -> str:
    """A signed percentage: ``pct(0.0123) == '+1.23%'``."""
    return f"{100 * x:+.{digits}f}%"


def interval(low: float, high: float) -> str:
    """``[-0.30%, +1.14%]``."""
    return f"[{pct(low)}, {pct(high)}]"


def prediction_text(pred: Mapping[str, Any] | None, primaries: list[str]) -> str:
    """The surrogate's forecast in one line: primary lifts and the guardrail risk."""
    if not pred:
        return "no prediction (edited, or added by the reviewer)"
    lifts = pred.get("lifts") or {}
    parts = [
        f"{m} {pct(v['mean'])} {interval(v['low'], v['high'])}"
        for m, v in lifts.items()
        if m in primaries
    ]
    risk = f"guardrail risk {float(pred.get('breach_probability', 0.0)):.0%}"
    if not pred.get("evidence", True):
        risk += " (prior only: no A/B result yet)"
    return "; ".join([*parts, risk])


def plan_lines(plan: Mapping[str, Any]) -> list[str]:
    """The A/B plan in a few lines: arms and traffic, duration and why, what it can detect,
    and - when it cannot detect the minimum detectable effect - what would."""
    if not plan:
        return ["A/B plan: (none)"]
    arms = int(plan.get("arms", 0))
    traffic = float(plan.get("traffic_per_arm", 0.0))
    lines = [
        f"A/B plan: {arms} arm(s) and a {plan.get('control', 'production')} control, "
        f"{traffic:.1%} of users each ({(arms + 1) * traffic:.0%} in the test), "
        f"{plan.get('days')} day(s) (duration: {plan.get('duration_from', '?')})"
    ]
    mde = float(plan.get("min_detectable_effect", 0.0))
    power = float(plan.get("power", 0.8))
    pa = plan.get("power_analysis")
    if isinstance(pa, Mapping):
        lines.append(
            f"  {int(pa['users_per_arm']):,} users per arm: detects {pct(pa['detectable_effect'])}"
            f" on {pa['metric']} with {power:.0%} power; power at the MDE ({pct(mde)}) is "
            f"{float(pa['planned_power']):.0%}"
        )
        if not pa.get("powered"):
            needs = [f"{int(pa['users_needed_per_arm']):,} users per arm"]
            share = pa.get("traffic_needed")
            if share is not None:
                share = float(share)
                needs[0] += (
                    f" ({share:.1%} of traffic per arm)" if share <= 0.5
                    else " (more users than the platform has for one arm)"
                )
            if pa.get("days_needed"):
                needs.append(f"{pa['days_needed']} days at this traffic")
            lines.append(
                f"  UNDERPOWERED: {power:.0%} power at the MDE needs " + " or ".join(needs)
                + "; effects smaller than the detectable one will mostly look like noise"
            )
    elif plan.get("note"):
        lines.append(f"  {plan['note']}")
    return lines
