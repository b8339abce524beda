"""The full, sorted experiment history as compact text for prompts.

Every tested candidate appears, best primary goodness first, elites marked. When the text
exceeds the budget, rows are compressed in order of least value (non-elite, then worst, then
oldest): first to a short form, then folded into a summary line that says how many rows it
stands for and their ids. Elite rows are never compressed, even if that overruns the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rectune.domain.candidates import Candidate
from rectune.domain.metrics import MetricRole, MetricSpec
from rectune.domain.parameters import ConfigValue
from rectune.memory.elites import EliteSelection, guardrail_breached, objective_metrics

__all__ = ["HistoryView", "history_view"]


@dataclass(frozen=True)
class HistoryView:
    """The rendered history and what was done to fit it in the budget."""

    text: str
    n_rows: int
    n_full: int
    n_short: int
    n_folded: int
    elite_ids: tuple[str, ...]
    over_budget: bool

    @property
    def n_compressed(self) -> int:
        """Rows not shown in full detail."""
        return self.n_short + self.n_folded


def _fmt(v: ConfigValue) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _delta_text(c: Candidate, baseline: Mapping[str, ConfigValue] | None) -> str:
    delta = c.delta if baseline is None else {
        k: v for k, v in c.config.items() if baseline.get(k) != v
    }
    if not delta:
        return "(production config)"
    if baseline is None:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in delta.items())
    return ", ".join(f"{k} {_fmt(baseline[k])}->{_fmt(v)}" for k, v in delta.items())


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def _primary_goodness(c: Candidate, primary: MetricSpec | None) -> float:
    if primary is None or c.result is None or primary.name not in c.result.metrics:
        return float("-inf")
    return primary.goodness(c.result.metrics[primary.name].relative_lift)


def history_view(
    candidates: Sequence[Candidate],
    metrics: Sequence[MetricSpec],
    *,
    elites: EliteSelection | None = None,
    baseline: Mapping[str, ConfigValue] | None = None,
    budget_chars: int = 8000,
) -> HistoryView:
    """Render every candidate that has a result, sorted by primary goodness.

    Args:
        candidates: The task's candidates (untested ones are counted, not listed).
        metrics: The task's metric specs (guardrails are flagged per row).
        elites: Marks elite rows and protects them from compression.
        baseline: Shows deltas as ``old->new`` against it; otherwise the stored deltas.
        budget_chars: Target size of the text (about 4 characters per token).

    Example:
        >>> history_view([], []).text
        'History: no tested candidates yet.'
    """
    tested = [c for c in candidates if c.result is not None]
    untested = len(candidates) - len(tested)
    if not tested:
        return HistoryView("History: no tested candidates yet.", 0, 0, 0, 0, (), False)
    objectives = objective_metrics(metrics)
    primary = next((m for m in objectives if m.role is MetricRole.PRIMARY), None)
    guardrails = [m for m in metrics if m.role is MetricRole.GUARDRAIL]
    elite_ids = set(elites.elite_ids) if elites is not None else set()
    order = sorted(
        range(len(tested)), key=lambda i: (-_primary_goodness(tested[i], primary), i)
    )
    rows = [tested[i] for i in order]

    def full(c: Candidate) -> str:
        assert c.result is not None
        tag = " [ELITE]" if c.id in elite_ids else ""
        parts = [f"- {c.id} (round {c.round}, {c.status.value}){tag}: {_delta_text(c, baseline)}"]
        res = []
        for m in [*objectives, *guardrails]:
            r = c.result.metrics.get(m.name)
            if r is None:
                continue
            flag = ""
            if m.role is MetricRole.GUARDRAIL and guardrail_breached(m, r, "ci"):
                flag = " BREACH"
            elif m.role is MetricRole.GUARDRAIL and guardrail_breached(m, r, "point"):
                flag = " risk"
            res.append(f"{m.name} {_pct(r.relative_lift)} [{_pct(r.ci_low)}, {_pct(r.ci_high)}]"
                       f"{flag}")
        parts.append("  " + "; ".join(res))
        if c.result.aborted:
            parts.append(f"  aborted: {c.result.abort_reason or 'no reason'}")
        if c.hypothesis:
            parts.append(f"  hypothesis: {c.hypothesis[:160]}")
        return "\n".join(parts)

    def short(c: Candidate) -> str:
        assert c.result is not None
        g = _primary_goodness(c, primary)
        shown = "n/a" if primary is None or g == float("-inf") else (
            f"{primary.name} {_pct(c.result.metrics[primary.name].relative_lift)}"
        )
        return f"- {c.id}: {_delta_text(c, baseline)} | {shown}"

    # Least valuable first: non-elites, worst primary, oldest round.
    rank = {c.id: pos for pos, c in enumerate(rows)}
    victims = sorted(
        (c for c in rows if c.id not in elite_ids), key=lambda c: (-rank[c.id], c.round)
    )
    level = {c.id: 0 for c in rows}  # 0 full, 1 short, 2 folded

    def render() -> str:
        lines = [
            f"History of {len(rows)} tested candidate(s), best {primary.name if primary else '?'}"
            f" first; elites marked [ELITE]. Lifts are relative to control with 95% CI."
        ]
        folded = [c.id for c in rows if level[c.id] == 2]
        for c in rows:
            if level[c.id] == 0:
                lines.append(full(c))
            elif level[c.id] == 1:
                lines.append(short(c))
        n_short = sum(1 for v in level.values() if v == 1)
        if n_short or folded:
            lines.append(
                f"({n_short} row(s) shortened and {len(folded)} folded to fit the budget"
                + (f"; folded: {', '.join(folded)}" if folded else "")
                + ")"
            )
        if untested:
            lines.append(f"({untested} candidate(s) without results are not listed)")
        return "\n".join(lines)

    text = render()
    for target in (1, 2):
        for c in victims:
            if len(text) <= budget_chars:
                break
            level[c.id] = target
            text = render()
    n_short = sum(1 for v in level.values() if v == 1)
    n_folded = sum(1 for v in level.values() if v == 2)
    return HistoryView(
        text=text,
        n_rows=len(rows),
        n_full=len(rows) - n_short - n_folded,
        n_short=n_short,
        n_folded=n_folded,
        elite_ids=tuple(c.id for c in rows if c.id in elite_ids),
        over_budget=len(text) > budget_chars,
    )
