"""The knobs of the recommender stack: their hard bounds, production values and `StackConfig`.

The simulator knows knobs, not tasks. Any experiment may set any of these knobs within their
bounds (missing knobs keep production), so a skill with a new name on existing knobs runs;
`tasks.py` only groups them into the three shipped tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from rectune.domain import ConfigError, FloatParameter, IntParameter, SearchSpace

__all__ = ["KNOBS", "PRODUCTION", "StackConfig", "stack_config"]


def _f(name: str, low: float, high: float, description: str) -> FloatParameter:
    return FloatParameter(name=name, low=low, high=high, description=description)


def _i(name: str, low: int, high: int, description: str) -> IntParameter:
    return IntParameter(name=name, low=low, high=high, description=description)


KNOBS = SearchSpace(
    parameters=(
        _f("vbr_w_click", 0, 4, "weight of the cheap click head in the pre-ranking value"),
        _f("vbr_w_dwell", 0, 4, "weight of expected dwell (click x dwell prior)"),
        _f("vbr_w_quality", 0, 4, "weight of the noisy quality estimate"),
        _f("vbr_freshness_boost", 0, 2, "additive boost for fresh items (exploration)"),
        _i("vbr_candidate_cut", 50, 400, "candidates passed to the ranking model"),
        _f("vf_w_click", 0, 4, "weight of predicted click probability"),
        _f("vf_w_dwell", 0, 4, "weight of predicted dwell (click x dwell)"),
        _f("vf_w_like", 0, 4, "weight of predicted like"),
        _f("vf_w_share", 0, 4, "weight of predicted share"),
        _f("vf_w_negative", 0, 8, "penalty weight of predicted negative feedback"),
        _f("div_mmr_lambda", 0, 1, "MMR trade-off: 0 = pure relevance, 1 = pure novelty"),
        _i("div_topic_cap", 1, 10, "most items of one topic on a page"),
        _i("div_creator_cap", 1, 10, "most items of one creator on a page"),
        _f("div_fatigue_penalty", 0, 2, "score penalty per exposure above the threshold"),
        _i("div_fatigue_threshold", 1, 20, "recent exposures to a topic before penalising"),
    )
)
"""Every knob of the stack with the simulator's hard bounds."""

PRODUCTION: dict[str, float | int] = {
    "vbr_w_click": 1.0,
    "vbr_w_dwell": 0.5,
    "vbr_w_quality": 0.2,
    "vbr_freshness_boost": 0.3,
    "vbr_candidate_cut": 100,
    "vf_w_click": 1.0,
    "vf_w_dwell": 0.6,
    "vf_w_like": 0.3,
    "vf_w_share": 0.2,
    "vf_w_negative": 0.5,
    "div_mmr_lambda": 0.1,
    "div_topic_cap": 6,
    "div_creator_cap": 4,
    "div_fatigue_penalty": 0.1,
    "div_fatigue_threshold": 8,
}
"""The production value of every knob."""


@dataclass(frozen=True)
class StackConfig:
    """Every knob of the recommender stack. Names match docs/contracts.md.

    A/B arms carry only the knobs they change; `stack_config` fills the rest with production.
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


def stack_config(config: Mapping[str, object]) -> StackConfig:
    """Validate some knobs against their hard bounds and fill the rest with production.

    Raises:
        ConfigError: an unknown knob (naming the allowed ones) or a value out of bounds.

    Example:
        >>> stack_config({"div_topic_cap": 3}).div_topic_cap
        3
    """
    unknown = [k for k in config if k not in KNOBS]
    if unknown:
        raise ConfigError(unknown[0], config[unknown[0]], f"a simulator knob: one of {KNOBS.names}")
    valid = KNOBS.validate_config({**PRODUCTION, **dict(config)})
    out: dict[str, float | int] = {}
    for k, v in valid.items():
        if isinstance(v, str):  # pragma: no cover - no categorical knobs
            raise ConfigError(k, v, "a number")
        out[k] = v
    return StackConfig.from_mapping(out)
