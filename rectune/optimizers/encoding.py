"""Mapping between configurations and the model's input features.

The surrogate works on *features*: one coordinate per numeric parameter, scaled so that the
skill's soft box (the range worth testing) is [0, 1] (log- or log1p-scaled when the parameter
says so),
and a one-hot block per categorical parameter. Scaling to the soft box rather than the hard
box puts the points the optimizer may propose in the unit cube, where the length-scale prior is
calibrated; tested points outside the soft box (an older, wider box; an LLM idea) simply get
features outside [0, 1].

A scale-invariant group of weights (declared in the skill's structure) is encoded after
rescaling the whole group so that its reference weight has its production value: configurations
that differ only by a common factor get the same features, and the reference's feature is
fixed, so the optimizer searches one dimension less (`free_mask`).

Decoding goes the other way and is the only road from numbers to configurations, so it is
where validity is enforced: values are clipped into the soft box, integers rounded, floats
tidied to a readable precision, categoricals restricted to the allowed choices, and the result
validated by the search space.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from rectune.domain import (
    CategoricalParameter,
    Config,
    ConfigValue,
    FloatParameter,
    IntParameter,
    Scale,
    SearchSpace,
    config_key,
)
from rectune.domain.structure import TaskStructure

__all__ = ["FloatArray", "SpaceEncoder"]

FloatArray = NDArray[np.float64]
Numeric = FloatParameter | IntParameter


LOG1P_OFFSET = 1.0 / 20.0
"""The offset of a ``log1p`` knob as a share of its hard range (fixed by people, so the
encoding does not move when agents narrow the soft box)."""


def _offset(p: Numeric) -> float:
    return LOG1P_OFFSET * (p.high - p.low)


def _forward(p: Numeric, v: float) -> float:
    if p.scale is Scale.LOG:
        return math.log(v)
    if p.scale is Scale.LOG1P:
        return math.log1p((v - p.low) / _offset(p))
    return v


def _backward(p: Numeric, t: float) -> float:
    if p.scale is Scale.LOG:
        return math.exp(t)
    if p.scale is Scale.LOG1P:
        return p.low + _offset(p) * math.expm1(t)
    return t


def _tidy_float(v: float, lo: float, hi: float, log: bool) -> float:
    """Round to about a thousandth of the range (4 significant digits on log scale)."""
    if v == 0.0:
        return 0.0
    if log:
        digits = 3 - math.floor(math.log10(abs(v)))
    else:
        digits = 3 - math.floor(math.log10(max(hi - lo, 1e-12)))
    return float(min(max(round(v, digits), lo), hi))


def _span(p: Numeric) -> tuple[float, float]:
    """The transformed ends of the range features are scaled to (the soft box if not empty)."""
    lo, hi = p.soft_range
    if hi <= lo:
        lo, hi = p.low, p.high
    return _forward(p, float(lo)), _forward(p, float(hi))


class SpaceEncoder:
    """Encode configurations as features and decode features into valid configurations.

    Args:
        space: The search space.
        structure: The skill's structure (scale-invariant groups are used here).
        baseline: Production, whose reference weights anchor the scale-invariant groups.

    Example:
        >>> from rectune.domain import CategoricalParameter, FloatParameter, SearchSpace
        >>> space = SearchSpace(parameters=[
        ...     FloatParameter(name="w", low=0, high=4, soft_high=2),
        ...     CategoricalParameter(name="mode", choices=("a", "b")),
        ... ])
        >>> enc = SpaceEncoder(space)
        >>> enc.encode({"w": 1.0, "mode": "b"}).tolist()
        [0.5, 0.0, 1.0]
        >>> enc.decode(np.array([1.4, 0.7, 0.2]))  # clipped into the soft box
        {'w': 2.0, 'mode': 'a'}
    """

    def __init__(
        self,
        space: SearchSpace,
        structure: TaskStructure | None = None,
        baseline: Mapping[str, ConfigValue] | None = None,
    ) -> None:
        self.space = space
        self._slices: list[slice] = []
        names: list[str] = []
        owner: list[int] = []
        start = 0
        for i, p in enumerate(space.parameters):
            width = len(p.choices) if isinstance(p, CategoricalParameter) else 1
            self._slices.append(slice(start, start + width))
            if isinstance(p, CategoricalParameter):
                names.extend(f"{p.name}={c}" for c in p.choices)
            else:
                names.append(p.name)
            owner.extend([i] * width)
            start += width
        self.dim = start
        self.feature_names = names
        self.feature_owner = np.asarray(owner, dtype=np.int64)
        self.numeric_mask = np.array(
            [not isinstance(space.parameters[i], CategoricalParameter) for i in owner], dtype=bool
        )
        self.soft_lo: FloatArray = np.zeros(self.dim)
        self.soft_hi: FloatArray = np.ones(self.dim)
        self.groups: list[tuple[list[str], str, float]] = []
        self.free_mask = self.numeric_mask.copy()
        if structure is not None and baseline is not None:
            for g in structure.scale_invariant:
                ref = float(baseline[g.reference])
                self.groups.append((list(g.parameters), g.reference, ref))
                self.free_mask[self.param_slice(g.reference).start] = False

    @property
    def n_params(self) -> int:
        """Number of parameters (one space-filling coordinate each)."""
        return len(self.space)

    def param_slice(self, name: str) -> slice:
        """The feature columns of parameter `name`."""
        return self._slices[self.space.names.index(name)]

    @staticmethod
    def _unit(p: Numeric, v: float) -> float:
        a, b = _span(p)
        return (_forward(p, float(v)) - a) / (b - a)

    @staticmethod
    def _from_unit(p: Numeric, u: float) -> float:
        a, b = _span(p)
        return _backward(p, a + float(u) * (b - a))

    def value_and_slope(self, name: str, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The (unrounded) value of numeric knob `name` at features `u`, and d value / d u."""
        p = self.space[name]
        assert not isinstance(p, CategoricalParameter)
        a, b = _span(p)
        t = a + u * (b - a)
        if p.scale is Scale.LOG:
            v = np.exp(t)
            return v, v * (b - a)
        if p.scale is Scale.LOG1P:
            c = _offset(p)
            return p.low + c * np.expm1(t), c * np.exp(t) * (b - a)
        return t, np.full_like(u, b - a)

    def canonical(self, config: Mapping[str, ConfigValue]) -> dict[str, ConfigValue]:
        """`config` with every scale-invariant group rescaled to its reference's production
        value (unrounded; the representative the features describe)."""
        out = dict(config)
        for params, ref, ref0 in self.groups:
            r = float(config[ref])
            if r <= 0:
                continue  # a zero reference has no finite rescaling; leave the point as it is
            f = ref0 / r
            for n in params:
                out[n] = float(config[n]) * f
        return out

    def canonical_key(self, config: Mapping[str, ConfigValue]) -> str:
        """A duplicate-detection key under which rescalings of one configuration coincide."""
        canon = self.canonical(config)
        return config_key(
            {k: float(f"{v:.5g}") if isinstance(v, float) else v for k, v in canon.items()}
        )

    def encode(self, config: Mapping[str, ConfigValue]) -> FloatArray:
        """Features of one configuration (it need not lie in the soft box)."""
        config = self.canonical(config) if self.groups else config
        x = np.zeros(self.dim)
        for p, sl in zip(self.space.parameters, self._slices, strict=True):
            v = config[p.name]
            if isinstance(p, CategoricalParameter):
                x[sl.start + p.choices.index(str(v))] = 1.0
            else:
                x[sl.start] = self._unit(p, float(v))
        return x

    def encode_many(self, configs: Sequence[Mapping[str, ConfigValue]]) -> FloatArray:
        """Features of several configurations, one row each."""
        if not configs:
            return np.zeros((0, self.dim))
        return np.vstack([self.encode(c) for c in configs])

    def _numeric_value(self, p: Numeric, u: float) -> ConfigValue:
        s_lo, s_hi = p.soft_range
        v = min(max(self._from_unit(p, min(max(u, 0.0), 1.0)), s_lo), s_hi)
        if isinstance(p, IntParameter):
            return int(min(max(round(v), int(s_lo)), int(s_hi)))
        return _tidy_float(v, s_lo, s_hi, p.scale is not Scale.LINEAR)

    @staticmethod
    def allowed(p: CategoricalParameter) -> tuple[str, ...]:
        """The choices a proposal may use (the soft choices when set)."""
        return p.soft_choices if p.soft_choices is not None else p.choices

    def decode(self, x: FloatArray) -> Config:
        """The valid configuration nearest to feature vector `x` inside the soft box."""
        out: dict[str, ConfigValue] = {}
        for p, sl in zip(self.space.parameters, self._slices, strict=True):
            if isinstance(p, CategoricalParameter):
                allowed = self.allowed(p)
                block = x[sl]
                out[p.name] = max(allowed, key=lambda c: block[p.choices.index(c)])
            else:
                out[p.name] = self._numeric_value(p, float(x[sl.start]))
        return self.space.validate_config(out)

    def decode_many(self, xs: FloatArray) -> list[Config]:
        """Decode each row of `xs`."""
        return [self.decode(row) for row in xs]

    def from_unit_params(self, u: FloatArray) -> Config:
        """Map one [0, 1] coordinate per parameter onto the soft box (for space-filling draws).

        Integers get equal mass per value, categoricals pick among the allowed choices.
        """
        out: dict[str, ConfigValue] = {}
        for p, ui in zip(self.space.parameters, u, strict=True):
            ui = float(min(max(ui, 0.0), 1.0))
            if isinstance(p, CategoricalParameter):
                allowed = self.allowed(p)
                out[p.name] = allowed[min(int(ui * len(allowed)), len(allowed) - 1)]
                continue
            s_lo, s_hi = p.soft_range
            if isinstance(p, IntParameter) and p.scale is Scale.LINEAR:
                v = (s_lo - 0.5) + ui * (s_hi - s_lo + 1.0)
                out[p.name] = int(min(max(round(v), int(s_lo)), int(s_hi)))
                continue
            out[p.name] = self._numeric_value(p, ui)
        return self.space.validate_config(out)
