"""A process killed around the launch resumes from the SQLite checkpoint in a new process
without creating a second experiment."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rectune import resume, run_round

pytestmark = pytest.mark.integration

FAST = {"proposals_per_round": 6, "arms_per_ab": 3, "days": 3}

# The child approves the round and kills itself with SIGKILL either just before the platform
# launch or just after it returns, leaving only what the checkpointer and platform persisted.
CHILD = textwrap.dedent("""
    import os, signal, sys
    import rectune.agents.online as online

    ws, thread, when = sys.argv[1], sys.argv[2], sys.argv[3]
    real = online.platform_tools

    def killing_tools(platform):
        tools = real(platform)
        launch = tools["launch_experiment"]

        class Wrapped:
            def invoke(self, args):
                if when == "before":
                    os.kill(os.getpid(), signal.SIGKILL)
                out = launch.invoke(args)
                if when == "after":
                    os.kill(os.getpid(), signal.SIGKILL)
                return out

        tools["launch_experiment"] = Wrapped()
        return tools

    online.platform_tools = killing_tools
    from rectune import resume
    resume(thread, "approve", workspace=ws)
    print("survived")
""")


def _experiments(ws: Path) -> list[str]:
    from rectune.tools.simulated import SimulatedABPlatform

    return SimulatedABPlatform(state_dir=ws / "platform").list_experiments()


@pytest.mark.parametrize("when", ["before", "after"])
def test_killed_process_resumes_without_second_experiment(workspace: Path, when: str) -> None:
    rep = run_round("value_fusion", workspace=workspace, model=None, **FAST)
    assert rep.status == "awaiting_approval"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(workspace), rep.thread_id, when],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    assert "survived" not in child.stdout
    before = _experiments(workspace)
    assert len(before) == (1 if when == "after" else 0)

    final = resume(rep.thread_id, workspace=workspace)
    assert final.status == "completed", final.error
    after = _experiments(workspace)
    assert len(after) == 1
    if before:
        assert after == before
    json.dumps(final.model_dump(mode="json"))
