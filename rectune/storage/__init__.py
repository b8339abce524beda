"""Where a workspace's durable state lives: ``local`` files or a Postgres database.

One setting (see `rectune.storage.settings`) chooses the backend of four things: the
experiment journal (`open_journal`), the round thread records (`open_threads`), the skill
versions (``SkillHub(root, storage=...)``) and the LangGraph checkpoints (`open_checkpointer`).
Callers see the same APIs on both; the Postgres tables add database constraints that keep the
invariants across hosts (`rectune.storage.pg`).

What stays on each host's disk with Postgres storage: the workspace's ``rectune.yaml``, a copy
of each skill's latest SKILL.md (refreshed from the database), rendered arm configs, reports,
the simulator's state, and the Chroma index (derived: ``rectune reindex`` recreates it
from the database's journal and skills).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rectune.storage.settings import (
    ENV_VAR,
    LOCAL,
    StorageError,
    is_postgres,
    parse_storage,
    redact,
    resolve_storage,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from rectune.memory.journal_store import JournalStore
    from rectune.threads import ThreadBackend
    from rectune.workspace import Workspace

__all__ = [
    "ENV_VAR",
    "LOCAL",
    "StorageError",
    "is_postgres",
    "open_checkpointer",
    "open_journal",
    "open_threads",
    "parse_storage",
    "redact",
    "resolve_storage",
    "round_lease",
]


def open_journal(
    workspace: str | Path, storage: str | None = None, **kwargs: Any
) -> JournalStore:
    """The journal of `workspace` on `storage` (None: the workspace's setting)."""
    spec = resolve_storage(workspace, storage)
    if is_postgres(spec):
        from rectune.storage.pg_journal import PostgresJournal

        return PostgresJournal(spec, **kwargs)
    from rectune.memory.journal import Journal
    from rectune.workspace import Workspace

    return Journal(Workspace(workspace).journal, **kwargs)


def open_threads(workspace: Workspace, storage: str | None = None) -> ThreadBackend:
    """Where the thread records of `workspace` are kept on `storage`."""
    spec = resolve_storage(workspace.root, storage)
    if is_postgres(spec):
        from rectune.storage.pg_threads import PostgresThreads

        return PostgresThreads(spec)
    from rectune.threads import FileThreads

    return FileThreads(workspace)


@contextmanager
def round_lease(storage: str, thread_id: str) -> Iterator[None]:
    """With Postgres storage, hold round `thread_id` so no other worker drives it meanwhile
    (`rectune.storage.pg.RoundBusyError` when one does); with local storage, nothing."""
    if not is_postgres(storage):
        yield
        return
    from rectune.storage.pg import thread_lease

    with thread_lease(storage, thread_id):
        yield


@contextmanager
def open_checkpointer(workspace: str | Path, storage: str | None = None) -> Iterator[
    BaseCheckpointSaver[Any]
]:
    """The LangGraph checkpointer of `workspace` on `storage`, closed after the body: the
    workspace's SQLite database, or ``PostgresSaver`` on the storage URL (its tables created
    by its own ``setup()``)."""
    spec = resolve_storage(workspace, storage)
    if is_postgres(spec):
        from rectune.checkpoints import postgres_checkpointer

        with postgres_checkpointer(spec) as saver:
            yield saver
        return
    from rectune.checkpoints import sqlite_checkpointer

    sqlite = sqlite_checkpointer(workspace)
    try:
        yield sqlite
    finally:
        sqlite.conn.close()
