"""The three configurable stages: how a `StackConfig` turns into scores.

The page request itself runs in the compiled kernel (`kernel.py`); this module folds a
configuration and one day's heads into the per-item arrays the kernel reads, and documents
the scoring forms. The forms give every weight a fixed scale, so no dimension of a weight
box is redundant:

* **pre-ranking (value-based retrieval)** - ``value = (1 + 0.9 u_c w_click) * affinity_hat +
  u_c w_click * pre_click + u_d w_dwell * pre_dwell + u_q w_quality * pre_quality + u_f
  w_fresh * freshness + pair_error`` with the head units ``u`` of `PRE_UNITS`: the retrieval
  model's own affinity score enters with the fixed weight 1, so multiplying every weight by
  c changes the ranking (the weights trade off against retrieval); the top
  `vbr_candidate_cut` go on.
* **ranking (value fusion)** - multiplicative fusion, in logs: ``score = w_click * log
  p_click + u_d w_dwell * (log dwell + 0.2 affinity_hat) + u_l w_like * log p_like + u_s
  w_share * log p_share - u_n w_negative * p_neg / mean`` (units of `RANK_UNITS`). The score
  is in nats and the re-ranker reads it in those units, so the fusion's overall scale sets
  how strongly relevance resists the diversity terms: scaling the weights is a real move, and
  the fusion and re-ranking stages interact.
* **re-ranking (diversity)** - greedy page assembly over the top 32 ranked candidates: each
  slot takes the candidate maximising ``(1 - lambda) * score - lambda * redundancy -
  fatigue_penalty * max(0, exposure + copies - threshold + 1)``; candidates past the topic or
  creator cap only back-fill.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.heads import DayHeads
from rectune.simulator.knobs import StackConfig
from rectune.simulator.world import Corpus

__all__ = ["PRE_UNITS", "RANK_UNITS", "RERANK_WINDOW", "CompiledStack", "compile_stack"]

F32 = NDArray[np.float32]

RERANK_WINDOW = 32
"""How many top-ranked candidates the re-ranker chooses the page from."""

PRE_UNITS = {"click": 0.4, "dwell": 32.0, "quality": 24.0, "fresh": 64.0}
"""Units of the pre-ranking heads: a knob value of 1 weighs the head this much against the
retrieval score. Chosen so the shipped production configuration is a decently tuned one, as
in a system whose engineers have tuned it by hand (the best reachable lift stays small)."""

RANK_UNITS = {"dwell": 2.0, "like": 0.18, "share": 0.3, "negative": 1.7}
"""Units of the ranking heads in the fused score (nats per unit of knob), chosen likewise."""


@dataclass(frozen=True, eq=False)
class CompiledStack:
    """A `StackConfig` folded with one day's heads into per-item arrays.

    Attributes:
        config: The configuration this was compiled from.
        pre_aff: Coefficient of the estimated affinity in the pre-ranking value.
        pre_static: Per item, the user-independent part of the pre-ranking value.
        cut: Candidates passed from pre-ranking to ranking.
        rank_static: Per item, the user-independent part of the fused ranking score.
        item_pack: Per item, (pre_static, ranking click logit, rank_static, serving cost) in
            one row, so the kernel's random reads of an item hit one cache line.
        w_click: Weight of log p_click in the fused score.
        w_aff: Weight of the estimated affinity in the fused score (through dwell).
    """

    config: StackConfig
    pre_aff: float
    pre_static: F32
    cut: int
    rank_static: F32
    item_pack: F32
    w_click: float
    w_aff: float


def compile_stack(
    config: StackConfig, corpus: Corpus, heads: DayHeads, cost: F32
) -> CompiledStack:
    """Pre-compute the item-level parts of a configuration for one day."""
    c = config
    pu, ru = PRE_UNITS, RANK_UNITS
    pre = (
        pu["click"] * c.vbr_w_click * heads.pre_click.astype(np.float64)
        + pu["dwell"] * c.vbr_w_dwell * heads.pre_dwell
        + pu["quality"] * c.vbr_w_quality * heads.pre_quality
        + pu["fresh"] * c.vbr_freshness_boost * corpus.freshness
    )
    rank = (
        ru["dwell"] * c.vf_w_dwell * heads.rank_dwell.astype(np.float64)
        + ru["like"] * c.vf_w_like * heads.rank_like
        + ru["share"] * c.vf_w_share * heads.rank_share
        - ru["negative"] * c.vf_w_negative * heads.rank_negative
    )
    f32 = np.float32
    pack = np.stack([pre, heads.rank_click, rank, cost], axis=1).astype(f32)
    return CompiledStack(
        config=c,
        pre_aff=1.0 + 0.9 * pu["click"] * c.vbr_w_click,
        pre_static=np.asarray(pre, dtype=f32),
        cut=int(c.vbr_candidate_cut),
        rank_static=np.asarray(rank, dtype=f32),
        item_pack=np.ascontiguousarray(pack),
        w_click=float(c.vf_w_click),
        w_aff=0.2 * ru["dwell"] * float(c.vf_w_dwell),
    )
