"""The Bayesian proposer: safe first round, then constrained acquisition over a growing region.

**Round 1** (no A/B result of the task yet): every arm moves *one* knob from production by
`cold_step` of its soft range, each arm a different knob. Nothing is known yet, so the arms
must be safe (a small step from the one configuration known to be fine), informative (a step
one noisy arm can see), and attributable (one knob per arm, so the next round knows which
knob did what). Directions follow the skill's monotone effects where they speak for the
primary; otherwise the side with more room.

**Later rounds**: per-metric GP surrogates (`SurrogateModel`), and a batch chosen by the
constrained log expected improvement (`acquisition`) optimized with gradients inside the
*explorable region*: boxes around production and every tested configuration the model
believes safe, with a half side of `region_init` of the soft box after the first round,
multiplied by `region_growth` after each further round (capped at the whole box). This is
SafeOpt's idea in TuRBO's shape: the region only grows where evidence says it is safe, and
the acquisition's own loss and guardrail factors keep the arms honest inside it. The first arm
of a batch is the model's best guess (`exploit_arms`); the others seek improvement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rectune.domain import CategoricalParameter, Config, IntParameter
from rectune.optimizers._threads import single_blas_thread
from rectune.optimizers.acquisition import (
    P_GUARDRAILS,
    P_WITHIN_LOSS,
    AcquisitionSettings,
    Region,
    greedy_value,
    optimize_acquisition,
    safety,
)
from rectune.optimizers.encoding import FloatArray
from rectune.optimizers.problem import Observation, Proposal, TuningProblem
from rectune.optimizers.proposer import CandidateFilter, describe_delta, sobol_configs
from rectune.optimizers.reach import STEP
from rectune.optimizers.surrogate import (
    SurrogateModel,
    SurrogateSettings,
    prediction_numbers,
    prediction_text,
)

__all__ = ["BayesianProposer", "explorable_region"]


def _hard_feature_bounds(model: SurrogateModel) -> tuple[FloatArray, FloatArray]:
    """The soft box in features, narrowed by the deterministic guardrails (hard constraints)."""
    enc = model.encoder
    lo, hi = enc.soft_lo.copy(), enc.soft_hi.copy()
    for name, (vlo, vhi) in model.problem.hard_bounds().items():
        p = model.problem.space[name]
        col = enc.param_slice(name).start
        if getattr(p, "kind", "") == "int":
            vlo, vhi = float(np.ceil(vlo)), float(np.floor(vhi))
        lo[col] = max(lo[col], enc._unit(p, vlo))  # type: ignore[arg-type]
        hi[col] = min(hi[col], enc._unit(p, vhi))  # type: ignore[arg-type]
    return lo, np.maximum(hi, lo)


def explorable_region(
    model: SurrogateModel, init: float = 0.2, growth: float = 1.5
) -> Region:
    """Boxes around production and the tested configurations the model believes safe.

    Safe means: every guardrail holds with probability at least one half and the predicted
    objective loss is within the task's arm-loss limit. The half side is ``init`` of the soft
    box after one round of results and grows by ``growth`` per further round, up to the whole
    box: recomputed from the history each time, so nothing is stored between rounds.
    """
    enc = model.encoder
    lo, hi = _hard_feature_bounds(model)
    rounds = len({o.round for o in model.history if not o.transferred})
    radius = min(1.0, init * growth ** max(rounds - 1, 0))
    rows = [model.tested_x[0]]
    points = [o for o in model.history if o.transferred]
    extra = enc.encode_many([o.config for o in points])
    cand = np.vstack([model.tested_x[1:], extra]) if len(extra) else model.tested_x[1:]
    if len(cand):
        pred = model.predict(cand)
        obj, _ = model.objective_from(pred)
        p_feas, _ = model.p_guardrails_from(pred)
        safe = (p_feas >= 0.5) & (obj >= -model.problem.arm_loss_limit)
        rows.extend(cand[safe])
    anchors = np.vstack(rows)
    free = enc.free_mask.copy()
    return Region(np.clip(anchors, lo, hi), radius, lo, hi, free)


@dataclass
class BayesianProposer:
    """Safe, constrained batch Bayesian optimization (see the module docstring).

    Attributes:
        surrogate: Settings of the per-metric Gaussian processes.
        acquisition: How the acquisition is maximized.
        cold_step: Largest step of a first-round arm, as a fraction of the knob's soft
            range; smaller when the prior says such a step could cost more than
            `first_round_loss` times the arm-loss limit (`first_step`).
        first_round_loss: Multiple of the arm-loss limit a first-round arm may lose with at
            most `first_round_z` standard deviations of prior spread (1.5: three times the
            tightest guardrail threshold by default).
        first_round_z: See `first_round_loss`.
        first_round_guard: Multiple of each guardrail's threshold a first-round arm may move
            that guardrail by with at most `first_round_z` prior standard deviations: a step
            that moves the primary little can still move a sensitive guardrail past its
            limit (doubling the fusion's dwell weight shifts topic diversity by several
            percent), and the monitor stopping such an arm is harm users already paid for.
        p_guardrails: Probability that every guardrail holds an exploratory arm needs.
        p_within_loss: Probability that its objective loss stays within the arm-loss limit.
        region_init: Half side of the explorable boxes after the first round of results.
        region_growth: Factor per further round.
        exploit_arms: Arms per batch given to the model's best guess (highest posterior
            objective where every guardrail holds with probability `exploit_min_feasible`).
        exploit_min_feasible: Feasibility required of the greedy arm.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="a", low=0, high=4),
        ...                                 FloatParameter(name="b", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"a": 1.0, "b": 1.0},
        ...     metrics=[MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> props = BayesianProposer().propose(problem, [], 2, seed=1)
        >>> [sorted(p.delta) for p in props]
        [['a'], ['b']]
    """

    surrogate: SurrogateSettings = field(default_factory=SurrogateSettings)
    acquisition: AcquisitionSettings = field(default_factory=AcquisitionSettings)
    cold_step: float = 0.12
    first_round_loss: float = 1.5
    first_round_z: float = 2.0
    first_round_guard: float = 1.0
    p_guardrails: float = P_GUARDRAILS
    p_within_loss: float = P_WITHIN_LOSS
    region_init: float = 0.2
    region_growth: float = 1.5
    exploit_arms: int = 1
    exploit_min_feasible: float = 0.8
    source: str = "bayes"

    def propose(
        self, problem: TuningProblem, history: Sequence[Observation], n: int, *, seed: int
    ) -> list[Proposal]:
        """Fit the surrogates on `history` and propose up to `n` new configurations."""
        model = SurrogateModel.fit(problem, history, self.surrogate)
        return self.propose_with(model, n, seed=seed)

    @single_blas_thread
    def propose_with(
        self, model: SurrogateModel, n: int, *, seed: int, exclude: Sequence[str] = ()
    ) -> list[Proposal]:
        """Propose with an already fitted model; `exclude` holds extra config keys to avoid."""
        if n <= 0:
            return []
        problem = model.problem
        keep = CandidateFilter(problem, model.history, exclude)
        rng = np.random.default_rng(seed)
        if model.n_observations == 0 and not any(o.transferred for o in model.history):
            step = self.first_step(problem)
            configs = self._first_round(model, n, keep, rng, step)
            note = (
                f"first round: one knob moved by {step:.0%} of its soft range, a safe and "
                "attributable step from production"
            )
            if step < self.cold_step:
                note += (
                    f" (smaller than the usual {self.cold_step:.0%}: the skill's effect scales "
                    f"say a larger step could cost more than "
                    f"{self.first_round_loss * problem.arm_loss_limit:.1%} on the objective)"
                )
        else:
            configs, note = self._acquire(model, n, keep, rng)
        out = [self._proposal(model, c, note) for c in configs]
        missing = n - len(out)
        if missing > 0:
            for cfg in sobol_configs(problem, missing, seed=seed, keep=keep):
                out.append(
                    Proposal.from_config(
                        problem.space, problem.baseline, cfg,
                        hypothesis=f"Explore: {describe_delta(problem.baseline, cfg)}.",
                        explanation="Quasi-random point of the soft box, for coverage.",
                        source="sobol",
                    )
                )
        return out

    def _proposal(self, model: SurrogateModel, cfg: Config, note: str) -> Proposal:
        problem = model.problem
        pred = model.predict_configs([cfg])
        numbers = prediction_numbers(problem, pred, 0)
        return Proposal.from_config(
            problem.space,
            problem.baseline,
            cfg,
            hypothesis=(
                f"{describe_delta(problem.baseline, cfg).capitalize()}: "
                f"{prediction_text(problem, numbers)}."
            ),
            explanation=f"Surrogate proposal: {note}.",
            source=self.source,
            predicted=numbers,
        )

    def first_step(self, problem: TuningProblem) -> float:
        """The first round's step (fraction of a soft range): `cold_step`, or less when
        `first_round_z` prior standard deviations of the objective at that distance exceed
        `first_round_loss` times the arm-loss limit, or those of a guardrail whose effect
        scale the skill declares exceed `first_round_guard` times its threshold
        (deterministic guardrails are exact and enforced as bounds instead)."""
        weights = problem.objective_weights
        scale = float(np.sqrt(sum((w * problem.prior_scale(n)) ** 2 for n, w in weights.items())))
        cap = self.first_round_loss * problem.arm_loss_limit / (self.first_round_z * scale)
        for g in problem.guardrails:
            # Only a declared scale says how sensitive the guardrail is; the fallback scale
            # is the threshold itself, which would cap every undeclared task's first steps.
            declared = problem.structure.effect_scale(g.name)
            if (
                g.guardrail_threshold and declared
                and problem.structure.deterministic_for(g.name) is None
            ):
                room = self.first_round_guard * abs(g.guardrail_threshold)
                cap = min(cap, room / (self.first_round_z * declared))
        # growth(d) = d + d^2 / 2 = cap, solved for the distance d in steps.
        d = -1.0 + float(np.sqrt(1.0 + 2.0 * cap))
        return float(min(self.cold_step, max(d * STEP, 0.01)))

    def _first_round(
        self, model: SurrogateModel, n: int, keep: CandidateFilter, rng: np.random.Generator,
        cold_step: float,
    ) -> list[Config]:
        """One-knob steps from production, each arm a different knob first."""
        problem = model.problem
        enc = model.encoder
        lo, hi = _hard_feature_bounds(model)
        base = enc.encode(problem.baseline)
        primaries = {m.name: m.sign for m in problem.primaries}
        hints: dict[str, float] = {}
        for mono in problem.structure.monotone:
            if mono.metric in primaries:
                up = 1 if mono.direction == "increase" else -1
                hints[mono.parameter] = up * primaries[mono.metric]
        knobs = [
            p for p in problem.space.parameters
            if isinstance(p, CategoricalParameter) or enc.free_mask[enc.param_slice(p.name).start]
        ]
        order = [knobs[i] for i in rng.permutation(len(knobs))]
        out: list[Config] = []
        for attempt in range(2):  # first each knob one way, then the other way
            for p in order:
                if len(out) >= n:
                    return out
                x = base.copy()
                sl = enc.param_slice(p.name)
                if isinstance(p, CategoricalParameter):
                    others = [c for c in enc.allowed(p) if c != problem.baseline[p.name]]
                    if len(others) <= attempt:
                        continue
                    x[sl] = 0.0
                    x[sl.start + p.choices.index(others[attempt])] = 1.0
                else:
                    c = sl.start
                    room_up, room_down = hi[c] - base[c], base[c] - lo[c]
                    sign = hints.get(p.name, 1.0 if room_up >= room_down else -1.0)
                    sign = sign if attempt == 0 else -sign
                    step = cold_step if sign > 0 else -cold_step
                    x[c] = float(np.clip(base[c] + step, lo[c], hi[c]))
                    if isinstance(p, IntParameter):
                        # A step smaller than one unit rounds back to production: take the
                        # smallest real move instead of dropping the knob from the round.
                        moved = int(problem.baseline[p.name]) + (1 if step > 0 else -1)
                        unit = enc.encode({**problem.baseline, p.name: moved})[c]
                        if abs(x[c] - base[c]) < abs(unit - base[c]):
                            x[c] = float(np.clip(unit, lo[c], hi[c]))
                cfg = enc.decode(x)
                if keep.admit(cfg):
                    out.append(cfg)
        return out

    def _acquire(
        self, model: SurrogateModel, n: int, keep: CandidateFilter, rng: np.random.Generator
    ) -> tuple[list[Config], str]:
        enc = model.encoder
        region = explorable_region(model, self.region_init, self.region_growth)
        inc = model.incumbent()
        best = inc.objective
        note = (
            "constrained expected improvement (guardrails and the arm-loss limit of "
            f"{model.problem.arm_loss_limit:.1%} priced in) within {region.radius:.0%} of the "
            f"soft box around {region.anchors.shape[0]} safe configuration(s)"
        )
        out: list[Config] = []
        current = model
        greedy = greedy_value(self.exploit_min_feasible)
        avoid = [row for row in model.tested_x]
        fallback = 0
        for j in range(n):
            fn = greedy if j < self.exploit_arms else None
            chosen: Config | None = None
            spare: tuple[float, Config] | None = None
            for x, _v in optimize_acquisition(
                current, region, best, rng, self.acquisition, value=fn, avoid=np.vstack(avoid)
            ):
                cfg = enc.decode(x)
                if not keep.ok(cfg):
                    continue
                # Judged on the real model, not the batch's fantasies: a pending arm is no
                # evidence that its neighbourhood is safe.
                p_guard, p_loss = safety(model, model.predict_configs([cfg]))
                margin = min(p_guard[0] / self.p_guardrails, p_loss[0] / self.p_within_loss)
                if margin >= 1.0:
                    chosen = cfg
                    break
                if spare is None or margin > spare[0]:
                    spare = (margin, cfg)
            if chosen is None and spare is not None:
                # Nothing met the safety levels: the safest candidate found still goes, so a
                # task whose every move looks risky keeps learning (the note says so).
                chosen = spare[1]
                fallback += 1
            if chosen is None:
                break
            keep.admit(chosen)
            out.append(chosen)
            x_new = enc.encode(chosen)
            avoid.append(x_new)
            current = current.fantasize(x_new[None, :])
        if fallback:
            note += (
                f"; {fallback} arm(s) fell short of the safety levels (P(guardrails) >= "
                f"{self.p_guardrails:.0%}, P(loss within {model.problem.arm_loss_limit:.1%}) >= "
                f"{self.p_within_loss:.0%}) and are the safest found: every move looked risky "
                "this far from the measured configurations"
            )
        return out, note
