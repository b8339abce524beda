"""Version history of one skill: numbered snapshots plus who wrote each one and why.

`VersionLog` is what the hub needs of a history; two stores implement it. `VersionStore`
keeps it in the skill folder: ``<skill>/SKILL.md`` is the current version,
``<skill>/.versions/v0003.md`` every version ever written and ``<skill>/.versions/log.json``
the log. With Postgres storage, `rectune.storage.pg_skills.PostgresVersionStore` keeps it in
an append-only table and SKILL.md is this host's copy of the latest version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rectune.domain.candidates import utcnow
from rectune.durable import atomic_write_text
from rectune.skillhub.errors import SkillVersionError

__all__ = ["Author", "VersionEntry", "VersionLog", "VersionStore", "entry_for"]

Author = Literal["human", "agent", "system"]


class VersionEntry(BaseModel):
    """One line of a skill's version log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    reason: str = Field(min_length=1)
    author: Author
    actor: str = ""
    at: datetime = Field(default_factory=utcnow)
    sha256: str
    rollback_of: int | None = None


class _Log(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    skill: str
    versions: list[VersionEntry] = Field(default_factory=list)


class VersionLog(ABC):
    """The version history of one skill. Callers hold the skill's lock while writing."""

    name: str

    @abstractmethod
    def entries(self) -> list[VersionEntry]:
        """Every version, oldest first; empty for a skill that was never versioned."""

    @abstractmethod
    def path(self, version: int) -> Path:
        """Where snapshot `version` lives (names it in messages)."""

    @abstractmethod
    def read(self, version: int) -> str:
        """The SKILL.md text of `version`."""

    @abstractmethod
    def record(
        self,
        version: int,
        text: str,
        reason: str,
        author: Author,
        actor: str = "",
        rollback_of: int | None = None,
    ) -> VersionEntry:
        """Store snapshot `version` and log it; `version` must be after the latest."""

    def latest(self) -> int:
        """The highest version number logged, 0 when none."""
        entries = self.entries()
        return entries[-1].version if entries else 0

    def diff(self, a: int, b: int) -> str:
        """A unified diff from version `a` to version `b` (empty when equal)."""
        return "".join(
            difflib.unified_diff(
                self.read(a).splitlines(keepends=True),
                self.read(b).splitlines(keepends=True),
                fromfile=f"{self.name}/v{a:04d}",
                tofile=f"{self.name}/v{b:04d}",
            )
        )


def entry_for(
    version: int, text: str, reason: str, author: Author, actor: str, rollback_of: int | None
) -> VersionEntry:
    """The log entry of a new snapshot (its digest computed from `text`)."""
    return VersionEntry(
        version=version,
        reason=reason,
        author=author,
        actor=actor,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        rollback_of=rollback_of,
    )


class VersionStore(VersionLog):
    """The `.versions` folder of one skill."""

    def __init__(self, skill_dir: Path) -> None:
        self.skill_dir = Path(skill_dir)
        self.name = self.skill_dir.name
        self.dir = self.skill_dir / ".versions"
        self.log_path = self.dir / "log.json"

    def entries(self) -> list[VersionEntry]:
        """Every version, oldest first; empty for a folder that was never versioned."""
        if not self.log_path.exists():
            return []
        try:
            log = _Log.model_validate_json(self.log_path.read_text(encoding="utf-8"))
        except (ValidationError, ValueError) as exc:
            raise SkillVersionError(f"{self.log_path}: version log is damaged: {exc}") from None
        return log.versions

    def path(self, version: int) -> Path:
        """Where snapshot `version` lives."""
        return self.dir / f"v{version:04d}.md"

    def read(self, version: int) -> str:
        """The SKILL.md text of `version`."""
        p = self.path(version)
        if not p.exists():
            known = [e.version for e in self.entries()]
            raise SkillVersionError(
                f"skill {self.skill_dir.name!r}: no version {version}; versions: {known}"
            )
        return p.read_text(encoding="utf-8")

    def record(
        self,
        version: int,
        text: str,
        reason: str,
        author: Author,
        actor: str = "",
        rollback_of: int | None = None,
    ) -> VersionEntry:
        """Write snapshot `version` and log it. The snapshot is written before the log line."""
        entries = self.entries()
        if entries and version <= entries[-1].version:
            raise SkillVersionError(
                f"skill {self.skill_dir.name!r}: version {version} is not after "
                f"{entries[-1].version}"
            )
        atomic_write_text(self.path(version), text)
        entry = entry_for(version, text, reason, author, actor, rollback_of)
        log = _Log(skill=self.skill_dir.name, versions=[*entries, entry])
        atomic_write_text(self.log_path, json.dumps(log.model_dump(mode="json"), indent=2) + "\n")
        return entry
