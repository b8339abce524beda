"""The Online agent: render config files, plan and launch the A/B test, watch it, collect.

The launch is idempotent (key = thread + task + round), so re-running this node after a crash
or a resume finds the same experiment instead of creating a second one. While the platform
reports the test as running, the node pauses the graph in a *waiting* interrupt; resuming polls
again.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.config import get_config, get_stream_writer
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from rectune.agents.approve import approved_candidates
from rectune.agents.platform_tools import platform_tools
from rectune.agents.services import services
from rectune.config import Context
from rectune.domain import ArmSpec, CandidateStatus, ExperimentSpec, ExperimentState
from rectune.graph.state import State

__all__ = ["idempotency_key", "online"]


def idempotency_key(thread_id: str, task: str, round_no: int) -> str:
    """The launch key of a round: one experiment per thread, task and round."""
    return f"{thread_id}:{task}:r{round_no}"


def online(state: State, runtime: Runtime[Context]) -> Command[Literal["record"]]:
    """Launch (once), wait while running, collect results."""
    ctx = runtime.context
    svc = services(ctx)
    task = state["task"]
    skill = svc.skill(task)
    approved = approved_candidates(state)
    plan = svc.ab_plan(skill, len(approved))
    traffic = plan["traffic_per_arm"]
    spec = ExperimentSpec(
        task=task,
        control=ArmSpec(name="control", config=dict(skill.baseline), traffic=traffic),
        treatments=[
            ArmSpec(name=f"arm{i + 1}", config=c.config, traffic=traffic, candidate_id=c.id)
            for i, c in enumerate(approved)
        ],
        days=plan["days"],
        metrics=[m.name for m in skill.metrics],
    )
    rendered = {
        arm.name: svc.render(skill, arm.name, arm.config, state["round"]) for arm in spec.arms
    }
    tools = platform_tools(svc.platform())
    thread_id = str(get_config().get("configurable", {}).get("thread_id", "no-thread"))
    key = idempotency_key(thread_id, task, state["round"])
    experiment_id = str(
        tools["launch_experiment"].invoke(
            {"spec": spec.model_dump(mode="json"), "idempotency_key": key}
        )
    )
    live = [
        c if c.status is CandidateStatus.LIVE else c.transition(CandidateStatus.LIVE, experiment_id)
        for c in approved
    ]
    svc.upsert(task, [c.model_copy(update={"experiment_id": experiment_id}) for c in live])
    writer = _writer()
    while True:
        st = tools["experiment_status"].invoke({"experiment_id": experiment_id})
        writer(
            {
                "phase": "ab_test",
                "experiment_id": experiment_id,
                "days_run": st["days_run"],
                "days_total": st["days_total"],
                "state": st["state"],
            }
        )
        if st["state"] != ExperimentState.RUNNING.value:
            break
        interrupt(
            {
                "kind": "waiting",
                "experiment_id": experiment_id,
                "days_run": st["days_run"],
                "days_total": st["days_total"],
                "message": "the A/B test is still running; resume to check it again",
            }
        )
    results = tools["experiment_results"].invoke({"experiment_id": experiment_id})
    return Command(
        goto="record",
        update={
            "experiment": spec.model_dump(mode="json"),
            "experiment_id": experiment_id,
            "rendered_files": rendered,
            "results": results,
        },
    )


def _writer() -> Any:
    try:
        return get_stream_writer()
    except Exception:  # outside a streaming run there is nobody to tell
        return lambda _chunk: None
