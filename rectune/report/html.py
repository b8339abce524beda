"""The report's HTML page: every piece of text is escaped, every plot linked by relative path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from rectune.domain import Candidate
from rectune.memory.elites import guardrail_outcome
from rectune.report.data import ReportData
from rectune.report.explain import explain_advice
from rectune.report.plots import HEIGHT_PX, WIDTH_PX

__all__ = ["render_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
.note { color: #555; }
code { background: #f5f5f5; padding: 0 3px; }
"""


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(x: float) -> str:
    return f"{100 * x:+.2f}%"


def _lift_text(c: Candidate, metric: str) -> str:
    if c.result is None or metric not in c.result.metrics:
        return ""
    m = c.result.metrics[metric]
    star = " *" if m.significant else ""
    return f"{_pct(m.relative_lift)} [{_pct(m.ci_low)}, {_pct(m.ci_high)}]{star}"


def _delta_text(c: Candidate) -> str:
    return ", ".join(f"{k}={v}" for k, v in c.delta.items()) or "(production)"


def _figure(name: str, path: Path, caption: str) -> str:
    return (
        f'<figure><img src="{escape(path.name)}" alt="{escape(name)}" '
        f'width="{WIDTH_PX}" height="{HEIGHT_PX}"><figcaption class="note">{escape(caption)}'
        "</figcaption></figure>"
    )


def _recommendation(data: ReportData) -> list[str]:
    """The page's first section: what to ship, how sure, and why not the best-looking arm."""
    advice = data.advice
    if advice is None:
        return []
    parts = ["<h2>Recommendation</h2>"]
    parts += [f"<p>{escape(line)}</p>" for line in explain_advice(advice)]
    if not advice.is_baseline:
        base = dict(data.skill.baseline)
        parts.append(
            _table(
                ["parameter", "production", "recommended"],
                ([k, base.get(k), v] for k, v in advice.config.items()),
            )
        )
    parts.append(
        f'<p class="note">To ship it: <code>rectune export {escape(data.task)}</code> writes the '
        "platform config file and the evidence for a launch ticket.</p>"
    )
    return parts


def _verdicts_text(c: Candidate, data: ReportData) -> str:
    if c.result is None:
        return ""
    marks = []
    for g in data.guardrails:
        outcome = guardrail_outcome(c.result, g)
        marks.append(f"{g.name}: {outcome.value if outcome else 'not measured'}")
    return "; ".join(marks)


