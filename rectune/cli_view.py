"""Terminal rendering for the CLI: progress while a round runs, tables after.

Every layout fits an 80-column terminal: ids a person must type are never cut (they fold),
one row per arm or candidate, the primary metric and one verdict per guardrail by default;
``--wide`` adds every metric.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from rectune.api import RoundReport, ThreadInfo
from rectune.cli_format import SIGNIFICANCE_NOTE, interval, pct
from rectune.domain import ArmResult, Candidate, MetricResult, MetricRole, MetricSpec
from rectune.memory.elites import guardrail_outcome, select_elites
from rectune.report.explain import explain_advice
from rectune.report.table import history_rows

__all__ = [
    "RoundProgress",
    "history_csv",
    "print_history",
    "print_round",
    "print_threads",
]

PHASES = {
    "load_context": "round reserved, skill and memory loaded",
    "actor": "the Actor drafted proposals",
    "critic": "the Critic reviewed them",
    "plan": "the A/B test is planned",
    "approve": "the approval is decided",
    "launch": "the A/B test is launched",
    "monitor": "the A/B test was checked",
    "record": "the results are recorded",
    "insight_task": "insight statistics",
    "insight_reduce": "cross-task insight",
    "skill": "the skill is updated",
}
STATE_MARK = {"passed": "ok", "breached": "BREACH", "inconclusive": "?"}
VERDICT_NOTE = (
    "guardrails: ok = shown within its limit (one-sided test), ? = inconclusive (cannot rule "
    "out a move past the limit), BREACH = past the limit"
)


class _ProgressWithTable(Progress):
    """A progress display that also renders a table under its bars, refreshed with them."""

    table: Table | None = None

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.table is not None:
            yield self.table


class RoundProgress:
    """The round's current step, the A/B test's days as they pass, and the arms.

    The step line says what finished last (no counter: the Actor and Critic may loop and the
    monitor runs once a day). The days bar appears when the test is launched, at 0 of its
    days, and advances as the platform reports days.
    """

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.arms: list[dict[str, Any]] = []
        self.lifts: dict[str, str] = {}
        self.progress = _ProgressWithTable(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.phase_task: Any = None
        self.days_task: Any = None

    def __enter__(self) -> RoundProgress:
        return self

    def _start(self) -> None:
        # Bars appear with the first event, so an option rejected before the round starts
        # leaves only its error message on the terminal.
        if self.phase_task is None:
            self.progress.start()
            self.phase_task = self.progress.add_task("starting", total=None, count="")

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled and self.phase_task is not None:
            self.progress.stop()

    def _days(self, run: int, total: int) -> None:
        if self.days_task is None:
            self.days_task = self.progress.add_task(
                "A/B test days", total=max(1, total), count=f"0/{total}"
            )
        self.progress.update(self.days_task, completed=run, count=f"{run}/{total}")

    def event(self, node: str, data: dict[str, Any]) -> None:
        """Receive one event from the API's stream."""
        if not self.enabled:
            return
        self._start()
        if node == "waiting":
            pause = float(data.get("next_poll_seconds") or 0)
            if pause:
                self.console.print(
                    f"waiting for experiment {data.get('experiment_id')} on "
                    f"{data.get('platform')}: next check in {pause:g}s; Ctrl-C stops, "
                    f"rectune resume {data.get('thread_id')} continues"
                )
            return
        if node == "progress":
            if data.get("phase") in ("launched", "ab_test"):
                self._days(int(data.get("days_run", 0)), int(data.get("days_total") or 1))
            return
        detail = ""
        if node == "actor":
            detail = f": {len(data.get('proposals', []))} drafts"
        elif node == "critic" and "candidates" in data:
            detail = f": kept {len(data.get('candidates', []))}"
            self.arms = [c for c in data["candidates"] if isinstance(c, dict)]
        elif node == "monitor" and isinstance(data.get("results"), dict):
            self._take_results(data["results"])
        self.progress.table = self._arms_table()
        self.progress.update(self.phase_task, description=f"{PHASES.get(node, node)}{detail}")

    def _take_results(self, results: dict[str, Any]) -> None:
        for arm in results.get("arms", []):
            cid = arm.get("candidate_id") or arm.get("arm", "")
            metrics = arm.get("metrics", {})
            if metrics:
                name = next(iter(metrics))
                m = metrics[name]
                mark = "*" if m.get("significant") else ""
                self.lifts[cid] = f"{name} {pct(float(m.get('relative_lift', 0.0)))}{mark}"
            if arm.get("aborted"):
                self.lifts[cid] = self.lifts.get(cid, "") + " (stopped)"

    def _arms_table(self) -> Table | None:
        if not self.arms:
            return None
        table = Table("arm", "changes", "result", title="arms", title_justify="left")
        for c in self.arms:
            cid = str(c.get("id", ""))
            delta = c.get("delta") or {}
            changes = ", ".join(f"{k}={v}" for k, v in delta.items())
            table.add_row(escape(cid), escape(changes), escape(self.lifts.get(cid, "")))
        return table


