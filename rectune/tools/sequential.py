"""Sequential guardrail monitoring for daily looks: a group-sequential alpha-spending design.

The platform looks at every live arm once a day over a fixed population, so the number and
timing of looks are known at launch. That is the setting group-sequential designs are made
for (Jennison & Turnbull 2000, ch. 7): an always-valid mixture SPRT pays for looks that never
happen and, with a mixture width not tuned to the effect, spends almost none of its error
budget. Here the error budget `alpha` is spent over the looks by the Lan-DeMets
O'Brien-Fleming-type function ``alpha(t) = 2 - 2 * Phi(z_{1-alpha/2} / sqrt(t))``: nearly
nothing on day one (when a noisy arm would be stopped by chance), most of it late.

The null hypothesis of one guardrail is "the true lift sits exactly at the threshold"; the
statistic at look k is ``z_k = (log(1 + lift_k) - log(1 + threshold)) / (se_k / (1 + lift_k))``
signed so that positive is harmful (the log ratio, because the raw lift of heavy-tailed
metrics is skewed towards harm: `rectune.tools.verdicts.harm_z`), and the arm is stopped at
the first look with ``z_k >= c_k``. The boundaries ``c_1..c_K`` are found by the recursive
numerical integration of Armitage, McPherson and Rowe over the Brownian-motion approximation
of the score, with the information fractions ``t_k`` the platform predicts for each day from
its production pilot (per metric: per-user metrics average over days, so information does
not grow linearly in days). Then, at the threshold, the chance of a stop at any look is
``alpha`` (a unit test checks the boundaries against published values and by simulation).

Example:
    >>> [round(c, 3) for c in spending_bounds([0.2, 0.4, 0.6, 0.8, 1.0], 0.025)]
    [4.877, 3.357, 2.68, 2.29, 2.031]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq

from rectune.domain import MetricSpec
from rectune.tools.verdicts import harm_z

__all__ = [
    "GuardrailLook",
    "look_guardrail",
    "obrien_fleming_spending",
    "spending_bounds",
]

_GRID = 801
"""Points of the integration grid per look (error well below 1e-5 in the crossing rates)."""


def obrien_fleming_spending(t: float, alpha: float) -> float:
    """Lan-DeMets O'Brien-Fleming-type one-sided error spent by information fraction `t`."""
    if t <= 0:
        return 0.0
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    return float(2.0 - 2.0 * sps.norm.cdf(z / math.sqrt(min(t, 1.0))))


def spending_bounds(fractions: Sequence[float], alpha: float) -> list[float]:
    """One-sided group-sequential boundaries (z scale) for looks at these information fractions.

    Args:
        fractions: Increasing information fractions in (0, 1]; the last is normally 1.
        alpha: Total one-sided error over all looks.

    Returns:
        ``c_k`` per look: under the null, P(z_j < c_j for j < k, z_k >= c_k) equals the error
        spent between looks k-1 and k.

    Raises:
        ValueError: when the fractions are not increasing within (0, 1] or alpha not in (0, 1).
    """
    key = tuple(round(float(t), 6) for t in fractions)
    if not key or key[0] <= 0 or key[-1] > 1.0 + 1e-9 or any(b <= a for a, b in pairwise(key)):
        raise ValueError(f"information fractions {list(fractions)}: must increase within (0, 1]")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha}: must lie strictly between 0 and 1")
    return list(_bounds(key, float(alpha)))


@lru_cache(maxsize=256)
def _bounds(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    # The score S(t) is standard Brownian motion under the null; z_k = S(t_k) / sqrt(t_k).
    # The sub-density of S(t_k) on the continuation region is carried on a grid.
    bounds: list[float] = []
    spent = 0.0
    grid: np.ndarray | None = None
    dens: np.ndarray | None = None
    t_prev = 0.0
    for t in fractions:
        target = obrien_fleming_spending(t, alpha) - spent
        spent += target
        sd = math.sqrt(t - t_prev)
        if grid is None or dens is None:
            c = float(sps.norm.isf(max(target, 1e-300)))
            b = c * math.sqrt(t)
        else:
            g, f = grid, dens

            def cross(
                b: float, g: np.ndarray = g, f: np.ndarray = f, sd: float = sd, goal: float = target
            ) -> float:
                return float(np.trapezoid(f * sps.norm.sf((b - g) / sd), g)) - goal

            hi = float(g[-1]) + 10 * sd
            if target <= 1e-15 or cross(hi) > 0:
                b = hi
            else:
                b = brentq(cross, float(g[0]) - 10 * sd, hi, xtol=1e-10)
            c = b / math.sqrt(t)
        bounds.append(c)
        lo = -8.0 * math.sqrt(t)
        new_grid = np.linspace(lo, b, _GRID)
        if grid is None or dens is None:
            new_dens = sps.norm.pdf(new_grid / math.sqrt(t)) / math.sqrt(t)
        else:
            kernel = sps.norm.pdf((new_grid[:, None] - grid[None, :]) / sd) / sd
            new_dens = np.trapezoid(kernel * dens[None, :], grid, axis=1)
        grid, dens, t_prev = new_grid, new_dens, t
    return tuple(bounds)


@dataclass(frozen=True)
class GuardrailLook:
    """The outcome of one daily look at one guardrail.

    Attributes:
        metric: Guardrail metric name.
        lift: Current relative lift estimate.
        z: Distance past the threshold in standard errors on the log-ratio scale
            (`rectune.tools.verdicts.harm_z`); positive means past the threshold.
        boundary: The look's group-sequential boundary ``c_k``.
        breached: Whether the arm crossed the boundary at this look.
    """

    metric: str
    lift: float
    z: float
    boundary: float
    breached: bool


def look_guardrail(spec: MetricSpec, lift: float, se: float, boundary: float) -> GuardrailLook:
    """Compare one guardrail's current lift with its threshold at one look.

    Args:
        spec: The guardrail (direction and threshold come from the experiment spec).
        lift: Current relative lift estimate.
        se: Its standard error.
        boundary: This look's boundary from `spending_bounds`.
    """
    z = harm_z(spec, lift, se)
    return GuardrailLook(spec.name, lift, z, boundary, bool(z >= boundary))
