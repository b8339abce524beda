"""The Python API: run, resume and inspect tuning rounds.

Example:
    >>> from rectune import run_round
    >>> report = run_round("diversity", workspace="ws", approve=True)  # doctest: +SKIP
    >>> report.status  # doctest: +SKIP
    'completed'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.types import Command
from pydantic import BaseModel, Field

from rectune.agents.registry import register
from rectune.checkpoints import sqlite_checkpointer
from rectune.config import Context
from rectune.domain import Candidate, ExperimentResult, LearnedRule, RecTuneError
from rectune.domain.candidates import utcnow
from rectune.skillhub.atomic import atomic_write_text
from rectune.workspace import Workspace, ensure_workspace, load_settings

__all__ = ["RoundReport", "ThreadInfo", "resume", "run", "run_round", "status"]

Approver = Callable[[dict[str, Any]], Any]
"""Called with the approval payload; returns the answer ('approve', 'reject' or decisions)."""
EventSink = Callable[[str, dict[str, Any]], None]
"""Receives progress events: (node name or 'progress', data)."""

_AUTO = "auto"


class RoundReport(BaseModel):
    """What one round did, or where it is paused."""

    thread_id: str
    task: str
    round: int = 0
    status: str
    error: str | None = None
    pending: dict[str, Any] | None = Field(
        default=None, description="the interrupt payload when awaiting approval or waiting"
    )
    candidates: list[Candidate] = Field(default_factory=list)
    verdicts: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    experiment_id: str | None = None
    results: ExperimentResult | None = None
    elites: list[Candidate] = Field(default_factory=list)
    recommendation: dict[str, Any] | None = None
    learned_rules: list[LearnedRule] = Field(default_factory=list)
    retired_rules: list[str] = Field(default_factory=list)
    token_usage: dict[str, int] = Field(default_factory=dict)


class ThreadInfo(BaseModel):
    """A round's thread as listed by `status()`."""

    thread_id: str
    task: str
    status: str
    round: int = 0
    created_at: str = ""


def _thread_dir(workspace: str | Path) -> Path:
    return Path(workspace) / "threads"


def _save_thread(ctx: Context, thread_id: str, task: str) -> None:
    record = {
        "thread_id": thread_id,
        "task": task,
        "created_at": utcnow().isoformat(),
        "context": asdict(ctx),
    }
    path = _thread_dir(ctx.workspace) / f"{thread_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2))


