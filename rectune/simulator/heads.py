"""Imperfect model heads: what the recommender believes about a user and an item.

The recommender never sees the true behaviour model in `behavior.py`. Its heads are built from
the same item features but with realistic flaws, which is why its configurations need tuning:

* pre-ranking heads are cheap: a noisy item-level click prior, an item-level dwell prior and
  a noisy quality estimate, plus the user's estimated topic affinity;
* ranking heads see a share of the user-item match signal, but the click head is inflated by
  clickbait, the dwell head under-penalises clickbait, the negative-feedback head
  under-estimates clickbait harm, and no head knows about fatigue or freshness appeal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.world import World

__all__ = ["PAIR_BITS", "Heads", "build_heads", "sigmoid"]

F32 = NDArray[np.float32]

PAIR_BITS = 16
"""Per-(user, item) effects are looked up in tables of 2**PAIR_BITS entries by hash.

Small enough (256 KB per table) to stay in cache: random gathers from a 4 MB table cost
four times as much, and 65,536 distinct values are plenty of taste variety per user.
"""


def sigmoid(x: F32) -> F32:
    """Logistic function in float32."""
    return np.float32(1.0) / (np.float32(1.0) + np.exp(-x))


@dataclass(frozen=True, eq=False)
class Heads:
    """Item-level parts of every head, plus hashed per-pair tables.

    Attributes:
        pre_click: Pre-ranking click logit prior per item (clickbait-inflated, noisy).
        pre_dwell: Pre-ranking expected dwell per item (seconds).
        pre_quality: Pre-ranking quality estimate per item.
        rank_click: Ranking click logit per item, before the user's affinity.
        rank_dwell: Ranking expected dwell given a click, per item (seconds).
        rank_like: Ranking like logit per item.
        rank_share: Ranking share probability given a click, per item.
        rank_negative: Ranking negative-feedback logit per item.
        true_match: Table of true per-pair click effects (persistent taste not in features).
        rank_pair: Table of the ranking head's per-pair estimate (part true signal, part error).
        norm: Typical magnitudes used to put head outputs on a common scale.
    """

    pre_click: F32
    pre_dwell: F32
    pre_quality: F32
    rank_click: F32
    rank_dwell: F32
    rank_like: F32
    rank_share: F32
    rank_negative: F32
    true_match: F32
    rank_pair: F32
    norm: dict[str, float]


def build_heads(world: World) -> Heads:
    """Derive the model heads of `world` deterministically from its seed."""
    rng = np.random.default_rng([world.params.seed, 7331])
    n = world.n_items
    q = world.quality.astype(np.float64)
    b = world.clickbait.astype(np.float64)
    s = world.share_appeal.astype(np.float64)
    length = world.length.astype(np.float64)
    size = 1 << PAIR_BITS
    match = rng.normal(0.0, 0.55, size)
    model_err = rng.normal(0.0, 0.3, size)

    pre_click = -2.3 + 0.15 * q + 2.5 * b + rng.normal(0.0, 0.45, n)
    pre_dwell = length * np.exp(0.15 * q + rng.normal(0.0, 0.3, n))
    pre_quality = q + rng.normal(0.0, 0.7, n)
    rank_click = -2.3 + 0.25 * q + 2.3 * b
    rank_dwell = length * np.exp(0.35 * q - 0.3 * b)
    rank_like = -2.0 + 0.8 * q - 0.8 * b
    rank_share = 1.0 / (1.0 + np.exp(-(-3.5 + 0.6 * q + 0.8 * s)))
    rank_negative = -3.6 + 1.0 * b

    def sig(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)

    pc = sig(rank_click)
    norm = {
        "pre_click": float(sig(pre_click).mean()),
        "pre_dwell": float(pre_dwell.mean()),
        "click": float(pc.mean()),
        # The dwell head is deliberately scaled small, so production's modest dwell weight
        # already counts for a lot and the best fusion is not far from production.
        "dwell": float((pc * rank_dwell).mean()) * 0.35,
        "like": float((pc * sig(rank_like)).mean()),
        "share": float((pc * rank_share).mean()),
        "negative": float(sig(rank_negative).mean()) * 0.25,
    }
    f32 = np.float32
    return Heads(
        pre_click=pre_click.astype(f32),
        pre_dwell=pre_dwell.astype(f32),
        pre_quality=pre_quality.astype(f32),
        rank_click=rank_click.astype(f32),
        rank_dwell=rank_dwell.astype(f32),
        rank_like=rank_like.astype(f32),
        rank_share=rank_share.astype(f32),
        rank_negative=rank_negative.astype(f32),
        true_match=match.astype(f32),
        rank_pair=(0.5 * match + model_err).astype(f32),
        norm=norm,
    )
