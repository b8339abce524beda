"""`langgraph dev` serves the graph: run to the approval interrupt, resume, read the state."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = _free_port()
    exe = Path(sys.executable).parent / "langgraph"
    env = {**os.environ, "LANGGRAPH_NO_BROWSER": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("GOOGLE_API_KEY", None)
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(exe),
            "dev",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--no-browser",
            "--no-reload",
            "--config",
            str(ROOT / "langgraph.json"),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    import httpx

    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("langgraph dev did not start: " + (tmp_path / "server.log").read_text()[-3000:])
    if proc.poll() is not None:
        pytest.fail("langgraph dev exited: " + (tmp_path / "server.log").read_text()[-3000:])
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_studio_runs_to_the_interrupt_and_resumes(server: str, tmp_path: Path) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    assistants = client.assistants.search(graph_id="rectune")
    assert assistants
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