def _load_thread(workspace: str | Path, thread_id: str) -> dict[str, Any]:
    path = _thread_dir(workspace) / f"{thread_id}.json"
    if not path.exists():
        known = sorted(p.stem for p in _thread_dir(workspace).glob("*.json"))
        raise RecTuneError(
            f"no round thread {thread_id!r} in workspace {str(workspace)!r}; known: {known[-10:]}"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _make_context(
    workspace: str | Path, model: Any, platform: Any, approve: Any, options: dict[str, Any]
) -> Context:
    known = {f.name for f in fields(Context)}
    bad = sorted(set(options) - known)
    if bad:
        raise RecTuneError(f"unknown option(s) {bad}; allowed: {sorted(known)}")
    settings = load_settings(workspace)
    bad = sorted(set(settings) - known)
    if bad:
        raise RecTuneError(
            f"{Workspace(workspace).settings}: unknown setting(s) {bad}; allowed: {sorted(known)}"
        )
    kwargs = {**settings, **options}
    kwargs["workspace"] = str(workspace)
    if model is None:
        kwargs["model"] = "offline"
    elif isinstance(model, BaseChatModel):
        kwargs["model"] = register(model, "model")
    elif model != _AUTO:
        kwargs["model"] = str(model)
    if platform is not None:
        kwargs["platform"] = (
            platform if isinstance(platform, str) else register(platform, "platform")
        )
    if approve is True:
        kwargs["approval_mode"] = "auto"
    return Context(**kwargs)


@contextmanager
def _graph(workspace: str | Path, checkpointer: Any) -> Iterator[Any]:
    from rectune.graph import compile_graph

    if checkpointer is not None:
        yield compile_graph(checkpointer)
        return
    saver = sqlite_checkpointer(workspace)
    try:
        yield compile_graph(saver)
    finally:
        saver.conn.close()


def _drive(
    graph: Any,
    first: Any,
    config: dict[str, Any],
    ctx: Context,
    approve: Any,
    wait: bool,
    on_event: EventSink | None,
) -> None:
    payload: Any = first
    while True:
        for mode, chunk in graph.stream(
            payload, config, context=ctx, stream_mode=["updates", "custom"], durability="sync"
        ):
            if on_event is None:
                continue
            if mode == "custom":
                on_event("progress", chunk)
            elif isinstance(chunk, dict):
                for node, update in chunk.items():
                    if node != "__interrupt__":
                        on_event(node, update if isinstance(update, dict) else {})
        snap = graph.get_state(config)
        if not snap.interrupts:
            return
        pending = snap.interrupts[0].value
        kind = pending.get("kind") if isinstance(pending, dict) else None
        if kind == "approval" and callable(approve):
            payload = Command(resume=approve(pending))
        elif kind == "waiting" and wait:
            payload = Command(resume="poll")
        else:
            return


def _report(graph: Any, config: dict[str, Any], thread_id: str) -> RoundReport:
    snap = graph.get_state(config)
    v = dict(snap.values)
    pending = snap.interrupts[0].value if snap.interrupts else None
    status = v.get("status", "running")
    if isinstance(pending, dict):
        status = "awaiting_approval" if pending.get("kind") == "approval" else "waiting"
    elif snap.next and status not in {"failed", "rejected"}:
        status = "interrupted"
    return RoundReport(
        thread_id=thread_id,
        task=v.get("task", ""),
        round=v.get("round", 0),
        status=status,
        error=v.get("error"),
        pending=pending if isinstance(pending, dict) else None,
        candidates=[Candidate.model_validate(c) for c in v.get("candidates", [])],
        verdicts=v.get("verdicts", []),
        decisions=v.get("decisions", []),
        experiment_id=v.get("experiment_id"),
        results=ExperimentResult.model_validate(v["results"]) if v.get("results") else None,
        elites=[Candidate.model_validate(c) for c in v.get("elites", [])],
        recommendation=v.get("recommendation"),
        learned_rules=[LearnedRule.model_validate(r) for r in v.get("learned_rules", [])],
        retired_rules=v.get("retired_rules", []),
        token_usage=v.get("token_usage", {}),
    )


def run_round(
    task: str,
    *,
    workspace: str | Path = ".",
    model: str | BaseChatModel | None = _AUTO,
    approve: bool | Approver = False,
    platform: Any = None,
    wait: bool = True,
    thread_id: str | None = None,
    checkpointer: Any = None,
    on_event: EventSink | None = None,
    **options: Any,
) -> RoundReport:
    """Run one tuning round end to end (or until it pauses).

    Args:
        task: The skill to tune, e.g. ``"value_fusion"``.
        workspace: Workspace directory; created with the shipped skills if missing.
        model: ``"provider:model"``, a ``BaseChatModel``, None for the offline engine, or
            ``"auto"`` (the default: ``RECTUNE_MODEL``, else Gemini when ``GOOGLE_API_KEY`` is
            set, else offline).
        approve: False stops at the approval interrupt (resume later with `resume`); True
            approves what the Critic keeps (explicit opt-in); a callable answers the payload.
        platform: None for the Context's platform (``"sim"``), ``"files:DIR"``, or an object
            implementing the A/B platform protocol.
        wait: Keep polling while the platform reports the test still running; False returns
            with status ``"waiting"`` instead.
        thread_id: Checkpoint thread; a new one by default.
        checkpointer: A LangGraph checkpointer; the workspace's SQLite database by default.
        on_event: Receives progress events.
        **options: Any other `Context` field (``proposals_per_round``, ``arms_per_ab``,
            ``steering``, ``seed``, ...).

    Returns:
        The round's report; ``status`` is ``completed``, ``rejected``, ``failed``,
        ``awaiting_approval`` or ``waiting``.
    """
    ensure_workspace(workspace)
    ctx = _make_context(workspace, model, platform, approve, options)
    thread_id = thread_id or f"{task}-{uuid.uuid4().hex[:10]}"
    _save_thread(ctx, thread_id, task)
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
    first: dict[str, Any] = {"task": task}
    if ctx.steering:
        first["steering"] = ctx.steering
    with _graph(ctx.workspace, checkpointer) as graph:
        _drive(graph, first, config, ctx, approve, wait, on_event)
        return _report(graph, config, thread_id)


def run(task: str, *, rounds: int = 1, **kwargs: Any) -> list[RoundReport]:
    """Run several rounds in a row; stops early when a round does not complete."""
    if rounds < 1:
        raise RecTuneError(f"rounds={rounds}: must be an integer >= 1")
    reports: list[RoundReport] = []
    for _ in range(rounds):
        report = run_round(task, **kwargs)
        reports.append(report)
        if report.status != "completed":
            break
    return reports


def resume(
    thread_id: str,
    decision: Any = None,
    *,
    workspace: str | Path = ".",
    model: str | BaseChatModel | None = _AUTO,
    platform: Any = None,
    approve: bool | Approver = False,
    wait: bool = True,
    checkpointer: Any = None,
    on_event: EventSink | None = None,
) -> RoundReport:
    """Continue a paused or interrupted round from its checkpoint.

    Args:
        thread_id: The round's thread (see `status`).
        decision: The approval answer when the round awaits approval: ``"approve"``,
            ``"reject"`` or ``{"decisions": [...]}``.
        workspace: The workspace the round was started in.
        model: Override the model (needed when the round was started with an instance).
        platform: Override the platform (needed when it was started with an instance).
        approve: As in `run_round`, for approvals that come up after resuming.
        wait: As in `run_round`.
        checkpointer: As in `run_round`.
        on_event: As in `run_round`.
    """
    record = _load_thread(workspace, thread_id)
    saved = dict(record["context"])
    saved["workspace"] = str(workspace)
    if model != _AUTO:
        saved.pop("model", None)
    if platform is not None:
        saved.pop("platform", None)
    ctx = _make_context(workspace, model, platform, False, saved)
    if model == _AUTO and str(saved.get("model", "")).startswith("instance:"):
        ctx.model = saved["model"]
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
    with _graph(ctx.workspace, checkpointer) as graph:
        snap = graph.get_state(config)
        if not snap.values:
            raise RecTuneError(f"round thread {thread_id!r} has no checkpoint to resume")
        pending = snap.interrupts[0].value if snap.interrupts else None
        first: Any
        if isinstance(pending, dict) and pending.get("kind") == "approval":
            if decision is None and not callable(approve):
                if approve is True:
                    decision = "approve"
                else:
                    return _report(graph, config, thread_id)
            first = Command(resume=decision if decision is not None else approve(pending))  # type: ignore[operator]
        elif isinstance(pending, dict):
            first = Command(resume="poll")
        elif snap.next:
            first = None
        else:
            return _report(graph, config, thread_id)
        _drive(graph, first, config, ctx, approve, wait, on_event)
        return _report(graph, config, thread_id)


def status(
    thread_id: str | None = None, *, workspace: str | Path = ".", checkpointer: Any = None
) -> RoundReport | list[ThreadInfo]:
    """One round's report, or (without `thread_id`) every round thread of the workspace."""
    if thread_id is not None:
        _load_thread(workspace, thread_id)
        with _graph(workspace, checkpointer) as graph:
            return _report(graph, {"configurable": {"thread_id": thread_id}}, thread_id)
    infos: list[ThreadInfo] = []
    paths = sorted(_thread_dir(workspace).glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not paths:
        return infos
    with _graph(workspace, checkpointer) as graph:
        for path in paths:
            rec = json.loads(path.read_text())
            rep = _report(
                graph, {"configurable": {"thread_id": rec["thread_id"]}}, rec["thread_id"]
            )
            infos.append(
                ThreadInfo(
                    thread_id=rec["thread_id"],
                    task=rec["task"],
                    status=rep.status,
                    round=rep.round,
                    created_at=rec.get("created_at", ""),
                )
            )
    return infos
