"""The item corpus (with churn and ageing) and the user population.

Items live in *slots* sorted by topic, so retrieval picks "an item of topic t" with one
multiply. With item churn a slot's item is replaced at the end of its lifetime: the slot keeps
its topic, the new item gets new features (a hash of slot and generation). So the corpus of
any calendar day is a pure function of (world seed, day), every arm and experiment sees the
same corpus on the same day, and nothing grows with time.

Users are not stored either: their attributes are a pure function of (world seed, user id),
so any subset of ids can be materialised on demand and the same user looks the same in every
experiment, arm and process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.parts import WorldParts
from rectune.simulator.rng import hash_seed, mix32, normal_from_hash, stream, uniform_from_hash

__all__ = [
    "PAGE_SIZE",
    "RETRIEVED",
    "TABLE_SLOTS",
    "Corpus",
    "Users",
    "World",
    "WorldParams",
    "make_world",
]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
U32 = NDArray[np.uint32]

RETRIEVED = 320
"""Candidates returned by retrieval for every page request (the issue asks for >= 300)."""

PAGE_SIZE = 10
"""Items shown per page request."""

TABLE_SLOTS = 64
"""Size of each user's retrieval topic table (a quantised interest distribution)."""

FRESH_DAYS = 3.0
"""An item's freshness is ``exp(-age / FRESH_DAYS)``."""

CREATOR_TABLE = 256
"""Entries of each topic's creator table (a quantised Zipf draw of its creators)."""


@dataclass(frozen=True)
class WorldParams:
    """Sizes of the simulated world.

    Attributes:
        n_items: Item slots in the corpus.
        n_topics: Topics (at most 32: consumed topics are tracked as a 32-bit mask).
        n_creators: Creators; each has a home topic and a reputation.
        seed: World seed; items and users are functions of it.
    """

    n_items: int = 20_480
    n_topics: int = 24
    n_creators: int = 1_600
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.n_topics <= 32:
            raise ValueError(f"n_topics={self.n_topics}: must be in [2, 32]")
        if not self.n_topics * 16 <= self.n_items < 1 << 16:
            # Item ranges are packed into 16-bit halves of one integer for fast retrieval.
            raise ValueError(
                f"n_items={self.n_items}: must be in [{self.n_topics * 16}, 65535]"
            )


@dataclass(frozen=True, eq=False)
class Corpus:
    """The items of one calendar day, arrays indexed by slot.

    Attributes:
        day: Calendar day (0 = the first simulated day).
        generation: Which item of its slot is live (advances at the end of each lifetime).
        age: Days since the item appeared.
        freshness: ``exp(-age / 3)``: 1 for a brand-new item.
        creator: Creator of each item.
        quality: True quality (standard-normal scale, includes the creator's reputation).
        clickbait: Clickbait appeal in (0, 1): raises clicks, lowers dwell and satisfaction.
        length: Typical dwell in seconds of a satisfied reader.
        share_appeal: How shareable the item is.
        item_key: A hash of (slot, generation) that keys the item's persistent model errors.
    """

    day: int
    generation: NDArray[np.int64]
    age: NDArray[np.int64]
    freshness: F32
    creator: NDArray[np.int32]
    quality: F32
    clickbait: F32
    length: F32
    share_appeal: F32
    item_key: U32


