"""Round threads: the record of each round's thread and the run settings it started with.

A round is one LangGraph thread. Its record (``threads/<id>.json`` in the workspace) keeps the
task, when it started, its `Context` without the workspace path (a workspace may be opened
from anywhere) and, once a person ends it, why: everything a later process needs to resume or
report the round.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rectune.config import Context
from rectune.domain import RecTuneError, RoundStatus, utcnow
from rectune.durable import atomic_write_text, read_json
from rectune.workspace import Workspace

__all__ = ["Closed", "ThreadRecord", "ThreadStore"]


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
    """The thread records of one workspace.

    Example:
        >>> import tempfile
        >>> store = ThreadStore(tempfile.mkdtemp())
        >>> store.save(Context(workspace="ws"), "t-1", "value_fusion").task
        'value_fusion'
        >>> [r.thread_id for r in store.all()]
        ['t-1']
    """

    def __init__(self, workspace: str | Path) -> None:
        self.workspace = Workspace(workspace)

    def save(self, ctx: Context, thread_id: str, task: str) -> ThreadRecord:
        """Record a new thread.

        Raises:
            RecTuneError: when the thread id is taken.
        """
        path = self.workspace.thread_file(thread_id)
        if path.exists():
            raise RecTuneError(
                f"round thread {thread_id!r} already exists in {self.workspace.root}"
            )
        context = asdict(ctx)
        context.pop("workspace")
        record = ThreadRecord(
            thread_id=thread_id, task=task, created_at=utcnow().isoformat(), context=context
        )
        self._write(record)
        return record

    def load(self, thread_id: str) -> ThreadRecord:
        """One thread's record.

        Raises:
            RecTuneError: naming the known threads when there is no such thread.
        """
        path = self.workspace.thread_file(thread_id)
        if not path.exists():
            known = sorted(p.stem for p in self.workspace.threads.glob("*.json"))
            raise RecTuneError(
                f"no round thread {thread_id!r} in workspace {str(self.workspace.root)!r}; "
                f"known: {known[-10:]}"
            )
        return ThreadRecord.model_validate(read_json(path))

    def exists(self, thread_id: str) -> bool:
        """Whether the thread was recorded."""
        return self.workspace.thread_file(thread_id).exists()

    def close(self, thread_id: str, status: RoundStatus, reason: str) -> ThreadRecord:
        """Mark a thread ended by a person."""
        record = self.load(thread_id).model_copy(
            update={"closed": Closed(status=status, reason=reason, at=utcnow().isoformat())}
        )
        self._write(record)
        return record

    def delete(self, thread_id: str) -> None:
        """Forget a thread's record."""
        self.workspace.thread_file(thread_id).unlink(missing_ok=True)

    def all(self) -> list[ThreadRecord]:
        """Every thread, oldest first."""
        paths = sorted(self.workspace.threads.glob("*.json"), key=lambda p: p.stat().st_mtime)
        return [ThreadRecord.model_validate(read_json(p)) for p in paths]

    def _write(self, record: ThreadRecord) -> None:
        atomic_write_text(
            self.workspace.thread_file(record.thread_id),
            json.dumps(record.model_dump(mode="json"), indent=2),
        )
