"""A task's journal as rows: one per candidate, numbers as numbers (lifts as fractions).

The command line writes them as CSV (`rectune history --csv`); Python users get a pandas
DataFrame (`rectune.history_frame`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rectune.domain import Candidate, MetricRole, MetricSpec
from rectune.memory.elites import guardrail_outcome, select_elites

__all__ = ["history_rows"]


def history_rows(cands: Sequence[Candidate], metrics: Sequence[MetricSpec]) -> list[dict[str, Any]]:
    """One flat dict per candidate: id, round, status, flags, config, and per metric the lift,
    its 95% interval, p-value, significance and (guardrails) the verdict.

    Example:
        >>> history_rows([], [])
        []
    """
    elites = set(select_elites(list(cands), metrics).elite_ids)
    params = sorted({k for c in cands for k in c.config})
    rows: list[dict[str, Any]] = []
    for c in cands:
        row: dict[str, Any] = {
            "id": c.id,
            "round": c.round,
            "status": c.status.value,
            "source": c.source,
            "edited": c.edited,
            "elite": c.id in elites,
            "experiment_id": c.experiment_id or "",
            "stopped_early": bool(c.result and c.result.stopped_early),
        }
        for p in params:
            row[f"config.{p}"] = c.config.get(p)
        res = c.result.metrics if c.result else {}
        for m in metrics:
            r = res.get(m.name)
            row[f"{m.name}.lift"] = r.relative_lift if r else None
            row[f"{m.name}.ci_low"] = r.ci_low if r else None
            row[f"{m.name}.ci_high"] = r.ci_high if r else None
            row[f"{m.name}.p_value"] = r.p_value if r else None
            row[f"{m.name}.significant"] = r.significant if r else None
            if m.role is MetricRole.GUARDRAIL:
                outcome = guardrail_outcome(c.result, m) if c.result else None
                row[f"{m.name}.verdict"] = outcome.value if outcome else None
        rows.append(row)
    return rows
