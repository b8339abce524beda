"""The oracle: expected lifts of a configuration, for benchmarks only.

The oracle simulates a large population twice, once with production and once with the
configuration, with the same users and the same random numbers (common random numbers), so
the difference reflects the configuration and almost no noise. The platform protocol never
exposes it; agents must learn from A/B tests like they would in production.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rectune.domain import FloatParameter, IntParameter
from rectune.simulator.engine import Simulator
from rectune.simulator.parts import WorldParts
from rectune.simulator.population import population_means, run_cohort
from rectune.simulator.rng import hash_seed
from rectune.simulator.tasks import TaskDefinition, get_task, production_stack, stack_for

__all__ = [
    "ORACLE_USER_OFFSET",
    "OracleEstimate",
    "OracleOptimum",
    "feasible",
    "model_fingerprint",
    "oracle_estimate",
    "oracle_lifts",
    "oracle_optimum",
    "oracle_values",
]

ORACLE_USER_OFFSET = 10_000_000
"""Oracle users have ids from here on, disjoint from any platform population."""

DEFAULT_PRE_DAYS = 4
"""Production days before an experiment, as on the default platform."""

_SIMS: dict[tuple[int, WorldParts], Simulator] = {}
_BASE: dict[tuple[int, int, int, int, WorldParts], dict[str, float]] = {}


def _sim(seed: int, parts: WorldParts | None = None) -> Simulator:
    key = (seed, parts or WorldParts())
    if key not in _SIMS:
        _SIMS[key] = Simulator.create(seed=seed, parts=key[1])
    return _SIMS[key]


def oracle_values(
    task: str,
    config: Mapping[str, object],
    *,
    seed: int = 0,
    n_users: int = 20_000,
    days: int = 7,
    pre_days: int = DEFAULT_PRE_DAYS,
    parts: WorldParts | None = None,
) -> dict[str, float]:
    """Population value of every metric under a task configuration (others at production)."""
    sim = _sim(seed, parts)
    ids = np.arange(n_users, dtype=np.int64) + ORACLE_USER_OFFSET
    cohort = run_cohort(sim, ids, stack_for(task, config), days, seed=seed, pre_days=pre_days)
    return population_means(cohort)


def oracle_lifts(
    task: str,
    config: Mapping[str, object],
    *,
    seed: int = 0,
    n_users: int = 20_000,
    days: int = 7,
    pre_days: int = DEFAULT_PRE_DAYS,
    parts: WorldParts | None = None,
) -> dict[str, float]:
    """Relative lift of every metric of `config` over production, nearly noise-free.

    Args:
        task: Task name; `config` holds (some of) its knobs, the rest stay at production.
        config: The configuration to evaluate.
        seed: World seed (the same as the platform's seed to match its experiments).
        n_users: Oracle population size; larger is more precise and slower.
        days: Experiment duration the lift refers to (retention effects build up over days).
        pre_days: Production days before the experiment, as on the platform.
        parts: World parts (default: all on, as on the default platform).

    Returns:
        metric name -> relative lift, for every metric of the task.
    """
    t = get_task(task)
    key = (seed, n_users, days, pre_days, parts or WorldParts())
    if key not in _BASE:
        sim = _sim(seed, parts)
        ids = np.arange(n_users, dtype=np.int64) + ORACLE_USER_OFFSET
        base = run_cohort(sim, ids, production_stack(), days, seed=seed, pre_days=pre_days)
        _BASE[key] = population_means(base)
    base_values = _BASE[key]
    values = oracle_values(
        task, config, seed=seed, n_users=n_users, days=days, pre_days=pre_days, parts=parts
    )
    return {m: values[m] / base_values[m] - 1.0 for m in t.metric_names}


@dataclass(frozen=True)
class OracleEstimate:
    """Oracle lifts with their own Monte-Carlo error.

    Attributes:
        lifts: Metric -> mean relative lift over the blocks.
        se: Metric -> standard error of that mean (spread of the blocks / sqrt(blocks)).
        blocks: Independent oracle blocks averaged.
        users_per_block: Users simulated per block (under both configurations).
    """

    lifts: dict[str, float]
    se: dict[str, float]
    blocks: int
    users_per_block: int


def oracle_estimate(
    task: str,
    config: Mapping[str, object],
    *,
    seed: int = 0,
    n_users: int = 120_000,
    blocks: int = 6,
    days: int = 7,
    pre_days: int = DEFAULT_PRE_DAYS,
    parts: WorldParts | None = None,
) -> OracleEstimate:
    """Oracle lifts averaged over independent blocks of users, with their standard error.

    Common random numbers remove much less noise than one would hope in this world: a
    re-ranking change alters every later page a user sees, so the two runs of one user drift
    apart within a day (a 16,000-user oracle of a +2.3% diversity lift has a spread of 0.17
    points). A calibration that places an effect at "the true lift" needs that error to be
    small against the experiment's standard error, and needs to know it: each block is its
    own set of oracle users with its own behavioural seed, production and `config` run on it
    with common random numbers, and the blocks' spread gives the standard error.

    Args:
        task: Task whose knobs `config` sets (others at production).
        config: The configuration.
        seed: World seed (the platform's seed).
        n_users: Users over all blocks.
        blocks: Number of independent blocks (at least 2, for the error).
        days: Experiment days.
        pre_days: Production days before.
        parts: World parts.

    Raises:
        ValueError: fewer than 2 blocks or fewer than 100 users per block.
    """
    if blocks < 2:
        raise ValueError(f"blocks={blocks}: need at least 2 blocks to estimate the error")
    per = n_users // blocks
    if per < 100:
        raise ValueError(f"n_users={n_users}, blocks={blocks}: need >= 100 users per block")
    if n_users > 10_000_000:
        raise ValueError(f"n_users={n_users}: at most 10,000,000 (the oracle's block of ids)")
    t = get_task(task)
    sim = _sim(seed, parts)
    stack = stack_for(task, config)
    rows = []
    for b in range(blocks):
        ids = np.arange(per, dtype=np.int64) + ORACLE_USER_OFFSET + 20_000_000 + b * per
        cseed = hash_seed("oracle-block", seed, b)
        base = population_means(
            run_cohort(sim, ids, production_stack(), days, seed=cseed, pre_days=pre_days)
        )
        val = population_means(run_cohort(sim, ids, stack, days, seed=cseed, pre_days=pre_days))
        rows.append([val[m] / base[m] - 1.0 for m in t.metric_names])
    arr = np.asarray(rows, dtype=np.float64)
    mean = arr.mean(axis=0)
    se = arr.std(axis=0, ddof=1) / np.sqrt(blocks)
    return OracleEstimate(
        lifts={m: float(v) for m, v in zip(t.metric_names, mean, strict=True)},
        se={m: float(v) for m, v in zip(t.metric_names, se, strict=True)},
        blocks=blocks,
        users_per_block=per,
    )


def feasible(task: TaskDefinition, lifts: Mapping[str, float], margin: float = 0.0) -> bool:
    """Whether lifts respect every guardrail of `task`.

    Args:
        task: The task.
        lifts: Relative lift per metric.
        margin: Extra safety distance: each guardrail is treated as `margin` tighter.
    """
    return not any(g.breaches(lifts[g.name] - g.sign * margin) for g in task.guardrails)


@dataclass(frozen=True)
class OracleOptimum:
    """The best guardrail-respecting configuration the oracle search found.

    Attributes:
        task: Task name.
        config: The configuration (every knob of the task).
        lifts: Its oracle lifts.
        primary_lift: Its lift on the task's primary metric.
        evaluations: Configurations evaluated by the search.
    """

    task: str
    config: dict[str, float | int]
    lifts: dict[str, float]
    primary_lift: float
    evaluations: int


def model_fingerprint() -> str:
    """A short hash of the simulator's source: cached optima are tied to the model version."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def _cache_dir(cache_dir: Path | str | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("RECTUNE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "rectune"


def _sample(task: TaskDefinition, rng: np.random.Generator, around: Mapping[str, float | int],
            scale: float) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for p in task.space:
        if isinstance(p, FloatParameter | IntParameter):
            width = (p.high - p.low) * scale
            v = float(np.clip(float(around[p.name]) + rng.normal(0.0, width), p.low, p.high))
            out[p.name] = round(v) if isinstance(p, IntParameter) else round(v, 4)
    return out


def oracle_optimum(
    task: str,
    seed: int = 0,
    *,
    cache_dir: Path | str | None = None,
    budget: int = 120,
    search_users: int = 3_000,
    final_users: int = 20_000,
    days: int = 7,
) -> OracleOptimum:
    """Search for the best guardrail-respecting configuration of `task` (cached on disk).

    The search mixes wide random samples with shrinking perturbations around the incumbent,
    scored by cheap oracle runs; the best few are re-scored with a large population and the
    best one that still respects every guardrail wins. Results are cached as JSON under
    `cache_dir` (default ``$RECTUNE_CACHE_DIR`` or ``~/.cache/rectune``); the file name
    carries every search setting and a fingerprint of the simulator's source, so a changed
    model never reuses a stale optimum. With the defaults a search costs a few CPU minutes.
    """
    t = get_task(task)
    name = (
        f"oracle_optimum_{task}_s{seed}_b{budget}_d{days}_u{search_users}-{final_users}"
        f"_m{model_fingerprint()}.json"
    )
    path = _cache_dir(cache_dir) / name
    if path.exists():
        data = json.loads(path.read_text())
        return OracleOptimum(**data)
    rng = np.random.default_rng([seed, hash_seed("oracle-search", task)])
    prod = dict(t.production)
    primary = t.primary.name
    scored: list[tuple[float, dict[str, float | int], dict[str, float]]] = []
    best_cfg, best_score = prod, 0.0

    def evaluate(cfg: dict[str, float | int]) -> None:
        nonlocal best_cfg, best_score
        lifts = oracle_lifts(task, cfg, seed=seed, n_users=search_users, days=days)
        ok = feasible(t, lifts, margin=0.002)
        score = lifts[primary] if ok else -1.0
        scored.append((score, cfg, lifts))
        if score > best_score:
            best_cfg, best_score = cfg, score

    for i in range(budget):
        frac = i / budget
        if i < budget // 3:
            cfg = _sample(t, rng, prod, 0.5 if i % 2 else 0.15)
        else:
            cfg = _sample(t, rng, best_cfg, 0.2 * (1.0 - frac) + 0.02)
        evaluate(cfg)
    top = sorted(scored, key=lambda s: -s[0])[:5]
    finals: list[tuple[float, dict[str, float | int], dict[str, float]]] = []
    for _, cfg, _ in top:
        lifts = oracle_lifts(task, cfg, seed=seed, n_users=final_users, days=days)
        score = lifts[primary] if feasible(t, lifts) else -1.0
        finals.append((score, cfg, lifts))
    score, cfg, lifts = max(finals, key=lambda s: s[0])
    if score < 0:
        cfg, lifts = prod, {m: 0.0 for m in t.metric_names}
    full = {**prod, **cfg}
    result = OracleOptimum(
        task=task,
        config=full,
        lifts=lifts,
        primary_lift=lifts[primary],
        evaluations=budget + len(top),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.__dict__, indent=2))
    os.replace(tmp, path)
    return result
