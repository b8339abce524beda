"""HTML reports with PNG plots of a task's tuning history.

A report is derived data: it is written from the journal and the skillhub and can be
rewritten at any time. Example::

    from rectune.report import write_report
    index = write_report("ws", "value_fusion")   # ws/reports/value_fusion/index.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rectune.durable import atomic_write_text
from rectune.memory.insight_stats import FindingKind
from rectune.report.data import ReportData, collect
from rectune.report.html import render_html
from rectune.report.plots import (
    HEIGHT_PX,
    WIDTH_PX,
    plot_findings,
    plot_lifts,
    plot_pareto,
    plot_sensitivity,
)
from rectune.workspace import Workspace

__all__ = ["HEIGHT_PX", "WIDTH_PX", "ReportData", "ReportFiles", "build_report", "write_report"]


@dataclass
class ReportFiles:
    """The files of a written report.

    Attributes:
        index: The HTML page.
        plots: Plot name -> PNG file, in the order the page shows them.
        tested: Number of tested configurations the report covers (0: an empty report).
    """

    index: Path
    plots: dict[str, Path] = field(default_factory=dict)
    tested: int = 0

    def to_json(self) -> dict[str, object]:
        """Paths as strings, for ``rectune report --json``."""
        return {
            "index": str(self.index),
            "plots": {k: str(v) for k, v in self.plots.items()},
            "tested": self.tested,
        }


_CAPTIONS = {
    "pareto_front": (
        "Each point is a tested configuration, labelled with its id, with its 95% intervals; "
        "elites (the non-dominated feasible ones) are green and outlined, infeasible ones are "
        "red crosses, the recommended one is ringed in orange, production is the star at 0."
    ),
    "lift_per_round": (
        "Relative lift of every arm against its control with the 95% confidence interval; "
        "the dashed red line is the guardrail's threshold."
    ),
    "parameter_values": (
        "Primary lift against the value each configuration gave a parameter; a trend here "
        "hints at sensitivity, but parameters moved together so it is not causal. Parameters no "
        "tested arm moved are left out."
    ),
    "sensitivity": (
        "Effects estimated by the insight statistics (ridge regression over all arms, "
        "bootstrap CIs)."
    ),
}


def build_report(workspace: str | Path, task: str) -> ReportFiles:
    """Write ``<workspace>/reports/<task>/index.html`` and its plots.

    Args:
        workspace: The workspace directory.
        task: The skill whose history to report.

    Returns:
        The written files.

    Raises:
        SkillNotFoundError: when the workspace has no skill called `task`.
    """
    data = collect(workspace, task)
    out = Workspace(workspace).report_dir(task)
    out.mkdir(parents=True, exist_ok=True)
    # Plots of an older report would otherwise linger next to a page that no longer shows them.
    for old in out.glob("*.png"):
        old.unlink()
    plots: dict[str, Path] = {}
    captions = dict(_CAPTIONS)
    if data.tested:
        plots["pareto_front"], clipped = plot_pareto(data, out / "pareto_front.png")
        if clipped:
            captions["pareto_front"] += (
                " Off scale (drawn at the edge, pointing where they are): "
                + "; ".join(clipped) + "."
            )
        plots["lift_per_round"] = plot_lifts(data, out / "lift_per_round.png")
        plots["parameter_values"] = plot_sensitivity(data, out / "parameter_values.png")
        sens = [f for f in data.findings if f.kind is FindingKind.SENSITIVITY]
        if sens:
            plots["sensitivity"] = plot_findings(sens, out / "sensitivity.png", task)
    index = out / "index.html"
    atomic_write_text(index, render_html(data, plots, captions))
    return ReportFiles(index=index, plots=plots, tested=len(data.tested))


def write_report(workspace: str | Path, task: str) -> Path:
    """Write the report of `task` and return the path of its ``index.html``."""
    return build_report(workspace, task).index
