"""A/B platforms: the protocol agents use, and its adapters.

The protocol and power analysis live in `rectune.tools.platform` and are re-exported here.
Adapters are imported from their own modules so that depending on the protocol does not load
the simulator:

* `rectune.tools.simulated.SimulatedABPlatform` - the embedded simulator (default);
* `rectune.tools.files.FileHandoffPlatform` - a folder hand-off to people;
* `rectune.tools.aa` - A/A tests and calibration of the simulated platform.
"""

from __future__ import annotations

from rectune.tools.platform import (
    ABPlatform,
    ExperimentNotFoundError,
    ExperimentStatus,
    MetricBaseline,
    PowerPlan,
    SupportsBaselines,
    minimum_detectable_effect,
    plan_experiment,
    power_analysis,
    power_at,
)

__all__ = [
    "ABPlatform",
    "ExperimentNotFoundError",
    "ExperimentStatus",
    "MetricBaseline",
    "PowerPlan",
    "SupportsBaselines",
    "minimum_detectable_effect",
    "plan_experiment",
    "power_analysis",
    "power_at",
]
