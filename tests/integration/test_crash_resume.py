"""A round killed (SIGKILL) anywhere resumes in a new process and completes exactly once.

The child (`kill_child.py`) runs a round and kills itself at one point: at the start of
every node (after the previous step's checkpoint), right after a node's writes were saved but
before its step's checkpoint, right after the Critic's journal write, right after the launch,
and inside the A/B days. This process then resumes the round and checks that it completes
with exactly one experiment on the platform, each candidate once in the journal, one round
record, no torn file and no temp file left behind; a second resume changes nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rectune import resume
from rectune.domain import CandidateStatus, RoundStatus
from rectune.memory.journal import Journal

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("kill_child.py")
NODES = [
    "load_context", "actor", "critic", "plan", "approve", "launch", "monitor", "wait",
    "record", "insight_task", "insight_reduce", "skill",
]
FAST_POINTS = ["writes:critic", "critic-journal", "launched", "ab-day"]
ALL_POINTS = [
    *(f"start:{n}" for n in NODES),
    *(f"writes:{n}" for n in NODES if n != "wait"),
    "critic-journal",
    "launched",
    "ab-day",
    "ab-mid-day",
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose platform noise estimates are already cached (they cost pilots)."""
    from rectune.config import Context
    from rectune.ports import ports_for
    from rectune.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("template") / "ws").root
    ports = ports_for(Context(workspace=str(ws), seed=3))
    skill = ports.skills.get("value_fusion")
    ports.platform.plan(skill, 2, days=3)
    return ws


def _experiments(ws: Path) -> list[str]:
    from rectune.tools.simulated import SimulatedABPlatform

    return SimulatedABPlatform(state_dir=ws / "platform").list_experiments()


def _files(ws: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(ws)): p.read_bytes()
        for p in sorted(ws.rglob("*"))
        if p.is_file() and "index" not in p.relative_to(ws).parts and not p.name.endswith(".lock")
        and p.parent.name != "checkpoints"
    }


def _check_clean(ws: Path, thread: str) -> None:
    final = resume(thread, workspace=ws)
    assert final.status is RoundStatus.COMPLETED, (final.status, final.error)
    assert len(_experiments(ws)) == 1
    journal = Journal.in_workspace(ws)
    cands = journal.candidates("value_fusion")
    ids = [c.id for c in cands]
    assert len(ids) == len(set(ids)) == 2, ids
    assert sorted(ids) == sorted(c.id for c in final.candidates)
    assert {c.status for c in cands} <= {CandidateStatus.COMPLETED, CandidateStatus.ABORTED}
    rounds = journal.rounds("value_fusion")
    assert [(r.round, r.status, r.thread_id) for r in rounds] == [
        (1, RoundStatus.COMPLETED, thread)
    ]
    for path in ws.rglob("*.json"):
        if "index" not in path.relative_to(ws).parts:
            json.loads(path.read_text())  # no torn file
    litter = [p for p in ws.rglob("*") if ".tmp-" in p.name]
    assert not litter, litter
    before = _files(ws)
    again = resume(thread, workspace=ws)
    assert again.status is RoundStatus.COMPLETED
    assert _files(ws) == before, "a second resume must change nothing"


def _kill_then_resume(template: Path, tmp_path: Path, point: str) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(template, ws)
    child = subprocess.run(
        [sys.executable, str(CHILD), str(ws), "t-kill", point],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -9, child.stderr[-3000:]
    assert "survived" not in child.stdout
    _check_clean(ws, "t-kill")


@pytest.mark.parametrize("point", FAST_POINTS)
def test_killed_round_resumes_exactly_once(template: Path, tmp_path: Path, point: str) -> None:
    _kill_then_resume(template, tmp_path, point)


@pytest.mark.slow
@pytest.mark.parametrize("point", [p for p in ALL_POINTS if p not in FAST_POINTS])
def test_killed_anywhere_resumes_exactly_once(template: Path, tmp_path: Path, point: str) -> None:
    _kill_then_resume(template, tmp_path, point)
