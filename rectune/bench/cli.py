"""Command line of the tuning benchmark, shared by ``benchmarks/tuning.py`` and the CLI.

Writes ``tuning.json`` (settings, method statuses, optima, every run and the summary),
``tuning.md`` (the table) and ``tuning.png`` (lift vs round) under the output directory, and
prints the table (or the JSON summary with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rectune.bench.methods import ALL_METHODS
from rectune.bench.ray_pool import LOCAL_RAY, RayPool
from rectune.bench.report import markdown, plot, summarize
from rectune.bench.runner import (
    DEFAULT_METHODS,
    DEFAULT_TASKS,
    BenchSettings,
    rescore_final,
    run_benchmark,
    write_json,
)

__all__ = [
    "QUICK", "build_parser", "main", "pool_from_args", "run_and_write", "settings_from_args"
]

QUICK: dict[str, Any] = {
    "tasks": ("value_fusion",),
    "seeds": 2,
    "rounds": 3,
    "days": 2,
    "population": 20_000,
    "oracle_users": 600,
    "optimum_budget": 30,
    "optimum_search_users": 800,
    "optimum_final_users": 2_000,
}
"""The ``--quick`` preset: one task, few seeds and rounds, short tests, a cheap oracle."""


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's argument parser."""
    p = argparse.ArgumentParser(
        prog="tuning.py",
        description="rectune vs Sobol, Optuna and Ax on the simulated A/B platform.",
    )
    p.add_argument("--tasks", nargs="+", default=None, help=f"default: {' '.join(DEFAULT_TASKS)}")
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        choices=ALL_METHODS,
        help=f"default: {' '.join(DEFAULT_METHODS)} (rectune-graph, the compiled round graph, "
        "runs only when named: --methods rectune rectune-graph)",
    )
    p.add_argument("--rounds", type=int, default=None, help="rounds per run, R (default 5)")
    p.add_argument("--arms", type=int, default=4, help="treatment arms per round, K")
    p.add_argument("--seeds", type=int, default=None, help="paired seeds (default 10)")
    p.add_argument("--days", type=int, default=None, help="A/B days (default: the skill's)")
    p.add_argument("--population", type=int, default=None, help="platform users (60000)")
    p.add_argument("--traffic", type=float, default=None, help="traffic per arm (skill's)")
    p.add_argument("--oracle-users", type=int, default=None, help="users per oracle scoring")
    p.add_argument("--optimum-budget", type=int, default=None)
    p.add_argument("--world-seed", type=int, default=0)
    p.add_argument(
        "--rescore-final",
        type=int,
        default=None,
        metavar="USERS",
        help="score the final launches and the optima again with this many oracle users",
    )
    p.add_argument("--workers", type=int, default=1, help="parallel processes")
    p.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RAY,
        default=None,
        metavar="ADDRESS",
        help="run each (task, method, seed) as a Ray task: on a Ray started here (no ADDRESS; "
        "--workers > 1 sets its CPUs) or on the cluster at ADDRESS (auto, HOST:6379, "
        "ray://HOST:10001)",
    )
    p.add_argument(
        "--no-run",
        action="store_true",
        help="only report the runs already in <out>/<name>.partial.jsonl",
    )
    p.add_argument("--quick", action="store_true", help="a small run that takes a few minutes")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument(
        "--name", default=None, help="file stem of the outputs (tuning, or tuning_quick)"
    )
    p.add_argument("--cache-dir", default=None, help="oracle optimum cache (default: --out/oracle)")
    return p


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """Benchmark settings from parsed arguments (``--quick`` fills what was not given)."""
    base: dict[str, Any] = dict(QUICK) if args.quick else {}
    given = {
        "tasks": tuple(args.tasks) if args.tasks else None,
        "methods": tuple(args.methods) if args.methods else DEFAULT_METHODS,
        "rounds": args.rounds,
        "arms": args.arms,
        "seeds": args.seeds,
        "days": args.days,
        "population": args.population,
        "traffic_per_arm": args.traffic,
        "oracle_users": args.oracle_users,
        "optimum_budget": args.optimum_budget,
        "world_seed": args.world_seed,
        "workers": args.workers,
        "cache_dir": args.cache_dir or str(args.out / "oracle"),
    }
    base.update({k: v for k, v in given.items() if v is not None})
    return BenchSettings(**base)


def run_and_write(
    settings: BenchSettings,
    out: Path,
    name: str = "tuning",
    *,
    verbose: bool = True,
    rescore_users: int | None = None,
    run_missing: bool = True,
    ray_pool: RayPool | None = None,
) -> dict[str, Any]:
    """Run the benchmark and write ``<name>.json``, ``<name>.md`` and ``<name>.png`` in `out`.

    Returns:
        The full data written to the JSON file (settings, statuses, optima, runs, summary).
    """
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)

    def say(msg: str) -> None:
        if verbose:
            print(msg, file=sys.stderr, flush=True)

    data = run_benchmark(
        settings, progress=say, partial=out / f"{name}.partial.jsonl", run_missing=run_missing,
        ray_pool=ray_pool,
    )
    if rescore_users:
        rescore_final(data, rescore_users, settings.workers, progress=say)
    data["wall_seconds"] = time.perf_counter() - started
    summary = summarize(data)
    data["summary"] = {"tasks": summary["tasks"], "paired": summary["paired"]}
    table = markdown(data, summary)
    data["markdown"] = table
    write_json(out / f"{name}.json", data)
    (out / f"{name}.md").write_text(table)
    plot(data, summary, out / f"{name}.png")
    return data


def pool_from_args(args: argparse.Namespace) -> RayPool | None:
    """The Ray pool ``--ray`` asks for, or None for local processes."""
    if args.ray is None:
        return None
    cpus = args.workers if args.ray == LOCAL_RAY and args.workers > 1 else None
    return RayPool(args.ray, num_cpus=cpus)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, write the outputs and print the table or the JSON summary."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    name = args.name or ("tuning_quick" if args.quick else "tuning")
    data = run_and_write(
        settings, args.out, name, rescore_users=args.rescore_final, run_missing=not args.no_run,
        ray_pool=pool_from_args(args),
    )
    if args.json:
        print(json.dumps(data["summary"], indent=1, default=str))
    else:
        print(data["markdown"])
    return 0
