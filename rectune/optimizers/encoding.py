"""Mapping between configurations and points of the unit cube.

The surrogate works on *features*: one coordinate per numeric parameter, scaled to [0, 1]
over its hard bounds (log-scaled when the parameter says so), and a one-hot block per
categorical parameter. Hard bounds are used for the scaling because they never move; the soft
box, which agents may narrow, is only a sub-box of the cube where new points are drawn.

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
)

__all__ = ["FloatArray", "SpaceEncoder"]

FloatArray = NDArray[np.float64]


def _forward(p: FloatParameter | IntParameter, v: float) -> float:
    return math.log(v) if p.scale is Scale.LOG else v


def _backward(p: FloatParameter | IntParameter, t: float) -> float:
    return math.exp(t) if p.scale is Scale.LOG else t


def _tidy_float(v: float, lo: float, hi: float, log: bool) -> float:
    """Round to about a thousandth of the range (4 significant digits on log scale)."""
    if v == 0.0:
        return 0.0
    if log:
        digits = 3 - math.floor(math.log10(abs(v)))
    else:
        digits = 3 - math.floor(math.log10(max(hi - lo, 1e-12)))
    return float(min(max(round(v, digits), lo), hi))


class SpaceEncoder:
    """Encode configurations as unit-cube features and decode features into valid configs.

    Example:
        >>> from rectune.domain import CategoricalParameter, FloatParameter, SearchSpace
        >>> space = SearchSpace(parameters=[
        ...     FloatParameter(name="w", low=0, high=4, soft_high=2),
        ...     CategoricalParameter(name="mode", choices=("a", "b")),
        ... ])
        >>> enc = SpaceEncoder(space)
        >>> enc.encode({"w": 1.0, "mode": "b"}).tolist()
        [0.25, 0.0, 1.0]
        >>> enc.decode(np.array([0.9, 0.7, 0.2]))  # clipped into the soft box
        {'w': 2.0, 'mode': 'a'}
    """

    def __init__(self, space: SearchSpace) -> None:
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
        lo = np.zeros(self.dim)
        hi = np.ones(self.dim)
        for p, sl in zip(space.parameters, self._slices, strict=True):
            if not isinstance(p, CategoricalParameter):
                s_lo, s_hi = p.soft_range
                lo[sl] = self._unit(p, s_lo)
                hi[sl] = self._unit(p, s_hi)
        self.soft_lo: FloatArray = lo
        self.soft_hi: FloatArray = hi

    @property
    def n_params(self) -> int:
        """Number of parameters (one Sobol coordinate each)."""
        return len(self.space)

    def param_slice(self, name: str) -> slice:
        """The feature columns of parameter `name`."""
        return self._slices[self.space.names.index(name)]

    @staticmethod
    def _unit(p: FloatParameter | IntParameter, v: float) -> float:
        a, b = _forward(p, p.low), _forward(p, p.high)
        return (_forward(p, float(v)) - a) / (b - a)

    @staticmethod
    def _from_unit(p: FloatParameter | IntParameter, u: float) -> float:
        a, b = _forward(p, p.low), _forward(p, p.high)
        return _backward(p, a + float(u) * (b - a))

    def encode(self, config: Mapping[str, ConfigValue]) -> FloatArray:
        """Features of one configuration (it need not lie in the soft box)."""
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

    def _numeric_value(self, p: FloatParameter | IntParameter, u: float) -> ConfigValue:
        s_lo, s_hi = p.soft_range
        v = min(max(self._from_unit(p, min(max(u, 0.0), 1.0)), s_lo), s_hi)
        if isinstance(p, IntParameter):
            return int(min(max(round(v), int(s_lo)), int(s_hi)))
        return _tidy_float(v, s_lo, s_hi, p.scale is Scale.LOG)

    @staticmethod
    def _allowed(p: CategoricalParameter) -> tuple[str, ...]:
        return p.soft_choices if p.soft_choices is not None else p.choices

    def decode(self, x: FloatArray) -> Config:
        """The valid configuration nearest to feature vector `x` inside the soft box."""
        out: dict[str, ConfigValue] = {}
        for p, sl in zip(self.space.parameters, self._slices, strict=True):
            if isinstance(p, CategoricalParameter):
                allowed = self._allowed(p)
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
                allowed = self._allowed(p)
                out[p.name] = allowed[min(int(ui * len(allowed)), len(allowed) - 1)]
                continue
            s_lo, s_hi = p.soft_range
            if isinstance(p, IntParameter) and p.scale is Scale.LINEAR:
                v = (s_lo - 0.5) + ui * (s_hi - s_lo + 1.0)
                out[p.name] = int(min(max(round(v), int(s_lo)), int(s_hi)))
                continue
            a, b = self._unit(p, s_lo), self._unit(p, s_hi)
            out[p.name] = self._numeric_value(p, a + ui * (b - a))
        return self.space.validate_config(out)
