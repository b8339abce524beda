"""The experiment journal: every candidate and every round of a task, as one JSON file.

Layout: ``<journal dir>/<task>.json`` (by convention ``<workspace>/journal``). Each write is a
read-modify-write under a file lock, finished by an atomic replace, so concurrent writers never
lose a record and a crash leaves either the old or the new file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rectune.domain.candidates import Candidate, utcnow
from rectune.domain.errors import RecTuneError
from rectune.domain.experiments import ExperimentResult, ExperimentState
from rectune.domain.lifecycle import CandidateStatus
from rectune.skillhub.atomic import atomic_write_text, remove_stale_temp_files

__all__ = [
    "JOURNAL_SCHEMA_VERSION",
    "Journal",
    "JournalCorruptError",
    "JournalDocument",
    "JournalError",
    "JournalLockedError",
    "RoundRecord",
]

JOURNAL_SCHEMA_VERSION: Literal[1] = 1
_TASK = re.compile(r"^[A-Za-z0-9_.-]+$")


class JournalError(RecTuneError):
    """A journal operation was refused (unknown candidate, duplicate id, wrong task...)."""


class JournalCorruptError(JournalError):
    """A journal file does not parse; it is left untouched for a person to inspect."""


class JournalLockedError(JournalError):
    """Another process held the journal's lock for longer than the timeout."""


class RoundRecord(BaseModel):
    """What happened in one tuning round of a task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    round: int = Field(ge=0)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    steering: str = ""
    candidate_ids: list[str] = Field(default_factory=list)
    experiment_id: str | None = None
    token_usage: dict[str, int] = Field(
        default_factory=dict, description="e.g. {'actor.input': 1200, 'actor.output': 300}"
    )
    notes: list[str] = Field(default_factory=list)


class JournalDocument(BaseModel):
    """The whole journal of one task, exactly as stored on disk."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = JOURNAL_SCHEMA_VERSION
    task: str
    updated_at: datetime = Field(default_factory=utcnow)
    candidates: list[Candidate] = Field(default_factory=list)
    rounds: list[RoundRecord] = Field(default_factory=list)
    experiments: list[ExperimentResult] = Field(default_factory=list)

    def index(self, candidate_id: str) -> int:
        """Position of candidate `candidate_id`, or `JournalError`."""
        for i, c in enumerate(self.candidates):
            if c.id == candidate_id:
                return i
        raise JournalError(f"journal {self.task!r}: no candidate {candidate_id!r}")


