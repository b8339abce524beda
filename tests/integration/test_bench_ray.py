"""``benchmarks/tuning.py --ray``: every (task, method, seed) as a Ray task on a local Ray with
two CPUs gives the same records as the local process pool, keeps finished runs in the partial
file, and turns a run Ray loses into an error record without losing the others."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from rectune.bench import BenchSettings
from rectune.bench.cli import build_parser, pool_from_args
from rectune.bench.ray_pool import LOCAL_RAY, RayPool
from rectune.bench.runner import run_benchmark

pytestmark = pytest.mark.integration

TIMING = ("method_seconds", "simulator_seconds", "oracle_seconds")


def tiny(tmp_path: Path, seeds: int, workers: int = 1) -> BenchSettings:
    return BenchSettings(
        tasks=("diversity",), methods=("rectune", "sobol"), rounds=2, arms=2, seeds=seeds,
        population=3_000, days=1, oracle_users=300, optimum_budget=4, optimum_search_users=300,
        optimum_final_users=300, workers=workers, cache_dir=str(tmp_path / "oracle"),
    )


def differences(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[str]:
    """Where two lists of run records differ, but for the timings (NaN equals NaN)."""

    def flat(x: Any, at: str = "") -> dict[str, str]:
        if isinstance(x, dict):
            return {k: v for key, val in x.items() if key not in TIMING
                    for k, v in flat(val, f"{at}.{key}").items()}
        if isinstance(x, list | tuple):
            return {k: v for i, val in enumerate(x) for k, v in flat(val, f"{at}[{i}]").items()}
        return {at: json.dumps(x)}

    fa, fb = flat(list(a)), flat(list(b))
    return [f"{k}: {fa.get(k)} != {fb.get(k)}" for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k)][:10]


def partial_runs(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(x)["run"] for x in path.read_text().splitlines() if x.strip()]
    return sorted(lines, key=lambda r: (r["task"], r["method"], r["seed"]))


def partial_keys(path: Path) -> list[tuple[str, str, int]]:
    return [(r["task"], r["method"], r["seed"]) for r in partial_runs(path)]


@pytest.mark.slow  # ~45 s: a local Ray starts and six tiny runs
def test_ray_tasks_give_the_local_pools_records_and_keep_partial_results(
    tmp_path: Path,
) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    local = run_benchmark(tiny(tmp_path, seeds=2, workers=2), partial=tmp_path / "local.jsonl")
    assert len(local["runs"]) == 4 and all("error" not in r for r in local["runs"])

    # An interrupted earlier invocation left seed 0 in the partial file: Ray runs only seed 1
    # (a task per method), appends each run as it ends, and the report holds all four,
    # identical to the local pool's.
    part = tmp_path / "ray.jsonl"
    seed0 = [x for x in (tmp_path / "local.jsonl").read_text().splitlines()
             if json.loads(x)["run"]["seed"] == 0]
    part.write_text("\n".join(seed0) + "\n")
    ran: list[str] = []
    pool = RayPool(LOCAL_RAY, num_cpus=2)
    on_ray = run_benchmark(tiny(tmp_path, seeds=2), partial=part, ray_pool=pool,
                           progress=ran.append)
    fresh = [r for r in on_ray["runs"] if r["seed"] == 1]
    assert not differences(fresh, [r for r in local["runs"] if r["seed"] == 1])
    assert not differences(partial_runs(part), partial_runs(tmp_path / "local.jsonl"))
    assert len([m for m in ran if m.startswith("[")]) == 2 and all("s1:" in m for m in ran
                                                                 if m.startswith("["))
    assert partial_keys(part) == sorted(
        (t, m, s) for t in ("diversity",) for m in ("rectune", "sobol") for s in (0, 1)
    )
    assert on_ray["optima"] == local["optima"]

    # A run whose worker dies is reported as an error; every other run still arrives.
    def dies_on_seed_one(job: tuple[Any, ...]) -> dict[str, Any]:
        if job[2] == 1:
            os._exit(3)
        return {"task": job[0], "method": job[1], "seed": job[2], "value": job[2] * 10}

    got: list[dict[str, Any]] = []
    pool.run(dies_on_seed_one, [("t", "m", s) for s in range(3)], got.append)
    by_seed = {r["seed"]: r for r in got}
    assert sorted(by_seed) == [0, 1, 2]
    assert by_seed[0]["value"] == 0 and by_seed[2]["value"] == 20
    assert by_seed[1]["error"].startswith("lost by Ray")


def test_ray_option() -> None:
    parse = build_parser().parse_args
    assert pool_from_args(parse([])) is None
    local = pool_from_args(parse(["--ray", "--workers", "2"]))
    assert local is not None and local.address == LOCAL_RAY and local.num_cpus == 2
    cluster = pool_from_args(parse(["--ray", "ray://head:10001", "--workers", "2"]))
    assert cluster is not None and cluster.address == "ray://head:10001"
    assert cluster.num_cpus is None
    with pytest.raises(ValueError, match="address is empty"):
        pool_from_args(parse(["--ray", " "]))
