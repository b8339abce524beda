"""The round graph's own overhead: wall time of a round minus platform and engine time.

Runs a few offline rounds on the simulator with auto-approval and the SQLite checkpointer,
timing the A/B platform calls and the optimization engine separately, and prints JSON.
Target (issue 7): overhead under 0.5 s per round.

    .venv/bin/python benchmarks/graph_overhead.py --rounds 3
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from collections.abc import Callable
from typing import Any

from rectune import run_round
from rectune.optimizers import Engine
from rectune.ports import EnginePort, InsightPort
from rectune.tools.simulated import SimulatedABPlatform
from rectune.workspace import init_workspace

TIMERS: dict[str, float] = {"platform": 0.0, "engine": 0.0}
_DEPTH = {"platform": 0, "engine": 0}


def _timed(bucket: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    # Timed calls nest (a port's call runs the engine's): only the outermost one counts.
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _DEPTH[bucket] += 1
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _DEPTH[bucket] -= 1
            if _DEPTH[bucket] == 0:
                TIMERS[bucket] += time.perf_counter() - t0

    return wrapper


def _instrument() -> None:
    for name in ("launch", "status", "results", "abort", "baselines"):
        setattr(SimulatedABPlatform, name, _timed("platform", getattr(SimulatedABPlatform, name)))
    for name in ("fit", "propose", "critique", "recommend", "view"):
        setattr(Engine, name, _timed("engine", getattr(Engine, name)))
    # predictions, rankings and insight statistics are the engine's reasoning too
    for name in ("drafts", "confirmation", "predict", "rank", "advise", "view"):
        setattr(EnginePort, name, _timed("engine", getattr(EnginePort, name)))
    for name in ("findings", "cross_task", "proposed_learning"):
        setattr(InsightPort, name, _timed("engine", getattr(InsightPort, name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--task", default="value_fusion")
    args = parser.parse_args()
    _instrument()
    ws = init_workspace(tempfile.mkdtemp() + "/ws").root
    per_round = []
    for _ in range(args.rounds):
        TIMERS.update(platform=0.0, engine=0.0)
        t0 = time.perf_counter()
        rep = run_round(
            args.task, workspace=ws, model=None, approve=True, proposals_per_round=8, arms_per_ab=4
        )
        total = time.perf_counter() - t0
        if rep.status != "completed":
            raise SystemExit(f"round failed: {rep.error}")
        per_round.append(
            {
                "round": rep.round,
                "total_s": round(total, 3),
                "platform_s": round(TIMERS["platform"], 3),
                "engine_s": round(TIMERS["engine"], 3),
                "graph_overhead_s": round(total - TIMERS["platform"] - TIMERS["engine"], 3),
            }
        )
    overheads = sorted(r["graph_overhead_s"] for r in per_round)
    print(
        json.dumps(
            {
                "task": args.task,
                "rounds": per_round,
                "median_graph_overhead_s": overheads[len(overheads) // 2],
                "target_s": 0.5,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
