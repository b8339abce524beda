"""The ``rectune`` command line (typer + rich).

Heavy modules (LangGraph, numpy, Chroma, matplotlib) are imported inside the commands so that
``rectune --help`` answers fast (see ``benchmarks/cli_startup.py``).

Exit codes: 0 success, 1 a round ended ``failed`` (or a benchmark failed), 2 a user error
(one line on stderr, never a traceback), 130 interrupted with Ctrl-C (the message says how to
resume).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from rectune.cli_migrate import migrate_command

USER_ERROR_EXIT = 2


class UserError(Exception):
    """An error caused by the user's input: one clear line, no traceback."""


_OS_HINTS = {
    errno.EROFS: "the workspace is on a read-only file system; use a writable folder",
    errno.ENOSPC: "the disk is full; free some space, then resume the round",
    errno.EDQUOT: "the disk quota is exhausted; free some space, then resume the round",
    errno.EACCES: "no permission; check the owner and mode of the path",
    errno.EPERM: "no permission; check the owner and mode of the path",
    errno.EEXIST: "a file is where a folder should be; move it away",
    errno.ENOTDIR: "a file is where a folder should be; move it away",
    errno.EISDIR: "a folder is where a file should be; move it away",
    errno.ENOENT: "it does not exist",
}


def user_error_message(exc: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug.

    Errors rectune raises on purpose (`RecTuneError`), invalid inputs caught by pydantic, file
    system and checkpoint-database problems are the user's to fix; anything else is a bug and
    keeps its traceback.
    """
    if isinstance(exc, UserError):
        return str(exc)
    import sqlite3

    from pydantic import ValidationError

    from rectune.domain import RecTuneError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or exc.title
        return f"{exc.title}: {where}: {first['msg']}"
    if isinstance(exc, RecTuneError):
        # KeyError subclasses quote their message; people should not see the quotes.
        return str(exc.args[0] if exc.args else exc).strip()
    if isinstance(exc, OSError) and exc.errno in _OS_HINTS:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where} ({_OS_HINTS[exc.errno]})"
    if isinstance(exc, sqlite3.Error):
        full = "full" in str(exc) or "disk I/O" in str(exc)
        hint = "free some disk space" if full else "check the workspace's checkpoints/ folder"
        return f"checkpoint database error: {exc} ({hint}; then resume the round)"
    return None


def _interrupted(exc: KeyboardInterrupt) -> None:
    """Say how to resume, then leave at once: waiting for worker threads to wind down can
    take minutes, and everything durable is already on disk (a kill is always safe)."""
    message = str(exc) if str(exc) else "interrupted"
    sys.stderr.write(f"\n{message}\n")
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(130)


class _Group(TyperGroup):
    """The root command group: turns user errors of any sub-command into one line on stderr.

    Handling them here rather than in `main` means typer's test runner sees the same exit
    codes and messages as a shell does.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except KeyboardInterrupt as exc:
            _interrupted(exc)
            raise
        except Exception as exc:
            cause = exc.cause if isinstance(exc, RoundError) else exc
            message = user_error_message(cause)
            if message is None:
                raise cause from None
            sys.stderr.write(f"error: {message}\n")
            if isinstance(exc, RoundError):
                sys.stderr.write(f"{exc.hint}\n")
            raise typer.Exit(USER_ERROR_EXIT) from None


app = typer.Typer(
    cls=_Group,
    name="rectune",
    help="Tune multi-stage recommender configurations with agents and A/B tests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
skills_app = typer.Typer(help="List, show, diff and roll back skills.", no_args_is_help=True)
sim_app = typer.Typer(
    help="Check the embedded simulator and its A/B statistics.", no_args_is_help=True
)
app.add_typer(skills_app, name="skills")
app.add_typer(sim_app, name="sim")
app.command(name="migrate")(migrate_command)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", envvar="RECTUNE_WORKSPACE", help="Workspace directory.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Every metric, for wide terminals.")]
NoWaitOpt = Annotated[
    bool,
    typer.Option(
        "--no-wait", help="Return once the A/B test is launched instead of waiting for it."
    ),
]


def _version(value: bool) -> None:
    if value:
        from rectune import __version__

        sys.stdout.write(f"rectune {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="'local' or a postgresql:// URL (default: rectune.yaml, else RECTUNE_STORAGE, "
            "else local).",
        ),
    ] = None,
) -> None:
    """Tune multi-stage recommender configurations with agents and A/B tests."""
    from rectune.storage.settings import StorageError, set_override

    try:
        set_override(storage)  # None clears what an earlier command in this process set
    except StorageError as exc:
        raise typer.BadParameter(str(exc), param_hint="--storage") from None
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)
    ]
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("rectune").setLevel(level)


