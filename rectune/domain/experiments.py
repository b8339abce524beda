"""Experiment specifications and their per-metric results."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rectune.domain.configs import Config
from rectune.domain.errors import SpecError

__all__ = [
    "SCHEMA_VERSION",
    "ArmResult",
    "ArmSpec",
    "ConfigFile",
    "ExperimentResult",
    "ExperimentSpec",
    "ExperimentState",
    "MetricResult",
]

SCHEMA_VERSION: Final = 1
"""Version of the durable record formats; bumped on incompatible changes."""


EXPERIMENT_ID_PLACEHOLDER: Final = "{{experiment_id}}"
"""Left in a rendered config file for the platform to fill: the id exists only after launch."""


class ConfigFile(BaseModel):
    """An arm's configuration as the platform deploys it, rendered from the skill's template.

    The text may contain `EXPERIMENT_ID_PLACEHOLDER`; a platform that deploys files replaces
    it with the id it gives the experiment (see `with_experiment_id`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file_name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    content: str

    def with_experiment_id(self, experiment_id: str) -> str:
        """The file's text with the experiment id filled in."""
        return self.content.replace(EXPERIMENT_ID_PLACEHOLDER, experiment_id)


class ArmSpec(BaseModel):
    """One arm of an A/B test: a named configuration and its share of traffic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    config: Config
    traffic: float = Field(gt=0.0, le=1.0, description="fraction of all users in this arm")
    candidate_id: str | None = None
    config_file: ConfigFile | None = Field(
        default=None, description="the platform's config file for this arm, when it has one"
    )


class ExperimentSpec(BaseModel):
    """What to launch: a control and treatment arms on one task for a number of days.

    Example:
        >>> spec = ExperimentSpec(task="t", control=ArmSpec(name="control", config={}, traffic=0.1),
        ...                       treatments=[ArmSpec(name="a", config={}, traffic=0.1)], days=7)
        >>> [a.name for a in spec.arms]
        ['control', 'a']
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    task: str = Field(min_length=1)
    control: ArmSpec
    treatments: list[ArmSpec] = Field(min_length=1)
    days: int = Field(description="duration in days, at least 1")
    metrics: list[str] = Field(default_factory=list, description="metrics to report; empty = all")
    salt: str = Field(default="", description="randomization salt; empty = derived from the key")
    description: str = Field(
        default="", description="for the people running it: origin, thread, how to resume"
    )

    @model_validator(mode="after")
    def _check(self) -> ExperimentSpec:
        if self.days < 1:
            raise SpecError(f"experiment days={self.days}: must be an integer >= 1")
        names = [a.name for a in self.arms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"experiment arms: duplicate arm names {dup}; names must be unique")
        total = sum(a.traffic for a in self.arms)
        if total > 1.0 + 1e-9:
            raise SpecError(
                f"experiment traffic: fractions sum to {total:.4f}; they must sum to at most 1"
            )
        return self

    @property
    def arms(self) -> list[ArmSpec]:
        """Control first, then the treatments."""
        return [self.control, *self.treatments]


class MetricResult(BaseModel):
    """The comparison of one treatment arm against control on one metric."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    control_mean: float
    treatment_mean: float
    relative_lift: float = Field(description="(treatment - control) / control")
    ci_low: float = Field(description="lower end of the 95% CI of the relative lift")
    ci_high: float = Field(description="upper end of the 95% CI of the relative lift")
    p_value: float = Field(ge=0.0, le=1.0)
    p_adjusted: float | None = Field(default=None, ge=0.0, le=1.0, description="after Holm")
    significant: bool = False
    n_control: int = Field(default=0, ge=0)
    n_treatment: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> MetricResult:
        for name in ("relative_lift", "ci_low", "ci_high", "control_mean", "treatment_mean"):
            if not math.isfinite(getattr(self, name)):
                raise SpecError(f"metric result {self.metric!r}: {name} must be a finite number")
        if self.ci_low > self.ci_high:
            raise SpecError(
                f"metric result {self.metric!r}: ci_low={self.ci_low} > ci_high={self.ci_high}"
            )
        return self

    @property
    def standard_error(self) -> float:
        """The standard error implied by the 95% interval (normal approximation)."""
        return (self.ci_high - self.ci_low) / (2 * 1.959963984540054)


class ExperimentState(StrEnum):
    """Where an experiment on a platform is."""

    RUNNING = "running"
    COMPLETED = "completed"
    ABORTED = "aborted"


class ArmResult(BaseModel):
    """All metric comparisons of one treatment arm, plus why it stopped if it was aborted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arm: str
    candidate_id: str | None = None
    metrics: dict[str, MetricResult]
    aborted: bool = False
    abort_reason: str | None = None
    days_run: int = Field(default=0, ge=0)


class ExperimentResult(BaseModel):
    """The results of an experiment, per treatment arm, with data-quality checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    experiment_id: str
    task: str
    state: ExperimentState
    days_run: int = Field(ge=0)
    arms: list[ArmResult]
    srm_p_value: float | None = Field(default=None, description="sample-ratio-mismatch check")
    srm_detected: bool = False
    notes: list[str] = Field(default_factory=list)

    def arm(self, name: str) -> ArmResult:
        """The result of the arm called `name`."""
        for a in self.arms:
            if a.arm == name:
                return a
        raise KeyError(f"experiment {self.experiment_id}: no arm {name!r}")
