"""The Bayesian proposer: surrogate, trust region, constrained batch acquisition.

One call fits the per-metric surrogates on the history, places a trust region around the
incumbent, fills a pool of candidate points (mostly inside the region, some perturbations of
the best tested configurations, a few anywhere in the soft box), drops inadmissible and
already-tested ones, and picks a batch by constrained expected improvement with
kriging-believer diversity.

Before there is enough history to say anything (fewer than `min_observations` distinct tested
configurations), half of the batch are moderate steps around production, chosen by the same
acquisition under the prior, and the rest is quasi-random coverage of the soft box. Production
is the one configuration known to be safe, so moves around it are worth testing from the
start; they must still be large enough for one noisy A/B arm to see their effect, or the
first round teaches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import qmc

from rectune.domain import CategoricalParameter, Config, config_key
from rectune.optimizers._threads import single_blas_thread
from rectune.optimizers.acquisition import select_batch
from rectune.optimizers.encoding import FloatArray
from rectune.optimizers.problem import Observation, Proposal, TuningProblem
from rectune.optimizers.proposer import CandidateFilter, describe_delta, sobol_configs
from rectune.optimizers.surrogate import (
    SurrogateModel,
    SurrogateSettings,
    prediction_numbers,
    prediction_text,
)
from rectune.optimizers.trust_region import TrustRegion, TrustRegionSettings, trust_region

__all__ = ["BayesianProposer"]


def _sobol_box(lo: FloatArray, hi: FloatArray, n: int, rng: np.random.Generator) -> FloatArray:
    sampler = qmc.Sobol(d=lo.size, scramble=True, seed=rng)
    m = max(1, int(np.ceil(np.log2(max(n, 2)))))
    u = sampler.random_base2(m)[:n]
    return np.asarray(lo + u * (hi - lo), dtype=np.float64)


@dataclass
class BayesianProposer:
    """Constrained batch Bayesian optimization inside a trust region.

    Attributes:
        surrogate: Settings of the per-metric Gaussian processes.
        region: Settings of the trust region.
        min_observations: Distinct tested configurations needed before the acquisition runs
            on fitted hyperparameters; below it the cold-start mix is used.
        pool_size: Candidate points scored per call.
        global_share: Share of the pool drawn anywhere in the soft box.
        perturb_share: Share of the pool made of perturbations of the best tested configs.
        cold_local_share: Share of a cold-start batch spent on steps around production.
        cold_local_length: Side of the cold-start box around production, as a fraction of
            the soft box.
        categorical_flip: Probability that a pool point changes a categorical knob.
        exploit_arms: Arms per warm batch given to the best predicted point of the trust
            region (highest posterior objective with P(all guardrails hold) of at least
            `exploit_min_feasible`); with few rounds and noisy results a purely greedy arm
            pays off, and the acquisition fills the other arms around it.
        exploit_min_feasible: Feasibility required of the greedy arm.

    Example:
        >>> from rectune.domain import FloatParameter, MetricSpec, SearchSpace
        >>> space = SearchSpace(parameters=[FloatParameter(name="a", low=0, high=4),
        ...                                 FloatParameter(name="b", low=0, high=4)])
        >>> problem = TuningProblem(task="t", space=space, baseline={"a": 1.0, "b": 1.0},
        ...     metrics=[MetricSpec(name="clicks", role="primary", direction="increase")])
        >>> props = BayesianProposer().propose(problem, [], 4, seed=1)
        >>> len(props), sorted({p.source for p in props})
        (4, ['bayes', 'sobol'])
    """

    surrogate: SurrogateSettings = field(default_factory=SurrogateSettings)
    region: TrustRegionSettings = field(default_factory=TrustRegionSettings)
    min_observations: int = 4
    pool_size: int = 1024
    global_share: float = 0.1
    perturb_share: float = 0.3
    cold_local_share: float = 0.5
    cold_local_length: float = 0.6
    categorical_flip: float = 0.2
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
        distinct = len(model.tested) - 1  # minus the baseline
        cold = distinct < self.min_observations
        out: list[Proposal] = []
        if cold:
            n_local = max(1, round(n * self.cold_local_share))
            region = self._cold_region(model)
            best = 0.0
            note = (
                f"cold start ({distinct} tested configurations): a step around "
                f"production (box of {self.cold_local_length:.0%} of the soft range)"
            )
        else:
            n_local = n
            inc = model.incumbent()
            region = trust_region(model, inc, self.region)
            best = inc.objective
            note = (
                f"constrained expected improvement in a trust region of length "
                f"{region.length:.2f} (fraction of the soft box) around "
                f"{'production' if inc.is_baseline else 'the best tested configuration'}"
            )
        pool = self._pool(model, region, rng, cold)
        configs = self._admissible(model, pool, keep)
        if configs:
            x = model.encoder.encode_many(configs)
            forced = [] if cold else self._greedy(model, x)
            choice = select_batch(model, x, n_local, best, forced=forced)
            pred = model.predict(x[choice.indices])
            for row, (i, la) in enumerate(zip(choice.indices, choice.log_acquisition, strict=True)):
                cfg = configs[i]
                keep.admit(cfg)
                numbers = prediction_numbers(problem, pred, row)
                # A forced greedy arm may have no finite acquisition; keep the record JSON-safe.
                numbers["log_acquisition"] = max(la, -1e6)
                out.append(
                    Proposal.from_config(
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
                )
        missing = n - len(out)
        if missing > 0:
            for cfg in sobol_configs(problem, missing, seed=seed, keep=keep):
                out.append(
                    Proposal.from_config(
                        problem.space,
                        problem.baseline,
                        cfg,
                        hypothesis=f"Explore: {describe_delta(problem.baseline, cfg)}.",
                        explanation="Quasi-random point of the soft box, for coverage.",
                        source="sobol",
                    )
                )
        return out

    def _greedy(self, model: SurrogateModel, x: FloatArray) -> list[int]:
        if self.exploit_arms <= 0:
            return []
        pred = model.predict(x)
        obj, _ = model.objective_from(pred)
        p_feas, _ = model.p_guardrails_from(pred)
        score = np.where(p_feas >= self.exploit_min_feasible, obj, -np.inf)
        order = [int(i) for i in np.argsort(-score)[: self.exploit_arms]]
        return [i for i in order if np.isfinite(score[i])]

    def _cold_region(self, model: SurrogateModel) -> TrustRegion:
        enc = model.encoder
        center = np.clip(enc.encode(model.problem.baseline), enc.soft_lo, enc.soft_hi)
        half = 0.5 * self.cold_local_length * (enc.soft_hi - enc.soft_lo)
        lo = np.where(enc.numeric_mask, np.maximum(center - half, enc.soft_lo), 0.0)
        hi = np.where(enc.numeric_mask, np.minimum(center + half, enc.soft_hi), 1.0)
        return TrustRegion(center, lo, hi, self.cold_local_length, 0, 0, 0)

    def _elites(self, model: SurrogateModel, k: int = 3) -> FloatArray:
        pred = model.predict(model.tested_x)
        obj, _ = model.objective_from(pred)
        p_feas, _ = model.p_guardrails_from(pred)
        score = np.where(p_feas >= 0.5, obj, -np.inf)
        score[0] = max(score[0], obj[0])
        order = np.argsort(-score)[:k]
        return np.asarray(model.tested_x[order[np.isfinite(score[order])]], dtype=np.float64)

    def _pool(
        self, model: SurrogateModel, region: TrustRegion, rng: np.random.Generator, cold: bool
    ) -> FloatArray:
        enc = model.encoder
        num = enc.numeric_mask
        n_glob = 0 if cold else int(self.pool_size * self.global_share)
        n_pert = 0 if cold else int(self.pool_size * self.perturb_share)
        n_tr = self.pool_size - n_glob - n_pert
        parts = [_sobol_box(region.lo, region.hi, n_tr, rng)]
        if n_glob:
            parts.append(_sobol_box(enc.soft_lo, enc.soft_hi, n_glob, rng))
        if n_pert:
            elites = self._elites(model)
            base = elites[rng.integers(0, elites.shape[0], n_pert)]
            sd = 0.25 * (region.hi - region.lo)
            step = rng.normal(0.0, 1.0, base.shape) * sd
            # Moving few knobs at a time keeps perturbations interpretable and local.
            mask = rng.random(base.shape) < max(0.2, min(1.0, 2.0 / max(int(num.sum()), 1)))
            pert = np.where(mask & num, base + step, base)
            parts.append(np.clip(pert, enc.soft_lo, enc.soft_hi))
        pool = np.vstack(parts)
        # Categorical blocks: keep the region centre's choice mostly, sometimes try another.
        for p in model.problem.space.parameters:
            if not isinstance(p, CategoricalParameter):
                continue
            sl = enc.param_slice(p.name)
            # A cold start stays on production's choice: switching a categorical is no small step.
            p_flip = 0.0 if cold else self.categorical_flip
            flip = np.less(rng.random(pool.shape[0]), p_flip)
            random_block = rng.random((pool.shape[0], sl.stop - sl.start))
            pool[:, sl] = np.where(flip[:, None], random_block, region.center[sl])
        return pool

    @staticmethod
    def _admissible(model: SurrogateModel, pool: FloatArray, keep: CandidateFilter) -> list[Config]:
        seen: set[str] = set()
        out: list[Config] = []
        for cfg in model.encoder.decode_many(pool):
            if not keep.ok(cfg):
                continue
            key = config_key(cfg)
            if key in seen:
                continue
            seen.add(key)
            out.append(cfg)
        return out
