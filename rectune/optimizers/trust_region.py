"""A TuRBO-style trust region, recomputed from the history on every call.

The region is a box around the incumbent whose side, relative to the soft box, grows after a
round that improved on the best configuration so far and shrinks after rounds that did not.
Each side is stretched by the primary surrogate's length scale on that axis (normalized to a
geometric mean of one), so the box is long along knobs that matter little and short along
knobs that matter a lot. Success is judged on the model's posterior mean at the tested points
rather than on raw observations, so one lucky noisy arm does not count as progress.

Nothing is stored between calls: replaying the rounds in order gives the same region, which
keeps the engine stateless and the graph checkpoint small.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from rectune.optimizers.encoding import FloatArray
from rectune.optimizers.surrogate import Incumbent, SurrogateModel

__all__ = ["TrustRegion", "TrustRegionSettings", "trust_region"]


@dataclass(frozen=True)
class TrustRegionSettings:
    """How the region's length evolves (lengths are fractions of the soft box's sides).

    Attributes:
        init: Starting length.
        min: Below this the region restarts at `init`.
        max: Largest length.
        expand: Factor applied after `success_tolerance` successful rounds in a row.
        shrink: Factor applied after `failure_tolerance` failed rounds in a row.
        success_tolerance: Successful rounds needed to expand.
        failure_tolerance: Failed rounds needed to shrink.
        success_z: A round succeeds when its best posterior objective beats the best so far
            by more than this many posterior standard deviations (of that point), so that a
            gain the model itself doubts does not widen the region.
    """

    init: float = 0.5
    min: float = 0.04
    max: float = 1.2
    expand: float = 1.6
    shrink: float = 0.5
    success_tolerance: int = 1
    failure_tolerance: int = 2
    success_z: float = 1.0


@dataclass(frozen=True)
class TrustRegion:
    """A box in feature space (categorical columns span [0, 1]) and how it got its size."""

    center: FloatArray
    lo: FloatArray
    hi: FloatArray
    length: float
    successes: int
    failures: int
    restarts: int


def trust_region(
    model: SurrogateModel, incumbent: Incumbent, settings: TrustRegionSettings | None = None
) -> TrustRegion:
    """The trust region implied by the history in `model`, centered on `incumbent`."""
    s = settings or TrustRegionSettings()
    enc = model.encoder
    length, succ, fail, restarts = s.init, 0, 0, 0
    total_succ = total_fail = 0
    by_round: dict[int, list[int]] = defaultdict(list)
    for i, obs in enumerate(model.history):
        by_round[obs.round].append(i)
    if by_round:
        x = enc.encode_many([o.config for o in model.history])
        pred = model.predict(x)
        obj, obj_sd = model.objective_from(pred)
        p_feas, _ = model.p_guardrails_from(pred)
        running = 0.0  # production's objective
        for r in sorted(by_round):
            idx = [i for i in by_round[r] if p_feas[i] >= 0.5]
            top = max(idx, key=lambda i: float(obj[i]), default=None)
            improved = top is not None and obj[top] > running + s.success_z * obj_sd[top]
            if top is not None:
                running = max(running, float(obj[top]))
            if improved:
                succ, fail = succ + 1, 0
                total_succ += 1
            else:
                succ, fail = 0, fail + 1
                total_fail += 1
            if succ >= s.success_tolerance:
                length, succ = min(length * s.expand, s.max), 0
            elif fail >= s.failure_tolerance:
                length, fail = length * s.shrink, 0
                if length < s.min:
                    length, restarts = s.init, restarts + 1
    center = np.clip(incumbent.x, enc.soft_lo, enc.soft_hi)
    ls = model.length_scales()[enc.numeric_mask]
    weights = np.ones(enc.dim)
    if ls.size:
        w = ls / np.exp(np.mean(np.log(ls)))
        weights[enc.numeric_mask] = np.clip(w, 0.25, 4.0)
    half = 0.5 * length * weights * (enc.soft_hi - enc.soft_lo)
    lo = np.where(enc.numeric_mask, np.maximum(center - half, enc.soft_lo), 0.0)
    hi = np.where(enc.numeric_mask, np.minimum(center + half, enc.soft_hi), 1.0)
    return TrustRegion(center, lo, hi, length, total_succ, total_fail, restarts)