@dataclass(frozen=True, eq=False)
class World:
    """Item slots (grouped by topic), creators, topic geometry and the world's parts.

    Attributes:
        params: The sizes and seed this world was built from.
        parts: Which dynamics are switched on.
        topic: Topic of each slot.
        lifetime: Days an item of the slot stays before it is replaced.
        phase: Offset of the slot's replacement cycle.
        cost: Feature-fetch cost of scoring the slot's items in the ranking model (about 1).
        creator_rep: Reputation of each creator.
        creator_table: Per topic, a quantised Zipf table of its creators (topics x 256).
        topic_start: First slot of each topic.
        topic_size: Number of slots of each topic.
        topic_sim: Topic-to-topic similarity in [0, 1], 1 on the diagonal.
    """

    params: WorldParams
    parts: WorldParts
    topic: NDArray[np.int32]
    lifetime: NDArray[np.int64]
    phase: NDArray[np.int64]
    cost: F32
    creator_rep: F32
    creator_table: NDArray[np.int32]
    topic_start: NDArray[np.uint32]
    topic_size: NDArray[np.uint32]
    topic_sim: F32
    _corpus: dict[int, Corpus] = field(default_factory=dict, repr=False)

    @property
    def n_items(self) -> int:
        """Number of item slots."""
        return int(self.topic.shape[0])

    @property
    def n_topics(self) -> int:
        """Number of topics."""
        return self.params.n_topics

    def corpus(self, day: int) -> Corpus:
        """The items live on calendar `day` (cached; deterministic in seed and day)."""
        if day not in self._corpus:
            if len(self._corpus) > 48:
                self._corpus.clear()
            self._corpus[day] = _corpus(self, day)
        return self._corpus[day]


def make_world(params: WorldParams | None = None, parts: WorldParts | None = None) -> World:
    """Build the slots and creators deterministically from `params.seed`."""
    p = params or WorldParams()
    rng = np.random.default_rng(hash_seed("world", p.seed))
    t_count = p.n_topics
    # Topic sizes follow a gentle power law: a few big verticals, a long tail of niches.
    weights = 1.0 / np.arange(1, t_count + 1) ** 0.6
    sizes = np.maximum(16, np.floor(weights / weights.sum() * p.n_items)).astype(np.int64)
    sizes[0] += p.n_items - int(sizes.sum())
    topic = np.repeat(np.arange(t_count, dtype=np.int32), sizes)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.uint32)

    # Creators: each has a home topic; inside a topic a few prolific creators dominate, which
    # is what makes the per-creator cap of the re-ranker bite.
    creator_topic = rng.integers(0, t_count, size=p.n_creators)
    creator_rep = rng.normal(0.0, 0.5, size=p.n_creators)
    table = np.empty((t_count, CREATOR_TABLE), dtype=np.int32)
    q = (np.arange(CREATOR_TABLE) + 0.5) / CREATOR_TABLE
    for t in range(t_count):
        own = np.flatnonzero(creator_topic == t)
        if own.size == 0:
            own = np.array([t % p.n_creators])
        own = rng.permutation(own)
        w = 1.0 / np.arange(1, own.size + 1) ** 1.1
        cdf = np.cumsum(w / w.sum())
        table[t] = own[np.minimum(np.searchsorted(cdf, q), own.size - 1)]

    # Item lifetimes are spread from a few days (news) to weeks (evergreen content).
    spread = np.exp(rng.uniform(np.log(4.0), np.log(40.0), size=p.n_items))
    lifetime = np.round(spread).astype(np.int64)
    phase = (rng.random(p.n_items) * lifetime).astype(np.int64)
    cost = rng.uniform(0.7, 1.3, size=p.n_items)

    # Topics live on a circle with some random jitter: neighbours are similar, which gives
    # the MMR term a graded notion of redundancy instead of same/different only.
    angle = np.sort(rng.uniform(0, 2 * np.pi, size=t_count))
    diff = np.abs(angle[:, None] - angle[None, :])
    diff = np.minimum(diff, 2 * np.pi - diff)
    sim = np.exp(-((diff / 0.5) ** 2))
    np.fill_diagonal(sim, 1.0)

    f32 = np.float32
    return World(
        params=p,
        parts=parts or WorldParts(),
        topic=topic,
        lifetime=lifetime,
        phase=phase,
        cost=cost.astype(f32),
        creator_rep=creator_rep.astype(f32),
        creator_table=table,
        topic_start=start,
        topic_size=sizes.astype(np.uint32),
        topic_sim=sim.astype(f32),
    )


