"""The terminal review of a round awaiting approval: what is proposed, what the Critic dropped
and why, the A/B plan and what it can detect; then the reviewer's decisions.

Nothing has a default answer: pressing Enter never launches anything.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from rectune.cli_format import plan_lines, prediction_text
from rectune.domain import ConfigError, apply_delta
from rectune.skillhub.hub import SkillHub
from rectune.skillhub.model import Skill

__all__ = ["interactive_review", "parse_assignment", "parse_numbers", "render_review"]

CHOICES = {
    "a": "approve all",
    "p": "pick some",
    "e": "go through each (approve, edit or reject)",
    "n": "add an arm of your own",
    "r": "reject all",
    "q": "quit without deciding",
}


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``name=value`` (numbers become numbers)."""
    if "=" not in text:
        raise ValueError(f"{text!r}: write parameter=value, e.g. vf_w_click=0.8")
    name, raw = (s.strip() for s in text.split("=", 1))
    value: Any = raw
    with contextlib.suppress(ValueError):
        value = int(raw) if raw.lstrip("+-").isdigit() else float(raw)
    return name, value


def parse_numbers(text: str, largest: int) -> list[int]:
    """Row numbers typed as ``1 3``, ``1,3`` or ``1, 3``.

    Raises:
        ValueError: naming what is wrong.
    """
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if not parts:
        raise ValueError(f"type row numbers between 1 and {largest}, e.g. 1 3")
    out: list[int] = []
    for p in parts:
        if not p.isdigit() or not 1 <= int(p) <= largest:
            raise ValueError(f"{p!r} is not a row number between 1 and {largest}")
        if int(p) not in out:
            out.append(int(p))
    return out


def _ask(con: Console, question: str, allowed: Mapping[str, str] | None = None) -> str:
    """Ask until the answer is allowed; an empty answer is never taken as a choice."""
    while True:
        # No highlighting: the bracketed letters must reach the terminal as typed.
        con.print(f"{escape(question)} ", end="", highlight=False)
        con.file.flush()
        answer = input().strip()
        if allowed is None:
            return answer
        if answer.lower() in allowed:
            return answer.lower()
        con.print(f"[red]type one of: {', '.join(allowed)}[/red] (there is no default)")


def _values_table(con: Console, skill: Skill, config: Mapping[str, Any]) -> None:
    """Each parameter: the value now, production's, and the ranges."""
    for p in skill.space:
        now, prod = config.get(p.name), skill.baseline.get(p.name)
        mark = "" if now == prod else "  (changed)"
        con.print(
            f"    {p.name} = {now}   production {prod}   allowed {p.describe_bounds()}{mark}",
            highlight=False,
        )


def render_review(payload: Mapping[str, Any], skill: Skill, con: Console) -> None:
    """Everything the reviewer needs, in a layout that fits 80 columns."""
    con.rule(f"Review: {payload['task']} round {payload.get('round')}")
    primaries = [m.name for m in skill.primary_metrics]
    rows = payload.get("candidates", [])
    con.print(f"[bold]{len(rows)} candidate(s)[/bold], changes against production:")
    for n, r in enumerate(rows, 1):
        con.print(f"[bold]#{n}[/bold] {r['id']}  [dim]({escape(r.get('source', ''))})[/dim]",
                  highlight=False)
        for k, v in r.get("diff_vs_baseline", {}).items():
            con.print(f"    {k}: {v['from']} -> {v['to']}", highlight=False)
        con.print(f"    predicted: {escape(prediction_text(r.get('prediction'), primaries))}",
                  highlight=False)
        if r.get("hypothesis"):
            con.print(f"    why: {escape(r['hypothesis'][:300])}", highlight=False)
        if r.get("critic_justification"):
            con.print(f"    critic: {escape(r['critic_justification'][:200])}", highlight=False)
        if r.get("notes"):
            con.print(f"    [yellow]note: {escape(r['notes'])}[/yellow]", highlight=False)
    dropped = payload.get("dropped", [])
    if dropped:
        con.print(f"[bold]Dropped by the Critic ({len(dropped)})[/bold]:")
        for d in dropped:
            change = ", ".join(f"{k}={v}" for k, v in (d.get("delta") or {}).items())
            reasons = "; ".join(d.get("reasons", []))
            con.print(
                f"  - {escape(change or '(no change)')} [dim]({escape(d.get('source', ''))})"
                f"[/dim]: {escape(reasons)}",
                highlight=False,
            )
    if payload.get("model_answer_discarded"):
        con.print(
            f"[yellow]The model's answer was discarded: "
            f"{escape(str(payload['model_answer_discarded']))}[/yellow]"
        )
    for d in payload.get("degraded", []):
        con.print(f"[yellow]degraded: {escape(str(d))}[/yellow]")
    for line in plan_lines(payload.get("ab_plan") or {}):
        style = "bold red" if "UNDERPOWERED" in line else ""
        con.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line), highlight=False)
    for err in payload.get("errors", []):
        con.print(f"[red]{escape(str(err))}[/red]")


