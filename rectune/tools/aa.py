"""A/A tests and calibration of the simulated platform (what `rectune sim ...` prints).

Both functions return plain JSON-able dicts.

A/A tests give both arms production, so a user's simulated outcome does not depend on the arm
it lands in. `run_aa` therefore simulates one population once and re-randomises it with a new
salt per run - exactly what repeated A/A tests on the same users would see - and pushes every
split through the same analysis code as a real experiment.

`calibrate` measures, at a small scale, the false-positive rate, the power at a planned
minimum detectable effect, the coverage of 95% intervals against the oracle's lift, and the
simulator's speed. For power and coverage, a production pool and a treatment pool are
simulated once and each run draws fresh, disjoint-in-expectation users from them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rectune.domain import ExperimentState
from rectune.simulator.engine import Simulator
from rectune.simulator.metrics import METRICS
from rectune.simulator.oracle import oracle_lifts
from rectune.simulator.population import population_means, run_cohort
from rectune.simulator.tasks import get_task, production_stack, stack_for
from rectune.tools.analysis import ArmData, build_result, compare_metric, metric_baseline
from rectune.tools.platform import minimum_detectable_effect, power_analysis, power_at
from rectune.tools.simulated import assign_users

__all__ = ["SCALES", "Scale", "calibrate", "run_aa"]


@dataclass(frozen=True)
class Scale:
    """Size of a calibration run.

    Attributes:
        users: Users in the A/A population (split in two arms).
        days: Experiment days.
        pre_days: Pre-period days (CUPED covariate).
    """

    users: int
    days: int
    pre_days: int


SCALES: dict[str, Scale] = {
    "small": Scale(users=4_000, days=3, pre_days=1),
    "medium": Scale(users=12_000, days=5, pre_days=2),
    "default": Scale(users=12_000, days=7, pre_days=2),
}
"""Named scales: `small` is what the tests use."""


def _scale(scale: str | Scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; allowed: {sorted(SCALES)}")
    return SCALES[scale]


def run_aa(runs: int = 400, seed: int = 0, scale: str | Scale = "small") -> dict[str, Any]:
    """Run `runs` A/A experiments and report how often each metric is falsely significant.

    Args:
        runs: Number of A/A experiments (each a fresh salted split).
        seed: Seed of the world and of the users' behaviour.
        scale: A name from `SCALES` or a `Scale`.

    Returns:
        ``{"runs", "alpha", "users", "days", "false_positive_rate": {metric: rate},
        "family_wise_rate_holm", "srm_alarm_rate", "seconds"}``.
    """
    if runs < 1:
        raise ValueError(f"runs={runs}: must be >= 1")
    sc = _scale(scale)
    start = time.perf_counter()
    sim = Simulator.create(seed=seed)
    cohort = run_cohort(
        sim, np.arange(sc.users), production_stack(), sc.days, seed=seed, pre_days=sc.pre_days
    )
    exp = cohort.aggregates["exp"]
    pre = cohort.aggregates.get("pre")
    metrics = list(METRICS)
    hits = dict.fromkeys(metrics, 0)
    family = 0
    srm = 0
    alpha = 0.05
    for r in range(runs):
        a, b = assign_users(sc.users, f"aa:{seed}:{r}", [0.5, 0.5])
        control = ArmData("control", 0.5, exp[a], None if pre is None else pre[a], sc.days)
        treat = ArmData("treatment", 0.5, exp[b], None if pre is None else pre[b], sc.days)
        res = build_result(
            f"aa-{r}", "aa", ExperimentState.COMPLETED, sc.days, control, [treat], metrics
        )
        arm = res.arms[0]
        for m, mr in arm.metrics.items():
            hits[m] += mr.p_value < alpha
        family += any(mr.significant for mr in arm.metrics.values())
        srm += res.srm_detected
    return {
        "runs": runs,
        "alpha": alpha,
        "users": sc.users,
        "days": sc.days,
        "pre_days": sc.pre_days,
        "seed": seed,
        "false_positive_rate": {m: hits[m] / runs for m in metrics},
        "family_wise_rate_holm": family / runs,
        "srm_alarm_rate": srm / runs,
        "seconds": round(time.perf_counter() - start, 2),
    }


def calibrate(
    seed: int = 0,
    *,
    runs: int = 200,
    aa_runs: int = 400,
    task: str = "diversity",
    config: dict[str, float | int] | None = None,
    pool_users: int = 12_000,
    days: int = 3,
    pre_days: int = 1,
    oracle_users: int = 20_000,
    coverage_users: int = 600,
) -> dict[str, Any]:
    """Measure false-positive rate, power at the MDE, CI coverage and speed.

    Args:
        seed: World and behaviour seed.
        runs: Experiments drawn for power and coverage.
        aa_runs: A/A experiments for the false-positive rate.
        task: Task of the treatment used for power and coverage.
        config: Its configuration (default: a moderately more diverse re-ranking).
        pool_users: Users simulated per pool (control and treatment).
        days: Experiment days.
        pre_days: Pre-period days.
        oracle_users: Oracle population for the true lifts.
        coverage_users: Users per arm in each coverage run (at most a 20th of the pool, so
            runs barely share users and the pool's own noise stays small).

    Returns:
        A JSON-able dict with ``false_positive_rate``, ``power``, ``coverage`` and
        ``page_requests_per_second`` sections.
    """
    cfg = config if config is not None else {"div_mmr_lambda": 0.3, "div_topic_cap": 4}
    t = get_task(task)
    primary = t.primary.name
    aa = run_aa(aa_runs, seed, Scale(users=4_000, days=days, pre_days=pre_days))

    sim = Simulator.create(seed=seed)
    cpu0 = time.process_time()
    ctrl_pool = run_cohort(
        sim, np.arange(pool_users), production_stack(), days, seed=seed, pre_days=pre_days
    )
    treat_pool = run_cohort(
        sim,
        np.arange(pool_users, 2 * pool_users),
        stack_for(task, cfg),
        days,
        seed=seed,
        pre_days=pre_days,
    )
    cpu = time.process_time() - cpu0
    rps = (ctrl_pool.requests + treat_pool.requests) / max(cpu, 1e-9)

    truth = oracle_lifts(task, cfg, seed=seed, n_users=oracle_users, days=days, pre_days=pre_days)
    c_exp, c_pre = ctrl_pool.aggregates["exp"], ctrl_pool.aggregates.get("pre")
    t_exp, t_pre = treat_pool.aggregates["exp"], treat_pool.aggregates.get("pre")
    base = metric_baseline(primary, c_exp, c_pre, days)
    # Power is checked at the effect present in the pools the runs sample from (their own
    # lift), so the pools' finite-sample deviation from the oracle does not bias the check.
    pool_lift = population_means(treat_pool, [primary])[primary] / population_means(
        ctrl_pool, [primary]
    )[primary] - 1.0
    mde = abs(pool_lift)
    plan = power_analysis(base, mde, power=0.8)
    n = plan.users_per_arm
    if 4 * n > pool_users:
        n = pool_users // 4
    n_cov = min(pool_users // 20, coverage_users)
    rng = np.random.default_rng([seed, 99])
    detected = 0
    covered = dict.fromkeys(t.metric_names, 0)
    counted = dict.fromkeys(t.metric_names, 0)
    for _ in range(runs):
        a = rng.choice(pool_users, n, replace=False)
        b = rng.choice(pool_users, n, replace=False)
        ctrl = ArmData("control", 0.5, c_exp[a], None if c_pre is None else c_pre[a], days)
        trt = ArmData("treatment", 0.5, t_exp[b], None if t_pre is None else t_pre[b], days)
        cmp = compare_metric(primary, ctrl, trt)
        detected += bool(cmp.p_value < 0.05 and np.sign(cmp.lift) == np.sign(pool_lift))
        a = rng.choice(pool_users, n_cov, replace=False)
        b = rng.choice(pool_users, n_cov, replace=False)
        ctrl = ArmData("control", 0.5, c_exp[a], None if c_pre is None else c_pre[a], days)
        trt = ArmData("treatment", 0.5, t_exp[b], None if t_pre is None else t_pre[b], days)
        for m in t.metric_names:
            try:
                c = compare_metric(m, ctrl, trt)
            except ValueError:
                continue
            low, high = c.ci
            counted[m] += 1
            covered[m] += bool(low <= truth[m] <= high)
    planned_power = 0.8 if n == plan.users_per_arm else power_at(base, mde, int(n))
    return {
        "seed": seed,
        "days": days,
        "pre_days": pre_days,
        "false_positive_rate": aa["false_positive_rate"],
        "family_wise_rate_holm": aa["family_wise_rate_holm"],
        "power": {
            "task": task,
            "config": cfg,
            "metric": primary,
            "mde": mde,
            "oracle_lift": truth[primary],
            "users_per_arm": int(n),
            "planned": planned_power,
            "observed": detected / runs,
            "runs": runs,
            "mde_at_users": minimum_detectable_effect(base, int(n)),
        },
        "coverage": {
            "users_per_arm": int(n_cov),
            "runs": runs,
            "oracle_lift": truth,
            "rate": {m: covered[m] / counted[m] for m in t.metric_names if counted[m]},
        },
        "page_requests_per_second": round(rps),
    }
