"""The round policy: how a round turns drafts into the candidates it asks people to launch.

One policy serves the graph and the benchmark, so the published figures are of the round the
graph really runs. The graph's Actor calls `draft`; its Critic calls `review` then `select`,
adding a model's drafts or ordering when one is configured, and loops back to the Actor while
too few survive. `choose` plays the same loop without a model (the offline round), which is
what the benchmark's ``rectune`` method calls.

The steps:

1. `draft`: the engine's proposals, with a confirmation draft first when the launch advice
   rests on evidence too weak to ship and the test has room for more than one arm. In a round
   that decides the launch (`PolicySettings.decide`, the last before shipping) re-tests of the
   leading configurations take up to half of the arms instead.
2. `review`: code checks (`rectune.round.checks`), then the surrogate's prediction of each
   survivor; a predicted guardrail-breach probability, or a probability of losing more than
   the task's arm-loss limit on the objective, above the risk limit drops it. The forecast's
   spread grows with the distance from every measured configuration
   (`rectune.optimizers.reach`), so before any evidence it is an honest prior, not a
   constant: a bold untested draft is vetoed, a small step from production is not.
3. `select`: the confirmation draft first, then the engine's ranking (or a model's order) for
   the remaining arms, with drafts written by a model capped at ``llm_share`` of the arms.
   When every draft that passed the code checks was vetoed for risk on the last pass, the
   safest ones are kept and flagged so that the round never stalls and the reviewer sees why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import norm

from rectune.domain import (
    Candidate,
    CandidateStatus,
    Draft,
    MetricSpec,
    Verdict,
    config_key,
)
from rectune.memory.elites import select_elites
from rectune.optimizers import Observation
from rectune.ports.engine import EnginePort
from rectune.round.checks import check_drafts

__all__ = [
    "PolicySettings",
    "RoundChoice",
    "choose",
    "draft",
    "draft_seed",
    "loss_probability",
    "review",
    "select",
    "tested_keys",
]

MAX_ELITES = 8


@dataclass(frozen=True)
class PolicySettings:
    """The knobs of the round policy (the graph takes them from its Context).

    Attributes:
        proposals: Drafts the engine writes per pass (N).
        arms: Treatment arms per A/B test (K).
        loop_cap: Actor/Critic passes before the round goes on with what survived.
        risk_threshold: Largest predicted guardrail-breach probability a candidate may have,
            and largest probability of losing more than the task's arm-loss limit.
        llm_share: Largest share of the K arms that drafts written by a model may take.
        confirm: Spend one arm on re-testing the launch advice while its evidence is weak.
        single_agent: Ablation: no surrogate review or selection, the Actor's order is kept.
        decide: A round that decides the launch (the last before shipping): up to
            `leaders` of its arms re-test the leading tested configurations side by side, and
            fresh drafts fill the rest (a lead found late may still be worth more).
    """

    proposals: int = 8
    arms: int = 4
    loop_cap: int = 3
    risk_threshold: float = 0.5
    llm_share: float = 0.5
    confirm: bool = True
    single_agent: bool = False
    decide: bool = False

    @property
    def llm_cap(self) -> int:
        """How many of the K arms may come from a model."""
        return max(0, math.floor(self.llm_share * self.arms + 1e-9))

    @property
    def leaders(self) -> int:
        """How many leading configurations a round that decides re-tests: half of the K arms
        (at least two, at most K)."""
        return min(self.arms, max(2, math.ceil(self.arms / 2)))

    @property
    def repeats(self) -> int:
        """How many arms may re-test a tested configuration: the leaders of a round that
        decides, otherwise one confirmation arm when the test has room for another."""
        if self.decide:
            return self.leaders
        return 1 if self.confirm and self.arms > 1 else 0


@dataclass(frozen=True)
class RoundChoice:
    """What the policy chose: every verdict of the last pass, and the selected ones."""

    verdicts: list[Verdict]
    picks: list[Verdict]
    passes: int


def draft_seed(seed: int, round_no: int, iteration: int) -> int:
    """The engine's seed for one Actor pass (distinct per round and pass, stable on resume)."""
    return seed * 10_007 + round_no * 101 + iteration