class Journal:
    """The journals of all tasks in one folder.

    Args:
        root: The journal folder (``<workspace>/journal`` by convention).
        lock_timeout: Seconds a writer waits for another before `JournalLockedError`.

    Example:
        >>> import tempfile
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
    def in_workspace(cls, workspace: Path | str, **kwargs: Any) -> Journal:
        """The journal of a workspace: ``<workspace>/journal``."""
        return cls(Path(workspace) / "journal", **kwargs)

    def path(self, task: str) -> Path:
        """The JSON file of `task`."""
        if not _TASK.match(task):
            raise JournalError(f"task name {task!r} is not a safe file name ([A-Za-z0-9_.-]+)")
        return self.root / f"{task}.json"

    def tasks(self) -> list[str]:
        """Tasks that have a journal file."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if not p.name.startswith("."))

    # ------------------------------------------------------------------ reading

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
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise JournalCorruptError(
                f"journal file {path} is corrupt (JSON error at line {exc.lineno}, column "
                f"{exc.colno}: {exc.msg}); it was not modified, restore it or move it away"
            ) from None
        if isinstance(data, dict) and data.get("schema_version") != JOURNAL_SCHEMA_VERSION:
            raise JournalCorruptError(
                f"journal file {path} has schema_version {data.get('schema_version')!r}; "
                f"this rectune reads version {JOURNAL_SCHEMA_VERSION}"
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

    def candidates(self, task: str, status: CandidateStatus | None = None) -> list[Candidate]:
        """Candidates of `task` in the order they were added, optionally of one status."""
        return [c for c in self.load(task).candidates if status is None or c.status is status]

    def candidate(self, task: str, candidate_id: str) -> Candidate:
        """One candidate by id."""
        doc = self.load(task)
        return doc.candidates[doc.index(candidate_id)]

    def rounds(self, task: str) -> list[RoundRecord]:
        """Round records of `task`, by round number."""
        return sorted(self.load(task).rounds, key=lambda r: r.round)

    def experiments(self, task: str) -> list[ExperimentResult]:
        """Experiment results recorded for `task`."""
        return list(self.load(task).experiments)

    # ------------------------------------------------------------------ writing

    @contextmanager
    def edit(self, task: str) -> Iterator[JournalDocument]:
        """Lock, load, let the caller mutate the document, then write it atomically.

        Nothing is written if the body raises.
        """
        path = self.path(task)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock", timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout:
            raise JournalLockedError(
                f"journal {path} is locked by another writer; gave up after "
                f"{self.lock_timeout:g}s (lock file {path}.lock)"
            ) from None
        try:
            doc = self.load(task)
            yield doc
            doc.updated_at = utcnow()
            remove_stale_temp_files(path)
            text = json.dumps(doc.model_dump(mode="json"), indent=2, ensure_ascii=False)
            atomic_write_text(path, text + "\n")
        finally:
            lock.release()

    def add_candidates(self, task: str, candidates: Iterable[Candidate]) -> None:
        """Append new candidates; ids must be new and the task must match."""
        new = list(candidates)
        with self.edit(task) as doc:
            seen = {c.id for c in doc.candidates}
            for c in new:
                if c.task != task:
                    raise JournalError(
                        f"candidate {c.id!r} belongs to task {c.task!r}, not {task!r}"
                    )
                if c.id in seen:
                    raise JournalError(f"journal {task!r}: candidate id {c.id!r} already exists")
                seen.add(c.id)
            doc.candidates.extend(new)

    def update_candidate(
        self, task: str, candidate_id: str, fn: Callable[[Candidate], Candidate]
    ) -> Candidate:
        """Replace a candidate by `fn(candidate)` under the lock; id and task may not change."""
        with self.edit(task) as doc:
            i = doc.index(candidate_id)
            new = fn(doc.candidates[i])
            if new.id != candidate_id or new.task != task:
                raise JournalError(f"candidate {candidate_id!r}: an update may not change id/task")
            doc.candidates[i] = Candidate.model_validate(new.model_dump())
            return doc.candidates[i]

    def transition(
        self, task: str, candidate_id: str, status: CandidateStatus, note: str = ""
    ) -> Candidate:
        """Move a candidate through its lifecycle (illegal moves raise `LifecycleError`)."""
        return self.update_candidate(task, candidate_id, lambda c: c.transition(status, note))

    def record_round(self, task: str, record: RoundRecord) -> None:
        """Add or replace the record of round `record.round`."""
        with self.edit(task) as doc:
            doc.rounds = [r for r in doc.rounds if r.round != record.round] + [record]
            doc.rounds.sort(key=lambda r: r.round)

    def record_results(self, task: str, result: ExperimentResult) -> list[Candidate]:
        """Store an experiment's results and attach each arm's result to its candidate.

        Candidates that were live move to COMPLETED (or ABORTED for an aborted arm or
        experiment) once the experiment has ended; approved ones are first moved to LIVE.
        Control arms and arms without a candidate id are only kept in the experiment record.

        Returns:
            The updated candidates.
        """
        if result.task != task:
            raise JournalError(f"experiment {result.experiment_id!r} is for task {result.task!r}")
        with self.edit(task) as doc:
            known = {c.id for c in doc.candidates}
            missing = [a.candidate_id for a in result.arms if a.candidate_id and a.candidate_id
                       not in known]
            if missing:
                raise JournalError(
                    f"experiment {result.experiment_id!r}: unknown candidates {missing} in {task!r}"
                )
            doc.experiments = [
                e for e in doc.experiments if e.experiment_id != result.experiment_id
            ] + [result]
            updated: list[Candidate] = []
            for arm in result.arms:
                if not arm.candidate_id:
                    continue
                i = doc.index(arm.candidate_id)
                c = doc.candidates[i].model_copy(
                    update={"result": arm, "experiment_id": result.experiment_id}
                )
                if result.state is not ExperimentState.RUNNING:
                    aborted = arm.aborted or result.state is ExperimentState.ABORTED
                    final = CandidateStatus.ABORTED if aborted else CandidateStatus.COMPLETED
                    note = arm.abort_reason or f"results of {result.experiment_id}"
                    if c.status is CandidateStatus.APPROVED:
                        c = c.transition(CandidateStatus.LIVE, "launched")
                    if c.status is CandidateStatus.LIVE:
                        c = c.transition(final, note)
                elif c.status is CandidateStatus.APPROVED:
                    c = c.transition(CandidateStatus.LIVE, f"running in {result.experiment_id}")
                doc.candidates[i] = c
                updated.append(c)
            return updated
