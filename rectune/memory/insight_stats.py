"""Deterministic insight statistics: what the experiments so far say about each knob.

Three detectors run over a task's completed candidates:

- **Sensitivity**: for each metric, a ridge-stabilised least-squares fit of the relative lift
  on the standardized parameter deltas (delta from baseline divided by the hard range, then
  z-scored). Standard errors come from a seeded bootstrap over arms (inflated for the degrees of
  freedom the fit uses); intervals are Bonferroni-corrected over every (parameter, metric) pair
  tested, so a noisy history rarely yields a "significant" slope by chance. The family error
  budget `family_alpha` is split evenly between the slopes and the moves.
- **Moves**: arms whose largest normalized change is one parameter in one direction are grouped.
  A move is *harmful* (or *successful*) for a metric when the inverse-variance pooled lift of
  the group is significant after Bonferroni over all groups tested, and/or when at least
  `min_replications` experiments, and a majority of those in the group, were individually
  significant in that direction with none significant the other way (*replicated*).
- **Replicated wins**: an identical configuration tested in several experiments whose primary
  lift was significantly positive in at least two of them, with no guardrail breach.

Each `Finding` carries the experiment ids behind it. `aggregate_findings` is the cross-task
reduce step; `findings_to_rules` is the evidence gate that turns findings into `LearnedRule`s.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from rectune.domain.candidates import Candidate, utcnow
from rectune.domain.configs import config_key
from rectune.domain.metrics import MetricRole, MetricSpec
from rectune.domain.parameters import (
    CategoricalParameter,
    ConfigValue,
    IntParameter,
    SearchSpace,
)
from rectune.domain.rules import LearnedRule, RuleConstraint, RuleEvidence, RuleStatus
from rectune.memory.elites import guardrail_breached

__all__ = [
    "Finding",
    "FindingKind",
    "InsightSettings",
    "RuleChanges",
    "aggregate_findings",
    "analyze_task",
    "findings_to_rules",
    "harmful_moves",
    "parameter_concept",
    "replicated_wins",
    "rule_changes",
    "sensitivity",
]

_Z95 = 1.959963984540054


class FindingKind(StrEnum):
    """What a finding says."""

    SENSITIVITY = "sensitivity"
    HARMFUL_MOVE = "harmful_move"
    SUCCESSFUL_MOVE = "successful_move"
    REPLICATED_WIN = "replicated_win"
    CROSS_TASK = "cross_task"


class Finding(BaseModel):
    """One statistical statement about a task, with the experiments that back it.

    `effect` is in relative-lift units of `metric`. For sensitivities it is the change in lift
    per one standard deviation of the parameter's tested deltas; for moves the pooled lift of the
    arms that made the move; for wins the pooled primary lift. `slope_sign` is the sign of the
    metric's response to *raising* the parameter (0 when not applicable).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FindingKind
    task: str
    parameters: list[str]
    metric: str
    metric_role: MetricRole
    move: Literal["increase", "decrease"] | None = None
    effect: float
    std_error: float = Field(ge=0.0)
    ci_low: float
    ci_high: float
    good: bool = Field(description="whether the effect is good for the metric")
    slope_sign: int = Field(default=0, ge=-1, le=1)
    threshold: ConfigValue | None = Field(
        default=None, description="for moves: the least extreme value at which it was seen"
    )
    experiment_ids: list[str]
    candidate_ids: list[str] = Field(default_factory=list)
    n_experiments: int = Field(ge=0)
    significant: bool
    replicated: bool
    tasks: list[str] = Field(default_factory=list, description="for cross-task findings")
    delta: dict[str, ConfigValue] | None = Field(
        default=None,
        description="for replicated wins: the configuration's change from the baseline, "
        "which names the win whatever experiments re-test it",
    )
    confounded_with: list[str] = Field(
        default_factory=list,
        description="knobs that moved together with `parameters` in the arms behind the "
        "finding, so the effect cannot be attributed to `parameters` alone",
    )
    past_limit: bool = Field(
        default=False,
        description="for guardrail moves: the corrected interval lies wholly past the "
        "guardrail's threshold, so the move breaks the guardrail rather than only moving it",
    )
    text: str

    @property
    def rule_worthy(self) -> bool:
        """The evidence gate: only significant or replicated effects that can be attributed to
        their knob may become rules. A knob that always moved together with others gets the
        credit (or blame) of all of them, so a rule on it would be a guess."""
        return (self.significant or self.replicated) and not self.confounded_with


