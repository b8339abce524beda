"""Errors of the skillhub.

Each error carries the file and the field at fault so that the person editing a SKILL.md can
go straight to the line that needs fixing.
"""

from __future__ import annotations

from pathlib import Path

from rectune.domain.errors import RecTuneError, SpecError

__all__ = [
    "SkillError",
    "SkillInvariantError",
    "SkillNotFoundError",
    "SkillValidationError",
    "SkillVersionError",
]


class SkillError(RecTuneError):
    """Base class of every skillhub error."""


class SkillValidationError(SkillError, SpecError):
    """A SKILL.md (or a Skill object) is malformed.

    Attributes:
        path: The file at fault, or None for an in-memory skill.
        field: A dotted path to the offending field (``parameters[2].soft_high``), or a
            section name, or ``"yaml"`` for syntax errors.
        problem: What is wrong, in words.
        line: The 1-based line number when known.
    """

    def __init__(
        self, path: Path | str | None, field: str, problem: str, line: int | None = None
    ) -> None:
        self.path = None if path is None else Path(path)
        self.field = field
        self.problem = problem
        self.line = line
        where = str(self.path) if self.path is not None else "<skill>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: field {field!r}: {problem}")


class SkillNotFoundError(SkillError, KeyError):
    """No skill of that name exists in the hub."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "skill not found"


class SkillVersionError(SkillError):
    """A requested version does not exist, or the version log is damaged."""


class SkillInvariantError(SkillError):
    """An agent change breaks the rules people set; nothing was written.

    Attributes:
        skill: The skill name.
        violations: Every broken rule, one sentence each.
    """

    def __init__(self, skill: str, violations: list[str]) -> None:
        self.skill = skill
        self.violations = list(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(
            f"agent change to skill {skill!r} refused ({len(self.violations)} violation(s)); "
            f"nothing was written:\n{lines}"
        )
