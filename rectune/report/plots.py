"""The report's PNG plots, drawn with matplotlib's Agg backend (no display needed).

Every plot has the same pixel size (`WIDTH_PX` x `HEIGHT_PX`) so the HTML can declare it and a
test can check it; ``bbox_inches="tight"`` is avoided on purpose because it changes the size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rectune.domain import Candidate, MetricSpec
from rectune.domain.parameters import ConfigValue
from rectune.report.data import ReportData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "HEIGHT_PX",
    "WIDTH_PX",
    "plot_lifts",
    "plot_pareto",
    "plot_sensitivity",
]

DPI = 100
WIDTH_PX = 960
HEIGHT_PX = 600


def _figure(rows: int = 1, cols: int = 1) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    # A bare Figure (not pyplot) keeps no global state, so reports can be drawn in threads.
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _lift(c: Candidate, metric: str) -> float | None:
    if c.result is None or metric not in c.result.metrics:
        return None
    return c.result.metrics[metric].relative_lift


def plot_pareto(data: ReportData, path: Path) -> Path:
    """Primary against secondary lift of every tested configuration.

    Elites are drawn large and outlined, infeasible configurations (aborted or breaching a
    guardrail) as crosses, production as the origin.
    """
    fig, axes = _figure()
    ax = axes[0][0]
    primary = data.primary
    secondary = data.secondary
    sec_name = secondary.name if secondary is not None else primary.name
    groups: dict[str, tuple[list[float], list[float]]] = {
        "elite": ([], []),
        "feasible": ([], []),
        "infeasible": ([], []),
    }
    for c in data.tested:
        x, y = _lift(c, sec_name), _lift(c, primary.name)
        if x is None or y is None:
            continue
        if data.elites.is_elite(c.id):
            kind = "elite"
        elif c.id in data.elites.infeasible:
            kind = "infeasible"
        else:
            kind = "feasible"
        groups[kind][0].append(100 * x)
        groups[kind][1].append(100 * y)
    ax.scatter(*groups["feasible"], s=30, c="#8aa4c8", label="tested (dominated)")
    ax.scatter(*groups["infeasible"], s=40, c="#d62728", marker="x", label="infeasible")
    ax.scatter(
        *groups["elite"],
        s=90,
        c="#2ca02c",
        edgecolors="black",
        linewidths=1.0,
        label="elite (Pareto front)",
        zorder=3,
    )
    ax.scatter([0.0], [0.0], s=120, c="black", marker="*", label="production", zorder=4)
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.axvline(0.0, color="grey", lw=0.6)
    ax.set_xlabel(f"{sec_name} lift (%)")
    ax.set_ylabel(f"{primary.name} lift (%)")
    ax.set_title(f"{data.task}: tested configurations, {primary.name} vs {sec_name}")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def _guardrail_line(ax: Any, metric: MetricSpec) -> None:
    if metric.guardrail_threshold is not None:
        ax.axhline(
            100 * metric.guardrail_threshold,
            color="#d62728",
            ls="--",
            lw=1.0,
            label="guardrail threshold",
        )
        ax.legend(loc="best", fontsize=7)


def plot_lifts(data: ReportData, path: Path) -> Path:
    """Lift and 95% CI of every tested arm per round, for the primary and each guardrail."""
    metrics = [data.primary, *data.guardrails]
    cols = 1 if len(metrics) == 1 else 2
    rows = math.ceil(len(metrics) / cols)
    fig, axes = _figure(rows, cols)
    flat = [ax for row in axes for ax in row]
    for ax, metric in zip(flat, metrics, strict=False):
        by_round: dict[int, list[Candidate]] = {}
        for c in data.tested:
            if _lift(c, metric.name) is not None:
                by_round.setdefault(c.round, []).append(c)
        for rnd, cands in sorted(by_round.items()):
            n = len(cands)
            for i, c in enumerate(cands):
                assert c.result is not None
                m = c.result.metrics[metric.name]
                # Arms of one round are spread a little so their intervals do not overlap.
                x = rnd + (i - (n - 1) / 2) * (0.6 / max(n, 1))
                y = 100 * m.relative_lift
                ax.errorbar(
                    x,
                    y,
                    yerr=[[y - 100 * m.ci_low], [100 * m.ci_high - y]],
                    fmt="o",
                    ms=4,
                    capsize=2,
                    color="#1f77b4" if not m.significant else "#ff7f0e",
                )
        ax.axhline(0.0, color="grey", lw=0.6)
        _guardrail_line(ax, metric)
        ax.set_title(
            f"{metric.name} ({metric.role.value}, {metric.direction.value} is good)", fontsize=9
        )
        ax.set_xlabel("round")
        ax.set_ylabel("lift (%) with 95% CI")
        if by_round:
            ax.set_xticks(sorted(by_round))
    for ax in flat[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle(f"{data.task}: lift per round (orange = significant after Holm)", fontsize=10)
    return _save(fig, path)


def _value(config: dict[str, ConfigValue], baseline: dict[str, ConfigValue], name: str) -> Any:
    return config.get(name, baseline.get(name))


def plot_sensitivity(data: ReportData, path: Path) -> Path:
    """Primary lift against each parameter's tested value, production marked."""
    names = list(data.skill.space.names)
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = _figure(rows, cols)
    flat = [ax for row in axes for ax in row]
    primary = data.primary.name
    baseline = dict(data.skill.baseline)
    for ax, name in zip(flat, names, strict=False):
        xs: list[float] = []
        ys: list[float] = []
        for c in data.tested:
            lift = _lift(c, primary)
            value = _value(dict(c.config), baseline, name)
            if lift is None or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            xs.append(float(value))
            ys.append(100 * lift)
        ax.scatter(xs, ys, s=18, c="#1f77b4")
        base = baseline.get(name)
        if isinstance(base, int | float) and not isinstance(base, bool):
            ax.axvline(float(base), color="black", ls=":", lw=1.0)
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(f"{primary} lift (%)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in flat[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"{data.task}: {primary} lift by parameter value (dotted line = production)", fontsize=10
    )
    return _save(fig, path)


def plot_findings(findings: Sequence[Any], path: Path, task: str) -> Path:
    """Forest plot of the sensitivity findings: effect per parameter and metric with its CI."""
    fig, axes = _figure()
    ax = axes[0][0]
    labels = [f"{'+'.join(f.parameters)} -> {f.metric}" for f in findings]
    for i, f in enumerate(findings):
        ax.errorbar(
            100 * f.effect,
            i,
            xerr=[[100 * (f.effect - f.ci_low)], [100 * (f.ci_high - f.effect)]],
            fmt="o",
            capsize=3,
            color="#2ca02c" if f.good else "#d62728",
        )
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.axvline(0.0, color="grey", lw=0.6)
    ax.set_xlabel("effect on lift (% per standard deviation of the parameter's moves)")
    ax.set_title(f"{task}: parameter sensitivity (green = good for the metric)", fontsize=10)
    return _save(fig, path)
