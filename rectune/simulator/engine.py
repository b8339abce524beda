"""The day loop: page requests of a cohort of users through all stages, day after day."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.behavior import BehaviorParams, respond
from rectune.simulator.heads import Heads, build_heads, sigmoid
from rectune.simulator.knobs import StackConfig
from rectune.simulator.metrics import Col, new_aggregates
from rectune.simulator.rng import hash_seed, stream, uniform_from_hash
from rectune.simulator.stages import (
    RERANK_WINDOW,
    CompiledStack,
    compile_stack,
    pair_index,
    pre_rank,
    rank,
    rerank,
    top_k,
)
from rectune.simulator.world import PAGE_SIZE, RETRIEVED, TABLE_SLOTS, Users, World, WorldParams
from rectune.simulator.world import make_world as _make_world

__all__ = ["MAX_PAGES", "Cohort", "Simulator"]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

MAX_PAGES = 6
"""Most page requests a user makes in one day."""

CHUNK = 512
"""Requests processed together; small enough to keep the working set in cache."""

EXPOSURE_DECAY = 0.4
"""Share of yesterday's topic exposure a user still feels today."""

_SLOT_OFFSETS = np.arange(RETRIEVED, dtype=np.uint32) * np.uint32(0x9E3779B9)
_MIX = np.uint32(0x85EBCA6B)
_LOW16 = np.uint32(0xFFFF)
_NOISE_MIX = np.uint32(0x2C1B3C6D)
_EARLIER = np.tril(np.ones((PAGE_SIZE, PAGE_SIZE), dtype=bool), -1)


@dataclass(eq=False)
class Simulator:
    """A world, its model heads and behaviour constants, with compiled configs cached.

    Example:
        >>> sim = Simulator.create(seed=1)
        >>> sim.world.n_items >= 20_000
        True
    """

    world: World
    heads: Heads
    behavior: BehaviorParams = field(default_factory=BehaviorParams)
    _compiled: dict[StackConfig, CompiledStack] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        seed: int = 0,
        params: WorldParams | None = None,
        behavior: BehaviorParams | None = None,
    ) -> Simulator:
        """Build the world of `seed` (or of `params`, whose seed then wins)."""
        p = params or WorldParams(seed=seed)
        world = _make_world(p)
        return cls(world=world, heads=build_heads(world), behavior=behavior or BehaviorParams())

    def compile(self, config: StackConfig) -> CompiledStack:
        """The compiled form of `config` (cached)."""
        if config not in self._compiled:
            if len(self._compiled) > 64:
                self._compiled.clear()
            self._compiled[config] = compile_stack(config, self.world, self.heads)
        return self._compiled[config]

    def cohort(self, user_ids: I64 | list[int], seed: int) -> Cohort:
        """A fresh cohort of these users; `seed` keys all behavioural randomness."""
        return Cohort(self, Users.build(self.world, user_ids), seed)


