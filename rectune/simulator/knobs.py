"""The full configuration of the three stages, as the simulator consumes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["StackConfig"]


@dataclass(frozen=True)
class StackConfig:
    """Every knob of the recommender stack. Names match docs/contracts.md.

    A/B arms carry only one task's knobs; `rectune.simulator.tasks.full_config` fills the
    other stages with their production values before a `StackConfig` is built.
    """

    vbr_w_click: float
    vbr_w_dwell: float
    vbr_w_quality: float
    vbr_freshness_boost: float
    vbr_candidate_cut: int
    vf_w_click: float
    vf_w_dwell: float
    vf_w_like: float
    vf_w_share: float
    vf_w_negative: float
    div_mmr_lambda: float
    div_topic_cap: int
    div_creator_cap: int
    div_fatigue_penalty: float
    div_fatigue_threshold: int

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> StackConfig:
        """Build from a full mapping of knob name to value; extra keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        missing = sorted(names - set(values))
        if unknown or missing:
            raise KeyError(f"stack config: unknown knobs {unknown}, missing knobs {missing}")
        kwargs: dict[str, float | int] = {}
        for f in fields(cls):
            v = values[f.name]
            if not isinstance(v, int | float):
                raise TypeError(f"stack config: {f.name}={v!r} is not a number")
            kwargs[f.name] = int(v) if f.type in ("int", int) else float(v)
        return cls(**kwargs)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, float | int]:
        """The knobs as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
