"""The Python API: run, resume, inspect, abort and forget tuning rounds.

Example:
    >>> from rectune import run_round
    >>> report = run_round("diversity", workspace="ws", approve=True)  # doctest: +SKIP
    >>> report.status  # doctest: +SKIP
    'completed'

A round is one LangGraph thread, checkpointed in the workspace's SQLite database, in Postgres
with ``storage="postgresql://..."`` (then any process that shares the URL, in any folder or on
any host, can resume it), or in any checkpointer passed in. It may pause twice: at the
approval (``awaiting_approval``) and while the A/B test runs (``waiting``); `resume`
continues it from its checkpoint, in this process or another one. A process stopped in the
middle of a step (Ctrl-C, a crash) leaves the round ``interrupted``, and `resume` finishes
that step.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.types import Command
from pydantic import BaseModel, Field

from rectune.config import ROLES, Context
from rectune.domain import RecTuneError, RoundStatus
from rectune.durable import sweep_stale_temp_files
from rectune.ports.instances import register
from rectune.round.codec import RoundResult, decode
from rectune.storage import open_checkpointer, open_journal, resolve_storage, round_lease
from rectune.threads import Closed, ThreadRecord, ThreadStore
from rectune.workspace import Workspace, ensure_workspace, load_settings

__all__ = [
    "RoundInterrupted",
    "RoundReport",
    "ThreadInfo",
    "abort",
    "forget",
    "history_frame",
    "new_thread_id",
    "resume",
    "run",
    "run_round",
    "status",
]

log = logging.getLogger(__name__)

Approver = Callable[[dict[str, Any]], Any]
"""Called with the approval payload; returns the answer ('approve', 'reject' or decisions)."""
EventSink = Callable[[str, dict[str, Any]], None]
"""Receives progress events: (node name, 'progress' or 'waiting', data)."""

_AUTO = "auto"
HANDOFF_POLL_SECONDS = 60.0
"""Default pause between polls of a file hand-off while the caller waits."""


class RoundReport(RoundResult):
    """What one round did, or where it is paused (the graph's output, typed, plus the
    thread and the pending interrupt).

    `status` is one of: ``completed``, ``rejected``, ``failed``, ``aborted`` (final);
    ``awaiting_approval`` (a person must decide: `rectune approve`), ``waiting`` (the A/B test
    runs: `rectune resume` later), ``interrupted`` (stopped inside a step: `rectune resume`),
    ``running`` (only while the graph is being driven).
    """

    thread_id: str
    pending: dict[str, Any] | None = Field(
        default=None, description="the interrupt payload when awaiting approval or waiting"
    )

    @property
    def resume_command(self) -> str:
        """The shell command that continues this round (for messages)."""
        return f"rectune resume {self.thread_id}"


class ThreadInfo(BaseModel):
    """A round's thread as listed by `status()`."""

    thread_id: str
    task: str
    status: RoundStatus
    round: int = 0
    created_at: str = ""


class RoundInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a round; it keeps its last checkpoint and can be resumed."""

    def __init__(self, thread_id: str, workspace: str | Path) -> None:
        self.thread_id = thread_id
        self.workspace = str(workspace)
        super().__init__(
            f"round {thread_id} interrupted; continue it with: rectune resume {thread_id} "
            f"--workspace {self.workspace}"
        )


def new_thread_id(task: str) -> str:
    """A fresh thread id for a round of `task`."""
    return f"{task}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------ settings


def _platform_setting(ws: Workspace, platform: str) -> str:
    """``files:DIR`` anchored to the workspace, so a resume from elsewhere finds the same folder."""
    if not platform.startswith("files:"):
        return platform
    folder = ws.resolve(platform.removeprefix("files:"))
    return f"files:{ws.relative(folder)}"


def _make_context(
    workspace: str | Path, model: Any, platform: Any, approve: Any, options: dict[str, Any]
) -> Context:
    known = {f.name for f in fields(Context)}
    bad = sorted(set(options) - known)
    if bad:
        raise RecTuneError(f"unknown option(s) {bad}; allowed: {sorted(known)}")
    ws = Workspace(workspace)
    settings = load_settings(workspace)
    bad = sorted(set(settings) - known)
    if bad:
        raise RecTuneError(f"{ws.settings}: unknown setting(s) {bad}; allowed: {sorted(known)}")
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
    ctx = Context(**kwargs)
    ctx.platform = _platform_setting(ws, ctx.platform)
    return ctx


def _check_models(ctx: Context) -> None:
    """Create every configured model once, so a bad spec or a missing key fails before the
    round starts (and leaves no thread behind)."""
    from rectune.agents.runtime import chat_model

    for role in ROLES:
        chat_model(ctx, role)


def _poll_seconds(ctx: Context) -> float:
    if ctx.poll_interval is not None:
        return ctx.poll_interval
    return HANDOFF_POLL_SECONDS if ctx.platform.startswith("files:") else 0.0


# ------------------------------------------------------------------ driving the graph


@contextmanager
def _graph(workspace: str | Path, checkpointer: Any, storage: str) -> Iterator[Any]:
    from rectune.graph import compile_graph

    if checkpointer is not None:
        yield compile_graph(checkpointer)
        return
    with open_checkpointer(workspace, storage) as saver:
        yield compile_graph(saver)


def _drive(
    graph: Any,
    first: Any,
    config: dict[str, Any],
    ctx: Context,
    approve: Any,
    wait: bool,
    on_event: EventSink | None,
) -> None:
    thread_id = config["configurable"]["thread_id"]
    payload: Any = first
    try:
        while True:
            for mode, chunk in graph.stream(
                payload, config, context=ctx, stream_mode=["updates", "custom"],
                durability="sync",
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
                pause = _poll_seconds(ctx)
                if on_event is not None:
                    on_event("waiting", {**pending, "next_poll_seconds": pause,
                                         "thread_id": thread_id})
                if pause:
                    time.sleep(pause)
                payload = Command(resume="poll")
            else:
                return
    except KeyboardInterrupt:
        raise RoundInterrupted(thread_id, ctx.workspace) from None


def _report(
    graph: Any, config: dict[str, Any], thread_id: str, closed: Closed | None = None
) -> RoundReport:
    snap = graph.get_state(config)
    data = decode(snap.values)
    pending = snap.interrupts[0].value if snap.interrupts else None
    status = data.status
    if closed is not None:
        status = closed.status
        pending = None
    elif isinstance(pending, dict):
        kind = pending.get("kind")
        status = RoundStatus.AWAITING_APPROVAL if kind == "approval" else RoundStatus.WAITING
    elif snap.tasks or (snap.next and not status.is_final):
        status = RoundStatus.INTERRUPTED
    fields_ = {k: getattr(data, k) for k in RoundResult.model_fields if k != "status"}
    return RoundReport(
        thread_id=thread_id,
        status=status,
        pending=pending if isinstance(pending, dict) else None,
        **fields_,
    )


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


# ------------------------------------------------------------------ the API


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
    storage: str | None = None,
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
        platform: None for the Context's platform (``"sim"``), ``"files:DIR"`` (a relative
            DIR is inside the workspace), or an object implementing the A/B platform protocol.
        wait: Keep polling while the platform reports the test still running (pausing
            ``poll_interval`` seconds between polls); False returns with status ``"waiting"``.
        thread_id: Checkpoint thread; a new one by default.
        checkpointer: A LangGraph checkpointer; by default the storage's (SQLite in the
            workspace, or Postgres).
        on_event: Receives progress events.
        storage: ``"local"`` or a ``postgresql://`` URL; None takes ``storage:`` from
            ``rectune.yaml``, else ``RECTUNE_STORAGE``, else local.
        **options: Any other `Context` field (``proposals_per_round``, ``arms_per_ab``,
            ``steering``, ``seed``, ...).

    Returns:
        The round's report (see `RoundReport` for the statuses).

    Raises:
        RoundInterrupted: on Ctrl-C; the message says how to resume.
    """
    ensure_workspace(workspace)
    sweep_stale_temp_files(workspace)
    options["storage"] = resolve_storage(workspace, storage)
    ctx = _make_context(workspace, model, platform, approve, options)
    from rectune.skillhub.hub import SkillHub

    skill = SkillHub(Workspace(workspace).skills, storage=ctx.storage).get(task)
    _check_models(ctx)
    thread_id = thread_id or new_thread_id(task)
    first: dict[str, Any] = {"task": skill.name}
    if ctx.steering:
        first["steering"] = ctx.steering
    lease = round_lease(ctx.storage, thread_id)
    with lease, _graph(ctx.workspace, checkpointer, ctx.storage) as graph:
        # The thread is recorded only once its checkpoints can be stored.
        ThreadStore(workspace, storage=ctx.storage).save(ctx, thread_id, task)
        _drive(graph, first, _config(thread_id), ctx, approve, wait, on_event)
        return _report(graph, _config(thread_id), thread_id)


