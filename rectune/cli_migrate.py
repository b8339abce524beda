"""``rectune migrate``: copy a workspace's durable state between local files and Postgres.

``rectune migrate --to postgresql://...`` copies a local workspace (journal, thread records,
every skill version, the LangGraph checkpoints) into the database; ``rectune migrate --to DIR``
copies a Postgres storage into a new local workspace. Nothing is merged or overwritten: a
target that already holds records of a task, a thread or a skill is refused, and the source
is only read. The Chroma index is derived and is rebuilt on the target (``rectune reindex``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["MigrationReport", "migrate_command", "migrate_workspace"]


@dataclass
class MigrationReport:
    """What one migration copied."""

    source: str
    target: str
    tasks: list[str] = field(default_factory=list)
    candidates: int = 0
    rounds: int = 0
    experiments: int = 0
    threads: int = 0
    skill_versions: int = 0
    checkpoints: int = 0


def _copy_checkpoints(src: BaseCheckpointSaver[Any], dst: BaseCheckpointSaver[Any]) -> int:
    """Every checkpoint of every thread with its pending writes, oldest first per thread."""
    tuples = list(src.list(None))
    tuples.reverse()  # `list` gives the newest first
    for t in tuples:
        conf = t.config["configurable"]
        parent = t.parent_config or {
            "configurable": {"thread_id": conf["thread_id"], "checkpoint_ns": conf.get(
                "checkpoint_ns", ""
            )}
        }
        saved = dst.put(parent, t.checkpoint, t.metadata, t.checkpoint["channel_versions"])
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in t.pending_writes or []:
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            dst.put_writes(saved, writes, task_id)
    return len(tuples)


def migrate_workspace(workspace: str | Path, to: str, *, source: str | None = None) -> (
    MigrationReport
):
    """Copy the durable state of `workspace` (on `source`, default its storage setting) to `to`:
    a ``postgresql://`` URL, or a folder that becomes a new local workspace.

    Raises:
        RecTuneError: when source and target are the same kind of storage in the same place,
            the target already holds records, or either cannot be used.
    """
    from rectune.domain import RecTuneError
    from rectune.skillhub.hub import SkillHub
    from rectune.storage import (
        LOCAL,
        is_postgres,
        open_checkpointer,
        open_journal,
        open_threads,
        redact,
        resolve_storage,
    )
    from rectune.workspace import Workspace, init_workspace, require_workspace

    src_storage = resolve_storage(workspace, source)
    _refuse_broken_skills(SkillHub(Workspace(workspace).skills, storage=src_storage))
    if is_postgres(to):
        if src_storage == to:
            raise RecTuneError(f"the workspace already uses {redact(to)}; nothing to migrate")
        require_workspace(workspace)
        src_ws, dst_ws, dst_storage = Workspace(workspace), Workspace(workspace), to
        shown = redact(to)
    else:
        if not is_postgres(src_storage):
            raise RecTuneError(
                f"--to {to}: a folder target takes a Postgres storage's state; this workspace "
                "is already local (name its database with --from postgresql://...)"
            )
        src_ws, dst_ws, dst_storage = Workspace(workspace), init_workspace(to), LOCAL
        shown = str(dst_ws.root)
    report = MigrationReport(
        source=redact(src_storage) if is_postgres(src_storage) else str(src_ws.root),
        target=shown,
    )
    src_journal = open_journal(src_ws.root, src_storage)
    dst_journal = open_journal(dst_ws.root, dst_storage)
    for task in src_journal.tasks():
        doc = src_journal.document(task)
        dst_journal.write_document(doc)
        report.tasks.append(task)
        report.candidates += len(doc.candidates)
        report.rounds += len(doc.rounds)
        report.experiments += len(doc.experiments)
    src_threads, dst_threads = open_threads(src_ws, src_storage), open_threads(dst_ws, dst_storage)
    for record in src_threads.all():
        if not dst_threads.insert(record):
            raise RecTuneError(f"thread {record.thread_id} already exists in {shown}")
        report.threads += 1
    report.skill_versions = _copy_skills(
        SkillHub(src_ws.skills, storage=src_storage), SkillHub(dst_ws.skills, storage=dst_storage)
    )
    with open_checkpointer(src_ws.root, src_storage) as src, open_checkpointer(
        dst_ws.root, dst_storage
    ) as dst:
        report.checkpoints = _copy_checkpoints(src, dst)
    return report


def _refuse_broken_skills(src: Any) -> None:
    """Stop before anything is written when a source skill does not load.

    A SKILL.md that does not parse cannot be checked on the target, and leaving it behind
    would drop it without a word; the person who owns it fixes it (or removes the folder)
    and runs the migration again.

    Raises:
        RecTuneError: naming every skill file that does not load and why.
    """
    from rectune.domain import RecTuneError

    broken = src.broken()
    if broken:
        lines = "\n".join(f"  - {exc}" for exc in broken)
        raise RecTuneError(
            f"{len(broken)} skill(s) do not load; nothing was copied:\n{lines}\n"
            "fix each file (or move its folder out of the skills folder), then run migrate again"
        )


def _copy_skills(src: Any, dst: Any) -> int:
    """Every version of every skill, in order, with its reason and author."""
    from rectune.domain import RecTuneError
    from rectune.durable import atomic_write_text

    copied = 0
    for skill in src.list(include_drafts=True):
        name = skill.name
        src_log, dst_log = src._store(name), dst._store(name)
        entries = src_log.entries()
        if not entries:
            continue
        have = dst_log.entries()
        if have and [e.sha256 for e in have] != [e.sha256 for e in entries[: len(have)]]:
            raise RecTuneError(f"skill {name!r} already has other versions in the target")
        if dst._db_url is None:
            # A fresh local target installed the shipped skills: the source's history wins.
            import shutil

            shutil.rmtree(dst.root / name / ".versions", ignore_errors=True)
            have = []
        for e in entries[len(have):]:
            dst_log.record(e.version, src_log.read(e.version), e.reason, e.author, e.actor,
                           e.rollback_of)
            copied += 1
        atomic_write_text(dst.path(name), src_log.read(entries[-1].version))
    return copied


def migrate_command(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="A postgresql:// URL, or a new folder for a local copy of a Postgres "
            "storage."
        ),
    ],
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", envvar="RECTUNE_WORKSPACE", help="Workspace.")
    ] = Path("."),
    source: Annotated[
        str | None,
        typer.Option("--from", help="The source storage (default: the workspace's setting)."),
    ] = None,
) -> None:
    """Copy a workspace's journal, threads, skill versions and checkpoints to another storage."""
    report = migrate_workspace(workspace, to, source=source)
    typer.echo(
        f"copied {report.source} -> {report.target}: {len(report.tasks)} task journal(s) "
        f"({report.candidates} candidates, {report.rounds} rounds, {report.experiments} "
        f"experiments), {report.threads} thread(s), {report.skill_versions} skill version(s), "
        f"{report.checkpoints} checkpoint(s)"
    )
    if report.target.startswith("postgres"):
        typer.echo(
            f"use it: set storage: {report.target} in rectune.yaml (or RECTUNE_STORAGE); "
            "rebuild the index on each host with: rectune reindex"
        )
