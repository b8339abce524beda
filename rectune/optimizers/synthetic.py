"""Small synthetic worlds with known optima, to test and calibrate the engine without the simulator.

A `SyntheticWorld` knows the true relative lift of every metric for any configuration and
returns noisy, heteroscedastic A/B observations of it: each arm's standard error depends on its
traffic share and on a random per-arm factor, as with real arms that run under different
conditions. `run_loop` plays a proposer against a world for a few rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rectune.domain import Config, ConfigValue, FloatParameter, MetricSpec, SearchSpace
from rectune.optimizers.problem import LiftEstimate, Observation, TuningProblem
from rectune.optimizers.proposer import Proposer

__all__ = ["SyntheticWorld", "quadratic_bowl", "run_loop"]

LiftFunction = Callable[[Mapping[str, ConfigValue]], float]


@dataclass(frozen=True)
class SyntheticWorld:
    """A tuning problem whose true lifts are known functions of the configuration.

    Attributes:
        problem: The problem the engine sees.
        lifts: True relative lift of each metric (zero at the baseline).
        noise: Standard error of each metric's lift for an arm with 10% of traffic.
        optimum: The best feasible configuration (known by construction).
    """

    problem: TuningProblem
    lifts: Mapping[str, LiftFunction]
    noise: Mapping[str, float]
    optimum: Config

    def true_lifts(self, config: Mapping[str, ConfigValue]) -> dict[str, float]:
        """The noiseless relative lift of every metric."""
        return {name: f(config) for name, f in self.lifts.items()}

    def true_objective(self, config: Mapping[str, ConfigValue]) -> float:
        """The noiseless objective, or minus infinity if a guardrail is truly breached."""
        lifts = self.true_lifts(config)
        if not self.problem.guardrails_hold(lifts):
            return float("-inf")
        return self.problem.objective(lifts)

    def observe(
        self,
        config: Config,
        rng: np.random.Generator,
        *,
        round: int = 0,
        traffic: float = 0.1,
        candidate_id: str | None = None,
    ) -> Observation:
        """A noisy A/B observation of `config` against the baseline."""
        factor = float(rng.uniform(0.6, 1.8)) * float(np.sqrt(0.1 / traffic))
        metrics = {}
        for name, lift in self.true_lifts(config).items():
            se = self.noise[name] * factor
            metrics[name] = LiftEstimate(lift=float(lift + rng.normal(0.0, se)), se=se)
        return Observation(
            config=config,
            metrics=metrics,
            round=round,
            candidate_id=candidate_id,
            traffic=traffic,
        )


def quadratic_bowl() -> SyntheticWorld:
    """A 4-knob bowl with one guardrail that cuts off the unconstrained optimum.

    The primary lift peaks at a=2.2, b=0.6, c=1.8, d=1.4 (+2.4% versus the baseline at 1.0
    everywhere), but the guardrail `negative_rate` rises by 4% per unit of `a` above 1, so `a`
    may not exceed 1.75: the feasible optimum sits on that boundary (about +2.2%).
    """
    space = SearchSpace(
        parameters=[
            FloatParameter(name="a", low=0.0, high=4.0),
            FloatParameter(name="b", low=0.0, high=4.0),
            FloatParameter(name="c", low=0.0, high=4.0, soft_high=3.0),
            FloatParameter(name="d", low=0.0, high=4.0),
        ]
    )
    metrics = [
        MetricSpec(name="dwell_time", role="primary", direction="increase"),
        MetricSpec(
            name="negative_rate", role="guardrail", direction="decrease", guardrail_threshold=0.03
        ),
    ]
    problem = TuningProblem(
        task="quadratic_bowl",
        space=space,
        metrics=metrics,
        baseline={"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0},
    )
    peak = {"a": 2.2, "b": 0.6, "c": 1.8, "d": 1.4}

    def g(cfg: Mapping[str, ConfigValue]) -> float:
        return -0.01 * sum((float(cfg[k]) - v) ** 2 for k, v in peak.items())

    base = g(problem.baseline)
    return SyntheticWorld(
        problem=problem,
        lifts={
            "dwell_time": lambda cfg: g(cfg) - base,
            "negative_rate": lambda cfg: 0.04 * (float(cfg["a"]) - 1.0),
        },
        noise={"dwell_time": 0.004, "negative_rate": 0.006},
        optimum={"a": 1.75, "b": 0.6, "c": 1.8, "d": 1.4},
    )


def run_loop(
    world: SyntheticWorld,
    proposer: Proposer,
    *,
    rounds: int,
    arms: int,
    seed: int,
    history: Sequence[Observation] = (),
) -> list[Observation]:
    """Play `proposer` against `world` for `rounds` rounds of `arms` arms; return the history."""
    rng = np.random.default_rng(seed)
    out = list(history)
    for r in range(rounds):
        for p in proposer.propose(world.problem, out, arms, seed=seed * 1000 + r):
            out.append(world.observe(p.config, rng, round=r + 1))
    return out
