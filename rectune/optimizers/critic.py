"""The surrogate critic: predicted effects and guardrail risk of candidate configurations.

The critic node calls this before any LLM critique. Each candidate gets a forecast of every
metric (mean and 95% interval from the surrogates), the probability that at least one
guardrail is breached, and a code-level check (valid, inside the soft box, obeying the rules,
not a repeat of a tested configuration). `rank` then drops what is inadmissible or too risky
and picks K candidates, trading predicted value against spread in the unit cube.

With little or no history the surrogates fall back on their prior around production, so the
forecasts are wide and the risk grows with the distance from production: a bold untested move
is treated as risky until data say otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rectune.domain import Config, ConfigValue, config_key
from rectune.optimizers._threads import single_blas_thread
from rectune.optimizers.acquisition import log_constrained_ei
from rectune.optimizers.problem import Observation, Proposal, TuningProblem
from rectune.optimizers.surrogate import (
    MetricForecast,
    SurrogateModel,
    SurrogateSettings,
    forecasts,
)

__all__ = ["Assessment", "Ranking", "SurrogateCritic", "rank_candidates"]

Candidate = Proposal | Mapping[str, ConfigValue]


@dataclass(frozen=True)
class Assessment:
    """The critic's verdict on one candidate.

    Attributes:
        config: The candidate's full configuration (as given when it was invalid).
        key: Its duplicate-detection key.
        proposal: The proposal it came from, if any.
        forecasts: Per-metric predicted lift with a 95% interval (empty when invalid).
        objective: Predicted weighted primary objective.
        objective_sd: Its posterior standard deviation.
        p_breach: Probability that at least one guardrail is breached.
        risky: Whether `p_breach` exceeds the critic's threshold.
        log_value: Log constrained expected improvement over the incumbent.
        problems: Code-check failures (invalid, soft box, rules, duplicate); empty when fine.
    """

    config: Mapping[str, Any]
    key: str
    proposal: Proposal | None
    forecasts: dict[str, MetricForecast]
    objective: float
    objective_sd: float
    p_breach: float
    risky: bool
    log_value: float
    problems: list[str] = field(default_factory=list)

    @property
    def admissible(self) -> bool:
        """Whether the candidate passed the code checks and the risk threshold."""
        return not self.problems and not self.risky

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary for prompts, reports and the approval payload."""

        def num(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "config": dict(self.config),
            "source": self.proposal.source if self.proposal else None,
            "objective": num(self.objective),
            "objective_sd": num(self.objective_sd),
            "p_breach": self.p_breach,
            "risky": self.risky,
            "problems": list(self.problems),
            "forecasts": {
                k: {"mean": f.mean, "low": f.low, "high": f.high, "p_holds": f.p_holds}
                for k, f in self.forecasts.items()
            },
        }


@dataclass(frozen=True)
class Ranking:
    """The critic's choice: selected candidates first, then the rest.

    `rest` holds admissible candidates that did not make the cut (best first); `rejected`
    holds inadmissible or risky ones, the most harmful last. `notes` says, in words a person
    can act on, why the selection departs from the plain rules (for example risky arms kept
    because nothing safer was left).
    """

    selected: list[Assessment]
    rest: list[Assessment]
    rejected: list[Assessment]
    notes: list[str] = field(default_factory=list)

    @property
    def order(self) -> list[Assessment]:
        """Every candidate, best first."""
        return [*self.selected, *self.rest, *self.rejected]


