"""The interactive approval in a real 80-column terminal (pexpect drives `rectune approve`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

pytestmark = [pytest.mark.integration]

RECTUNE = str(Path(sys.executable).parent / "rectune")
ANSI = r"(?:\x1b\[[0-9;]*m)*"
"""Rich still emphasises some text with bold when colours are off; matches may skip it."""
SMALL = ["--proposals", "6", "--arms", "2", "--days", "3", "--model", "offline"]


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "xterm", "COLUMNS": "80"}
    env.pop("GOOGLE_API_KEY", None)
    return env


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RECTUNE, *args], env=env, capture_output=True, text=True, timeout=600)


def _spawn(ws: Path, env: dict[str, str], log: Path) -> object:
    child = pexpect.spawn(
        RECTUNE, ["approve", "-w", str(ws)], env=env, encoding="utf-8", timeout=120,
        dimensions=(50, 80),
    )
    child.logfile_read = log.open("w")
    return child


def test_the_review_warns_lists_drops_refuses_enter_and_launches_an_added_arm(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    env = _env()
    assert _cli("init", str(ws), env=env).returncode == 0
    first = _cli("run", "value_fusion", "-w", str(ws), "-y", *SMALL, env=env)
    assert first.returncode == 0, first.stderr
    # With evidence and a strict risk limit the Critic drops proposals for their risk.
    second = _cli("run", "value_fusion", "-w", str(ws), "--risk-threshold", "0.05", *SMALL,
                  env=env)
    assert second.returncode == 0, second.stderr
    log = tmp_path / "approve.log"
    child = _spawn(ws, env, log)
    try:
        child.expect("Dropped by the Critic")
        child.expect(
            rf"\){ANSI}: (ranked\s+below|predicted\s+guardrail-breach|outside|repeats)"
        )
        child.expect("UNDERPOWERED")
        child.expect("your choice:")
        child.sendline("")  # Enter alone decides nothing
        child.expect("there is no default")
        child.sendline("n")
        child.expect("new arm 1: parameter=value")
        child.sendline("vf_w_clik=1.5")
        child.expect("did you mean vf_w_click")
        child.sendline("vf_w_click=3.5")
        child.expect(rf"ok vf_w_click = {ANSI}3\.5")
        child.expect("outside its soft bounds")
        child.expect(r"next\s+round's\s+Critic\s+will\s+drop")
        child.sendline("")
        child.expect("why test it")
        child.sendline("a bold click weight, on purpose")
        child.expect(r"add another arm\? \[y/n\]")
        child.sendline("n")
        child.expect("also approve proposed candidates")
        child.sendline("1")
        child.expect(rf"round {ANSI}2{ANSI}: completed")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, log.read_text()[-3000:]
    history = _cli("history", "value_fusion", "-w", str(ws), "--json", env=env)
    cands = {c["id"]: c for c in json.loads(history.stdout)}
    mine = cands["value_fusion-r2-h1"]
    # Launched and measured (the platform may stop a bold arm early for a guardrail).
    assert mine["source"] == "human" and mine["status"] in ("completed", "aborted")
    assert mine["experiment_id"] and mine["result"] is not None
    assert mine["config"]["vf_w_click"] == 3.5 and "soft_bounds" in mine["checks"]
    assert mine["hypothesis"] == "a bold click weight, on purpose"
    launched = [c for c in cands.values() if c["round"] == 2 and c["experiment_id"]]
    assert len(launched) == 2  # the added arm and the one proposed candidate picked
    for line in log.read_text().splitlines():
        shown = re.sub(r"\x1b\[[?0-9;]*[A-Za-z]", "", line).rstrip("\r")
        assert len(shown) <= 80, shown


def test_editing_refuses_a_bad_value_at_once_then_the_round_completes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = _env()
    assert _cli("init", str(ws), env=env).returncode == 0
    first = _cli("run", "value_fusion", "-w", str(ws), *SMALL, env=env)
    assert first.returncode == 0, first.stderr
    assert "rectune approve" in first.stdout
    log = tmp_path / "approve.log"
    child = _spawn(ws, env, log)
    try:
        child.expect("your choice:")
        child.sendline("e")
        child.expect(r"#1 (\S+): \[a\]pprove, \[e\]dit, \[r\]eject")
        edited = child.match.group(1)
        child.sendline("e")
        child.expect("production")  # the values now and in production are shown first
        child.expect("parameter=value")
        child.sendline("vf_w_click=99")
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
    history = _cli("history", "value_fusion", "-w", str(ws), "--json", env=env)
    cands = {c["id"]: c for c in json.loads(history.stdout)}
    assert cands[edited]["config"]["vf_w_click"] == 1.25
    assert cands[edited]["edited"] and cands[edited]["hypothesis"].startswith("[edited")
    assert cands[edited]["result"] is not None
