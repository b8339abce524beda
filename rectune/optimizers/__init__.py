"""The optimization engine: proposers, surrogate critic, launch recommendation, hybrid mixing.

Depends only on `rectune.domain` and the scientific Python stack. `Engine` groups everything
by the stage of a round; the modules underneath can be used on their own.
"""

from __future__ import annotations

from rectune.optimizers.acquisition import AcquisitionSettings
from rectune.optimizers.bayesian import BayesianProposer
from rectune.optimizers.critic import Assessment, Ranking, SurrogateCritic, rank_candidates
from rectune.optimizers.encoding import SpaceEncoder
from rectune.optimizers.engine import Engine
from rectune.optimizers.hybrid import SurrogateView, merge_proposals, surrogate_view
from rectune.optimizers.launch import (
    LaunchRecommendation,
    empirical_bayes_shrink,
    recommend_launch,
)
from rectune.optimizers.problem import (
    LiftEstimate,
    Observation,
    Proposal,
    TuningProblem,
    constraints_from_rules,
)
from rectune.optimizers.proposer import CandidateFilter, Proposer, SobolProposer, describe_delta
from rectune.optimizers.surrogate import (
    MetricForecast,
    SurrogateModel,
    SurrogateSettings,
)
from rectune.optimizers.transfer import transfer_observations

__all__ = [
    "AcquisitionSettings",
    "Assessment",
    "BayesianProposer",
    "CandidateFilter",
    "Engine",
    "LaunchRecommendation",
    "LiftEstimate",
    "MetricForecast",
    "Observation",
    "Proposal",
    "Proposer",
    "Ranking",
    "SobolProposer",
    "SpaceEncoder",
    "SurrogateCritic",
    "SurrogateModel",
    "SurrogateSettings",
    "SurrogateView",
    "TuningProblem",
    "constraints_from_rules",
    "describe_delta",
    "empirical_bayes_shrink",
    "merge_proposals",
    "rank_candidates",
    "recommend_launch",
    "surrogate_view",
    "transfer_observations",
]
