"""A scripted stand-in for the LLM actor, so the hybrid mode can be benchmarked offline.

The benchmark never calls a real model. To measure what the hybrid machinery does (the LLM's
capped share, the surrogate critic screening its ideas), `ScriptedAnalyst` plays an analyst
that reads the surrogate's view the way the actor's prompt presents it and answers the way a
language model plausibly would: mostly edits of the incumbent that move one or two of the
knobs the view calls influential by a sizeable step, and sometimes an overconfident idea that
ignores the soft bounds the skill recommends. It knows nothing the engine does not; it is a
robustness check of the hybrid (can a mediocre, sometimes careless LLM drag the engine down?),
not evidence that an LLM helps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rectune.domain import CategoricalParameter, Config, ConfigValue, IntParameter
from rectune.optimizers import Engine, Observation, Proposal, TuningProblem
from rectune.optimizers.proposer import describe_delta

__all__ = ["ScriptedAnalyst"]


@dataclass
class ScriptedAnalyst:
    """Deterministic LLM stand-in: sensible edits of the incumbent plus occasional wild ideas.

    Attributes:
        problem: The task.
        seed: Seed of the run.
        step: Size of an edit, as a fraction of the knob's soft range.
        wild_share: Share of ideas drawn anywhere in the hard box (often outside the soft box).
        knobs: How many of the most influential knobs (per the view) the edits touch.

    Example:
        >>> from rectune.bench.runner import problem_for
        >>> problem = problem_for("value_fusion")[0]
        >>> ideas = ScriptedAnalyst(problem, seed=0).propose(Engine(), [], 3, round=1)
        >>> len(ideas), {p.source for p in ideas}
        (3, {'llm'})
    """

    problem: TuningProblem
    seed: int
    step: float = 0.3
    wild_share: float = 0.25
    knobs: int = 3

    def propose(
        self, engine: Engine, history: Sequence[Observation], n: int, *, round: int
    ) -> list[Proposal]:
        """`n` ideas for the next round, from the surrogate view of `history`."""
        rng = np.random.default_rng([self.seed, round, 7])
        view = engine.view(self.problem, history)
        anchor: Config = dict(view.incumbent.get("config") or self.problem.baseline)
        ranked = [str(s["parameter"]) for s in view.sensitivity] or [
            p.name for p in self.problem.space
        ]
        focus = ranked[: self.knobs]
        out: list[Proposal] = []
        for _ in range(n):
            if rng.random() < self.wild_share:
                cfg = {p.name: self._anywhere(p.name, rng) for p in self.problem.space}
                why = "A bold guess far from what was tested."
            else:
                cfg = dict(anchor)
                for name in rng.choice(
                    focus, size=min(len(focus), 1 + int(rng.random() < 0.5)), replace=False
                ):
                    cfg[str(name)] = self._nudge(str(name), anchor[str(name)], rng)
                why = f"Push the influential knobs ({', '.join(focus)}) further from the incumbent."
            full = self.problem.space.validate_config(cfg)
            out.append(
                Proposal.from_config(
                    self.problem.space,
                    self.problem.baseline,
                    full,
                    hypothesis=f"{describe_delta(self.problem.baseline, full)}.",
                    explanation=why,
                    source="llm",
                )
            )
        return out

    def _nudge(self, name: str, value: ConfigValue, rng: np.random.Generator) -> ConfigValue:
        p = self.problem.space[name]
        if isinstance(p, CategoricalParameter):
            return str(rng.choice(p.choices))
        lo, hi = p.soft_range
        move = float(rng.choice([-1.0, 1.0])) * self.step * (hi - lo)
        v = float(value) + move
        if not p.low <= v <= p.high:
            v = float(value) - move  # an edit stays valid; the soft box is the critic's job
        return _as_value(p, v)

    def _anywhere(self, name: str, rng: np.random.Generator) -> ConfigValue:
        p = self.problem.space[name]
        if isinstance(p, CategoricalParameter):
            return str(rng.choice(p.choices))
        return _as_value(p, float(rng.uniform(p.low, p.high)))


def _as_value(p: object, v: float) -> ConfigValue:
    return round(v) if isinstance(p, IntParameter) else round(v, 4)
