"""The command line through typer's test runner: JSON output, messages and exit codes."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rectune import cli
from rectune.cli import USER_ERROR_EXIT, app, user_error_message

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_command() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in (
        "init",
        "run",
        "approve",
        "resume",
        "status",
        "history",
        "report",
        "skills",
        "sim",
        "bench",
        "demo",
    ):
        assert command in out


def test_init_creates_a_workspace_and_refuses_to_overwrite(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code, out, _ = invoke("init", str(ws), "--json")
    assert code == 0
    assert json.loads(out) == {
        "workspace": str(ws),
        "skills": ["diversity", "value_based_retrieval", "value_fusion"],
    }
    assert (ws / "rectune.yaml").is_file()
    code, out, err = invoke("init", str(ws))
    assert code == USER_ERROR_EXIT
    assert err.startswith("error: ") and "already holds a rectune workspace" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = invoke("init", str(tmp_path))
    assert code == USER_ERROR_EXIT
    assert "is not empty" in err
    assert not (tmp_path / "rectune.yaml").exists()


def test_read_commands_on_a_fresh_workspace_print_json(workspace: Path) -> None:
    ws = str(workspace)
    code, out, _ = invoke("status", "-w", ws, "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = invoke("history", "value_fusion", "-w", ws, "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = invoke("skills", "list", "-w", ws, "--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["name"] for r in rows] == ["diversity", "value_based_retrieval", "value_fusion"]
    assert rows[2]["primary"] == ["dwell_time"] and "vf_w_click" in rows[2]["parameters"]
    code, out, _ = invoke("skills", "show", "value_fusion", "-w", ws, "--json")
    assert code == 0 and json.loads(out)["name"] == "value_fusion"
    code, out, _ = invoke("skills", "versions", "value_fusion", "-w", ws, "--json")
    assert code == 0 and [v["version"] for v in json.loads(out)] == [1]


def test_human_read_commands_say_when_there_is_nothing(workspace: Path) -> None:
    code, out, _ = invoke("status", "-w", str(workspace))
    assert code == 0 and "No rounds yet" in out
    code, out, _ = invoke("history", "diversity", "-w", str(workspace))
    assert code == 0 and "No experiments for diversity" in out
    code, out, _ = invoke("skills", "show", "diversity", "-w", str(workspace))
    assert code == 0 and "## Domain Knowledge" in out


def test_skills_rollback_and_diff(workspace: Path) -> None:
    ws = str(workspace)
    code, out, _ = invoke("skills", "rollback", "diversity", "1", "-w", ws, "--json")
    assert code == 0 and json.loads(out) == {"skill": "diversity", "version": 2, "copy_of": 1}
    code, out, _ = invoke("skills", "diff", "diversity", "1", "2", "-w", ws)
    assert code == 0
    code, out, _ = invoke("skills", "versions", "diversity", "-w", ws, "--json")
    assert [v["version"] for v in json.loads(out)] == [1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "nosuch"], "no skill 'nosuch'"),
        (["run", "nosuch", "--yes"], "no skill 'nosuch'"),
        (["report", "nosuch"], "no skill 'nosuch'"),
        (["status", "no-such-thread"], "no round thread 'no-such-thread'"),
        (["resume", "no-such-thread"], "no round thread 'no-such-thread'"),
        (["approve"], "no round awaits approval"),
        (["run", "value_fusion", "--proposals", "0"], "proposals_per_round=0"),
        (["run", "value_fusion", "--arms", "5", "--proposals", "4"], "arms_per_ab=5"),
        (["run", "value_fusion", "--platform", "bogus"], "platform='bogus'"),
        (["run", "value_fusion", "--model", "nocolon"], "provider:model"),
        (["run", "value_fusion", "--rounds", "0"], "--rounds 0"),
        (["skills", "show", "value_fusion", "--version", "9"], "no version 9"),
        (["approve", "x", "--decisions", "{bad"], "no round thread 'x'"),
        (["run", "value_fusion", "--seed", "-5"], "seed=-5"),
        (["abort", "no-such-thread"], "no round thread 'no-such-thread'"),
        (["forget", "no-such-thread"], "no round thread 'no-such-thread'"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(
    workspace: Path, args: list[str], message: str
) -> None:
    code, out, err = invoke(*args, "-w", str(workspace))
    assert code == USER_ERROR_EXIT, (out, err)
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_option_values_are_usage_errors(workspace: Path) -> None:
    code, _, err = invoke("run", "value_fusion", "--arms", "abc", "-w", str(workspace))
    assert code == 2
    assert "--arms" in err and "Traceback" not in err


def test_a_bug_is_not_disguised_as_a_user_error() -> None:
    assert user_error_message(ZeroDivisionError("boom")) is None
    assert user_error_message(cli.UserError("bad input")) == "bad input"


def test_report_command_prints_paths_as_json(workspace: Path) -> None:
    code, out, _ = invoke("report", "value_fusion", "-w", str(workspace), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["index"] == str(workspace / "reports" / "value_fusion" / "index.html")
    assert data["plots"] == {} and data["tested"] == 0
    assert Path(data["index"]).is_file()


def test_bench_without_the_benchmark_script_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_bench_script", lambda: tmp_path / "tuning.py")
    code, _, err = invoke("bench", "--quick")
    assert code == USER_ERROR_EXIT
    assert "tuning benchmark is not available" in err


def test_bench_passes_its_arguments_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "tuning.py"
    out_file = tmp_path / "args.json"
    script.write_text(
        "import json, sys\n"
        f"open({str(out_file)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        "sys.exit(3 if '--fail' in sys.argv else 0)\n"
    )
    monkeypatch.setattr(cli, "_bench_script", lambda: script)
    code, _, _ = invoke("bench", "--quick", "--tasks", "diversity")
    assert code == 0
    assert json.loads(out_file.read_text()) == ["--quick", "--tasks", "diversity"]
    code, _, _ = invoke("bench", "--fail")
    assert code == 3


def test_help_does_not_import_heavy_modules() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from rectune.cli import app\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "heavy = [m for m in ('langgraph', 'numpy', 'chromadb', 'matplotlib', 'pandas')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["history", "value_fusion"],
        ["approve"],
        ["resume", "t"],
        ["report", "value_fusion"],
        ["skills", "list"],
        ["skills", "show", "value_fusion"],
        ["skills", "versions", "value_fusion"],
        ["skills", "diff", "value_fusion", "1"],
        ["skills", "rollback", "value_fusion", "1"],
    ],
)
def test_read_commands_refuse_a_folder_that_is_not_a_workspace(
    tmp_path: Path, args: list[str]
) -> None:
    code, _, err = invoke(*args, "-w", str(tmp_path / "nowhere"))
    assert code == USER_ERROR_EXIT
    assert "is not a rectune workspace" in err and "rectune init" in err
    assert not (tmp_path / "nowhere").exists()


def test_sim_counts_must_be_positive() -> None:
    code, _, err = invoke("sim", "aa", "--runs", "0")
    assert code == 2 and "--runs" in err and "Traceback" not in err


def _threads(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "threads").glob("*.json"))


def test_a_round_refused_before_it_starts_leaves_no_thread(workspace: Path) -> None:
    for args in (["run", "nosuch", "--yes"], ["run", "value_fusion", "--seed", "-5"],
                 ["run", "value_fusion", "--model", "nosuchprovider:model"]):
        code, _, err = invoke(*args, "-w", str(workspace))
        assert code == USER_ERROR_EXIT, err
    assert _threads(workspace) == []


def test_run_needs_a_workspace_and_never_converts_a_folder(tmp_path: Path) -> None:
    code, _, err = invoke("run", "value_fusion", "-w", str(tmp_path / "typo"))
    assert code == USER_ERROR_EXIT and "rectune init" in err
    assert not (tmp_path / "typo").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, _, err = invoke("run", "value_fusion", "-w", str(tmp_path / "mine"))
    assert code == USER_ERROR_EXIT and "not a rectune workspace" in err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_a_damaged_checkpoint_database_is_one_line_naming_it(workspace: Path) -> None:
    db = workspace / "checkpoints" / "rectune.sqlite"
    db.write_bytes(b"this is not sqlite" * 100)
    code, _, err = invoke("run", "value_fusion", "-w", str(workspace))
    assert code == USER_ERROR_EXIT, err
    assert str(db) in err and "move it away" in err and err.count("\n") == 1
    assert db.read_bytes().startswith(b"this is not sqlite")  # left for a person


def test_a_file_where_a_folder_should_be_is_one_line(workspace: Path) -> None:
    shutil.rmtree(workspace / "rendered")
    (workspace / "rendered").write_text("oops")
    code, _, err = invoke("status", "-w", str(workspace))
    assert code == USER_ERROR_EXIT and "rendered is a file" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("errno_", "hint"),
    [(30, "read-only file system"), (28, "disk is full"), (13, "no permission")],
)
def test_os_errors_are_one_line_with_the_path_and_what_to_do(errno_: int, hint: str) -> None:
    import os

    exc = OSError(errno_, os.strerror(errno_), "/ws/journal/t.json")
    message = user_error_message(exc)
    assert message is not None and "/ws/journal/t.json" in message and hint in message


def test_an_error_inside_a_started_round_says_how_to_resume(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full while the round runs: one line, the resume command, nothing lost; after
    the disk is fixed the resume completes."""
    import errno
    import os

    from rectune.memory.journal import Journal

    real = Journal.record_results
    state = {"full": True}

    def full_disk(self, task, result):  # type: ignore[no-untyped-def]
        if state["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path(task)))
        return real(self, task, result)

    monkeypatch.setattr(Journal, "record_results", full_disk)
    ws = str(workspace)
    code, _, err = invoke(
        "run", "value_fusion", "-y", "-w", ws, "--proposals", "4", "--arms", "2", "--days", "2"
    )
    assert code == USER_ERROR_EXIT, err
    assert "disk is full" in err and "rectune resume value_fusion-" in err
    thread = err.split("rectune resume ")[1].split()[0]
    code, out, _ = invoke("status", thread, "-w", ws, "--json")
    assert json.loads(out)["status"] == "interrupted"
    state["full"] = False
    code, out, err = invoke("resume", thread, "-w", ws, "--json")
    assert code == 0, err
    assert json.loads(out)[0]["status"] == "completed"


def test_invalid_decisions_exit_2_with_the_reasons(workspace: Path) -> None:
    from rectune import run_round

    rep = run_round("value_fusion", workspace=workspace, model=None, proposals_per_round=4,
                    arms_per_ab=2, days=2)
    bad = json.dumps({"decisions": [{"id": "nope", "action": "approve"}]})
    code, _, err = invoke("approve", rep.thread_id, "-w", str(workspace), "--decisions", bad)
    assert code == USER_ERROR_EXIT and "unknown candidate id 'nope'" in err


def test_version_and_completion_are_offered() -> None:
    code, out, _ = invoke("--version")
    assert code == 0 and out.startswith("rectune ")
    code, out, _ = invoke("--help")
    assert "--install-completion" in out and "--verbose" in out


def test_skills_list_shows_a_broken_skill_beside_the_good_ones(workspace: Path) -> None:
    shutil.copytree(workspace / "skills" / "diversity", workspace / "skills" / "broken")
    (workspace / "skills" / "broken" / "SKILL.md").write_text("---\nname: [oops\n---\n")
    code, out, _ = invoke("skills", "list", "-w", str(workspace), "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["broken"]["status"] == "broken" and rows["broken"]["error"]
    assert rows["value_fusion"]["status"] == "active"
    code, out, _ = invoke("skills", "list", "-w", str(workspace))
    assert code == 0 and "broken skill" in " ".join(out.split()), out


def test_decide_makes_only_the_last_round_a_decision_round(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rectune.api as api

    calls: list[dict[str, object]] = []

    def fake_round(task: str, **kwargs: object) -> api.RoundReport:
        calls.append(kwargs)
        return api.RoundReport(
            task=task, round=len(calls), status="completed", thread_id=str(kwargs["thread_id"])
        )

    monkeypatch.setattr(api, "run_round", fake_round)
    code, out, _ = invoke(
        "run", "value_fusion", "-w", str(workspace), "--rounds", "3", "--decide", "--json"
    )
    assert code == 0, out
    assert [c.get("decision_round", False) for c in calls] == [False, False, True]
    calls.clear()
    code, out, _ = invoke("run", "value_fusion", "-w", str(workspace), "--rounds", "2", "--json")
    assert code == 0, out
    assert [c.get("decision_round", False) for c in calls] == [False, False]
