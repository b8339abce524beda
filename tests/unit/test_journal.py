"""The experiment journal: records, lifecycle, atomicity, locking and corruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from filelock import FileLock

from rectune.domain import (
    ArmResult,
    Candidate,
    CandidateStatus,
    ExperimentResult,
    ExperimentState,
    LifecycleError,
    MetricResult,
)
from rectune.memory import (
    Journal,
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    RoundRecord,
)

ROOT = Path(__file__).resolve().parents[2]


def cand(i: int, task: str = "t") -> Candidate:
    return Candidate(
        id=f"c{i}", task=task, round=1, delta={"a": float(i)}, config={"a": float(i)},
        hypothesis=f"h{i}", explanation="because", critic_justification="fine",
    )


def mr(name: str, lift: float) -> MetricResult:
    return MetricResult(
        metric=name, control_mean=1.0, treatment_mean=1 + lift, relative_lift=lift,
        ci_low=lift - 0.01, ci_high=lift + 0.01, p_value=0.04,
    )


def test_add_transition_and_round_trip(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.add_candidates("t", [cand(1), cand(2)])
    j.transition("t", "c1", CandidateStatus.APPROVED, "ok")
    j.transition("t", "c2", CandidateStatus.REJECTED, "risky")
    got = j.candidates("t")
    assert [c.status for c in got] == [CandidateStatus.APPROVED, CandidateStatus.REJECTED]
    assert got[0].history[-1].note == "ok" and got[0].hypothesis == "h1"
    raw = json.loads((tmp_path / "t.json").read_text())
    assert raw["schema_version"] == 2 and raw["task"] == "t"
    assert j.tasks() == ["t"]
    with pytest.raises(LifecycleError):
        j.transition("t", "c2", CandidateStatus.LIVE)
    with pytest.raises(JournalError, match="already exists"):
        j.add_candidates("t", [cand(1)])
    with pytest.raises(JournalError, match="belongs to task"):
        j.add_candidates("t", [cand(9, task="other")])
    with pytest.raises(JournalError, match="no candidate"):
        j.candidate("t", "zz")


def test_record_results_and_rounds(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.add_candidates("t", [cand(1), cand(2)])
    for cid in ("c1", "c2"):
        j.transition("t", cid, CandidateStatus.APPROVED)
    j.transition("t", "c1", CandidateStatus.LIVE)
    result = ExperimentResult(
        experiment_id="exp-1", task="t", state=ExperimentState.COMPLETED, days_run=7,
        arms=[
            ArmResult(arm="control", metrics={}),
            ArmResult(arm="a1", candidate_id="c1", metrics={"m": mr("m", 0.02)}),
            ArmResult(arm="a2", candidate_id="c2", metrics={"m": mr("m", -0.02)}, aborted=True,
                      abort_reason="guardrail"),
        ],
    )
    updated = j.record_results("t", result)
    assert [c.status for c in updated] == [CandidateStatus.COMPLETED, CandidateStatus.ABORTED]
    c1 = j.candidate("t", "c1")
    assert c1.experiment_id == "exp-1" and c1.result is not None
    assert c1.result.metrics["m"].relative_lift == 0.02
    assert j.experiments("t")[0].experiment_id == "exp-1"
    j.record_round("t", RoundRecord(round=2, steering="try lower", token_usage={"actor": 10}))
    j.record_round("t", RoundRecord(round=1, experiment_id="exp-1", notes=["first"]))
    j.record_round("t", RoundRecord(round=2, steering="replaced"))
    assert [(r.round, r.steering) for r in j.rounds("t")] == [(1, ""), (2, "replaced")]


def test_failed_update_writes_nothing(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.add_candidates("t", [cand(1)])
    before = (tmp_path / "t.json").read_bytes()

    def boom(c: Candidate) -> Candidate:
        raise RuntimeError("agent crashed")

    with pytest.raises(RuntimeError):
        j.update_candidate("t", "c1", boom)
    assert (tmp_path / "t.json").read_bytes() == before


def test_corrupt_file_reported_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"schema_version": 1, "task": "t", "candidates": [')
    j = Journal(tmp_path)
    with pytest.raises(JournalCorruptError, match=str(path)):
        j.candidates("t")
    with pytest.raises(JournalCorruptError, match="line 1"):
        j.add_candidates("t", [cand(1)])
    assert path.read_text() == '{"schema_version": 1, "task": "t", "candidates": ['
    path.write_text('{"schema_version": 1, "task": "t", "candidates": [{"id": 3}]}')
    with pytest.raises(JournalCorruptError, match="does not validate"):
        j.candidates("t")


def test_second_writer_times_out_with_clear_error(tmp_path: Path) -> None:
    j = Journal(tmp_path, lock_timeout=0.2)
    j.add_candidates("t", [cand(1)])
    with FileLock(str(tmp_path / "t.json") + ".lock"):
        t0 = time.monotonic()
        with pytest.raises(JournalLockedError, match="locked by another process"):
            j.add_candidates("t", [cand(2)])
        assert time.monotonic() - t0 >= 0.15
    assert [c.id for c in j.candidates("t")] == ["c1"]


def test_unsafe_task_name(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="safe file name"):
        Journal(tmp_path).path("../evil")


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rectune.domain import Candidate
    from rectune.memory import Journal

    root, prefix, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    j = Journal(root, lock_timeout=60)
    big = "x" * 2000  # larger records make a torn write more likely if we ever had one
    for i in range(n):
        c = Candidate(id=f"{prefix}{i}", task="t", round=i, delta={"a": 1.0},
                      config={"a": 1.0}, explanation=big)
        j.add_candidates("t", [c])
        print(i, flush=True)
    """
)


def _spawn(root: Path, prefix: str, n: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), prefix, str(n)],
        stdout=subprocess.PIPE, text=True, env=env,
    )


def test_survives_process_killed_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    seen_lengths: list[int] = []
    for _ in range(2):
        proc = _spawn(tmp_path, f"k{len(seen_lengths)}-", 100_000)
        assert proc.stdout is not None
        proc.stdout.readline()  # it has written at least once
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            # Readers never observe a torn file while the writer runs.
            doc = json.loads(path.read_text())
            seen_lengths.append(len(doc["candidates"]))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        doc = json.loads(path.read_text())  # old or new version, never a torn one
        ids = [c["id"] for c in doc["candidates"]]
        assert len(ids) == len(set(ids))
        # The journal stays writable after the crash (stale temp files are cleaned).
        Journal(tmp_path).add_candidates("t", [cand(len(seen_lengths) + 10**6)])
    assert seen_lengths == sorted(seen_lengths)
    assert not list(tmp_path.glob(".t.json.tmp-*"))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    n = 40
    procs = [_spawn(tmp_path, p, n) for p in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=120) == 0
    ids = {c.id for c in Journal(tmp_path).candidates("t")}
    assert ids == {f"{p}{i}" for p in "ab" for i in range(n)}