def _edits(
    con: Console, skill: Skill, start: Mapping[str, Any], what: str
) -> dict[str, Any]:
    """``parameter=value`` lines until an empty one; each checked at once."""
    _values_table(con, skill, start)
    edits: dict[str, Any] = {}
    names = skill.space.names
    while True:
        text = _ask(con, f"  {what}: parameter=value (empty line when done)")
        if not text:
            return edits
        try:
            name, value = parse_assignment(text)
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"; did you mean {close[0]}?" if close else f"; known: {names}"
                raise ValueError(f"unknown parameter {name!r}{hint}")
            config = apply_delta(skill.space, start, {**edits, name: value})
        except (ValueError, ConfigError) as exc:
            con.print(f"  [red]{escape(str(exc))}[/red]")
            continue
        edits[name] = value
        con.print(
            f"  [green]ok[/green] {escape(name)} = {escape(str(value))} "
            f"(was {start.get(name)}, production {skill.baseline.get(name)})",
            highlight=False,
        )
        soft = skill.space.soft_violations(config)
        if name in soft:
            con.print(
                f"  [yellow]{escape(name)} is outside its soft bounds: allowed, but the next "
                "round's Critic will drop this configuration unless the skill's soft bounds "
                "change[/yellow]"
            )


def _new_arms(con: Console, skill: Skill) -> list[dict[str, Any]]:
    added: list[dict[str, Any]] = []
    while True:
        edits = _edits(con, skill, skill.baseline, f"new arm {len(added) + 1}")
        if edits:
            note = _ask(con, "  why test it? (one line, optional)")
            added.append({"delta": edits, "note": note})
        more = _ask(con, "add another arm? [y/n]", {"y": "yes", "n": "no"})
        if more == "n":
            return added


def interactive_review(
    payload: dict[str, Any], workspace: str | Path, console: Console | None = None
) -> Any:
    """Show the review, ask the reviewer, return the answer for the interrupt (None: quit)."""
    con = console or Console()
    skill = SkillHub.in_workspace(workspace, install=False).get(payload["task"])
    render_review(payload, skill, con)
    rows = payload.get("candidates", [])
    ids = [r["id"] for r in rows]
    menu = "  ".join(f"[{k}] {v}" for k, v in CHOICES.items())
    con.print(escape(menu), highlight=False)
    choice = _ask(con, "your choice:", CHOICES)
    if choice == "q":
        return None
    if choice == "a":
        return "approve"
    if choice == "r":
        return "reject"
    decisions: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    if choice == "p":
        while True:
            try:
                nums = parse_numbers(_ask(con, "numbers to approve (e.g. 1 3):"), len(ids))
                break
            except ValueError as exc:
                con.print(f"[red]{escape(str(exc))}[/red]")
        decisions = [{"id": ids[n - 1], "action": "approve"} for n in nums]
    elif choice == "e":
        configs = {r["id"]: {**skill.baseline, **r["delta"]} for r in rows}
        for idx, cid in enumerate(ids, 1):
            act = _ask(
                con, f"#{idx} {cid}: [a]pprove, [e]dit, [r]eject", {"a": "", "e": "", "r": ""}
            )
            if act == "r":
                decisions.append({"id": cid, "action": "reject"})
            elif act == "a":
                decisions.append({"id": cid, "action": "approve"})
            else:
                edits = _edits(con, skill, configs[cid], f"#{idx}")
                decisions.append(
                    {"id": cid, "action": "edit", "delta": edits}
                    if edits
                    else {"id": cid, "action": "approve"}
                )
    else:  # "n": the reviewer's own arms, then which proposed ones to keep
        added = _new_arms(con, skill)
        keep = _ask(con, "also approve proposed candidates? numbers, or empty for none:")
        if keep:
            while True:
                try:
                    nums = parse_numbers(keep, len(ids))
                    break
                except ValueError as exc:
                    con.print(f"[red]{escape(str(exc))}[/red]")
                    keep = _ask(con, "numbers (e.g. 1 3), or empty for none:")
                    if not keep:
                        nums = []
                        break
            decisions = [{"id": ids[n - 1], "action": "approve"} for n in nums]
    answer: dict[str, Any] = {"decisions": decisions}
    if added:
        answer["add"] = added
    return answer
