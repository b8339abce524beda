"""The experiment journal on files: every candidate and every round of a task, as one JSON file.

Layout: ``<journal dir>/<task>.json`` (by convention ``<workspace>/journal``). Each write is a
read-modify-write under a file lock, finished by an atomic replace, so concurrent writers never
lose a record and a crash leaves either the old or the new file.

Every write goes through a method of `JournalStore` (`rectune.memory.journal_store`) that
checks what it is asked to do: the task of each record, unique candidate ids, legal lifecycle
moves, and that a round belongs to the thread that reserved it. The methods a round uses are
idempotent, so a step that is re-run after a crash writes the same thing again instead of a
duplicate. `open_journal` picks this backend or the Postgres one from the storage setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rectune.domain import RoundRecord, utcnow
from rectune.durable import LockTimeoutError, atomic_write_text, locked
from rectune.memory.journal_store import (
    JOURNAL_SCHEMA_VERSION,
    JournalCorruptError,
    JournalDocument,
    JournalError,
    JournalLockedError,
    JournalStore,
    check_task_name,
    upgrade_v1,
)

__all__ = [
    "JOURNAL_SCHEMA_VERSION",
    "Journal",
    "JournalCorruptError",
    "JournalDocument",
    "JournalError",
    "JournalLockedError",
    "JournalStore",
    "RoundRecord",
    "open_journal",
]


class Journal(JournalStore):
    """The journals of all tasks in one folder.

    Args:
        root: The journal folder (``<workspace>/journal`` by convention).
        lock_timeout: Seconds a writer waits for another before `JournalLockedError`.

    Example:
        >>> import tempfile
        >>> from rectune.domain import Candidate, CandidateStatus
        >>> j = Journal(Path(tempfile.mkdtemp()))
        >>> c = Candidate(id="c1", task="t", round=1, delta={"a": 1.0}, config={"a": 1.0})
        >>> j.add_candidates("t", [c])
        >>> j.transition("t", "c1", CandidateStatus.APPROVED).status.value
        'approved'
        >>> [c.id for c in j.candidates("t")]
        ['c1']
    """

    def __init__(self, root: Path | str, *, lock_timeout: float = 30.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout

    @classmethod
    def in_workspace(
        cls, workspace: Path | str, *, storage: str | None = None, **kwargs: Any
    ) -> JournalStore:
        """The journal of a workspace on its storage (see `rectune.storage`): these files
        for ``local``, the database for a ``postgresql://`` URL."""
        return open_journal(workspace, storage, **kwargs)

    @property
    def location(self) -> str:
        return str(self.root)

    def path(self, task: str) -> Path:
        """The JSON file of `task`."""
        return self.root / f"{check_task_name(task)}.json"

    def tasks(self) -> list[str]:
        """Tasks that have a journal file."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if not p.name.startswith("."))

    def load(self, task: str) -> JournalDocument:
        """The journal of `task` (an empty one if the file does not exist yet).

        Raises:
            JournalCorruptError: when the file exists but does not parse or validate.
        """
        path = self.path(task)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return JournalDocument(task=task)
        except IsADirectoryError:
            raise JournalCorruptError(
                f"journal file {path} is a folder; move it away to let rectune write the journal"
            ) from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise JournalCorruptError(
                f"journal file {path} is corrupt (JSON error at line {exc.lineno}, column "
                f"{exc.colno}: {exc.msg}); it was not modified, restore it or move it away"
            ) from None
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version == 1:
            data = upgrade_v1(data)
        elif isinstance(data, dict) and version != JOURNAL_SCHEMA_VERSION:
            raise JournalCorruptError(
                f"journal file {path} has schema_version {version!r}; this rectune reads "
                f"versions 1 and {JOURNAL_SCHEMA_VERSION}"
            )
        try:
            doc = JournalDocument.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise JournalCorruptError(
                f"journal file {path} does not validate: field {where}: {first['msg']} "
                f"({len(exc.errors())} problem(s)); it was not modified"
            ) from None
        if doc.task != task:
            raise JournalCorruptError(f"journal file {path} belongs to task {doc.task!r}")
        return doc

    @contextmanager
    def _edit(self, task: str) -> Iterator[JournalDocument]:
        path = self.path(task)
        try:
            with locked(
                str(path) + ".lock", timeout=self.lock_timeout, what=f"journal {path}"
            ):
                doc = self.load(task)
                yield doc
                doc.updated_at = utcnow()
                text = json.dumps(doc.model_dump(mode="json"), indent=2, ensure_ascii=False)
                atomic_write_text(path, text + "\n")
        except LockTimeoutError as exc:
            raise JournalLockedError(str(exc)) from None


def open_journal(
    workspace: Path | str, storage: str | None = None, **kwargs: Any
) -> JournalStore:
    """The journal of a workspace on the storage `storage` names (None: the workspace's
    setting, see `rectune.storage.resolve_storage`)."""
    from rectune.storage import open_journal as _open

    return _open(workspace, storage, **kwargs)
