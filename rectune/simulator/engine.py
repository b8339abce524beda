"""The day loop: a cohort of users through all stages, day after day, with per-user state."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.behavior import BehaviorParams
from rectune.simulator.heads import DayHeads, PairTables, build_pair_tables, day_heads
from rectune.simulator.kernel import serve_day
from rectune.simulator.knobs import StackConfig
from rectune.simulator.metrics import Col, new_aggregates
from rectune.simulator.parts import WorldParts
from rectune.simulator.rng import hash_seed, normal_from_hash, stream, uniform_from_hash
from rectune.simulator.stages import CompiledStack, compile_stack
from rectune.simulator.world import Users, World, WorldParams
from rectune.simulator.world import make_world as _make_world

__all__ = ["EXPOSURE_DECAY", "Cohort", "Simulator"]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

EXPOSURE_DECAY = 0.4
"""Share of yesterday's topic exposure a user still feels today."""


def _sig(x: NDArray[np.float32] | NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))))


@dataclass(eq=False)
class Simulator:
    """A world, its model heads and behaviour constants, with per-day caches.

    Example:
        >>> sim = Simulator.create(seed=1)
        >>> sim.world.n_items >= 20_000
        True
    """

    world: World
    pairs: PairTables
    behavior: BehaviorParams = field(default_factory=BehaviorParams)
    _heads: dict[int, DayHeads] = field(default_factory=dict, repr=False)
    _compiled: dict[tuple[StackConfig, int], CompiledStack] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def create(
        cls,
        seed: int = 0,
        params: WorldParams | None = None,
        behavior: BehaviorParams | None = None,
        parts: WorldParts | None = None,
    ) -> Simulator:
        """Build the world of `seed` (or of `params`, whose seed then wins)."""
        p = params or WorldParams(seed=seed)
        world = _make_world(p, parts)
        return cls(
            world=world, pairs=build_pair_tables(world), behavior=behavior or BehaviorParams()
        )

    @property
    def parts(self) -> WorldParts:
        """The world's switchable parts."""
        return self.world.parts

    def heads(self, day: int) -> DayHeads:
        """The model heads on calendar `day` (cached)."""
        if day not in self._heads:
            if len(self._heads) > 48:
                self._heads.clear()
            self._heads[day] = day_heads(self.world, self.world.corpus(day))
        return self._heads[day]

    def compile(self, config: StackConfig, day: int = 0) -> CompiledStack:
        """The compiled form of `config` on calendar `day` (cached)."""
        key = (config, day if self.parts.item_churn else 0)
        if key not in self._compiled:
            if len(self._compiled) > 256:
                self._compiled.clear()
            self._compiled[key] = compile_stack(
                config, self.world.corpus(key[1]), self.heads(key[1]), self.world.cost
            )
        return self._compiled[key]

    def day_shift(self, day: int) -> tuple[float, float]:
        """The day's common shift of the visit logit and of the click logit."""
        bp = self.behavior
        visit = click = 0.0
        if self.parts.seasonality:
            visit += bp.season_amp * math.sin(2 * math.pi * (day % 7) / 7.0)
        if self.parts.shocks:
            h = np.array([hash_seed("shock", self.world.params.seed, day)], dtype=np.uint32)
            visit += bp.shock_sd * float(normal_from_hash(stream(h, 1))[0])
            click += 0.5 * bp.shock_sd * float(normal_from_hash(stream(h, 2))[0])
        return visit, click

    def cohort(self, user_ids: I64 | list[int], seed: int) -> Cohort:
        """A fresh cohort of these users; `seed` keys all behavioural randomness."""
        return Cohort(self, Users.build(self.world, user_ids), seed)


