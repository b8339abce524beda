"""The command line through typer's test runner: JSON output, messages and exit codes."""

from __future__ import annotations

import json
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
