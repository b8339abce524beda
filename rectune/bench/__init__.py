"""The tuning benchmark: rectune's engine against Sobol, Optuna and Ax on the simulator.

`run_benchmark` plays every method on every task for paired seeds and scores the launched
configurations with the simulator's oracle; `summarize`, `markdown` and `plot` turn the runs
into the published numbers; `main` is the command line (``benchmarks/tuning.py``).
"""

from __future__ import annotations

from rectune.bench.cli import main, run_and_write
from rectune.bench.methods import ALL_METHODS, PEER_METHODS, make_method, method_status
from rectune.bench.report import markdown, plot, summarize
from rectune.bench.runner import BenchSettings, compute_optimum, run_benchmark, run_one
from rectune.bench.scoring import (
    PairedDifference,
    guardrail_excess,
    mean_ci,
    paired_difference,
    percent_of_optimum,
    rounds_to_reach,
)

__all__ = [
    "ALL_METHODS",
    "PEER_METHODS",
    "BenchSettings",
    "PairedDifference",
    "compute_optimum",
    "guardrail_excess",
    "main",
    "make_method",
    "markdown",
    "mean_ci",
    "method_status",
    "paired_difference",
    "percent_of_optimum",
    "plot",
    "rounds_to_reach",
    "run_and_write",
    "run_benchmark",
    "run_one",
    "summarize",
]