def tested_keys(
    candidates: Sequence[Candidate], metrics: Sequence[MetricSpec], *, exclude_round: int | None
) -> tuple[set[str], set[str]]:
    """Keys of configurations already tested or queued, and of those that failed.

    The round being planned is left out (`exclude_round`): its own proposals are what a resumed
    Critic is re-deciding, not history.
    """
    history = [c for c in candidates if c.round != exclude_round]
    sel = select_elites(history, metrics, max_size=MAX_ELITES)
    tested = {config_key(c.config) for c in history if c.status is not CandidateStatus.REJECTED}
    failed = {
        config_key(c.config) for c in history if c.id in sel.infeasible and c.result is not None
    }
    failed |= {config_key(c.config) for c in history if c.status is CandidateStatus.ABORTED}
    return tested, failed


def draft(
    engine: EnginePort,
    history: Sequence[Observation],
    settings: PolicySettings,
    *,
    seed: int,
    exclude: Sequence[str] = (),
) -> list[Draft]:
    """The engine's drafts for one Actor pass, the confirmation draft(s) first.

    `exclude` holds config keys the engine must not draft (queued or tested elsewhere).
    """
    drafts = engine.drafts(history, settings.proposals, seed=seed, exclude=exclude)
    if settings.decide:
        return [*engine.decision_arms(history, settings.leaders), *drafts]
    if settings.repeats:
        confirm = engine.confirmation(history)
        if confirm is not None:
            drafts = [confirm, *drafts]
    return drafts


def review(
    drafts: Sequence[Draft],
    engine: EnginePort,
    history: Sequence[Observation],
    settings: PolicySettings,
    *,
    tested: set[str],
    failed: set[str],
) -> list[Verdict]:
    """Code checks, then the surrogate's prediction and risk veto of every survivor."""
    problem = engine.problem
    verdicts = check_drafts(
        drafts,
        space=problem.space,
        baseline=problem.baseline,
        constraints=problem.constraints,
        tested_keys=tested,
        failed_keys=failed,
        deterministic=problem.breaks_deterministic,
        repeats=settings.repeats,
    )
    valid = [v for v in verdicts if v.kept and v.config is not None]
    if not valid or settings.single_agent:
        return verdicts
    predictions = engine.predict(history, [v.config for v in valid if v.config is not None])
    by_index = dict(zip((v.index for v in valid), predictions, strict=True))
    out: list[Verdict] = []
    for v in verdicts:
        pred = by_index.get(v.index)
        if pred is None:
            out.append(v)
            continue
        v = v.model_copy(update={"prediction": pred})
        if pred.breach_probability > settings.risk_threshold:
            v = v.dropped(
                f"{_BREACH} {pred.breach_probability:.0%} exceeds the limit "
                f"{settings.risk_threshold:.0%}"
            )
        p_loss = loss_probability(pred.objective, pred.objective_sd, problem.arm_loss_limit)
        if p_loss > settings.risk_threshold:
            v = v.dropped(
                f"{_LOSS} {problem.arm_loss_limit:.1%} on the objective is {p_loss:.0%}, above "
                f"the limit {settings.risk_threshold:.0%} (the arm-loss limit, max_arm_loss, "
                "bounds what an exploratory arm may cost its users)"
            )
        out.append(v)
    return out


_BREACH = "predicted guardrail-breach probability"
_LOSS = "predicted probability of losing more than"


def loss_probability(objective: float, objective_sd: float, limit: float) -> float:
    """Probability that the objective's true lift is below ``-limit`` under a normal forecast.

    Example:
        >>> round(loss_probability(-0.01, 0.01, 0.01), 2)
        0.5
    """
    sd = max(objective_sd, 1e-12)
    return float(norm.cdf((-limit - objective) / sd))


def _risk_vetoed(v: Verdict) -> bool:
    return bool(v.reasons) and all(r.startswith((_BREACH, _LOSS)) for r in v.reasons)


