"""Statistics of A/B comparisons, built on scipy and statsmodels.

* per-user metrics: CUPED adjustment with a pre-period covariate, then Welch's t-test; the
  relative lift's interval comes from the delta method on the ratio of the two means;
* ratio metrics (sum over sum): delta-method variance of each arm's ratio (CUPED on the
  linearised metric when a pre-period exists), a z-test on the difference and a
  delta-method interval for the relative lift;
* Holm's step-down correction across every (arm, metric) comparison;
* a chi-square sample-ratio-mismatch check on the arm sizes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from rectune.domain import MetricResult

__all__ = [
    "Z95",
    "Comparison",
    "compare_means",
    "compare_ratios",
    "cuped_adjust",
    "holm",
    "ratio_cuped",
    "srm_test",
]

F64 = NDArray[np.float64]

Z95 = float(sps.norm.ppf(0.975))
"""Two-sided 95% normal quantile."""


@dataclass(frozen=True)
class Comparison:
    """One treatment-versus-control comparison of one metric.

    Attributes:
        control_mean: Control's (adjusted) mean or ratio.
        treatment_mean: Treatment's (adjusted) mean or ratio.
        lift: Relative lift, treatment / control - 1.
        se: Standard error of the relative lift (delta method).
        p_value: Two-sided p-value of "no difference".
        n_control: Users contributing in control.
        n_treatment: Users contributing in treatment.
    """

    control_mean: float
    treatment_mean: float
    lift: float
    se: float
    p_value: float
    n_control: int
    n_treatment: int

    @property
    def ci(self) -> tuple[float, float]:
        """The 95% confidence interval of the relative lift."""
        return self.lift - Z95 * self.se, self.lift + Z95 * self.se

    def to_result(self, metric: str) -> MetricResult:
        """As a domain `MetricResult` (before any multiple-testing correction)."""
        low, high = self.ci
        return MetricResult(
            metric=metric,
            control_mean=self.control_mean,
            treatment_mean=self.treatment_mean,
            relative_lift=self.lift,
            ci_low=low,
            ci_high=high,
            p_value=min(1.0, max(0.0, self.p_value)),
            n_control=self.n_control,
            n_treatment=self.n_treatment,
        )


def cuped_adjust(
    yc: F64, yt: F64, xc: F64 | None, xt: F64 | None
) -> tuple[F64, F64, float]:
    """Remove the part of the outcome explained by a pre-period covariate (CUPED).

    The coefficient is estimated on both arms pooled; since assignment is random, this keeps
    the difference of means unbiased while shrinking its variance by the squared correlation.
    Users without a pre-period value get the pooled covariate mean, i.e. no adjustment.

    Returns:
        Adjusted control and treatment outcomes, and the coefficient used (0 when skipped).
    """
    if xc is None or xt is None or yc.size < 3 or yt.size < 3:
        return yc, yt, 0.0
    x = np.concatenate([xc, xt])
    finite = np.isfinite(x)
    if finite.sum() < 3:
        return yc, yt, 0.0
    fill = float(x[finite].mean())
    x = np.where(finite, x, fill)
    y = np.concatenate([yc, yt])
    var_x = float(x.var())
    if var_x <= 0:
        return yc, yt, 0.0
    theta = float(((x - x.mean()) * (y - y.mean())).mean() / var_x)
    adj = y - theta * (x - x.mean())
    return adj[: yc.size], adj[yc.size :], theta


def _ratio_lift(
    mc: float, vc: float, mt: float, vt: float
) -> tuple[float, float]:
    """Relative lift mt/mc - 1 and its delta-method standard error (independent arms)."""
    lift = mt / mc - 1.0
    var = vt / mc**2 + (mt**2) * vc / mc**4
    return lift, math.sqrt(max(var, 0.0))


def compare_means(
    yc: F64, yt: F64, xc: F64 | None = None, xt: F64 | None = None
) -> Comparison:
    """Compare a per-user metric: CUPED (if covariates are given), then Welch's t-test.

    Args:
        yc: Per-user values in control.
        yt: Per-user values in treatment.
        xc: Pre-period covariate of the control users (NaN where missing), or None.
        xt: Same for treatment.

    Returns:
        The comparison; the p-value is Welch's, the interval of the relative lift is the
        delta-method interval of the ratio of the adjusted means.
    """
    ac, at, _ = cuped_adjust(yc, yt, xc, xt)
    nc, nt = int(ac.size), int(at.size)
    if nc < 2 or nt < 2:
        raise ValueError(f"need at least 2 users per arm, got control={nc}, treatment={nt}")
    mc, mt = float(ac.mean()), float(at.mean())
    vc = float(ac.var(ddof=1)) / nc
    vt = float(at.var(ddof=1)) / nt
    if mc == 0:
        return Comparison(mc, mt, 0.0, 0.0, 1.0, nc, nt)
    if vc + vt == 0:
        p = 1.0 if mt == mc else 0.0
    else:
        p = float(sps.ttest_ind(at, ac, equal_var=False).pvalue)
    lift, se = _ratio_lift(mc, vc, mt, vt)
    return Comparison(mc, mt, lift, se, p if math.isfinite(p) else 1.0, nc, nt)


def _ratio_moments(num: F64, den: F64) -> tuple[float, float]:
    """Ratio of sums and its delta-method variance, from per-user numerators/denominators."""
    n = num.size
    dbar = float(den.mean())
    r = float(num.sum() / den.sum())
    cov = np.cov(num, den, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * dbar * dbar)
    return r, float(max(var, 0.0))


def ratio_cuped(
    nc: F64, dc: F64, nt: F64, dt: F64, pre: tuple[F64, F64, F64, F64]
) -> tuple[float, float, float, float]:
    """CUPED for a ratio metric through its delta-method linearisation (Deng et al. 2018).

    Each user's linearised value ``(y - R x) / mean(x)`` is adjusted with the same user's
    linearised pre-period value, the coefficient pooled over both arms. Returns the adjusted
    ratio and its variance for control and treatment.
    """
    pnc, pdc, pnt, pdt = pre
    out: list[float] = []
    lin, cov = [], []
    pn, pd = np.concatenate([pnc, pnt]), np.concatenate([pdc, pdt])
    pbar = float(pd.mean())
    r_pre = float(pn.sum() / pd.sum()) if pd.sum() > 0 else 0.0
    for n, d, a, b in ((nc, dc, pnc, pdc), (nt, dt, pnt, pdt)):
        r = float(n.sum() / d.sum())
        lin.append((n - r * d) / float(d.mean()))
        cov.append((a - r_pre * b) / pbar if pbar > 0 else np.zeros_like(a))
    w_all = np.concatenate(cov)
    var_w = float(w_all.var())
    if var_w <= 0:
        theta = 0.0
    else:
        l_all = np.concatenate(lin)
        theta = float(((w_all - w_all.mean()) * l_all).mean() / var_w)
    w_mean = float(w_all.mean())
    for (n, d), lv, w in zip(((nc, dc), (nt, dt)), lin, cov, strict=True):
        r = float(n.sum() / d.sum())
        adj = lv - theta * (w - w.mean())
        out += [r - theta * (float(w.mean()) - w_mean), float(adj.var(ddof=1)) / n.size]
    return out[0], out[1], out[2], out[3]


def compare_ratios(
    nc: F64,
    dc: F64,
    nt: F64,
    dt: F64,
    pre: tuple[F64, F64, F64, F64] | None = None,
) -> Comparison:
    """Compare a ratio metric (sum of numerators over sum of denominators) by the delta method.

    Args:
        nc: Per-user numerators in control.
        dc: Per-user denominators in control.
        nt: Per-user numerators in treatment.
        dt: Per-user denominators in treatment.
        pre: The same users' pre-period numerators and denominators (control, control,
            treatment, treatment) for CUPED on the linearised metric, or None.

    Returns:
        The comparison; the p-value is a two-sided z-test on the difference of the ratios.
    """
    n_c, n_t = int(nc.size), int(nt.size)
    if n_c < 2 or n_t < 2 or dc.sum() <= 0 or dt.sum() <= 0:
        raise ValueError("ratio metric: need at least 2 users and a positive denominator per arm")
    if pre is not None and pre[1].sum() + pre[3].sum() > 0:
        rc, vc, rt, vt = ratio_cuped(nc, dc, nt, dt, pre)
    else:
        rc, vc = _ratio_moments(nc, dc)
        rt, vt = _ratio_moments(nt, dt)
    if rc == 0:
        return Comparison(rc, rt, 0.0, 0.0, 1.0, n_c, n_t)
    sd = math.sqrt(vc + vt)
    p = 1.0 if sd == 0 and rt == rc else float(2 * sps.norm.sf(abs(rt - rc) / sd)) if sd else 0.0
    lift, se = _ratio_lift(rc, vc, rt, vt)
    return Comparison(rc, rt, lift, se, p, n_c, n_t)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[list[float], list[bool]]:
    """Holm-adjusted p-values and rejections (family-wise error rate `alpha`).

    Identical to ``statsmodels.stats.multitest.multipletests(method="holm")`` (a unit test
    checks this), which is not called here because its Holm branch runs a full garbage
    collection on every call - about 0.1 s in a busy process, too slow for A/A loops.
    """
    if not p_values:
        return [], []
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(x) for x in adjusted], [bool(x <= alpha) for x in adjusted]


def srm_test(counts: Mapping[str, int], fractions: Mapping[str, float]) -> float:
    """Chi-square p-value that the arm sizes match the planned traffic fractions.

    Args:
        counts: Users observed per arm.
        fractions: Planned traffic fraction per arm (renormalised over the arms given).

    Returns:
        The p-value; a tiny value (e.g. below 0.001) means the split is broken.
    """
    names = list(counts)
    observed = np.array([counts[a] for a in names], dtype=np.float64)
    share = np.array([fractions[a] for a in names], dtype=np.float64)
    if observed.sum() == 0 or len(names) < 2:
        return 1.0
    expected = share / share.sum() * observed.sum()
    return float(sps.chisquare(observed, expected).pvalue)