class Cohort:
    """A set of users simulated together, with per-user state and aggregates.

    The state (topic exposure, satisfaction, page habit, churn) carries over from day to day.
    Aggregates are kept per *period* label (e.g. "pre" and "exp"), one row of sums per user.
    Users who have not arrived yet (see `WorldParts.arrival`) are neither counted nor served.
    """

    def __init__(self, sim: Simulator, users: Users, seed: int) -> None:
        self.sim = sim
        self.users = users
        self.seed = np.uint32(hash_seed("behaviour", seed))
        n = len(users)
        t_count = sim.world.n_topics
        self.exposure = np.zeros((n, t_count), dtype=np.float32)
        self.satisfaction = np.full(n, sim.behavior.sat_ref, dtype=np.float32)
        self.habit = np.full((n, 2), -1.0, dtype=np.float32)
        self.churned = np.zeros(n, dtype=bool)
        self.day = 0
        self.aggregates: dict[str, F64] = {}
        self.requests = 0
        table = users.topic_table.astype(np.intp)
        # The slot topic's first item id (low 16 bits) and item count (high 16 bits).
        packed = sim.world.topic_start | (sim.world.topic_size << np.uint32(16))
        self._slot_range = np.ascontiguousarray(packed[table])
        self._slot_aff = np.ascontiguousarray(np.take_along_axis(users.affinity_hat, table, 1))
        self._ukey = users.key.astype(np.uint64)

    def __len__(self) -> int:
        return len(self.users)

    def present(self) -> NDArray[np.bool_]:
        """Users who have arrived by today."""
        return np.asarray(self.users.arrival <= self.day)

    def arrivals(self) -> int:
        """Users arriving today (all users present on day 0 arrive then)."""
        if self.day == 0:
            return int(self.present().sum())
        return int((self.users.arrival == self.day).sum())

    def carry(self, users: NDArray[np.bool_], satisfaction_shift: float) -> None:
        """Carry a satisfaction change from an earlier experiment into this cohort."""
        self.satisfaction[users] += np.float32(satisfaction_shift)

    def run_day(self, config: StackConfig, period: str) -> None:
        """Simulate one day for every user under `config`, adding to `period`'s sums."""
        sim = self.sim
        bp = sim.behavior
        world = sim.world
        users = self.users
        n = len(users)
        day = self.day
        corpus = world.corpus(day)
        heads = sim.heads(day)
        stack = sim.compile(config, day)
        agg = self.aggregates.setdefault(period, new_aggregates(n))
        day_key = stream(users.key ^ self.seed, 1000 + day)
        visit_shift, click_shift = sim.day_shift(day)
        present = self.present()
        logit = (
            users.return_logit
            + np.float32(bp.return_gain) * (self.satisfaction - np.float32(bp.sat_ref))
            + np.float32(visit_shift)
        )
        active = present & ~self.churned & (uniform_from_hash(stream(day_key, 1)) < _sig(logit))
        rows = np.flatnonzero(active).astype(np.int64)
        util = np.zeros(n, dtype=np.float32)
        pages = np.zeros(n, dtype=np.float32)
        topics_seen = np.zeros(n, dtype=np.uint32)
        feat = np.zeros((n, 2), dtype=np.float32)
        c = stack.config
        self.requests += serve_day(
            rows, day_key.astype(np.uint64), self._ukey, self._slot_range, self._slot_aff,
            users.affinity, users.top_topics, users.activity, users.bait_sens,
            users.fatigue_sens, users.quality_sens, users.dwell_scale, users.change_gain,
            self.habit,
            self.exposure, world.topic, corpus.creator, corpus.quality, corpus.clickbait,
            corpus.length, corpus.freshness, heads.share_p, stack.item_pack, sim.pairs.pre_pair,
            sim.pairs.rank_pair,
            sim.pairs.true_match, world.topic_sim.ravel(), world.n_topics, stack.pre_aff,
            stack.cut, stack.w_click, stack.w_aff, float(c.div_mmr_lambda),
            float(c.div_topic_cap), float(c.div_creator_cap), float(c.div_fatigue_penalty),
            float(c.div_fatigue_threshold), click_shift, bp.vector(), agg, util, pages,
            topics_seen, feat,
        )
        distinct = np.bitwise_count(topics_seen).astype(np.float32)
        seen = pages > 0
        day_sat = np.where(seen, util / np.maximum(pages, 1), 0.0) + np.float32(
            bp.breadth_bonus
        ) * users.breadth * distinct
        mem = np.float32(bp.sat_memory)
        target = np.where(active, day_sat, np.float32(bp.sat_ref)).astype(np.float32)
        self.satisfaction = mem * self.satisfaction + (np.float32(1) - mem) * target
        # The habit follows the pages the user actually saw.
        today = feat[seen] / pages[seen, None]
        old = self.habit[seen]
        rate = np.float32(bp.habit_rate)
        self.habit[seen] = np.where(old[:, :1] < 0, today, (1 - rate) * old + rate * today)
        if sim.parts.churn:
            p_leave = _sig(users.churn_logit - bp.churn_gain * (self.satisfaction - bp.sat_ref))
            leave = present & ~self.churned & (uniform_from_hash(stream(day_key, 2)) < p_leave)
            self.churned |= leave
        self.exposure *= np.float32(EXPOSURE_DECAY)
        agg[:, Col.DAYS] += present
        agg[:, Col.ACTIVE_DAYS] += active
        agg[:, Col.TOPICS] += distinct
        self.day += 1
