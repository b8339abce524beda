"""Ctrl-C during the A/B days: the CLI exits at once with the thread and the resume command,
and the round resumes to completion - twenty times over."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECTUNE = [sys.executable, "-m", "rectune.cli"]
TRIES = 20
PROMPT_EXIT = 60.0  # generous: this only catches a hang, it is not a speed target


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RECTUNE, *args], capture_output=True, text=True, env=env, timeout=600)


def test_ctrl_c_during_the_ab_days_then_resume(workspace: Path, tmp_path: Path) -> None:
    env = {**os.environ, "RECTUNE_POLL_DAYS": "1", "COLUMNS": "80"}
    experiments = workspace / "platform" / "experiments"
    rng = random.Random(15)
    for attempt in range(TRIES):
        before = set(experiments.glob("*.json")) if experiments.exists() else set()
        proc = subprocess.Popen(
            [*RECTUNE, "run", "value_fusion", "-y", "-w", str(workspace), "--proposals", "4",
             "--arms", "2", "--days", "4", "--seed", str(attempt)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if experiments.exists() and set(experiments.glob("*.json")) - before:
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"attempt {attempt}: finished before its A/B test started"
        time.sleep(rng.uniform(0.0, 2.0))
        proc.send_signal(signal.SIGINT)
        sent = time.time()
        try:
            _, err = proc.communicate(timeout=PROMPT_EXIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"attempt {attempt}: no exit {PROMPT_EXIT:g}s after Ctrl-C")
        waited = time.time() - sent
        if proc.returncode == 0:
            continue  # the round had already finished when the signal arrived
        assert proc.returncode == 130, (attempt, proc.returncode, err[-2000:])
        m = re.search(r"continue it with: rectune resume (\S+) --workspace (\S+)", err)
        assert m, (attempt, err[-2000:])
        assert "Traceback" not in err, err[-3000:]
        thread = m.group(1)
        done = _cli("resume", thread, "-w", str(workspace), "--json", env=env)
        assert done.returncode == 0, (attempt, done.stderr[-2000:])
        assert [r["status"] for r in json.loads(done.stdout)] == ["completed"], attempt
        assert waited < PROMPT_EXIT
    shutil.rmtree(tmp_path, ignore_errors=True)
