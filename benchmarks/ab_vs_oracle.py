"""How far the simulated A/B test's measurement of one configuration is from the oracle.

Runs one control-vs-treatment test of a configuration at several sizes and prints each
metric's measured lift with its standard error next to the oracle's lift *for the same
horizon*. A well-behaved platform gives standard errors that halve when the users per arm
quadruple, and measurements within about two standard errors of the oracle.

An arm the guardrail monitor stops early covers fewer days than planned, and it stopped
because it looked bad: its numbers are short-horizon and biased away from zero. Such an arm is
compared with the oracle at the days it actually ran and printed as stopped early; comparing
it with the full-horizon oracle was the "large-population anomaly" of an earlier benchmark
note (at 99,000 users per arm the clicks guardrail stopped the arm on day 1).

    .venv/bin/python benchmarks/ab_vs_oracle.py                      # the diversity check
    .venv/bin/python benchmarks/ab_vs_oracle.py --users 8000 32000 --days 7
"""

from __future__ import annotations

import argparse
import json
import time

from rectune.bench.runner import problem_for
from rectune.domain import ArmSpec, ExperimentSpec
from rectune.simulator.oracle import oracle_lifts
from rectune.tools.simulated import SimulatedABPlatform

# A diversity configuration that rectune launched in the benchmark (seed 0), close to the
# clicks guardrail (-1%).
DIVERSITY_CONFIG = {
    "div_mmr_lambda": 0.006,
    "div_topic_cap": 6,
    "div_creator_cap": 5,
    "div_fatigue_penalty": 0.274,
    "div_fatigue_threshold": 6,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--task", default="diversity")
    p.add_argument("--config", default=json.dumps(DIVERSITY_CONFIG), help="JSON of the knobs")
    p.add_argument(
        "--users",
        type=int,
        nargs="+",
        default=[8_000, 32_000, 99_000],
        help="users per arm, one test each",
    )
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--oracle-users", type=int, default=20_000)
    args = p.parse_args()
    problem = problem_for(args.task)[0]
    config = {**problem.baseline, **json.loads(args.config)}
    metrics = [m.name for m in problem.metrics]
    t0 = time.perf_counter()
    oracles: dict[int, dict[str, float]] = {}

    def oracle(days: int) -> dict[str, float]:
        if days not in oracles:
            oracles[days] = oracle_lifts(
                args.task, config, seed=0, n_users=args.oracle_users, days=days
            )
        return oracles[days]

    full = oracle(args.days)
    print(
        f"oracle ({args.oracle_users} users, {args.days} days, "
        f"{time.perf_counter() - t0:.0f}s): " + ", ".join(f"{m} {full[m]:+.2%}" for m in metrics)
    )
    for n in args.users:
        # Two arms of 45% each; the population is sized to give n users per arm.
        population = max(int(n / 0.45), 2_000)
        platform = SimulatedABPlatform(seed=0, population=population)
        spec = ExperimentSpec(
            task=args.task,
            control=ArmSpec(name="control", config=dict(problem.baseline), traffic=0.45),
            treatments=[ArmSpec(name="arm1", config=config, traffic=0.45)],
            days=args.days,
            metrics=metrics,
            salt=f"ab-vs-oracle:{n}",
        )
        t0 = time.perf_counter()
        arm = platform.results(platform.launch(spec, f"ab-vs-oracle:{n}")).arm("arm1")
        truth = oracle(arm.days_run) if arm.days_run else full
        cells = []
        for m in metrics:
            r = arm.metrics[m]
            z = (r.relative_lift - truth[m]) / max(r.standard_error, 1e-12)
            cells.append(f"{m} {r.relative_lift:+.2%} ± {r.standard_error:.2%} (z {z:+.1f})")
        horizon = (
            f"STOPPED EARLY after {arm.days_run} of {arm.days_planned} days, vs the "
            f"{arm.days_run}-day oracle" if arm.stopped_early else f"{arm.days_run} days"
        )
        print(
            f"A/B {n} users/arm, {horizon} ({time.perf_counter() - t0:.0f}s): "
            + ", ".join(cells)
        )


if __name__ == "__main__":
    main()
