"""Counter-based randomness: every random number is a hash of what it is for.

Hashing (seed, user, day, round, slot) instead of drawing from a stateful generator makes a
user's random draws independent of which other users are simulated alongside and of the
configuration being tested. That gives common random numbers for free, which the oracle needs
to measure small lifts precisely, and makes results reproducible across batch sizes.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "U32",
    "hash_seed",
    "mix32",
    "normal_from_hash",
    "stream",
    "uniform_from_hash",
]

U32 = NDArray[np.uint32]

_GOLDEN = np.uint32(0x9E3779B9)
_M1 = np.uint32(0x7FEB352D)
_M2 = np.uint32(0x846CA68B)
_S16 = np.uint32(16)
_S15 = np.uint32(15)
_S8 = np.uint32(8)
_INV24 = np.float32(1.0 / (1 << 24))


def hash_seed(*parts: object) -> int:
    """A 32-bit integer derived from arbitrary labels (stable across processes)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=4).digest(), "little")


def mix32(x: U32) -> U32:
    """A strong 32-bit integer finaliser (lowbias32); wraps on overflow by design."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> _S16)
        x = x * _M1
        x = x ^ (x >> _S15)
        x = x * _M2
        return x ^ (x >> _S16)


def uniform_from_hash(h: U32) -> NDArray[np.float32]:
    """Uniform floats in [0, 1) from the top 24 bits of hashes."""
    return (h >> _S8).astype(np.float32) * _INV24


def normal_from_hash(h: U32) -> NDArray[np.float64]:
    """Standard normal draws from hashes by inverse CDF (used only at set-up time)."""
    from scipy.special import ndtri

    u = ((h >> _S8).astype(np.float64) + 0.5) / float(1 << 24)
    return np.asarray(ndtri(u), dtype=np.float64)


def stream(key: U32, label: int) -> U32:
    """A new, independent hash stream derived from `key` and a small integer label."""
    with np.errstate(over="ignore"):
        return mix32(key ^ (np.uint32(label) * _GOLDEN + np.uint32(0x632BE5AB)))
