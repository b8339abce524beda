"""Two workspace folders share one Postgres storage: every reader on the host that never ran a
round (the review, the round summary, history, export, the report, ``skills show``) sees the
database's current skill version, not the stale SKILL.md copy in its own folder."""

from __future__ import annotations

import builtins
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from rectune import run_round
from rectune.api import RoundReport
from rectune.cli import app
from rectune.cli_review import interactive_review
from rectune.cli_view import _metrics_of
from rectune.domain import RoundStatus
from rectune.export import export_launch
from rectune.report.data import collect
from rectune.skillhub.hub import SkillHub, shipped_skills_dir
from rectune.skillhub.loader import load_skill
from rectune.storage.settings import set_override
from rectune.workspace import init_workspace

pytestmark = pytest.mark.integration

TASK = "value_fusion"


def sharing(folder: Path, url: str) -> Path:
    """A new workspace whose rectune.yaml names the shared storage."""
    ws = init_workspace(folder)
    with ws.settings.open("a") as fh:
        fh.write(f"storage: {url}\n")
    return ws.root


@pytest.fixture
def hosts(pg_url: str, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Host A changes the skill (version 2 in the database); host B has only its shipped copy."""
    a, b = sharing(tmp_path / "a", pg_url), sharing(tmp_path / "b", pg_url)
    hub = SkillHub.in_workspace(a, install=False)
    assert hub.storage == pg_url
    v1 = hub.get(TASK)
    metrics = [m.model_copy(update={"description": "edited on host A"}) if i == 0 else m
               for i, m in enumerate(v1.metrics)]
    changed = v1.model_copy(update={"baseline": {**v1.baseline, "vf_w_click": 1.7},
                                    "metrics": metrics})
    assert hub.apply_human_change(TASK, changed, "production moved", actor="a").version == 2
    yield a, b


def stale(b: Path) -> None:
    """Host B's folder holds the shipped version 1, as on a host that never ran a round."""
    shutil.copy(shipped_skills_dir() / TASK / "SKILL.md", b / "skills" / TASK / "SKILL.md")
    assert load_skill(b / "skills" / TASK / "SKILL.md").version == 1


def test_every_reader_on_another_host_sees_the_databases_current_skill(
    hosts: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, b = hosts

    stale(b)
    out = CliRunner().invoke(app, ["skills", "show", TASK, "-w", str(b)])
    assert out.exit_code == 0, out.output
    assert "version: 2" in out.output and "vf_w_click: 1.7" in out.output

    stale(b)
    assert collect(b, TASK).skill.version == 2

    stale(b)
    exported = export_launch(b, TASK, out_dir=b / "out")
    assert exported.evidence["skill_version"] == 2

    stale(b)
    metrics = _metrics_of(RoundReport(task=TASK, thread_id="t"), b)
    assert metrics[0].description == "edited on host A"

    stale(b)
    answers = iter(["e", "e", ""])  # edit the one candidate, then no edit: approve
    monkeypatch.setattr(builtins, "input", lambda: next(answers))
    screen = io.StringIO()
    payload = {"task": TASK, "round": 1, "candidates": [
        {"id": "c1", "delta": {"vf_w_dwell": 0.9}, "source": "test"}]}
    answer = interactive_review(payload, b, Console(file=screen, width=80))
    assert answer == {"decisions": [{"id": "c1", "action": "approve"}]}
    assert "vf_w_click = 1.7   production 1.7" in screen.getvalue()

    stale(b)
    out = CliRunner().invoke(app, ["history", TASK, "-w", str(b)])
    assert out.exit_code == 0, out.output
    assert load_skill(b / "skills" / TASK / "SKILL.md").version == 2  # refreshed by the read


def test_the_command_lines_storage_reaches_a_folder_without_the_setting(
    hosts: tuple[Path, Path], pg_url: str, tmp_path: Path
) -> None:
    c = init_workspace(tmp_path / "c").root
    out = CliRunner().invoke(app, ["skills", "show", TASK, "-w", str(c)])
    assert "version: 1" in out.output  # its own local storage
    try:
        out = CliRunner().invoke(app, ["--storage", pg_url, "skills", "show", TASK, "-w", str(c)])
        assert out.exit_code == 0, out.output
        assert "version: 2" in out.output
    finally:
        set_override(None)  # the option lasts for this process; later tests start without it


def test_status_lists_the_databases_rounds_from_any_folder_and_filters_them(
    hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = hosts
    small = {"proposals_per_round": 2, "arms_per_ab": 1, "days": 2, "seed": 1}
    handoff = f"files:{tmp_path / 'handoff'}"
    on_a = run_round(TASK, workspace=a, model=None, approve=True, wait=False, platform=handoff,
                     **small)
    on_b = run_round("diversity", workspace=b, model=None, approve=True, wait=False,
                     platform=handoff, **small)
    assert on_a.status is RoundStatus.WAITING and on_b.status is RoundStatus.WAITING
    c = sharing(tmp_path / "c", str(SkillHub.in_workspace(a, install=False).storage))

    def listed(*args: str) -> list[str]:
        out = CliRunner().invoke(app, ["status", "-w", str(c), "--json", *args])
        assert out.exit_code == 0, out.output
        return sorted(t["thread_id"] for t in json.loads(out.output))

    assert listed() == sorted([on_a.thread_id, on_b.thread_id])  # a folder that ran nothing
    assert listed("--task", "diversity") == [on_b.thread_id]
    assert listed("--task", "diversity", "-t", TASK) == sorted([on_a.thread_id, on_b.thread_id])
    assert listed("--status", "waiting", "--task", TASK) == [on_a.thread_id]
    assert listed("--status", "completed") == []
    assert listed("--task", "value_based_retrieval") == []  # a skill without rounds yet

    table = CliRunner().invoke(app, ["status", "-w", str(c), "--status", "completed"])
    assert "every host sharing it" in table.output and "No round matches." in table.output
    bad = CliRunner().invoke(app, ["status", "-w", str(c), "--task", "value_fusoin"])
    assert bad.exit_code == 2 and "value_fusoin" in bad.output and "value_fusion" in bad.output
    bad = CliRunner().invoke(app, ["status", "-w", str(c), "--status", "done"])
    assert bad.exit_code == 2 and "--status 'done' is not a round status" in bad.output
