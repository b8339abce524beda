"""Run the tuning benchmark: methods × tasks × seeds on the simulated A/B platform.

One *run* is one method on one task with one seed index: R rounds, each launching up to K
arms as one A/B test against production, followed by oracle scoring of every tested arm and
of the configuration the method would launch after each round.

Pairing: for a seed index, every method meets the same world (`world_seed`) and the same
traffic. The experiment of round r carries the salt ``task:s<seed>:r<r>``, so the user split,
the control arm and the simulator's random numbers are the same for every method; only the
treatment configurations differ.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rectune.bench.methods import (
    ALL_METHODS,
    OPT_IN_METHODS,
    ArmOutcome,
    make_method,
    method_status,
)
from rectune.bench.scoring import guardrail_excess, percent_of_optimum, rounds_to_reach
from rectune.domain import ArmSpec, Config, ExperimentSpec, config_key
from rectune.optimizers import Engine, Observation, TuningProblem

if TYPE_CHECKING:
    from rectune.bench.ray_pool import RayPool

__all__ = [
    "DEFAULT_METHODS",
    "DEFAULT_TASKS",
    "BenchSettings",
    "OptimumInfo",
    "compute_optimum",
    "problem_for",
    "rescore_final",
    "run_benchmark",
    "run_one",
]

DEFAULT_TASKS = ("value_based_retrieval", "value_fusion", "diversity")
"""The three shipped tasks."""

DEFAULT_METHODS = tuple(m for m in ALL_METHODS if m not in OPT_IN_METHODS)
"""Every method but the opt-in ones; absent peers are reported as such."""


@dataclass(frozen=True)
class BenchSettings:
    """Everything that defines a benchmark run; identical for every method.

    Attributes:
        tasks: Task names.
        methods: Method names (see `rectune.bench.methods.ALL_METHODS`).
        rounds: Rounds per run (R).
        arms: Treatment arms per round (K).
        seeds: Number of paired seed indices (0 .. seeds-1).
        world_seed: Seed of the simulated world (and the platform), the same for every run.
        population: Users on the platform.
        traffic_per_arm: Share of users per arm, control included; None = the skill's.
        days: A/B duration in days; None = the skill's.
        oracle_users: Users in each oracle evaluation of a tested or launched configuration.
        optimum_budget: Configurations the oracle optimum search evaluates.
        optimum_search_users: Users per evaluation during that search.
        optimum_final_users: Users when the search re-scores its best few.
        cache_dir: Where the oracle optimum is cached.
        workers: Parallel processes.
    """

    tasks: tuple[str, ...] = DEFAULT_TASKS
    methods: tuple[str, ...] = DEFAULT_METHODS
    rounds: int = 5
    arms: int = 4
    seeds: int = 10
    world_seed: int = 0
    population: int = 60_000
    traffic_per_arm: float | None = None
    days: int | None = None
    oracle_users: int = 4_000
    optimum_budget: int = 80
    optimum_search_users: int = 2_000
    optimum_final_users: int = 8_000
    cache_dir: str = "benchmarks/results/oracle"
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-able data."""
        d = asdict(self)
        d["tasks"], d["methods"] = list(self.tasks), list(self.methods)
        return d


@dataclass(frozen=True)
class OptimumInfo:
    """The oracle optimum of a task, as the benchmark scores against it.

    Attributes:
        task: Task name.
        config: The optimum's configuration.
        primary_lift: Its objective lift under the benchmark's scoring oracle.
        search_lift: Its objective lift as the optimum search measured it (more users).
        lifts: Its per-metric lifts under the scoring oracle.
    """

    task: str
    config: Config
    primary_lift: float
    search_lift: float
    lifts: dict[str, float]


