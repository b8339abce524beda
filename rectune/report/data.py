"""What a report shows, gathered from the journal and the skillhub (no rendering here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rectune.domain import Candidate, LaunchAdvice, MetricRole, MetricSpec
from rectune.memory.elites import EliteSelection, select_elites
from rectune.memory.insight_stats import Finding, analyze_task
from rectune.memory.journal import Journal, RoundRecord
from rectune.skillhub.hub import SkillHub
from rectune.skillhub.model import Skill
from rectune.skillhub.versions import VersionEntry

__all__ = ["ReportData", "collect"]


@dataclass
class ReportData:
    """Everything one task's report is drawn from.

    Attributes:
        task: The task name.
        skill: The skill as it is now.
        candidates: Every journal candidate, in the order they were added.
        tested: Candidates that carry an A/B result.
        rounds: The journal's round records.
        elites: The elite selection over the tested candidates.
        findings: Statistical findings of the insight detectors (may be empty on little data).
        versions: The skill's version log, oldest first.
        advice: The engine's launch advice over the whole journal (None before any result).
    """

    task: str
    skill: Skill
    candidates: list[Candidate]
    tested: list[Candidate]
    rounds: list[RoundRecord]
    elites: EliteSelection
    findings: list[Finding] = field(default_factory=list)
    versions: list[VersionEntry] = field(default_factory=list)
    advice: LaunchAdvice | None = None

    @property
    def primary(self) -> MetricSpec:
        """The top-priority primary metric."""
        return self.skill.primary_metrics[0]

    @property
    def secondary(self) -> MetricSpec | None:
        """The metric drawn against the primary on the Pareto plot."""
        others = [m for m in self.skill.metrics if m.role is MetricRole.SECONDARY]
        if not others:
            others = [m for m in self.skill.metrics if m.name != self.primary.name]
        return min(others, key=lambda m: m.priority) if others else None

    @property
    def guardrails(self) -> list[MetricSpec]:
        """Guardrail metrics of the skill."""
        return [m for m in self.skill.metrics if m.role is MetricRole.GUARDRAIL]


def collect(workspace: str | Path, task: str) -> ReportData:
    """Read the journal and the skill of `task` from `workspace`.

    Raises:
        SkillNotFoundError: when the workspace has no skill called `task`.
        JournalCorruptError: when the task's journal does not load.
    """
    hub = SkillHub.in_workspace(workspace, install=False)
    skill = hub.get(task)
    journal = Journal.in_workspace(workspace)
    candidates = journal.candidates(task)
    tested = [c for c in candidates if c.result is not None]
    elites = select_elites(tested, skill.metrics, max_size=None)
    # The detectors need enough arms to say anything; on a thin journal they return nothing,
    # and a statistics failure must not cost the person the rest of the report.
    try:
        findings = analyze_task(task, tested, skill.space, skill.baseline, skill.metrics)
    except (ValueError, ArithmeticError):
        findings = []
    advice = None
    if tested:
        from rectune.ports.engine import EnginePort, engine_for, observations_of

        history, _ = observations_of(candidates)
        if history:
            advice = EnginePort.for_skill(engine_for(0.5, 0.5), skill).advise(history, candidates)
    return ReportData(
        task=task,
        skill=skill,
        candidates=candidates,
        tested=tested,
        rounds=journal.rounds(task),
        elites=elites,
        findings=findings,
        versions=hub.versions(task),
        advice=advice,
    )
