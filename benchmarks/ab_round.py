"""Time one default A/B round on the simulated platform.

A round is a control plus four treatment arms of one task, at the task's default traffic per
arm, for the default 7 days (plus the 4-day pre-period), on the default population (120,000
users), judged by the task's metric specs. The wall time includes the production pilot the
monitor's information schedule needs (once per process). Target: <= 15 s. Run::

    .venv/bin/python benchmarks/ab_round.py [--task value_fusion] [--json]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    """Launch one default round, run it to completion and print the timings."""
    from rectune.domain import ArmSpec, ExperimentSpec
    from rectune.simulator.tasks import get_task
    from rectune.tools.simulated import SimulatedABPlatform

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="value_fusion")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    task = get_task(args.task)
    rng_shift = [0.8, 0.9, 1.1, 1.25]
    treatments = []
    for i, mult in enumerate(rng_shift):
        p = task.space.parameters[i % len(task.space.parameters)]
        value = float(task.production[p.name]) * mult
        value = min(max(value, p.low), p.high)  # type: ignore[union-attr]
        cfg = {p.name: round(value) if p.kind == "int" else value}
        treatments.append(ArmSpec(name=f"arm{i + 1}", config=cfg, traffic=task.traffic_per_arm))
    spec = ExperimentSpec(
        task=task.name,
        days=task.days,
        control=ArmSpec(name="control", config={}, traffic=task.traffic_per_arm),
        treatments=treatments,
        metric_specs=list(task.metrics),
    )
    wall = time.perf_counter()
    cpu = time.process_time()
    platform = SimulatedABPlatform(seed=args.seed)
    eid = platform.launch(spec, f"bench-{time.time_ns()}")
    result = platform.results(eid)
    report = {
        "task": task.name,
        "arms": len(spec.arms),
        "traffic_per_arm": task.traffic_per_arm,
        "population": platform.population,
        "days": spec.days,
        "pre_days": platform.pre_days,
        "wall_seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "state": result.state.value,
        "aborted_arms": [a.arm for a in result.arms if a.aborted],
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:>16}: {v}")


if __name__ == "__main__":
    main()
