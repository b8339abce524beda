"""Experiment specifications and their per-metric results."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from rectune.domain.configs import Config
from rectune.domain.errors import SpecError
from rectune.domain.metrics import MetricRole, MetricSpec
from rectune.domain.verdicts import GuardrailOutcome, GuardrailVerdict, arm_guardrail_outcome

__all__ = [
    "SCHEMA_VERSION",
    "ArmResult",
    "ArmSpec",
    "ConfigFile",
    "ExperimentResult",
    "ExperimentSpec",
    "ExperimentState",
    "GuardrailOutcome",
    "GuardrailVerdict",
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

    `metric_specs` carries the metrics the experiment is judged by - roles, directions and
    guardrail thresholds, normally the skill's - and a platform must judge by them. When it is
    given, `metrics` is filled from it (or must name the same metrics). A spec with names only
    is the older form: the simulated platform then falls back to its built-in table for the
    task (documented in docs/platforms.md) and only reports for unknown tasks.

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
    metric_specs: list[MetricSpec] = Field(
        default_factory=list,
        description="roles, directions and guardrail thresholds to judge by; empty = names only",
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_metric_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("metric_specs") and not data.get("metrics"):
            names = []
            for m in data["metric_specs"]:
                names.append(m.name if isinstance(m, MetricSpec) else dict(m).get("name"))
            data = {**data, "metrics": names}
        return data

    @model_serializer(mode="wrap")
    def _drop_empty_specs(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A names-only spec serialises exactly as before the field existed, so stored records
        # and their fingerprints stay valid.
        out: dict[str, Any] = handler(self)
        if not self.metric_specs:
            out.pop("metric_specs", None)
        return out

    @model_validator(mode="after")
    def _check(self) -> ExperimentSpec:
        if self.metric_specs:
            spec_names = [m.name for m in self.metric_specs]
            dup_m = sorted({n for n in spec_names if spec_names.count(n) > 1})
            if dup_m:
                raise SpecError(f"experiment metric_specs: duplicate metrics {dup_m}")
            if sorted(self.metrics) != sorted(spec_names):
                raise SpecError(
                    f"experiment metrics {self.metrics} must name the same metrics as "
                    f"metric_specs {spec_names} (or be left empty)"
                )
            if not any(m.role is MetricRole.PRIMARY for m in self.metric_specs):
                raise SpecError(
                    f"experiment metric_specs {spec_names}: at least one needs role 'primary'"
                )
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
    role: MetricRole | None = Field(
        default=None, description="the role the spec gave; Holm runs within each role"
    )

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
    """All metric comparisons of one treatment arm, plus why it stopped if it was aborted.

    An arm stopped by the guardrail monitor has `stopped_early=True`: its numbers cover only
    `days_run` of `days_planned` days and are biased away from zero (it stopped *because* it
    looked bad), so a learner or a benchmark must not read them as a full-horizon measurement
    (`full_horizon` is False).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    arm: str
    candidate_id: str | None = None
    metrics: dict[str, MetricResult]
    aborted: bool = False
    abort_reason: str | None = None
    days_run: int = Field(default=0, ge=0)
    days_planned: int | None = Field(default=None, ge=1)
    stopped_early: bool = False
    guardrails: list[GuardrailVerdict] = Field(default_factory=list)

    @property
    def full_horizon(self) -> bool:
        """Whether the numbers cover every planned day (not stopped early, not interim)."""
        return not self.stopped_early and (
            self.days_planned is None or self.days_run >= self.days_planned
        )

    @property
    def guardrail_outcome(self) -> GuardrailOutcome:
        """The arm's single guardrail outcome: its worst verdict (passed when it has none)."""
        return arm_guardrail_outcome(self.guardrails)

    def guardrail(self, metric: str) -> GuardrailVerdict:
        """The verdict on guardrail `metric`."""
        for v in self.guardrails:
            if v.metric == metric:
                return v
        raise KeyError(f"arm {self.arm!r}: no guardrail verdict for {metric!r}")


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
    srm_daily_p_values: list[float] = Field(
        default_factory=list, description="per-day SRM p-values of the users entering each arm"
    )
    notes: list[str] = Field(default_factory=list)

    def arm(self, name: str) -> ArmResult:
        """The result of the arm called `name`."""
        for a in self.arms:
            if a.arm == name:
                return a
        raise KeyError(f"experiment {self.experiment_id}: no arm {name!r}")
