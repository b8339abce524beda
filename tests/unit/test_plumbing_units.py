"""Small guarantees of the round's plumbing: retries, layering, workspace guidance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.exceptions import ModelAuthenticationError, ModelRateLimitError
from langchain_core.runnables import RunnableLambda

from rectune.agents.models import with_retry


def _failing(exc: Exception) -> tuple[Any, dict[str, int]]:
    calls = {"n": 0}

    def fail(_: Any) -> Any:
        calls["n"] += 1
        raise exc

    return RunnableLambda(fail), calls


def test_model_calls_retry_transient_errors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)  # the jittered back-off
    flaky, calls = _failing(ModelRateLimitError("429"))
    with pytest.raises(ModelRateLimitError):
        with_retry(flaky).invoke("x")
    assert calls["n"] == 3
    denied, calls = _failing(ModelAuthenticationError("bad key"))
    with pytest.raises(ModelAuthenticationError):
        with_retry(denied).invoke("x")
    assert calls["n"] == 1  # the same request would fail again


def test_the_file_handoff_does_not_load_the_simulator() -> None:
    code = (
        "import sys, rectune.tools.files, rectune.ports, rectune.graph;"
        "print(sorted(m for m in sys.modules if m.startswith('rectune.simulator')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_graph_run_outside_a_workspace_says_which_setting_to_change(tmp_path: Path) -> None:
    from rectune.checkpoints import memory_checkpointer
    from rectune.config import Context
    from rectune.graph import compile_graph
    from rectune.workspace import WorkspaceError

    graph = compile_graph(memory_checkpointer())
    with pytest.raises(WorkspaceError, match="set the run's `workspace` setting"):
        graph.invoke(
            {"task": "value_fusion"},
            {"configurable": {"thread_id": "t"}},
            context=Context(workspace=str(tmp_path), model="offline"),
        )