class Cohort:
    """A set of users simulated together, with per-user state and aggregates.

    The state (topic exposure, satisfaction) carries over from day to day. Aggregates are
    kept per *period* label (e.g. "pre" and "exp"), one row of sums per user.
    """

    def __init__(self, sim: Simulator, users: Users, seed: int) -> None:
        self.sim = sim
        self.users = users
        self.seed = np.uint32(hash_seed("behaviour", seed))
        n = len(users)
        t_count = sim.world.n_topics
        self.exposure = np.zeros(n * t_count, dtype=np.float32)
        self.satisfaction = np.full(n, sim.behavior.sat_ref, dtype=np.float32)
        self.day = 0
        self.aggregates: dict[str, F64] = {}
        self.requests = 0
        self._aff_hat = users.affinity_hat.ravel()
        self._aff = users.affinity.ravel()
        # Per (user, table slot): the slot topic's item range and the estimated affinity,
        # so retrieval needs a single index per candidate.
        table = users.topic_table.astype(np.intp)
        # The slot topic's first item id (low 16 bits) and item count (high 16 bits).
        packed = sim.world.topic_start | (sim.world.topic_size << np.uint32(16))
        self._slot_range = packed[table].ravel()
        self._slot_aff = np.take_along_axis(users.affinity_hat, table, axis=1).ravel()

    def __len__(self) -> int:
        return len(self.users)

    def run_day(self, config: StackConfig, period: str) -> None:
        """Simulate one day for every user under `config`, adding to `period`'s sums."""
        sim = self.sim
        bp = sim.behavior
        stack = sim.compile(config)
        users = self.users
        n = len(users)
        agg = self.aggregates.setdefault(period, new_aggregates(n))
        day_key = stream(users.key ^ self.seed, 1000 + self.day)
        if self.day == 0:
            logit = users.return_logit
        else:
            logit = users.return_logit + np.float32(bp.return_gain) * (
                self.satisfaction - np.float32(bp.sat_ref)
            )
        active = uniform_from_hash(stream(day_key, 1)) < sigmoid(logit)
        util = np.zeros(n, dtype=np.float32)
        pages = np.zeros(n, dtype=np.float32)
        topics_seen = np.zeros(n, dtype=np.uint32)
        browsing = np.flatnonzero(active)
        for page_no in range(MAX_PAGES):
            if browsing.size == 0:
                break
            keep_going = []
            for lo in range(0, browsing.size, CHUNK):
                rows = browsing[lo : lo + CHUNK]
                cont = self._serve(stack, rows, day_key[rows], page_no, agg, util, topics_seen)
                keep_going.append(rows[cont])
            pages[browsing] += 1
            browsing = np.concatenate(keep_going)
        distinct = np.bitwise_count(topics_seen).astype(np.float32)
        bonus = np.float32(bp.breadth_bonus) * users.breadth * distinct
        day_sat = util / np.maximum(pages, 1) + bonus
        mem = np.float32(bp.sat_memory)
        target = np.where(active, day_sat, np.float32(bp.sat_ref)).astype(np.float32)
        self.satisfaction = mem * self.satisfaction + (np.float32(1) - mem) * target
        self.exposure *= np.float32(EXPOSURE_DECAY)
        agg[:, Col.DAYS] += 1
        agg[:, Col.ACTIVE_DAYS] += active
        agg[:, Col.TOPICS] += distinct
        self.day += 1

    def _serve(
        self,
        stack: CompiledStack,
        rows: I64,
        day_key: NDArray[np.uint32],
        page_no: int,
        agg: F64,
        util: F32,
        topics_seen: NDArray[np.uint32],
    ) -> NDArray[np.bool_]:
        """Serve one page to each user in `rows`; returns who keeps browsing."""
        sim = self.sim
        world, heads, bp = sim.world, sim.heads, sim.behavior
        users = self.users
        t_count = world.n_topics
        ukey = users.key[rows]
        rkey = stream(day_key, 100 + page_no)

        # Retrieval: each candidate picks a slot of the user's interest table (a topic) and
        # an item of that topic, all from one 32-bit hash per (request, candidate).
        with np.errstate(over="ignore"):
            h = (rkey[:, None] + _SLOT_OFFSETS[None, :]) * _MIX
            h ^= h >> np.uint32(15)
            h *= _MIX
        slot = (h >> np.uint32(26)).astype(np.intp)
        slot += (rows * TABLE_SLOTS)[:, None]
        with np.errstate(over="ignore"):
            packed = np.take(self._slot_range, slot)
            items = (
                (packed & _LOW16) + (((h & _LOW16) * (packed >> np.uint32(16))) >> np.uint32(16))
            ).astype(np.intp)
        aff_hat = np.take(self._slot_aff, slot)

        with np.errstate(over="ignore"):
            noise_hash = h * _NOISE_MIX
        keep = pre_rank(stack, heads, items, aff_hat, noise_hash)
        items = np.take(items, keep)
        aff_hat = np.take(aff_hat, keep)
        cost = np.take(world.cost, items).sum(axis=1, dtype=np.float64)

        score = rank(stack, heads, items, aff_hat, ukey)
        width = min(RERANK_WINDOW, items.shape[1])
        if width < items.shape[1]:
            win = top_k(score, width)
            items = np.take(items, win)
            score = np.take(score, win)
        topic = np.take(world.topic, items)
        ut = (rows * t_count)[:, None]
        exposure = self.exposure[ut + topic]
        page = rerank(stack.config, world, score, items, topic, exposure)
        items = np.take(items, page)
        topic = np.take(topic, page)

        same = (topic[:, :, None] == topic[:, None, :]) & _EARLIER
        flat_t = ut + topic
        seen = self.exposure[flat_t] + same.sum(axis=2, dtype=np.float32)
        out = respond(
            world,
            heads,
            bp,
            items,
            self._aff[flat_t],
            seen,
            users.bait_sens[rows],
            users.fatigue_sens[rows],
            pair_index(ukey, items, 0x7A3),
            rkey,
        )
        agg[rows, Col.REQUESTS] += 1
        agg[rows, Col.IMPRESSIONS] += PAGE_SIZE
        agg[rows, Col.CLICKS] += out.click.sum(axis=1)
        agg[rows, Col.DWELL] += out.dwell.sum(axis=1, dtype=np.float64)
        agg[rows, Col.NEGATIVES] += out.negative.sum(axis=1)
        agg[rows, Col.COST] += cost
        np.add.at(self.exposure, flat_t.ravel(), np.float32(1.0))
        bits = np.where(out.click, np.left_shift(np.uint32(1), topic.astype(np.uint32)), 0)
        topics_seen[rows] |= np.bitwise_or.reduce(bits.astype(np.uint32), axis=1)
        util[rows] += out.utility
        self.requests += rows.size
        p_cont = sigmoid(
            users.activity[rows]
            + np.float32(bp.continue_gain) * (out.utility - np.float32(1.0))
        )
        return np.asarray(uniform_from_hash(stream(rkey, 7)) < p_cont)
