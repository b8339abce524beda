"""Simulator throughput: page requests per CPU second on one core (target: >= 150,000).

Every request retrieves `RETRIEVED` (320) candidates and runs them through pre-ranking, the
candidate cut, ranking fusion and MMR re-ranking to a page of 10, then simulates the user's
reaction (compiled kernel, `rectune/simulator/kernel.py`). The first day is a warm-up (it
also loads or compiles the kernel) and is not timed. Run with::

    .venv/bin/python benchmarks/sim_throughput.py [--users 20000] [--days 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    """Measure and print page requests per second for the production configuration."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from rectune.simulator.engine import Simulator
    from rectune.simulator.tasks import production_stack
    from rectune.simulator.world import RETRIEVED

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    sim = Simulator.create(seed=args.seed)
    cohort = sim.cohort(np.arange(args.users), seed=args.seed)
    config = production_stack()
    cohort.run_day(config, "warmup")
    before = cohort.requests
    start = time.process_time()
    wall = time.perf_counter()
    for _ in range(args.days):
        cohort.run_day(config, "exp")
    cpu = time.process_time() - start
    wall = time.perf_counter() - wall
    requests = cohort.requests - before
    report = {
        "target_requests_per_cpu_second": 150_000,
        "page_requests": requests,
        "candidates_per_request": RETRIEVED,
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3),
        "requests_per_cpu_second": round(requests / cpu),
        "requests_per_wall_second": round(requests / wall),
        "items": sim.world.n_items,
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:>26}: {v}")


if __name__ == "__main__":
    main()
