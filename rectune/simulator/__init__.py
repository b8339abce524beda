"""The embedded multi-stage recommender simulator (the default experiment backend).

Agents never import this package: they reach it only through an A/B platform
(`rectune.tools.simulated.SimulatedABPlatform`). Benchmarks may use the oracle.

Example:
    >>> from rectune.simulator import get_task
    >>> get_task("diversity").primary.name
    'topic_diversity'
"""

from __future__ import annotations

from rectune.simulator.engine import Cohort, Simulator
from rectune.simulator.knobs import KNOBS, StackConfig, stack_config
from rectune.simulator.metrics import METRICS, MetricDef, MetricKind
from rectune.simulator.oracle import OracleOptimum, feasible, oracle_lifts, oracle_optimum
from rectune.simulator.parts import WorldParts
from rectune.simulator.population import population_means, run_cohort
from rectune.simulator.tasks import (
    PRODUCTION,
    TASKS,
    TaskDefinition,
    full_config,
    get_task,
    production_stack,
    stack_for,
)
from rectune.simulator.world import World, WorldParams, make_world

__all__ = [
    "KNOBS",
    "METRICS",
    "PRODUCTION",
    "TASKS",
    "Cohort",
    "MetricDef",
    "MetricKind",
    "OracleOptimum",
    "Simulator",
    "StackConfig",
    "TaskDefinition",
    "World",
    "WorldParams",
    "WorldParts",
    "feasible",
    "full_config",
    "get_task",
    "make_world",
    "oracle_lifts",
    "oracle_optimum",
    "population_means",
    "production_stack",
    "run_cohort",
    "stack_config",
    "stack_for",
]
