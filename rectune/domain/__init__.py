"""The shared domain model: pure data and validation, no I/O.

Every part of rectune speaks in these types: parameter and metric specifications, full
configurations and deltas, candidates and their lifecycle, experiment specs and results.
"""

from __future__ import annotations

from rectune.domain.advice import ArmEvidence, LaunchAdvice
from rectune.domain.candidates import Candidate, StatusChange, utcnow
from rectune.domain.configs import Config, apply_delta, config_diff, config_key
from rectune.domain.errors import ConfigError, LifecycleError, RecTuneError, SpecError
from rectune.domain.experiments import (
    SCHEMA_VERSION,
    ArmResult,
    ArmSpec,
    ConfigFile,
    ExperimentResult,
    ExperimentSpec,
    ExperimentState,
    MetricResult,
)
from rectune.domain.lifecycle import CandidateStatus, check_transition
from rectune.domain.metrics import Direction, MetricRole, MetricSpec
from rectune.domain.parameters import (
    CategoricalParameter,
    ConfigValue,
    FloatParameter,
    IntParameter,
    ParameterSpec,
    Scale,
    SearchSpace,
)
from rectune.domain.plans import ABPlan, DurationSource, PowerSummary
from rectune.domain.review import Draft, Interval, Prediction, Verdict
from rectune.domain.rounds import Decision, Degradation, RoundRecord, RoundStatus
from rectune.domain.rules import (
    LearnedRule,
    RuleConstraint,
    RuleEvidence,
    RuleStatus,
    rules_after,
)
from rectune.domain.verdicts import GuardrailOutcome, GuardrailVerdict, arm_guardrail_outcome

__all__ = [
    "SCHEMA_VERSION",
    "ABPlan",
    "ArmEvidence",
    "ArmResult",
    "ArmSpec",
    "Candidate",
    "CandidateStatus",
    "CategoricalParameter",
    "Config",
    "ConfigError",
    "ConfigFile",
    "ConfigValue",
    "Decision",
    "Degradation",
    "Direction",
    "Draft",
    "DurationSource",
    "ExperimentResult",
    "ExperimentSpec",
    "ExperimentState",
    "FloatParameter",
    "GuardrailOutcome",
    "GuardrailVerdict",
    "IntParameter",
    "Interval",
    "LaunchAdvice",
    "LearnedRule",
    "LifecycleError",
    "MetricResult",
    "MetricRole",
    "MetricSpec",
    "ParameterSpec",
    "PowerSummary",
    "Prediction",
    "RecTuneError",
    "RoundRecord",
    "RoundStatus",
    "RuleConstraint",
    "RuleEvidence",
    "RuleStatus",
    "Scale",
    "SearchSpace",
    "SpecError",
    "StatusChange",
    "Verdict",
    "apply_delta",
    "arm_guardrail_outcome",
    "check_transition",
    "config_diff",
    "config_key",
    "rules_after",
    "utcnow",
]
