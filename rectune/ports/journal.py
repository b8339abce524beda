"""The journal port: what a round reads from and writes to the experiment journal.

`rectune.memory.journal.Journal` (files) implements it; any other storage must keep the same
checks (task of each record, unique ids, legal lifecycle moves, rounds owned by their thread)
and the same idempotence, because a step re-run after a crash writes again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from rectune.domain import Candidate, ExperimentResult, RoundRecord

__all__ = ["JournalPort"]


@runtime_checkable
class JournalPort(Protocol):
    """The journal as a round uses it."""

    def tasks(self) -> list[str]:
        """Tasks with a journal."""
        ...

    def candidates(self, task: str) -> list[Candidate]:
        """Every candidate of `task`, in the order added."""
        ...

    def rounds(self, task: str) -> list[RoundRecord]:
        """Round records of `task`, by number."""
        ...

    def round_record(self, task: str, round_no: int) -> RoundRecord | None:
        """One round's record."""
        ...

    def reserve_round(
        self,
        task: str,
        thread_id: str,
        *,
        requested: int | None = None,
        steering: str = "",
        skill_version: int | None = None,
    ) -> RoundRecord:
        """The thread's round: reserved now, or the one it reserved before."""
        ...

    def propose(
        self, task: str, round_no: int, thread_id: str, candidates: Sequence[Candidate]
    ) -> None:
        """Set the round's proposed candidates."""
        ...

    def decide(
        self, task: str, round_no: int, thread_id: str, decided: Sequence[Candidate]
    ) -> None:
        """Store the reviewer's decisions."""
        ...

    def mark_live(self, task: str, candidate_ids: Sequence[str], experiment_id: str) -> None:
        """Approved candidates went live."""
        ...

    def record_results(self, task: str, result: ExperimentResult) -> list[Candidate]:
        """Store an experiment's results on its candidates."""
        ...

    def finish_round(self, task: str, record: RoundRecord) -> RoundRecord:
        """Store the round's final record."""
        ...

    def abort_round(self, task: str, round_no: int, thread_id: str, reason: str) -> RoundRecord:
        """End a round by hand."""
        ...
