"""`make demo` / `rectune demo`: real tuning rounds on the embedded simulator, offline engine.

The demo approves what the Critic keeps (it runs unattended) and, because the simulator can
tell, prints the true (noise-free) lift of each round's launch recommendation; the agents never
see that oracle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rectune.api import run_round
from rectune.cli_view import RoundProgress
from rectune.skillhub.hub import SkillHub
from rectune.workspace import ensure_workspace

__all__ = ["run_demo"]


def _oracle_primary(task: str, config: dict[str, Any], metric: str, seed: int) -> str:
    from rectune.simulator.oracle import oracle_lifts

    return f"{oracle_lifts(task, config, seed=seed)[metric]:+.2%}"


def _short(candidate_id: str | None, task: str) -> str:
    """Candidate ids without the task prefix, to keep the table narrow."""
    return (candidate_id or "").removeprefix(f"{task}-")


def run_demo(
    workspace: str | Path,
    *,
    rounds: int = 3,
    tasks: list[str] | None = None,
    seed: int = 0,
    console: Console | None = None,
) -> list[Any]:
    """Run `rounds` rounds of each task and print a summary table per task.

    The last round of a task is a decision round (``decision_round``): its arms re-test the
    leading candidates side by side, as an engineer would before shipping one.
    """
    con = console or Console()
    ensure_workspace(workspace)
    reports = []
    hub = SkillHub.in_workspace(workspace, install=False)
    for task in tasks or ["value_fusion"]:
        prim_name = hub.get(task).primary_metrics[0].name
        table = Table(
            "round",
            "arms",
            "best arm (primary lift)",
            "guardrail aborts",
            "launch recommendation",
            "true lift of the launch (oracle)",
            title=f"{task}: offline engine on the simulator",
        )
        for i in range(rounds):
            with RoundProgress() as progress:
                rep = run_round(
                    task,
                    workspace=workspace,
                    model=None,
                    approve=True,
                    seed=seed,
                    on_event=progress.event,
                    decision_round=rounds > 1 and i == rounds - 1,
                )
            reports.append(rep)
            if rep.status != "completed" or rep.results is None:
                con.print(f"[red]round ended: {rep.status} {rep.error or ''}[/red]")
                break
            best = ""
            arms = [a for a in rep.results.arms if prim_name in a.metrics]
            if arms:
                top = max(arms, key=lambda a: a.metrics[prim_name].relative_lift)
                m = top.metrics[prim_name]
                ci = f"[{m.ci_low:+.2%}, {m.ci_high:+.2%}]"
                best = f"{_short(top.candidate_id, task)}: {m.relative_lift:+.2%} {ci}"
            aborted = sum(1 for a in rep.results.arms if a.aborted)
            rec = rep.recommendation
            table.add_row(
                str(rep.round),
                str(len(rep.results.arms)),
                best,
                str(aborted),
                (_short(rec.candidate_id, task) if rec else "") or "keep production",
                _oracle_primary(task, rec.config, prim_name, seed) if rec else "n/a",
            )
        con.print(table)
    con.print(f"Workspace: {workspace}. Try: rectune history value_fusion -w {workspace}")
    return reports
