"""The item corpus and the user population.

Items are sorted by topic so that retrieval can pick "an item of topic t" with one multiply.
Users are not stored: their attributes are a pure function of (world seed, user id), so any
subset of user ids can be materialised on demand and the same user looks the same in every
experiment, arm and process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rectune.simulator.rng import hash_seed, mix32, normal_from_hash, stream, uniform_from_hash

__all__ = ["PAGE_SIZE", "RETRIEVED", "Users", "World", "WorldParams", "make_world"]

F32 = NDArray[np.float32]

RETRIEVED = 320
"""Candidates returned by retrieval for every page request (the issue asks for >= 300)."""

PAGE_SIZE = 10
"""Items shown per page request."""

TABLE_SLOTS = 64
"""Size of each user's retrieval topic table (a quantised interest distribution)."""


@dataclass(frozen=True)
class WorldParams:
    """Sizes of the simulated world.

    Attributes:
        n_items: Items in the corpus.
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
class World:
    """Items (arrays indexed by item id, grouped by topic) and topic geometry.

    Attributes:
        params: The sizes and seed this world was built from.
        topic: Topic of each item.
        creator: Creator of each item.
        quality: True quality (standard-normal scale, includes the creator's reputation).
        clickbait: Clickbait appeal in (0, 1): raises clicks, lowers dwell and satisfaction.
        freshness: 1 for a brand-new item, 0 for an old one.
        length: Typical dwell in seconds of a satisfied reader.
        share_appeal: How shareable the item is.
        cost: Feature-fetch cost of scoring the item in the ranking model (around 1).
        topic_start: First item id of each topic.
        topic_size: Number of items of each topic.
        topic_sim: Topic-to-topic similarity in [0, 1], 1 on the diagonal.
    """

    params: WorldParams
    topic: NDArray[np.int32]
    creator: NDArray[np.int32]
    quality: F32
    clickbait: F32
    freshness: F32
    length: F32
    share_appeal: F32
    cost: F32
    topic_start: NDArray[np.uint32]
    topic_size: NDArray[np.uint32]
    topic_sim: F32
    extra: dict[str, F32] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return int(self.topic.shape[0])

    @property
    def n_topics(self) -> int:
        """Number of topics."""
        return self.params.n_topics


def make_world(params: WorldParams | None = None) -> World:
    """Build the item corpus deterministically from `params.seed`."""
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
    creator = np.empty(p.n_items, dtype=np.int32)
    for t in range(t_count):
        own = np.flatnonzero(creator_topic == t)
        if own.size == 0:
            own = np.array([t % p.n_creators])
        w = 1.0 / np.arange(1, own.size + 1) ** 1.1
        creator[topic == t] = rng.choice(own, size=int(sizes[t]), p=w / w.sum())

    quality = creator_rep[creator] + rng.normal(0.0, 0.85, size=p.n_items)
    clickbait = 1.0 / (1.0 + np.exp(-(rng.normal(-1.4, 1.1, size=p.n_items) - 0.6 * quality)))
    freshness = rng.random(p.n_items)
    length = np.exp(rng.normal(np.log(35.0), 0.45, size=p.n_items))
    share_appeal = rng.normal(0.0, 1.0, size=p.n_items)
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
        topic=topic,
        creator=creator,
        quality=quality.astype(f32),
        clickbait=clickbait.astype(f32),
        freshness=freshness.astype(f32),
        length=length.astype(f32),
        share_appeal=share_appeal.astype(f32),
        cost=cost.astype(f32),
        topic_start=start,
        topic_size=sizes.astype(np.uint32),
        topic_sim=sim.astype(f32),
    )


@dataclass(frozen=True, eq=False)
class Users:
    """Attributes of a set of users, one row per user id.

    Attributes:
        ids: User ids (any non-negative integers).
        key: Per-user 32-bit hash key; all of a user's randomness derives from it.
        affinity: True topic affinity (log-interest, users x topics).
        affinity_hat: The recommender's estimate of that affinity (noisier).
        topic_table: Retrieval table, users x 64 topic ids, a quantised interest mix.
        activity: Logit of continuing to browse after a neutral page.
        return_logit: Logit of coming back tomorrow at neutral satisfaction.
        fatigue_sens: How much repeated exposure to a topic suppresses clicks.
        breadth: How much the user values consuming several topics a day.
        bait_sens: Susceptibility to clickbait.
    """

    ids: NDArray[np.int64]
    key: NDArray[np.uint32]
    affinity: F32
    affinity_hat: F32
    topic_table: NDArray[np.uint8]
    activity: F32
    return_logit: F32
    fatigue_sens: F32
    breadth: F32
    bait_sens: F32

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(cls, world: World, ids: NDArray[np.int64] | list[int]) -> Users:
        """Materialise the users with these ids (deterministic in world seed and id)."""
        uid = np.asarray(ids, dtype=np.int64)
        t_count = world.n_topics
        seed = np.uint32(hash_seed("users", world.params.seed))
        key = mix32((uid.astype(np.uint64) & 0xFFFFFFFF).astype(np.uint32) ^ seed)
        key = mix32(key ^ (uid >> 32).astype(np.uint32))

        def normal(label: int, shape: tuple[int, ...] = ()) -> NDArray[np.float64]:
            k = stream(key, label)
            if not shape:
                return normal_from_hash(k)
            cols = np.arange(int(np.prod(shape)), dtype=np.uint32)
            h = mix32(k[:, None] ^ (cols[None, :] * np.uint32(0x85EBCA77)))
            return normal_from_hash(h).reshape(len(uid), *shape)

        def uniform(label: int) -> NDArray[np.float64]:
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

        f32 = np.float32
        return cls(
            ids=uid,
            key=key,
            affinity=np.clip(affinity, -4.0, 3.0).astype(f32),
            affinity_hat=np.clip(affinity_hat, -4.0, 3.0).astype(f32),
            topic_table=table,
            activity=(0.2 + 0.8 * normal(4)).astype(f32),
            return_logit=(0.7 + 1.1 * normal(5)).astype(f32),
            fatigue_sens=(0.12 * np.exp(0.5 * normal(6))).astype(f32),
            breadth=uniform(7).astype(f32),
            bait_sens=np.clip(1.0 + 0.3 * normal(8), 0.2, 2.0).astype(f32),
        )