class InsightSettings(BaseModel):
    """Knobs of the statistics; the defaults keep false rules rare on noisy data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family_alpha: float = Field(default=0.05, gt=0, lt=1)
    min_arms: int = Field(default=8, ge=3, description="arms needed before fitting slopes")
    bootstrap: int = Field(default=400, ge=50)
    ridge: float = Field(default=1e-3, ge=0)
    min_move: float = Field(default=0.02, gt=0, description="fraction of the hard range")
    min_replications: int = Field(default=3, ge=2)
    max_vif: float = Field(
        default=5.0, gt=1.0,
        description="variance inflation above which a slope is confounded with other knobs",
    )
    comove_share: float = Field(
        default=0.75, gt=0.5, le=1.0,
        description="share of a move's arms in which another knob moved the same way that "
        "makes the move confounded with it",
    )
    seed: int = 0


def _usable(candidates: Iterable[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.result is not None and not c.result.aborted]


def _exp_id(c: Candidate) -> str:
    return c.experiment_id or c.id


def _numeric(space: SearchSpace) -> list[str]:
    return [p.name for p in space if not isinstance(p, CategoricalParameter)]


def _deltas(cands: Sequence[Candidate], space: SearchSpace, baseline: Mapping[str, ConfigValue],
            names: Sequence[str]) -> np.ndarray:
    x = np.zeros((len(cands), len(names)))
    for j, n in enumerate(names):
        p = space[n]
        assert not isinstance(p, CategoricalParameter)
        span = p.high - p.low
        for i, c in enumerate(cands):
            x[i, j] = (float(c.config[n]) - float(baseline[n])) / span
    return x


def _se_from_ci(lo: float, hi: float) -> float:
    return max((hi - lo) / (2 * _Z95), 1e-12)


def sensitivity(
    task: str,
    candidates: Sequence[Candidate],
    space: SearchSpace,
    baseline: Mapping[str, ConfigValue],
    metrics: Sequence[MetricSpec],
    settings: InsightSettings | None = None,
) -> list[Finding]:
    """Per-parameter slopes of every metric with Bonferroni-corrected bootstrap intervals."""
    s = settings or InsightSettings()
    cands = _usable(candidates)
    names = _numeric(space)
    plans: list[tuple[MetricSpec, list[Candidate], list[str]]] = []
    for m in metrics:
        rows = [c for c in cands if m.name in c.result.metrics]  # type: ignore[union-attr]
        if len(rows) < s.min_arms:
            continue
        x = _deltas(rows, space, baseline, names)
        active = [n for j, n in enumerate(names) if np.ptp(x[:, j]) > 1e-12]
        if active and len(rows) >= len(active) + 3:
            plans.append((m, rows, active))
    n_tests = sum(len(a) for _, _, a in plans)
    if n_tests == 0:
        return []
    rng = np.random.default_rng(s.seed)
    out: list[Finding] = []
    for m, rows, active in plans:
        x = _deltas(rows, space, baseline, active)
        x = (x - x.mean(axis=0)) / x.std(axis=0)
        y = np.array([r.result.metrics[m.name].relative_lift for r in rows])  # type: ignore[union-attr]
        n, p = x.shape
        tangled = _collinear(x, active, s.max_vif)
        beta = _ridge(x, y, s.ridge)
        idx = rng.integers(0, n, (s.bootstrap, n))
        xb = x[idx]  # (B, n, p): every resample at once
        sd = xb.std(axis=1, keepdims=True)
        # A resample that lost all variation in a column says nothing about that slope.
        xb = (xb - xb.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
        yb = y[idx] - y[idx].mean(axis=1, keepdims=True)
        gram = np.einsum("bni,bnj->bij", xb, xb) + s.ridge * n * np.eye(p)
        boot = np.linalg.solve(gram, np.einsum("bni,bn->bi", xb, yb)[..., None])[..., 0]
        se = boot.std(axis=0, ddof=1) * math.sqrt(n / max(n - p - 1, 1))
        alpha = s.family_alpha / 2  # the other half of the family budget goes to the moves
        crit = float(stats.t.ppf(1 - alpha / (2 * n_tests), df=max(n - p - 1, 1)))
        for j, name in enumerate(active):
            lo, hi = beta[j] - crit * se[j], beta[j] + crit * se[j]
            moved = [r for r in rows if r.config[name] != baseline[name]]
            good = m.goodness(float(beta[j])) > 0
            sig = bool(lo > 0 or hi < 0)
            verb = "raises" if beta[j] > 0 else "lowers"
            out.append(
                Finding(
                    kind=FindingKind.SENSITIVITY,
                    task=task,
                    parameters=[name],
                    metric=m.name,
                    metric_role=m.role,
                    effect=float(beta[j]),
                    std_error=float(se[j]),
                    ci_low=float(lo),
                    ci_high=float(hi),
                    good=good,
                    slope_sign=int(np.sign(beta[j])),
                    experiment_ids=sorted({_exp_id(r) for r in moved}),
                    candidate_ids=[r.id for r in moved],
                    n_experiments=len({_exp_id(r) for r in moved}),
                    significant=sig,
                    replicated=False,
                    confounded_with=tangled.get(name, []),
                    text=(
                        f"In {task}, raising {name} {verb} {m.name} "
                        f"({'good' if good else 'bad'} for it): {beta[j] * 100:+.2f}% lift per "
                        f"standard deviation of tested moves, corrected CI "
                        f"[{lo * 100:+.2f}%, {hi * 100:+.2f}%], {n} arms."
                    ),
                )
            )
    return out


def _collinear(x: np.ndarray, names: Sequence[str], max_vif: float) -> dict[str, list[str]]:
    """Per knob whose slope is not identifiable, the knobs it moved together with.

    The variance inflation factor of column j is ``1 / (1 - R^2)`` of regressing it on the
    other columns: above `max_vif`, the arms moved that knob so much in step with others that
    its separate effect is mostly a guess. The partners named are those whose correlation
    with it is largest (at least 0.5 in absolute value, or the single largest).
    """
    out: dict[str, list[str]] = {}
    p = x.shape[1]
    if p < 2:
        return out
    corr = np.corrcoef(x, rowvar=False)
    corr = np.nan_to_num(corr)
    try:
        inv = np.linalg.pinv(corr)
    except np.linalg.LinAlgError:  # pragma: no cover - pinv does not fail on finite input
        return out
    for j, name in enumerate(names):
        vif = float(inv[j, j])
        if vif > max_vif or not np.isfinite(vif):
            others = [(abs(corr[j, k]), names[k]) for k in range(p) if k != j]
            partners = [n for c, n in sorted(others, reverse=True) if c >= 0.5]
            out[name] = partners or [max(others)[1]]
    return out


def _comoving(
    rows: Sequence[Candidate], space: SearchSpace, baseline: Mapping[str, ConfigValue],
    name: str, min_move: float, share: float,
) -> list[str]:
    """Other knobs that moved the same way in at least `share` of the arms of a move."""
    others = [n for n in _numeric(space) if n != name]
    if not others or not rows:
        return []
    x = _deltas(rows, space, baseline, others)
    out = []
    for k, other in enumerate(others):
        up = np.sum(x[:, k] >= min_move)
        down = np.sum(x[:, k] <= -min_move)
        if max(up, down) >= share * len(rows):
            out.append(other)
    return out


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    a = xc.T @ xc + alpha * len(y) * np.eye(x.shape[1])
    return np.asarray(np.linalg.solve(a, xc.T @ yc))


def _dominant_moves(
    cands: Sequence[Candidate], space: SearchSpace, baseline: Mapping[str, ConfigValue],
    min_move: float,
) -> dict[tuple[str, str], list[Candidate]]:
    names = _numeric(space)
    groups: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    if not cands:
        return groups
    x = _deltas(cands, space, baseline, names)
    for i, c in enumerate(cands):
        a = np.abs(x[i])
        j = int(np.argmax(a))
        # Attribute an arm to a knob only when that knob's move clearly dominates the others.
        others = np.delete(a, j)
        if a[j] < min_move or (others.size and others.max() > 0.5 * a[j]):
            continue
        groups[(names[j], "increase" if x[i, j] > 0 else "decrease")].append(c)
    return groups


def harmful_moves(
    task: str,
    candidates: Sequence[Candidate],
    space: SearchSpace,
    baseline: Mapping[str, ConfigValue],
    metrics: Sequence[MetricSpec],
    settings: InsightSettings | None = None,
) -> list[Finding]:
    """Harmful and successful single-knob moves (see the module docstring)."""
    s = settings or InsightSettings()
    groups = _dominant_moves(_usable(candidates), space, baseline, s.min_move)
    tests = [(k, m) for k, g in groups.items() for m in metrics
             if sum(1 for c in g if c.result is not None and m.name in c.result.metrics) >= 2]
    if not tests:
        return []
    alpha = s.family_alpha / 2  # the other half of the family budget goes to the slopes
    crit = float(stats.norm.ppf(1 - alpha / (2 * len(tests))))
    out: list[Finding] = []
    for (name, move), m in tests:
        rows = [c for c in groups[(name, move)] if m.name in c.result.metrics]  # type: ignore[union-attr]
        res = [c.result.metrics[m.name] for c in rows]  # type: ignore[union-attr]
        w = np.array([1 / _se_from_ci(r.ci_low, r.ci_high) ** 2 for r in res])
        lifts = np.array([r.relative_lift for r in res])
        pooled = float(np.sum(w * lifts) / np.sum(w))
        se = float(1 / math.sqrt(np.sum(w)))
        lo, hi = pooled - crit * se, pooled + crit * se
        good_exps = {_exp_id(c) for c, r in zip(rows, res, strict=True)
                     if m.goodness(r.ci_low if m.sign > 0 else r.ci_high) > 0}
        bad_exps = {_exp_id(c) for c, r in zip(rows, res, strict=True)
                    if m.goodness(r.ci_high if m.sign > 0 else r.ci_low) < 0}
        sig = lo > 0 or hi < 0
        good = m.goodness(pooled) > 0
        same, other = (good_exps, bad_exps) if good else (bad_exps, good_exps)
        n_exps = len({_exp_id(c) for c in rows})
        # A majority of the experiments must agree, so a few lucky arms among many do not count.
        replicated = len(same) >= s.min_replications and 2 * len(same) > n_exps and not other
        if not (sig or replicated):
            continue
        kind = FindingKind.SUCCESSFUL_MOVE if good else FindingKind.HARMFUL_MOVE
        tangled = _comoving(rows, space, baseline, name, s.min_move, s.comove_share)
        values = [float(c.config[name]) for c in rows]
        threshold: ConfigValue = min(values) if move == "increase" else max(values)
        if isinstance(space[name], IntParameter):
            threshold = int(threshold)
        verb = "hurt" if not good else "helped"
        past = _past_limit(m, lo, hi)
        out.append(
            Finding(
                kind=kind,
                task=task,
                parameters=[name],
                metric=m.name,
                metric_role=m.role,
                move=move,
                effect=pooled,
                std_error=se,
                ci_low=lo,
                ci_high=hi,
                good=good,
                slope_sign=int(np.sign(pooled)) * (1 if move == "increase" else -1),
                threshold=threshold,
                experiment_ids=sorted({_exp_id(c) for c in rows}),
                candidate_ids=[c.id for c in rows],
                n_experiments=len({_exp_id(c) for c in rows}),
                significant=bool(sig),
                replicated=replicated,
                confounded_with=tangled,
                past_limit=past,
                text=(
                    f"In {task}, moves that mainly {'raised' if move == 'increase' else 'lowered'}"
                    f" {name} (from {baseline[name]} to {'>=' if move == 'increase' else '<='} "
                    f"{threshold}) {verb} {m.name}: pooled lift {pooled * 100:+.2f}%, corrected "
                    f"CI [{lo * 100:+.2f}%, {hi * 100:+.2f}%], {len(same)} of {len(rows)} arms "
                    f"individually significant that way"
                    + (_limit_text(m, past) if not good else "")
                    + "."
                ),
            )
        )
    return out


def _past_limit(m: MetricSpec, lo: float, hi: float) -> bool:
    """Whether a corrected interval lies wholly on the wrong side of guardrail `m`'s limit."""
    if m.role is not MetricRole.GUARDRAIL or m.guardrail_threshold is None:
        return False
    t = m.guardrail_threshold
    return bool(hi < t) if m.sign > 0 else bool(lo > t)