def _metric_cell(m: MetricResult) -> str:
    mark = "*" if m.significant else ""
    return f"{pct(m.relative_lift)}{mark} {interval(m.ci_low, m.ci_high)}"


def _compact_metric(m: MetricResult) -> str:
    """Two short lines: the lift (with its star) and the interval, in %."""
    mark = "*" if m.significant else ""
    return f"{100 * m.relative_lift:+.2f}{mark}\n[{100 * m.ci_low:+.2f}, {100 * m.ci_high:+.2f}]"


def _verdict_codes(result: ArmResult | None, guardrails: Sequence[MetricSpec]) -> str:
    if result is None:
        return ""
    return " ".join(_mark(result, g) for g in guardrails)


def _mark(result: ArmResult, g: MetricSpec) -> str:
    outcome = guardrail_outcome(result, g)
    return STATE_MARK[outcome.value] if outcome is not None else "-"


def _guardrail_cell(result: ArmResult | None, guardrails: Sequence[MetricSpec]) -> str:
    if result is None:
        return ""
    return "\n".join(f"{g.name} {_mark(result, g)}" for g in guardrails)


def _results_table(report: RoundReport, metrics: Sequence[MetricSpec], wide: bool) -> Table:
    assert report.results is not None
    primaries = [m for m in metrics if m.role is MetricRole.PRIMARY]
    guardrails = [m for m in metrics if m.role is MetricRole.GUARDRAIL]
    shown = [m.name for m in metrics] if wide else [m.name for m in primaries]
    table = Table(title="A/B results", title_justify="left")
    table.add_column("arm / candidate", overflow="fold", no_wrap=False)
    for name in shown:
        table.add_column(name, overflow="fold")
    if not wide:
        table.add_column("guardrails", overflow="fold")
    table.add_column("state", overflow="fold")
    for a in report.results.arms:
        cells = [_metric_cell(a.metrics[m]) if m in a.metrics else "" for m in shown]
        if not wide:
            cells.append(_guardrail_cell(a, guardrails))
        state = f"stopped day {a.days_run}: {a.abort_reason or ''}" if a.aborted else "ran"
        table.add_row(f"{a.arm}\n{a.candidate_id or ''}", *cells, escape(state))
    return table


def _metrics_of(report: RoundReport, workspace: str | Path) -> list[MetricSpec]:
    from rectune.skillhub.hub import SkillHub

    try:
        return SkillHub.in_workspace(workspace, install=False).get(report.task).metrics
    except Exception:  # a report of a round whose skill is gone still prints its results
        arms = report.results.arms if report.results else []
        names = sorted({m for a in arms for m in a.metrics})
        return [MetricSpec(name=n, role="secondary", direction="increase") for n in names]


def print_round(
    report: RoundReport,
    workspace: str | Path,
    console: Console | None = None,
    *,
    wide: bool = False,
) -> None:
    """A summary of a round: candidates, results, recommendation and what to do next."""
    con = console or Console()
    con.rule(f"{report.task} round {report.round}: {report.status}")
    if report.error:
        con.print(f"[red]{escape(report.error)}[/red]")
    for d in report.degraded:
        con.print(f"[yellow]degraded[/yellow] {escape(str(d))}")
    if report.status == "interrupted":
        con.print(
            "The round stopped inside a step; continue it with:\n"
            f"  rectune resume {report.thread_id} -w {workspace}",
            highlight=False,
        )
    if report.status == "awaiting_approval" and report.pending:
        from rectune.cli_review import render_review
        from rectune.skillhub.hub import SkillHub

        skill = SkillHub.in_workspace(workspace, install=False).get(report.task)
        render_review(report.pending, skill, con)
        con.print(
            "Review in the terminal:\n"
            f"  rectune approve {report.thread_id} -w {workspace}\n"
            "or approve every candidate:\n"
            f"  rectune approve {report.thread_id} --all -w {workspace}",
            highlight=False,
        )
        return
    if report.status == "waiting" and report.pending:
        p = report.pending
        con.print(
            f"A/B test {p.get('experiment_id')} is running (day {p.get('days_run')} of "
            f"{p.get('days_total')}, on {p.get('platform')}). Continue later with:\n"
            f"  rectune resume {report.thread_id} -w {workspace}",
            highlight=False,
        )
        return
    if report.results is not None:
        metrics = _metrics_of(report, workspace)
        con.print(_results_table(report, metrics, wide))
        con.print(f"[dim]{escape(SIGNIFICANCE_NOTE)}; {escape(VERDICT_NOTE)}[/dim]")
        if report.results.srm_detected:
            con.print(
                "[yellow]Sample-ratio mismatch detected: treat these results with care.[/yellow]"
            )
    if report.recommendation:
        con.print("[bold]Launch recommendation[/bold]")
        for line in explain_advice(report.recommendation):
            con.print(Padding(escape(line), (0, 0, 0, 2)), highlight=False)
        con.print(
            Padding(f"export it: rectune export {report.task} -w {workspace}", (0, 0, 0, 2)),
            highlight=False,
        )
    for r in report.learned_rules:
        con.print(f"[green]learned rule[/green] {r.id}: {escape(r.text)}")
    if report.retired_rules:
        con.print(f"retired rules: {', '.join(report.retired_rules)}")
    if report.token_usage:
        con.print(f"tokens: {report.token_usage}")


