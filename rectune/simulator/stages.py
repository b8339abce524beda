"""The three configurable stages, vectorised over a batch of page requests.

Shapes: `n` requests in the batch, `K` retrieved candidates, `C` the candidate cut, `W` the
re-ranking window, `P` the page size. Everything is float32 / uint32 for speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.heads import PAIR_BITS, Heads, sigmoid
from rectune.simulator.knobs import StackConfig
from rectune.simulator.world import PAGE_SIZE, World

__all__ = [
    "RERANK_WINDOW",
    "CompiledStack",
    "compile_stack",
    "pair_index",
    "pre_rank",
    "rank",
    "rerank",
    "top_k",
]

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]

RERANK_WINDOW = 32
"""How many top-ranked candidates the re-ranker chooses the page from."""

_PAIR_SHIFT = np.uint32(32 - PAIR_BITS)
_G1 = np.uint32(0x9E3779B1)
_G2 = np.uint32(0x85EBCA77)
_NOISE_HALF = np.float32(0.6 * 3**0.5)
_NOISE_SCALE = np.float32(2 * 0.6 * 3**0.5 / (1 << 24))
_BLOCKED = np.float32(1e3)
_TAKEN = np.float32(1e6)


@dataclass(frozen=True, eq=False)
class CompiledStack:
    """A `StackConfig` folded into per-item arrays so each request needs few operations.

    Attributes:
        config: The configuration this was compiled from.
        pre_click_coef: Per item, the multiplier of the pre-ranking click probability
            (click weight plus dwell weight times the item's dwell prior).
        pre_static: Per item, the part of the pre-ranking value that does not depend on the
            user (quality and freshness terms).
        cut: Candidates passed from pre-ranking to ranking.
        gain: Per item, the ranking value of a click at neutral affinity.
        gain_aff: Per item, how that value grows with the user's estimated affinity.
        penalty: Per item, the weighted predicted negative feedback.
    """

    config: StackConfig
    pre_click_coef: F32
    pre_static: F32
    cut: int
    gain: F32
    gain_aff: F32
    penalty: F32


def compile_stack(config: StackConfig, world: World, heads: Heads) -> CompiledStack:
    """Pre-compute the item-level parts of a configuration."""
    n = heads.norm
    c = config
    coef = c.vbr_w_click / n["pre_click"] + c.vbr_w_dwell * heads.pre_dwell / (
        n["pre_click"] * n["pre_dwell"]
    )
    static = c.vbr_w_quality * heads.pre_quality + c.vbr_freshness_boost * world.freshness
    f = np.float32
    dwell = heads.rank_dwell.astype(np.float64)
    like = 1.0 / (1.0 + np.exp(-heads.rank_like.astype(np.float64)))
    neg = 1.0 / (1.0 + np.exp(-heads.rank_negative.astype(np.float64)))
    gain = (
        c.vf_w_click / n["click"]
        + c.vf_w_dwell * dwell / n["dwell"]
        + c.vf_w_like * like / n["like"]
        + c.vf_w_share * heads.rank_share / n["share"]
    )
    gain_aff = c.vf_w_dwell * 0.2 * dwell / n["dwell"]
    return CompiledStack(
        config=c,
        pre_click_coef=np.asarray(coef, dtype=f),
        pre_static=np.asarray(static, dtype=f),
        cut=int(c.vbr_candidate_cut),
        gain=np.asarray(gain, dtype=f),
        gain_aff=np.asarray(gain_aff, dtype=f),
        penalty=np.asarray(c.vf_w_negative * neg / n["negative"], dtype=f),
    )


def top_k(values: F32, k: int) -> NDArray[np.intp]:
    """Flat indices (row-major, (n, k)) of the `k` largest values of each row, unordered.

    Selecting by a per-row threshold is several times faster than `argpartition` for small
    `k`; rows with ties at the threshold fall back to `argpartition`.
    """
    n, width = values.shape
    offsets = (np.arange(n) * width)[:, None]
    if k >= width:
        return np.asarray(np.arange(width)[None, :] + offsets, dtype=np.intp)
    if 4 * k <= width:
        kth = np.partition(values, width - k, axis=1)[:, width - k : width - k + 1]
        idx = np.flatnonzero(values >= kth)
        if idx.size == n * k:
            return idx.reshape(n, k)
    cols = np.argpartition(values, width - k, axis=1)[:, width - k :]
    return np.asarray(cols + offsets, dtype=np.intp)


def pair_index(user_key: U32, items: NDArray[np.intp], salt: int) -> NDArray[np.intp]:
    """Index of the (user, item) pair in a per-pair table (stable across requests)."""
    with np.errstate(over="ignore"):
        h = (items.astype(np.uint32) * _G1) ^ (user_key[:, None] + np.uint32(salt))
        h = h * _G2
    return (h >> _PAIR_SHIFT).astype(np.intp)


def pre_rank(
    stack: CompiledStack,
    heads: Heads,
    items: NDArray[np.intp],
    affinity_hat: F32,
    noise_hash: U32,
) -> NDArray[np.intp]:
    """Score retrieved candidates with the cheap heads and keep the top `cut`.

    Args:
        stack: Compiled configuration.
        heads: Model heads.
        items: Retrieved item ids, (n, K).
        affinity_hat: Estimated affinity of each request's user to each candidate's topic.
        noise_hash: A per-(request, candidate) hash; the cheap head's error (uniform, sd 0.6)
            is drawn from it, so the pre-ranker is noisy request to request, unlike the
            ranking heads.

    Returns:
        Flat (row-major) indices into `items` of the kept candidates, (n, C).
    """
    # Uniform noise with standard deviation 0.6, straight from the hash bits (no table).
    noise = (noise_hash >> np.uint32(8)).astype(np.float32) * _NOISE_SCALE - _NOISE_HALF
    logit = np.take(heads.pre_click, items) + np.float32(0.9) * affinity_hat + noise
    value = sigmoid(logit) * np.take(stack.pre_click_coef, items)
    value += np.take(stack.pre_static, items)
    return top_k(value, stack.cut)


def rank(
    stack: CompiledStack,
    heads: Heads,
    items: NDArray[np.intp],
    affinity_hat: F32,
    user_key: U32,
) -> F32:
    """Fuse the ranking heads into one score per candidate, (n, C).

    The fused value is ``w_click*pclick + w_dwell*pclick*dwell + w_like*pclick*plike +
    w_share*pclick*pshare - w_negative*pneg`` with each head divided by its typical size; all
    item-level factors are folded into `stack.gain`, `stack.gain_aff` and `stack.penalty`.
    """
    pair = np.take(heads.rank_pair, pair_index(user_key, items, 0x7A3))
    pc = sigmoid(np.take(heads.rank_click, items) + np.float32(0.9) * affinity_hat + pair)
    gain = np.take(stack.gain, items) + np.take(stack.gain_aff, items) * affinity_hat
    return np.asarray(pc * gain - np.take(stack.penalty, items), dtype=np.float32)


def rerank(
    config: StackConfig,
    world: World,
    score: F32,
    items: NDArray[np.intp],
    topics: NDArray[np.int32],
    exposure: F32,
) -> NDArray[np.intp]:
    """Greedy MMR-style page assembly with caps and a fatigue penalty.

    Each slot takes the window candidate maximising
    ``(1 - lambda) * relevance - lambda * redundancy - penalty * overload``, where relevance is
    the standardised ranking score, redundancy the highest topic similarity to an item already
    on the page, and overload how far the user's recent exposure to the topic (plus copies on
    this page) exceeds the fatigue threshold. A candidate breaking the topic or creator cap is
    pushed behind every compliant one but can still back-fill a slot when nothing else is
    left, so pages are always full.

    Args:
        config: The stack configuration (only the `div_*` knobs are used).
        world: The world (creators, topic similarity).
        score: Ranking scores of the window, (n, W).
        items: Item ids of the window, (n, W).
        topics: Topics of the window, (n, W).
        exposure: The user's recent exposure count to each window item's topic, (n, W).

    Returns:
        Flat (row-major) indices into the window of the page, in display order, (n, P).
    """
    n, width = score.shape
    lam = np.float32(config.div_mmr_lambda)
    mean = score.mean(axis=1, keepdims=True)
    std = score.std(axis=1, keepdims=True) + np.float32(1e-6)
    base = (np.float32(1.0) - lam) * (score - mean) / std
    creators = np.take(world.creator, items)
    sim_flat = world.topic_sim.ravel()
    t_count = world.n_topics
    pen = np.float32(config.div_fatigue_penalty)
    over0 = exposure - np.float32(config.div_fatigue_threshold - 1)
    topic_n = np.zeros((n, width), dtype=np.float32)
    creator_n = np.zeros((n, width), dtype=np.float32)
    redundancy = np.zeros((n, width), dtype=np.float32)
    taken = np.zeros((n, width), dtype=np.float32)
    tcap = np.float32(config.div_topic_cap)
    ccap = np.float32(config.div_creator_cap)
    page = np.empty((n, PAGE_SIZE), dtype=np.intp)
    offsets = np.arange(n) * width
    for slot in range(PAGE_SIZE):
        adj = base - lam * redundancy - pen * np.maximum(over0 + topic_n, np.float32(0.0))
        blocked = (topic_n >= tcap) | (creator_n >= ccap)
        adj -= _BLOCKED * blocked + taken
        j = adj.argmax(axis=1)
        j += offsets
        page[:, slot] = j
        sel_item = np.take(items, j)
        sel_topic = np.take(topics, j)
        taken += _TAKEN * (items == sel_item[:, None])
        topic_n += topics == sel_topic[:, None]
        creator_n += creators == np.take(creators, j)[:, None]
        sim_to_page = np.take(sim_flat, sel_topic[:, None] * t_count + topics)
        np.maximum(redundancy, sim_to_page, out=redundancy)
    return page
