"""Parameter specifications and the search space they form.

Hard bounds are set by people and never move. Soft bounds are an optional, tighter box that
agents may narrow as they learn; they always stay inside the hard bounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rectune.domain.errors import ConfigError, SpecError

__all__ = [
    "CategoricalParameter",
    "ConfigValue",
    "FloatParameter",
    "IntParameter",
    "ParameterSpec",
    "Scale",
    "SearchSpace",
]

ConfigValue = float | int | str
"""A single configuration value."""


class Scale(StrEnum):
    """How a numeric parameter is best explored.

    ``linear`` steps are equal amounts; ``log`` steps are equal factors (needs ``low > 0``);
    ``log1p`` steps are equal factors of ``c + value - low`` with ``c`` a twentieth of the
    hard range: relative steps for a weight that may be zero, where a move from 0.5 to 0.13
    is the large change it is to the ranking rather than a tenth of the box.
    """

    LINEAR = "linear"
    LOG = "log"
    LOG1P = "log1p"


class _ParameterBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    description: str = ""


class _NumericParameter(_ParameterBase):
    low: float
    high: float
    soft_low: float | None = None
    soft_high: float | None = None
    scale: Scale = Scale.LINEAR

    @model_validator(mode="after")
    def _check_bounds(self) -> _NumericParameter:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise SpecError(f"parameter {self.name!r}: hard bounds must be finite numbers")
        if self.low >= self.high:
            raise SpecError(
                f"parameter {self.name!r}: hard bounds low={self.low} must be < high={self.high}"
            )
        if self.scale is Scale.LOG and self.low <= 0:
            raise SpecError(f"parameter {self.name!r}: log scale needs low > 0, got low={self.low}")
        soft_low, soft_high = self.soft_range
        for label, v in (("soft_low", soft_low), ("soft_high", soft_high)):
            if not self.low <= v <= self.high:
                raise SpecError(
                    f"parameter {self.name!r}: {label}={v} lies outside the hard bounds "
                    f"[{self.low}, {self.high}]"
                )
        if soft_low > soft_high:
            raise SpecError(
                f"parameter {self.name!r}: soft_low={soft_low} must be <= soft_high={soft_high}"
            )
        return self

    @property
    def soft_range(self) -> tuple[float, float]:
        """The soft box, defaulting to the hard bounds where no soft bound is set."""
        lo = self.low if self.soft_low is None else self.soft_low
        hi = self.high if self.soft_high is None else self.soft_high
        return lo, hi

    def in_soft_bounds(self, value: ConfigValue) -> bool:
        """Whether a (valid) value lies inside the soft box."""
        lo, hi = self.soft_range
        return lo <= float(value) <= hi

    def describe_bounds(self) -> str:
        """Hard bounds as text, for error messages and prompts."""
        return f"[{self.low:g}, {self.high:g}]"


class FloatParameter(_NumericParameter):
    """A real-valued knob, e.g. a fusion weight.

    Example:
        >>> p = FloatParameter(name="w_click", low=0.0, high=2.0)
        >>> p.validate_value(1.5)
        1.5
    """

    kind: Literal["float"] = "float"

    def validate_value(self, value: object) -> float:
        """Return the value as a float, or raise `ConfigError` naming the field and bounds."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self.name, value, f"a number in {self.describe_bounds()}")
        v = float(value)
        if not math.isfinite(v) or not self.low <= v <= self.high:
            raise ConfigError(self.name, value, f"a number in {self.describe_bounds()}")
        return v


