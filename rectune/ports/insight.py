"""The insight port: statistics over the journal, and the learning they allow in a skill."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rectune.domain import LearnedRule
from rectune.memory.insight_stats import (
    Finding,
    FindingKind,
    aggregate_findings,
    analyze_task,
    rule_changes,
)
from rectune.memory.journal_store import JournalStore
from rectune.skillhub.errors import SkillError
from rectune.skillhub.hub import SkillHub

__all__ = ["InsightPort", "Learning"]


@dataclass(frozen=True)
class Learning:
    """What the evidence gate lets a skill learn in one round.

    Attributes:
        add: New rules, each with the experiments that support it.
        retire: Rule id -> why a significant finding now contradicts it.
        update: Rules already held that this round re-derived with new supporting
            experiments, their evidence refreshed (same ids, same statements).
        version: The skill version written for the change (None when nothing changed).
        refused: Why the skillhub refused the change, when it did (nothing was written).
    """

    add: list[LearnedRule] = field(default_factory=list)
    retire: dict[str, str] = field(default_factory=dict)
    update: list[LearnedRule] = field(default_factory=list)
    version: int | None = None
    refused: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the skill got a new version."""
        return self.version is not None


@dataclass(frozen=True)
class InsightPort:
    """Findings per task, the cross-task reduce, and the gated skill update."""

    journal: JournalStore
    skills: SkillHub

    def findings(self, task: str) -> list[Finding]:
        """Deterministic findings of one task's journal."""
        skill = self.skills.get(task)
        return analyze_task(
            task, self.journal.candidates(task), skill.space, skill.baseline, skill.metrics
        )

    def cross_task(self, findings: Sequence[Finding]) -> list[Finding]:
        """Patterns shared across tasks."""
        return aggregate_findings(findings)

    def summary(self, findings: Sequence[Finding], cross: Sequence[Finding]) -> str:
        """A plain summary of the findings."""
        lines = [f"- [{f.task}] {f.text}" for f in findings[:30]]
        lines += [f"- [cross-task] {f.text}" for f in cross[:10]]
        return "\n".join(lines) or "No finding is supported by the evidence yet."

    def proposed_learning(
        self, task: str, findings: Sequence[Finding], *, round_no: int | None = None
    ) -> Learning:
        """The rules the evidence gate would add, update and retire for `task` (nothing
        written); `round_no` is recorded on the rules it re-confirms."""
        skill = self.skills.get(task)
        mine = [
            f
            for f in findings
            if f.task == task or (f.kind is FindingKind.CROSS_TASK and task in f.tasks)
        ]
        changes = rule_changes(mine, skill.learned_rules, space=skill.space, round_no=round_no)
        return Learning(
            add=list(changes.new), retire=dict(changes.retire), update=list(changes.update)
        )

    def apply(self, task: str, learning: Learning, *, round_no: int) -> Learning:
        """Write the learning as one skill version through the skillhub's invariants."""
        if not learning.add and not learning.retire and not learning.update:
            return learning
        parts = []
        if learning.add:
            parts.append(f"{len(learning.add)} rule(s) supported by A/B evidence")
        if learning.update:
            parts.append(f"new evidence for {len(learning.update)} rule(s) already held")
        if learning.retire:
            parts.append(f"retire {len(learning.retire)} contradicted rule(s)")
        before = self.skills.get(task).version
        try:
            skill = self.skills.apply_learning(
                task,
                learning.add,
                learning.retire,
                f"round {round_no}: {'; '.join(parts)}",
                update=learning.update,
            )
        except SkillError as exc:
            return Learning(refused=str(exc))
        version = skill.version if skill.version != before else None
        return Learning(
            add=learning.add, retire=learning.retire, update=learning.update, version=version
        )
