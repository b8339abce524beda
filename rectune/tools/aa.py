"""A/A tests and calibration of the simulated platform (what `rectune sim ...` prints).

Every number here comes from real launches on `SimulatedABPlatform`: a fresh salt (a new
split and new behavioural randomness) and a fresh block of user ids per run, through launch,
assignment, the daily monitor and the analysis - never by re-splitting one simulated
population, whose shared outcomes would make runs dependent and hide the monitor.

`calibrate` reports, each with a 95% Clopper-Pearson interval:

* the A/A false-positive rate per metric (raw p < 0.05) and of the Holm family;
* planned versus realised power of the flag people read (the primary's Holm-corrected
  `significant`, over a good arm and a null arm) at the planned MDE, the true lift of the good
  arm (from `oracle_estimate`: independent oracle blocks, so the truth comes with its own
  standard error, and the planned power with the interval that error implies);
* coverage of the 95% intervals of the oracle lift, per metric;
* the guardrail non-inferiority error at the threshold (a spec threshold placed exactly at
  the arm's true lift: how often the verdict wrongly says `passed`), and the monitor's false
  stops there;
* the monitor's stop rate for an arm 3 standard errors past a threshold.

`calibrate_power` and `calibrate_guardrails` run one part each. All functions return plain
JSON-able dicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
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
from rectune.simulator.oracle import oracle_estimate
from rectune.simulator.tasks import get_task
from rectune.tools.platform import MetricBaseline, power_analysis, power_at
from rectune.tools.simulated import SimulatedABPlatform

__all__ = [
    "GUARD_PROBE",
    "POWER_PROBE",
    "QUICK_POWER_PROBE",
    "SCALES",
    "Probe",
    "Scale",
    "binomial_rate",
    "calibrate",
    "calibrate_guardrails",
    "calibrate_power",
    "run_aa",
]

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
class Probe:
    """A configuration with a known (oracle) effect used by the calibration.

    Attributes:
        task: Task whose knobs `config` sets.
        config: The configuration.
        metric: The metric the probe is judged on (power: the spec's primary; None: the
            task's primary).
    """

    task: str
    config: dict[str, float | int]
    metric: str | None = None


_Probe = Probe  # the older private name

POWER_PROBE = Probe("diversity", {"div_fatigue_penalty": 0.4})
"""Default good arm for power and coverage: a stronger fatigue penalty (topic diversity
about +2.3% over 3 days)."""

QUICK_POWER_PROBE = Probe(
    "value_fusion", {"vf_w_click": 2.0, "vf_w_dwell": 0.2}, metric="topic_diversity"
)
"""A cheap good arm for the same per-user-over-active-days metric: the click-heavy fusion
raises topic diversity by about 15% over 3 days, so a powered test needs a few hundred users
per arm instead of 18,000 and hundreds of launches fit in a test run. (A clicks probe was
tried: its oracle truth is too noisy - a few heavy users carry the clicks - to place an
effect to within the 5-point power criterion.)"""

GUARD_PROBE = Probe("value_fusion", {"vf_w_click": 2.0, "vf_w_dwell": 0.0})
"""Default harmful arm for guardrail checks: a click-heavy fusion that loses dwell (about
-21% over 3 days) - far enough from zero that a threshold 3 final standard errors short of
it is still a drop at a few thousand users per arm."""

GUARD_METRIC = "dwell_time"


def _baseline(seed: int, pre_days: int, task: str, days: int, metric: str) -> MetricBaseline:
    probe = SimulatedABPlatform(seed=seed, population=100_000, pre_days=pre_days)
    return probe.baselines(task, days)[metric]


def _z_interval(mean: float, se: float) -> tuple[float, float]:
    return mean - 1.96 * se, mean + 1.96 * se


def calibrate(
    seed: int = 0,
    *,
    runs: int = 300,
    aa_runs: int = 1_000,
    aa_scale: str | Scale = "medium",
    days: int = 3,
    pre_days: int = 2,
    oracle_users: int = 160_000,
    oracle_blocks: int = 8,
    guard_users: int = 4_000,
    power_runs: int | None = 400,
    power_days: int | None = None,
    power_pre_days: int | None = None,
    power_probe: Probe = QUICK_POWER_PROBE,
    guard_probe: Probe = GUARD_PROBE,
    guard_metric: str = GUARD_METRIC,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Calibrate the platform's statistics through real launches with fresh salts and users.

    The true lifts the checks place effects at come from `oracle_estimate` (independent
    blocks of oracle users, common random numbers inside a block) with their own standard
    error, and the planned power is reported with the interval that error implies: an
    oracle that is off by a few tenths of a point moves the power at 80% by several points
    (that, not the plan, was most of the gap an earlier 16,000-user oracle showed).

    Args:
        seed: World seed.
        runs: Launches for each guardrail check (and for power/coverage unless
            `power_runs` is given).
        aa_runs: A/A launches.
        aa_scale: Size of each A/A launch.
        days: Experiment days of the power and guardrail launches.
        pre_days: Pre-period days.
        oracle_users: Oracle users (over all blocks) for each true lift.
        oracle_blocks: Independent oracle blocks (for the oracle's standard error).
        guard_users: Users per arm of the guardrail launches.
        power_runs: Launches for power and coverage (None: `runs`). 400 by default: the
            binomial error of a rate near 80% is then 2 points, small against the 5-point
            criterion.
        power_days: Experiment days of the power launches (default `days`).
        power_pre_days: Pre-period days of the power launches (default `pre_days`).
        power_probe: The good arm of the power launches. The default is the cheap probe
            (a few hundred users per arm); `POWER_PROBE` is the realistic +2.3% diversity
            effect, which needs 18,000 users per arm and about 7 s per launch.
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
    pc = calibrate_power(
        seed,
        power_probe,
        runs=power_runs or runs,
        days=power_days or days,
        pre_days=pre_days if power_pre_days is None else power_pre_days,
        oracle_users=oracle_users,
        oracle_blocks=oracle_blocks,
        progress=progress,
    )
    power, coverage = pc["power"], pc["coverage"]

    guards = calibrate_guardrails(
        seed,
        guard_probe,
        guard_metric=guard_metric,
        runs=runs,
        users=guard_users,
        days=days,
        pre_days=pre_days,
        oracle_users=oracle_users,
        oracle_blocks=oracle_blocks,
        progress=progress,
    )
    return {
        "seed": seed,
        "days": days,
        "pre_days": pre_days,
        "aa": aa,
        "power": power,
        "coverage": coverage,
        **guards,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def calibrate_guardrails(
    seed: int = 0,
    probe: Probe = GUARD_PROBE,
    *,
    guard_metric: str = GUARD_METRIC,
    runs: int = 300,
    users: int = 4_000,
    days: int = 3,
    pre_days: int = 2,
    oracle_users: int = 160_000,
    oracle_blocks: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Guardrail verdict error at the threshold and the monitor's stops, through launches.

    A spec guardrail is placed exactly at the probe's oracle lift (the verdict's null):
    how often `passed` comes out is the non-inferiority error, how often the monitor stops
    the arm its false-stop rate. Then the threshold is moved 3 final standard errors towards
    zero (the arm is clearly past it): how often the monitor stops it.

    Returns:
        ``{"guardrail_at_threshold": {...}, "monitor_past_limit": {...}}``.
    """

    def tick(section: str, total: int) -> Callable[[int], None]:
        return lambda done: progress(section, done, total) if progress else None

    gtask = get_task(probe.task)
    gest = oracle_estimate(
        gtask.name, probe.config, seed=seed, n_users=oracle_users, blocks=oracle_blocks,
        days=days, pre_days=pre_days,
    )
    lift = gest.lifts[guard_metric]
    if lift >= 0:
        raise ValueError(
            f"guard probe {probe.config}: {guard_metric} lift {lift:+.2%} must be negative"
        )
    gbase = _baseline(seed, pre_days, gtask.name, days, guard_metric)
    se = gbase.cv * ((1 + (1 + lift) ** 2) / (users * gbase.coverage)) ** 0.5
    at_limit = _guard_runs(seed, pre_days, gtask.name, probe.config, guard_metric,
                           lift, users, days, runs, "at-limit", tick("at_limit", runs))
    past = None
    if lift + 3 * se <= 0:
        past = _guard_runs(seed, pre_days, gtask.name, probe.config, guard_metric,
                           lift + 3 * se, users, days, runs, "past", tick("past", runs))
    return {
        "guardrail_at_threshold": {
            "metric": guard_metric,
            "config": probe.config,
            "oracle_lift": lift,
            "oracle_se": gest.se[guard_metric],
            "oracle_error_in_final_se": gest.se[guard_metric] / se,
            "threshold": lift,
            "users_per_arm": users,
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
    }


def calibrate_power(
    seed: int = 0,
    probe: Probe = POWER_PROBE,
    *,
    runs: int = 300,
    days: int = 3,
    pre_days: int = 2,
    oracle_users: int = 160_000,
    oracle_blocks: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Planned vs realised power of the primary flag at the probe's true lift; coverage.

    The plan is sized at the MDE equal to the probe's oracle lift, for the flag the platform
    computes: Holm over the good and a null arm (family of 2), the users who contribute to
    the metric, the CUPED-adjusted spread of the pilot. Besides the plan at the oracle lift
    the report gives the plan's power over the oracle's 95% interval and at the mean lift
    the launches measured, so a gap can be told apart from an imprecise truth.

    Returns:
        ``{"power": {...}, "coverage": {...}}``.
    """

    def note(done: int) -> None:
        if progress is not None:
            progress("power", done, runs)

    task = get_task(probe.task)
    names = task.metric_names
    primary_name = probe.metric or task.primary.name
    if primary_name not in names:
        raise ValueError(
            f"power probe metric {primary_name!r}: not a metric of task {task.name!r}; "
            f"allowed: {names}"
        )
    est = oracle_estimate(
        task.name, probe.config, seed=seed, n_users=oracle_users, blocks=oracle_blocks,
        days=days, pre_days=pre_days,
    )
    truth = est.lifts
    direction = task.metric(primary_name).direction
    base = _baseline(seed, pre_days, task.name, days, primary_name)
    mde = abs(truth[primary_name])
    users = power_analysis(base, mde, alpha=ALPHA, power=0.8, tests=2).users_per_arm
    planned = power_at(base, mde, users, alpha=ALPHA, tests=2)
    lo, hi = _z_interval(mde, est.se[primary_name])
    band = [power_at(base, max(lo, 1e-9), users, alpha=ALPHA, tests=2),
            power_at(base, hi, users, alpha=ALPHA, tests=2)]
    # Report-only roles: no guardrail here, so no arm stops and every run is full-horizon.
    specs = [
        MetricSpec(
            name=m,
            role=MetricRole.PRIMARY if m == primary_name else MetricRole.SECONDARY,
            direction=direction if m == primary_name else task.metric(m).direction,
        )
        for m in names
    ]
    primary = specs[names.index(primary_name)]
    launcher = _Launcher(seed, pre_days, "power")
    flagged = raw = 0
    lifts: list[float] = []
    covered = dict.fromkeys(names, 0)
    null_covered = dict.fromkeys(names, 0)
    counted = dict.fromkeys(names, 0)
    for r in range(runs):
        res = launcher.run(task.name, {"good": probe.config, "null": {}}, 0.3, users, days, specs)
        good, null = res.arm("good"), res.arm("null")
        g = good.metrics[primary_name]
        right_way = primary.goodness(g.relative_lift) > 0
        flagged += g.significant and right_way
        raw += g.p_value < ALPHA and right_way
        lifts.append(g.relative_lift)
        for m in names:
            if m in good.metrics and m in null.metrics:
                counted[m] += 1
                covered[m] += good.metrics[m].ci_low <= truth[m] <= good.metrics[m].ci_high
                null_covered[m] += null.metrics[m].ci_low <= 0.0 <= null.metrics[m].ci_high
        note(r + 1)
    arr = np.asarray(lifts)
    power = {
        "task": task.name,
        "config": probe.config,
        "metric": primary_name,
        "mde": mde,
        "oracle_lift": truth[primary_name],
        "oracle_se": est.se[primary_name],
        "oracle_users": est.blocks * est.users_per_block,
        "oracle_blocks": est.blocks,
        "days": days,
        "pre_days": pre_days,
        "users_per_arm": users,
        "arms": 2,
        "holm_family": 2,
        "planned": planned,
        "planned_interval_from_oracle_error": band,
        "realised_flag": binomial_rate(flagged, runs),
        "planned_raw": power_at(base, mde, users, alpha=ALPHA),
        "realised_raw": binomial_rate(raw, runs),
        "gap_points": round(100 * (flagged / runs - planned), 2),
        "mean_measured_lift": float(arr.mean()),
        "mean_measured_lift_se": float(arr.std(ddof=1) / np.sqrt(arr.size)) if runs > 1 else None,
        "planned_se_at_mde": base.cv * (
            (1 + (1 + mde) ** (2 * base.spread_elasticity)) / (users * base.coverage)
        ) ** 0.5,
        "spread_elasticity": base.spread_elasticity,
        "spread_of_measured_lift": float(arr.std(ddof=1)) if runs > 1 else None,
        "planned_at_measured_lift": power_at(
            base, max(abs(float(arr.mean())), 1e-9), users, alpha=ALPHA, tests=2
        ),
    }
    coverage = {
        "users_per_arm": users,
        "oracle_lift": truth,
        "oracle_se": est.se,
        "good_arm": {m: binomial_rate(covered[m], counted[m]) for m in names},
        "null_arm": {m: binomial_rate(null_covered[m], counted[m]) for m in names},
    }
    return {"power": power, "coverage": coverage}


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