def run(task: str, *, rounds: int = 1, **kwargs: Any) -> list[RoundReport]:
    """Run several rounds in a row; stops early when a round does not complete."""
    if rounds < 1:
        raise RecTuneError(f"rounds={rounds}: must be an integer >= 1")
    reports: list[RoundReport] = []
    for _ in range(rounds):
        report = run_round(task, **kwargs)
        reports.append(report)
        if report.status is not RoundStatus.COMPLETED:
            break
    return reports


def _resume_context(
    workspace: str | Path, record: ThreadRecord, model: Any, platform: Any, storage: str
) -> Context:
    saved = dict(record.context)
    saved.pop("workspace", None)
    saved["storage"] = storage
    if model != _AUTO:
        saved.pop("model", None)
        for role in ROLES:
            saved.pop(f"{role}_model", None)
    if platform is not None:
        saved.pop("platform", None)
    instance_model = str(saved.get("model", "")).startswith("instance:")
    if model == _AUTO and instance_model:
        saved.pop("model")
    ctx = _make_context(workspace, model, platform, False, saved)
    if model == _AUTO and instance_model:
        ctx.model = record.context["model"]
    return ctx


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
    storage: str | None = None,
) -> RoundReport:
    """Continue a paused or interrupted round from its checkpoint.

    A round that already finished is returned as it is (resuming it again is a no-op).

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
        storage: As in `run_round`; with a Postgres URL the round may have been started in
            any other folder or host (this workspace then only holds local copies).
    """
    storage = resolve_storage(workspace, storage)
    if storage != "local":
        # Another host's round: this folder may be new; it only keeps local copies.
        ensure_workspace(workspace)
    record = ThreadStore(workspace, storage=storage).load(thread_id)
    sweep_stale_temp_files(workspace)
    ctx = _resume_context(workspace, record, model, platform, storage)
    config = _config(thread_id)
    with round_lease(storage, thread_id), _graph(ctx.workspace, checkpointer, storage) as graph:
        if record.closed is not None:
            return _report(graph, config, thread_id, record.closed)
        snap = graph.get_state(config)
        if not snap.values and not snap.tasks:
            raise RecTuneError(f"round thread {thread_id!r} has no checkpoint to resume")
        pending = snap.interrupts[0].value if snap.interrupts else None
        first: Any
        if isinstance(pending, dict) and pending.get("kind") == "approval":
            if decision is None and callable(approve):
                decision = approve(pending)
            elif decision is None and approve is True:
                decision = "approve"
            if decision is None:
                return _report(graph, config, thread_id)
            first = Command(resume=decision)
        elif isinstance(pending, dict):
            first = Command(resume="poll")
        elif snap.tasks:
            # Tasks whose writes were saved before the process stopped are not in `next`;
            # streaming None applies those writes and runs what is left.
            first = None
        else:
            return _report(graph, config, thread_id)
        _drive(graph, first, config, ctx, approve, wait, on_event)
        return _report(graph, config, thread_id)


def status(
    thread_id: str | None = None,
    *,
    workspace: str | Path = ".",
    checkpointer: Any = None,
    storage: str | None = None,
    tasks: Iterable[str] | None = None,
) -> RoundReport | list[ThreadInfo]:
    """One round's report, or (without `thread_id`) every round thread of the workspace's
    storage, oldest first.

    With Postgres storage the database is the workspace and each folder that names it is one
    host's view of it, so the list holds every round thread in the database, whichever host
    started it: these are the rounds any host can resume. Keep unrelated teams apart with a
    database (or a schema) each.

    Args:
        tasks: Only the threads of these tasks; each must be a skill of the workspace or the
            task of a recorded thread.

    Raises:
        RecTuneError: naming a task of `tasks` that is neither.
    """
    storage = resolve_storage(workspace, storage)
    store = ThreadStore(workspace, storage=storage)
    if thread_id is not None:
        record = store.load(thread_id)
        with _graph(workspace, checkpointer, storage) as graph:
            return _report(graph, _config(thread_id), thread_id, record.closed)
    infos: list[ThreadInfo] = []
    records = store.all()
    if tasks is not None:
        wanted = set(tasks)
        records = [r for r in records if r.task in wanted]
        unknown = sorted(wanted - {r.task for r in records})
        if unknown:
            from rectune.skillhub.hub import SkillHub

            hub = SkillHub.in_workspace(workspace, install=False, storage=storage)
            known = set(hub.names(include_drafts=True)) | {r.task for r in store.all()}
            unknown = [t for t in unknown if t not in known]
            if unknown:
                raise RecTuneError(
                    f"--task {', '.join(unknown)}: no such task in this workspace; "
                    f"tasks: {sorted(known)}"
                )
    if not records:
        return infos
    with _graph(workspace, checkpointer, storage) as graph:
        for rec in records:
            rep = _report(graph, _config(rec.thread_id), rec.thread_id, rec.closed)
            infos.append(
                ThreadInfo(
                    thread_id=rec.thread_id,
                    task=rec.task,
                    status=rep.status,
                    round=rep.round,
                    created_at=rec.created_at,
                )
            )
    return infos