def _limit_text(m: MetricSpec, past: bool) -> str:
    t = m.guardrail_threshold
    if t is None:
        return ""
    where = "past" if past else "not shown past"
    return f"; {where} its {t * 100:+.1f}% limit"


def replicated_wins(
    task: str,
    candidates: Sequence[Candidate],
    baseline: Mapping[str, ConfigValue],
    metrics: Sequence[MetricSpec],
) -> list[Finding]:
    """Identical configurations whose primary win held up in two or more experiments."""
    primaries = sorted(
        (m for m in metrics if m.role is MetricRole.PRIMARY), key=lambda m: m.priority
    )
    primary = primaries[0] if primaries else None
    if primary is None:
        return []
    guardrails = [m for m in metrics if m.role is MetricRole.GUARDRAIL]
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in _usable(candidates):
        if primary.name in c.result.metrics:  # type: ignore[union-attr]
            groups[config_key(c.config)].append(c)
    out: list[Finding] = []
    for rows in groups.values():
        exps = {_exp_id(c) for c in rows}
        if len(exps) < 2:
            continue
        res = [c.result.metrics[primary.name] for c in rows]  # type: ignore[union-attr]
        wins = {_exp_id(c) for c, r in zip(rows, res, strict=True)
                if primary.goodness(r.ci_low if primary.sign > 0 else r.ci_high) > 0}
        losses = {_exp_id(c) for c, r in zip(rows, res, strict=True)
                  if primary.goodness(r.ci_high if primary.sign > 0 else r.ci_low) < 0}
        breached = any(
            guardrail_breached(g, c.result.metrics[g.name])  # type: ignore[union-attr]
            for c in rows for g in guardrails if g.name in c.result.metrics  # type: ignore[union-attr]
        )
        if len(wins) < 2 or losses or breached:
            continue
        w = np.array([1 / _se_from_ci(r.ci_low, r.ci_high) ** 2 for r in res])
        pooled = float(np.sum(w * np.array([r.relative_lift for r in res])) / np.sum(w))
        se = float(1 / math.sqrt(np.sum(w)))
        delta = {k: v for k, v in rows[0].config.items() if baseline.get(k) != v}
        out.append(
            Finding(
                kind=FindingKind.REPLICATED_WIN,
                task=task,
                parameters=sorted(delta),
                metric=primary.name,
                metric_role=primary.role,
                effect=pooled,
                std_error=se,
                ci_low=pooled - _Z95 * se,
                ci_high=pooled + _Z95 * se,
                good=True,
                experiment_ids=sorted(exps),
                candidate_ids=[c.id for c in rows],
                n_experiments=len(exps),
                significant=False,
                replicated=True,
                delta=delta,
                text=(
                    f"In {task}, the configuration {delta} won on {primary.name} in "
                    f"{len(wins)} separate experiments (pooled {pooled * 100:+.2f}%), with no "
                    f"guardrail breach."
                ),
            )
        )
    return out


