"""Interactive terminal review of the candidates awaiting approval."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt

from rectune.cli_view import _candidate_table, format_plan
from rectune.domain import ConfigError, apply_delta
from rectune.skillhub.hub import SkillHub

__all__ = ["interactive_review", "parse_assignment"]


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``name=value`` (numbers become numbers)."""
    if "=" not in text:
        raise ValueError(f"{text!r}: write parameter=value, e.g. vf_w_click=0.8")
    name, raw = (s.strip() for s in text.split("=", 1))
    value: Any = raw
    with contextlib.suppress(ValueError):
        value = int(raw) if raw.lstrip("+-").isdigit() else float(raw)
    return name, value


def interactive_review(
    payload: dict[str, Any], workspace: str | Path, console: Console | None = None
) -> Any:
    """Ask the reviewer, return the answer for the interrupt (None if they quit)."""
    con = console or Console()
    rows = payload.get("candidates", [])
    skill = SkillHub.in_workspace(workspace, install=False).get(payload["task"])
    plan = payload.get("ab_plan", {})
    con.rule(f"Review: {payload['task']} round {payload.get('round')}")
    _candidate_table(con, rows)
    con.print(escape(format_plan(plan)))
    for err in payload.get("errors", []):
        con.print(f"[red]{escape(str(err))}[/red]")
    # Square brackets are rich markup; the letter hints must be escaped to be shown.
    choice = Prompt.ask(
        escape("[a]pprove all, [p]ick some, [e]dit then approve, [r]eject all, [q]uit"),
        choices=["a", "p", "e", "r", "q"],
        default="a",
        console=con,
    )
    if choice == "q":
        return None
    if choice == "a":
        return "approve"
    if choice == "r":
        return "reject"
    ids = [r["id"] for r in rows]
    if choice == "p":
        while True:
            picked = Prompt.ask("numbers to approve, comma-separated (1 = first row)", console=con)
            try:
                nums = [int(x) for x in picked.replace(" ", "").split(",") if x]
                chosen = [ids[n - 1] for n in nums if 1 <= n <= len(ids)]
                if len(chosen) != len(nums) or not chosen:
                    raise ValueError
                break
            except (ValueError, IndexError):
                con.print(f"[red]give numbers between 1 and {len(ids)}[/red]")
        return {"decisions": [{"id": i, "action": "approve"} for i in chosen]}
    decisions: list[dict[str, Any]] = []
    configs = {r["id"]: {**skill.baseline, **r["delta"]} for r in rows}
    for idx, cid in enumerate(ids, 1):
        act = Prompt.ask(
            escape(f"#{idx} {cid}: [a]pprove, [e]dit, [r]eject"),
            choices=["a", "e", "r"],
            default="a",
            console=con,
        )
        if act == "r":
            decisions.append({"id": cid, "action": "reject"})
            continue
        if act == "a":
            decisions.append({"id": cid, "action": "approve"})
            continue
        edits: dict[str, Any] = {}
        while True:
            text = Prompt.ask("  parameter=value (empty line when done)", default="", console=con)
            if not text:
                break
            try:
                name, value = parse_assignment(text)
                apply_delta(skill.space, configs[cid], {**edits, name: value})
            except (ValueError, ConfigError) as exc:
                con.print(f"  [red]{escape(str(exc))}[/red]")
                continue
            edits[name] = value
            con.print(f"  [green]ok[/green] {escape(name)} = {escape(str(value))}")
        decisions.append(
            {"id": cid, "action": "edit", "delta": edits}
            if edits
            else {"id": cid, "action": "approve"}
        )
    return {"decisions": decisions}
