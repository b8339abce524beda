"""Launch recommendation: the configuration the system would ship after a round.

Picking the arm with the best observed lift is biased upwards: among many noisy arms, the top
one is usually the luckiest (the winner's curse). The recommendation therefore ranks tested
configurations on a *shrunken* estimate: the surrogate's posterior mean at the tested point,
which pulls a noisy result towards what its neighbours and the prior say, or, with
``estimator="eb"``, an empirical-Bayes estimate that pulls each configuration's pooled lift
towards the mean of all tested configurations by an amount set by its standard error.

A configuration is only recommended when it is likely feasible (every guardrail holds with
probability at least `min_p_feasible`) and likely better than production (probability at least
`min_p_better`); otherwise production stays. When the recommendation rests on weak evidence, a
confirmation arm re-testing it is proposed for the next round. Optionally
(`replicate_above`), a configuration close to a guardrail's limit is not shipped on a single
arm at all: it needs a replicate first. When the
recommendation is to keep production, the most promising configuration seen only once gets
the confirmation arm instead: with one noisy arm per configuration, a second look at the
leader is worth more than another new point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import norm

from rectune.domain import Config, config_diff, config_key
from rectune.optimizers._threads import single_blas_thread
from rectune.optimizers.problem import Observation, Proposal, TuningProblem
from rectune.optimizers.proposer import describe_delta
from rectune.optimizers.surrogate import (
    MetricForecast,
    Prediction,
    SurrogateModel,
    forecasts,
    objective_of,
    p_guardrails_of,
)

__all__ = ["LaunchRecommendation", "decision_arms", "empirical_bayes_shrink", "recommend_launch"]

Estimator = Literal["gp", "eb"]


@dataclass(frozen=True)
class LaunchRecommendation:
    """What to ship, how sure the engine is, and whether to confirm it first.

    Attributes:
        config: The configuration to ship (production when nothing is confidently better).
        delta: Its change versus production.
        is_baseline: Whether the advice is to keep production.
        estimator: "gp" (surrogate posterior) or "eb" (empirical Bayes).
        objective: Shrunken estimate of the weighted primary objective.
        objective_sd: Its standard deviation.
        p_better: Probability that the objective beats production.
        p_feasible: Probability that every guardrail holds.
        forecasts: Per-metric shrunken lifts with 95% intervals.
        n_observations: How many arms tested exactly this configuration.
        reason: One paragraph explaining the choice.
        confirmation: A proposal to re-test the configuration, when its evidence is weak.
        alternatives: The best few tested configurations with their numbers, for reports.
    """

    config: Config
    delta: Config
    is_baseline: bool
    estimator: str
    objective: float
    objective_sd: float
    p_better: float
    p_feasible: float
    forecasts: dict[str, MetricForecast]
    n_observations: int
    reason: str
    confirmation: Proposal | None
    alternatives: list[dict[str, Any]]


def empirical_bayes_shrink(
    lifts: Sequence[float], ses: Sequence[float], prior_sd: float | None = None
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
    """Shrink independent noisy estimates towards their precision-weighted mean.

    The spread of the true effects (tau squared) is estimated by the DerSimonian-Laird
    method of moments; with fewer than two estimates `prior_sd` stands in for it (no
    shrinkage when it is None).

    Returns:
        Posterior means and standard deviations, one per estimate.

    Example:
        >>> m, s = empirical_bayes_shrink([0.05, 0.01, 0.012], [0.04, 0.003, 0.003])
        >>> bool(m[0] < 0.02)  # the lucky, noisy estimate is pulled in hard
        True
    """
    y = np.asarray(lifts, dtype=np.float64)
    v = np.maximum(np.asarray(ses, dtype=np.float64), 1e-9) ** 2
    if y.size == 0:
        return y, y
    w = 1.0 / v
    mu = float(np.sum(w * y) / np.sum(w))
    if y.size >= 2:
        q = float(np.sum(w * (y - mu) ** 2))
        denom = float(np.sum(w) - np.sum(w**2) / np.sum(w))
        tau2 = max(0.0, (q - (y.size - 1)) / denom) if denom > 0 else 0.0
    elif prior_sd is not None:
        tau2, mu = prior_sd**2, 0.0
    else:
        return y, np.sqrt(v)
    b = tau2 / (tau2 + v)
    return mu + b * (y - mu), np.sqrt(b * v)


def _eb_prediction(
    problem: TuningProblem, history: Sequence[Observation], configs: list[Config]
) -> Prediction:
    names = [m.name for m in problem.metrics]
    index = {config_key(c): i for i, c in enumerate(configs)}
    mean = np.zeros((len(configs), len(names)))
    std = np.array([[problem.prior_scale(n) for n in names]] * len(configs))
    std[0] = 1e-9  # production: zero lift by definition
    for j, name in enumerate(names):
        # Pool repeated arms of the same configuration by inverse variance first.
        sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for o in history:
            if name in o.metrics and o.key in index and index[o.key] != 0 and not o.transferred:
                est = o.metrics[name]
                w = 1.0 / max(est.se, 1e-6) ** 2
                acc = sums[index[o.key]]
                acc[0] += w * est.lift
                acc[1] += w
        rows = sorted(sums)
        if not rows:
            continue
        pooled = [sums[i][0] / sums[i][1] for i in rows]
        pooled_se = [1.0 / math.sqrt(sums[i][1]) for i in rows]
        m, s = empirical_bayes_shrink(pooled, pooled_se, problem.prior_scale(name))
        mean[rows, j] = m
        std[rows, j] = s
    return Prediction(names, mean, std)


def _pooled_own_arms(
    history: Sequence[Observation],
    configs: list[Config],
    measure: Callable[[Observation], tuple[float, float] | None],
) -> dict[int, tuple[float, float]]:
    """Index of each configuration with arms of its own (transferred rows never count) ->
    the inverse-variance pooled mean and standard deviation of ``measure(arm)``, which
    gives ``(value, se)`` or None when the arm did not measure it."""
    index = {config_key(c): i for i, c in enumerate(configs)}
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for o in history:
        i = index.get(o.key)
        got = None if i is None or o.transferred else measure(o)
        if i is None or got is None:
            continue
        w = 1.0 / max(got[1], 1e-6) ** 2
        sums[i][0] += w * got[0]
        sums[i][1] += w
    return {i: (sw / w, 1.0 / math.sqrt(w)) for i, (sw, w) in sums.items()}


def _direct_p_feasible(
    problem: TuningProblem, history: Sequence[Observation], configs: list[Config]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """P(all guardrails hold) from each configuration's own arms, pooled by inverse variance
    (1 where it has no measurement of a guardrail: the model's estimate then decides)."""
    out = np.ones(len(configs))
    for g in problem.guardrails:
        t = 0.0 if g.guardrail_threshold is None else g.guardrail_threshold

        def one(o: Observation, name: str = g.name) -> tuple[float, float] | None:
            est = o.metrics.get(name)
            return None if est is None else (est.lift, est.se)

        for i, (mean, sd) in _pooled_own_arms(history, configs, one).items():
            out[i] *= float(norm.cdf(g.sign * (mean - t) / sd))
    return out


def _direct_p_better(
    problem: TuningProblem, history: Sequence[Observation], configs: list[Config]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """P(the objective beats production) from each configuration's own arms alone, pooled by
    inverse variance (1 where its arms did not measure every primary)."""
    out = np.ones(len(configs))
    weights = problem.objective_weights

    def objective(o: Observation) -> tuple[float, float] | None:
        if any(n not in o.metrics for n in weights):
            return None
        lift = sum(w * o.metrics[n].lift for n, w in weights.items())
        var = sum((w * o.metrics[n].se) ** 2 for n, w in weights.items())
        return lift, math.sqrt(max(var, 1e-12))

    for i, (mean, sd) in _pooled_own_arms(history, configs, objective).items():
        out[i] = float(norm.cdf(mean / sd))
    return out


def _confirmation(
    problem: TuningProblem,
    config: Config,
    hypothesis: str,
    explanation: str,
    objective: float,
    p_feasible: float,
) -> Proposal:
    """A proposal to test `config` again (source "confirm")."""
    return Proposal.from_config(
        problem.space,
        problem.baseline,
        config,
        hypothesis=hypothesis,
        explanation=explanation,
        source="confirm",
        predicted={"objective": objective, "p_feasible": p_feasible},
    )


def _promising(
    obj: np.ndarray[Any, np.dtype[np.float64]],
    p_feas: np.ndarray[Any, np.dtype[np.float64]],
    counts: list[int],
    max_arms: int,
    floor: float,
) -> int | None:
    """Index of the tested configuration most worth a second look, if any (never production):
    the best shrunken objective above `floor` among those likely enough to be feasible that
    fewer than `max_arms` arms tested."""
    best: int | None = None
    for r in range(1, len(counts)):
        worth = obj[r] > floor and p_feas[r] >= 0.5 and counts[r] < max_arms
        if worth and (best is None or obj[r] > obj[best]):
            best = r
    return best


@dataclass(frozen=True)
class _Scores:
    """Every tested configuration (production first) with what the launch rule reads."""

    configs: list[Config]
    pred: Prediction
    obj: np.ndarray[Any, np.dtype[np.float64]]
    obj_sd: np.ndarray[Any, np.dtype[np.float64]]
    p_feas: np.ndarray[Any, np.dtype[np.float64]]
    p_better: np.ndarray[Any, np.dtype[np.float64]]
    n_tested: list[int]


def _launch_scores(
    problem: TuningProblem,
    history: Sequence[Observation],
    model: SurrogateModel | None,
    estimator: Estimator,
    own_evidence: bool,
) -> _Scores:
    if model is None and estimator == "gp":
        model = SurrogateModel.fit(problem, history)
    if model is not None:
        configs = model.tested
        pred = model.predict(model.tested_x)
    else:
        seen: dict[str, Config] = {config_key(problem.baseline): problem.baseline}
        for o in history:
            if not o.transferred:
                seen.setdefault(o.key, o.config)
        configs = list(seen.values())
        pred = _eb_prediction(problem, history, configs)
    obj, obj_sd = objective_of(problem, pred)
    p_feas, _ = p_guardrails_of(problem, pred)
    # A guardrail is judged on the configuration's own arms too, not on the surrogate alone:
    # with a handful of noisy arms the model shrinks a worrying measurement towards the
    # others, and a launch must not rest on that.
    p_feas = np.minimum(p_feas, _direct_p_feasible(problem, history, configs))
    p_feas[0] = 1.0
    p_better = np.asarray(norm.cdf(obj / np.maximum(obj_sd, 1e-12)), dtype=np.float64)
    if own_evidence:
        p_better = np.minimum(p_better, _direct_p_better(problem, history, configs))
    p_better[0] = 0.0
    counts: dict[str, int] = defaultdict(int)
    for o in history:
        if not o.transferred:
            counts[o.key] += 1
    n_tested = [counts[config_key(c)] for c in configs]
    return _Scores(configs, pred, obj, obj_sd, p_feas, p_better, n_tested)


@single_blas_thread
def recommend_launch(
    problem: TuningProblem,
    history: Sequence[Observation],
    *,
    model: SurrogateModel | None = None,
    estimator: Estimator = "gp",
    min_p_feasible: float = 0.9,
    min_p_better: float = 0.7,
    confirm_below: float = 0.95,
    confirm_min_arms: int = 2,
    confirm_promising: bool = True,
    replicate_above: float = 0.9,
    own_evidence: bool = True,
) -> LaunchRecommendation:
    """The configuration to ship after the rounds in `history`.

    Args:
        problem: The tuning problem (production is `problem.baseline`).
        history: Every observed arm so far.
        model: A surrogate already fitted on `history`, to save a refit.
        estimator: "gp" for the surrogate's posterior mean, "eb" for empirical Bayes.
        min_p_feasible: Required probability that all guardrails hold.
        min_p_better: Required probability of beating production on the objective.
        confirm_below: Propose a confirmation arm when either probability is below this.
        confirm_min_arms: Also propose one while fewer arms than this tested the config:
            a single arm that looks best is exactly where the winner's curse bites.
        confirm_promising: When production stays, propose re-testing the tested
            configuration with the best positive shrunken objective whose guardrails hold
            with probability at least one half and that fewer than `confirm_min_arms` arms
            tested.
        replicate_above: A configuration whose guardrails hold with probability below this
            (a thin margin) is only recommended once `confirm_min_arms` arms tested it: a
            single noisy arm near a guardrail's limit is not enough to ship. 1.0 always asks
            for a replicate; the default (equal to `min_p_feasible`'s default) never does,
            because on the benchmark it did not prevent a single breaching launch and cost
            value (see `docs/benchmarks.md`).
        own_evidence: Judge "better than production" on the configuration's own arms too
            (the smaller of the two probabilities): the surrogate's linear term pools a
            configuration with its mirror image on the other side of production, and a
            launch must not rest on that extrapolation alone.

    Returns:
        The recommendation; production when no tested configuration qualifies.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> from rectune.optimizers.problem import LiftEstimate
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> rec = recommend_launch(problem, [])
        >>> rec.is_baseline
        True
    """
    sc = _launch_scores(problem, history, model, estimator, own_evidence)
    configs, pred, obj, obj_sd = sc.configs, sc.pred, sc.obj, sc.obj_sd
    p_feas, p_better, n_tested = sc.p_feas, sc.p_better, sc.n_tested
    settled = (p_feas >= replicate_above) | (np.asarray(n_tested) >= confirm_min_arms)
    eligible = (p_feas >= min_p_feasible) & (p_better >= min_p_better) & settled
    eligible[0] = True
    score = np.where(eligible, obj, -np.inf)
    score[0] = 0.0
    i = int(np.argmax(score))
    cfg = configs[i]
    order = np.argsort(-obj)[:5]
    alternatives = [
        {
            "config": configs[r],
            "objective": float(obj[r]),
            "objective_sd": float(obj_sd[r]),
            "p_better": float(p_better[r]),
            "p_feasible": float(p_feas[r]),
            "n_observations": n_tested[r],
            "eligible": bool(eligible[r]),
        }
        for r in order
    ]
    fc = forecasts(problem, pred, i)
    confirmation = None
    if i == 0:
        reason = (
            "Keep production: no tested configuration is both likely better "
            f"(P >= {min_p_better:.2f}) and likely within every guardrail "
            f"(P >= {min_p_feasible:.2f}"
            + (f", or {replicate_above:.3g} from a single arm" if replicate_above < 1 else "")
            + ") on the shrunken estimates."
        )
    else:
        reason = (
            f"Ship {describe_delta(problem.baseline, cfg)}: shrunken objective "
            f"{obj[i]:+.2%} (sd {obj_sd[i]:.2%}), P(better than production) = "
            f"{p_better[i]:.2f}, P(all guardrails hold) = {p_feas[i]:.2f}, "
            f"from {n_tested[i]} arm(s)."
        )
        if min(p_better[i], p_feas[i]) < confirm_below or n_tested[i] < confirm_min_arms:
            confirmation = _confirmation(
                problem,
                cfg,
                f"Confirm the launch candidate ({describe_delta(problem.baseline, cfg)}) "
                "before shipping it.",
                f"The evidence is not yet decisive ({n_tested[i]} arm(s), P(better) = "
                f"{p_better[i]:.2f}, P(guardrails hold) = {p_feas[i]:.2f}); another arm "
                "tells a lucky result from a real one before anything ships.",
                float(obj[i]),
                float(p_feas[i]),
            )
    if i == 0 and confirm_promising:
        lead = _promising(obj, p_feas, n_tested, confirm_min_arms, floor=0.0)
        if lead is not None:
            c = configs[lead]
            change = describe_delta(problem.baseline, c)
            reason += f" The most promising configuration seen once ({change}) is re-tested."
            confirmation = _confirmation(
                problem,
                c,
                f"Re-test the most promising configuration ({change}) to tell a real "
                "gain from luck.",
                f"Shrunken objective {obj[lead]:+.2%} (sd {obj_sd[lead]:.2%}), "
                f"P(better) = {p_better[lead]:.2f}, P(guardrails hold) = "
                f"{p_feas[lead]:.2f}, from {n_tested[lead]} arm(s): not yet enough "
                "to ship, promising enough to look again.",
                float(obj[lead]),
                float(p_feas[lead]),
            )
    return LaunchRecommendation(
        config=cfg,
        delta=config_diff(problem.baseline, cfg),
        is_baseline=i == 0,
        estimator=estimator,
        objective=float(obj[i]),
        objective_sd=float(obj_sd[i]),
        p_better=float(p_better[i]),
        p_feasible=float(p_feas[i]),
        forecasts=fc,
        n_observations=n_tested[i],
        reason=reason,
        confirmation=confirmation,
        alternatives=alternatives,
    )


@single_blas_thread
def decision_arms(
    problem: TuningProblem,
    history: Sequence[Observation],
    n: int,
    *,
    model: SurrogateModel | None = None,
    estimator: Estimator = "gp",
    min_p_feasible: float = 0.5,
    min_p_better: float = 0.7,
) -> list[Proposal]:
    """Re-tests of the best tested configurations, for a round that decides the launch.

    Before shipping, a second or third arm of each of the few leading configurations, side by
    side against one control, is worth more than new points: the launch rule needs each
    configuration's own evidence on every guardrail and on the objective, and one noisy arm
    per configuration rarely gives it. The leaders are the tested configurations likely
    better than production (probability at least `min_p_better`, the launch rule's bar) whose
    guardrails hold with probability at least `min_p_feasible`, best shrunken objective first:
    those one more arm can confirm or unlock. A weaker lead is no use to the decision, and its
    arm is better spent on a fresh proposal.

    Args:
        problem: The tuning problem.
        history: Every observed arm so far.
        n: At most this many re-tests (the round's arms).
        model: A surrogate already fitted on `history`.
        estimator: As in `recommend_launch`.
        min_p_feasible: Leaders below this probability that every guardrail holds are left
            out: a round that decides does not spend an arm on a likely breach.
        min_p_better: Leaders below this probability of beating production are left out.

    Returns:
        Up to `n` proposals with source "confirm", best shrunken objective first; none before
        any result.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="w", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"w": 1.0}, metrics=[
        ...     MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> decision_arms(problem, [], 3)
        []
    """
    if not history or n <= 0:
        return []
    sc = _launch_scores(problem, history, model, estimator, own_evidence=True)
    leaders = [
        r
        for r in np.argsort(-sc.obj)
        if r != 0
        and sc.obj[r] > 0
        and sc.p_better[r] >= min_p_better
        and sc.p_feas[r] >= min_p_feasible
        and sc.n_tested[r] > 0
    ][:n]
    out = []
    for rank, r in enumerate(leaders, start=1):
        c = sc.configs[int(r)]
        change = describe_delta(problem.baseline, c)
        out.append(
            _confirmation(
                problem,
                c,
                f"Decide the launch: re-test leader {rank} ({change}) beside the others.",
                f"Shrunken objective {sc.obj[r]:+.2%} (sd {sc.obj_sd[r]:.2%}), P(better) = "
                f"{sc.p_better[r]:.2f}, P(guardrails hold) = {sc.p_feas[r]:.2f}, from "
                f"{sc.n_tested[r]} arm(s); another arm of each leader, against the same "
                "control, is what tells them apart before one ships.",
                float(sc.obj[r]),
                float(sc.p_feas[r]),
            )
        )
    return out
