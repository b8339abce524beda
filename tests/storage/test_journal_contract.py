"""One contract for every journal backend: the file journal and the Postgres journal pass
the same tests (as Optuna tests its storages), so callers may use either."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rectune.domain import (
    ArmResult,
    Candidate,
    CandidateStatus,
    ExperimentResult,
    ExperimentState,
    LifecycleError,
    MetricResult,
    RoundRecord,
    RoundStatus,
)
from rectune.memory.journal import Journal
from rectune.memory.journal_store import JournalError, JournalStore

BACKENDS = ["file", "postgres"]


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JournalStore]:
    if request.param == "file":
        yield Journal(tmp_path / "journal")
        return
    from rectune.storage.pg_journal import PostgresJournal

    yield PostgresJournal(request.getfixturevalue("pg_url"))


def cand(i: int, task: str = "t", round_no: int = 1) -> Candidate:
    return Candidate(
        id=f"c{i}", task=task, round=round_no, delta={"a": float(i)}, config={"a": float(i)},
        hypothesis=f"h{i}", explanation="because",
    )


def mr(lift: float) -> MetricResult:
    return MetricResult(
        metric="m", control_mean=1.0, treatment_mean=1 + lift, relative_lift=lift,
        ci_low=lift - 0.01, ci_high=lift + 0.01, p_value=0.04,
    )


def result(eid: str, state: ExperimentState, *ids: str) -> ExperimentResult:
    return ExperimentResult(
        experiment_id=eid, task="t", state=state, days_run=7,
        arms=[ArmResult(arm="control", metrics={})]
        + [ArmResult(arm=f"a{i}", candidate_id=c, metrics={"m": mr(0.01 * i)})
           for i, c in enumerate(ids, 1)],
    )


def test_candidates_round_trip_with_their_order_and_history(journal: JournalStore) -> None:
    assert journal.tasks() == [] and journal.candidates("t") == []
    journal.add_candidates("t", [cand(3), cand(1), cand(2)])
    journal.transition("t", "c1", CandidateStatus.APPROVED, "ok")
    got = journal.candidates("t")
    assert [c.id for c in got] == ["c3", "c1", "c2"]
    assert got[1].status is CandidateStatus.APPROVED and got[1].history[-1].note == "ok"
    assert journal.candidate("t", "c1") == got[1]
    assert journal.candidates("t", CandidateStatus.PROPOSED) == [got[0], got[2]]
    assert journal.tasks() == ["t"]


def test_refusals(journal: JournalStore) -> None:
    journal.add_candidates("t", [cand(1)])
    journal.transition("t", "c1", CandidateStatus.REJECTED)
    with pytest.raises(LifecycleError):
        journal.transition("t", "c1", CandidateStatus.LIVE)
    with pytest.raises(JournalError, match="already exists"):
        journal.add_candidates("t", [cand(1)])
    with pytest.raises(JournalError, match="belongs to task"):
        journal.add_candidates("t", [cand(9, task="other")])
    with pytest.raises(JournalError, match="no candidate"):
        journal.candidate("t", "zz")
    with pytest.raises(JournalError, match="safe file name"):
        journal.load("../evil")
    with pytest.raises(JournalError, match="may not change id/task"):
        journal.update_candidate("t", "c1", lambda c: c.model_copy(update={"id": "c2"}))
    assert [c.status for c in journal.candidates("t")] == [CandidateStatus.REJECTED]


def test_a_failed_write_changes_nothing(journal: JournalStore) -> None:
    journal.add_candidates("t", [cand(1)])
    before = journal.load("t")

    def boom(c: Candidate) -> Candidate:
        raise RuntimeError("agent crashed")

    with pytest.raises(RuntimeError):
        journal.update_candidate("t", "c1", boom)
    with pytest.raises(JournalError):
        journal.add_candidates("t", [cand(2), cand(2)])
    after = journal.load("t")
    assert after.candidates == before.candidates and after.rounds == before.rounds


def test_add_new_candidates_skips_known_ids(journal: JournalStore) -> None:
    journal.add_candidates("t", [cand(1)])
    added, skipped = journal.add_new_candidates("t", [cand(1), cand(2)])
    assert (added, skipped) == (["c2"], ["c1"])
    assert journal.add_new_candidates("t", [cand(1), cand(2)]) == ([], ["c1", "c2"])


def test_round_lifecycle_is_idempotent(journal: JournalStore) -> None:
    r = journal.reserve_round("t", "th-1", steering="go", skill_version=2)
    assert (r.round, r.thread_id, r.status) == (1, "th-1", RoundStatus.RUNNING)
    assert journal.reserve_round("t", "th-1") == r  # a resumed thread keeps its round
    assert journal.reserve_round("t", "th-2").round == 2
    with pytest.raises(JournalError, match="already taken"):
        journal.reserve_round("t", "th-3", requested=2)
    with pytest.raises(JournalError, match="already holds round 1"):
        journal.reserve_round("t", "th-1", requested=5)
    props = [cand(1), cand(2), cand(3)]
    journal.propose("t", 1, "th-1", props)
    journal.propose("t", 1, "th-1", props[:2])  # a re-run Critic replaces its own pick
    assert [c.id for c in journal.candidates("t")] == ["c1", "c2"]
    with pytest.raises(JournalError, match="belongs to thread"):
        journal.propose("t", 1, "th-2", props)
    with pytest.raises(JournalError, match="never reserved"):
        journal.propose("t", 9, "th-1", [])
    approved = props[0].transition(CandidateStatus.APPROVED, "reviewer")
    rejected = props[1].transition(CandidateStatus.REJECTED, "reviewer")
    journal.decide("t", 1, "th-1", [approved, rejected])
    journal.decide("t", 1, "th-1", [approved, rejected])  # the same again: no-op
    with pytest.raises(JournalError, match="past review"):
        journal.propose("t", 1, "th-1", props)
    with pytest.raises(JournalError, match="only approved candidates go live"):
        journal.mark_live("t", ["c2"], "exp-1")
    journal.mark_live("t", ["c1"], "exp-1")
    journal.mark_live("t", ["c1"], "exp-1")
    running = result("exp-1", ExperimentState.RUNNING, "c1")
    assert [c.status for c in journal.record_results("t", running)] == [CandidateStatus.LIVE]
    done = result("exp-1", ExperimentState.COMPLETED, "c1")
    assert [c.status for c in journal.record_results("t", done)] == [CandidateStatus.COMPLETED]
    journal.record_results("t", done)
    assert [e.state for e in journal.experiments("t")] == [ExperimentState.COMPLETED]
    final = journal.finish_round(
        "t", r.model_copy(update={"status": RoundStatus.COMPLETED, "experiment_id": "exp-1",
                                  "candidate_ids": ["c1", "c2"]})
    )
    assert final.finished_at is not None
    assert journal.finish_round("t", final) == final
    assert journal.round_record("t", 1) == final
    assert [x.round for x in journal.rounds("t")] == [1, 2]
    with pytest.raises(JournalError, match="belongs to thread"):
        journal.finish_round("t", final.model_copy(update={"thread_id": "th-2"}))


def test_record_results_rejects_unknown_candidates(journal: JournalStore) -> None:
    journal.add_candidates("t", [cand(1)])
    with pytest.raises(JournalError, match="unknown candidates"):
        journal.record_results("t", result("e", ExperimentState.COMPLETED, "c1", "ghost"))
    assert journal.experiments("t") == []


def test_abort_round_closes_every_open_candidate(journal: JournalStore) -> None:
    journal.reserve_round("t", "th")
    journal.propose("t", 1, "th", [cand(1), cand(2), cand(3)])
    journal.decide("t", 1, "th", [cand(2).transition(CandidateStatus.APPROVED),
                                  cand(3).transition(CandidateStatus.APPROVED)])
    journal.mark_live("t", ["c3"], "e1")
    rec = journal.abort_round("t", 1, "th", "stopped by a person")
    assert rec.status is RoundStatus.ABORTED and rec.error == "stopped by a person"
    assert [c.status for c in journal.candidates("t")] == [
        CandidateStatus.REJECTED, CandidateStatus.ABORTED, CandidateStatus.ABORTED
    ]


def test_record_round_replaces_by_number(journal: JournalStore) -> None:
    journal.record_round("t", RoundRecord(round=2, steering="first"))
    journal.record_round("t", RoundRecord(round=1, notes=["one"]))
    journal.record_round("t", RoundRecord(round=2, steering="replaced"))
    assert [(r.round, r.steering) for r in journal.rounds("t")] == [(1, ""), (2, "replaced")]


def test_tasks_are_separate(journal: JournalStore) -> None:
    journal.add_candidates("a", [cand(1, task="a")])
    journal.add_candidates("b", [cand(1, task="b")])
    journal.reserve_round("a", "th")
    assert journal.tasks() == ["a", "b"]
    assert journal.rounds("b") == [] and len(journal.rounds("a")) == 1


def test_documents_copy_whole_and_only_into_an_empty_task(
    journal: JournalStore, tmp_path: Path
) -> None:
    source = Journal(tmp_path / "source")
    source.reserve_round("t", "th")
    source.propose("t", 1, "th", [cand(1), cand(2)])
    source.decide("t", 1, "th", [cand(1).transition(CandidateStatus.APPROVED)])
    source.mark_live("t", ["c1"], "e1")
    source.record_results("t", result("e1", ExperimentState.COMPLETED, "c1"))
    journal.write_document(source.document("t"))
    got, want = journal.document("t"), source.document("t")
    assert (got.candidates, got.rounds, got.experiments) == (
        want.candidates, want.rounds, want.experiments
    )
    with pytest.raises(JournalError, match="already has records"):
        journal.write_document(want)


def test_concurrent_threads_get_distinct_rounds(journal: JournalStore) -> None:
    got: list[int] = []
    errors: list[BaseException] = []

    def reserve(i: int) -> None:
        try:
            r = journal.reserve_round("t", f"th-{i}")
            journal.propose("t", r.round, f"th-{i}", [cand(100 + i, round_no=r.round)])
            got.append(r.round)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=reserve, args=(i,)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert sorted(got) == list(range(1, 9))
    assert len(journal.candidates("t")) == 8
