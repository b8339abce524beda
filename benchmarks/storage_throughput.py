"""Rounds per minute of N workers on one storage: the state overhead of a round, not the
simulator's time.

Each worker is a process that runs tiny rounds end to end (offline engine, 2 proposals, 1
arm, the file hand-off as the platform, auto-approved) and answers its own experiments, so a
round costs what rectune's state costs: checkpoints, journal writes, thread records, skill
versions and the platform's files. All workers drive rounds of one task at once (they race on
its journal) against one Postgres database, or against one local workspace for comparison.

Usage:
    python benchmarks/storage_throughput.py --url postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/storage_throughput.py --url ... --workers 1 2 4 --seconds 60

The database gets a fresh schema per run, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

OPTIONS = {"proposals_per_round": 2, "arms_per_ab": 1, "critic_loop_cap": 1, "days": 1}


def _answer(handoff: Path, experiment_id: str) -> None:
    spec = json.loads((handoff / experiment_id / "spec.json").read_text())
    (handoff / experiment_id / "results.json").write_text(json.dumps({
        "experiment_id": experiment_id,
        "arms": {a["name"]: {"metrics": {m: {"relative_lift": 0.001, "ci_low": -0.01,
                                             "ci_high": 0.012, "p_value": 0.8}
                                         for m in spec["metrics"]}}
                 for a in spec["treatments"]},
    }))


def _worker(args: tuple[str, str, str, int, float, int]) -> tuple[int, int, float]:
    storage, workspace, handoff, index, seconds, warmup = args
    from rectune import resume, run_round

    done = failed = 0
    start = 0.0
    n = 0
    while True:
        if n == warmup:
            start = time.perf_counter()
        if n >= warmup and time.perf_counter() - start > seconds:
            break
        n += 1
        try:
            rep = run_round(
                "value_fusion", workspace=workspace, model=None, approve=True, wait=False,
                platform=f"files:{handoff}", storage=storage, seed=1000 * index + n, **OPTIONS,
            )
            if rep.experiment_id is None:
                raise RuntimeError(rep.error or "nothing launched")
            _answer(Path(handoff), rep.experiment_id)
            ok = resume(rep.thread_id, workspace=workspace, storage=storage).status.value
        except Exception as exc:  # counted and shown: a refused or broken round
            ok = f"error: {exc}"
        if n > warmup:
            done += ok == "completed"
            failed += ok != "completed"
            if ok != "completed" and failed <= 2:
                print(f"  worker {index}: {ok[:160]}", flush=True)
    return done, failed, time.perf_counter() - start


def measure(storage: str, workers: int, seconds: float, root: Path) -> tuple[float, int, int]:
    """Rounds per minute of `workers` processes on `storage` (and completed, failed counts)."""
    from rectune.workspace import init_workspace

    handoff = root / f"handoff-{uuid.uuid4().hex[:6]}"
    if storage == "local":
        shared = init_workspace(root / f"local-{workers}").root
        spaces = [str(shared)] * workers
    else:
        spaces = [str(init_workspace(root / f"w{workers}-{i}").root) for i in range(workers)]
    with mp.get_context("spawn").Pool(workers) as pool:
        out = pool.map(
            _worker, [(storage, spaces[i], str(handoff), i, seconds, 1) for i in range(workers)]
        )
    done = sum(o[0] for o in out)
    failed = sum(o[1] for o in out)
    elapsed = max(o[2] for o in out)
    return 60.0 * done / elapsed, done, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="postgresql:// URL of a server to use")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time per setting")
    args = parser.parse_args()

    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{'storage':<10} {'workers':>7} {'rounds/min':>11} {'completed':>10} "
                  f"{'failed':>7}")
            for n in args.workers:
                for name, storage in (("postgres", url), ("local", "local")):
                    rpm, done, failed = measure(storage, n, args.seconds, Path(tmp))
                    print(f"{name:<10} {n:>7} {rpm:>11.1f} {done:>10} {failed:>7}", flush=True)
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
