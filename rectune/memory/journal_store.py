"""The journal's rules, shared by every storage backend.

`JournalStore` holds every check a journal write makes (the task of each record, unique
candidate ids, legal lifecycle moves, rounds owned by the thread that reserved them) and the
idempotence a re-run step relies on. A backend supplies three things only: `load` (one task's
whole journal), `_edit` (load under the task's exclusive lock, let a method change the
document, persist it atomically, or nothing when the method raises) and `tasks`.

Two backends exist: `rectune.memory.journal.Journal` (one JSON file per task under a file
lock) and `rectune.storage.pg_journal.PostgresJournal` (tables whose constraints repeat the
same invariants, one transaction per write).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rectune.domain import (
    Candidate,
    CandidateStatus,
    ExperimentResult,
    ExperimentState,
    RecTuneError,
    RoundRecord,
    RoundStatus,
    utcnow,
)

__all__ = [
    "JOURNAL_SCHEMA_VERSION",
    "JournalCorruptError",
    "JournalDocument",
    "JournalError",
    "JournalLockedError",
    "JournalStore",
    "check_task_name",
    "upgrade_v1",
]

JOURNAL_SCHEMA_VERSION: Literal[2] = 2
_TASK = re.compile(r"^[A-Za-z0-9_.-]+$")


class JournalError(RecTuneError):
    """A journal operation was refused (unknown candidate, duplicate id, wrong task...)."""


class JournalCorruptError(JournalError):
    """A stored journal does not parse; it is left untouched for a person to inspect."""


class JournalLockedError(JournalError):
    """Another process held the journal's lock for longer than the timeout."""


def check_task_name(task: str) -> str:
    """`task` when it is a safe name (it becomes a file name), else `JournalError`."""
    if not _TASK.match(task):
        raise JournalError(f"task name {task!r} is not a safe file name ([A-Za-z0-9_.-]+)")
    return task


class JournalDocument(BaseModel):
    """The whole journal of one task, exactly as the file backend stores it."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = JOURNAL_SCHEMA_VERSION
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

    def round_record(self, round_no: int) -> RoundRecord | None:
        """The record of round `round_no`, if any."""
        return next((r for r in self.rounds if r.round == round_no), None)

    def last_round(self) -> int:
        """The highest round number used by a record or a candidate (0 when none)."""
        used = [r.round for r in self.rounds] + [c.round for c in self.candidates]
        return max(used, default=0)


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept a round's status, error and skill version as free-text notes."""
    rounds = []
    for r in data.get("rounds", []):
        r = dict(r)
        status, notes = RoundStatus.COMPLETED.value, []
        for note in r.get("notes", []):
            key, _, value = str(note).partition(": ")
            if key == "status" and value in {s.value for s in RoundStatus}:
                status = value
            elif key == "error":
                r["error"] = value
            elif key == "skill version" and value.isdigit():
                r["skill_version"] = int(value)
            else:
                notes.append(note)
        r["status"], r["notes"] = status, notes
        r.setdefault("finished_at", r.get("started_at"))
        rounds.append(r)
    return {**data, "schema_version": JOURNAL_SCHEMA_VERSION, "rounds": rounds}