def render_html(data: ReportData, plots: dict[str, Path], captions: dict[str, str]) -> str:
    """The whole page for `data`, linking the PNG files in `plots` (same folder as the page)."""
    skill = data.skill
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(f'rectune report: {data.task}')}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(data.task)}</h1>",
        f'<p class="note">{escape(skill.description)}<br>stage {escape(skill.stage)}, skill '
        f"version {skill.version}, generated {escape(now)}</p>",
        *_recommendation(data),
        "<h2>Summary</h2>",
        _table(
            ["candidates", "tested", "rounds", "elites", "infeasible", "active rules"],
            [
                [
                    len(data.candidates),
                    len(data.tested),
                    len(data.rounds),
                    len(data.elites.elite_ids),
                    len(data.elites.infeasible),
                    len(skill.active_rules),
                ]
            ],
        ),
    ]
    if not data.tested:
        parts.append(
            f'<p class="empty">No tested configurations for {escape(data.task)} yet, so there is '
            "nothing to plot. Run a round (<code>rectune run "
            f"{escape(data.task)}</code>) and write the report again.</p>"
        )
    for name, path in plots.items():
        parts.append(f"<h2>{escape(name.replace('_', ' ').capitalize())}</h2>")
        parts.append(_figure(name, path, captions.get(name, "")))

    by_id = {c.id: c for c in data.tested}
    prim = data.primary.name
    if data.elites.elite_ids:
        parts.append("<h2>Elites</h2>")
        parts.append(
            _table(
                ["id", "round", "changes vs production", f"{prim} lift [95% CI]"],
                (
                    [cid, by_id[cid].round, _delta_text(by_id[cid]), _lift_text(by_id[cid], prim)]
                    for cid in data.elites.elite_ids
                    if cid in by_id
                ),
            )
        )
    if data.elites.infeasible:
        parts.append("<h2>Infeasible configurations</h2>")
        parts.append(_table(["id", "why"], sorted(data.elites.infeasible.items())))
    if data.tested:
        parts.append("<h2>Every tested configuration</h2>")
        shown = [data.primary, *([data.secondary] if data.secondary else []), *data.guardrails]
        parts.append(
            _table(
                ["id", "round", "status", "changes vs production", *[m.name for m in shown],
                 "guardrail verdicts"],
                (
                    [
                        c.id,
                        c.round,
                        c.status.value + (" (stopped early)" if c.result and
                                          c.result.stopped_early else ""),
                        _delta_text(c),
                        *[_lift_text(c, m.name) for m in shown],
                        _verdicts_text(c, data),
                    ]
                    for c in sorted(data.tested, key=lambda c: (c.round, c.id))
                ),
            )
        )
        parts.append(
            '<p class="note">* = significant after Holm\'s correction within its metric role; '
            "intervals are unadjusted 95% intervals; a guardrail verdict is the platform's "
            "one-sided test against the limit (passed = shown within it).</p>"
        )
    parts.append("<h2>Statistical findings</h2>")
    if data.findings:
        parts.append(
            _table(
                ["kind", "finding", "effect [95% CI]", "significant", "replicated", "experiments"],
                (
                    [
                        f.kind.value,
                        f.text,
                        f"{_pct(f.effect)} [{_pct(f.ci_low)}, {_pct(f.ci_high)}]",
                        f.significant,
                        f.replicated,
                        ", ".join(f.experiment_ids),
                    ]
                    for f in data.findings
                ),
            )
        )
    else:
        parts.append(
            '<p class="note">No finding yet: the detectors need more tested arms before they '
            "claim an effect.</p>"
        )
    parts.append("<h2>Learned rules</h2>")
    if skill.learned_rules:
        parts.append(
            _table(
                ["id", "status", "rule", "constraint", "evidence", "experiments", "added"],
                (
                    [
                        r.id,
                        r.status.value + (f" ({r.retired_reason})" if r.retired_reason else ""),
                        r.text,
                        str(r.constraint) if r.constraint else "",
                        "; ".join(
                            f"{e.metric} {_pct(e.effect)} [{_pct(e.ci_low)}, {_pct(e.ci_high)}] "
                            f"n={e.n_experiments}"
                            for e in r.evidence
                        ),
                        ", ".join(r.experiment_ids),
                        r.added_at.strftime("%Y-%m-%d %H:%M"),
                    ]
                    for r in skill.learned_rules
                ),
            )
        )
    else:
        parts.append('<p class="note">The skill has no learned rule yet.</p>')
    parts.append("<h2>Skill version history</h2>")
    parts.append(
        _table(
            ["version", "when", "author", "reason", "rollback of"],
            (
                [
                    v.version,
                    v.at.strftime("%Y-%m-%d %H:%M"),
                    f"{v.author} {v.actor}".strip(),
                    v.reason,
                    v.rollback_of or "",
                ]
                for v in data.versions
            ),
        )
    )
    if data.rounds:
        parts.append("<h2>Rounds</h2>")
        parts.append(
            _table(
                ["round", "status", "candidates", "experiment", "plan", "steering",
                 "degraded", "error"],
                (
                    [
                        r.round,
                        r.status.value,
                        len(r.candidate_ids),
                        r.experiment_id or "",
                        f"{r.plan.arms} arms × {r.plan.traffic_per_arm:.0%}, {r.plan.days} days"
                        if r.plan else "",
                        r.steering,
                        "; ".join([*(str(d) for d in r.degraded), *r.notes]),
                        r.error or "",
                    ]
                    for r in data.rounds
                ),
            )
        )
        latest = next((r for r in reversed(data.rounds) if r.insight_summary), None)
        if latest is not None:
            parts.append(f"<h2>Insight (round {latest.round})</h2>")
            parts.append(f"<pre>{escape(latest.insight_summary)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
