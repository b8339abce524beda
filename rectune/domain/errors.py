"""Errors raised by the domain model.

Every error says *what* was wrong (the field, the value) and *what is allowed*, so that a
person or an agent can fix the input without reading code.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "LifecycleError",
    "RecTuneError",
    "SpecError",
]


class RecTuneError(Exception):
    """Base class of every error rectune raises on purpose (user or input errors)."""


class SpecError(RecTuneError, ValueError):
    """A specification (parameter, metric, experiment, skill) is inconsistent."""


class ConfigError(RecTuneError, ValueError):
    """A configuration or delta names an unknown field, has a wrong type or is out of bounds.

    Attributes:
        field: The offending field name.
        value: The offending value.
        allowed: A human-readable description of what is allowed.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"field {field!r}: value {value!r} is not allowed; allowed: {allowed}")


class LifecycleError(RecTuneError):
    """A candidate was asked to make a lifecycle transition that is not legal."""
