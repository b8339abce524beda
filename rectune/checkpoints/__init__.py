"""Checkpointer factory: SQLite in the workspace by default, in-memory for tests.

Production deployments can pass any LangGraph ``BaseCheckpointSaver`` (e.g. the Postgres
saver from ``langgraph-checkpoint-postgres``) wherever a checkpointer is accepted.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from rectune.domain import RecTuneError
from rectune.workspace import Workspace

__all__ = ["CheckpointError", "checkpoint_path", "memory_checkpointer", "sqlite_checkpointer"]


class CheckpointError(RecTuneError):
    """The checkpoint database cannot be used; the message names it and what to do."""


def checkpoint_path(workspace: str | Path) -> Path:
    """Where the SQLite checkpoint database of a workspace lives."""
    return Workspace(workspace).checkpoint_db


def sqlite_checkpointer(workspace: str | Path) -> SqliteSaver:
    """A SQLite saver on the workspace's database, created on first use.

    The connection may be shared across threads, which LangGraph's sync executor needs.

    Raises:
        CheckpointError: when the database is not a SQLite database (damaged or replaced),
            or cannot be opened or created.
    """
    path = checkpoint_path(workspace)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise CheckpointError(f"cannot open the checkpoint database {path}: {exc}") from None
    saver = SqliteSaver(conn)
    try:
        saver.setup()
        conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "malformed" in str(exc) or "not a database" in str(exc):
            raise CheckpointError(
                f"the checkpoint database {path} is damaged ({exc}); move it away to start new "
                "rounds (rounds paused in it cannot be resumed; the journal keeps every "
                "recorded result)"
            ) from None
        raise CheckpointError(f"the checkpoint database {path} cannot be used: {exc}") from None
    return saver


def memory_checkpointer() -> BaseCheckpointSaver[str]:
    """An in-memory saver (tests, notebooks that need no durability)."""
    return InMemorySaver()