def select(
    verdicts: Sequence[Verdict],
    engine: EnginePort,
    history: Sequence[Observation],
    settings: PolicySettings,
    *,
    model_order: Sequence[tuple[int, str]] = (),
    last_pass: bool = False,
) -> tuple[list[Verdict], list[Verdict]]:
    """Choose up to K candidates; returns (all verdicts, updated; the picks in arm order).

    Args:
        verdicts: The reviewed drafts.
        engine: The engine port (for its ranking).
        history: Observations so far.
        settings: The policy's knobs.
        model_order: A model critic's preferred order as (draft index, justification); the
            engine's ranking fills what it leaves out.
        last_pass: Whether the Actor gets no further pass: then, if risk vetoed every draft
            that passed the code checks, the safest ones are kept (flagged) instead of none.
    """
    k = settings.arms
    current = {v.index: v for v in verdicts}
    kept = [v for v in verdicts if v.kept]
    if last_pass and not kept:
        risky = sorted(
            (v for v in verdicts if _risk_vetoed(v) and v.prediction is not None),
            key=lambda v: v.prediction.breach_probability if v.prediction else 1.0,
        )
        for v in risky[:k]:
            current[v.index] = v.model_copy(
                update={
                    "kept": True,
                    "notes": [
                        *v.notes,
                        "kept although its predicted breach risk exceeds the limit: every "
                        "proposal looked risky and this is among the safest, so the round "
                        "does not stall; review it with care",
                    ],
                }
            )
        kept = [current[v.index] for v in risky[:k]]
    picks: list[tuple[int, str]] = []
    if settings.single_agent:
        picks = [(v.index, "single-agent mode: taken in the Actor's order") for v in kept[:k]]
    else:
        confirm = [v for v in kept if v.source == "confirm"][: settings.repeats]
        why = (
            "decision round: re-test a leading configuration beside the others"
            if settings.decide
            else "confirmation: re-test the launch advice before it ships"
        )
        picks += [(v.index, why) for v in confirm]
        fresh = [v for v in kept if v.source != "confirm"]
        order: list[tuple[int, str]] = []
        if fresh:
            configs = [v.config for v in fresh if v.config is not None]
            ranked = engine.rank(history, configs, len(fresh))
            engine_order = [(fresh[i].index, why) for i, why in ranked]
            fresh_ids = {v.index for v in fresh}
            chosen = [(i, w) for i, w in model_order if i in fresh_ids]
            seen = {i for i, _ in chosen}
            order = chosen + [(i, w) for i, w in engine_order if i not in seen]
        from_model = 0
        for index, why in order:
            if len(picks) == k:
                break
            v = current[index]
            if v.source == "llm":
                if from_model >= settings.llm_cap:
                    current[index] = v.model_copy(
                        update={
                            "justification": f"not selected: the model's share cap "
                            f"({settings.llm_cap} of {k} arms) was reached"
                        }
                    )
                    continue
                from_model += 1
            picks.append((index, why))
    selected = []
    for index, why in picks:
        v = current[index].model_copy(update={"selected": True, "justification": why})
        current[index] = v
        selected.append(v)
    return [current[v.index] for v in verdicts], selected


def choose(
    engine: EnginePort,
    history: Sequence[Observation],
    settings: PolicySettings,
    *,
    tested: set[str],
    failed: set[str],
    seed: int,
    round_no: int,
    extra: Sequence[Draft] = (),
    exclude: Sequence[str] = (),
) -> RoundChoice:
    """The offline round: Actor and Critic passes until K candidates survive or the cap.

    Args:
        engine: The engine port of the task.
        history: Observations so far.
        settings: The policy's knobs.
        tested: Keys of configurations already tested or queued.
        failed: Keys of configurations that failed a guardrail.
        seed: The run's seed.
        round_no: The round's number (part of each pass's seed).
        extra: Drafts from elsewhere (e.g. a scripted stand-in for a model) put before the
            engine's, as a model's drafts are in the graph.
        exclude: Config keys the engine must not draft (the graph's Actor passes those other
            rounds queued or tested).
    """
    verdicts: list[Verdict] = []
    picks: list[Verdict] = []
    passes = 0
    for iteration in range(settings.loop_cap):
        passes = iteration + 1
        drafts = [
            *extra,
            *draft(
                engine, history, settings, seed=draft_seed(seed, round_no, iteration),
                exclude=exclude,
            ),
        ]
        reviewed = review(drafts, engine, history, settings, tested=tested, failed=failed)
        verdicts, picks = select(
            reviewed, engine, history, settings, last_pass=passes == settings.loop_cap
        )
        if len(picks) >= settings.arms:
            break
    return RoundChoice(verdicts=verdicts, picks=picks, passes=passes)
