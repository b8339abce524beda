"""The engine port: the optimization engine spoken to in domain models.

The round policy (and through it the graph and the benchmark) asks the engine for drafts,
predictions, a ranking and the launch advice; this port turns the engine's own types into the
domain's `Draft`, `Prediction` and `LaunchAdvice`, and the journal's candidates into the
engine's observations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from scipy.stats import norm

from rectune.domain import (
    ArmEvidence,
    Candidate,
    Config,
    Degradation,
    Draft,
    Interval,
    LaunchAdvice,
    Prediction,
    config_key,
)
from rectune.optimizers import (
    Engine,
    MetricForecast,
    Observation,
    TuningProblem,
    constraints_from_rules,
)
from rectune.optimizers.proposer import describe_delta
from rectune.skillhub.model import Skill

__all__ = ["EnginePort", "engine_for", "observations_of", "problem_of"]


@lru_cache(maxsize=16)
def engine_for(risk_threshold: float, llm_share: float) -> Engine:
    """The engine for these settings; shared, so its surrogate cache serves a whole round."""
    return Engine(risk_threshold=risk_threshold, llm_share=llm_share)


def problem_of(skill: Skill) -> TuningProblem:
    """The engine's view of a skill's task."""
    return TuningProblem(
        task=skill.name,
        space=skill.space,
        metrics=skill.metrics,
        baseline=dict(skill.baseline),
        constraints=constraints_from_rules(skill.learned_rules),
        structure=skill.structure,
    )


def observations_of(
    candidates: Sequence[Candidate],
) -> tuple[list[Observation], list[Degradation]]:
    """The tested arms of a journal as observations, and the records that had to be skipped.

    An arm the monitor stopped early measured a shorter horizon, biased away from zero (it
    stopped because it looked bad): it is not a full measurement of its primary metrics, so
    only the guardrails it breached are kept - enough for the engine to steer away from it.
    """
    out: list[Observation] = []
    skipped: list[Degradation] = []
    for c in candidates:
        if c.result is None or not c.result.metrics:
            continue
        result = c.result
        if not result.full_horizon:
            breached = {v.metric for v in result.guardrails if v.outcome.value == "breached"}
            kept = {k: m for k, m in result.metrics.items() if k in breached}
            if not kept:
                continue
            result = result.model_copy(update={"metrics": kept})
        try:
            out.append(Observation.from_arm_result(dict(c.config), result, round=c.round))
        except ValueError as exc:
            skipped.append(
                Degradation(
                    where="journal", what=f"skipped the malformed result of {c.id}: {exc}"
                )
            )
    return out, skipped


def _intervals(forecasts: Mapping[str, MetricForecast]) -> dict[str, Interval]:
    return {
        k: Interval(mean=float(f.mean), low=float(f.low), high=float(f.high))
        for k, f in forecasts.items()
    }


@dataclass(frozen=True)
class EnginePort:
    """One task's engine calls, in domain models.

    Example:
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> skill = SkillHub(shipped_skills_dir()).get("value_fusion")
        >>> port = EnginePort.for_skill(Engine(), skill)
        >>> drafts = port.drafts([], 3, seed=0)
        >>> len(drafts), all(d.delta for d in drafts)
        (3, True)
    """

    engine: Engine
    problem: TuningProblem

    @classmethod
    def for_skill(cls, engine: Engine, skill: Skill) -> EnginePort:
        """The port for a skill's task."""
        return cls(engine, problem_of(skill))

    def drafts(
        self,
        history: Sequence[Observation],
        n: int,
        *,
        seed: int,
        exclude: Sequence[str] = (),
    ) -> list[Draft]:
        """`n` engine proposals as drafts, none with a config key in `exclude`."""
        props = self.engine.propose(self.problem, history, n, seed=seed, exclude=exclude)
        return [
            Draft(
                hypothesis=p.hypothesis or describe_delta(self.problem.baseline, p.config),
                explanation=p.explanation,
                delta=dict(p.delta),
                source=p.source,
            )
            for p in props
        ]

    def confirmation(self, history: Sequence[Observation]) -> Draft | None:
        """A draft re-testing the launch advice, when its evidence is too weak to ship."""
        if not history:
            return None
        rec = self.engine.recommend(self.problem, history)
        if rec.confirmation is None:
            return None
        p = rec.confirmation
        return Draft(
            hypothesis=p.hypothesis,
            explanation=p.explanation,
            delta=dict(p.delta),
            source="confirm",
        )

    def decision_arms(self, history: Sequence[Observation], n: int) -> list[Draft]:
        """Up to `n` drafts re-testing the leading configurations (a round that decides)."""
        return [
            Draft(
                hypothesis=p.hypothesis,
                explanation=p.explanation,
                delta=dict(p.delta),
                source="confirm",
            )
            for p in self.engine.decision_arms(self.problem, history, n)
        ]

    def predict(
        self, history: Sequence[Observation], configs: Sequence[Config]
    ) -> list[Prediction]:
        """The surrogate's forecast for each configuration."""
        from rectune.optimizers import SurrogateCritic

        model = self.engine.fit(self.problem, history)
        critic = SurrogateCritic(model, self.engine.risk_threshold)
        return [
            Prediction(
                lifts=_intervals(a.forecasts),
                objective=float(a.objective),
                objective_sd=float(a.objective_sd),
                breach_probability=min(1.0, max(0.0, float(a.p_breach))),
                evidence=bool(history),
            )
            for a in critic.assess(list(configs))
        ]

    def rank(
        self, history: Sequence[Observation], configs: Sequence[Config], k: int
    ) -> list[tuple[int, str]]:
        """Indices of `configs` in the engine's preferred order, each with a justification."""
        ranking = self.engine.critique(self.problem, history, list(configs), k)
        keys = [config_key(c) for c in configs]
        primaries = {m.name for m in self.problem.primaries}
        out: list[tuple[int, str]] = []
        used: set[int] = set()
        for pos, a in enumerate([*ranking.selected, *ranking.rest]):
            i = next((i for i, key in enumerate(keys) if key == a.key and i not in used), None)
            if i is None:
                continue
            used.add(i)
            predicted = ", ".join(
                f"{m} {f.mean:+.2%} [{f.low:+.2%}, {f.high:+.2%}]"
                for m, f in a.forecasts.items()
                if m in primaries
            )
            role = "selected" if pos < len(ranking.selected) else "reserve"
            out.append(
                (
                    i,
                    f"engine {role}: predicted {predicted}; guardrail-breach risk "
                    f"{a.p_breach:.0%}; chosen for expected value and spread",
                )
            )
        out += [(i, "engine: not ranked") for i in range(len(configs)) if i not in used]
        return out

    def _evidence(
        self, history: Sequence[Observation], candidate: Candidate, n_arms: int
    ) -> ArmEvidence:
        assert candidate.result is not None
        measured = {k: m.relative_lift for k, m in candidate.result.metrics.items()}
        primaries = {m.name for m in self.problem.primaries}
        pred = self.predict(history, [candidate.config])[0]
        sd = max(pred.objective_sd, 1e-12)
        return ArmEvidence(
            candidate_id=candidate.id,
            config=dict(candidate.config),
            measured_objective=float(self.problem.objective(measured)),
            measured_significant=any(
                m.significant for k, m in candidate.result.metrics.items() if k in primaries
            ),
            objective=pred.objective,
            objective_sd=pred.objective_sd,
            p_better=float(norm.cdf(pred.objective / sd)),
            p_feasible=1.0 - pred.breach_probability,
            n_arms=n_arms,
        )

    def advise(
        self, history: Sequence[Observation], candidates: Sequence[Candidate] = ()
    ) -> LaunchAdvice:
        """What to ship now, and - when it is another one - what the engine believes about
        the tested configuration that looks best (`candidates` are the journal's)."""
        rec = self.engine.recommend(self.problem, history)
        key = config_key(rec.config)
        measured = {
            c.id: self.problem.objective({k: m.relative_lift for k, m in c.result.metrics.items()})
            for c in candidates
            if c.result is not None and c.result.metrics
        }
        tested = [c for c in candidates if c.id in measured]
        cid = next((c.id for c in reversed(tested) if config_key(c.config) == key), None)
        best: ArmEvidence | None = None
        if tested and history:
            top = max(tested, key=lambda c: measured[c.id])
            if config_key(top.config) != key:
                arms = sum(1 for c in tested if config_key(c.config) == config_key(top.config))
                best = self._evidence(history, top, arms)
        return LaunchAdvice(
            candidate_id=None if rec.is_baseline else cid,
            config=dict(rec.config),
            delta=dict(rec.delta),
            is_baseline=rec.is_baseline,
            objective=float(rec.objective),
            objective_sd=float(rec.objective_sd),
            p_better=min(1.0, max(0.0, float(rec.p_better))),
            p_feasible=min(1.0, max(0.0, float(rec.p_feasible))),
            lifts=_intervals(rec.forecasts),
            reason=rec.reason,
            needs_confirmation=rec.confirmation is not None,
            objective_metrics=[m.name for m in self.problem.primaries],
            best_looking=best,
            min_p_better=self.engine.min_p_better,
            min_p_feasible=self.engine.min_p_feasible,
        )

    def view(self, history: Sequence[Observation]) -> str:
        """The surrogate's beliefs as prompt text."""
        if not history:
            return "No A/B results yet: the model only knows its prior."
        return self.engine.view(self.problem, history).to_text()
