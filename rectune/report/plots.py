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


def _short_id(cid: str, task: str) -> str:
    return cid.removeprefix(f"{task}-")


def _view(
    values: Sequence[float], intervals: Sequence[tuple[float, float]], pad: float = 0.08
) -> tuple[float, float]:
    """Axis limits that show the bulk of the points with their intervals: an extreme arm (a
    -38% disaster next to arms within +-3%) would otherwise squash everything else into a dot.
    Points more than six robust spreads (median absolute deviations, at least half a point)
    from the median are left outside and drawn at the edge."""
    vals = sorted(values)
    if not vals:
        return -1.0, 1.0
    mid = vals[len(vals) // 2]
    mad = sorted(abs(v - mid) for v in vals)[len(vals) // 2]
    scale = max(1.4826 * mad, 0.5)
    keep = [abs(v - mid) <= 6 * scale for v in values]
    ends = [e for (lo, hi), k in zip(intervals, keep, strict=True) if k for e in (lo, hi)]
    ends = ends or vals
    lo, hi = min(*ends, 0.0), max(*ends, 0.0)
    margin = pad * max(hi - lo, 1.0)
    return lo - margin, hi + margin


def plot_pareto(data: ReportData, path: Path) -> tuple[Path, list[str]]:
    """Primary against secondary lift of every tested configuration, with 95% intervals.

    Elites are outlined, infeasible configurations (aborted or breaching a guardrail) drawn
    as crosses, production as the origin, the recommended configuration ringed. Points are
    labelled with their ids. Arms far outside the bulk are drawn at the plot's edge as
    triangles pointing where they are, and listed.

    Returns:
        The file, and one line per arm drawn at the edge ("r1-c2 at -38.6% dwell_time").
    """
    fig, axes = _figure()
    ax = axes[0][0]
    primary = data.primary
    secondary = data.secondary
    sec_name = secondary.name if secondary is not None else primary.name
    recommended = data.advice.candidate_id if data.advice and not data.advice.is_baseline else None
    points = []
    for c in data.tested:
        assert c.result is not None
        mx, my = c.result.metrics.get(sec_name), c.result.metrics.get(primary.name)
        if mx is None or my is None:
            continue
        if data.elites.is_elite(c.id):
            kind = "elite"
        elif c.id in data.elites.infeasible:
            kind = "infeasible"
        else:
            kind = "feasible"
        points.append((c, kind, mx, my))
    xlim = _view([100 * mx.relative_lift for _, _, mx, _ in points],
                 [(100 * mx.ci_low, 100 * mx.ci_high) for _, _, mx, _ in points])
    ylim = _view([100 * my.relative_lift for _, _, _, my in points],
                 [(100 * my.ci_low, 100 * my.ci_high) for _, _, _, my in points])
    inset = (0.01 * (xlim[1] - xlim[0]), 0.01 * (ylim[1] - ylim[0]))
    style = {
        "feasible": {"c": "#8aa4c8", "marker": "o", "s": 30, "label": "tested (dominated)"},
        "infeasible": {"c": "#d62728", "marker": "X", "s": 50, "label": "infeasible"},
        "elite": {"c": "#2ca02c", "marker": "o", "s": 80, "label": "elite (Pareto front)"},
    }
    seen: set[str] = set()
    clipped: list[str] = []
    for c, kind, mx, my in points:
        x, y = 100 * mx.relative_lift, 100 * my.relative_lift
        cx = min(max(x, xlim[0] + inset[0]), xlim[1] - inset[0])
        cy = min(max(y, ylim[0] + inset[1]), ylim[1] - inset[1])
        label = style[kind]["label"] if kind not in seen else None
        seen.add(kind)
        name = _short_id(c.id, data.task)
        if not (xlim[0] <= x <= xlim[1] and ylim[0] <= y <= ylim[1]):
            marker = "v" if y < ylim[0] else "^" if y > ylim[1] else "<" if x < xlim[0] else ">"
            ax.scatter([cx], [cy], s=60, c=style[kind]["c"], marker=marker, zorder=3,
                       label=label)
            clipped.append(f"{name} at {y:+.1f}% {primary.name}, {x:+.1f}% {sec_name}")
        else:
            ax.errorbar(
                x, y,
                xerr=[[x - 100 * mx.ci_low], [100 * mx.ci_high - x]],
                yerr=[[y - 100 * my.ci_low], [100 * my.ci_high - y]],
                fmt="none", ecolor=style[kind]["c"], alpha=0.35, lw=0.8, zorder=1,
            )
            ax.scatter(
                [x], [y], s=style[kind]["s"], c=style[kind]["c"], marker=style[kind]["marker"],
                edgecolors="black" if kind == "elite" else "none", linewidths=0.8,
                label=label, zorder=3,
            )
        ax.annotate(name, (cx, cy), textcoords="offset points", xytext=(4, 3), fontsize=7)
        if c.id == recommended:
            ax.scatter([cx], [cy], s=320, facecolors="none", edgecolors="#ff7f0e",
                       linewidths=2.0, label="recommended", zorder=4)
    ax.scatter([0.0], [0.0], s=140, c="black", marker="*", label="production", zorder=5)
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.axvline(0.0, color="grey", lw=0.6)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(f"{sec_name} lift (%), 95% interval")
    ax.set_ylabel(f"{primary.name} lift (%), 95% interval")
    title = f"{data.task}: tested configurations, {primary.name} vs {sec_name}"
    if clipped:
        title += f" ({len(clipped)} arm(s) off scale, drawn at the edge)"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path), clipped


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
    """Primary lift against each parameter's tested value, production marked.

    Parameters no tested arm moved (a fixed reference weight, say) get no panel: a column of
    points at one value tells nothing.
    """
    baseline = dict(data.skill.baseline)
    names = [
        n for n in data.skill.space.names
        if any(_value(dict(c.config), baseline, n) != baseline.get(n) for c in data.tested)
    ] or list(data.skill.space.names)
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = _figure(rows, cols)
    flat = [ax for row in axes for ax in row]
    primary = data.primary.name
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
