"""Terminal rendering for the CLI: progress while a round runs, tables after."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from rectune.api import RoundReport, ThreadInfo
from rectune.domain import Candidate

__all__ = ["RoundProgress", "format_plan", "print_history", "print_round", "print_threads"]

PHASES = {
    "load_context": "loaded skill, memory and retrieval",
    "actor": "actor proposed",
    "critic": "critic reviewed",
    "plan": "A/B test planned",
    "approve": "approval decided",
    "launch": "A/B test launched",
    "monitor": "A/B test checked",
    "record": "results recorded",
    "insight_task": "insight statistics",
    "insight_reduce": "cross-task insight",
    "skill": "skill updated",
}


class _ProgressWithTable(Progress):
    """A progress display that also renders a table under its bars, refreshed with them."""

    table: Table | None = None

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.table is not None:
            yield self.table


class RoundProgress:
    """Progress bars for each phase and for the simulated A/B days, plus a live arms table.

    The table lists the arms the Critic kept with their changes; once the A/B test reports,
    each arm's lifts (primary first) fill in.
    """

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.arms: list[dict[str, Any]] = []
        self.lifts: dict[str, dict[str, str]] = {}
        self.progress = _ProgressWithTable(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
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
            self.phase_task = self.progress.add_task("round", total=len(PHASES))

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled and self.phase_task is not None:
            self.progress.stop()

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
            if data.get("phase") == "ab_test":
                total = max(1, int(data.get("days_total") or 1))
                if self.days_task is None:
                    self.days_task = self.progress.add_task("A/B test days", total=total)
                self.progress.update(self.days_task, completed=int(data.get("days_run", 0)))
            return
        label = PHASES.get(node, node)
        detail = ""
        if node == "actor":
            detail = f": {len(data.get('proposals', []))} proposals"
        elif node == "critic" and "candidates" in data:
            detail = f": kept {len(data.get('candidates', []))}"
            self.arms = [c for c in data["candidates"] if isinstance(c, dict)]
        elif node == "monitor" and isinstance(data.get("results"), dict):
            self._take_results(data["results"])
        self.progress.table = self._arms_table()
        self.progress.update(self.phase_task, advance=1, description=f"{label}{detail}")

    def _take_results(self, results: dict[str, Any]) -> None:
        for arm in results.get("arms", []):
            cid = arm.get("candidate_id") or arm.get("arm", "")
            cells: dict[str, str] = {}
            for name, m in arm.get("metrics", {}).items():
                mark = "*" if m.get("significant") else ""
                cells[name] = f"{float(m.get('relative_lift', 0.0)):+.2%}{mark}"
            if arm.get("aborted"):
                cells["status"] = "aborted"
            self.lifts[cid] = cells

    def _arms_table(self) -> Table | None:
        if not self.arms:
            return None
        metrics = sorted({m for cells in self.lifts.values() for m in cells if m != "status"})
        table = Table("arm", "changes", *metrics, title="arms (* = significant)")
        for c in self.arms:
            cid = str(c.get("id", ""))
            delta = c.get("delta") or {}
            changes = ", ".join(f"{k}={v}" for k, v in delta.items())
            cells = self.lifts.get(cid, {})
            table.add_row(
                escape(cid),
                escape(changes),
                *[cells.get(m, "") for m in metrics],
            )
        return table


def _fmt_metric(m: Any) -> str:
    mark = "*" if m.significant else ""
    return f"{m.relative_lift:+.2%}{mark} [{m.ci_low:+.2%}, {m.ci_high:+.2%}]"


def print_round(report: RoundReport, workspace: str | Path, console: Console | None = None) -> None:
    """A summary of a round: candidates, results, recommendation and what to do next."""
    con = console or Console()
    con.rule(f"{report.task} round {report.round}: {report.status}")
    if report.error:
        con.print(f"[red]{report.error}[/red]")
    if report.status == "awaiting_approval" and report.pending:
        _candidate_table(con, report.pending.get("candidates", []))
        con.print(
            f"Approve in the terminal:  rectune approve {report.thread_id} -w {workspace}\n"
            f"or approve all:           rectune approve {report.thread_id} --all -w {workspace}"
        )
        return
    if report.status == "waiting" and report.pending:
        p = report.pending
        con.print(
            f"A/B test {p.get('experiment_id')} is running (day {p.get('days_run')}/"
            f"{p.get('days_total')}). Continue later: "
            f"rectune resume {report.thread_id} -w {workspace}"
        )
        return
    if report.results is not None:
        metrics = sorted({m for a in report.results.arms for m in a.metrics})
        table = Table(
            "arm", "candidate", *metrics, "status", title="A/B results (* = significant after Holm)"
        )
        for a in report.results.arms:
            table.add_row(
                a.arm,
                a.candidate_id or "",
                *[_fmt_metric(a.metrics[m]) if m in a.metrics else "" for m in metrics],
                "aborted: " + (a.abort_reason or "") if a.aborted else "ok",
            )
        con.print(table)
        if report.results.srm_detected:
            con.print(
                "[yellow]Sample-ratio mismatch detected: treat these results with care.[/yellow]"
            )
    if report.recommendation:
        rec = report.recommendation
        con.print(
            "Launch recommendation: "
            f"[bold]{rec.candidate_id or 'production (no change)'}[/bold] {rec.summary}"
        )
    for r in report.learned_rules:
        con.print(f"[green]learned rule[/green] {r.id}: {r.text}")
    if report.retired_rules:
        con.print(f"retired rules: {', '.join(report.retired_rules)}")
    if report.token_usage:
        con.print(f"tokens: {report.token_usage}")


def _candidate_table(con: Console, rows: list[dict[str, Any]]) -> None:
    """Candidates numbered from 1 (the numbers the review prompts ask for)."""
    table = Table(show_lines=True, title="candidates (changes against production)")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("id", overflow="fold", min_width=10)
    table.add_column("changes", overflow="fold")
    table.add_column("hypothesis", overflow="fold")
    table.add_column("critic", overflow="fold")
    table.add_column("predicted lift [95%]", overflow="fold")
    for n, r in enumerate(rows, 1):
        diff = "\n".join(
            f"{k}: {v['from']} -> {v['to']}" for k, v in r.get("diff_vs_baseline", {}).items()
        )
        pred = r.get("prediction") or {}
        lines = [
            f"{k}: {v['mean']:+.2%} [{v['low']:+.2%}, {v['high']:+.2%}]"
            for k, v in (pred.get("lifts") or {}).items()
        ]
        if pred:
            lines.insert(0, f"guardrail risk: {float(pred.get('breach_probability', 0)):.0%}")
        table.add_row(
            str(n),
            r["id"],
            escape(diff),
            escape(r.get("hypothesis", "")[:200]),
            escape(r.get("critic_justification", "")[:200]),
            escape("\n".join(lines)),
        )
    con.print(table)


def format_plan(plan: dict[str, Any]) -> str:
    """One line describing an A/B plan of the approval payload."""
    if not plan:
        return "A/B plan: (none)"
    parts = [
        f"{plan.get('arms', '?')} arm(s) against {plan.get('control', 'production')}",
        f"{float(plan['traffic_per_arm']):.1%} of traffic each"
        if plan.get("traffic_per_arm") is not None
        else "",
        f"{plan['days']} day(s)" if plan.get("days") is not None else "",
    ]
    stats = ", ".join(
        f"{k.replace('_', ' ')} {plan[k]}"
        for k in ("min_detectable_effect", "alpha", "power")
        if plan.get(k) is not None
    )
    text = "A/B plan: " + ", ".join(p for p in parts if p)
    text += f" ({stats})" if stats else ""
    power = plan.get("power_analysis")
    if isinstance(power, dict):
        text += (
            f"\n  {power['users_per_arm']:,} users per arm; planned power at the MDE "
            f"{float(power['planned_power']):.0%}; detects {float(power['detectable_effect']):.2%}"
        )
        if not power.get("powered"):
            need = f"{power['users_needed_per_arm']:,} users per arm"
            if power.get("days_needed"):
                need += f" or {power['days_needed']} days"
            text += f"\n  UNDERPOWERED for the MDE: needs {need}"
    if plan.get("note"):
        text += f"\n  {plan['note']}"
    return text


def print_threads(threads: list[ThreadInfo], console: Console | None = None) -> None:
    """Every round thread of the workspace."""
    con = console or Console()
    if not threads:
        con.print("No rounds yet. Start one with: rectune run TASK")
        return
    table = Table("thread", "task", "round", "status", "created")
    for t in threads:
        table.add_row(t.thread_id, t.task, str(t.round), t.status, t.created_at[:19])
    con.print(table)


def print_history(
    task: str, cands: list[Candidate], workspace: str | Path, console: Console | None = None
) -> None:
    """The journal of a task as a table."""
    con = console or Console()
    if not cands:
        con.print(f"No experiments for {task} in {workspace} yet.")
        return
    metrics = sorted({m for c in cands if c.result for m in c.result.metrics})
    table = Table("id", "round", "status", "delta", *metrics, title=f"{task} journal")
    for c in sorted(cands, key=lambda c: (c.round, c.id)):
        res = c.result.metrics if c.result else {}
        table.add_row(
            c.id,
            str(c.round),
            c.status.value,
            ", ".join(f"{k}={v}" for k, v in c.delta.items()),
            *[f"{res[m].relative_lift:+.2%}" if m in res else "" for m in metrics],
        )
    con.print(table)