@functools.cache
def problem_for(task: str) -> tuple[TuningProblem, float, int]:
    """The engine's problem for a shipped task, with the skill's traffic share and days.

    Read once per process: every scored arm and every line of a partial file asks for it.
    """
    from rectune.bench.synthetic import is_synthetic, synthetic_task
    from rectune.ports.engine import problem_of
    from rectune.skillhub import SkillHub, shipped_skills_dir

    if is_synthetic(task):
        return synthetic_task(task).problem, 0.1, 3
    skill = SkillHub(shipped_skills_dir()).get(task)
    return problem_of(skill), skill.ab_defaults.traffic_per_arm, skill.ab_defaults.days


def _days(settings: BenchSettings, task: str) -> int:
    return settings.days if settings.days is not None else problem_for(task)[2]


def ab_plan(settings: BenchSettings, task: str) -> list[float]:
    """The traffic per arm and the days every A/B test of `task` runs with, as played.

    When the settings leave either to the skill, the skill's current value is what a run
    used; recording it keeps a skill edited between two invocations from mixing plans.
    """
    traffic = settings.traffic_per_arm or problem_for(task)[1]
    return [float(traffic), float(_days(settings, task))]


_ORACLE_CACHE: dict[tuple[str, str, int, int, int], dict[str, float]] = {}


def _oracle(task: str, config: Config, settings: BenchSettings) -> dict[str, float]:
    """Oracle lifts of `config`, memoized in the process (production is zero by definition)."""
    from rectune.bench.synthetic import is_synthetic, synthetic_task
    from rectune.simulator.oracle import oracle_lifts

    problem = problem_for(task)[0]
    if config_key(config) == config_key(problem.baseline):
        return {m.name: 0.0 for m in problem.metrics}
    if is_synthetic(task):
        return synthetic_task(task).truth(config)
    days = _days(settings, task)
    key = (task, config_key(config), settings.world_seed, settings.oracle_users, days)
    if key not in _ORACLE_CACHE:
        _ORACLE_CACHE[key] = oracle_lifts(
            task, config, seed=settings.world_seed, n_users=settings.oracle_users, days=days
        )
    return _ORACLE_CACHE[key]


def compute_optimum(task: str, settings: BenchSettings) -> OptimumInfo:
    """The task's oracle optimum (searched once, cached on disk) scored by the scoring oracle."""
    from rectune.bench.synthetic import is_synthetic, synthetic_task
    from rectune.simulator.oracle import oracle_optimum

    problem = problem_for(task)[0]
    if is_synthetic(task):
        best, value = synthetic_task(task).optimum
        return OptimumInfo(task, best, value, value, synthetic_task(task).truth(best))
    opt = oracle_optimum(
        task,
        settings.world_seed,
        cache_dir=settings.cache_dir,
        budget=settings.optimum_budget,
        search_users=settings.optimum_search_users,
        final_users=settings.optimum_final_users,
        days=_days(settings, task),
    )
    config: Config = {k: v for k, v in opt.config.items() if k in problem.space}
    lifts = _oracle(task, config, settings)
    search_lift = problem.objective(opt.lifts)
    # The simulator's shipped table of optima (a longer pattern search) is a second
    # candidate: when the benchmark's short search finds nothing better than production (the
    # re-tuned world's fusion task), the bar must not collapse to zero.
    table = _table_optimum(task, problem)
    if table is not None:
        t_lifts = _oracle(task, table, settings)
        if _feasible(problem, t_lifts) and (
            problem.objective(t_lifts) > problem.objective(lifts) or not _feasible(problem, lifts)
        ):
            config, lifts, search_lift = table, t_lifts, problem.objective(t_lifts)
    return OptimumInfo(
        task=task,
        config=config,
        primary_lift=problem.objective(lifts),
        search_lift=search_lift,
        lifts=lifts,
    )


def _feasible(problem: TuningProblem, lifts: dict[str, float]) -> bool:
    return guardrail_excess(problem.metrics, lifts) <= 0


