"""Imperfect model heads: what the recommender believes about a user and an item.

The recommender never sees the true behaviour model (`kernel.py`). Its heads are built from
the same item features but with realistic, *persistent* flaws - an item's error is a hash of
the item, so it is the same on every request, as a trained model's would be:

* pre-ranking heads are cheap: a noisy item-level click prior (clickbait-inflated), an
  item-level dwell prior and a noisy quality estimate, plus a per-(user, item) error;
* ranking heads see a share of the user-item taste, but the click head is inflated by
  clickbait, the dwell head under-penalises clickbait, the negative-feedback head
  under-estimates clickbait harm, and no head knows fatigue or freshness appeal;
* fresh items are cold: the heads see their quality through less data (weaker signal, larger
  error), so boosting fresh items trades appeal for estimation risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.rng import normal_from_hash, stream
from rectune.simulator.world import Corpus, World

__all__ = ["PAIR_BITS", "DayHeads", "PairTables", "build_pair_tables", "day_heads"]

F32 = NDArray[np.float32]

PAIR_BITS = 13
"""Per-(user, item) effects are looked up in tables of 2**PAIR_BITS entries by hash.

Small enough (32 KB per table) to stay in the L1/L2 caches next to the item arrays (three
256 KB tables cost a third of the throughput); 8,192 distinct values are plenty of taste
variety per user.
"""


@dataclass(frozen=True, eq=False)
class PairTables:
    """Hashed per-(user, item) tables.

    Attributes:
        true_match: True per-pair click effect (persistent taste not in any feature).
        rank_pair: The ranking head's per-pair estimate (part true signal, part error).
        pre_pair: The pre-ranking head's per-pair estimate (weaker signal, larger error).
    """

    true_match: F32
    rank_pair: F32
    pre_pair: F32


def build_pair_tables(world: World) -> PairTables:
    """The per-pair tables of `world` (deterministic in its seed)."""
    rng = np.random.default_rng([world.params.seed, 7331])
    size = 1 << PAIR_BITS
    match = rng.normal(0.0, 0.55, size)
    f32 = np.float32
    return PairTables(
        true_match=match.astype(f32),
        rank_pair=(0.5 * match + rng.normal(0.0, 0.3, size)).astype(f32),
        pre_pair=(0.2 * match + rng.normal(0.0, 0.45, size)).astype(f32),
    )


@dataclass(frozen=True, eq=False)
class DayHeads:
    """Item-level head outputs on one day's corpus (per slot).

    Attributes:
        pre_click: Pre-ranking click logit prior.
        pre_dwell: Pre-ranking log expected dwell.
        pre_quality: Pre-ranking quality estimate.
        rank_click: Ranking click logit before the user's affinity and taste.
        rank_dwell: Ranking log expected dwell given a click.
        rank_like: Ranking log like probability given a click.
        rank_share: Ranking log share probability given a click.
        rank_negative: Ranking negative-feedback probability, in units of its mean.
        share_p: True share probability given a click (behaviour reads it).
    """

    pre_click: F32
    pre_dwell: F32
    pre_quality: F32
    rank_click: F32
    rank_dwell: F32
    rank_like: F32
    rank_share: F32
    rank_negative: F32
    share_p: F32


def _sig(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def day_heads(world: World, corpus: Corpus) -> DayHeads:
    """The heads' view of one day's items."""
    q = corpus.quality.astype(np.float64)
    b = corpus.clickbait.astype(np.float64)
    s = corpus.share_appeal.astype(np.float64)
    log_len = np.log(corpus.length.astype(np.float64))
    fresh = corpus.freshness.astype(np.float64)
    # Cold start: a new item's quality is seen through little data.
    seen_q = q * (1.0 - 0.6 * fresh)
    err = 1.0 + 1.2 * fresh

    def noise(label: int) -> NDArray[np.float64]:
        return normal_from_hash(stream(corpus.item_key, 100 + label)) * err

    pre_click = -2.3 + 0.15 * seen_q + 2.5 * b + 0.45 * noise(1)
    pre_dwell = log_len + 0.15 * seen_q + 0.3 * noise(2)
    pre_quality = seen_q + 0.7 * noise(3)
    rank_click = -2.3 + 0.25 * seen_q + 1.6 * b + 0.15 * noise(4)
    rank_dwell = log_len + 0.35 * seen_q - 0.6 * b + 0.1 * noise(5)
    rank_like = np.log(_sig(-2.0 + 0.8 * seen_q - 0.8 * b))
    share_p = _sig(-3.5 + 0.6 * q + 0.8 * s)
    rank_share = np.log(_sig(-3.5 + 0.6 * seen_q + 0.8 * s))
    neg = _sig(-3.6 + 1.0 * b)
    f32 = np.float32
    return DayHeads(
        pre_click=pre_click.astype(f32),
        pre_dwell=(pre_dwell - pre_dwell.mean()).astype(f32),
        pre_quality=pre_quality.astype(f32),
        rank_click=rank_click.astype(f32),
        rank_dwell=(rank_dwell - rank_dwell.mean()).astype(f32),
        rank_like=(rank_like - rank_like.mean()).astype(f32),
        rank_share=(rank_share - rank_share.mean()).astype(f32),
        rank_negative=(neg / neg.mean()).astype(f32),
        share_p=share_p.astype(f32),
    )
