"""The round through days-long tests, resumes from elsewhere and concurrent runs (issue 15)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rectune import resume, run_round
from rectune.domain import CandidateStatus, RoundStatus
from rectune.memory.journal import Journal

pytestmark = pytest.mark.integration

SMALL = {"proposals_per_round": 4, "arms_per_ab": 2, "days": 3, "seed": 3}
CHILD = Path(__file__).with_name("kill_child.py")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the platform's noise estimates cached (each costs a pilot)."""
    from rectune.config import Context
    from rectune.ports import ports_for
    from rectune.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("template") / "ws").root
    ports = ports_for(Context(workspace=str(ws), seed=3))
    for task in ("value_fusion", "diversity"):
        ports.platform.plan(ports.skills.get(task), 2, days=3)
    return ws


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ws"
    shutil.copytree(template, out)
    return out


def test_each_resume_polls_the_platform_once(ws: Path) -> None:
    """Resuming a waiting round asks for the status once: days 1, 2, 3 - never 1, 3, 6."""
    rep = run_round(
        "value_fusion", workspace=ws, model=None, approve=True, wait=False, poll_days=1,
        **{**SMALL, "days": 4},
    )
    seen = []
    while rep.status is RoundStatus.WAITING:
        assert rep.pending is not None
        seen.append(rep.pending["days_run"])
        rep = resume(rep.thread_id, workspace=ws, wait=False)
    assert seen == [1, 2, 3]
    assert rep.status is RoundStatus.COMPLETED, rep.error
    assert rep.results is not None and rep.results.days_run == 4


def test_the_plan_the_reviewer_approves_is_what_launches(ws: Path) -> None:
    rep = run_round("diversity", workspace=ws, model=None, **SMALL)
    assert rep.status is RoundStatus.AWAITING_APPROVAL and rep.pending is not None
    shown = rep.pending["ab_plan"]
    assert shown["days"] == 3 and shown["arms"] == 2 and shown["power_analysis"] is not None
    first = rep.pending["candidates"][0]["id"]
    answer = {"decisions": [{"id": first, "action": "approve"}], "plan": {"days": 2}}
    final = resume(rep.thread_id, answer, workspace=ws)
    assert final.status is RoundStatus.COMPLETED, final.error
    assert final.plan is not None
    assert (final.plan.days, final.plan.arms, final.plan.duration_from) == (2, 1, "reviewer")
    spec = json.loads(
        next((ws / "platform" / "experiments").glob("*.json")).read_text()
    )["spec"]
    assert spec["days"] == 2 and len(spec["treatments"]) == 1
    assert {a["traffic"] for a in [spec["control"], *spec["treatments"]]} == {
        final.plan.traffic_per_arm
    }
    record = Journal.in_workspace(ws).round_record("diversity", final.round)
    assert record is not None and record.plan == final.plan


def test_a_relative_handoff_folder_belongs_to_the_workspace(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started in one folder, resumed from another: one hand-off, in the workspace."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    rep = run_round(
        "value_fusion", workspace=ws, model=None, approve=True, wait=False,
        platform="files:handoff", **SMALL,
    )
    assert rep.status is RoundStatus.WAITING and rep.experiment_id is not None
    folder = ws / "handoff" / rep.experiment_id
    deployed = sorted(
        p.relative_to(folder / "arms").as_posix() for p in (folder / "arms").rglob("*.json")
    )
    assert deployed == [
        "arm1/value_fusion__arm1.json", "arm2/value_fusion__arm2.json",
        "control/value_fusion__control.json",
    ]
    arm1 = json.loads((folder / "arms" / "arm1" / "value_fusion__arm1.json").read_text())
    assert arm1["experiment_id"] == rep.experiment_id and "weights" in arm1
    readme = (folder / "README.txt").read_text()
    assert f"rectune resume {rep.thread_id}" in readme
    results = {
        "experiment_id": rep.experiment_id,
        "arms": {
            arm: {"metrics": {m: {"relative_lift": 0.001, "ci_low": -0.01, "ci_high": 0.012,
                                  "p_value": 0.8}
                              for m in json.loads((folder / "spec.json").read_text())["metrics"]}}
            for arm in ("arm1", "arm2")
        },
    }
    (folder / "results.json").write_text(json.dumps(results))
    monkeypatch.chdir(elsewhere)
    final = resume(rep.thread_id, workspace=ws)
    assert final.status is RoundStatus.COMPLETED, final.error
    assert not (elsewhere / "handoff").exists()
    assert [p.name for p in (ws / "handoff").iterdir() if p.is_dir()] == [rep.experiment_id]