def _table_optimum(task: str, problem: TuningProblem) -> Config | None:
    """The task's configuration in the simulator's table of optima, if it has one for the
    current model (a stale table is ignored)."""
    from rectune.simulator.optimum import load_optima
    from rectune.simulator.oracle import model_fingerprint

    try:
        table = load_optima()
    except (OSError, ValueError):
        return None
    entry = table.get("tasks", {}).get(task)
    if entry is None or table.get("model_fingerprint") != model_fingerprint():
        return None
    return {k: v for k, v in entry["config"].items() if k in problem.space}


@dataclass
class _Round:
    launched: Config
    arms: list[dict[str, Any]] = field(default_factory=list)


def run_one(
    task: str, method: str, seed: int, settings: BenchSettings, optimum: OptimumInfo
) -> dict[str, Any]:
    """One method on one task with one seed index, scored by the oracle.

    Returns:
        A JSON-able record: per round the launched configuration with its oracle lifts and
        percentage of the optimum, every arm with measured and oracle lifts, guardrail
        breaches and harm, and timings.
    """
    from rectune.bench.synthetic import is_synthetic, synthetic_task
    from rectune.tools.simulated import SimulatedABPlatform

    problem = problem_for(task)[0]
    traffic, days_f = ab_plan(settings, task)
    days = int(days_f)
    platform = (
        None
        if is_synthetic(task)
        else SimulatedABPlatform(seed=settings.world_seed, population=settings.population)
    )
    started = time.perf_counter()
    tuner = make_method(method, problem, seed, settings.arms, settings.rounds)
    method_seconds = time.perf_counter() - started
    sim_seconds = 0.0
    rounds: list[_Round] = []
    observed: list[Observation] = []
    for r in range(1, settings.rounds + 1):
        t0 = time.perf_counter()
        configs = _dedupe([{**problem.baseline, **c} for c in tuner.ask(settings.arms)])
        configs = configs[: settings.arms]
        method_seconds += time.perf_counter() - t0
        outcomes: list[ArmOutcome] = []
        arm_days: list[int] = []
        if configs and is_synthetic(task):
            t0 = time.perf_counter()
            arms = synthetic_task(task).measure(configs, f"{task}:s{seed}:r{r}")
            sim_seconds += time.perf_counter() - t0
            outcomes = [ArmOutcome(config=c, result=a) for c, a in zip(configs, arms, strict=True)]
            arm_days = [days] * len(configs)
        elif configs:
            t0 = time.perf_counter()
            spec = ExperimentSpec(
                task=task,
                control=ArmSpec(name="control", config=dict(problem.baseline), traffic=traffic),
                treatments=[
                    ArmSpec(name=f"arm{i + 1}", config=c, traffic=traffic)
                    for i, c in enumerate(configs)
                ],
                days=days,
                metrics=[m.name for m in problem.metrics],
                salt=f"{task}:s{seed}:r{r}",
            )
            assert platform is not None
            eid = platform.launch(spec, f"bench:{method}:{task}:s{seed}:r{r}")
            result = platform.results(eid)
            sim_seconds += time.perf_counter() - t0
            for i, c in enumerate(configs):
                arm = result.arm(f"arm{i + 1}")
                outcomes.append(ArmOutcome(config=c, result=arm))
                arm_days.append(arm.days_run if arm.aborted else days)
        t0 = time.perf_counter()
        tuner.tell(outcomes)
        launched = dict(tuner.launch())
        method_seconds += time.perf_counter() - t0
        observed.extend(
            Observation.from_arm_result(dict(o.config), o.result, round=r) for o in outcomes
        )
        rnd = _Round(launched=launched)
        for o, d in zip(outcomes, arm_days, strict=True):
            rnd.arms.append(
                {
                    "config": dict(o.config),
                    "measured": o.lifts,
                    "measured_se": o.ses,
                    "aborted": o.result.aborted,
                    "days_run": d,
                }
            )
        rounds.append(rnd)
    # Every method's arms judged by one launch rule (rectune's), to separate search from
    # selection.
    common = dict(Engine().recommend(problem, observed).config) if observed else dict(
        problem.baseline
    )
    t0 = time.perf_counter()
    record = _score(task, method, seed, rounds, problem, settings, optimum, traffic, days)
    common_lifts = _oracle(task, common, settings)
    record["common_launch"] = {
        "config": common,
        "oracle": common_lifts,
        "pct_of_optimum": percent_of_optimum(problem.objective(common_lifts), optimum.primary_lift),
        "breaches": guardrail_excess(problem.metrics, common_lifts) > 0,
    }
    record["ab_plan"] = {"traffic_per_arm": traffic, "days": days}
    record["timing"] = {
        "method_seconds": method_seconds,
        "simulator_seconds": sim_seconds,
        "oracle_seconds": time.perf_counter() - t0,
    }
    return record


