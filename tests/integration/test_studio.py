"""`langgraph dev` serves the graph: run to the approval interrupt, resume, read the state."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`make studio`, exactly as the README says; its free port is read from its output."""
    import httpx

    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    env.pop("GOOGLE_API_KEY", None)
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        ["make", "-s", "studio"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if url is None:
            m = re.search(r"http://127\.0\.0\.1:(\d+)", log_path.read_text())
            url = f"http://127.0.0.1:{m.group(1)}" if m else None
        if url is not None:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail("make studio did not serve: " + log_path.read_text()[-3000:])
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def test_studio_runs_to_the_interrupt_and_resumes(server: str, tmp_path: Path) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    assistants = client.assistants.search(graph_id="rectune")
    assert assistants
    schemas = client.assistants.get_schemas(assistants[0]["assistant_id"])
    # Studio's input form and output view come from these (null with typing.TypedDict on 3.11).
    assert schemas["input_schema"] and "task" in schemas["input_schema"]["properties"]
    assert schemas["output_schema"] and "recommendation" in schemas["output_schema"]["properties"]
    assert "workspace" in schemas["context_schema"]["properties"]
    thread = client.threads.create()
    ctx = {
        "workspace": str(tmp_path / "ws"),
        "proposals_per_round": 6,
        "arms_per_ab": 3,
        "days": 3,
        "model": "offline",
    }
    from rectune.workspace import ensure_workspace

    ensure_workspace(ctx["workspace"])
    client.runs.wait(thread["thread_id"], "rectune", input={"task": "value_fusion"}, context=ctx)
    state = client.threads.get_state(thread["thread_id"])
    interrupts = [i for t in state["tasks"] for i in t.get("interrupts", [])]
    assert interrupts and interrupts[0]["value"]["kind"] == "approval"
    client.runs.wait(thread["thread_id"], "rectune", command={"resume": "approve"}, context=ctx)
    final = client.threads.get_state(thread["thread_id"])
    assert final["values"]["status"] == "completed"
    assert final["values"]["results"]["arms"]