def _corpus(world: World, day: int) -> Corpus:
    n = world.n_items
    if world.parts.item_churn:
        t = world.phase + day
        generation = t // world.lifetime
        age = t % world.lifetime
    else:
        # A fixed corpus: every item is "old" except that ages are spread once and for all.
        generation = np.zeros(n, dtype=np.int64)
        age = world.phase.copy()
    seed = np.uint32(hash_seed("items", world.params.seed))
    with np.errstate(over="ignore"):
        slot = np.arange(n, dtype=np.uint32) * np.uint32(0x9E3779B1)
        key = mix32(slot ^ seed)
        key = mix32(key ^ (generation.astype(np.uint32) * np.uint32(0x85EBCA77) + np.uint32(7)))

    def normal(label: int) -> F64:
        return normal_from_hash(stream(key, label))

    c_idx = (uniform_from_hash(stream(key, 1)) * CREATOR_TABLE).astype(np.int64)
    creator = world.creator_table[world.topic, np.minimum(c_idx, CREATOR_TABLE - 1)]
    quality = world.creator_rep[creator].astype(np.float64) + 0.85 * normal(2)
    clickbait = 1.0 / (1.0 + np.exp(-(-1.4 + 1.1 * normal(3) - 0.6 * quality)))
    length = np.exp(np.log(35.0) + 0.45 * normal(4))
    f32 = np.float32
    return Corpus(
        day=day,
        generation=generation,
        age=age,
        freshness=np.exp(-age / FRESH_DAYS).astype(f32),
        creator=creator.astype(np.int32),
        quality=quality.astype(f32),
        clickbait=clickbait.astype(f32),
        length=length.astype(f32),
        share_appeal=normal(5).astype(f32),
        item_key=key,
    )


SEGMENTS = ("regular", "new", "heavy")
"""User segments, by index in `Users.segment`."""


