"""What people know about a task's response surface, stated so the optimizer can use it.

A skill may declare, in its optional ``structure`` block, facts that a generic Bayesian
optimizer would have to learn from scarce A/B arms (or never learns):

- **effect scales**: the typical size of a metric's relative lift when one knob moves by a
  fifth of its soft range. It sets the model's prior spread before the first A/B result;
  without it the engine takes the spread from the first round's data.
- **scale-invariant groups**: weights that only matter relative to each other (a fused score
  that orders items is unchanged when every weight doubles). The optimizer holds the group's
  reference weight at production and searches the others, so no arm is spent on a rescaling.
- **monotone effects**: a metric that rises (or falls) whenever a knob rises, all else equal.
- **deterministic metrics**: a metric that is a known function of one knob (serving cost is
  proportional to the candidate cut). A deterministic guardrail becomes a hard constraint.

These fields are set by people: agents may never change them (`rectune.skillhub.invariants`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rectune.domain.errors import SpecError
from rectune.domain.metrics import MetricSpec
from rectune.domain.parameters import CategoricalParameter, Scale, SearchSpace

__all__ = [
    "DeterministicMetric",
    "MonotoneEffect",
    "ScaleInvariantGroup",
    "TaskStructure",
]


class ScaleInvariantGroup(BaseModel):
    """Weights whose common scale does not matter; `reference` stays at its production value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parameters: list[str] = Field(min_length=2)
    reference: str

    @model_validator(mode="after")
    def _reference_in_group(self) -> ScaleInvariantGroup:
        if self.reference not in self.parameters:
            raise SpecError(
                f"scale-invariant group {self.parameters}: reference {self.reference!r} "
                "must be one of its parameters"
            )
        if len(set(self.parameters)) != len(self.parameters):
            raise SpecError(f"scale-invariant group {self.parameters}: a parameter repeats")
        return self


class MonotoneEffect(BaseModel):
    """`metric` moves in `direction` whenever `parameter` rises, all other knobs equal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parameter: str
    metric: str
    direction: Literal["increase", "decrease"]


class DeterministicMetric(BaseModel):
    """A metric whose relative lift is ``(value / production value) ** exponent - 1``.

    Example:
        >>> d = DeterministicMetric(metric="serving_cost", parameter="cut")
        >>> round(d.lift(165, 150), 3)
        0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    parameter: str
    relation: Literal["proportional"] = "proportional"
    exponent: float = Field(default=1.0, gt=0.0)

    def lift(self, value: float, production: float) -> float:
        """The exact relative lift at `value` of the knob."""
        return float((value / production) ** self.exponent - 1.0)

    def value_at(self, lift: float, production: float) -> float:
        """The knob value at which the lift equals `lift` (inverse of `lift`)."""
        return float(production * (1.0 + lift) ** (1.0 / self.exponent))


class TaskStructure(BaseModel):
    """Optional, human-set facts about a task's response surface (see the module docstring).

    Example:
        >>> s = TaskStructure(effect_scales={"dwell_time": 0.01})
        >>> s.effect_scale("dwell_time"), s.effect_scale("clicks") is None
        (0.01, True)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    effect_scales: dict[str, float] = Field(default_factory=dict)
    scale_invariant: list[ScaleInvariantGroup] = Field(default_factory=list)
    monotone: list[MonotoneEffect] = Field(default_factory=list)
    deterministic: list[DeterministicMetric] = Field(default_factory=list)

    @model_validator(mode="after")
    def _positive_scales(self) -> TaskStructure:
        for name, v in self.effect_scales.items():
            if not v > 0:
                raise SpecError(f"structure.effect_scales.{name}: {v} must be > 0")
        return self

    @property
    def is_empty(self) -> bool:
        """Whether nothing is declared."""
        return not (self.effect_scales or self.scale_invariant or self.monotone
                    or self.deterministic)

    def effect_scale(self, metric: str) -> float | None:
        """The declared effect scale of `metric`, if any."""
        return self.effect_scales.get(metric)

    def deterministic_for(self, metric: str) -> DeterministicMetric | None:
        """The deterministic relation of `metric`, if declared."""
        return next((d for d in self.deterministic if d.metric == metric), None)

    def problems(
        self,
        space: SearchSpace,
        metrics: Iterable[MetricSpec],
        baseline: Mapping[str, object] | None = None,
    ) -> list[tuple[str, str]]:
        """Every inconsistency with the task's knobs and metrics, as ``(field, problem)``."""
        names = {m.name for m in metrics}
        out: list[tuple[str, str]] = []

        def positive(field: str, p: str) -> None:
            # Ratios to production (rescaling, proportional relations) need a positive value.
            if baseline is None or p not in baseline:
                return
            ref = baseline[p]
            if not isinstance(ref, int | float) or float(ref) <= 0:
                out.append((field, f"production value of {p!r} must be > 0, is {ref!r}"))

        def knob(field: str, p: str, numeric: bool = True) -> None:
            if p not in space:
                out.append((field, f"unknown parameter {p!r}; known: {space.names}"))
            elif numeric and isinstance(space[p], CategoricalParameter):
                out.append((field, f"parameter {p!r} is categorical; a numeric knob is needed"))

        for m in self.effect_scales:
            if m not in names:
                out.append(
                    (f"structure.effect_scales.{m}", f"unknown metric; known: {sorted(names)}")
                )
        grouped: set[str] = set()
        for i, g in enumerate(self.scale_invariant):
            for p in g.parameters:
                field = f"structure.scale_invariant[{i}].parameters"
                knob(field, p)
                if p in grouped:
                    out.append((field, f"parameter {p!r} is in more than one group"))
                grouped.add(p)
                if p in space and getattr(space[p], "scale", Scale.LINEAR) is not Scale.LINEAR:
                    out.append((field, f"parameter {p!r} is log-scaled; group weights are linear"))
            positive(f"structure.scale_invariant[{i}].reference", g.reference)
        for i, mono in enumerate(self.monotone):
            knob(f"structure.monotone[{i}].parameter", mono.parameter)
            if mono.metric not in names:
                out.append((f"structure.monotone[{i}].metric", f"unknown metric {mono.metric!r}"))
        seen: set[str] = set()
        for i, d in enumerate(self.deterministic):
            knob(f"structure.deterministic[{i}].parameter", d.parameter)
            if d.metric not in names:
                out.append((f"structure.deterministic[{i}].metric", f"unknown metric {d.metric!r}"))
            if d.metric in seen:
                out.append((f"structure.deterministic[{i}].metric", f"{d.metric!r} declared twice"))
            seen.add(d.metric)
            positive(f"structure.deterministic[{i}].parameter", d.parameter)
        return out

    def check(self, where: str, space: SearchSpace, metrics: Iterable[MetricSpec],
              baseline: Mapping[str, object] | None = None) -> None:
        """Raise `SpecError` naming every problem (see `problems`)."""
        problems = self.problems(space, metrics, baseline)
        if problems:
            raise SpecError(
                f"{where}: " + "; ".join(f"field {f!r}: {msg}" for f, msg in problems)
            )