def _dedupe(configs: Sequence[Config]) -> list[Config]:
    seen: set[str] = set()
    out: list[Config] = []
    for c in configs:
        if config_key(c) not in seen:
            seen.add(config_key(c))
            out.append(c)
    return out


def _score(
    task: str,
    method: str,
    seed: int,
    rounds: Sequence[_Round],
    problem: TuningProblem,
    settings: BenchSettings,
    optimum: OptimumInfo,
    traffic: float,
    days: int,
) -> dict[str, Any]:
    out_rounds: list[dict[str, Any]] = []
    curve: list[float] = []
    breaching_arms = 0
    harm = 0.0
    loss = 0.0
    first_round_loss = 0.0
    over_limit = 0
    n_arms = 0
    for i, rnd in enumerate(rounds):
        arms = []
        for arm in rnd.arms:
            lifts = _oracle(task, arm["config"], settings)
            excess = guardrail_excess(problem.metrics, lifts)
            exposure = traffic * arm["days_run"] / days
            arm_harm = exposure * excess
            # What the arm's users lost on the objective (a gain is not netted against it).
            arm_loss = exposure * max(0.0, -problem.objective(lifts))
            n_arms += 1
            loss += arm_loss
            if i == 0:
                first_round_loss = max(first_round_loss, max(0.0, -problem.objective(lifts)))
            elif -problem.objective(lifts) > problem.arm_loss_limit:
                over_limit += 1
            if excess > 0:
                breaching_arms += 1
                harm += arm_harm
            arms.append(
                {**arm, "oracle": lifts, "excess": excess, "harm": arm_harm, "loss": arm_loss}
            )
        lifts = _oracle(task, rnd.launched, settings)
        pct = percent_of_optimum(problem.objective(lifts), optimum.primary_lift)
        curve.append(pct)
        out_rounds.append(
            {
                "round": i + 1,
                "launched": rnd.launched,
                "launched_is_production": config_key(rnd.launched) == config_key(problem.baseline),
                "launched_oracle": lifts,
                "launched_breaches": guardrail_excess(problem.metrics, lifts) > 0,
                "pct_of_optimum": pct,
                "arms": arms,
            }
        )
    final = out_rounds[-1] if out_rounds else None
    return {
        "task": task,
        "method": method,
        "seed": seed,
        "curve": curve,
        "final_pct": curve[-1] if curve else math.nan,
        "final_breaches": bool(final["launched_breaches"]) if final else False,
        "rounds_to_80": rounds_to_reach(curve, 80.0),
        "rounds_to_95": rounds_to_reach(curve, 95.0),
        "arms_tested": n_arms,
        "breaching_arms": breaching_arms,
        "harm": harm,
        "primary_loss": loss,
        "user_harm": loss + harm,
        "first_round_worst_loss": first_round_loss,
        "later_arms_over_loss_limit": over_limit,
        "rounds": out_rounds,
    }