@dataclass(frozen=True, eq=False)
class Users:
    """Attributes of a set of users, one row per user id.

    Attributes:
        ids: User ids (any non-negative integers).
        key: Per-user 32-bit hash key; all of a user's randomness derives from it.
        affinity: True topic affinity (log-interest, users x topics).
        affinity_hat: The recommender's estimate of that affinity (noisier).
        topic_table: Retrieval table, users x 64 topic ids, a quantised interest mix.
        top_topics: Bit mask of each user's three favourite topics.
        intensity: Log of how much the user browses (heavy-tailed across users).
        activity: Logit of continuing to browse after a neutral page.
        return_logit: Logit of coming back tomorrow at neutral satisfaction.
        fatigue_sens: How much repeated exposure to a topic suppresses clicks.
        breadth: How much the user values consuming several topics a day.
        bait_sens: Susceptibility to clickbait.
        quality_sens: How much dwell grows with quality.
        dwell_scale: How long the user reads (engaged, heavy users read longer).
        change_gain: Click-logit reaction per unit of page change versus habit (novelty > 0,
            primacy < 0).
        churn_logit: Logit of leaving for good on a day at neutral satisfaction.
        segment: 0 regular, 1 new, 2 heavy (see `SEGMENTS`).
        arrival: Calendar day the user first shows up.
    """

    ids: NDArray[np.int64]
    key: U32
    affinity: F32
    affinity_hat: F32
    topic_table: NDArray[np.uint8]
    top_topics: U32
    intensity: F32
    activity: F32
    return_logit: F32
    fatigue_sens: F32
    breadth: F32
    bait_sens: F32
    quality_sens: F32
    dwell_scale: F32
    change_gain: F32
    churn_logit: F32
    segment: NDArray[np.int8]
    arrival: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(cls, world: World, ids: NDArray[np.int64] | list[int]) -> Users:
        """Materialise the users with these ids (deterministic in world seed and id)."""
        uid = np.asarray(ids, dtype=np.int64)
        parts = world.parts
        t_count = world.n_topics
        seed = np.uint32(hash_seed("users", world.params.seed))
        key = mix32((uid.astype(np.uint64) & 0xFFFFFFFF).astype(np.uint32) ^ seed)
        key = mix32(key ^ (uid >> 32).astype(np.uint32))

        def normal(label: int, shape: tuple[int, ...] = ()) -> F64:
            k = stream(key, label)
            if not shape:
                return normal_from_hash(k)
            cols = np.arange(int(np.prod(shape)), dtype=np.uint32)
            h = mix32(k[:, None] ^ (cols[None, :] * np.uint32(0x85EBCA77)))
            return normal_from_hash(h).reshape(len(uid), *shape)

        def uniform(label: int) -> F64:
            return uniform_from_hash(stream(key, label)).astype(np.float64)

        spread = 0.9 + 0.9 * uniform(1)
        logits = normal(2, (t_count,)) * spread[:, None]
        interest = np.exp(logits - logits.max(axis=1, keepdims=True))
        interest /= interest.sum(axis=1, keepdims=True)
        affinity = np.log(interest * t_count)
        affinity_hat = affinity + normal(3, (t_count,)) * 0.35

        # Retrieval mixes the estimated interest with a uniform exploration share.
        est = np.exp(affinity_hat)
        est /= est.sum(axis=1, keepdims=True)
        mix = 0.85 * est + 0.15 / t_count
        cdf = np.cumsum(mix, axis=1)
        q = (np.arange(TABLE_SLOTS) + 0.5) / TABLE_SLOTS
        table = (q[None, :, None] > cdf[:, None, :]).sum(axis=2)
        table = np.minimum(table, t_count - 1).astype(np.uint8)
        top3 = np.argsort(-affinity, axis=1)[:, :3]
        top_mask = np.bitwise_or.reduce(np.left_shift(1, top3).astype(np.uint32), axis=1)

        # Intensity: how much a user browses. Heavy-tailed, so the top 1% of users carry a
        # large share of the dwell, as in production.
        z_int = normal(9)
        intensity = (1.2 if parts.heavy_tails else 0.0) * z_int
        heavy = z_int > 1.2816  # top 10%
        new = (uniform(10) < 0.15) & ~heavy
        segment = np.where(heavy, 2, np.where(new, 1, 0)).astype(np.int8)
        if parts.arrival:
            arrival = np.where(new, (uniform(11) * 18).astype(np.int64), 0)
        else:
            arrival = np.zeros(uid.size, dtype=np.int64)

        seg = parts.segments
        fatigue = 0.12 * np.exp(0.5 * normal(6)) * (np.where(heavy, 0.5, 1.0) if seg else 0.95)
        breadth = uniform(7) * (np.where(new, 1.5, 1.0) if seg else 1.07)
        bait = np.clip(1.0 + 0.3 * normal(8), 0.2, 2.0) * (np.where(heavy, 0.8, 1.0) if seg else 1)
        quality_sens = 0.35 * (np.where(new, 1.5, 1.0) if seg else 1.07) * np.exp(0.2 * normal(12))
        if parts.novelty:
            gain = np.where(heavy, -1.2, np.where(new, 2.0, 1.2)) if seg else np.full(uid.size, 1.2)
        else:
            gain = np.zeros(uid.size)
        churn = np.where(new, -4.2, -5.6) if seg else np.full(uid.size, -5.3)

        f32 = np.float32
        return cls(
            ids=uid,
            key=key,
            affinity=np.clip(affinity, -4.0, 3.0).astype(f32),
            affinity_hat=np.clip(affinity_hat, -4.0, 3.0).astype(f32),
            topic_table=table,
            top_topics=top_mask.astype(np.uint32),
            intensity=intensity.astype(f32),
            activity=(-0.3 + 0.4 * normal(4) + 1.9 * intensity).astype(f32),
            return_logit=(0.4 + 0.8 * normal(5) + 0.9 * intensity).astype(f32),
            fatigue_sens=fatigue.astype(f32),
            breadth=breadth.astype(f32),
            bait_sens=bait.astype(f32),
            quality_sens=quality_sens.astype(f32),
            dwell_scale=np.exp(0.45 * intensity - 0.2).astype(f32),
            change_gain=gain.astype(f32),
            churn_logit=churn.astype(f32),
            segment=segment,
            arrival=arrival,
        )
