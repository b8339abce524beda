"""The proposer protocol, quasi-random proposals and helpers shared by all proposers.

A proposer turns a problem and its history into new candidate configurations. Every proposer
obeys the same rules, enforced here in code: a proposal is a valid configuration inside the
soft box, obeys every learned rule, and repeats neither a tested configuration (the baseline
included) nor another proposal of the same call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from scipy.stats import qmc

from rectune.domain import Config, ConfigValue, config_diff, config_key
from rectune.optimizers.encoding import SpaceEncoder
from rectune.optimizers.problem import Observation, Proposal, TuningProblem

__all__ = [
    "CandidateFilter",
    "Proposer",
    "SobolProposer",
    "describe_delta",
    "sobol_configs",
]


@runtime_checkable
class Proposer(Protocol):
    """Anything that proposes new configurations for a tuning problem."""

    def propose(
        self, problem: TuningProblem, history: Sequence[Observation], n: int, *, seed: int
    ) -> list[Proposal]:
        """Up to `n` new, admissible, distinct proposals (fewer only if the space runs out)."""
        ...


def _fmt(v: ConfigValue) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def describe_delta(baseline: Mapping[str, ConfigValue], config: Mapping[str, ConfigValue]) -> str:
    """A short human description of what changes versus the baseline.

    Example:
        >>> describe_delta({"a": 1.0, "b": 2}, {"a": 1.5, "b": 2})
        'raise a 1 -> 1.5'
    """
    parts = []
    for k, v in config_diff(dict(baseline), dict(config)).items():
        old = baseline[k]
        if isinstance(v, str) or isinstance(old, str):
            verb = "set"
        else:
            verb = "raise" if float(v) > float(old) else "lower"
        parts.append(f"{verb} {k} {_fmt(old)} -> {_fmt(v)}")
    return "; ".join(parts) or "keep production"


class CandidateFilter:
    """Admission control for new configurations: rules, soft box, hard constraints, duplicates.

    With a scale-invariant group in the problem's structure, a rescaling of a tested or
    admitted configuration counts as a duplicate: it would measure the same thing.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> f = CandidateFilter(problem, history=[])
        >>> f.admit({"w": 1.0}), f.admit({"w": 2.0}), f.admit({"w": 2.0})
        (False, True, False)
    """

    def __init__(
        self,
        problem: TuningProblem,
        history: Iterable[Observation],
        extra_keys: Iterable[str] = (),
    ) -> None:
        self.problem = problem
        self.encoder = (
            SpaceEncoder(problem.space, problem.structure, problem.baseline)
            if problem.structure.scale_invariant
            else None
        )
        tested = [o.config for o in history if not o.transferred]
        self.seen: set[str] = {config_key(problem.baseline), *extra_keys}
        self.seen.update(config_key(c) for c in tested)
        self.seen.update(self._canon(c) for c in [problem.baseline, *tested])

    def _canon(self, config: Mapping[str, ConfigValue]) -> str:
        return self.encoder.canonical_key(config) if self.encoder else config_key(config)

    def ok(self, config: Mapping[str, ConfigValue]) -> bool:
        """Whether `config` may be proposed, without remembering it."""
        if config_key(config) in self.seen or self._canon(config) in self.seen:
            return False
        return self.problem.is_admissible(config)

    def admit(self, config: Mapping[str, ConfigValue]) -> bool:
        """Whether `config` may be proposed; if so, later copies of it are refused."""
        if not self.ok(config):
            return False
        self.seen.add(config_key(config))
        self.seen.add(self._canon(config))
        return True


def sobol_configs(
    problem: TuningProblem, n: int, *, seed: int, keep: CandidateFilter, max_draws: int = 4096
) -> list[Config]:
    """Up to `n` admissible configurations from a scrambled Sobol sequence over the soft box."""
    enc = SpaceEncoder(problem.space)
    sampler = qmc.Sobol(d=enc.n_params, scramble=True, seed=seed)
    out: list[Config] = []
    drawn = 0
    while len(out) < n and drawn < max_draws:
        m = max(2, math.ceil(math.log2(max(2 * (n - len(out)), 2))))
        batch = sampler.random_base2(m) if drawn == 0 else sampler.random(2**m)
        drawn += batch.shape[0]
        for u in batch:
            cfg = enc.from_unit_params(u)
            if keep.admit(cfg):
                out.append(cfg)
                if len(out) == n:
                    break
    return out


class SobolProposer:
    """Space-filling proposals from a scrambled, seeded Sobol sequence over the soft box.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> props = SobolProposer().propose(problem, [], 3, seed=0)
        >>> len(props), {p.source for p in props}
        (3, {'sobol'})
    """

    source = "sobol"

    def propose(
        self, problem: TuningProblem, history: Sequence[Observation], n: int, *, seed: int
    ) -> list[Proposal]:
        """Up to `n` quasi-random proposals that pass the candidate filter."""
        keep = CandidateFilter(problem, history)
        configs = sobol_configs(problem, n, seed=seed, keep=keep)
        return [
            Proposal.from_config(
                problem.space,
                problem.baseline,
                cfg,
                hypothesis=f"Explore: {describe_delta(problem.baseline, cfg)}.",
                explanation="Quasi-random (scrambled Sobol) point of the soft box, for coverage.",
                source=self.source,
            )
            for cfg in configs
        ]
