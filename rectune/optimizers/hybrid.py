"""Hybrid mode: LLM proposals mixed with engine proposals, and the surrogate's view for prompts.

The engine runs every round; an LLM may steer a capped share of the arms. `merge_proposals`
enforces the cap and removes repeats. `surrogate_view` condenses what the surrogates believe
into numbers and a few lines of text the actor's prompt can carry: where the best regions are,
how uncertain the model still is, and which knobs move the objective most.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

from rectune.domain import CategoricalParameter, Config, config_key
from rectune.optimizers._threads import single_blas_thread
from rectune.optimizers.encoding import FloatArray
from rectune.optimizers.problem import Observation, Proposal, TuningProblem
from rectune.optimizers.proposer import describe_delta
from rectune.optimizers.surrogate import SurrogateModel

__all__ = ["SurrogateView", "merge_proposals", "surrogate_view"]


def merge_proposals(
    llm: Sequence[Proposal],
    engine: Sequence[Proposal],
    k: int,
    *,
    llm_share: float = 0.5,
    exclude_keys: Iterable[str] = (),
) -> list[Proposal]:
    """Merge LLM and engine proposals into at most `k`, with at most ``floor(llm_share * k)``
    from the LLM.

    Proposals keep their order within each source; the result alternates between sources
    while both have slots left. A configuration appearing twice (or listed in
    `exclude_keys`, e.g. tested ones) is kept once, from whichever source comes first. When
    the engine runs short the free slots stay empty rather than breaking the cap.

    Example:
        >>> a = Proposal(delta={"w": 2.0}, config={"w": 2.0}, source="llm")
        >>> b = Proposal(delta={"w": 3.0}, config={"w": 3.0}, source="bayes")
        >>> [p.source for p in merge_proposals([a, a], [b, a], 4, llm_share=0.25)]
        ['llm', 'bayes']
    """
    if not 0.0 <= llm_share <= 1.0:
        raise ValueError(f"llm_share={llm_share}: must lie in [0, 1]")
    if k <= 0:
        return []
    seen = set(exclude_keys)

    def fresh(props: Sequence[Proposal]) -> list[Proposal]:
        out = []
        for p in props:
            if p.key not in seen:
                seen.add(p.key)
                out.append(p)
        return out

    # The LLM picks first within its cap so an engine copy of the same config does not use up
    # an LLM slot; the engine then fills the remaining slots.
    cap = math.floor(llm_share * k + 1e-9)
    from_llm = fresh(llm)[:cap]
    from_engine = fresh(engine)[: k - len(from_llm)]
    merged: list[Proposal] = []
    for i in range(max(len(from_llm), len(from_engine))):
        merged.extend(src[i] for src in (from_llm, from_engine) if i < len(src))
    return merged[:k]


@dataclass(frozen=True)
class SurrogateView:
    """What the surrogates believe, for the actor's prompt and for people.

    Attributes:
        task: The task.
        n_observations: Arms observed so far.
        incumbent: The best tested configuration by the model, with its predictions.
        best_configs: A few diverse promising configurations over the soft box.
        best_region: Per-parameter range covered by the top tenth of a space-filling sample.
        uncertainty: Mean objective sd over the soft box and at the incumbent, and the share of
            the box where the model knows little more than its prior.
        sensitivity: Per parameter, how the predicted objective and guardrail odds move when
            the knob is nudged from the incumbent, and the fitted length scale; most
            influential first.
    """

    task: str
    n_observations: int
    incumbent: dict[str, Any]
    best_configs: list[dict[str, Any]]
    best_region: dict[str, list[Any]]
    uncertainty: dict[str, float]
    sensitivity: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return {
            "task": self.task,
            "n_observations": self.n_observations,
            "incumbent": self.incumbent,
            "best_configs": self.best_configs,
            "best_region": self.best_region,
            "uncertainty": self.uncertainty,
            "sensitivity": self.sensitivity,
        }

    def to_text(self) -> str:
        """A compact multi-line summary for an LLM prompt."""
        inc = self.incumbent
        lines = [
            f"Surrogate view of {self.task} after {self.n_observations} tested arms "
            "(objective = weighted relative lift of the primary metrics).",
            f"- Best tested so far: {inc['change']} -> objective {inc['objective']:+.2%} "
            f"(sd {inc['objective_sd']:.2%}), P(guardrails hold) {inc['p_feasible']:.2f}.",
        ]
        for c in self.best_configs:
            lines.append(
                f"- Promising untested: {c['change']} -> predicted {c['objective']:+.2%} "
                f"(sd {c['objective_sd']:.2%}), P(guardrails hold) {c['p_feasible']:.2f}."
            )
        if self.best_region:
            region = ", ".join(f"{k} in {v}" for k, v in self.best_region.items())
            lines.append(f"- Best region (top 10% of the soft box by prediction): {region}.")
        u = self.uncertainty
        lines.append(
            f"- Uncertainty: objective sd {u['mean_sd']:.2%} on average over the soft box, "
            f"{u['incumbent_sd']:.2%} at the best tested; {u['unexplored_share']:.0%} of the "
            "box is still close to prior ignorance."
        )
        for s in self.sensitivity[:5]:
            lines.append(
                f"- {s['parameter']}: {s['move']} changes the objective by "
                f"{s['objective_change']:+.2%} and P(guardrails hold) by "
                f"{s['p_feasible_change']:+.2f}."
            )
        return "\n".join(lines)


def _pick_diverse(x: FloatArray, order: Sequence[int], k: int, min_dist: float) -> list[int]:
    chosen: list[int] = []
    for i in order:
        if all(np.linalg.norm(x[i] - x[j]) >= min_dist for j in chosen):
            chosen.append(int(i))
        if len(chosen) == k:
            break
    return chosen


@single_blas_thread
def surrogate_view(
    problem: TuningProblem,
    history: Sequence[Observation],
    *,
    model: SurrogateModel | None = None,
    top: int = 3,
    step: float = 0.1,
    seed: int = 0,
) -> SurrogateView:
    """Summarize the surrogates' beliefs (see `SurrogateView`).

    Args:
        problem: The tuning problem.
        history: Observed arms.
        model: A surrogate already fitted on `history`.
        top: How many promising configurations to list.
        step: Nudge used for sensitivities, as a fraction of each knob's soft range.
        seed: Seed of the space-filling sample.
    """
    model = model or SurrogateModel.fit(problem, history)
    enc = model.encoder
    inc = model.incumbent()

    sampler = qmc.Sobol(d=enc.n_params, scramble=True, seed=seed)
    configs: list[Config] = []
    keys: set[str] = {config_key(c) for c in model.tested}
    for u in sampler.random_base2(9):
        cfg = enc.from_unit_params(u)
        k = config_key(cfg)
        if k not in keys and problem.satisfies_rules(cfg):
            keys.add(k)
            configs.append(cfg)
    x = enc.encode_many(configs)
    pred = model.predict(x)
    obj, obj_sd = model.objective_from(pred)
    p_feas, _ = model.p_guardrails_from(pred)

    score = np.where(p_feas >= 0.8, obj, -np.inf)
    order = [int(i) for i in np.argsort(-score) if np.isfinite(score[i])]
    best_configs = [
        {
            "config": configs[i],
            "change": describe_delta(problem.baseline, configs[i]),
            "objective": float(obj[i]),
            "objective_sd": float(obj_sd[i]),
            "p_feasible": float(p_feas[i]),
        }
        for i in _pick_diverse(x, order, top, min_dist=0.15)
    ]
    best_region: dict[str, list[Any]] = {}
    head = order[: max(1, len(order) // 10)] if order else []
    if head:
        for p in problem.space.parameters:
            vals = [configs[i][p.name] for i in head]
            if isinstance(p, CategoricalParameter):
                best_region[p.name] = sorted({str(v) for v in vals})
            else:
                best_region[p.name] = [min(vals), max(vals)]

    inc_pred = model.predict(inc.x[None, :])
    inc_obj, inc_sd = model.objective_from(inc_pred)
    prior_sd = math.sqrt(
        sum((w * problem.prior_scale(n)) ** 2 for n, w in problem.objective_weights.items())
    )
    uncertainty = {
        "mean_sd": float(obj_sd.mean()) if obj_sd.size else prior_sd,
        "incumbent_sd": float(inc_sd[0]),
        "unexplored_share": float(np.mean(obj_sd > 0.8 * prior_sd)) if obj_sd.size else 1.0,
    }

    sensitivity = _sensitivity(model, inc.config, float(inc_obj[0]), inc.p_feasible, step)
    return SurrogateView(
        task=problem.task,
        n_observations=model.n_observations,
        incumbent={
            "config": inc.config,
            "change": describe_delta(problem.baseline, inc.config),
            "objective": float(inc_obj[0]),
            "objective_sd": float(inc_sd[0]),
            "p_feasible": float(inc.p_feasible),
            "is_baseline": inc.is_baseline,
        },
        best_configs=best_configs,
        best_region=best_region,
        uncertainty=uncertainty,
        sensitivity=sensitivity,
    )


def _sensitivity(
    model: SurrogateModel, center: Config, obj0: float, p0: float, step: float
) -> list[dict[str, Any]]:
    """Finite differences of the posterior mean around `center`, one knob at a time."""
    enc = model.encoder
    ls = model.length_scales()
    x0 = enc.encode(center)
    rows: list[dict[str, Any]] = []
    for p in model.problem.space.parameters:
        sl = enc.param_slice(p.name)
        trials: list[tuple[str, Config]] = []
        if isinstance(p, CategoricalParameter):
            allowed = p.soft_choices or p.choices
            trials = [
                (f"setting it to {c!r}", {**center, p.name: c})
                for c in allowed
                if c != center[p.name]
            ]
        else:
            width = enc.soft_hi[sl.start] - enc.soft_lo[sl.start]
            for sign, verb in ((1.0, "raising"), (-1.0, "lowering")):
                xt = x0.copy()
                xt[sl.start] = x0[sl.start] + sign * step * width
                cfg = enc.decode(xt)
                if cfg[p.name] != center[p.name]:
                    trials.append((f"{verb} it to {cfg[p.name]}", {**center, p.name: cfg[p.name]}))
        if not trials:
            continue
        pred = model.predict_configs([c for _, c in trials])
        obj, _ = model.objective_from(pred)
        p_feas, _ = model.p_guardrails_from(pred)
        best = int(np.argmax(np.abs(obj - obj0)))
        rows.append(
            {
                "parameter": p.name,
                "move": trials[best][0],
                "objective_change": float(obj[best] - obj0),
                "p_feasible_change": float(p_feas[best] - p0),
                "length_scale": float(np.min(ls[sl])),
            }
        )
    rows.sort(key=lambda r: -abs(r["objective_change"]))
    return rows
