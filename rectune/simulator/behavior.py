"""Constants of the true user behaviour (the ground truth the heads only approximate).

* clicks depend on topic affinity, quality, clickbait (scaled by the user's susceptibility),
  freshness, a persistent per-pair taste, position bias, topic fatigue, the user's reaction
  to a change of their pages (novelty/primacy) and the day's common shock;
* dwell after a click grows with quality (more for quality-sensitive users) and shrinks
  sharply with clickbait, with a heavy-tailed per-read noise;
* likes and shares follow quality; negative feedback follows clicked clickbait, over-exposed
  topics and irrelevant items;
* a page's utility drives whether the user keeps browsing; the day's satisfaction (page
  utility plus the pleasure of a varied day for breadth-loving users) drives whether the user
  returns tomorrow and whether they leave for good.

The kernel reads these as one float array (`BehaviorParams.vector`), in field order.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_PAGES", "BehaviorParams"]

MAX_PAGES = 60
"""Most page requests a user makes in one day (heavy users get close to it)."""


@dataclass(frozen=True)
class BehaviorParams:
    """Constants of the behaviour model (documented in docs/simulator.md)."""

    click_base: float = -4.3
    click_affinity: float = 1.1
    click_quality: float = 0.25
    click_bait: float = 2.0
    click_fresh: float = 0.5
    fatigue_scale: float = 0.7
    fatigue_onset: float = 7.0
    dwell_bait: float = 1.1
    dwell_noise: float = 0.75
    neg_base: float = -3.9
    neg_bait_click: float = 3.0
    neg_overload: float = 0.03
    util_click: float = 0.3
    util_like: float = 0.8
    util_share: float = 1.5
    util_neg: float = 2.0
    util_fatigue: float = 0.3
    util_scale: float = 1.6
    continue_gain: float = 1.0
    change_scale: float = 2.0
    breadth_bonus: float = 0.6
    return_gain: float = 1.2
    sat_ref: float = 1.6
    sat_memory: float = 0.7
    churn_gain: float = 1.0
    season_amp: float = 0.25
    shock_sd: float = 0.12
    habit_rate: float = 0.3

    def vector(self) -> NDArray[np.float64]:
        """The constants in field order, for the compiled kernel."""
        return np.asarray(astuple(self), dtype=np.float64)