def analyze_task(
    task: str,
    candidates: Sequence[Candidate],
    space: SearchSpace,
    baseline: Mapping[str, ConfigValue],
    metrics: Sequence[MetricSpec],
    settings: InsightSettings | None = None,
) -> list[Finding]:
    """All detectors for one task (the "map" step of cross-learning).

    Example:
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> s = SkillHub(shipped_skills_dir()).get("diversity")
        >>> analyze_task(s.name, [], s.space, s.baseline, s.metrics)
        []
    """
    return [
        *sensitivity(task, candidates, space, baseline, metrics, settings),
        *harmful_moves(task, candidates, space, baseline, metrics, settings),
        *replicated_wins(task, candidates, baseline, metrics),
    ]


def parameter_concept(name: str) -> str:
    """The task-independent part of a knob name.

    Example:
        >>> parameter_concept("vf_w_click"), parameter_concept("vbr_w_click")
        ('w_click', 'w_click')
    """
    head, _, rest = name.partition("_")
    return rest if rest and head.isalpha() and len(head) <= 4 else name


def aggregate_findings(
    findings: Iterable[Finding],
    *,
    concept: Callable[[str], str] = parameter_concept,
    family_alpha: float = 0.05,
) -> list[Finding]:
    """Cross-task reduce: pool same-concept sensitivities that appear in two or more tasks.

    Pure and order-independent, so a map-reduce may call it on the concatenated outputs of
    `analyze_task`. Effects are pooled by inverse variance; the pooled interval is corrected
    over the number of groups; a group is *replicated* when at least two tasks found a
    significant effect of the same sign.
    """
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        if f.kind is FindingKind.SENSITIVITY and len(f.parameters) == 1:
            groups[(concept(f.parameters[0]), f.metric)].append(f)
    multi = {k: v for k, v in groups.items() if len({f.task for f in v}) >= 2}
    if not multi:
        return []
    crit = float(stats.norm.ppf(1 - family_alpha / (2 * len(multi))))
    out: list[Finding] = []
    for (cpt, metric), fs in sorted(multi.items()):
        fs = sorted(fs, key=lambda f: (f.task, f.parameters[0]))
        w = np.array([1 / max(f.std_error, 1e-12) ** 2 for f in fs])
        pooled = float(np.sum(w * np.array([f.effect for f in fs])) / np.sum(w))
        se = float(1 / math.sqrt(np.sum(w)))
        lo, hi = pooled - crit * se, pooled + crit * se
        sign = int(np.sign(pooled))
        agree = {f.task for f in fs if f.significant and f.slope_sign == sign and sign != 0}
        tasks = sorted({f.task for f in fs})
        good_votes = sum(1 for f in fs if f.good == (f.slope_sign == sign))
        good = good_votes * 2 >= len(fs)
        out.append(
            Finding(
                kind=FindingKind.CROSS_TASK,
                task="+".join(tasks),
                parameters=sorted({f.parameters[0] for f in fs}),
                metric=metric,
                metric_role=fs[0].metric_role,
                effect=pooled,
                std_error=se,
                ci_low=lo,
                ci_high=hi,
                good=good,
                slope_sign=sign,
                experiment_ids=sorted({e for f in fs for e in f.experiment_ids}),
                candidate_ids=sorted({c for f in fs for c in f.candidate_ids}),
                n_experiments=len({e for f in fs for e in f.experiment_ids}),
                significant=bool(lo > 0 or hi < 0),
                replicated=len(agree) >= 2,
                tasks=tasks,
                text=(
                    f"Across {', '.join(tasks)}, raising the '{cpt}' knob "
                    f"{'raises' if pooled > 0 else 'lowers'} {metric}: pooled "
                    f"{pooled * 100:+.2f}% per standard deviation, corrected CI "
                    f"[{lo * 100:+.2f}%, {hi * 100:+.2f}%]; significant in {len(agree)} task(s)."
                ),
            )
        )
    return out


