"""The default world's calibration figures and the shipped optima in standard errors.

Prints what `docs/simulator.md` tabulates under "Calibration of the world": click-through
rate, pages per active user-day, the spread and concentration of dwell over users, the CUPED
correlations between the pre-period and the test, churn, the production means, one standard
error of a relative lift per metric at the default traffic (12,000 users per arm, 7 days,
after CUPED, over the users who contribute) and how many of those standard errors separate
production from each cached optimum (`rectune/simulator/optima.json`). Run with::

    .venv/bin/python benchmarks/world_calibration.py [--users 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np


def main() -> None:
    """Simulate production on oracle users and print the calibration figures."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from rectune.simulator.metrics import Col
    from rectune.simulator.optimum import load_optima
    from rectune.simulator.oracle import DEFAULT_PRE_DAYS, ORACLE_USER_OFFSET, _sim
    from rectune.simulator.population import population_means, run_cohort
    from rectune.simulator.tasks import TASKS, production_stack
    from rectune.tools.simulated import SimulatedABPlatform

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    sim = _sim(args.seed)
    ids = np.arange(args.users, dtype=np.int64) + ORACLE_USER_OFFSET
    cohort = run_cohort(sim, ids, production_stack(), args.days, seed=args.seed,
                        pre_days=DEFAULT_PRE_DAYS)
    exp, pre = cohort.aggregates["exp"], cohort.aggregates["pre"]
    active = exp[:, Col.ACTIVE_DAYS]
    days = np.maximum(exp[:, Col.DAYS], 1.0)
    dwell = exp[:, Col.DWELL] / days
    order = np.sort(exp[:, Col.DWELL])[::-1]
    total = max(order.sum(), 1e-12)
    pages = exp[active > 0, Col.REQUESTS] / active[active > 0]

    def corr(col: Col) -> float:
        ok = (exp[:, Col.DAYS] > 0) & (pre[:, Col.DAYS] > 0)
        a = exp[ok, col] / exp[ok, Col.DAYS]
        b = pre[ok, col] / pre[ok, Col.DAYS]
        return float(np.corrcoef(a, b)[0, 1])

    platform = SimulatedABPlatform(seed=args.seed)
    per_arm = round(platform.population * 0.1)
    se: dict[str, float] = {}
    for task in TASKS:
        for name, base in platform.baselines(task, args.days).items():
            se[name] = base.cv * math.sqrt(2.0 / (per_arm * base.coverage))
    optima = load_optima()
    in_se = {
        task: {
            "metric": entry["primary_metric"],
            "lift": entry["primary_lift"],
            "standard_errors": entry["primary_lift"] / se[entry["primary_metric"]],
        }
        for task, entry in optima["tasks"].items()
    }
    out = {
        "users": args.users,
        "days": args.days,
        "click_through_rate": float(exp[:, Col.CLICKS].sum() / exp[:, Col.IMPRESSIONS].sum()),
        "pages_per_active_user_day": float(pages.mean()),
        "pages_per_active_user_day_p99": float(np.quantile(pages, 0.99)),
        "dwell_per_user_day_cv": float(dwell.std() / dwell.mean()),
        "dwell_share_top_1pct": float(order[: max(1, len(order) // 100)].sum() / total),
        "dwell_share_top_10pct": float(order[: max(1, len(order) // 10)].sum() / total),
        "cuped_correlation": {
            "dwell_time": corr(Col.DWELL),
            "clicks": corr(Col.CLICKS),
            "retention": corr(Col.ACTIVE_DAYS),
        },
        "churned_share": float(cohort.churned.mean()),
        "production_means": population_means(cohort),
        "users_per_arm": per_arm,
        "relative_lift_se": se,
        "optima_in_se": in_se,
        "optima_model_fingerprint": optima["model_fingerprint"],
    }
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for key, value in out.items():
        print(f"{key:>32}: {value}")


if __name__ == "__main__":
    main()
