"""The interactive approval in a real terminal (pexpect drives `rectune approve`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

pytestmark = [pytest.mark.slow, pytest.mark.integration]

RECTUNE = str(Path(sys.executable).parent / "rectune")
ANSI = r"(?:\x1b\[[0-9;]*m)*"
"""Rich still emphasises numbers with bold when colours are off; matches may skip it."""
SMALL = ["--proposals", "6", "--arms", "3", "--days", "3", "--model", "offline"]


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "xterm", "COLUMNS": "200"}
    env.pop("GOOGLE_API_KEY", None)
    return env


def test_interactive_edit_refuses_a_bad_value_at_once_then_the_round_completes(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    env = _env()
    subprocess.run([RECTUNE, "init", str(ws)], check=True, env=env, capture_output=True)
    with (ws / "rectune.yaml").open("a") as fh:
        fh.write("risk_threshold: 0.9\n")  # see test_cli_round.small_workspace
    first = subprocess.run(
        [RECTUNE, "run", "value_fusion", "-w", str(ws), *SMALL],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    assert "rectune approve" in first.stdout

    child = pexpect.spawn(
        RECTUNE,
        ["approve", "-w", str(ws)],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(60, 200),
    )
    log = tmp_path / "approve.log"
    child.logfile_read = log.open("w")
    try:
        child.expect(r"\[e\]dit then approve")
        child.sendline("e")
        child.expect(r"#1 (\S+): \[a\]pprove, \[e\]dit, \[r\]eject")
        edited = child.match.group(1)
        child.sendline("e")
        child.expect("parameter=value")
        child.sendline("vf_w_click=99")
        # Refused before anything else is asked: the error, then the same prompt again.
        child.expect("vf_w_click")
        child.expect("not allowed")
        child.expect("parameter=value")
        child.sendline("vf_w_click=nonsense")
        child.expect("not allowed")
        child.expect("parameter=value")
        child.sendline("vf_w_click=1.25")
        child.expect(rf"ok vf_w_click = {ANSI}1\.25")
        child.expect("parameter=value")
        child.sendline("")
        while True:
            idx = child.expect(
                [r"#\d+ \S+: \[a\]pprove", rf"round {ANSI}1{ANSI}: completed", pexpect.EOF]
            )
            if idx == 0:
                child.sendline("a")
            else:
                break
        assert idx == 1, "the round did not complete"
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, log.read_text()[-3000:]

    status = subprocess.run(
        [RECTUNE, "status", "-w", str(ws), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    thread = json.loads(status.stdout)[0]
    assert thread["status"] == "completed"
    history = subprocess.run(
        [RECTUNE, "history", "value_fusion", "-w", str(ws), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    cands = {c["id"]: c for c in json.loads(history.stdout)}
    assert cands[edited]["config"]["vf_w_click"] == 1.25
    assert cands[edited]["result"] is not None
