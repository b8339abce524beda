"""Pareto elites of a task: feasible, non-dominated and diverse.

Steps, all pure:

1. **Feasibility.** A candidate with no result, an aborted arm, or a missing guardrail metric is
   infeasible. By default (``"ci"``) a guardrail is breached when the platform's verdict says
   so (`guardrail_outcome`: the one verdict the tables and reports show; for records without
   verdicts, when the *whole* 95% interval lies beyond the threshold); ``"point"`` uses the
   estimate; ``"strict"`` calls it breached when *any* part of the interval lies beyond it.
2. **Goodness.** Each objective (primary and secondary metrics) becomes ``sign * lift`` so that
   larger is always better, then is standardized (z-score over the feasible candidates) so a
   metric with a wide spread of lifts does not dominate distances.
3. **Non-dominated set** over the objectives (standardization does not change dominance).
4. **Diversity cap.** When more elites than `max_size` remain, keep a greedy max-min subset in
   the standardized objective space, starting from the best candidate on the top primary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rectune.domain.candidates import Candidate
from rectune.domain.experiments import ArmResult, MetricResult
from rectune.domain.metrics import Direction, MetricRole, MetricSpec
from rectune.domain.verdicts import GuardrailOutcome

__all__ = [
    "EliteSelection",
    "GuardrailPolicy",
    "dominates",
    "greedy_maxmin",
    "guardrail_breached",
    "guardrail_outcome",
    "objective_metrics",
    "pareto_front",
    "select_elites",
]

GuardrailPolicy = Literal["ci", "point", "strict"]


def guardrail_breached(spec: MetricSpec, result: MetricResult, policy: GuardrailPolicy = "ci") -> (
    bool
):
    """Whether `result` breaches guardrail `spec` under `policy` (see module docstring).

    Example:
        >>> from rectune.domain.experiments import MetricResult
        >>> g = MetricSpec(name="neg", role="guardrail", direction="decrease",
        ...                guardrail_threshold=0.03)
        >>> r = MetricResult(metric="neg", control_mean=1, treatment_mean=1.04,
        ...                  relative_lift=0.04, ci_low=0.01, ci_high=0.07, p_value=0.01)
        >>> guardrail_breached(g, r, "ci"), guardrail_breached(g, r, "point")
        (False, True)
    """
    if spec.guardrail_threshold is None:
        return False
    t = spec.guardrail_threshold
    if spec.direction is Direction.INCREASE:
        value = {"ci": result.ci_high, "point": result.relative_lift, "strict": result.ci_low}
        return value[policy] < t
    value = {"ci": result.ci_low, "point": result.relative_lift, "strict": result.ci_high}
    return value[policy] > t


def guardrail_outcome(arm: ArmResult, spec: MetricSpec) -> GuardrailOutcome | None:
    """The one verdict on a guardrail of an arm that tables, reports and elites share.

    The platform's own `GuardrailVerdict` when the result carries one (one-sided
    non-inferiority, the monitor's breaches); for older records without verdicts, the same
    question asked of the 95% interval: breached when the whole interval is past the limit,
    passed when it is entirely inside, inconclusive otherwise. None when not measured.
    """
    for v in arm.guardrails:
        if v.metric == spec.name:
            return v.outcome
    r = arm.metrics.get(spec.name)
    if r is None:
        return None
    if guardrail_breached(spec, r, "ci"):
        return GuardrailOutcome.BREACHED
    if guardrail_breached(spec, r, "strict"):
        return GuardrailOutcome.INCONCLUSIVE
    return GuardrailOutcome.PASSED


def objective_metrics(metrics: Sequence[MetricSpec]) -> list[MetricSpec]:
    """Primary then secondary metrics, each group by priority: the Pareto objectives."""
    prim = sorted((m for m in metrics if m.role is MetricRole.PRIMARY), key=lambda m: m.priority)
    sec = sorted((m for m in metrics if m.role is MetricRole.SECONDARY), key=lambda m: m.priority)
    return [*prim, *sec]


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether `a` is at least as good as `b` everywhere and better somewhere (larger is better)."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated points (larger is better on every axis), in input order.

    Duplicated points are all kept: neither dominates the other.

    Example:
        >>> pareto_front([[1, 1], [2, 0], [0, 0], [1, 1]])
        [0, 1, 3]
    """
    arr = np.asarray(points, dtype=float)
    n = len(arr)
    keep: list[int] = []
    for i in range(n):
        ge = np.all(arr >= arr[i], axis=1)
        gt = np.any(arr > arr[i], axis=1)
        if not np.any(ge & gt):
            keep.append(i)
    return keep


def greedy_maxmin(points: Sequence[Sequence[float]], k: int, start: int) -> list[int]:
    """Pick `k` indices greedily, each time the point farthest from those already picked.

    Ties go to the lower index, so the result is deterministic.

    Example:
        >>> greedy_maxmin([[0, 0], [0.1, 0], [5, 5], [0, 4]], k=3, start=0)
        [0, 2, 3]
    """
    arr = np.asarray(points, dtype=float)
    n = len(arr)
    if k <= 0 or n == 0:
        return []
    chosen = [start]
    dist = np.linalg.norm(arr - arr[start], axis=1)
    dist[start] = -np.inf
    while len(chosen) < min(k, n):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(arr - arr[nxt], axis=1))
        dist[chosen] = -np.inf
    return chosen