class RoundError(Exception):
    """An error inside a round that already has a thread: reported with how to continue."""

    def __init__(self, cause: Exception, thread_id: str, workspace: Path) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.hint = (
            "the round keeps its last checkpoint; after fixing this, continue it with: "
            f"rectune resume {thread_id} --workspace {workspace}"
        )


def _console() -> Any:
    from rich.console import Console

    return Console()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# ------------------------------------------------------------------ workspace


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create.")] = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace with the shipped skills, settings, journal, index and checkpoints.

    Refuses a folder that already holds a workspace or anything else.
    """
    from rectune.workspace import init_workspace

    ws = init_workspace(directory)
    skills = sorted(p.name for p in ws.skills.iterdir() if p.is_dir())
    if as_json:
        _print_json({"workspace": str(ws.root), "skills": skills})
        return
    _console().print(
        f"[green]Created workspace[/green] {ws.root} with skills: " + ", ".join(skills)
    )


def _need_workspace(workspace: Path) -> None:
    """Refuse a folder that is not a workspace, instead of reporting it as empty."""
    from rectune.workspace import require_workspace

    require_workspace(workspace)


def _require_skill(workspace: Path, task: str) -> None:
    """Fail early, with the known names, when `task` is not a skill of the workspace."""
    from rectune.skillhub.hub import SkillHub

    SkillHub.in_workspace(workspace, install=False).get(task)


def _platform_arg(platform: str | None) -> str | None:
    """A ``files:DIR`` typed in a shell is relative to the shell's folder: make it absolute
    (the API then anchors it to the workspace when it lies inside)."""
    if platform is None or not platform.startswith("files:"):
        return platform
    folder = Path(platform.removeprefix("files:")).expanduser()
    return f"files:{folder.resolve()}"


# ------------------------------------------------------------------ rounds


def _options(
    proposals: int | None,
    arms: int | None,
    steer: str | None,
    seed: int | None,
    days: int | None,
    traffic: float | None,
    single_agent: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (
        ("proposals_per_round", proposals),
        ("arms_per_ab", arms),
        ("steering", steer),
        ("seed", seed),
        ("days", days),
        ("traffic_per_arm", traffic),
    ):
        if value is not None:
            out[key] = value
    if single_agent:
        out["single_agent"] = True
    return out


def _model_arg(model: str | None) -> dict[str, Any]:
    if model is None:
        return {}
    return {"model": None if model == "offline" else model}


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="Skill to tune, e.g. value_fusion.")],
    workspace: WorkspaceOpt = Path("."),
    rounds: Annotated[int, typer.Option(help="Rounds to run in a row (at least 1).")] = 1,
    model: Annotated[
        str | None, typer.Option(help="'provider:model'; 'offline' forces the engine.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="'sim' or 'files:DIR'.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve what the Critic keeps.")
    ] = False,
    steer: Annotated[str | None, typer.Option(help="Steering instruction for the Actor.")] = None,
    proposals: Annotated[int | None, typer.Option(help="Proposals per round (N).")] = None,
    arms: Annotated[int | None, typer.Option(help="Treatment arms per A/B test (K).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the simulator and engine.")] = None,
    days: Annotated[int | None, typer.Option(help="A/B duration in days.")] = None,
    traffic: Annotated[float | None, typer.Option(help="Traffic fraction per arm.")] = None,
    single_agent: Annotated[bool, typer.Option(help="Ablation: no Critic selection.")] = False,
    risk_threshold: Annotated[
        float | None,
        typer.Option(help="Largest predicted guardrail-breach probability the Critic keeps."),
    ] = None,
    llm_share: Annotated[
        float | None, typer.Option(help="Largest share of the arms a model's proposals take.")
    ] = None,
    confirm: Annotated[
        bool | None,
        typer.Option(
            "--confirm/--no-confirm", help="Spend an arm re-testing a weakly supported winner."
        ),
    ] = None,
    decide: Annotated[
        bool,
        typer.Option(
            "--decide",
            help="Make the last round a decision round: its arms re-test the leading "
            "candidates side by side before one ships.",
        ),
    ] = False,
    no_wait: NoWaitOpt = False,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run tuning rounds; without --yes, stop at the approval and say how to continue."""
    from rectune.api import new_thread_id, run_round
    from rectune.cli_view import RoundProgress, print_round

    if rounds < 1:
        raise UserError(f"--rounds {rounds}: must be at least 1")
    _need_workspace(workspace)
    _require_skill(workspace, task)
    opts = _options(proposals, arms, steer, seed, days, traffic, single_agent)
    for key, value in (
        ("risk_threshold", risk_threshold), ("llm_share", llm_share), ("confirm_launch", confirm)
    ):
        if value is not None:
            opts[key] = value
    opts |= _day_by_day(workspace)
    kwargs: dict[str, Any] = {"workspace": workspace, "approve": yes, "wait": not no_wait, **opts}
    kwargs |= _model_arg(model)
    if platform is not None:
        kwargs["platform"] = _platform_arg(platform)
    reports = []
    for i in range(rounds):
        thread_id = new_thread_id(task)
        last: dict[str, Any] = {"decision_round": True} if decide and i == rounds - 1 else {}
        with RoundProgress(enabled=not as_json) as progress:
            try:
                report = run_round(
                    task, thread_id=thread_id, on_event=progress.event, **kwargs, **last
                )
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                from rectune.threads import ThreadStore

                if ThreadStore(workspace).exists(thread_id):
                    raise RoundError(exc, thread_id, workspace) from exc
                raise
        reports.append(report)
        if not as_json:
            print_round(report, workspace, wide=wide)
        if report.status != "completed":
            break
    if as_json:
        _print_json([r.model_dump(mode="json") for r in reports])
    if reports[-1].status == "failed":
        raise typer.Exit(1)