def print_threads(
    threads: list[ThreadInfo],
    console: Console | None = None,
    *,
    where: str | None = None,
    filtered: bool = False,
) -> None:
    """Round threads of the workspace (ids fold, never cut).

    Args:
        where: The shared storage the list comes from (Postgres), said above the table so a
            reader knows it holds other hosts' rounds too.
        filtered: The list was narrowed by ``--task``/``--status``.
    """
    con = console or Console()
    if where is not None:
        con.print(f"Rounds in {escape(where)} (every host sharing it):", highlight=False)
    if not threads:
        con.print("No round matches." if filtered else
                  "No rounds yet. Start one with: rectune run TASK")
        return
    table = Table("thread", "round", "status", "created")
    table.columns[0].overflow = "fold"
    for t in threads:
        table.add_row(t.thread_id, str(t.round), t.status.value, t.created_at[:16])
    con.print(table)


def _flags(c: Candidate, elites: set[str], guardrails: Sequence[MetricSpec]) -> str:
    flags = []
    if c.id in elites:
        flags.append("elite")
    if c.edited or "human" in c.source:
        flags.append("edited" if c.edited else "human")
    if c.result is not None and any(_mark(c.result, g) == "BREACH" for g in guardrails):
        flags.append("BREACH")
    if c.result is not None and c.result.stopped_early:
        flags.append(f"stopped day {c.result.days_run}")
    elif c.result is not None and c.result.aborted:
        flags.append("stopped")
    return " ".join(flags)


def print_history(
    task: str,
    cands: list[Candidate],
    metrics: Sequence[MetricSpec],
    workspace: str | Path,
    console: Console | None = None,
    *,
    wide: bool = False,
) -> None:
    """The journal of a task as a table: one row per candidate, ids never cut.

    By default: status and flags, the primary metric (lift and interval, %), one verdict code
    per guardrail and the changes; ``wide`` shows every metric with its interval instead.
    """
    con = console or Console()
    if not cands:
        con.print(f"No experiments for {task} in {workspace} yet.")
        return
    elites = set(select_elites(cands, metrics).elite_ids)
    primaries = [m for m in metrics if m.role is MetricRole.PRIMARY]
    guardrails = [m for m in metrics if m.role is MetricRole.GUARDRAIL]
    shown = list(metrics) if wide else primaries
    table = Table(
        title=f"{task} journal", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    width = max(len(c.id) for c in cands)
    table.add_column("candidate", no_wrap=True, min_width=width)
    table.add_column("status", overflow="fold")
    for m in shown:
        if wide:
            table.add_column(m.name, overflow="fold")
        else:  # an interval split over lines is hard to read: keep "[-5.45, +0.94]" whole
            table.add_column(f"{m.name} %", no_wrap=True, min_width=14)
    if not wide:
        table.add_column("guards", overflow="fold")
    rows: list[list[str]] = []
    for c in sorted(cands, key=lambda c: (c.round, c.id)):
        res = c.result.metrics if c.result else {}
        flags = _flags(c, elites, guardrails)
        render = _metric_cell if wide else _compact_metric
        cells = [render(res[m.name]) if m.name in res else "" for m in shown]
        if not wide:
            cells.append(_verdict_codes(c.result, guardrails))
        changes = "\n".join(f"{k}={v}" for k, v in c.delta.items())
        status = c.status.value
        rows.append([c.id, f"{status}\n{flags}" if flags else status, *cells, escape(changes)])
    # Keep each change on one line when the row still fits (a value split over two lines
    # reads as two numbers); never let the table grow past the terminal (rich would crop it).
    used = sum(
        max([len(str(col.header)), *(len(line) for r in rows for line in r[i].splitlines())])
        for i, col in enumerate(table.columns)
    )
    room = con.width - used - 2 * len(table.columns)
    longest = max((len(f"{k}={v}") for c in cands for k, v in c.delta.items()), default=8)
    table.add_column("changes", overflow="fold", min_width=max(8, min(longest, room)))
    for row in rows:
        table.add_row(*row)
    con.print(table)
    legend = [escape(SIGNIFICANCE_NOTE), escape(VERDICT_NOTE)]
    if not wide and guardrails:
        legend.append("guards = " + ", ".join(g.name for g in guardrails) + " in that order")
    legend.append("elite = on the Pareto front of the feasible arms")
    con.print(f"[dim]{'; '.join(legend)}[/dim]")


def history_csv(cands: Sequence[Candidate], metrics: Sequence[MetricSpec]) -> str:
    """The journal as CSV: one row per candidate, numbers as numbers (lifts as fractions)."""
    rows = history_rows(cands, metrics)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["id"])
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
