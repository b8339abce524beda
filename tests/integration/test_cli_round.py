"""Real rounds through the command line on the simulator (offline engine, small scale)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rectune.cli import app
from rectune.report import HEIGHT_PX, WIDTH_PX

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SMALL = ["--proposals", "6", "--arms", "3", "--days", "3", "--model", "offline"]
runner = CliRunner()


def small_workspace(root: Path) -> Path:
    """A workspace whose Critic accepts the engine's cold-start proposals.

    On an empty journal the surrogate's guardrail-breach estimate is wide; a looser risk limit
    keeps these small tests about the interface rather than about the Critic's caution.
    """
    ws = root / "ws"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    with (ws / "rectune.yaml").open("a") as fh:
        fh.write("risk_threshold: 0.9\n")
    return ws


def invoke_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def test_run_yes_json_then_read_commands_and_report(tmp_path: Path) -> None:
    ws = str(small_workspace(tmp_path))
    reports = invoke_json("run", "value_fusion", "-w", ws, "--yes", *SMALL)
    assert isinstance(reports, list) and len(reports) == 1
    rep = reports[0]
    assert rep["status"] == "completed", rep.get("error")
    assert rep["results"]["arms"], "the A/B test reported no arm"

    threads = invoke_json("status", "-w", ws)
    assert isinstance(threads, list)
    assert [(t["thread_id"], t["status"]) for t in threads] == [(rep["thread_id"], "completed")]
    one = invoke_json("status", rep["thread_id"], "-w", ws)
    assert isinstance(one, dict) and one["round"] == 1

    history = invoke_json("history", "value_fusion", "-w", ws)
    assert isinstance(history, list)
    tested = [c for c in history if c["result"] is not None]
    assert len(tested) == len(rep["results"]["arms"])

    files = invoke_json("report", "value_fusion", "-w", ws)
    assert isinstance(files, dict)
    html = Path(files["index"]).read_text()
    for png in files["plots"].values():
        assert f'src="{Path(png).name}"' in html
        head = Path(png).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(head[16:20], "big") == WIDTH_PX
        assert int.from_bytes(head[20:24], "big") == HEIGHT_PX


def test_run_without_yes_stops_at_the_approval_and_says_how_to_continue(tmp_path: Path) -> None:
    ws = str(small_workspace(tmp_path))
    result = runner.invoke(app, ["run", "value_fusion", "-w", ws, *SMALL])
    assert result.exit_code == 0, result.stderr
    assert "awaiting_approval" in result.stdout
    assert "rectune approve" in result.stdout

    threads = invoke_json("status", "-w", ws)
    assert isinstance(threads, list)
    thread = threads[0]["thread_id"]
    assert threads[0]["status"] == "awaiting_approval"

    bad = runner.invoke(app, ["approve", thread, "-w", ws, "--decisions", "{not json"])
    assert bad.exit_code == 2 and "not valid JSON" in bad.stderr

    pending = invoke_json("status", thread, "-w", ws)
    assert isinstance(pending, dict)
    first = pending["pending"]["candidates"][0]["id"]
    answer = json.dumps({"decisions": [{"id": first, "action": "approve"}]})
    reports = invoke_json("approve", thread, "-w", ws, "--decisions", answer)
    assert isinstance(reports, list) and len(reports) == 1  # one shape for run/approve/resume
    final = reports[0]
    assert final["status"] == "completed", final.get("error")
    assert [a["candidate_id"] for a in final["results"]["arms"]] == [first]


def test_rounds_option_runs_several_rounds(tmp_path: Path) -> None:
    ws = str(small_workspace(tmp_path))
    reports = invoke_json("run", "diversity", "-w", ws, "--yes", "--rounds", "2", *SMALL)
    assert isinstance(reports, list)
    assert [r["round"] for r in reports] == [1, 2]
    assert all(r["status"] == "completed" for r in reports)
