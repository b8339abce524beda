"""Any worker resumes any round: separate processes in separate folders that share only the
Postgres URL (and the A/B platform's hand-off folder) start, race on, resume and finish rounds;
a worker killed mid-round is finished by another; nothing is lost, duplicated or overwritten."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rectune.domain import CandidateStatus, RoundStatus
from rectune.storage.pg_journal import PostgresJournal

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("pg_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def spawn(cwd: Path, url: str, handoff: Path, *args: str) -> subprocess.Popen[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RECTUNE_STORAGE", None)
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, str(handoff), *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen[str], *, expect_rc: int = 0) -> list[dict[str, Any]]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == expect_rc, err[-3000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def answer(handoff: Path, experiment_id: str) -> None:
    """What the platform team does when a test ends: results.json in the hand-off folder."""
    folder = handoff / experiment_id
    metrics = json.loads((folder / "spec.json").read_text())["metrics"]
    arms = json.loads((folder / "spec.json").read_text())["treatments"]
    (folder / "results.json").write_text(json.dumps({
        "experiment_id": experiment_id,
        "arms": {
            a["name"]: {"metrics": {m: {"relative_lift": 0.004, "ci_low": -0.006,
                                        "ci_high": 0.014, "p_value": 0.4} for m in metrics}}
            for a in arms
        },
    }))


def check_journal(url: str, task: str, rounds: int) -> None:
    """Exactly one completed record per round, one experiment per round, each candidate once."""
    j = PostgresJournal(url)
    recs = j.rounds(task)
    assert [r.round for r in recs] == list(range(1, rounds + 1))
    assert all(r.status is RoundStatus.COMPLETED for r in recs), [r.error for r in recs]
    experiments = [r.experiment_id for r in recs]
    assert len(set(experiments)) == rounds and None not in experiments
    assert sorted(e.experiment_id for e in j.experiments(task)) == sorted(experiments)
    cands = j.candidates(task)
    assert len({c.id for c in cands}) == len(cands)
    for r in recs:
        mine = [c for c in cands if c.round == r.round]
        assert mine and not [c for c in mine if c.status in (
            CandidateStatus.PROPOSED, CandidateStatus.APPROVED, CandidateStatus.LIVE
        )]


def test_a_round_started_in_one_process_is_finished_by_another(
    pg_url: str, tmp_path: Path
) -> None:
    handoff = tmp_path / "platform-handoff"
    started = finish(spawn(tmp_path / "host-a", pg_url, handoff, "start", "value_fusion", "vf-1"))
    assert started[0]["status"] == RoundStatus.WAITING.value, started
    answer(handoff, started[0]["experiment"])
    resumed = finish(spawn(tmp_path / "host-b", pg_url, handoff, "resume", "vf-1"))
    assert resumed[0]["status"] == RoundStatus.COMPLETED.value, resumed
    assert resumed[0]["round"] == 1 and resumed[0]["experiment"] == started[0]["experiment"]
    check_journal(pg_url, "value_fusion", 1)
    # Host b's folder holds no journal or thread of its own: they are in the database.
    assert not list((tmp_path / "host-b" / "ws" / "journal").glob("*.json"))
    assert not list((tmp_path / "host-b" / "ws" / "threads").glob("*.json"))
    again = finish(spawn(tmp_path / "host-c", pg_url, handoff, "resume", "vf-1"))
    assert again[0]["status"] == RoundStatus.COMPLETED.value
    check_journal(pg_url, "value_fusion", 1)
    assert [p.name for p in handoff.iterdir() if p.is_dir()] == [started[0]["experiment"]]


@pytest.mark.slow
def test_four_workers_race_on_rounds_of_several_tasks(pg_url: str, tmp_path: Path) -> None:
    handoff = tmp_path / "platform-handoff"
    plan = {  # worker -> rounds it starts; value_fusion is raced by all four at once
        0: [("value_fusion", "w0-vf"), ("diversity", "w0-dv")],
        1: [("value_fusion", "w1-vf"), ("value_based_retrieval", "w1-vbr")],
        2: [("value_fusion", "w2-vf"), ("diversity", "w2-dv")],
        3: [("value_fusion", "w3-vf"), ("value_based_retrieval", "w3-vbr")],
    }
    procs = []
    for turn in range(2):
        procs = [spawn(tmp_path / f"w{w}", pg_url, handoff, "start", *rounds[turn])
                 for w, rounds in plan.items()]
        started = [line for p in procs for line in finish(p)]
        assert all(s.get("status") == RoundStatus.WAITING.value for s in started), json.dumps(
            started, indent=1)
        for s in started:
            answer(handoff, s["experiment"])
    threads = [t for rounds in plan.values() for _, t in rounds]
    # Every worker tries to resume every round, in its own order: each round is finished by
    # one worker; the others are refused while it runs or find it done.
    procs = [spawn(tmp_path / f"w{w}", pg_url, handoff, "resume",
                   *(threads[w:] + threads[:w])) for w in plan]
    outcomes = [line for p in procs for line in finish(p)]
    for o in outcomes:
        assert o.get("status") == RoundStatus.COMPLETED.value or "another worker" in o.get(
            "refused", ""
        ), o
    assert {o["thread"] for o in outcomes if o.get("status") == "completed"} == set(threads)
    check_journal(pg_url, "value_fusion", 4)
    check_journal(pg_url, "diversity", 2)
    check_journal(pg_url, "value_based_retrieval", 2)
    assert len([p for p in handoff.iterdir() if p.is_dir()]) == 8


def test_a_killed_worker_is_finished_by_another_and_a_second_resume_is_a_no_op(
    pg_url: str, tmp_path: Path
) -> None:
    handoff = tmp_path / "platform-handoff"
    killed = spawn(tmp_path / "host-a", pg_url, handoff, "start", "diversity", "dv-1",
                   "critic-journal")
    killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL
    j = PostgresJournal(pg_url)
    assert [c.status for c in j.candidates("diversity")] == [CandidateStatus.PROPOSED] * len(
        j.candidates("diversity")
    ) and j.candidates("diversity")
    first = finish(spawn(tmp_path / "host-b", pg_url, handoff, "resume", "dv-1"))
    assert first[0]["status"] == RoundStatus.WAITING.value, first
    answer(handoff, first[0]["experiment"])
    done = finish(spawn(tmp_path / "host-b", pg_url, handoff, "resume", "dv-1"))
    assert done[0]["status"] == RoundStatus.COMPLETED.value, done
    before = j.document("diversity")
    again = finish(spawn(tmp_path / "host-c", pg_url, handoff, "resume", "dv-1"))
    assert again[0]["status"] == RoundStatus.COMPLETED.value
    after = j.document("diversity")
    assert (after.candidates, after.rounds, after.experiments) == (
        before.candidates, before.rounds, before.experiments
    )
    check_journal(pg_url, "diversity", 1)