def _day_by_day(workspace: Path) -> dict[str, Any]:
    """At the terminal the simulated A/B test advances a day per poll, so the days bar is
    real and Ctrl-C lands between days; a setting in rectune.yaml or the environment wins."""
    import os

    from rectune.workspace import load_settings

    if "poll_days" in load_settings(workspace) or "RECTUNE_POLL_DAYS" in os.environ:
        return {}
    return {"poll_days": 1}


def _latest(workspace: Path, wanted: str, what: str) -> str:
    from rectune.api import status

    threads = status(workspace=workspace)
    assert isinstance(threads, list)
    found = [t for t in threads if t.status == wanted]
    if not found:
        raise UserError(f"no round {what} in workspace {workspace}")
    return found[-1].thread_id


@app.command()
def approve(
    thread: Annotated[
        str | None, typer.Argument(help="Round thread; default: the latest awaiting one.")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    approve_all: Annotated[bool, typer.Option("--all", help="Approve every candidate.")] = False,
    reject_all: Annotated[bool, typer.Option("--reject", help="Reject every candidate.")] = False,
    decisions: Annotated[str | None, typer.Option(help="Answer as JSON (scripting).")] = None,
    no_wait: NoWaitOpt = False,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Review the candidates of a round in the terminal, then resume it."""
    _need_workspace(workspace)
    from rectune.api import resume, status
    from rectune.cli_review import interactive_review
    from rectune.cli_view import RoundProgress, print_round

    thread = thread or _latest(workspace, "awaiting_approval", "awaits approval")
    report = status(thread, workspace=workspace)
    assert not isinstance(report, list)
    if report.status != "awaiting_approval" or report.pending is None:
        raise UserError(f"round {thread} is not awaiting approval (status: {report.status})")
    answer: Any
    if decisions is not None:
        try:
            answer = json.loads(decisions)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"--decisions is not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
    elif approve_all or reject_all:
        if approve_all and reject_all:
            raise UserError("--all and --reject exclude each other")
        answer = "approve" if approve_all else "reject"
    else:
        from rich.console import Console

        # With --json the review talks on stderr so that stdout stays parseable.
        answer = interactive_review(report.pending, workspace, Console(stderr=as_json))
        if answer is None:
            Console(stderr=True).print("Nothing decided; the round still awaits approval.")
            return
    with RoundProgress(enabled=not as_json) as progress:
        try:
            final = resume(
                thread, answer, workspace=workspace, wait=not no_wait, on_event=progress.event
            )
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            raise RoundError(exc, thread, workspace) from exc
    if final.status == "awaiting_approval" and final.pending and final.pending.get("errors"):
        problems = "; ".join(str(e) for e in final.pending["errors"])
        raise UserError(f"the answer was not accepted: {problems}")
    if as_json:
        _print_json([final.model_dump(mode="json")])
    else:
        print_round(final, workspace, wide=wide)


@app.command(name="resume")
def resume_cmd(
    thread: Annotated[str, typer.Argument(help="Round thread to continue.")],
    workspace: WorkspaceOpt = Path("."),
    model: Annotated[
        str | None, typer.Option(help="Use this model from now on ('offline': the engine).")
    ] = None,
    platform: Annotated[
        str | None, typer.Option(help="Use this platform ('sim' or 'files:DIR').")
    ] = None,
    no_wait: NoWaitOpt = False,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Continue a round that is waiting for its A/B test or was interrupted."""
    _need_workspace(workspace)
    from rectune.api import resume
    from rectune.cli_view import RoundProgress, print_round

    kwargs: dict[str, Any] = _model_arg(model)
    if platform is not None:
        kwargs["platform"] = _platform_arg(platform)
    from rectune.api import status

    status(thread, workspace=workspace)  # an unknown thread is a plain error, not a round's
    with RoundProgress(enabled=not as_json) as progress:
        try:
            report = resume(
                thread, workspace=workspace, wait=not no_wait, on_event=progress.event, **kwargs
            )
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            raise RoundError(exc, thread, workspace) from exc
    if as_json:
        _print_json([report.model_dump(mode="json")])
    else:
        print_round(report, workspace, wide=wide)


@app.command(name="abort")
def abort_cmd(
    thread: Annotated[str, typer.Argument(help="Round thread to end.")],
    workspace: WorkspaceOpt = Path("."),
    reason: Annotated[str, typer.Option(help="Why (kept in the journal).")] = (
        "aborted by a person"
    ),
    as_json: JsonOpt = False,
) -> None:
    """End an unfinished round: stop its A/B test if it runs, record it as aborted."""
    _need_workspace(workspace)
    from rectune.api import abort

    report = abort(thread, reason, workspace=workspace)
    if as_json:
        _print_json(report.model_dump(mode="json"))
        return
    _console().print(f"round {thread} ({report.task} round {report.round}) aborted: {reason}")


@app.command(name="forget")
def forget_cmd(
    thread: Annotated[str, typer.Argument(help="Round thread to delete.")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Delete a round's thread and checkpoints; the journal keeps what it recorded."""
    _need_workspace(workspace)
    from rectune.api import forget

    forget(thread, workspace=workspace)
    _console().print(f"round thread {thread} forgotten")


@app.command(name="status")
def status_cmd(
    thread: Annotated[str | None, typer.Argument(help="One round thread; default: all.")] = None,
    workspace: WorkspaceOpt = Path("."),
    task: Annotated[
        list[str] | None,
        typer.Option("--task", "-t", help="Only this task's rounds (repeat for several)."),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only rounds in this status, e.g. waiting (repeat for "
                     "several)."),
    ] = None,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Rounds of the workspace's storage and where each one is (with Postgres: every round in
    the database, whichever host started it)."""
    _need_workspace(workspace)
    from rectune.api import status
    from rectune.cli_view import print_round, print_threads
    from rectune.domain import RoundStatus
    from rectune.storage import is_postgres, redact, resolve_storage

    if thread is not None and (task or only):
        raise UserError("--task and --status filter the list of rounds; not with a THREAD")
    allowed = [s.value for s in RoundStatus]
    for value in only or []:
        if value not in allowed:
            raise UserError(f"--status {value!r} is not a round status; allowed: {allowed}")
    result = status(thread, workspace=workspace, tasks=task)
    if isinstance(result, list):
        if only:
            result = [t for t in result if t.status.value in only]
        if as_json:
            _print_json([t.model_dump(mode="json") for t in result])
        else:
            spec = resolve_storage(workspace)
            print_threads(result, where=redact(spec) if is_postgres(spec) else None,
                          filtered=bool(task or only))
    elif as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        print_round(result, workspace, wide=wide)


@app.command()
def history(
    task: Annotated[str, typer.Argument(help="Task whose journal to show.")],
    workspace: WorkspaceOpt = Path("."),
    wide: WideOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (one row per candidate).")] = (
        False
    ),
    as_json: JsonOpt = False,
) -> None:
    """The task's experiment journal: intervals, significance, elites, breaches, edits."""
    _need_workspace(workspace)
    from rectune.cli_view import history_csv, print_history
    from rectune.memory.journal import Journal
    from rectune.skillhub.hub import SkillHub

    skill = SkillHub.in_workspace(workspace, install=False).get(task)
    cands = Journal.in_workspace(workspace).candidates(task)
    if as_json:
        _print_json([c.model_dump(mode="json") for c in cands])
    elif as_csv:
        sys.stdout.write(history_csv(cands, skill.metrics))
    else:
        print_history(task, cands, skill.metrics, workspace, wide=wide)


@app.command(name="export")
def export_cmd(
    task: Annotated[str, typer.Argument(help="Task whose recommendation to export.")],
    workspace: WorkspaceOpt = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder (default: ws/exports/TASK).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Evidence file: yaml or json.")] = "yaml",
    as_json: JsonOpt = False,
) -> None:
    """Write the configuration to ship in the platform's format, with its evidence."""
    _need_workspace(workspace)
    from rectune.export import export_launch

    if fmt not in ("yaml", "json"):
        raise UserError(f"--format {fmt!r}: allowed: yaml, json")
    done = export_launch(workspace, task, out_dir=out, fmt="json" if fmt == "json" else "yaml")
    if as_json:
        _print_json(
            {
                "platform_file": str(done.platform_file),
                "evidence_file": str(done.evidence_file),
                "evidence": done.evidence,
            }
        )
        return
    con = _console()
    what = "keep production" if done.advice.is_baseline else f"ship {done.advice.candidate_id}"
    con.print(f"[bold]{task}[/bold]: {what}", highlight=False)
    con.print(f"  platform file: {done.platform_file}", highlight=False)
    con.print(f"  evidence:      {done.evidence_file}", highlight=False)


@app.command()
def reindex(workspace: WorkspaceOpt = Path(".")) -> None:
    """Rebuild the retrieval index from the skills and the journal (it is derived data)."""
    _need_workspace(workspace)
    from rectune.memory.journal import Journal
    from rectune.memory.retrieval import MemoryIndex
    from rectune.skillhub.hub import SkillHub
    from rectune.workspace import Workspace

    ws = Workspace(workspace)
    MemoryIndex.destroy(ws.index)
    from rectune.storage import resolve_storage

    hub = SkillHub(ws.skills, storage=resolve_storage(ws.root))
    count = MemoryIndex(ws.index).rebuild(hub, Journal.in_workspace(ws.root))
    _console().print(f"index rebuilt: {count} entries in {ws.index}")


@app.command()
def demo(
    workspace: WorkspaceOpt = Path(".rectune-demo"),
    rounds: Annotated[int, typer.Option(help="Rounds per task.")] = 3,
    task: Annotated[
        list[str] | None, typer.Option(help="Tasks to run (default: value_fusion).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulator.")] = 0,
) -> None:
    """Run real tuning rounds on the embedded simulator with the offline engine."""
    from rectune.cli_demo import run_demo

    run_demo(workspace, rounds=rounds, tasks=task or ["value_fusion"], seed=seed)


# ------------------------------------------------------------------ skills


@skills_app.command("list")
def skills_list(
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
    drafts: Annotated[bool, typer.Option(help="Include drafts.")] = False,
) -> None:
    """Skills the workspace holds."""
    _need_workspace(workspace)
    from rectune.skillhub.hub import SkillHub

    hub = SkillHub.in_workspace(workspace, install=False)
    skills, broken = hub.scan()
    skills = [s for s in skills if drafts or s.status.value == "active"]
    rows: list[dict[str, Any]] = [
        {
            "name": s.name,
            "stage": s.stage,
            "version": s.version,
            "status": s.status.value,
            "parameters": s.space.names,
            "primary": [m.name for m in s.primary_metrics],
            "active_rules": len(s.active_rules),
            "description": s.description,
        }
        for s in skills
    ]
    rows += [
        {"name": e.path.parent.name if e.path else "?", "status": "broken", "error": str(e)}
        for e in broken
    ]
    if as_json:
        _print_json(rows)
        return
    from rich.table import Table

    table = Table("name", "stage", "version", "status", "primary", "rules", "parameters")
    for r in rows:
        if r["status"] == "broken":
            continue
        table.add_row(
            r["name"],
            r["stage"],
            str(r["version"]),
            r["status"],
            ", ".join(r["primary"]),
            str(r["active_rules"]),
            ", ".join(r["parameters"]),
        )
    con = _console()
    con.print(table)
    for e in broken:
        con.print(f"[red]broken skill[/red] {e}")


@skills_app.command("show")
def skills_show(
    name: str,
    workspace: WorkspaceOpt = Path("."),
    version: Annotated[int | None, typer.Option(help="An older version.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a skill's SKILL.md (or, with --json, the parsed skill)."""
    _need_workspace(workspace)
    from rectune.skillhub.hub import SkillHub
    from rectune.skillhub.writer import render_skill

    hub = SkillHub.in_workspace(workspace, install=False)
    skill = hub.get(name) if version is None else hub.get_version(name, version)
    if as_json:
        _print_json(skill.model_dump(mode="json"))
        return
    sys.stdout.write(render_skill(skill))


@skills_app.command("diff")
def skills_diff(
    name: str,
    a: int,
    b: Annotated[int | None, typer.Argument()] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Unified diff between two versions (B defaults to the current one)."""
    _need_workspace(workspace)
    from rectune.skillhub.hub import SkillHub

    sys.stdout.write(
        SkillHub.in_workspace(workspace, install=False).diff(name, a, b) or "(no change)\n"
    )


@skills_app.command("versions")
def skills_versions(
    name: str, workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False
) -> None:
    """Every version of a skill with its reason."""
    _need_workspace(workspace)
    from rectune.skillhub.hub import SkillHub

    entries = SkillHub.in_workspace(workspace, install=False).versions(name)
    if as_json:
        _print_json([e.model_dump(mode="json") for e in entries])
        return
    for e in entries:
        _console().print(f"v{e.version}  {e.model_dump(mode='json')}")


@skills_app.command("rollback")
def skills_rollback(
    name: str,
    version: int,
    workspace: WorkspaceOpt = Path("."),
    reason: Annotated[str, typer.Option(help="Why.")] = "rolled back by a person",
    as_json: JsonOpt = False,
) -> None:
    """Write a new version equal to an older one."""
    _need_workspace(workspace)
    from rectune.skillhub.hub import SkillHub

    skill = SkillHub.in_workspace(workspace, install=False).rollback(name, version, reason)
    if as_json:
        _print_json({"skill": name, "version": skill.version, "copy_of": version})
        return
    _console().print(f"{name}: now version {skill.version} (copy of v{version})")


# ------------------------------------------------------------------ reports and benchmarks


@app.command()
def report(
    task: Annotated[str, typer.Argument(help="Task whose history to report.")],
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Write an HTML report with plots: Pareto front, lifts per round, sensitivity, rules."""
    _need_workspace(workspace)
    from rectune.report import build_report

    files = build_report(workspace, task)
    if as_json:
        _print_json(files.to_json())
        return
    con = _console()
    con.print(f"[green]Report written[/green]: {files.index}")
    if not files.tested:
        con.print(f"No tested configuration for {task} yet; the report says so.")
    for name, path in files.plots.items():
        con.print(f"  {name}: {path}")


def _bench_script() -> Path:
    return Path(__file__).resolve().parents[1] / "benchmarks" / "tuning.py"


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def bench(ctx: typer.Context) -> None:
    """Run the tuning benchmark (benchmarks/tuning.py); extra arguments are passed on.

    Example: ``rectune bench --quick``.
    """
    import subprocess

    script = _bench_script()
    if not script.is_file():
        raise UserError(
            f"the tuning benchmark is not available: {script} does not exist "
            "(it ships with a source checkout of rectune)"
        )
    code = subprocess.call([sys.executable, str(script), *ctx.args])
    if code != 0:
        raise typer.Exit(code)


# ------------------------------------------------------------------ simulator


@sim_app.command("aa")
def sim_aa(
    runs: Annotated[int, typer.Option(min=1, help="A/A experiments to run.")] = 1000,
    seed: int = 0,
    scale: Annotated[str, typer.Option(help="Size of each A/A launch: small, medium, default.")] = (
        "medium"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Real A/A launches (fresh salts and users): false-positive rate per metric with CIs."""
    from rectune.tools.aa import SCALES, run_aa

    if scale not in SCALES:
        raise UserError(f"--scale {scale!r}: allowed: {sorted(SCALES)}")
    out = run_aa(runs=runs, seed=seed, scale=scale)
    if as_json:
        _print_json(out)
    else:
        _console().print_json(json.dumps(out, default=str))


@sim_app.command("calibrate")
def sim_calibrate(
    seed: int = 0,
    runs: Annotated[
        int, typer.Option(min=1, help="Launches for power/coverage and each guardrail check.")
    ] = 300,
    aa_runs: Annotated[int, typer.Option(min=1, help="A/A launches for false positives.")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """A/A false positives, planned vs realised power, coverage, guardrail verdict and
    monitor error rates - all through real launches with fresh salts, with binomial CIs."""
    from rectune.tools.aa import calibrate

    out = calibrate(seed=seed, runs=runs, aa_runs=aa_runs)
    if as_json:
        _print_json(out)
    else:
        _console().print_json(json.dumps(out, default=str))


def main() -> None:
    """Console entry point; the root group already turns user errors into one line."""
    app()


if __name__ == "__main__":
    main()
