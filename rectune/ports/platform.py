"""The platform port: plan, render, launch, watch and collect an A/B test in domain models.

Deploying (launch) and measuring (status, results) stay separate calls, as on a real platform
where a test runs for days. The plan is computed once, shown to the reviewer, stored in the
round's state and launched exactly as stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rectune.domain import (
    ABPlan,
    ArmSpec,
    Candidate,
    ConfigFile,
    ExperimentResult,
    ExperimentSpec,
    MetricRole,
    PowerSummary,
    SpecError,
)
from rectune.domain.experiments import EXPERIMENT_ID_PLACEHOLDER
from rectune.durable import atomic_write_text
from rectune.skillhub.model import Skill
from rectune.skillhub.render import render_platform_config
from rectune.tools.platform import (
    ABPlatform,
    ABTestPlan,
    ExperimentStatus,
    MetricBaseline,
    SupportsBaselines,
    plan_ab_test,
)
from rectune.workspace import Workspace

__all__ = ["DAY_OPTIONS", "PlatformPort"]

DAY_OPTIONS = (1, 2, 3, 5, 7, 10, 14)
"""Durations the power analysis tries, shortest first (never past the skill's own days)."""


@dataclass(frozen=True)
class PlatformPort:
    """One run's A/B platform, with the workspace it renders into.

    Attributes:
        platform: The platform (any `ABPlatform`).
        workspace: Where rendered config files and cached noise estimates go.
        label: How the run named the platform (``sim``, ``files:DIR``), for messages.
        noise_key: Distinguishes cached noise estimates (e.g. the simulator's seed).
    """

    platform: ABPlatform
    workspace: Workspace
    label: str
    noise_key: str = ""

    # ------------------------------------------------------------------ planning

    def plan(
        self,
        skill: Skill,
        arms: int,
        *,
        days: int | None = None,
        traffic: float | None = None,
        chosen_by: str | None = None,
    ) -> ABPlan:
        """The A/B plan for `arms` treatment arms.

        Traffic comes from `traffic` or the skill. The duration comes from `days` when given;
        otherwise, when the platform can estimate its noise, the power analysis
        (`rectune.tools.platform.plan_ab_test`: the users actually tested, the flag's Holm
        family over arms x primaries) picks the shortest duration, up to the skill's days,
        that detects the skill's minimum detectable effect; the skill's days when none does
        (the plan then says it is underpowered and what would be needed).

        Raises:
            SpecError: when the arms and the control do not fit in the traffic.
        """
        d = skill.ab_defaults
        traffic = traffic if traffic is not None else d.traffic_per_arm
        if (arms + 1) * traffic > 1.0 + 1e-9:
            raise SpecError(
                f"traffic_per_arm={traffic} with {arms} arms and a control needs "
                f"{(arms + 1) * traffic:.0%} of traffic; allowed: at most 100% (lower the "
                "traffic per arm or the number of arms)"
            )
        base = ABPlan(
            arms=arms,
            traffic_per_arm=traffic,
            days=days or d.days,
            duration_from="context" if days else "skill default",
            min_detectable_effect=d.min_detectable_effect,
            alpha=d.alpha,
            power=d.power,
        )
        if chosen_by == "reviewer":
            base = base.model_copy(update={"duration_from": "reviewer"})
        if not isinstance(self.platform, SupportsBaselines):
            note = "the platform gives no noise estimate, so no power analysis was run"
            return base.model_copy(update={"note": note})
        allowed = sorted({o for o in DAY_OPTIONS if o <= d.days} | {d.days})
        if days is None:
            planned = self._analysis(skill, base, allowed)
            base = base.model_copy(
                update={
                    "days": planned.days,
                    "duration_from": "power analysis" if planned.powered else "skill default",
                }
            )
        else:
            planned = self._analysis(skill, base, [days])
        longer = [o for o in allowed if o > base.days]
        needed = None
        if not planned.powered and longer:
            more = self._analysis(skill, base, longer)
            needed = more.days if more.powered else None
        summary = _summary(planned, base, needed)
        note = (
            f"{base.days} days reach the target power at the MDE"
            if summary.powered
            else f"underpowered: this plan detects {summary.detectable_effect:.2%}, not the "
            f"MDE {base.min_detectable_effect:.2%}"
        )
        return base.model_copy(update={"power_analysis": summary, "note": note})

    def _analysis(self, skill: Skill, plan: ABPlan, day_options: Sequence[int]) -> ABTestPlan:
        return plan_ab_test(
            _CachedNoise(self),
            skill.name,
            skill.metrics,
            arms=plan.arms,
            traffic_per_arm=plan.traffic_per_arm,
            mde=plan.min_detectable_effect,
            alpha=plan.alpha,
            power=plan.power,
            day_options=day_options,
        )

    def _noise(self, task: str, days: int) -> dict[str, MetricBaseline]:
        """The platform's noise estimates, cached in the workspace (a pilot simulation costs
        seconds and does not change for a given platform)."""
        assert isinstance(self.platform, SupportsBaselines)
        path = self.workspace.noise_cache(f"{task}-{days}d-{self.noise_key}")
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return {k: MetricBaseline.model_validate(v) for k, v in data.items()}
        found = self.platform.baselines(task, days)
        atomic_write_text(
            path, json.dumps({k: v.model_dump(mode="json") for k, v in found.items()})
        )
        return found

    # ------------------------------------------------------------------ launching

    def spec(
        self, skill: Skill, approved: Sequence[Candidate], plan: ABPlan, *, description: str
    ) -> ExperimentSpec:
        """The experiment of a stored plan: production as control, one arm per candidate,
        each with its platform config file rendered from the skill's template.

        Raises:
            SpecError: when the plan was made for another number of arms.
        """
        if plan.arms != len(approved):
            raise SpecError(
                f"the approved plan has {plan.arms} arms but {len(approved)} candidates were "
                "approved; plan again"
            )
        traffic = plan.traffic_per_arm
        control = ArmSpec(
            name="control",
            config=dict(skill.baseline),
            traffic=traffic,
            config_file=_render(skill, "control", skill.baseline),
        )
        treatments = [
            ArmSpec(
                name=f"arm{i + 1}",
                config=c.config,
                traffic=traffic,
                candidate_id=c.id,
                config_file=_render(skill, f"arm{i + 1}", c.config),
            )
            for i, c in enumerate(approved)
        ]
        return ExperimentSpec(
            task=skill.name,
            control=control,
            treatments=treatments,
            days=plan.days,
            metrics=[m.name for m in skill.metrics],
            metric_specs=list(skill.metrics),
            description=description,
        )

    def launch(self, spec: ExperimentSpec, idempotency_key: str) -> str:
        """Start the experiment (the same key never starts a second one)."""
        return str(self.platform.launch(spec, idempotency_key))

    def status(self, experiment_id: str) -> ExperimentStatus:
        """Where the experiment is (one call to the platform)."""
        return self.platform.status(experiment_id)

    def results(self, experiment_id: str) -> ExperimentResult:
        """The experiment's results."""
        return self.platform.results(experiment_id)

    def abort(self, experiment_id: str, reason: str) -> ExperimentStatus:
        """Stop the experiment."""
        return self.platform.abort(experiment_id, reason)

    def write_rendered(
        self, spec: ExperimentSpec, experiment_id: str, round_no: int
    ) -> dict[str, str]:
        """Write each arm's config file, id filled in, under ``rendered/<task>/round-<n>/``.

        Returns:
            Arm name -> the file's path relative to the workspace.
        """
        folder = self.workspace.rendered_round(spec.task, round_no)
        out: dict[str, str] = {}
        for arm in spec.arms:
            if arm.config_file is None:
                continue
            path = folder / arm.config_file.file_name
            atomic_write_text(path, arm.config_file.with_experiment_id(experiment_id))
            out[arm.name] = self.workspace.relative(path)
        return out


def _render(skill: Skill, arm: str, config: Mapping[str, object]) -> ConfigFile:
    r = render_platform_config(skill, config, arm=arm, experiment_id=EXPERIMENT_ID_PLACEHOLDER)
    return ConfigFile(file_name=r.file_name, content=r.content)


class _CachedNoise:
    """The port's cached noise estimates, offered to the planner as a platform."""

    def __init__(self, port: PlatformPort) -> None:
        self.port = port

    def baselines(self, task: str, days: int) -> dict[str, MetricBaseline]:
        return self.port._noise(task, days)


def _summary(planned: ABTestPlan, plan: ABPlan, days_needed: int | None) -> PowerSummary:
    primary = next(m for m in planned.metrics if m.role is MetricRole.PRIMARY)
    population = round(planned.users_per_arm / planned.traffic_per_arm)
    return PowerSummary(
        metric=primary.metric,
        users_per_arm=planned.users_per_arm,
        users_needed_per_arm=primary.users_needed_per_arm,
        planned_power=round(planned.planned_power, 4),
        detectable_effect=round(planned.detectable_effect, 5),
        powered=planned.powered,
        days_needed=plan.days if planned.powered else days_needed,
        traffic_needed=round(primary.users_needed_per_arm / population, 4),
        comparisons=planned.tests,
        guardrail_pass={
            m.metric: round(m.power, 4) for m in planned.metrics if m.role is MetricRole.GUARDRAIL
        },
    )
