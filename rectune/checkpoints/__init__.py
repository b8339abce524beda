"""Checkpointer factory: SQLite in the workspace by default, Postgres with Postgres storage,
in-memory for tests.

With ``storage: postgresql://...`` the checkpoints go to LangGraph's own ``PostgresSaver``
(``langgraph-checkpoint-postgres``), whose ``setup()`` creates and migrates its tables. Any
other ``BaseCheckpointSaver`` may still be passed wherever a checkpointer is accepted.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from rectune.domain import RecTuneError
from rectune.workspace import Workspace

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver

__all__ = [
    "CheckpointError",
    "checkpoint_path",
    "memory_checkpointer",
    "postgres_checkpointer",
    "sqlite_checkpointer",
]

_SET_UP: set[str] = set()
_SET_UP_LOCK = threading.Lock()


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


@contextmanager
def postgres_checkpointer(url: str) -> Iterator[PostgresSaver]:
    """A ``PostgresSaver`` on `url` for the body, its tables set up on first use per process.

    Raises:
        CheckpointError: naming the (redacted) URL when the database cannot be reached or the
            checkpoint package is missing.
    """
    from rectune.storage.settings import redact

    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
    except ImportError:  # pragma: no cover - depends on the installation
        raise CheckpointError(
            "Postgres storage needs langgraph-checkpoint-postgres and psycopg: "
            "pip install 'rectune[postgres]'"
        ) from None
    try:
        conn: Any = psycopg.connect(
            url, autocommit=True, prepare_threshold=0, row_factory=dict_row, connect_timeout=10
        )
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"cannot connect to the checkpoint database {redact(url)}: {first}"
        ) from None
    try:
        saver = PostgresSaver(conn)
        with _SET_UP_LOCK:
            if url not in _SET_UP:
                _setup_once(conn, saver)
                _SET_UP.add(url)
        yield saver
    finally:
        conn.close()


def _setup_once(conn: Any, saver: PostgresSaver) -> None:
    """Run the saver's `setup()` unless its migrations are all applied, one process at a time.

    Workers starting together would race on its CREATE TABLEs. The lock is polled with
    ``pg_try_advisory_lock`` rather than waited for: `setup()` builds indexes CONCURRENTLY,
    which waits for every open transaction, a blocked lock request included (a deadlock).
    """
    import time

    def done() -> bool:
        row = conn.execute(
            "SELECT to_regclass('checkpoint_migrations') IS NOT NULL AS present"
        ).fetchone()
        if not row["present"]:
            return False
        top = conn.execute("SELECT max(v) AS v FROM checkpoint_migrations").fetchone()
        return top["v"] is not None and int(top["v"]) >= len(saver.MIGRATIONS) - 1

    key = "rectune checkpoint setup"
    deadline = time.monotonic() + 120
    while not done():
        got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS got", (key,)).fetchone()
        if got["got"]:
            try:
                saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
            return
        if time.monotonic() > deadline:
            raise CheckpointError("gave up after 120 s waiting for another process's setup()")
        time.sleep(0.2)
