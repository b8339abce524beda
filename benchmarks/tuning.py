"""Tuning benchmark: rectune's engine vs Sobol, Optuna (TPE, GP) and Ax on the simulator.

Each method gets R rounds of K arms, every round one A/B test against production on the
simulated platform, with the same world and the same traffic per seed index. The oracle
scores the configuration each method would launch after every round as a percentage of the
task's oracle optimum. Examples::

    .venv/bin/python benchmarks/tuning.py --quick
    .venv/bin/python benchmarks/tuning.py --rounds 5 --arms 4 --seeds 10 --workers 2

See docs/benchmarks.md for what is measured and the latest numbers.
"""

from __future__ import annotations

import sys

from rectune.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
