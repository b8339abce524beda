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

__all__ = ["checkpoint_path", "memory_checkpointer", "sqlite_checkpointer"]

DB_NAME = "rectune.sqlite"


def checkpoint_path(workspace: str | Path) -> Path:
    """Where the SQLite checkpoint database of a workspace lives."""
    return Path(workspace) / "checkpoints" / DB_NAME


def sqlite_checkpointer(workspace: str | Path) -> SqliteSaver:
    """A SQLite saver on the workspace's database, created on first use.

    The connection is opened in autocommit-friendly mode and may be shared across threads,
    which LangGraph's sync executor needs.
    """
    path = checkpoint_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def memory_checkpointer() -> BaseCheckpointSaver[str]:
    """An in-memory saver (tests, notebooks that need no durability)."""
    return InMemorySaver()
