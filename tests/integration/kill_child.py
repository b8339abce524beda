"""A round in a child process that kills itself (SIGKILL) at one chosen point.

Usage: ``python kill_child.py WORKSPACE THREAD POINT`` where POINT is one of

* ``start:<node>`` - when `<node>` starts, i.e. after the checkpoint of the step before it;
* ``writes:<node>`` - right after the checkpointer saved `<node>`'s writes, before the
  checkpoint of its step (LangGraph then leaves the node out of the next tasks to run);
* ``critic-journal`` - right after the Critic wrote its candidates to the journal;
* ``launched`` - right after the platform accepted the launch;
* ``ab-day`` - inside the A/B days, after the platform saved day 2;
* ``ab-mid-day`` - inside the A/B days, while day 2 is simulated (before it is saved).

Only what the checkpointer, the journal and the platform made durable survives.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from typing import Any

NODES = {
    "load_context": "rectune.agents.context",
    "actor": "rectune.agents.actor",
    "critic": "rectune.agents.critic",
    "plan": "rectune.agents.plan",
    "approve": "rectune.agents.approve",
    "launch": "rectune.agents.online",
    "monitor": "rectune.agents.online",
    "wait": "rectune.agents.online",
    "record": "rectune.agents.record",
    "insight_task": "rectune.agents.insight",
    "insight_reduce": "rectune.agents.insight",
    "skill": "rectune.agents.skill",
}

OPTIONS = {
    "proposals_per_round": 4,
    "arms_per_ab": 2,
    "days": 3,
    "poll_days": 1,
    "seed": 3,
}


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_at_start(node: str) -> None:
    module = importlib.import_module(NODES[node])
    original = getattr(module, node)

    @functools.wraps(original)
    def dying(*args: Any, **kwargs: Any) -> Any:
        die()
        return original(*args, **kwargs)

    setattr(module, node, dying)


def _kill_after(cls: Any, name: str, calls: int = 1) -> None:
    original = getattr(cls, name)
    seen = {"n": 0}

    @functools.wraps(original)
    def dying(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        seen["n"] += 1
        if seen["n"] >= calls:
            die()
        return out

    setattr(cls, name, dying)


def main() -> None:
    workspace, thread, point = sys.argv[1:4]
    if point.startswith("start:"):
        _kill_at_start(point.removeprefix("start:"))
    elif point.startswith("writes:"):
        from langgraph.checkpoint.sqlite import SqliteSaver

        target = point.removeprefix("writes:")
        original_put = SqliteSaver.put_writes

        def dying_put(
            self: Any, config: Any, writes: Any, task_id: str, task_path: str = ""
        ) -> None:
            original_put(self, config, writes, task_id, task_path)
            # Pull tasks are named in their path; the insight map's tasks are pushed (Send).
            pushed = task_path.startswith("~__pregel_push") and target == "insight_task"
            if task_path.endswith(f", {target}") or pushed:
                die()

        SqliteSaver.put_writes = dying_put  # type: ignore[method-assign]

    elif point == "critic-journal":
        from rectune.memory.journal import Journal

        _kill_after(Journal, "propose")
    elif point == "launched":
        from rectune.tools.simulated import SimulatedABPlatform

        _kill_after(SimulatedABPlatform, "launch")
    elif point == "ab-day":
        from rectune.tools.simulated import SimulatedABPlatform

        _kill_after(SimulatedABPlatform, "status", calls=2)
    elif point == "ab-mid-day":
        from rectune.tools.simulated import SimulatedABPlatform

        original = SimulatedABPlatform._save
        seen = {"n": 0}

        def dying_save(self: Any, record: Any) -> None:
            if record.days_run >= 2:
                die()
            original(self, record)

        SimulatedABPlatform._save = dying_save  # type: ignore[method-assign]
        del seen
    else:
        raise SystemExit(f"unknown kill point {point!r}")
    from rectune import run_round

    run_round(
        "value_fusion",
        workspace=workspace,
        thread_id=thread,
        model=None,
        approve=True,
        **OPTIONS,
    )
    print("survived")


if __name__ == "__main__":
    main()