class SurrogateCritic:
    """Scores candidates with the surrogates and keeps the safe, valuable, diverse ones.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase"),
        ...     MetricSpec(name="negative_rate", role="guardrail", direction="decrease",
        ...                guardrail_threshold=0.03)])
        >>> critic = SurrogateCritic.from_history(problem, [], risk_threshold=0.3)
        >>> near, far = critic.assess([{"w": 1.1}, {"w": 4.0}])
        >>> near.p_breach < far.p_breach
        True
    """

    def __init__(self, model: SurrogateModel, risk_threshold: float = 0.2) -> None:
        if not 0.0 <= risk_threshold <= 1.0:
            raise ValueError(f"risk_threshold={risk_threshold}: must lie in [0, 1]")
        self.model = model
        self.problem = model.problem
        self.risk_threshold = risk_threshold
        self._tested = {config_key(c) for c in model.tested}

    @classmethod
    def from_history(
        cls,
        problem: TuningProblem,
        history: Sequence[Observation],
        *,
        risk_threshold: float = 0.2,
        settings: SurrogateSettings | None = None,
    ) -> SurrogateCritic:
        """Fit the surrogates on `history` and build a critic on them."""
        return cls(SurrogateModel.fit(problem, history, settings), risk_threshold)

    def _check(self, raw: Mapping[str, Any]) -> tuple[Config | None, list[str]]:
        try:
            cfg = self.problem.space.validate_config(raw)
        except ValueError as exc:
            return None, [f"invalid: {exc}"]
        problems = []
        soft = self.problem.space.soft_violations(cfg)
        if soft:
            problems.append(f"outside the soft bounds: {', '.join(soft)}")
        broken = [str(c) for c in self.problem.constraints if not c.satisfied(cfg)]
        if broken:
            problems.append(f"breaks learned rules: {'; '.join(broken)}")
        certain = self.problem.breaks_deterministic(cfg)
        if certain:
            problems.append(
                f"certainly breaches {', '.join(certain)} (a deterministic guardrail the skill "
                "declares; a hard constraint)"
            )
        if config_key(cfg) in self._tested:
            problems.append("repeats a tested configuration")
        return cfg, problems

    @single_blas_thread
    def assess(self, candidates: Sequence[Candidate]) -> list[Assessment]:
        """Forecast and risk of each candidate, in the order given."""
        checked: list[tuple[Candidate, Config | None, list[str]]] = []
        for c in candidates:
            raw = c.config if isinstance(c, Proposal) else c
            cfg, problems = self._check(raw)
            checked.append((c, cfg, problems))
        valid = [cfg for _, cfg, _ in checked if cfg is not None]
        x = self.model.encoder.encode_many(valid)
        pred = self.model.predict(x) if valid else None
        best = self.model.incumbent().objective
        if pred is not None:
            obj, obj_sd = self.model.objective_from(pred)
            p_feas, _ = self.model.p_guardrails_from(pred)
            log_value = log_constrained_ei(self.model, pred, best)
        out: list[Assessment] = []
        j = 0
        for c, cfg, problems in checked:
            proposal = c if isinstance(c, Proposal) else None
            raw = c.config if isinstance(c, Proposal) else c
            if cfg is None or pred is None:
                out.append(
                    Assessment(
                        raw,
                        "",
                        proposal,
                        {},
                        float("nan"),
                        float("nan"),
                        1.0,
                        True,
                        float("-inf"),
                        problems,
                    )
                )
                continue
            p_breach = float(1.0 - p_feas[j])
            out.append(
                Assessment(
                    cfg,
                    config_key(cfg),
                    proposal,
                    forecasts(self.problem, pred, j),
                    float(obj[j]),
                    float(obj_sd[j]),
                    p_breach,
                    p_breach > self.risk_threshold,
                    float(log_value[j]),
                    problems,
                )
            )
            j += 1
        return out

    def rank(self, candidates: Sequence[Candidate], k: int, *, diversity: float = 0.3) -> Ranking:
        """Drop inadmissible and risky candidates, then pick up to `k` by value and spread.

        The first pick has the highest value (log constrained expected improvement). Each
        later pick maximizes ``(1 - diversity) * value_rank + diversity * spread``, where
        value_rank is 1 for the best candidate and 0 for the worst, and spread is the distance
        in the unit cube to the nearest pick so far, divided by the largest such distance.
        Repeated configurations within the input are kept once.
        """
        if not 0.0 <= diversity <= 1.0:
            raise ValueError(f"diversity={diversity}: must lie in [0, 1]")
        assessed = self.assess(candidates)
        seen: set[str] = set()
        good: list[Assessment] = []
        bad: list[Assessment] = []
        for a in assessed:
            if a.admissible and a.key not in seen:
                seen.add(a.key)
                good.append(a)
            elif a.admissible:
                bad.append(replace(a, problems=["repeats another candidate"]))
            else:
                bad.append(a)
        good.sort(key=lambda a: -a.log_value)
        bad.sort(key=lambda a: (a.p_breach, bool(a.problems)))
        if not good or k <= 0:
            return Ranking([], good, bad)
        x = self.model.encoder.encode_many([dict(a.config) for a in good])
        n = len(good)
        value_rank = 1.0 - np.arange(n) / max(n - 1, 1)
        chosen = [0]
        dmin = np.linalg.norm(x - x[0], axis=1)
        while len(chosen) < min(k, n):
            spread = dmin / max(float(dmin.max()), 1e-12)
            score = (1.0 - diversity) * value_rank + diversity * spread
            score[chosen] = -np.inf
            j = int(np.argmax(score))
            chosen.append(j)
            dmin = np.minimum(dmin, np.linalg.norm(x - x[j], axis=1))
        picked = set(chosen)
        selected = [good[i] for i in chosen]
        rest = [a for i, a in enumerate(good) if i not in picked]
        return Ranking(selected, rest, bad)


def rank_candidates(
    problem: TuningProblem,
    history: Sequence[Observation],
    candidates: Sequence[Candidate],
    k: int,
    *,
    risk_threshold: float = 0.2,
    diversity: float = 0.3,
    model: SurrogateModel | None = None,
) -> Ranking:
    """Assess `candidates` against `history` and select up to `k` (see `SurrogateCritic.rank`)."""
    model = model or SurrogateModel.fit(problem, history)
    return SurrogateCritic(model, risk_threshold).rank(candidates, k, diversity=diversity)