class IntParameter(_NumericParameter):
    """An integer knob, e.g. a per-topic cap or a candidate cut.

    Example:
        >>> p = IntParameter(name="topic_cap", low=1, high=10)
        >>> p.validate_value(3)
        3
    """

    kind: Literal["int"] = "int"

    @model_validator(mode="after")
    def _check_integral(self) -> IntParameter:
        for label, v in (
            ("low", self.low),
            ("high", self.high),
            ("soft_low", self.soft_low),
            ("soft_high", self.soft_high),
        ):
            if v is not None and float(v) != int(v):
                raise SpecError(f"parameter {self.name!r}: {label}={v} must be an integer")
        return self

    def validate_value(self, value: object) -> int:
        """Return the value as an int; floats are accepted only when integral (3.0 -> 3)."""
        allowed = f"an integer in [{int(self.low)}, {int(self.high)}]"
        if isinstance(value, bool):
            raise ConfigError(self.name, value, allowed)
        if isinstance(value, float):
            if not value.is_integer():
                raise ConfigError(self.name, value, allowed)
            value = int(value)
        if not isinstance(value, int) or not self.low <= value <= self.high:
            raise ConfigError(self.name, value, allowed)
        return value

    def describe_bounds(self) -> str:
        return f"[{int(self.low)}, {int(self.high)}]"


class CategoricalParameter(_ParameterBase):
    """A knob taking one of a fixed set of string values.

    Soft bounds of a categorical are an allowed subset of the choices.
    """

    kind: Literal["categorical"] = "categorical"
    choices: tuple[str, ...] = Field(min_length=1)
    soft_choices: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _check_choices(self) -> CategoricalParameter:
        if len(set(self.choices)) != len(self.choices):
            raise SpecError(f"parameter {self.name!r}: choices must be distinct")
        if self.soft_choices is not None:
            extra = set(self.soft_choices) - set(self.choices)
            if extra or not self.soft_choices:
                raise SpecError(
                    f"parameter {self.name!r}: soft_choices {sorted(extra)} must be a non-empty "
                    f"subset of the choices {list(self.choices)}"
                )
        return self

    def validate_value(self, value: object) -> str:
        """Return the value if it is one of the choices, else raise `ConfigError`."""
        if not isinstance(value, str) or value not in self.choices:
            raise ConfigError(self.name, value, f"one of {list(self.choices)}")
        return value

    def in_soft_bounds(self, value: ConfigValue) -> bool:
        """Whether a (valid) value is in the soft subset."""
        return self.soft_choices is None or value in self.soft_choices

    def describe_bounds(self) -> str:
        return "{" + ", ".join(self.choices) + "}"


ParameterSpec = Annotated[
    FloatParameter | IntParameter | CategoricalParameter, Field(discriminator="kind")
]
"""Any parameter specification; the `kind` field selects the type."""


class SearchSpace(BaseModel):
    """An ordered set of parameter specifications with unique names.

    Example:
        >>> space = SearchSpace(parameters=[FloatParameter(name="a", low=0, high=1)])
        >>> space.validate_config({"a": 0.5})
        {'a': 0.5}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    parameters: tuple[ParameterSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> SearchSpace:
        names = [p.name for p in self.parameters]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"search space: duplicate parameter names {dup}")
        return self

    @property
    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return [p.name for p in self.parameters]

    def __getitem__(self, name: str) -> FloatParameter | IntParameter | CategoricalParameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise ConfigError(name, None, f"a known parameter: one of {self.names}")

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.parameters)

    def __iter__(self) -> Iterator[FloatParameter | IntParameter | CategoricalParameter]:  # type: ignore[override]
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def validate_config(self, config: Mapping[str, object]) -> dict[str, ConfigValue]:
        """Validate a *full* configuration: every parameter present, nothing unknown.

        Raises:
            ConfigError: naming the first unknown, missing or invalid field.
        """
        unknown = [k for k in config if k not in self]
        if unknown:
            raise ConfigError(
                unknown[0], config[unknown[0]], f"a known parameter: one of {self.names}"
            )
        out: dict[str, ConfigValue] = {}
        for p in self.parameters:
            if p.name not in config:
                raise ConfigError(
                    p.name, None, f"a value in {p.describe_bounds()} (field is missing)"
                )
            out[p.name] = p.validate_value(config[p.name])
        return out

    def soft_violations(self, config: Mapping[str, ConfigValue]) -> list[str]:
        """Names of the parameters whose value lies outside their soft bounds."""
        return [p.name for p in self.parameters if not p.in_soft_bounds(config[p.name])]
