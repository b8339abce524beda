"""Turn the benchmark's raw run records into a summary, a Markdown table and a plot."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rectune.bench.scoring import mean_ci, paired_difference

__all__ = ["markdown", "plot", "summarize"]

REFERENCE = "rectune"


def _runs(data: dict[str, Any], task: str, method: str) -> list[dict[str, Any]]:
    return sorted(
        (
            r
            for r in data["runs"]
            if r["task"] == task and r["method"] == method and "error" not in r
        ),
        key=lambda r: r["seed"],
    )


def _median(xs: Sequence[float]) -> float:
    ys = [x for x in xs if not math.isnan(x)]
    return statistics.median(ys) if ys else math.nan


def _median_rounds(values: Sequence[int | None], rounds: int) -> float | None:
    """Median rounds to a level, counting "never" as beyond the budget; None if beyond."""
    if not values:
        return None
    xs = sorted(float(v) if v is not None else math.inf for v in values)
    med = statistics.median(xs)
    return None if med > rounds else med


def best_tested_pct(data: dict[str, Any], run: dict[str, Any]) -> float:
    """% of optimum of the best arm a run tested that respects every guardrail (oracle).

    It separates search from selection: a method may have tested a good configuration and
    still not launch it. Production (0%) counts as tested.
    """
    from rectune.bench.runner import problem_for

    problem = problem_for(run["task"])[0]
    opt = data["optima"][run["task"]]
    # Arms were scored by the cheap oracle; compare them with the optimum on the same one.
    denom = float(opt.get("primary_lift_cheap", opt["primary_lift"]))
    best = 0.0
    for rnd in run["rounds"]:
        for arm in rnd["arms"]:
            if arm["excess"] == 0:
                best = max(best, problem.objective(arm["oracle"]))
    return 100.0 * best / denom if denom > 0 else math.nan


def _common_pct(run: dict[str, Any]) -> float:
    """Final % of optimum when the run's arms are launched by rectune's launch rule."""
    c = run.get("common_launch")
    if not c:
        return math.nan
    return float(c.get("final_pct", c.get("pct_of_optimum", math.nan)))


def safe_pct(run: dict[str, Any]) -> float:
    """Final % of optimum, counting a launch that breaches a guardrail as production (0%).

    A launch that breaks a guardrail would be rolled back, so its lift is never banked.
    """
    pct = float(run["final_pct"])
    return 0.0 if run["final_breaches"] and not math.isnan(pct) else pct


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """Per task and method: the headline numbers; per task: paired differences vs rectune.

    Returns:
        ``{"tasks": {task: {method: stats}}, "paired": {task: {peer: stats}}, "curves": ...}``.
    """
    settings = data["settings"]
    rounds = int(settings["rounds"])
    tasks: dict[str, dict[str, Any]] = {}
    paired: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, list[list[float]]]] = {}
    methods = [m for m, s in data["methods"].items() if s == "ok"]
    pooled: dict[str, tuple[list[float], list[float]]] = {}
    pooled_safe: dict[str, tuple[list[float], list[float]]] = {}
    for task in settings["tasks"]:
        tasks[task], curves[task] = {}, {}
        for m in data["methods"]:
            runs = _runs(data, task, m)
            if data["methods"][m] != "ok":
                tasks[task][m] = {"status": data["methods"][m]}
                continue
            finals = [float(r["final_pct"]) for r in runs]
            mean, lo, hi = mean_ci(finals)
            errors = [
                r for r in data["runs"] if r["task"] == task and r["method"] == m and "error" in r
            ]
            tasks[task][m] = {
                "status": "ok",
                "runs": len(runs),
                "errors": len(errors),
                "median_pct": _median(finals),
                "median_safe_pct": _median([safe_pct(r) for r in runs]),
                "median_best_tested_pct": _median([best_tested_pct(data, r) for r in runs]),
                "mean_pct": mean,
                "mean_pct_low": lo,
                "mean_pct_high": hi,
                "final_breaching_launches": sum(bool(r["final_breaches"]) for r in runs),
                "any_breaching_launch": sum(
                    any(x["launched_breaches"] for x in r["rounds"]) for r in runs
                ),
                "final_is_production": sum(
                    bool(r["rounds"][-1]["launched_is_production"]) for r in runs if r["rounds"]
                ),
                "breaching_arms": sum(int(r["breaching_arms"]) for r in runs),
                "arms_tested": sum(int(r["arms_tested"]) for r in runs),
                "harm_per_run": statistics.fmean([float(r["harm"]) for r in runs])
                if runs
                else math.nan,
                "user_harm_per_run": statistics.fmean(
                    [float(r.get("user_harm", r["harm"])) for r in runs]
                )
                if runs
                else math.nan,
                "later_arms_over_loss_limit": sum(
                    int(r.get("later_arms_over_loss_limit", 0)) for r in runs
                ),
                "later_arms": sum(
                    len(rnd["arms"]) for r in runs for rnd in r["rounds"][1:]
                ),
                "worst_first_round_loss": max(
                    (float(r.get("first_round_worst_loss", math.nan)) for r in runs),
                    default=math.nan,
                ),
                "median_common_pct": _median([_common_pct(r) for r in runs]),
                "common_breaching_launches": sum(
                    bool(r.get("common_launch", {}).get(
                        "final_breaches", r.get("common_launch", {}).get("breaches", False)))
                    for r in runs
                ),
                "rounds_run": sum(len(r["rounds"]) for r in runs),
                "median_rounds_to_80": _median_rounds([r["rounds_to_80"] for r in runs], rounds),
                "median_rounds_to_95": _median_rounds([r["rounds_to_95"] for r in runs], rounds),
                "reached_80": sum(r["rounds_to_80"] is not None for r in runs),
                "reached_95": sum(r["rounds_to_95"] is not None for r in runs),
                "method_seconds_per_run": statistics.fmean(
                    [float(r["timing"]["method_seconds"]) for r in runs]
                )
                if runs
                else math.nan,
                "simulator_seconds_per_run": statistics.fmean(
                    [float(r["timing"]["simulator_seconds"]) for r in runs]
                )
                if runs
                else math.nan,
            }
            curves[task][m] = [[float(x) for x in r["curve"]] for r in runs]
        paired[task] = {}
        ref = {r["seed"]: r for r in _runs(data, task, REFERENCE)}
        for m in methods:
            if m == REFERENCE or not ref:
                continue
            other = {r["seed"]: r for r in _runs(data, task, m)}
            seeds = sorted(set(ref) & set(other))
            a = [float(ref[s]["final_pct"]) for s in seeds]
            b = [float(other[s]["final_pct"]) for s in seeds]
            arms_a = [float(ref[s]["breaching_arms"]) for s in seeds]
            arms_b = [float(other[s]["breaching_arms"]) for s in seeds]
            d = paired_difference(a, b)
            ds = paired_difference(
                [safe_pct(ref[s]) for s in seeds], [safe_pct(other[s]) for s in seeds]
            )
            da = paired_difference(arms_a, arms_b)
            paired[task][m] = {
                "pct": {**d.to_dict(), "favours": _side(d.favours(), m)},
                "safe_pct": {**ds.to_dict(), "favours": _side(ds.favours(), m)},
                "breaching_arms": {**da.to_dict(), "favours": _side(da.favours(), m, low=True)},
            }
            pa, pb = pooled.setdefault(m, ([], []))
            pa.extend(a)
            pb.extend(b)
            qa, qb = pooled_safe.setdefault(m, ([], []))
            qa.extend(safe_pct(ref[s]) for s in seeds)
            qb.extend(safe_pct(other[s]) for s in seeds)
    all_tasks = {}
    for m, (a, b) in pooled.items():
        d = paired_difference(a, b)
        sa, sb = pooled_safe[m]
        ds = paired_difference(sa, sb)
        all_tasks[m] = {
            "pct": {**d.to_dict(), "favours": _side(d.favours(), m)},
            "safe_pct": {**ds.to_dict(), "favours": _side(ds.favours(), m)},
        }
    paired["all_tasks"] = all_tasks
    return {"tasks": tasks, "paired": paired, "curves": curves}


def _side(favours: str, peer: str, low: bool = False) -> str:
    """Name the favoured method; with `low`, smaller numbers are better."""
    if favours == "neither":
        return "neither"
    if low:
        favours = "b" if favours == "a" else "a"
    return REFERENCE if favours == "a" else peer


def _fmt(x: Any, spec: str = ".0f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return format(x, spec)


def markdown(data: dict[str, Any], summary: dict[str, Any]) -> str:
    """The results table and the paired differences as Markdown."""
    s = data["settings"]
    rounds = s["rounds"]
    lines = [
        f"R={rounds} rounds × K={s['arms']} arms, {s['seeds']} paired seeds, "
        f"world seed {s['world_seed']}, population {s['population']}, "
        f"days {s['days'] if s['days'] is not None else 'skill default'}, "
        f"oracle {s['oracle_users']} users per configuration"
        + (
            f" (final launches and optima re-scored with {data['final_oracle_users']} users)."
            if data.get("final_oracle_users")
            else "."
        ),
        "",
        "| task | method | median % of optimum | mean % [95% CI] | median %, breach = 0 "
        "| best tested arm (median %) "
        "| final launch breaches | production kept | rounds to 80% / 95% | breaching arms "
        "| guardrail harm/run | user harm/run | worst round-1 loss "
        "| later arms over loss limit | method s/round |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, per_method in summary["tasks"].items():
        opt = data["optima"][task]
        for m, st in per_method.items():
            if st["status"] != "ok":
                lines.append(
                    f"| {task} | {m} | {st['status']} |  |  |  |  |  |  |  |  |  |  |  |  |"
                )
                continue
            r80 = _fmt(st["median_rounds_to_80"], ".1f")
            r95 = _fmt(st["median_rounds_to_95"], ".1f")
            if r80 == "—":
                r80 = f">{rounds}"
            if r95 == "—":
                r95 = f">{rounds}"
            lines.append(
                f"| {task} | {m} | {_fmt(st['median_pct'])} | {_fmt(st['mean_pct'])} "
                f"[{_fmt(st['mean_pct_low'])}, {_fmt(st['mean_pct_high'])}] "
                f"| {_fmt(st['median_safe_pct'])} | {_fmt(st['median_best_tested_pct'])} "
                f"| {st['final_breaching_launches']}/{st['runs']} "
                f"| {st['final_is_production']}/{st['runs']} "
                f"| {r80} / {r95} ({st['reached_80']}, {st['reached_95']} reached) "
                f"| {st['breaching_arms']}/{st['arms_tested']} "
                f"| {st['harm_per_run'] * 1e4:.2f} | {st['user_harm_per_run'] * 1e4:.1f} "
                f"| {_fmt(st['worst_first_round_loss'] * 100, '.1f')}% "
                f"| {st['later_arms_over_loss_limit']}/{st['later_arms']} "
                f"| {_s_per_round(st):.2f} |"
            )
        source = opt.get("source", "oracle search")
        lines.append(
            f"| {task} | *optimum ({source})* | objective lift {opt['primary_lift']:+.2%} "
            f"(oracle search: {opt['search_lift']:+.2%}) |  |  |  |  |  |  |  |  |  |  |  |  |"
        )
    lines += [
        "",
        "Paired differences, rectune minus peer (final % of optimum; breaching arms per run), "
        "mean [95% t-interval] over seeds:",
        "",
        "| task | peer | Δ % of optimum | favours | Δ %, breach = 0 | favours "
        "| Δ breaching arms/run | favours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, per_peer in summary["paired"].items():
        for m, st in per_peer.items():
            d = st["pct"]
            arms = st.get("breaching_arms")
            arm_txt = (
                f"{_fmt(arms['mean'], '+.2f')} [{_fmt(arms['low'], '+.2f')}, "
                f"{_fmt(arms['high'], '+.2f')}] | {arms['favours']}"
                if arms
                else " | "
            )
            sp = st.get("safe_pct")
            safe_txt = (
                f"{_fmt(sp['mean'], '+.1f')} [{_fmt(sp['low'], '+.1f')}, "
                f"{_fmt(sp['high'], '+.1f')}] | {sp['favours']}"
                if sp
                else " | "
            )
            lines.append(
                f"| {task} | {m} | {_fmt(d['mean'], '+.1f')} [{_fmt(d['low'], '+.1f')}, "
                f"{_fmt(d['high'], '+.1f')}] (n={d['n']}) | {d['favours']} | {safe_txt} "
                f"| {arm_txt} |"
            )
    lines += [
        "",
        "Same launch rule for every method (rectune's `Engine.recommend` on the method's own "
        "arms), to separate search from selection:",
        "",
        "| task | method | median % of optimum | final launch breaches |",
        "|---|---|---|---|",
    ]
    for task, per_method in summary["tasks"].items():
        for m, st in per_method.items():
            if st["status"] == "ok":
                lines.append(
                    f"| {task} | {m} | {_fmt(st['median_common_pct'])} "
                    f"| {st['common_breaching_launches']}/{st['runs']} |"
                )
    lines += ["", *targets(data, summary), ""]
    lines += [
        "Median %, breach = 0: a final launch that breaks a guardrail counts as production "
        "(it would be rolled back).",
        "Guardrail harm/run: sum over guardrail-breaching arms of traffic share × share of the "
        "test run × distance past the limit, ×10⁴. User harm/run adds what every arm's users "
        "lost on the objective (traffic share × share of the test × max(0, −objective lift)), "
        "×10⁴. Worst round-1 loss: the largest objective loss of any first-round arm. Later "
        "arms over loss limit: arms of rounds 2+ whose objective loss exceeds the task's "
        "arm-loss limit (max_arm_loss, default twice the tightest guardrail threshold). "
        "Breaching arms, losses and launches are judged by the oracle.",
    ]
    return "\n".join(lines) + "\n"


def _s_per_round(st: dict[str, Any]) -> float:
    rounds = max(int(st.get("rounds_run", 0)), 1)
    return float(st["method_seconds_per_run"]) * float(st["runs"]) / rounds


PEERS = ("ax", "optuna-gp")
"""The peers the targets are stated against."""


def targets(data: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the measured figure and whether it is met."""
    tasks = summary["tasks"]
    paired = summary["paired"]
    out = ["Targets (rectune):", ""]

    def ok(flag: bool) -> str:
        return "met" if flag else "NOT met"

    for task, per in tasks.items():
        me = per.get(REFERENCE, {})
        if me.get("status") != "ok":
            continue
        out.append(
            f"- {task}: median {_fmt(me['median_pct'])}% of optimum (target >= 90): "
            f"{ok(me['median_pct'] >= 90)}"
        )
        for peer in PEERS:
            d = paired.get(task, {}).get(peer)
            if d:
                out.append(
                    f"  - vs {peer}: {_fmt(d['pct']['mean'], '+.1f')} "
                    f"[{_fmt(d['pct']['low'], '+.1f')}, {_fmt(d['pct']['high'], '+.1f')}], "
                    f"favours {d['pct']['favours']} (target: not {peer}): "
                    f"{ok(d['pct']['favours'] != peer)}"
                )
        peers = [per[p] for p in per if p != REFERENCE and not p.startswith("rectune")
                 and per[p].get("status") == "ok"]
        if peers:
            best_arms = min(p["breaching_arms"] for p in peers)
            best_harm = min(p["user_harm_per_run"] for p in peers)
            out.append(
                f"  - final launches breaching: {me['final_breaching_launches']} (target 0): "
                f"{ok(me['final_breaching_launches'] == 0)}; breaching arms "
                f"{me['breaching_arms']} vs best peer {best_arms} (target <= half): "
                f"{ok(me['breaching_arms'] <= 0.5 * best_arms)}; user harm/run "
                f"{me['user_harm_per_run'] * 1e4:.1f} vs best peer {best_harm * 1e4:.1f} "
                f"(target <= half): {ok(me['user_harm_per_run'] <= 0.5 * best_harm)}"
            )
            ax = per.get("ax", {})
            if ax.get("status") == "ok":
                out.append(
                    f"  - engine s/round {_s_per_round(me):.2f} vs Ax {_s_per_round(ax):.2f}: "
                    f"{ok(_s_per_round(me) <= _s_per_round(ax))}"
                )
        from rectune.bench.runner import problem_for

        limit = 3 * min(
            (abs(g.guardrail_threshold) for g in problem_for(task)[0].guardrails
             if g.guardrail_threshold), default=math.inf,
        )
        out.append(
            f"  - worst round-1 arm loss {me['worst_first_round_loss']:.2%} "
            f"(target <= 3x tightest guardrail = {limit:.2%}): "
            f"{ok(me['worst_first_round_loss'] <= limit)}"
        )
    for peer in (*PEERS, "rectune-nocritic"):
        d = paired.get("all_tasks", {}).get(peer)
        if d:
            want = REFERENCE if peer != "rectune-nocritic" else f"not {peer}"
            met = (d["pct"]["favours"] == REFERENCE) if peer != "rectune-nocritic" else (
                d["pct"]["favours"] != peer
            )
            out.append(
                f"- all tasks vs {peer}: {_fmt(d['pct']['mean'], '+.1f')} "
                f"[{_fmt(d['pct']['low'], '+.1f')}, {_fmt(d['pct']['high'], '+.1f')}] "
                f"(n={d['pct']['n']}), favours {d['pct']['favours']} (target: {want}): {ok(met)}"
            )
    return out


def plot(data: dict[str, Any], summary: dict[str, Any], path: Path) -> None:
    """Lift of the launched configuration vs round, one line per method with a 95% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    tasks = list(summary["curves"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for m, runs in summary["curves"][task].items():
            if not runs:
                continue
            xs = list(range(1, len(runs[0]) + 1))
            stats = [mean_ci([r[i] for r in runs]) for i in range(len(xs))]
            mean = [st[0] for st in stats]
            lo = [st[1] if not math.isnan(st[1]) else st[0] for st in stats]
            hi = [st[2] if not math.isnan(st[2]) else st[0] for st in stats]
            (line,) = ax.plot(xs, mean, marker="o", label=m, lw=2 if m == REFERENCE else 1.2)
            ax.fill_between(xs, lo, hi, alpha=0.15, color=line.get_color())
        ax.axhline(100, color="grey", lw=0.8, ls="--")
        ax.axhline(90, color="grey", lw=0.6, ls=":")
        ax.set_title(task)
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("launched config: % of oracle optimum (mean, 95% CI)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
