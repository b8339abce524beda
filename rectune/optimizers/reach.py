"""How far a configuration is from anything measured, and the spread that distance warrants.

A Gaussian process fitted on a handful of noisy arms is confident in the wrong places: when
the first arms are small steps whose effects drown in the A/B noise, the fit explains them
as noise around a flat function, and the posterior far from them stays as narrow as near
them. An arm that moves four knobs to the edges of the soft box then looks as safe as
production, and users pay for it (the defect of issue 12: predicted dwell -0.01% ± 0.5%,
measured -4% to -7%).

The remedy is a floor on the posterior spread that grows with the distance to the nearest
measured configuration, in the unit the skills state their effect scales in: a fifth of the
soft box (`STEP`). A move of ``D`` such steps (Euclidean, over the knobs the optimizer may
move; a categorical switch counts as one step) has a spread of at least
``scale * (D + D**2 / 2)``: linear for small moves (the skill's "typical effect of a
one-knob move by a fifth of its range" at ``D = 1`` is 1.5 times the scale, which leaves
room for a knob more sensitive than the typical one), quadratic for large ones, because
production usually sits near a local optimum and losses grow with the square of the
distance from it. The growth was checked against the simulator's oracle on the three shipped
tasks (random moves of 0.5-3 steps, `docs/engine.md`). This is SafeOpt's Lipschitz argument
in a Gaussian form: the only thing known about an unmeasured point is that it cannot differ
from its nearest measured neighbour by much more than its distance allows.

The per-metric ``scale`` is the larger of the skill's declared effect scale (or the task's
guardrail thresholds when it declares none: `TuningProblem.prior_scale`) and what the
measured arms show: the root mean square, over pairs of measured configurations at least
`MIN_PAIR_STEPS` apart, of their lift difference (net of its noise) divided by the growth of
their distance. A task whose knobs turn out to be sharper than declared widens its own floor
after one round.

Transferred observations (another task, an older model) anchor the floor with an offset of
one step: their neighbourhood is as uncertain as a one-step move from a measured point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rectune.optimizers.encoding import FloatArray, SpaceEncoder

__all__ = [
    "MIN_PAIR_STEPS",
    "STEP",
    "TRANSFER_OFFSET",
    "Reach",
    "empirical_scale",
    "growth",
]

STEP = 0.2
"""One step of distance: a fifth of the soft box (the unit of the skills' effect scales)."""

TRANSFER_OFFSET = 1.0
"""Distance, in steps, a transferred observation's own configuration is from being measured."""

MIN_PAIR_STEPS = 0.3
"""Pairs of measured configurations closer than this say nothing reliable about the scale."""

_EPS = 1e-6


def growth(d: FloatArray) -> FloatArray:
    """Spread multiplier of a move of `d` steps: ``d + d**2 / 2``.

    Example:
        >>> growth(np.array([0.0, 1.0, 2.0])).tolist()
        [0.0, 1.5, 4.0]
    """
    return np.asarray(d + 0.5 * d * d, dtype=np.float64)


def _growth_slope(d: FloatArray) -> FloatArray:
    return np.asarray(1.0 + d, dtype=np.float64)


@dataclass(frozen=True)
class Reach:
    """Distance (in steps) from feature rows to the nearest anchor, with its gradient.

    Attributes:
        anchors: (a, dim) feature rows of the measured configurations (production first).
        offsets: (a,) distance in steps each anchor already carries (0 for a measured one).
        weights: (dim,) steps per unit of each feature: ``1 / STEP`` for a knob the optimizer
            moves, ``1 / (STEP * sqrt 2)`` for a one-hot column (a switch is one step), 0 for
            a fixed column (a scale-invariant group's reference).

    Example:
        >>> r = Reach(np.zeros((1, 2)), np.zeros(1), np.full(2, 1 / STEP))
        >>> d, _ = r.distance(np.array([[0.2, 0.0], [0.0, 0.0]]))
        >>> [round(float(v), 4) for v in d]
        [1.0, 0.0]
    """

    anchors: FloatArray
    offsets: FloatArray
    weights: FloatArray

    @classmethod
    def for_encoder(
        cls,
        encoder: SpaceEncoder,
        measured: FloatArray,
        transferred: FloatArray | None = None,
    ) -> Reach:
        """Anchors at the `measured` rows (offset 0) and the `transferred` rows (one step)."""
        w = np.where(encoder.free_mask, 1.0 / STEP, 0.0)
        w = np.where(encoder.numeric_mask, w, 1.0 / (STEP * math.sqrt(2.0)))
        rows = [measured]
        offsets = [np.zeros(measured.shape[0])]
        if transferred is not None and transferred.shape[0]:
            rows.append(transferred)
            offsets.append(np.full(transferred.shape[0], TRANSFER_OFFSET))
        return cls(np.vstack(rows), np.concatenate(offsets), np.asarray(w, dtype=np.float64))

    def pairwise(self, x: FloatArray) -> FloatArray:
        """Distances in steps between the rows of `x` (no offsets)."""
        diff = (x[:, None, :] - x[None, :, :]) * self.weights
        return np.asarray(np.sqrt(np.sum(diff * diff, axis=-1)), dtype=np.float64)

    def distance(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Distance of each row of `x` to its nearest anchor, and its gradient in `x`."""
        diff = x[:, None, :] - self.anchors[None, :, :]
        sq = np.sum((diff * self.weights) ** 2, axis=-1) + self.offsets[None, :] ** 2
        j = np.argmin(sq, axis=1)
        rows = np.arange(x.shape[0])
        root = np.sqrt(sq[rows, j] + _EPS**2)
        d = root - _EPS
        grad = diff[rows, j, :] * self.weights**2 / root[:, None]
        return np.asarray(d, dtype=np.float64), np.asarray(grad, dtype=np.float64)

    def spread(self, x: FloatArray, scale: float) -> tuple[FloatArray, FloatArray]:
        """The floor ``scale * growth(distance)`` at the rows of `x`, and its gradient."""
        d, dd = self.distance(x)
        return scale * growth(d), scale * _growth_slope(d)[:, None] * dd


def empirical_scale(
    reach: Reach, x: FloatArray, y: Sequence[float], se: Sequence[float]
) -> float | None:
    """What the measured configurations say a metric's scale is (None with too few pairs).

    Args:
        reach: Supplies the feature weights (the distance unit).
        x: Feature rows of the measured configurations, production included.
        y: Their measured lifts (production's is 0).
        se: Their standard errors (production's is 0).

    Returns:
        The square root of the mean, over pairs at least `MIN_PAIR_STEPS` apart, of
        ``(dy**2 - se_i**2 - se_j**2) / growth(d)**2`` (zero when the mean is negative).
    """
    if x.shape[0] < 2:
        return None
    d = reach.pairwise(x)
    ya, sa = np.asarray(y, dtype=np.float64), np.asarray(se, dtype=np.float64)
    iu = np.triu_indices(x.shape[0], k=1)
    dist = d[iu]
    keep = dist >= MIN_PAIR_STEPS
    if not keep.any():
        return None
    dy = (ya[:, None] - ya[None, :])[iu][keep]
    noise = (sa[:, None] ** 2 + sa[None, :] ** 2)[iu][keep]
    # Noise is subtracted before averaging and the average clipped at zero, not each pair:
    # clipping pair by pair would turn pure noise into a scale.
    r2 = (dy * dy - noise) / growth(dist[keep]) ** 2
    return float(math.sqrt(max(float(np.mean(r2)), 0.0)))