_KINDS = {
    FindingKind.SENSITIVITY: "sens",
    FindingKind.HARMFUL_MOVE: "harm",
    FindingKind.SUCCESSFUL_MOVE: "move",
    FindingKind.REPLICATED_WIN: "win",
    FindingKind.CROSS_TASK: "cross",
}
_RULE_ID = re.compile(
    r"^R-(sens|harm|move|cross|win)-(.+)-([A-Za-z_][A-Za-z0-9_]*)-(pos|neg|na)(?:-\d+)?$"
)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _rule_ids(f: Finding, params: Sequence[str]) -> list[str]:
    """The id a rule for `f` gets, then the older ids that named the same statement.

    A replicated win is named by its configuration (the delta from the baseline), so the
    same configuration re-tested in more experiments stays one rule. Rules learned before
    findings carried the delta were named by their experiments; that id is kept as an alias
    so those rules are recognised (and updated) too.
    """
    kind = _KINDS[f.kind]
    sign = {1: "pos", -1: "neg", 0: "na"}[f.slope_sign]

    def make(body: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", f"R-{kind}-{body}-{f.metric}-{sign}")

    if f.kind is not FindingKind.REPLICATED_WIN:
        return [make("+".join(params))]
    legacy = make("cfg" + _hash("|".join(sorted(f.experiment_ids))))
    if f.delta is None:
        return [legacy]
    return [make("cfg" + _hash(config_key(f.delta))), legacy]


def _rule_key(rule_id: str) -> tuple[str, str] | None:
    """``(statement, direction)`` of one of our ids: kind-free for the knob rules (one rule
    per parameters, metric and direction, whatever detector found it), the configuration for
    wins (which have no opposite); None for an id we did not mint."""
    m = _RULE_ID.match(rule_id)
    if m is None:
        return None
    kind, body, metric, sign = m.groups()
    if kind == "win":
        return f"win:{body}|{metric}", sign
    if sign == "na":
        return None
    return f"{body}|{metric}", sign


def _rule_kind(rule_id: str) -> str | None:
    m = _RULE_ID.match(rule_id)
    return None if m is None else m.group(1)


def _evidence(f: Finding) -> RuleEvidence:
    return RuleEvidence(
        metric=f.metric,
        effect=f.effect,
        ci_low=f.ci_low,
        ci_high=f.ci_high,
        n_experiments=max(f.n_experiments, 1),
    )


def _confirmed(
    rule: LearnedRule, f: Finding, at: datetime, round_no: int | None
) -> LearnedRule | None:
    """`rule` with the fresh evidence of `f` when `f` brings experiments the rule does not
    cite yet; None when it only repeats what the rule already says.

    The statement (id, text, parameters, constraint, when it was added) stays as learned:
    only the support (experiments), the estimate and interval of the finding's metric, and
    when it was confirmed change.
    """
    if _rule_kind(rule.id) != _KINDS[f.kind]:
        return None  # another detector's effect is in other units; the rule stands as is
    known = set(rule.experiment_ids)
    if set(f.experiment_ids) <= known:
        return None
    evidence = [e for e in rule.evidence if e.metric != f.metric]
    evidence.append(_evidence(f))
    return rule.model_copy(
        update={
            "experiment_ids": [*rule.experiment_ids,
                               *sorted(set(f.experiment_ids) - known)],
            "evidence": sorted(evidence, key=lambda e: e.metric),
            "confirmed_round": round_no,
            "confirmed_at": at,
        }
    )


def findings_to_rules(
    findings: Iterable[Finding],
    existing_rules: Sequence[LearnedRule],
    *,
    space: SearchSpace | None = None,
    now: datetime | None = None,
) -> tuple[list[LearnedRule], dict[str, str]]:
    """The new rules and the retirements of `rule_changes` (without the updates).

    Returns:
        ``(new_rules, retire)``: rules to append and ``{rule id: reason}`` for active rules a
        significant finding now contradicts.
    """
    changes = rule_changes(findings, existing_rules, space=space, now=now)
    return changes.new, changes.retire


def rule_changes(
    findings: Iterable[Finding],
    existing_rules: Sequence[LearnedRule],
    *,
    space: SearchSpace | None = None,
    now: datetime | None = None,
    round_no: int | None = None,
) -> RuleChanges:
    """The evidence gate: turn rule-worthy findings into new rules, update the rules they
    re-derive, and retire contradicted ones.

    Args:
        findings: Findings for one skill (its own and cross-task ones).
        existing_rules: The skill's current learned rules.
        space: When given, only parameters of this space are kept (cross-task findings name
            knobs of several tasks) and constraints are checked against it.
        now: Timestamp of the new rules and of refreshed evidence (default: now).
        round_no: The round learning this, recorded on the rules it confirms.

    Returns:
        ``(new_rules, retire, update)``: rules to append, ``{rule id: reason}`` for active
        rules a significant finding now contradicts, and active rules re-derived with new
        supporting experiments, with their evidence refreshed (same ids). A finding that only
        repeats a rule's evidence changes nothing. Pass them to `SkillHub.apply_learning`.
    """
    at = now or utcnow()
    taken = {r.id for r in existing_rules}
    active = {r.id: r for r in existing_rules if r.status is RuleStatus.ACTIVE}
    active_keys: dict[tuple[str, str], str] = {}
    for rid in active:
        key = _rule_key(rid)
        if key is not None:
            active_keys[key] = rid
    new: list[LearnedRule] = []
    retire: dict[str, str] = {}
    update: dict[str, LearnedRule] = {}
    done: set[tuple[str, str]] = set()  # statements this call already decided
    for f in sorted(findings, key=lambda f: (-abs(f.effect) / max(f.std_error, 1e-12), f.text)):
        if not f.rule_worthy:
            continue
        params = [p for p in f.parameters if space is None or p in space]
        if not params:
            continue
        ids = _rule_ids(f, params)
        rid = ids[0]
        key = _rule_key(rid)
        if key is not None:
            held = next(
                (active_keys[k] for k in map(_rule_key, ids) if k is not None and k in active_keys),
                None,
            )
            if held is not None:
                # The same statement is in force: refresh its evidence once, never copy it.
                if key not in done and held in active and held not in update:
                    fresh = _confirmed(active[held], f, at, round_no)
                    if fresh is not None:
                        update[held] = fresh
                done.add(key)
                continue
            if key in done:
                continue
            opposite = (key[0], "neg" if key[1] == "pos" else "pos")
            if key[1] != "na" and opposite in active_keys and f.significant:
                retire[active_keys[opposite]] = (
                    f"contradicted by a significant opposite effect ({f.text}) "
                    f"in experiments {', '.join(f.experiment_ids[:8])}"
                )
        if rid in taken:
            k = 2
            while f"{rid}-{k}" in taken:
                k += 1
            rid = f"{rid}-{k}"
        constraint = _constraint(f, params, space)
        rule = LearnedRule(
            id=rid,
            text=f.text + (f" Keep {constraint}." if constraint is not None else ""),
            parameters=params,
            constraint=constraint,
            experiment_ids=f.experiment_ids or ["unknown"],
            evidence=[_evidence(f)],
            added_at=at,
            source_task=f.task,
        )
        new.append(rule)
        taken.add(rid)
        if key is not None:
            active_keys[key] = rid
            done.add(key)
    # Evidence both ways in one round: the significant contradiction wins.
    return RuleChanges(new, retire, [r for rid, r in update.items() if rid not in retire])


class RuleChanges(NamedTuple):
    """What the evidence gate decided for one skill (see `findings_to_rules`)."""

    new: list[LearnedRule]
    retire: dict[str, str]
    update: list[LearnedRule]


def _constraint(f: Finding, params: Sequence[str], space: SearchSpace | None) -> (
    RuleConstraint | None
):
    # Only harm to what must not fall (primary metrics and guardrails) justifies a hard limit,
    # and a guardrail only falls when it is past its threshold: a move that raises negative
    # feedback by 1% against a 3% limit is allowed, and forbidding it cut off optima that sit
    # close to a guardrail (as constrained optima do).
    if f.kind is not FindingKind.HARMFUL_MOVE or f.threshold is None or len(params) != 1:
        return None
    if f.metric_role is MetricRole.SECONDARY or not f.significant:
        return None
    if f.metric_role is MetricRole.GUARDRAIL and not f.past_limit:
        return None
    op: Literal["<", ">"] = "<" if f.move == "increase" else ">"
    if space is not None and params[0] not in space:
        return None
    return RuleConstraint(parameter=params[0], op=op, value=f.threshold)
