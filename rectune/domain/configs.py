"""Configurations and deltas.

A candidate states only the fields it changes (a *delta*). Merging a delta onto a base
configuration validates every field, so an agent can neither drop a field nor invent one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from rectune.domain.errors import ConfigError
from rectune.domain.parameters import ConfigValue, SearchSpace

__all__ = ["Config", "apply_delta", "config_diff", "config_key"]

Config = dict[str, ConfigValue]
"""A full configuration: one value per parameter of a search space."""


def apply_delta(
    space: SearchSpace, base: Mapping[str, object], delta: Mapping[str, object]
) -> Config:
    """Merge `delta` onto `base` and validate the result against `space`.

    Args:
        space: The task's search space.
        base: A full configuration (usually production or an elite).
        delta: Only the fields to change.

    Returns:
        A new, validated full configuration.

    Raises:
        ConfigError: when the delta names an unknown field, has a wrong type or a value outside
            the hard bounds, or when the base itself is invalid. Values are never clamped.

    Example:
        >>> from rectune.domain.parameters import FloatParameter
        >>> space = SearchSpace(parameters=[FloatParameter(name="a", low=0, high=1),
        ...                                 FloatParameter(name="b", low=0, high=1)])
        >>> apply_delta(space, {"a": 0.1, "b": 0.2}, {"b": 0.9})
        {'a': 0.1, 'b': 0.9}
    """
    for key in delta:
        if key not in space:
            raise ConfigError(key, delta[key], f"a known parameter: one of {space.names}")
    merged = {**dict(base), **dict(delta)}
    return space.validate_config(merged)


def config_diff(base: Mapping[str, ConfigValue], config: Mapping[str, ConfigValue]) -> Config:
    """The minimal delta that turns `base` into `config`."""
    return {k: v for k, v in config.items() if base.get(k) != v}


def config_key(config: Mapping[str, ConfigValue], digits: int = 6) -> str:
    """A stable short hash of a configuration, for duplicate detection.

    Floats are rounded to `digits` significant digits so that 0.30000000004 and 0.3 collide.
    """
    canon = {
        k: (float(f"{v:.{digits}g}") if isinstance(v, float) else v)
        for k, v in sorted(config.items())
    }
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:16]