def abort(
    thread_id: str,
    reason: str = "aborted by a person",
    *,
    workspace: str | Path = ".",
    platform: Any = None,
    checkpointer: Any = None,
    storage: str | None = None,
) -> RoundReport:
    """End a round that has not finished: stop its experiment if one is running, record the
    round as aborted (its open candidates rejected or aborted) and close the thread.

    Raises:
        RecTuneError: when the round has already finished.
    """
    from rectune.ports import ports_for
    from rectune.tools.platform import ExperimentNotFoundError

    storage = resolve_storage(workspace, storage)
    store = ThreadStore(workspace, storage=storage)
    record = store.load(thread_id)
    ctx = _resume_context(workspace, record, _AUTO, platform, storage)
    config = _config(thread_id)
    with round_lease(storage, thread_id), _graph(workspace, checkpointer, storage) as graph:
        before = _report(graph, config, thread_id, record.closed)
        if before.status.is_final:
            raise RecTuneError(
                f"round {thread_id} already ended ({before.status.value}); nothing to abort"
            )
        ports = ports_for(ctx)
        if before.experiment_id:
            try:
                ports.platform.abort(before.experiment_id, reason)
            except ExperimentNotFoundError:
                log.warning("experiment %s is unknown to the platform", before.experiment_id)
        if before.round and ports.journal.round_record(before.task, before.round) is not None:
            ports.journal.abort_round(before.task, before.round, thread_id, reason)
        closed = store.close(thread_id, RoundStatus.ABORTED, reason).closed
        return _report(graph, config, thread_id, closed)


def forget(
    thread_id: str,
    *,
    workspace: str | Path = ".",
    checkpointer: Any = None,
    storage: str | None = None,
) -> None:
    """Delete a round's thread and checkpoints (the journal keeps what the round recorded).

    A round that has not ended is aborted first when nothing of it is live; a round with an
    experiment on the platform must be aborted (`abort`) or finished before it is forgotten.

    Raises:
        RecTuneError: when the round has a launched experiment and has not ended.
    """
    storage = resolve_storage(workspace, storage)
    store = ThreadStore(workspace, storage=storage)
    record = store.load(thread_id)
    config = _config(thread_id)
    with _graph(workspace, checkpointer, storage) as graph:
        rep = _report(graph, config, thread_id, record.closed)
        if not rep.status.is_final:
            if rep.experiment_id:
                raise RecTuneError(
                    f"round {thread_id} has experiment {rep.experiment_id} on the platform; "
                    f"abort it first: rectune abort {thread_id}"
                )
            journal = open_journal(workspace, storage)
            if rep.round and journal.round_record(rep.task, rep.round) is not None:
                journal.abort_round(rep.task, rep.round, thread_id, "forgotten by a person")
        graph.checkpointer.delete_thread(thread_id)
    store.delete(thread_id)


def history_frame(task: str, *, workspace: str | Path = ".", storage: str | None = None) -> Any:
    """The task's journal as a pandas DataFrame: one row per candidate, with its status,
    flags (elite, edited, stopped early), configuration, and per metric the lift, its 95%
    interval, p-value, significance and, for guardrails, the verdict (lifts are fractions).

    Example:
        >>> df = history_frame("value_fusion", workspace="ws")  # doctest: +SKIP
        >>> df.sort_values("dwell_time.lift").tail(3)  # doctest: +SKIP
    """
    import pandas as pd

    from rectune.report.table import history_rows
    from rectune.skillhub.hub import SkillHub

    storage = resolve_storage(workspace, storage)
    ws = Workspace(workspace)
    skill = SkillHub(ws.skills, storage=storage).get(task)
    cands = open_journal(ws.root, storage).candidates(task)
    return pd.DataFrame(history_rows(cands, skill.metrics))
