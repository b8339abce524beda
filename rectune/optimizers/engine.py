"""One facade over the engine, by stage of a round: propose, critique, recommend.

The graph calls these three (plus `view` for the actor's prompt). The facade fits the
surrogates once per history and reuses them across the stages of a round; it is otherwise
stateless, so it can be rebuilt from a checkpoint at any time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rectune.domain import config_key
from rectune.optimizers.bayesian import BayesianProposer
from rectune.optimizers.critic import Candidate, Ranking, SurrogateCritic
from rectune.optimizers.hybrid import SurrogateView, merge_proposals, surrogate_view
from rectune.optimizers.launch import (
    Estimator,
    LaunchRecommendation,
    decision_arms,
    recommend_launch,
)
from rectune.optimizers.problem import Observation, Proposal, TuningProblem
from rectune.optimizers.surrogate import SurrogateModel

__all__ = ["Engine", "never_stall"]


def never_stall(ranking: Ranking, k: int, risk_threshold: float) -> Ranking:
    """Fill a selection short of `k` with the least risky candidates the risk limit refused.

    A round without arms learns nothing, so a task whose every candidate looks risky would
    never get the evidence that could show otherwise. Only candidates that passed every code
    check (valid, soft box, rules, hard constraints, not a repeat) are eligible; the reason is
    recorded in `Ranking.notes` so the person approving the round sees it.
    """
    need = k - len(ranking.selected)
    spare = [a for a in ranking.rejected if a.risky and not a.problems]
    if need <= 0 or not spare:
        return ranking
    spare.sort(key=lambda a: a.p_breach)
    fill = spare[:need]
    keys = {id(a) for a in fill}
    odds = ", ".join(f"{a.p_breach:.0%}" for a in fill)
    note = (
        f"{len(fill)} arm(s) kept although their predicted breach probability ({odds}) is above "
        f"the risk limit of {risk_threshold:.0%}: no safer candidate was left, and a round "
        "without arms teaches nothing. They are the least risky of the refused candidates; "
        "the platform's guardrail monitoring still stops an arm that breaks a limit. Reject "
        "them at approval, or raise the limit (risk_threshold), to decide otherwise."
    )
    return Ranking(
        [*ranking.selected, *fill],
        ranking.rest,
        [a for a in ranking.rejected if id(a) not in keys],
        [*ranking.notes, note],
    )


def _history_key(problem: TuningProblem, history: Sequence[Observation]) -> str:
    parts = [problem.model_dump_json()]
    parts.extend(o.model_dump_json() for o in history)
    return config_key({"h": "\n".join(parts)})


@dataclass
class Engine:
    """The offline optimization engine, grouped by the stage of a round.

    Attributes:
        proposer: Produces engine proposals.
        risk_threshold: Candidates with a higher probability of breaching a guardrail are
            dropped by `critique`.
        diversity: Weight of spread against value when `critique` selects.
        llm_share: Largest share of the K arms that LLM proposals may take in `propose`.
        estimator: How `recommend` shrinks noisy results ("gp" or "eb").
        min_p_feasible: Probability that every guardrail holds that `recommend` requires.
        min_p_better: Probability of beating production that `recommend` requires.
        confirm_promising: While production stays, let `recommend` ask to re-test the most
            promising configuration seen only once.
        replicate_above: Below this probability that every guardrail holds, `recommend`
            only ships a configuration that was tested at least twice (0.9: never asks).

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> engine = Engine()
        >>> proposals = engine.propose(problem, [], 6, seed=0)
        >>> ranking = engine.critique(problem, [], proposals, k=3)
        >>> len(ranking.selected)
        3
        >>> engine.recommend(problem, []).is_baseline
        True
    """

    proposer: BayesianProposer = field(default_factory=BayesianProposer)
    risk_threshold: float = 0.2
    diversity: float = 0.3
    llm_share: float = 0.5
    estimator: Estimator = "gp"
    min_p_feasible: float = 0.9
    min_p_better: float = 0.7
    confirm_promising: bool = True
    replicate_above: float = 0.9
    _cache: dict[str, SurrogateModel] = field(default_factory=dict, repr=False)

    def fit(self, problem: TuningProblem, history: Sequence[Observation]) -> SurrogateModel:
        """The surrogates for `history`, fitted once and reused while the history is the same."""
        key = _history_key(problem, history)
        if key not in self._cache:
            # One round's worth of models is all the graph needs; keep memory flat.
            self._cache.clear()
            self._cache[key] = SurrogateModel.fit(problem, history, self.proposer.surrogate)
        return self._cache[key]

    def propose(
        self,
        problem: TuningProblem,
        history: Sequence[Observation],
        n: int,
        *,
        seed: int,
        llm_proposals: Sequence[Proposal] = (),
        exclude: Sequence[str] = (),
    ) -> list[Proposal]:
        """Up to `n` proposals; LLM ones (if any) take at most `llm_share` of the slots.

        `exclude` holds config keys not to propose (arms queued by a concurrent round).
        """
        model = self.fit(problem, history)
        engine = self.proposer.propose_with(model, n, seed=seed, exclude=exclude)
        if not llm_proposals:
            return engine
        tested = [config_key(c) for c in model.tested] + list(exclude)
        merged = merge_proposals(
            llm_proposals, engine, n, llm_share=self.llm_share, exclude_keys=tested
        )
        if len(merged) < n:
            # The engine may have proposed the same configs the LLM did; top up from it.
            extra = self.proposer.propose_with(
                model, n - len(merged), seed=seed + 1, exclude=[*exclude, *(p.key for p in merged)]
            )
            merged.extend(extra)
        return merged

    def critique(
        self,
        problem: TuningProblem,
        history: Sequence[Observation],
        candidates: Sequence[Candidate],
        k: int,
    ) -> Ranking:
        """Forecast, risk-filter and select up to `k` candidates.

        Before any A/B result the surrogate knows only its prior: its expected improvement
        favours the farthest points and its breach risk measures nothing but distance from
        production. Then the proposals are kept in the proposer's order (its cold-start mix is
        mostly small steps around production), after the code checks.
        """
        if not history:
            critic = SurrogateCritic(self.fit(problem, history), risk_threshold=1.0)
            seen: set[str] = set()
            good, bad = [], []
            for a in critic.assess(candidates):
                if a.admissible and a.key not in seen:
                    seen.add(a.key)
                    good.append(a)
                else:
                    bad.append(a)
            return Ranking(good[:k], good[k:], bad)
        critic = SurrogateCritic(self.fit(problem, history), self.risk_threshold)
        return never_stall(critic.rank(candidates, k, diversity=self.diversity), k,
                           self.risk_threshold)

    def recommend(
        self, problem: TuningProblem, history: Sequence[Observation]
    ) -> LaunchRecommendation:
        """The configuration to ship now, and an optional confirmation arm."""
        model = self.fit(problem, history) if self.estimator == "gp" else None
        return recommend_launch(
            problem,
            history,
            model=model,
            estimator=self.estimator,
            min_p_feasible=self.min_p_feasible,
            min_p_better=self.min_p_better,
            confirm_promising=self.confirm_promising,
            replicate_above=self.replicate_above,
        )

    def decision_arms(
        self, problem: TuningProblem, history: Sequence[Observation], n: int
    ) -> list[Proposal]:
        """Re-tests of the leading tested configurations, for a round that decides the launch."""
        model = self.fit(problem, history) if self.estimator == "gp" else None
        return decision_arms(
            problem, history, n, model=model, estimator=self.estimator,
            min_p_better=self.min_p_better,
        )

    def view(self, problem: TuningProblem, history: Sequence[Observation]) -> SurrogateView:
        """The surrogate's beliefs, for the actor's prompt."""
        return surrogate_view(problem, history, model=self.fit(problem, history))
