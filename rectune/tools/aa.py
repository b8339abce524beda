"""A/A tests and calibration of the simulated platform (what `rectune sim ...` prints).

Every number here comes from real launches on `SimulatedABPlatform`: a fresh salt (a new
split and new behavioural randomness) and a fresh block of user ids per run, through launch,
assignment, the daily monitor and the analysis - never by re-splitting one simulated
population, whose shared outcomes would make runs dependent and hide the monitor.

`calibrate` reports, each with a 95% Clopper-Pearson interval:

* the A/A false-positive rate per metric (raw p < 0.05) and of the Holm family;
* planned versus realised power of the flag people read (the primary's Holm-corrected
  `significant`, over a good arm and a null arm) at the planned MDE, the true lift of the good
  arm (from the oracle);
* coverage of the 95% intervals of the oracle lift, per metric;
* the guardrail non-inferiority error at the threshold (a spec threshold placed exactly at
  the arm's true lift: how often the verdict wrongly says `passed`), and the monitor's false
  stops there;
* the monitor's stop rate for an arm 3 standard errors past a threshold.

All functions return plain JSON-able dicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

from rectune.domain import (
    ArmResult,
    ArmSpec,
    Direction,
    ExperimentResult,
    ExperimentSpec,
    GuardrailOutcome,
    MetricRole,
    MetricSpec,
)
from rectune.simulator.metrics import METRICS
from rectune.simulator.oracle import oracle_lifts
from rectune.simulator.tasks import get_task
from rectune.tools.platform import MetricBaseline, power_analysis, power_at
from rectune.tools.simulated import SimulatedABPlatform

__all__ = ["SCALES", "Scale", "binomial_rate", "calibrate", "run_aa"]

ALPHA = 0.05

REGION = 2_000_000
"""Each calibration section draws fresh users from its own block of this many ids, from
1,000,000 on: clear of the default population and of the oracle's ids (10,000,000 on)."""

_SECTIONS = {"aa": 0, "power": 1, "guard-at-limit": 2, "guard-past": 3}


@dataclass(frozen=True)
class Scale:
    """Size of an A/A calibration run.

    Attributes:
        users: Users per A/A experiment (split in two arms of half each).
        days: Experiment days.
        pre_days: Pre-period days (CUPED covariate).
    """

    users: int
    days: int
    pre_days: int


SCALES: dict[str, Scale] = {
    "small": Scale(users=1_000, days=2, pre_days=1),
    "medium": Scale(users=2_000, days=3, pre_days=2),
    "default": Scale(users=4_000, days=7, pre_days=2),
}
"""Named scales: `small` is what the fast tests use."""


