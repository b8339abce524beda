"""How simulated users respond to a page, and how a day's experience shapes tomorrow.

This is the ground truth the recommender's heads only approximate:

* clicks depend on topic affinity, quality, clickbait (scaled by the user's susceptibility),
  freshness, a persistent per-pair taste, position bias and topic fatigue;
* dwell after a click grows with quality and shrinks sharply with clickbait;
* likes and shares follow quality; negative feedback follows clicked clickbait, over-exposed
  topics and irrelevant items;
* a page's utility (dwell, likes, shares minus negatives) drives whether the user keeps
  browsing, and the day's satisfaction (page utility plus the pleasure of a varied day for
  breadth-loving users, minus fatigue) drives whether the user returns tomorrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.heads import Heads, sigmoid
from rectune.simulator.rng import stream, uniform_from_hash
from rectune.simulator.world import PAGE_SIZE, World

__all__ = ["BehaviorParams", "PageOutcome", "respond"]

F32 = NDArray[np.float32]
U32 = NDArray[np.uint32]

_SLOTS = np.arange(PAGE_SIZE, dtype=np.uint32) * np.uint32(0x27D4EB2F)


@dataclass(frozen=True)
class BehaviorParams:
    """Constants of the behaviour model (documented in docs/simulator.md)."""

    click_base: float = -2.6
    click_affinity: float = 1.3
    click_bait: float = 2.0
    fatigue_scale: float = 0.4
    fatigue_onset: float = 10.0
    dwell_quality: float = 0.35
    dwell_bait: float = 1.1
    neg_base: float = -5.0
    neg_bait_click: float = 3.0
    neg_overload: float = 0.08
    util_click: float = 0.3
    util_neg: float = 2.0
    util_fatigue: float = 0.3
    util_scale: float = 6.0
    breadth_bonus: float = 1.0
    continue_gain: float = 1.0
    return_gain: float = 1.2
    sat_ref: float = 2.9
    sat_memory: float = 0.7

POSITION = (1.0 / (1.0 + 0.12 * np.arange(PAGE_SIZE))).astype(np.float32)


@dataclass(frozen=True, eq=False)
class PageOutcome:
    """What happened on a batch of pages, (n, P) arrays unless noted.

    Attributes:
        click: Clicked items.
        dwell: Seconds of dwell per item (0 without a click).
        negative: Negative feedback given.
        utility: The user's utility of the page in units of a typical page, (n,).
    """

    click: NDArray[np.bool_]
    dwell: F32
    negative: NDArray[np.bool_]
    utility: F32


def respond(
    world: World,
    heads: Heads,
    params: BehaviorParams,
    items: NDArray[np.intp],
    affinity: F32,
    exposure: F32,
    bait_sens: F32,
    fatigue_sens: F32,
    pair_idx: NDArray[np.intp],
    key: U32,
) -> PageOutcome:
    """Simulate the users' reactions to their pages.

    Args:
        world: The world.
        heads: Model heads (only the true per-pair taste table is read).
        params: Behaviour constants.
        items: Page item ids in display order, (n, P).
        affinity: True affinity of the user to each item's topic, (n, P).
        exposure: Exposure to each item's topic before the item is seen, including copies
            higher on the page, (n, P).
        bait_sens: Clickbait susceptibility of each request's user, (n,).
        fatigue_sens: Fatigue sensitivity of each request's user, (n,).
        pair_idx: Index of each (user, item) pair in the true taste table, (n, P).
        key: Hash key of each request, (n,).

    Returns:
        The outcome of every page.
    """
    f = np.float32
    q = world.quality[items]
    b = world.clickbait[items]
    match = heads.true_match[pair_idx]
    over = np.maximum(exposure - f(params.fatigue_onset), f(0.0))
    fatigue = (f(params.fatigue_scale) * fatigue_sens)[:, None] * over
    logit = (
        f(params.click_base)
        + f(params.click_affinity) * affinity
        + f(0.25) * q
        + f(params.click_bait) * b * bait_sens[:, None]
        + f(0.35) * world.freshness[items]
        + match
        - fatigue
    )
    p_click = sigmoid(logit) * POSITION

    def uniforms(label: int) -> F32:
        h = stream(key, label)
        with np.errstate(over="ignore"):
            return uniform_from_hash(stream(h[:, None] ^ _SLOTS[None, :], 0))

    click = uniforms(1) < p_click
    log_dwell = (
        f(params.dwell_quality) * q
        - f(params.dwell_bait) * b
        + f(0.2) * affinity
        + f(0.8) * (uniforms(2) - f(0.5))
    )
    dwell = np.where(click, world.length[items] * np.exp(log_dwell), f(0.0)).astype(f)
    p_like = sigmoid(f(-2.0) + f(0.8) * q + f(0.3) * affinity - f(1.0) * b + f(0.5) * match)
    like = click & (uniforms(3) < p_like)
    share = click & (uniforms(4) < heads.rank_share[items] * f(1.2))
    neg_logit = (
        f(params.neg_base)
        + f(params.neg_bait_click) * b * click
        + f(params.neg_overload) * over
        - f(0.4) * affinity
    )
    negative = uniforms(5) < sigmoid(neg_logit)
    utility = (
        (dwell / f(35.0)).sum(axis=1)
        + f(params.util_click) * click.sum(axis=1)
        + f(0.8) * like.sum(axis=1)
        + f(1.5) * share.sum(axis=1)
        - f(params.util_neg) * negative.sum(axis=1)
        - f(params.util_fatigue) * fatigue.sum(axis=1)
    )
    utility /= f(params.util_scale)
    return PageOutcome(click=click, dwell=dwell, negative=negative, utility=utility.astype(f))
