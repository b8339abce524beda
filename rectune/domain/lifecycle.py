"""The lifecycle of a candidate configuration, with the legal transitions."""

from __future__ import annotations

from enum import StrEnum

from rectune.domain.errors import LifecycleError

__all__ = ["CandidateStatus", "check_transition"]


class CandidateStatus(StrEnum):
    """Where a candidate is in its life.

    PROPOSED -> REJECTED | APPROVED; APPROVED -> LIVE; LIVE -> COMPLETED | ABORTED.
    REJECTED, COMPLETED and ABORTED are final.
    """

    PROPOSED = "proposed"
    REJECTED = "rejected"
    APPROVED = "approved"
    LIVE = "live"
    COMPLETED = "completed"
    ABORTED = "aborted"

    @property
    def is_final(self) -> bool:
        """Whether no transition leaves this status."""
        return not _ALLOWED[self]


_ALLOWED: dict[CandidateStatus, frozenset[CandidateStatus]] = {
    CandidateStatus.PROPOSED: frozenset({CandidateStatus.REJECTED, CandidateStatus.APPROVED}),
    CandidateStatus.APPROVED: frozenset({CandidateStatus.LIVE}),
    CandidateStatus.LIVE: frozenset({CandidateStatus.COMPLETED, CandidateStatus.ABORTED}),
    CandidateStatus.REJECTED: frozenset(),
    CandidateStatus.COMPLETED: frozenset(),
    CandidateStatus.ABORTED: frozenset(),
}


def check_transition(current: CandidateStatus, new: CandidateStatus) -> None:
    """Raise `LifecycleError` unless `current -> new` is a legal move."""
    if new not in _ALLOWED[current]:
        allowed = sorted(s.value for s in _ALLOWED[current]) or ["none (final state)"]
        raise LifecycleError(
            f"illegal transition {current.value} -> {new.value}; allowed from "
            f"{current.value}: {', '.join(allowed)}"
        )
