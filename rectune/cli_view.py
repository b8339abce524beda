"""Terminal rendering for the CLI: progress while a round runs, tables after."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from rectune.api import RoundReport, ThreadInfo
from rectune.domain import Candidate

__all__ = ["RoundProgress", "print_history", "print_round", "print_threads"]

PHASES = {
    "load_context": "loaded skill, memory and retrieval",
    "actor": "actor proposed",
    "critic": "critic reviewed",
    "approve": "approval decided",
    "online": "A/B test finished",
    "record": "results recorded",
    "insight_task": "insight statistics",
    "insight_reduce": "cross-task insight",
    "skill": "skill updated",
}


class RoundProgress:
    """Progress bars for each phase and for the simulated A/B days."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.progress = Progress(
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
        if self.enabled:
            self.progress.start()
            self.phase_task = self.progress.add_task("round", total=len(PHASES))
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self.progress.stop()

    def event(self, node: str, data: dict[str, Any]) -> None:
        """Receive one event from the API's stream."""
        if not self.enabled:
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
        self.progress.update(self.phase_task, advance=1, description=f"{label}{detail}")


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
            f"[bold]{rec.get('candidate_id') or 'production (no change)'}[/bold] "
            f"{rec.get('summary', '')}"
        )
    for r in report.learned_rules:
        con.print(f"[green]learned rule[/green] {r.id}: {r.text}")
    if report.retired_rules:
        con.print(f"retired rules: {', '.join(report.retired_rules)}")
    if report.token_usage:
        con.print(f"tokens: {report.token_usage}")


def _candidate_table(con: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(
        "id", "changes vs production", "hypothesis", "critic", "predicted", show_lines=True
    )
    for r in rows:
        diff = "\n".join(
            f"{k}: {v['from']} -> {v['to']}" for k, v in r.get("diff_vs_baseline", {}).items()
        )
        pred = "\n".join(
            f"{k.removeprefix('predicted_')}: {v}"
            for k, v in r.get("predicted", {}).items()
            if k.startswith("predicted_") or k == "breach_probability"
        )
        table.add_row(
            r["id"],
            diff,
            r.get("hypothesis", "")[:200],
            r.get("critic_justification", "")[:200],
            pred,
        )
    con.print(table)


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
