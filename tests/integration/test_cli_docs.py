"""Every command of docs/cli.md runs, in order, in a fresh folder, with the documented exit code."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
RECTUNE = str(Path(sys.executable).parent / "rectune")
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
EXIT = re.compile(r"#\s*exit\s+(\d+)")


def doc_commands() -> list[tuple[str, int]]:
    """(command line, expected exit code) for every `rectune` line of the bash blocks."""
    out: list[tuple[str, int]] = []
    for block in BASH_BLOCK.findall(DOC.read_text()):
        for line in block.splitlines():
            if line.strip().startswith("rectune "):
                m = EXIT.search(line)
                out.append((line.strip(), int(m.group(1)) if m else 0))
    return out


def _latest_thread(cwd: Path, env: dict[str, str]) -> str:
    res = subprocess.run(
        [RECTUNE, "status", "-w", "ws", "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    threads = json.loads(res.stdout)
    assert threads, "a THREAD example needs a round before it"
    return str(threads[-1]["thread_id"])


def test_the_doc_has_examples_for_every_command() -> None:
    firsts = {" ".join(shlex.split(c, comments=True)[1:2]) for c, _ in doc_commands()}
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
        "demo",
        "abort",
        "forget",
        "reindex",
    ):
        assert command in firsts, f"docs/cli.md has no runnable example of `rectune {command}`"


def test_every_documented_command_runs(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    for var in ("GOOGLE_API_KEY", "RECTUNE_MODEL", "RECTUNE_WORKSPACE"):
        env.pop(var, None)
    for line, expected in doc_commands():
        if "THREAD" in line:
            line = line.replace("THREAD", _latest_thread(tmp_path, env))
        argv = shlex.split(line, comments=True)
        res = subprocess.run(
            [RECTUNE, *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            # The interactive review reads its answer from stdin: approve everything.
            input="a\n",
            timeout=600,
        )
        assert res.returncode == expected, f"{line}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
        if expected:
            assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr
        if argv[1:3] == ["init", "ws"] and expected == 0:
            # See test_cli_round.small_workspace: a looser cold-start risk limit for tiny runs.
            with (tmp_path / "ws" / "rectune.yaml").open("a") as fh:
                fh.write("risk_threshold: 0.9\n")
