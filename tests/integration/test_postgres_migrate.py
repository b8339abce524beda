"""``rectune migrate`` copies a workspace to Postgres and back, record by record, and a round
left waiting before the copy resumes from the copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rectune import resume, run_round
from rectune.api import status
from rectune.cli import app
from rectune.domain import RoundStatus
from rectune.memory.journal import Journal
from rectune.skillhub.hub import SkillHub
from rectune.storage import open_journal
from rectune.threads import ThreadStore
from rectune.workspace import init_workspace

pytestmark = pytest.mark.integration

SMALL = {"proposals_per_round": 4, "arms_per_ab": 2, "days": 3, "seed": 3}


def answer(handoff: Path, experiment_id: str) -> None:
    spec = json.loads((handoff / experiment_id / "spec.json").read_text())
    (handoff / experiment_id / "results.json").write_text(json.dumps({
        "experiment_id": experiment_id,
        "arms": {a["name"]: {"metrics": {m: {"relative_lift": 0.01, "ci_low": 0.002,
                                             "ci_high": 0.018, "p_value": 0.02}
                                         for m in spec["metrics"]}}
                 for a in spec["treatments"]},
    }))


def one_round(ws: Path, handoff: Path, task: str, **kw: object) -> str:
    rep = run_round(task, workspace=ws, model=None, approve=True, wait=False,
                    platform=f"files:{handoff}", storage="local", **SMALL, **kw)
    assert rep.status is RoundStatus.WAITING, rep.error
    answer(handoff, str(rep.experiment_id))
    return rep.thread_id


def snapshot(ws: Path, storage: str) -> dict[str, object]:
    """Everything durable, as comparable data."""
    journal = open_journal(ws, storage)
    hub = SkillHub(ws / "skills", storage=storage)
    return {
        "journal": {
            t: (lambda d: (d.candidates, d.rounds, d.experiments))(journal.document(t))
            for t in journal.tasks()
        },
        "threads": sorted((r.thread_id, r.task, r.created_at, json.dumps(r.context, sort_keys=True))
                          for r in ThreadStore(ws, storage=storage).all()),
        "skills": {
            name: [(e.version, e.reason, e.author, e.sha256) for e in hub.versions(name)]
            for name in ("value_fusion", "diversity")
        },
        "reports": sorted(
            (i.thread_id, i.status.value, i.round)
            for i in status(workspace=ws, storage=storage)  # type: ignore[union-attr]
        ),
    }


def test_migrate_round_trips_a_workspace_and_a_waiting_round_resumes_from_the_copy(
    pg_url: str, tmp_path: Path
) -> None:
    ws = init_workspace(tmp_path / "ws").root
    handoff = tmp_path / "handoff"
    for _ in range(3):
        thread = one_round(ws, handoff, "value_fusion")
        assert resume(thread, workspace=ws, storage="local").status is RoundStatus.COMPLETED
    waiting = run_round("diversity", workspace=ws, model=None, approve=True, wait=False,
                        platform=f"files:{handoff}", storage="local", **SMALL)
    assert waiting.status is RoundStatus.WAITING
    before = snapshot(ws, "local")
    assert len(Journal.in_workspace(ws, storage="local").rounds("value_fusion")) == 3

    runner = CliRunner()
    out = runner.invoke(app, ["migrate", "--to", pg_url, "-w", str(ws)])
    assert out.exit_code == 0, out.output
    assert "4 thread(s)" in out.output and "2 task journal(s)" in out.output
    assert snapshot(ws, pg_url) == before
    again = runner.invoke(app, ["migrate", "--to", pg_url, "-w", str(ws)])
    assert again.exit_code != 0 and "already has records" in again.output + str(again.exception)

    back = tmp_path / "back"
    out = runner.invoke(app, ["--storage", pg_url, "migrate", "--to", str(back), "-w", str(ws)])
    assert out.exit_code == 0, out.output
    assert snapshot(back, "local") == before

    # The round that was waiting before the copy finishes from the database, elsewhere.
    answer(handoff, str(waiting.experiment_id))
    done = resume(waiting.thread_id, workspace=tmp_path / "elsewhere", storage=pg_url)
    assert done.status is RoundStatus.COMPLETED, done.error
    assert [r.status for r in open_journal(ws, pg_url).rounds("diversity")] == [
        RoundStatus.COMPLETED
    ]
    # The local original is untouched by what happened in the database.
    assert snapshot(ws, "local") == before


def test_migrate_refuses_bad_targets(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws").root
    out = CliRunner().invoke(app, ["migrate", "--to", str(tmp_path / "x"), "-w", str(ws)])
    assert out.exit_code != 0
    assert "already local" in out.output + str(out.exception)
    out = CliRunner().invoke(app, ["--storage", "sqlite", "status", "-w", str(ws)])
    assert out.exit_code != 0 and "not allowed" in out.output


def test_migrate_refuses_a_skill_that_does_not_load_and_writes_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    ws = init_workspace(tmp_path / "ws").root
    handoff = tmp_path / "handoff"
    one_round(ws, handoff, "value_fusion")
    broken = ws / "skills" / "half_written" / "SKILL.md"
    broken.parent.mkdir()
    broken.write_text("---\nname: half_written\nversion: [1\n---\n# unfinished\n")

    out = CliRunner().invoke(app, ["migrate", "--to", pg_url, "-w", str(ws)])
    assert out.exit_code != 0
    message = out.output + str(out.exception)
    assert str(broken) in message and "nothing was copied" in message
    assert "fix each file" in message
    # Nothing reached the database: no journal, no thread, no skill version.
    assert open_journal(ws, pg_url).tasks() == []
    assert ThreadStore(ws, storage=pg_url).all() == []
    from rectune.storage.pg_skills import stored_skills

    assert stored_skills(pg_url) == []

    # The same refusal the other way: a Postgres storage whose host copy holds a broken skill.
    shutil.rmtree(broken.parent)
    assert CliRunner().invoke(app, ["migrate", "--to", pg_url, "-w", str(ws)]).exit_code == 0
    broken.parent.mkdir()
    broken.write_text("---\nname: [\n---\n")
    back = tmp_path / "back"
    out = CliRunner().invoke(
        app, ["--storage", pg_url, "migrate", "--to", str(back), "-w", str(ws)]
    )
    assert out.exit_code != 0 and str(broken) in out.output + str(out.exception)
    assert not back.exists()
