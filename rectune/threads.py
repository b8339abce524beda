"""Round threads: the record of each round's thread and the run settings it started with.

A round is one LangGraph thread. Its record (``threads/<id>.json`` in the workspace, or a row
of the storage database) keeps the task, when it started, its `Context` without the workspace
path and the storage (a workspace may be opened from anywhere) and, once a person ends it,
why: everything a later process needs to resume or report the round.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rectune.config import Context
from rectune.domain import RecTuneError, RoundStatus, utcnow
from rectune.durable import atomic_write_text, read_json
from rectune.workspace import Workspace

__all__ = ["Closed", "FileThreads", "ThreadBackend", "ThreadRecord", "ThreadStore"]


class Closed(BaseModel):
    """How a person ended a thread (`rectune abort`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: RoundStatus
    reason: str
    at: str


class ThreadRecord(BaseModel):
    """One round thread."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thread_id: str
    task: str
    created_at: str
    context: dict[str, Any] = Field(description="the run's Context, without the workspace")
    closed: Closed | None = None


class ThreadStore:
    """The thread records of one workspace, on its storage.

    With ``local`` storage each record is ``threads/<id>.json`` in the workspace; with a
    Postgres URL the records live in the database, so a process in another folder (or on
    another host) that shares only the URL finds every round's thread.

    Args:
        workspace: The workspace.
        storage: ``local``, a ``postgresql://`` URL, or None for the workspace's setting.

    Example:
        >>> import tempfile
        >>> store = ThreadStore(tempfile.mkdtemp(), storage="local")
        >>> store.save(Context(workspace="ws"), "t-1", "value_fusion").task
        'value_fusion'
        >>> [r.thread_id for r in store.all()]
        ['t-1']
    """

    def __init__(self, workspace: str | Path, *, storage: str | None = None) -> None:
        from rectune.storage import open_threads

        self.workspace = Workspace(workspace)
        self.backend: ThreadBackend = open_threads(self.workspace, storage)

    def save(self, ctx: Context, thread_id: str, task: str) -> ThreadRecord:
        """Record a new thread.

        Raises:
            RecTuneError: when the thread id is taken.
        """
        context = asdict(ctx)
        context.pop("workspace")
        context.pop("storage", None)  # where the record is found, not part of it
        record = ThreadRecord(
            thread_id=thread_id, task=task, created_at=utcnow().isoformat(), context=context
        )
        if not self.backend.insert(record):
            raise RecTuneError(
                f"round thread {thread_id!r} already exists in {self.backend.location}"
            )
        return record

    def load(self, thread_id: str) -> ThreadRecord:
        """One thread's record.

        Raises:
            RecTuneError: naming the known threads when there is no such thread.
        """
        record = self.backend.get(thread_id)
        if record is None:
            known = [r.thread_id for r in self.backend.all()]
            raise RecTuneError(
                f"no round thread {thread_id!r} in {self.backend.location}; "
                f"known: {known[-10:]}"
            )
        return record

    def exists(self, thread_id: str) -> bool:
        """Whether the thread was recorded."""
        return self.backend.get(thread_id) is not None

    def close(self, thread_id: str, status: RoundStatus, reason: str) -> ThreadRecord:
        """Mark a thread ended by a person."""
        record = self.load(thread_id).model_copy(
            update={"closed": Closed(status=status, reason=reason, at=utcnow().isoformat())}
        )
        self.backend.replace(record)
        return record

    def delete(self, thread_id: str) -> None:
        """Forget a thread's record."""
        self.backend.delete(thread_id)

    def all(self) -> list[ThreadRecord]:
        """Every thread, oldest first."""
        return self.backend.all()


class ThreadBackend(Protocol):
    """Where thread records are kept."""

    @property
    def location(self) -> str:
        """For messages: the folder or the redacted database URL."""
        ...

    def insert(self, record: ThreadRecord) -> bool:
        """Add a new record; False when the id is taken."""
        ...

    def get(self, thread_id: str) -> ThreadRecord | None:
        """One record, if any."""
        ...

    def replace(self, record: ThreadRecord) -> None:
        """Overwrite an existing record."""
        ...

    def delete(self, thread_id: str) -> None:
        """Remove a record (no error when absent)."""
        ...

    def all(self) -> list[ThreadRecord]:
        """Every record, oldest first."""
        ...


class FileThreads:
    """Thread records as ``threads/<id>.json`` files in the workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def location(self) -> str:
        return f"workspace {str(self.workspace.root)!r}"

    def insert(self, record: ThreadRecord) -> bool:
        if self.workspace.thread_file(record.thread_id).exists():
            return False
        self.replace(record)
        return True

    def get(self, thread_id: str) -> ThreadRecord | None:
        path = self.workspace.thread_file(thread_id)
        if not path.exists():
            return None
        return ThreadRecord.model_validate(read_json(path))

    def replace(self, record: ThreadRecord) -> None:
        atomic_write_text(
            self.workspace.thread_file(record.thread_id),
            json.dumps(record.model_dump(mode="json"), indent=2),
        )

    def delete(self, thread_id: str) -> None:
        self.workspace.thread_file(thread_id).unlink(missing_ok=True)

    def all(self) -> list[ThreadRecord]:
        paths = sorted(self.workspace.threads.glob("*.json"), key=lambda p: p.stat().st_mtime)
        return [ThreadRecord.model_validate(read_json(p)) for p in paths]