class JournalStore(ABC):
    """The journal of every task, on some storage; all checks live here."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where this journal lives, for messages (a folder or a redacted database URL)."""

    @abstractmethod
    def tasks(self) -> list[str]:
        """Tasks that have a journal."""

    @abstractmethod
    def load(self, task: str) -> JournalDocument:
        """The journal of `task` (an empty one when nothing was written yet).

        Raises:
            JournalCorruptError: when what is stored does not parse or validate.
        """

    @abstractmethod
    def _edit(self, task: str) -> AbstractContextManager[JournalDocument]:
        """Lock, load, let the method mutate the document, then persist it atomically.

        Nothing is written if the body raises.
        """

    def document(self, task: str) -> JournalDocument:
        """The whole journal of `task` (what ``rectune migrate`` copies)."""
        return self.load(task)

    def write_document(self, doc: JournalDocument) -> None:
        """Copy a whole journal into this store (``rectune migrate``).

        Raises:
            JournalError: when this store already holds records of the task: a copy never
                merges into or overwrites what is there.
        """
        with self._edit(doc.task) as cur:
            if cur.candidates or cur.rounds or cur.experiments:
                raise JournalError(
                    f"journal {doc.task!r} in {self.location} already has records; "
                    "migrate copies into an empty target only"
                )
            _check_new(cur, doc.candidates)
            cur.candidates = list(doc.candidates)
            cur.rounds = sorted(doc.rounds, key=lambda r: r.round)
            cur.experiments = list(doc.experiments)

    # ------------------------------------------------------------------ reading

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

    def round_record(self, task: str, round_no: int) -> RoundRecord | None:
        """The record of one round, if the round was reserved."""
        return self.load(task).round_record(round_no)

    def experiments(self, task: str) -> list[ExperimentResult]:
        """Experiment results recorded for `task`."""
        return list(self.load(task).experiments)

    # ------------------------------------------------------------------ writing

    def add_candidates(self, task: str, candidates: Iterable[Candidate]) -> None:
        """Append new candidates; ids must be new and the task must match."""
        new = list(candidates)
        with self._edit(task) as doc:
            _check_new(doc, new)
            doc.candidates.extend(new)

    def add_new_candidates(
        self, task: str, candidates: Iterable[Candidate]
    ) -> tuple[list[str], list[str]]:
        """Append the candidates whose id is new (imports); returns (added, skipped) ids."""
        offered = list(candidates)
        with self._edit(task) as doc:
            existing = {c.id for c in doc.candidates}
            new = [c for c in offered if c.id not in existing]
            _check_new(doc, new)
            doc.candidates.extend(new)
        return [c.id for c in new], [c.id for c in offered if c.id in existing]

    def update_candidate(
        self, task: str, candidate_id: str, fn: Callable[[Candidate], Candidate]
    ) -> Candidate:
        """Replace a candidate by `fn(candidate)` under the lock; id and task may not change."""
        with self._edit(task) as doc:
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

    # ------------------------------------------------------------------ rounds

    def reserve_round(
        self,
        task: str,
        thread_id: str,
        *,
        requested: int | None = None,
        steering: str = "",
        skill_version: int | None = None,
    ) -> RoundRecord:
        """The round of `thread_id`: reserved now, or the one it reserved before.

        The number is allocated under the lock, so concurrent rounds of one task get distinct
        numbers, and a thread that resumes after a newer round started keeps its own.

        Raises:
            JournalError: when `requested` names a round another thread reserved.
        """
        if not thread_id:
            raise JournalError("reserve_round needs a thread id")
        with self._edit(task) as doc:
            mine = next((r for r in doc.rounds if r.thread_id == thread_id), None)
            if mine is not None:
                if requested is not None and requested != mine.round:
                    raise JournalError(
                        f"thread {thread_id!r} already holds round {mine.round} of {task!r}; "
                        f"it cannot also take round {requested}"
                    )
                return mine
            if requested is not None:
                taken = doc.round_record(requested)
                used = taken is not None or any(c.round == requested for c in doc.candidates)
                if used:
                    owner = f" by thread {taken.thread_id!r}" if taken and taken.thread_id else ""
                    raise JournalError(
                        f"round {requested} of {task!r} is already taken{owner}; leave the "
                        f"round number out to get the next free one ({doc.last_round() + 1})"
                    )
                number = requested
            else:
                number = doc.last_round() + 1
            record = RoundRecord(
                round=number, thread_id=thread_id, steering=steering, skill_version=skill_version
            )
            doc.rounds = sorted([*doc.rounds, record], key=lambda r: r.round)
            return record

    def propose(
        self, task: str, round_no: int, thread_id: str, candidates: Sequence[Candidate]
    ) -> None:
        """Set the round's PROPOSED candidates (a re-run Critic replaces its own earlier pick).

        Raises:
            JournalError: when the round is not this thread's, a candidate belongs elsewhere,
                or the round's candidates already went past review.
        """
        with self._edit(task) as doc:
            _own_round(doc, round_no, thread_id)
            for c in candidates:
                if c.task != task or c.round != round_no:
                    raise JournalError(
                        f"candidate {c.id!r} is for {c.task!r} round {c.round}, not {task!r} "
                        f"round {round_no}"
                    )
                if c.status is not CandidateStatus.PROPOSED:
                    raise JournalError(f"candidate {c.id!r} must be proposed, is {c.status}")
            mine = [c for c in doc.candidates if c.round == round_no]
            moved = [c.id for c in mine if c.status is not CandidateStatus.PROPOSED]
            if moved:
                raise JournalError(
                    f"round {round_no} of {task!r} is past review (candidates {moved} were "
                    "decided); its proposals cannot be replaced"
                )
            doc.candidates = [c for c in doc.candidates if c.round != round_no]
            _check_new(doc, list(candidates))
            doc.candidates.extend(candidates)

    def decide(
        self, task: str, round_no: int, thread_id: str, decided: Sequence[Candidate]
    ) -> None:
        """Store the reviewer's decisions: each candidate moves from PROPOSED to APPROVED or
        REJECTED (an edited one with its new configuration). Writing the same again is a no-op.
        """
        with self._edit(task) as doc:
            _own_round(doc, round_no, thread_id)
            for new in decided:
                i = doc.index(new.id)
                cur = doc.candidates[i]
                if cur.round != round_no:
                    raise JournalError(f"candidate {new.id!r} is not of round {round_no}")
                if cur.status is new.status and cur.config == new.config:
                    continue
                if cur.status is not CandidateStatus.PROPOSED or new.status not in (
                    CandidateStatus.APPROVED,
                    CandidateStatus.REJECTED,
                ):
                    raise JournalError(
                        f"candidate {new.id!r}: cannot record a decision {cur.status} -> "
                        f"{new.status}; only proposed candidates are decided"
                    )
                doc.candidates[i] = Candidate.model_validate(new.model_dump())

    def mark_live(self, task: str, candidate_ids: Sequence[str], experiment_id: str) -> None:
        """Approved candidates went live in `experiment_id` (already live there: no-op)."""
        with self._edit(task) as doc:
            for cid in candidate_ids:
                i = doc.index(cid)
                cur = doc.candidates[i]
                if cur.status is CandidateStatus.LIVE and cur.experiment_id == experiment_id:
                    continue
                if cur.status is not CandidateStatus.APPROVED:
                    raise JournalError(
                        f"candidate {cid!r} is {cur.status}; only approved candidates go live"
                    )
                live = cur.transition(CandidateStatus.LIVE, f"launched in {experiment_id}")
                doc.candidates[i] = live.model_copy(update={"experiment_id": experiment_id})

    def finish_round(self, task: str, record: RoundRecord) -> RoundRecord:
        """Replace the round's record with its final state (the thread must own the round)."""
        with self._edit(task) as doc:
            _own_round(doc, record.round, record.thread_id)
            if record.status.is_final and record.finished_at is None:
                record = record.model_copy(update={"finished_at": utcnow()})
            doc.rounds = sorted(
                [r for r in doc.rounds if r.round != record.round] + [record],
                key=lambda r: r.round,
            )
            return record

    def record_round(self, task: str, record: RoundRecord) -> None:
        """Add or replace the record of round `record.round` (imports and tests)."""
        with self._edit(task) as doc:
            doc.rounds = [r for r in doc.rounds if r.round != record.round] + [record]
            doc.rounds.sort(key=lambda r: r.round)

    def record_results(self, task: str, result: ExperimentResult) -> list[Candidate]:
        """Store an experiment's results and attach each arm's result to its candidate.

        Candidates that were live move to COMPLETED (or ABORTED for an aborted arm or
        experiment) once the experiment has ended; approved ones are first moved to LIVE.
        Control arms and arms without a candidate id are only kept in the experiment record.
        Recording the same results again changes nothing.

        Returns:
            The updated candidates.
        """
        if result.task != task:
            raise JournalError(f"experiment {result.experiment_id!r} is for task {result.task!r}")
        with self._edit(task) as doc:
            known = {c.id for c in doc.candidates}
            missing = [
                a.candidate_id
                for a in result.arms
                if a.candidate_id and a.candidate_id not in known
            ]
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

    def abort_round(self, task: str, round_no: int, thread_id: str, reason: str) -> RoundRecord:
        """End a round by hand: its open candidates are rejected or aborted, the record says so."""
        with self._edit(task) as doc:
            _own_round(doc, round_no, thread_id)
            for i, c in enumerate(doc.candidates):
                if c.round != round_no or c.status.is_final:
                    continue
                if c.status is CandidateStatus.PROPOSED:
                    doc.candidates[i] = c.transition(CandidateStatus.REJECTED, reason)
                elif c.status is CandidateStatus.APPROVED:
                    live = c.transition(CandidateStatus.LIVE, "aborted before launch")
                    doc.candidates[i] = live.transition(CandidateStatus.ABORTED, reason)
                else:
                    doc.candidates[i] = c.transition(CandidateStatus.ABORTED, reason)
            cur = doc.round_record(round_no)
            assert cur is not None
            record = cur.model_copy(
                update={"status": RoundStatus.ABORTED, "error": reason, "finished_at": utcnow()}
            )
            doc.rounds = sorted(
                [r for r in doc.rounds if r.round != round_no] + [record], key=lambda r: r.round
            )
            return record


def _check_new(doc: JournalDocument, new: Sequence[Candidate]) -> None:
    seen = {c.id for c in doc.candidates}
    for c in new:
        if c.task != doc.task:
            raise JournalError(f"candidate {c.id!r} belongs to task {c.task!r}, not {doc.task!r}")
        if c.id in seen:
            raise JournalError(f"journal {doc.task!r}: candidate id {c.id!r} already exists")
        seen.add(c.id)


def _own_round(doc: JournalDocument, round_no: int, thread_id: str) -> None:
    record = doc.round_record(round_no)
    if record is None:
        raise JournalError(
            f"round {round_no} of {doc.task!r} was never reserved; a round starts with "
            "reserve_round"
        )
    if record.thread_id and record.thread_id != thread_id:
        raise JournalError(
            f"round {round_no} of {doc.task!r} belongs to thread {record.thread_id!r}, "
            f"not {thread_id!r}"
        )
