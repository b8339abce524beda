"""Switchable parts of the simulated world (production's hard parts).

Each part is on by default - the default world is meant to be as hard as production - and can
be switched off to study its effect; docs/simulator.md has the table of parts, defaults and
the test that shows each one's effect.

Example:
    >>> WorldParts().novelty, WorldParts.none().novelty
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["WorldParts"]


@dataclass(frozen=True)
class WorldParts:
    """Which dynamics the world has.

    Attributes:
        heavy_tails: Heavy-tailed user intensity (a few heavy users carry a large share of
            dwell); off: every user browses about as much.
        item_churn: Items are replaced over time and age; fresh items appeal more and are
            estimated worse by the models (cold start). Off: a fixed corpus that never ages.
        novelty: Users react to a change of their pages relative to their habit: most enjoy
            it (novelty), heavy users dislike it (primacy); the reaction fades as the habit
            adapts, so treatment effects change over the first days.
        seasonality: Day-of-week pattern of visits.
        shocks: Daily common shocks to visits and clicks, shared by all users of a day.
        segments: New, regular and heavy users with different sensitivities (quality,
            breadth, fatigue, change); off: everyone has the population-average ones.
        arrival: New users arrive during the test (no pre-period for them); off: every user
            is there from the first day.
        churn: Users leave for good, more often when dissatisfied.
        carryover: Users carry a satisfaction change from earlier experiments on the same
            platform into the next one.
    """

    heavy_tails: bool = True
    item_churn: bool = True
    novelty: bool = True
    seasonality: bool = True
    shocks: bool = True
    segments: bool = True
    arrival: bool = True
    churn: bool = True
    carryover: bool = True

    @classmethod
    def none(cls) -> WorldParts:
        """A world with every part switched off (a stationary, homogeneous world)."""
        return cls(**{f.name: False for f in fields(cls)})

    def without(self, *names: str) -> WorldParts:
        """These parts switched off, the rest unchanged.

        Raises:
            ValueError: naming the allowed parts for an unknown one.
        """
        allowed = [f.name for f in fields(self)]
        bad = [n for n in names if n not in allowed]
        if bad:
            raise ValueError(f"unknown world part {bad[0]!r}; allowed: {allowed}")
        return WorldParts(**{n: getattr(self, n) and n not in names for n in allowed})
