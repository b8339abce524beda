"""A rectune worker process for the Postgres tests: it shares only the storage URL (and the
platform's hand-off folder, which stands for the A/B platform) with the other workers.

Usage: ``python pg_worker.py URL HANDOFF start TASK THREAD [KILL]`` or
``python pg_worker.py URL HANDOFF resume THREAD...``, run in its own working directory (its
workspace is ``./ws``). It prints one JSON line per round: thread, status, round, experiment,
or the refusal message. KILL ``critic-journal`` SIGKILLs the worker right after the Critic's
journal write.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import zlib
from typing import Any

OPTIONS: dict[str, Any] = {"proposals_per_round": 4, "arms_per_ab": 2, "days": 3}


def main() -> None:
    url, handoff, command, *args = sys.argv[1:]
    from rectune import resume, run_round
    from rectune.domain import RecTuneError

    def say(thread: str, **fields: Any) -> None:
        print(json.dumps({"thread": thread, **fields}), flush=True)

    if command == "start":
        task, thread, *kill = args
        if kill == ["critic-journal"]:
            from rectune.storage.pg_journal import PostgresJournal

            original = PostgresJournal.propose

            def dying(self: Any, *a: Any, **k: Any) -> None:
                original(self, *a, **k)
                os.kill(os.getpid(), signal.SIGKILL)

            PostgresJournal.propose = dying  # type: ignore[method-assign]
        try:
            rep = run_round(
                task, workspace="ws", thread_id=thread, model=None, approve=True, wait=False,
                platform=f"files:{handoff}", storage=url, **OPTIONS,
                # Rounds of one task that run at once explore apart (with one seed the engine
                # would propose the same arms in each, and the later ones find nothing new).
                seed=zlib.crc32(thread.encode()) % 1000,
            )
        except RecTuneError as exc:
            say(thread, refused=str(exc))
            return
        say(thread, status=rep.status.value, round=rep.round, experiment=rep.experiment_id,
            error=rep.error)
        return
    for thread in args:
        try:
            rep = resume(thread, workspace="ws", wait=False, storage=url)
        except RecTuneError as exc:
            say(thread, refused=str(exc))
            continue
        say(thread, status=rep.status.value, round=rep.round, experiment=rep.experiment_id,
            error=rep.error)


if __name__ == "__main__":
    main()
