"""Two synthetic task families, so the engine is not judged (or tuned) on three tasks only.

Each family is a generator of tasks with a known response surface: ``synth_ridge:<i>`` and
``synth_mixed:<i>`` for instance ``i`` (the instance seed draws the surface). They share what
makes the real problem hard and nothing of the simulator:

- noisy A/B measurements: every arm's lift has a standard error comparable to the optimum's
  size, and arms of one round share their control's noise (half of each arm's error
  variance), exactly as real arms compared with one control do;
- guardrails, one of which cuts the unconstrained optimum off, so the constrained optimum sits
  on a constraint boundary;
- production in a mediocre but safe place, with cliffs elsewhere in the soft box.

**synth_ridge** has six continuous knobs: the primary is a rotated quadratic ridge (two knobs
interact), a guardrail rises linearly with two knobs, and a second guardrail punishes one knob
at both ends. **synth_mixed** has four numeric knobs (one integer) and one categorical knob with
three choices that shifts both the optimum's place and the guardrail.

The oracle of a configuration is exact (no simulation), and the optimum is found once per
instance by a dense search polished by L-BFGS-B on every categorical choice.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from rectune.domain import (
    ArmResult,
    CategoricalParameter,
    Config,
    ConfigValue,
    FloatParameter,
    IntParameter,
    MetricResult,
    MetricSpec,
    SearchSpace,
)
from rectune.optimizers import TuningProblem

__all__ = ["FAMILIES", "SyntheticTask", "is_synthetic", "synthetic_task"]

Truth = Callable[[Mapping[str, ConfigValue]], dict[str, float]]


@dataclass(frozen=True)
class SyntheticTask:
    """A task with a known surface.

    Attributes:
        name: ``family:instance``.
        problem: What the methods see.
        truth: True relative lift of every metric.
        noise: Standard error of each metric's measured lift for one arm.
        control_share: Share of an arm's error variance that comes from the shared control.
    """

    name: str
    problem: TuningProblem
    truth: Truth
    noise: Mapping[str, float]
    control_share: float = 0.5

    def measure(self, configs: list[Config], salt: str) -> list[ArmResult]:
        """One A/B round: noisy lifts of `configs` against production, paired by `salt`."""
        rng = np.random.default_rng(int.from_bytes(salt.encode(), "little") % 2**63)
        control = {m: float(rng.normal()) for m in self.noise}
        out = []
        for i, cfg in enumerate(configs):
            metrics = {}
            for name, lift in self.truth(cfg).items():
                se = self.noise[name]
                shared = math.sqrt(self.control_share) * control[name]
                own = math.sqrt(1.0 - self.control_share) * float(rng.normal())
                value = lift + se * (shared + own)
                metrics[name] = MetricResult(
                    metric=name, control_mean=1.0, treatment_mean=1.0 + value,
                    relative_lift=value, ci_low=value - 1.96 * se, ci_high=value + 1.96 * se,
                    p_value=float(math.erfc(abs(value / se) / math.sqrt(2))),
                )
            out.append(ArmResult(arm=f"arm{i + 1}", metrics=metrics))
        return out

    @functools.cached_property
    def optimum(self) -> tuple[Config, float]:
        """The best feasible configuration of the soft box and its objective (searched once)."""
        return _search(self)


def _task(
    name: str, space: SearchSpace, base: Mapping[str, ConfigValue], truth: Truth,
    guards: list[tuple[str, str, float]], noise: Mapping[str, float],
) -> SyntheticTask:
    """A task whose primary is ``engagement`` (increase) with the given guardrails."""
    metrics = [MetricSpec(name="engagement", role="primary", direction="increase")]
    metrics += [
        MetricSpec(name=n, role="guardrail", direction=d, guardrail_threshold=t)
        for n, d, t in guards
    ]
    problem = TuningProblem(task=name, space=space, metrics=metrics, baseline=dict(base))
    return SyntheticTask(name, problem, truth, noise)


def _ridge(instance: int) -> SyntheticTask:
    rng = np.random.default_rng(1000 + instance)
    names = [f"r{i}" for i in range(6)]
    space = SearchSpace(
        parameters=[FloatParameter(name=n, low=0.0, high=2.0, soft_high=1.6) for n in names]
    )
    base = {n: 0.5 for n in names}
    peak = rng.uniform(0.7, 1.5, 6)
    curv = rng.uniform(0.02, 0.06, 6)
    angle = float(rng.uniform(0.3, 1.2))
    g_w = np.zeros(6)
    g_w[:2] = rng.uniform(0.02, 0.04, 2)

    def f(x: np.ndarray) -> float:
        d = x - peak
        u = math.cos(angle) * d[0] + math.sin(angle) * d[1]
        v = -math.sin(angle) * d[0] + math.cos(angle) * d[1]
        q = curv[0] * u**2 + 0.25 * curv[1] * v**2 + float(np.sum(curv[2:] * d[2:] ** 2))
        cliff = 0.08 * max(0.0, x[5] - 1.35) ** 2 * 25
        return float(-q - cliff)

    x0 = np.full(6, 0.5)

    def truth(cfg: Mapping[str, ConfigValue]) -> dict[str, float]:
        x = np.array([float(cfg[n]) for n in names])
        return {
            "engagement": float(f(x) - f(x0)),
            "complaints": float(g_w @ (x - x0)),
            "latency": float(0.03 * (x[2] - 0.5) ** 2 + 0.01 * (x[3] - 0.5)),
        }

    return _task(
        f"synth_ridge:{instance}", space, base, truth,
        [("complaints", "decrease", 0.015), ("latency", "decrease", 0.01)],
        {"engagement": 0.008, "complaints": 0.006, "latency": 0.004},
    )


def _mixed(instance: int) -> SyntheticTask:
    rng = np.random.default_rng(2000 + instance)
    space = SearchSpace(
        parameters=[
            FloatParameter(name="m_weight", low=0.0, high=4.0, soft_high=3.0),
            FloatParameter(name="m_penalty", low=0.0, high=2.0),
            FloatParameter(name="m_temperature", low=0.05, high=5.0, scale="log"),
            IntParameter(name="m_depth", low=1, high=12, soft_low=2, soft_high=10),
            CategoricalParameter(name="m_mode", choices=("greedy", "mmr", "bandit")),
        ]
    )
    base: Config = {"m_weight": 1.0, "m_penalty": 0.5, "m_temperature": 1.0, "m_depth": 4,
                    "m_mode": "greedy"}
    shift = {"greedy": (0.0, 0.0), "mmr": (0.6, 0.004), "bandit": (-0.3, -0.006)}
    lift_mode = {"greedy": 0.0, "mmr": float(rng.uniform(0.004, 0.01)), "bandit": -0.004}
    peak_w = float(rng.uniform(1.6, 2.6))
    peak_t = float(rng.uniform(-0.3, 0.6))  # in log space

    def raw(cfg: Mapping[str, ConfigValue]) -> tuple[float, float, float]:
        mode = str(cfg["m_mode"])
        w = float(cfg["m_weight"])
        pen = float(cfg["m_penalty"])
        lt = math.log(float(cfg["m_temperature"]))
        depth = int(cfg["m_depth"])
        dw, dg = shift[mode]
        primary = (
            -0.012 * (w - peak_w - dw) ** 2 - 0.01 * (lt - peak_t) ** 2
            + 0.012 * pen - 0.006 * pen**2 + 0.003 * math.log(depth) + lift_mode[mode]
            - 0.05 * max(0.0, 0.3 - pen) ** 2
        )
        # More weight and more depth raise the guardrail; the penalty lowers it.
        guard = 0.012 * (w - 1.0) + 0.0015 * (depth - 4) - 0.01 * (pen - 0.5) + dg
        cost = 0.02 * (depth - 4) / 4
        return primary, guard, cost

    p0, g0, c0 = raw(base)

    def truth(cfg: Mapping[str, ConfigValue]) -> dict[str, float]:
        p, g, c = raw(cfg)
        return {"engagement": p - p0, "negative_feedback": g - g0, "cost": c - c0}

    return _task(
        f"synth_mixed:{instance}", space, base, truth,
        [("negative_feedback", "decrease", 0.01), ("cost", "decrease", 0.03)],
        {"engagement": 0.006, "negative_feedback": 0.005, "cost": 0.002},
    )


FAMILIES: dict[str, Callable[[int], SyntheticTask]] = {"synth_ridge": _ridge, "synth_mixed": _mixed}
"""Family name -> generator of instance `i`."""


def is_synthetic(task: str) -> bool:
    """Whether `task` names an instance of a synthetic family (``family:instance``)."""
    return task.split(":")[0] in FAMILIES


@functools.cache
def synthetic_task(task: str) -> SyntheticTask:
    """The synthetic task called ``family:instance`` (instance 0 when omitted).

    Raises:
        ValueError: for an unknown family or a malformed instance.

    Example:
        >>> t = synthetic_task("synth_mixed:1")
        >>> t.problem.task, sorted(t.noise)
        ('synth_mixed:1', ['cost', 'engagement', 'negative_feedback'])
    """
    family, _, inst = task.partition(":")
    if family not in FAMILIES:
        raise ValueError(f"unknown synthetic family {family!r}; known: {sorted(FAMILIES)}")
    if inst and not inst.isdigit():
        raise ValueError(f"synthetic task {task!r}: the instance must be a number")
    return FAMILIES[family](int(inst or 0))


def _search(task: SyntheticTask, draws: int = 6000) -> tuple[Config, float]:
    """Dense random search of the soft box, then L-BFGS-B on the best per categorical choice.

    Infeasible points are penalized by their guardrail excess, so the polish walks onto the
    constraint boundary where the optimum lives.
    """
    problem = task.problem
    rng = np.random.default_rng(0)
    params = list(problem.space.parameters)
    cats = [p for p in params if isinstance(p, CategoricalParameter)]
    nums = [p for p in params if not isinstance(p, CategoricalParameter)]

    def score(cfg: Mapping[str, ConfigValue]) -> float:
        lifts = task.truth(cfg)
        excess = sum(
            max(0.0, g.sign * (float(g.guardrail_threshold or 0.0) - lifts[g.name]))
            for g in problem.guardrails
        )
        return problem.objective(lifts) - 50.0 * excess

    def cfg_of(u: np.ndarray, choice: Mapping[str, str]) -> Config:
        out: dict[str, ConfigValue] = dict(choice)
        for p, ui in zip(nums, u, strict=True):
            lo, hi = p.soft_range
            if p.scale.value == "log":
                v = math.exp(math.log(lo) + float(ui) * (math.log(hi) - math.log(lo)))
            else:
                v = lo + float(ui) * (hi - lo)
            out[p.name] = round(v) if isinstance(p, IntParameter) else v
        return out

    choices = [dict(zip([c.name for c in cats], combo, strict=True))
               for combo in itertools.product(*[c.soft_choices or c.choices for c in cats])]
    best: tuple[float, Config] = (-math.inf, dict(problem.baseline))
    for choice in choices:
        u = rng.random((draws, len(nums)))
        vals = np.array([score(cfg_of(row, choice)) for row in u])
        for i in np.argsort(-vals)[:5]:
            res = minimize(lambda z, c=choice: -score(cfg_of(np.clip(z, 0, 1), c)), u[i],
                           method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(nums))
            cfg = cfg_of(np.clip(res.x, 0, 1), choice)
            cfg = problem.space.validate_config(cfg)
            lifts = task.truth(cfg)
            if problem.guardrails_hold(lifts) and problem.objective(lifts) > best[0]:
                best = (problem.objective(lifts), cfg)
    return best[1], best[0]