def _scale(scale: str | Scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; allowed: {sorted(SCALES)}")
    return SCALES[scale]


def binomial_rate(hits: int, runs: int) -> dict[str, float | int]:
    """A rate with its 95% Clopper-Pearson interval, as printed by `rectune sim calibrate`."""
    if runs < 1:
        return {"rate": float("nan"), "ci_low": 0.0, "ci_high": 1.0, "hits": hits, "runs": runs}
    ci = sps.binomtest(hits, runs).proportion_ci(0.95, method="exact")
    return {
        "rate": hits / runs,
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "hits": hits,
        "runs": runs,
    }


class _Launcher:
    """Real launches with a fresh salt and a fresh block of users each."""

    def __init__(self, seed: int, pre_days: int, label: str) -> None:
        self.seed = seed
        self.pre_days = pre_days
        self.label = label
        self.first = 1_000_000 + _SECTIONS[label] * REGION
        self.next_user = self.first
        self.count = 0

    def run(
        self,
        task: str,
        arms: Mapping[str, Mapping[str, float | int]],
        traffic: float,
        users: int,
        days: int,
        metrics: Sequence[MetricSpec] | Sequence[str],
    ) -> ExperimentResult:
        population = max(round(users / traffic), 100)
        if self.next_user + population > self.first + REGION:
            self.next_user = self.first  # wrap: a reused block still gets a fresh salt
        platform = SimulatedABPlatform(
            seed=self.seed,
            population=population,
            pre_days=self.pre_days,
            first_user=self.next_user,
            pilot_users=2_000,
        )
        self.next_user += population
        specs = [m for m in metrics if isinstance(m, MetricSpec)]
        names = [m for m in metrics if isinstance(m, str)]
        spec = ExperimentSpec(
            task=task,
            days=days,
            control=ArmSpec(name="control", config={}, traffic=traffic),
            treatments=[ArmSpec(name=n, config=dict(c), traffic=traffic) for n, c in arms.items()],
            metrics=names,
            metric_specs=specs,
            salt=f"{self.label}:{self.seed}:{self.count}",
        )
        key = f"calibrate:{self.label}:{self.seed}:{self.count}"
        self.count += 1
        return platform.results(platform.launch(spec, key))


def run_aa(
    runs: int = 400,
    seed: int = 0,
    scale: str | Scale = "small",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run `runs` A/A experiments through real launches; false-positive rate per metric.

    Args:
        runs: Number of A/A experiments (each a fresh salt and fresh users).
        seed: Seed of the world.
        scale: A name from `SCALES` or a `Scale`.
        progress: Called with the number of runs done.

    Returns:
        ``{"runs", "alpha", "users", "days", "pre_days", "seed", "false_positive_rate":
        {metric: {"rate", "ci_low", "ci_high", ...}}, "family_wise_rate_holm",
        "srm_alarm_rate", "seconds"}``.
    """
    if runs < 1:
        raise ValueError(f"runs={runs}: must be >= 1")
    sc = _scale(scale)
    start = time.perf_counter()
    launcher = _Launcher(seed, sc.pre_days, "aa")
    metrics = list(METRICS)
    hits = dict.fromkeys(metrics, 0)
    counted = dict.fromkeys(metrics, 0)
    family = srm = 0
    for r in range(runs):
        res = launcher.run("aa", {"treatment": {}}, 0.5, sc.users // 2, sc.days, metrics)
        arm = res.arms[0]
        for m, mr in arm.metrics.items():
            counted[m] += 1
            hits[m] += mr.p_value < ALPHA
        family += any(mr.significant for mr in arm.metrics.values())
        srm += res.srm_detected
        if progress is not None:
            progress(r + 1)
    return {
        "runs": runs,
        "alpha": ALPHA,
        "users": sc.users,
        "days": sc.days,
        "pre_days": sc.pre_days,
        "seed": seed,
        "false_positive_rate": {m: binomial_rate(hits[m], counted[m]) for m in metrics},
        "family_wise_rate_holm": binomial_rate(family, runs),
        "srm_alarm_rate": binomial_rate(srm, runs),
        "seconds": round(time.perf_counter() - start, 2),
    }


@dataclass(frozen=True)
class _Probe:
    """A configuration with a known (oracle) effect used by the calibration."""

    task: str
    config: dict[str, float | int]


POWER_PROBE = _Probe("diversity", {"div_fatigue_penalty": 0.4})
"""Default good arm for power and coverage: a stronger fatigue penalty (topic diversity
about +2.8% over 3 days)."""

GUARD_PROBE = _Probe("value_fusion", {"vf_w_click": 2.0, "vf_w_dwell": 0.2})
"""Default harmful arm for guardrail checks: a click-heavy fusion that loses dwell (about
-8% over 3 days)."""

GUARD_METRIC = "dwell_time"


def _baseline(seed: int, pre_days: int, task: str, days: int, metric: str) -> MetricBaseline:
    probe = SimulatedABPlatform(seed=seed, population=100_000, pre_days=pre_days)
    return probe.baselines(task, days)[metric]


def calibrate(
    seed: int = 0,
    *,
    runs: int = 300,
    aa_runs: int = 1_000,
    aa_scale: str | Scale = "medium",
    days: int = 3,
    pre_days: int = 2,
    oracle_users: int = 20_000,
    guard_users: int = 4_000,
    power_probe: _Probe = POWER_PROBE,
    guard_probe: _Probe = GUARD_PROBE,
    guard_metric: str = GUARD_METRIC,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Calibrate the platform's statistics through real launches with fresh salts and users.

    Args:
        seed: World seed.
        runs: Launches for each of power/coverage, the threshold check and the 3-SE check.
        aa_runs: A/A launches.
        aa_scale: Size of each A/A launch.
        days: Experiment days of the power and guardrail launches.
        pre_days: Pre-period days.
        oracle_users: Oracle population for the true lifts.
        guard_users: Users per arm of the guardrail launches.
        power_probe: The good arm of the power launches.
        guard_probe: The arm of the guardrail launches (it must lower `guard_metric`).
        guard_metric: A metric that should increase, used as the guardrail.
        progress: Called as ``progress(section, done, total)``.

    Returns:
        JSON-able sections ``aa``, ``power``, ``coverage``, ``guardrail_at_threshold``,
        ``monitor_past_limit``, each rate with its 95% binomial interval.
    """
    t0 = time.perf_counter()

    def tick(section: str, total: int) -> Callable[[int], None]:
        return lambda done: progress(section, done, total) if progress else None

    aa = run_aa(aa_runs, seed, aa_scale, progress=tick("aa", aa_runs))

    # --- power of the flag people read, and coverage ------------------------------------
    task = get_task(power_probe.task)
    primary = task.primary
    truth = oracle_lifts(
        task.name, power_probe.config, seed=seed, n_users=oracle_users, days=days,
        pre_days=pre_days,
    )
    base = _baseline(seed, pre_days, task.name, days, primary.name)
    mde = abs(truth[primary.name])
    users = power_analysis(base, mde, alpha=ALPHA, power=0.8, tests=2).users_per_arm
    planned = power_at(base, mde, users, alpha=ALPHA, tests=2)
    # Report-only roles: no guardrail here, so no arm stops and every run is full-horizon.
    specs = [
        MetricSpec(name=m.name, role=MetricRole.PRIMARY if m is primary else MetricRole.SECONDARY,
                   direction=m.direction)
        for m in task.metrics
    ]
    launcher = _Launcher(seed, pre_days, "power")
    flagged = raw = 0
    covered = dict.fromkeys(task.metric_names, 0)
    null_covered = dict.fromkeys(task.metric_names, 0)
    counted = dict.fromkeys(task.metric_names, 0)
    note = tick("power", runs)
    for r in range(runs):
        res = launcher.run(
            task.name, {"good": power_probe.config, "null": {}}, 0.3, users, days, specs
        )
        good, null = res.arm("good"), res.arm("null")
        g = good.metrics[primary.name]
        flagged += g.significant and primary.goodness(g.relative_lift) > 0
        raw += g.p_value < ALPHA and primary.goodness(g.relative_lift) > 0
        for m in task.metric_names:
            if m in good.metrics and m in null.metrics:
                counted[m] += 1
                covered[m] += good.metrics[m].ci_low <= truth[m] <= good.metrics[m].ci_high
                null_covered[m] += null.metrics[m].ci_low <= 0.0 <= null.metrics[m].ci_high
        note(r + 1)
    power = {
        "task": task.name,
        "config": power_probe.config,
        "metric": primary.name,
        "mde": mde,
        "oracle_lift": truth[primary.name],
        "users_per_arm": users,
        "arms": 2,
        "holm_family": 2,
        "planned": planned,
        "realised_flag": binomial_rate(flagged, runs),
        "planned_raw": power_at(base, mde, users, alpha=ALPHA),
        "realised_raw": binomial_rate(raw, runs),
        "gap_points": round(100 * (flagged / runs - planned), 2),
    }
    coverage = {
        "users_per_arm": users,
        "oracle_lift": truth,
        "good_arm": {m: binomial_rate(covered[m], counted[m]) for m in task.metric_names},
        "null_arm": {m: binomial_rate(null_covered[m], counted[m]) for m in task.metric_names},
    }

    # --- guardrail verdicts and the monitor --------------------------------------------
    gtask = get_task(guard_probe.task)
    gtruth = oracle_lifts(
        gtask.name, guard_probe.config, seed=seed, n_users=oracle_users, days=days,
        pre_days=pre_days,
    )
    lift = gtruth[guard_metric]
    if lift >= 0:
        raise ValueError(
            f"guard probe {guard_probe.config}: {guard_metric} lift {lift:+.2%} must be negative"
        )
    gbase = _baseline(seed, pre_days, gtask.name, days, guard_metric)
    se = gbase.cv * ((1 + (1 + lift) ** 2) / (guard_users * gbase.coverage)) ** 0.5
    at_limit = _guard_runs(seed, pre_days, gtask.name, guard_probe.config, guard_metric,
                           lift, guard_users, days, runs, "at-limit", tick("at_limit", runs))
    past = None
    if lift + 3 * se <= 0:
        past = _guard_runs(seed, pre_days, gtask.name, guard_probe.config, guard_metric,
                           lift + 3 * se, guard_users, days, runs, "past", tick("past", runs))
    return {
        "seed": seed,
        "days": days,
        "pre_days": pre_days,
        "aa": aa,
        "power": power,
        "coverage": coverage,
        "guardrail_at_threshold": {
            "metric": guard_metric,
            "config": guard_probe.config,
            "oracle_lift": lift,
            "threshold": lift,
            "users_per_arm": guard_users,
            "verdict_alpha": 0.05,
            "monitor_alpha": 0.025,
            "wrongly_passed": at_limit["passed"],
            "false_stops": at_limit["flagged"],
            "stopped_before_last_day": at_limit["stopped_early"],
        },
        "monitor_past_limit": {
            "metric": guard_metric,
            "threshold": lift + 3 * se,
            "standard_errors_past": 3.0,
            "final_se": se,
            "flagged": None if past is None else past["flagged"],
            "stopped_before_last_day": None if past is None else past["stopped_early"],
            "note": None if past is not None else "probe lift too small for a 3-SE placement",
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _guard_runs(
    seed: int,
    pre_days: int,
    task: str,
    config: dict[str, float | int],
    metric: str,
    threshold: float,
    users: int,
    days: int,
    runs: int,
    label: str,
    note: Callable[[int], None],
) -> dict[str, dict[str, float | int]]:
    """Launch `config` against a spec guardrail at `threshold`: verdicts and monitor stops."""
    specs = [
        MetricSpec(name="topic_diversity", role=MetricRole.PRIMARY, direction=Direction.INCREASE),
        MetricSpec(name=metric, role=MetricRole.GUARDRAIL, direction=Direction.INCREASE,
                   guardrail_threshold=min(threshold, 0.0)),
    ]
    launcher = _Launcher(seed, pre_days, f"guard-{label}")
    passed = flagged = early = 0
    for r in range(runs):
        res = launcher.run(task, {"arm": config}, 0.5, users, days, specs)
        arm: ArmResult = res.arm("arm")
        v = arm.guardrail(metric)
        passed += v.outcome is GuardrailOutcome.PASSED
        flagged += v.outcome is GuardrailOutcome.BREACHED
        early += arm.stopped_early
        note(r + 1)
    return {
        "passed": binomial_rate(passed, runs),
        "flagged": binomial_rate(flagged, runs),
        "stopped_early": binomial_rate(early, runs),
    }