def test_waiting_for_a_handoff_sleeps_between_polls(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No busy loop: the caller pauses `poll_interval` between polls, each pause polls once,
    and nothing is re-rendered or re-launched while it waits."""
    import rectune.api as api
    import rectune.ports.platform as port_module

    pauses: list[float] = []
    polls = {"n": 0}
    real_status = port_module.PlatformPort.status

    def counting_status(self: Any, experiment_id: str) -> Any:
        polls["n"] += 1
        return real_status(self, experiment_id)

    def fake_sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:  # the results arrive during the third pause
            folder = next(p for p in (ws / "handoff").iterdir() if p.is_dir())
            spec = json.loads((folder / "spec.json").read_text())
            entry = {"relative_lift": 0.0, "ci_low": -0.01, "ci_high": 0.01, "p_value": 1.0}
            arms = {a["name"]: {"metrics": dict.fromkeys(spec["metrics"], entry)}
                    for a in spec["treatments"]}
            (folder / "results.json").write_text(
                json.dumps({"experiment_id": folder.name, "arms": arms})
            )

    monkeypatch.setattr(port_module.PlatformPort, "status", counting_status)
    monkeypatch.setattr(api.time, "sleep", fake_sleep)
    rendered_writes = {"n": 0}
    real_write = port_module.PlatformPort.write_rendered

    def counting_write(self: Any, *args: Any) -> Any:
        rendered_writes["n"] += 1
        return real_write(self, *args)

    monkeypatch.setattr(port_module.PlatformPort, "write_rendered", counting_write)
    events: list[str] = []
    rep = run_round(
        "value_fusion", workspace=ws, model=None, approve=True, platform="files:handoff",
        poll_interval=7.5, on_event=lambda node, data: events.append(node), **SMALL,
    )
    assert rep.status is RoundStatus.COMPLETED, rep.error
    assert pauses == [7.5, 7.5, 7.5]
    assert polls["n"] == 4  # one before each pause, one after the last
    assert rendered_writes["n"] == 1
    assert events.count("waiting") == 3
    live = [
        h for c in Journal.in_workspace(ws).candidates("value_fusion") for h in c.history
        if h.status is CandidateStatus.LIVE
    ]
    assert len(live) == 2  # each candidate went live once


RACE = textwrap.dedent("""
    import sys
    from rectune import run_round
    r = run_round("value_fusion", workspace=sys.argv[1], model=None, approve=True,
                  proposals_per_round=4, arms_per_ab=2, days=2, seed=int(sys.argv[2]))
    print(r.status.value, r.round)
""")


def test_two_processes_tune_one_task_at_once(ws: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(ws), str(seed)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for seed in (3, 4)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    finished = sorted(o[0].split()[-1] for o in outs)
    assert finished == ["1", "2"]
    journal = Journal.in_workspace(ws)
    ids = [c.id for c in journal.candidates("value_fusion")]
    assert len(ids) == len(set(ids)) == 4
    rounds = journal.rounds("value_fusion")
    assert [(r.round, r.status) for r in rounds] == [
        (1, RoundStatus.COMPLETED), (2, RoundStatus.COMPLETED)
    ]
    assert len({r.thread_id for r in rounds}) == 2
    assert len({r.experiment_id for r in rounds}) == 2


def test_rounds_of_one_task_waiting_side_by_side_draft_distinct_arms(ws: Path) -> None:
    """Round 1 waits at the approval with its arms queued (no result yet); round 2 of the same
    task must draft around them, not duplicates its Critic drops until the round fails."""
    tight = {**SMALL, "proposals_per_round": 2, "arms_per_ab": 2}
    first = run_round("value_fusion", workspace=ws, **tight)
    assert first.status == "awaiting_approval", first.error
    second = run_round("value_fusion", workspace=ws, **tight)
    assert second.status == "awaiting_approval", second.error
    keys = [json.dumps(c.config, sort_keys=True) for c in (*first.candidates, *second.candidates)]
    assert len(keys) == len(set(keys)) == 4


def test_a_killed_round_resumed_after_a_newer_one_keeps_its_own_number(ws: Path) -> None:
    """Killed right after reserving round 1; round 2 runs; the resume finishes round 1 and
    leaves round 2 untouched."""
    child = subprocess.run(
        [sys.executable, str(CHILD), str(ws), "t-old", "reserved"],
        capture_output=True, text=True, timeout=600,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    newer = run_round("value_fusion", workspace=ws, model=None, approve=True, **SMALL)
    assert newer.status is RoundStatus.COMPLETED and newer.round == 2
    journal = Journal.in_workspace(ws)
    round2 = [c for c in journal.candidates("value_fusion") if c.round == 2]
    old = resume("t-old", workspace=ws)
    assert old.status is RoundStatus.COMPLETED, old.error
    assert old.round == 1
    assert [c for c in journal.candidates("value_fusion") if c.round == 2] == round2
    assert [(r.round, r.thread_id) for r in journal.rounds("value_fusion")] == [
        (1, "t-old"), (2, newer.thread_id)
    ]


def test_a_resumed_critic_keeps_its_own_pick(ws: Path) -> None:
    """Killed after the Critic's journal write, at the loop cap: the resumed Critic must not
    count its own proposals as tested (which left nothing to launch)."""
    env = {**os.environ, "RECTUNE_CRITIC_LOOP_CAP": "1"}
    child = subprocess.run(
        [sys.executable, str(CHILD), str(ws), "t-critic", "critic-journal"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    picked = [c.id for c in Journal.in_workspace(ws).candidates("value_fusion")]
    final = resume("t-critic", workspace=ws)
    assert final.status is RoundStatus.COMPLETED, final.error
    assert [c.id for c in final.candidates] == picked
    assert {c.status for c in Journal.in_workspace(ws).candidates("value_fusion")} == {
        CandidateStatus.COMPLETED
    }


def test_a_broken_skill_does_not_stop_another_tasks_round(ws: Path) -> None:
    first = run_round("diversity", workspace=ws, model=None, approve=True, **SMALL)
    assert first.status is RoundStatus.COMPLETED
    skill_md = ws / "skills" / "diversity" / "SKILL.md"
    skill_md.write_text(skill_md.read_text().replace("stage:", "stage: [broken", 1))
    rep = run_round("value_fusion", workspace=ws, model=None, approve=True, **SMALL)
    assert rep.status is RoundStatus.COMPLETED, rep.error
    assert rep.learned_rules is not None


def test_a_finished_round_resumes_as_a_no_op_and_abort_closes_an_open_one(ws: Path) -> None:
    from rectune.api import abort, forget, status

    done = run_round("value_fusion", workspace=ws, model=None, approve=True, **SMALL)
    assert resume(done.thread_id, workspace=ws).status is RoundStatus.COMPLETED
    paused = run_round("value_fusion", workspace=ws, model=None, wait=False, **SMALL)
    assert paused.status is RoundStatus.AWAITING_APPROVAL
    closed = abort(paused.thread_id, "not today", workspace=ws)
    assert closed.status is RoundStatus.ABORTED
    assert resume(paused.thread_id, "approve", workspace=ws).status is RoundStatus.ABORTED
    record = Journal.in_workspace(ws).round_record("value_fusion", paused.round)
    assert record is not None and record.status is RoundStatus.ABORTED
    assert {
        c.status for c in Journal.in_workspace(ws).candidates("value_fusion")
        if c.round == paused.round
    } == {CandidateStatus.REJECTED}
    forget(paused.thread_id, workspace=ws)
    threads = status(workspace=ws)
    assert isinstance(threads, list) and [t.thread_id for t in threads] == [done.thread_id]
