"""The Online agent: launch the approved plan, watch the test, collect its results.

Three steps, so that every side effect happens once per step that checkpoints it:

* `launch` builds the experiment from the stored plan (each arm with its platform config file
  rendered from the skill's template), launches it under the round's idempotency key (thread
  + task + round: a re-run finds the same experiment instead of starting a second one) and
  marks the candidates live;
* `monitor` asks the platform for the status exactly once; a finished test's results are
  collected and the round moves on to `record`;
* `wait` pauses the graph in a *waiting* interrupt; resuming it goes back to `monitor` for
  the next poll. A resume therefore polls once, never replaying earlier polls.
"""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from rectune.agents.runtime import idempotency_key, progress
from rectune.config import Context
from rectune.domain import ExperimentState
from rectune.ports import ports_for
from rectune.round.codec import decode, encode
from rectune.round.state import State
from rectune.workspace import Workspace

__all__ = ["launch", "monitor", "wait"]


def launch(state: State, runtime: Runtime[Context]) -> Command[Literal["monitor"]]:
    """Launch exactly the stored plan (once), write the rendered files, mark arms live."""
    ctx = runtime.context
    ports = ports_for(ctx)
    data = decode(state)
    assert data.plan is not None, "a launch needs the approved plan"
    skill = ports.skills.get(data.task)
    platform = ports.platform
    spec = data.experiment or platform.spec(
        skill, data.approved, data.plan, description=_description(ctx, data.task, data.round,
                                                                  data.thread_id)
    )
    key = idempotency_key(data.thread_id, data.task, data.round)
    experiment_id = platform.launch(spec, key)
    rendered = platform.write_rendered(spec, experiment_id, data.round)
    ports.journal.mark_live(data.task, [c.id for c in data.approved], experiment_id)
    progress()({"phase": "launched", "experiment_id": experiment_id, "days_total": spec.days})
    return Command(
        goto="monitor",
        update=encode(experiment=spec, experiment_id=experiment_id, rendered_files=rendered),
    )


def monitor(state: State, runtime: Runtime[Context]) -> Command[Literal["wait", "record"]]:
    """One status poll; collect the results once the test has finished."""
    ports = ports_for(runtime.context)
    data = decode(state)
    assert data.experiment_id is not None, "monitor runs after launch"
    status = ports.platform.status(data.experiment_id)
    progress()(
        {
            "phase": "ab_test",
            "experiment_id": data.experiment_id,
            "days_run": status.days_run,
            "days_total": status.days_total,
            "state": status.state.value,
        }
    )
    if status.state is ExperimentState.RUNNING:
        return Command(goto="wait", update=encode(progress=status))
    results = ports.platform.results(data.experiment_id)
    return Command(goto="record", update=encode(progress=status, results=results))


def wait(state: State, runtime: Runtime[Context]) -> Command[Literal["monitor"]]:
    """Pause until someone resumes the round; then poll again."""
    ctx = runtime.context
    data = decode(state)
    st = data.progress
    interrupt(
        {
            "kind": "waiting",
            "task": data.task,
            "round": data.round,
            "experiment_id": data.experiment_id,
            "days_run": st.days_run if st else 0,
            "days_total": st.days_total if st else 0,
            "platform": ctx.platform,
            "message": "the A/B test is still running; resume the round to check it again",
        }
    )
    return Command(goto="monitor")


def _description(ctx: Context, task: str, round_no: int, thread_id: str) -> str:
    ws = Workspace(ctx.workspace).root.resolve()
    return (
        f"rectune round {round_no} of task {task} (thread {thread_id}). When the results "
        f"are in, continue the round with: rectune resume {thread_id} --workspace {ws}"
    )