class EliteSelection(BaseModel):
    """The outcome of `select_elites`, with the reason behind every exclusion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objectives: list[str] = Field(description="metric names, primary first")
    elite_ids: list[str] = Field(description="selection order: best primary first")
    front_ids: list[str] = Field(description="the whole non-dominated set before the cap")
    feasible_ids: list[str]
    infeasible: dict[str, str] = Field(description="candidate id -> why it is infeasible")
    dominated_ids: list[str]
    goodness: dict[str, list[float]] = Field(description="id -> signed lifts per objective")
    standardized: dict[str, list[float]] = Field(description="id -> z-scores per objective")

    def is_elite(self, candidate_id: str) -> bool:
        """Whether `candidate_id` is kept as an elite."""
        return candidate_id in self.elite_ids


def _infeasible_reason(
    c: Candidate, guardrails: Sequence[MetricSpec], objectives: Sequence[MetricSpec],
    policy: GuardrailPolicy,
) -> str | None:
    if c.result is None:
        return "no result"
    if c.result.aborted:
        return f"aborted: {c.result.abort_reason or 'no reason given'}"
    for g in guardrails:
        r = c.result.metrics.get(g.name)
        if r is None:
            return f"guardrail {g.name} was not measured"
        breached = (
            guardrail_outcome(c.result, g) is GuardrailOutcome.BREACHED
            if policy == "ci"
            else guardrail_breached(g, r, policy)
        )
        if breached:
            assert g.guardrail_threshold is not None
            return (
                f"guardrail {g.name} breached: lift {100 * r.relative_lift:+.2f}% "
                f"[{100 * r.ci_low:+.2f}%, {100 * r.ci_high:+.2f}%] past the limit "
                f"{100 * g.guardrail_threshold:+.2f}%"
            )
    for m in objectives:
        if m.name not in c.result.metrics:
            return f"objective {m.name} was not measured"
    return None


def select_elites(
    candidates: Sequence[Candidate],
    metrics: Sequence[MetricSpec],
    *,
    max_size: int | None = 8,
    policy: GuardrailPolicy = "ci",
) -> EliteSelection:
    """Feasible, non-dominated, diversity-capped candidates (see the module docstring).

    Args:
        candidates: Any candidates; only those with a result can qualify.
        metrics: The task's metric specs.
        max_size: Cap on the number of elites; None keeps the whole front.
        policy: How guardrail CIs are judged.

    Example:
        >>> from rectune.domain.experiments import ArmResult, MetricResult
        >>> def mr(name, lift):
        ...     return MetricResult(metric=name, control_mean=1, treatment_mean=1 + lift,
        ...                         relative_lift=lift, ci_low=lift - .01, ci_high=lift + .01,
        ...                         p_value=.5)
        >>> def cand(i, a, b):
        ...     res = ArmResult(arm=i, metrics={"a": mr("a", a), "b": mr("b", b)})
        ...     return Candidate(id=i, task="t", round=1, delta={}, config={}, result=res)
        >>> ms = [MetricSpec(name="a", role="primary", direction="increase"),
        ...       MetricSpec(name="b", role="secondary", direction="increase")]
        >>> select_elites([cand("x", .02, 0), cand("y", .01, .01), cand("z", 0, 0)], ms).elite_ids
        ['x', 'y']
    """
    objectives = objective_metrics(metrics)
    guardrails = [m for m in metrics if m.role is MetricRole.GUARDRAIL]
    infeasible: dict[str, str] = {}
    feasible: list[Candidate] = []
    for c in candidates:
        reason = _infeasible_reason(c, guardrails, objectives, policy)
        if reason is None:
            feasible.append(c)
        else:
            infeasible[c.id] = reason
    names = [m.name for m in objectives]
    if not feasible or not objectives:
        return EliteSelection(
            objectives=names, elite_ids=[], front_ids=[], feasible_ids=[c.id for c in feasible],
            infeasible=infeasible, dominated_ids=[], goodness={}, standardized={},
        )
    rows: list[list[float]] = []
    for c in feasible:
        assert c.result is not None
        rows.append([m.goodness(c.result.metrics[m.name].relative_lift) for m in objectives])
    good = np.asarray(rows, dtype=np.float64)
    std = good.std(axis=0)
    z = (good - good.mean(axis=0)) / np.where(std > 0, std, 1.0)
    front = pareto_front(good.tolist())
    front_set = set(front)
    dominated = [feasible[i].id for i in range(len(feasible)) if i not in front_set]
    # Best on the top primary (ties: better on the remaining objectives, then input order).
    start_local = max(
        range(len(front)), key=lambda j: (tuple(good[front[j]]), -j)
    )
    if max_size is None or len(front) <= max_size:
        order = greedy_maxmin(z[front].tolist(), len(front), start_local)
    else:
        order = greedy_maxmin(z[front].tolist(), max_size, start_local)
    return EliteSelection(
        objectives=names,
        elite_ids=[feasible[front[j]].id for j in order],
        front_ids=[feasible[i].id for i in front],
        feasible_ids=[c.id for c in feasible],
        infeasible=infeasible,
        dominated_ids=dominated,
        goodness={c.id: [float(x) for x in good[i]] for i, c in enumerate(feasible)},
        standardized={
            c.id: [0.0 if math.isnan(x) else float(x) for x in z[i]] for i, c in enumerate(feasible)
        },
    )