def simulator_fingerprint() -> str:
    """A short hash of the simulator and platform sources the numbers depend on."""
    import hashlib

    import rectune.simulator.oracle as oracle_mod
    import rectune.tools.simulated as platform_mod

    h = hashlib.sha256()
    for mod in (oracle_mod, platform_mod):
        folder = Path(str(mod.__file__)).parent
        for f in sorted(folder.glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _job(args: tuple[str, str, int, BenchSettings, OptimumInfo]) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    task, method, seed, settings, optimum = args
    try:
        return run_one(task, method, seed, settings, optimum)
    except Exception as exc:  # one broken run must not lose the others
        return {"task": task, "method": method, "seed": seed, "error": repr(exc)}


def run_benchmark(
    settings: BenchSettings,
    progress: Callable[[str], None] | None = None,
    partial: Path | None = None,
    run_missing: bool = True,
    ray_pool: RayPool | None = None,
) -> dict[str, Any]:
    """Run every (task, method, seed) of `settings` and return the raw records.

    Args:
        settings: What to run.
        progress: Receives one line per finished run.
        partial: A JSON-lines file that gets every finished run at once; runs already in it
            (from an interrupted invocation with the same settings) are not run again.
        run_missing: False only collects what `partial` holds (a report of several
            invocations, e.g. the expensive peers on fewer seeds).
        ray_pool: Where the runs go instead of local processes (`rectune.bench.ray_pool`).

    Returns:
        ``{"settings", "methods", "optima", "runs"}``: method statuses (``"ok"`` or why it is
        absent), the oracle optimum per task, and one record per run.
    """
    say = progress or (lambda _msg: None)
    statuses: dict[str, str] = {}
    for m in settings.methods:
        if m not in ALL_METHODS:
            raise ValueError(f"unknown method {m!r}; known: {list(ALL_METHODS)}")
        statuses[m] = method_status(m) or "ok"
    runnable = [m for m in settings.methods if statuses[m] == "ok"]
    optima: dict[str, OptimumInfo] = {}
    for task in settings.tasks:
        t0 = time.perf_counter()
        optima[task] = compute_optimum(task, settings)
        say(
            f"optimum {task}: objective lift {optima[task].primary_lift:+.2%} "
            f"({time.perf_counter() - t0:.0f}s)"
        )
    jobs = [
        (task, m, seed, settings, optima[task])
        for seed in range(settings.seeds)
        for task in settings.tasks
        for m in runnable
    ]
    wanted = {(j[0], j[1], j[2]) for j in jobs}
    runs = [
        r for r in _load_partial(partial, settings) if (r["task"], r["method"], r["seed"]) in wanted
    ]
    done = {(r["task"], r["method"], r["seed"]) for r in runs}
    jobs = [j for j in jobs if (j[0], j[1], j[2]) not in done] if run_missing else []
    total = len(jobs) + len(runs)
    started = time.perf_counter()

    def finish(run: dict[str, Any]) -> None:
        runs.append(run)
        if partial is not None and "error" not in run:
            with partial.open("a") as fh:
                line = {
                    "settings": settings.to_dict(),
                    "plan": ab_plan(settings, run["task"]),
                    "run": _clean(run),
                }
                fh.write(json.dumps(line) + "\n")
        _report_progress(say, run, len(runs), total, started)

    if ray_pool is not None:
        ray_pool.run(_job, jobs, finish)
    elif settings.workers <= 1:
        for job in jobs:
            finish(_job(job))
    else:
        with ProcessPoolExecutor(max_workers=settings.workers) as pool:
            futures = [pool.submit(_job, job) for job in jobs]
            for fut in as_completed(futures):
                finish(fut.result())
    runs.sort(key=lambda r: (r["task"], r["method"], r["seed"]))
    return {
        "settings": settings.to_dict(),
        "simulator_fingerprint": simulator_fingerprint(),
        "methods": statuses,
        "optima": {t: asdict(o) for t, o in optima.items()},
        "runs": runs,
    }


def _report_progress(
    say: Callable[[str], None], run: dict[str, Any], done: int, total: int, started: float
) -> None:
    if "error" in run:
        say(f"[{done}/{total}] {run['task']} {run['method']} s{run['seed']}: {run['error']}")
        return
    say(
        f"[{done}/{total}] {run['task']} {run['method']} s{run['seed']}: "
        f"final {run['final_pct']:.0f}% of optimum, {run['breaching_arms']} breaching arms "
        f"({time.perf_counter() - started:.0f}s elapsed)"
    )


def _clean(x: Any) -> Any:
    """`x` with NaN replaced by None, so the JSON is standard."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def _unclean(x: Any) -> Any:
    """Undo `_clean` on a run record: None percentages become NaN again."""
    if isinstance(x, dict):
        return {
            k: (math.nan if v is None and k in ("final_pct", "pct_of_optimum") else _unclean(v))
            for k, v in x.items()
        }
    if isinstance(x, list):
        return [math.nan if v is None else _unclean(v) for v in x]
    return x


def _load_partial(path: Path | None, settings: BenchSettings) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    want = _clean(settings.to_dict())
    keys = ("tasks", "workers", "methods", "seeds")
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        same = all(item["settings"].get(k) == want[k] for k in want if k not in keys)
        explicit = settings.traffic_per_arm is not None and settings.days is not None
        plan = item.get("plan")
        if plan is None and not explicit:
            continue  # an old line whose traffic or days came from a skill that may have changed
        if plan is not None and plan != ab_plan(settings, item["run"]["task"]):
            continue
        if same:
            out.append(_unclean(item["run"]))
    return out


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as indented JSON (NaN written as null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(data), indent=1))


def _rescore_job(args: tuple[str, Config, int, int, int]) -> tuple[str, str, dict[str, float]]:
    from rectune.bench.synthetic import is_synthetic, synthetic_task
    from rectune.simulator.oracle import oracle_lifts

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    task, config, world_seed, users, days = args
    if is_synthetic(task):  # the truth is known exactly: nothing to re-score
        return task, config_key(config), synthetic_task(task).truth(config)
    lifts = oracle_lifts(task, config, seed=world_seed, n_users=users, days=days)
    return task, config_key(config), lifts


def rescore_final(
    data: dict[str, Any],
    users: int,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    candidates_per_task: int = 8,
    tolerance: float = 0.001,
) -> dict[str, Any]:
    """Score the final launches and the optima again with a larger oracle population.

    The optimum becomes the *best known* feasible configuration: the oracle search's result
    or, if better, one of the best arms any method tested (the `candidates_per_task` best by
    the cheap oracle are scored again, so a lucky cheap score cannot set the bar). The
    per-round curves keep the cheap oracle, now divided by the new optimum's cheap score; the
    headline numbers (final % of the optimum, whether the final launch breaches a guardrail)
    use the precise scores. The cheap values are kept under ``*_cheap`` keys.

    Args:
        data: What `run_benchmark` returned.
        users: Oracle users for the re-scoring.
        workers: Parallel processes.
        progress: Receives a line when done.
        candidates_per_task: Tested arms per task considered for the best-known optimum.
        tolerance: A bar candidate counts as feasible when its guardrails, re-scored, are
            past their limits by at most this (summed, in lift units): the oracle's own error
            at this population is of that order, and a bar must not be set by a breach.

    Returns:
        `data`, updated in place.
    """
    settings = data["settings"]
    world_seed = int(settings["world_seed"])
    problems = {t: problem_for(t)[0] for t in settings["tasks"]}
    days = {t: settings["days"] or problem_for(t)[2] for t in settings["tasks"]}
    todo: dict[tuple[str, str], Config] = {}
    cheap: dict[tuple[str, str], dict[str, float]] = {}
    origin: dict[tuple[str, str], str] = {}
    for task, opt in data["optima"].items():
        key = (task, config_key(opt["config"]))
        todo[key], cheap[key], origin[key] = opt["config"], opt["lifts"], "oracle search"
    arms: dict[str, list[tuple[float, str, Config, dict[str, float]]]] = {}
    for run in data["runs"]:
        if "error" in run or not run["rounds"]:
            continue
        task, problem = run["task"], problems[run["task"]]
        for rnd in run["rounds"]:
            for arm in rnd["arms"]:
                if arm["excess"] == 0:
                    value = problem.objective(arm["oracle"])
                    arms.setdefault(task, []).append(
                        (value, run["method"], arm["config"], arm["oracle"])
                    )
        for cfg in (run["rounds"][-1]["launched"], run.get("common_launch", {}).get("config")):
            if cfg is not None and config_key(cfg) != config_key(problem.baseline):
                todo[(task, config_key(cfg))] = cfg
    for task, found in arms.items():
        seen: set[str] = set()
        for _value, method, cfg, lifts in sorted(found, key=lambda x: -x[0]):
            ck = config_key(cfg)
            if ck in seen:
                continue
            seen.add(ck)
            todo[(task, ck)] = cfg
            cheap.setdefault((task, ck), lifts)
            origin.setdefault((task, ck), f"arm tested by {method}")
            if len(seen) >= candidates_per_task:
                break
    jobs = [(t, c, world_seed, users, days[t]) for (t, _), c in todo.items()]
    started = time.perf_counter()
    if workers <= 1:
        results = [_rescore_job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_rescore_job, jobs))
    precise = {(t, ck): value for t, ck, value in results}
    for task, opt in data["optima"].items():
        problem = problems[task]
        best_key = (task, config_key(opt["config"]))
        best_value = problem.objective(precise[best_key])
        if guardrail_excess(problem.metrics, precise[best_key]) > tolerance:
            best_value = -math.inf  # the search's own optimum breaks a guardrail: not a bar
        for (t, ck), lifts in precise.items():
            if t != task or (t, ck) not in cheap or (t, ck) not in origin:
                continue
            value = problem.objective(lifts)
            if guardrail_excess(problem.metrics, lifts) <= tolerance and value > best_value:
                best_key, best_value = (t, ck), value
        if not math.isfinite(best_value):
            best_value = problem.objective(precise[best_key])
        opt["search_config"] = opt["config"]
        opt["config"] = todo[best_key]
        opt["source"] = origin[best_key]
        opt["primary_lift_cheap"] = problem.objective(cheap[best_key])
        opt["lifts"] = precise[best_key]
        opt["primary_lift"] = best_value
    for run in data["runs"]:
        if "error" in run or not run["rounds"]:
            continue
        task, problem = run["task"], problems[run["task"]]
        opt = data["optima"][task]
        curve = []
        for rnd in run["rounds"]:
            rnd["pct_of_optimum"] = percent_of_optimum(
                problem.objective(rnd["launched_oracle"]), opt["primary_lift_cheap"]
            )
            curve.append(rnd["pct_of_optimum"])
        run["curve"] = curve
        run["rounds_to_80"] = rounds_to_reach(curve, 80.0)
        run["rounds_to_95"] = rounds_to_reach(curve, 95.0)
        cfg = run["rounds"][-1]["launched"]
        final = precise.get((task, config_key(cfg)), {m.name: 0.0 for m in problem.metrics})
        run["final_pct_cheap"] = curve[-1]
        run["final_breaches_cheap"] = run["final_breaches"]
        run["final_oracle"] = final
        run["final_pct"] = percent_of_optimum(problem.objective(final), opt["primary_lift"])
        run["final_breaches"] = guardrail_excess(problem.metrics, final) > 0
        common = run.get("common_launch")
        if common is not None:
            c_lifts = precise.get(
                (task, config_key(common["config"])), {m.name: 0.0 for m in problem.metrics}
            )
            common["final_oracle"] = c_lifts
            common["final_pct"] = percent_of_optimum(
                problem.objective(c_lifts), opt["primary_lift"]
            )
            common["final_breaches"] = guardrail_excess(problem.metrics, c_lifts) > 0
    data["final_oracle_users"] = users
    data["bar_tolerance"] = tolerance
    if progress is not None:
        progress(f"re-scored {len(jobs)} configurations in {time.perf_counter() - started:.0f}s")
    return data
