"""The ports: small typed doors from the round's nodes to the rest of rectune.

Each port takes and returns domain models: `JournalPort` (the experiment journal),
`EnginePort` (the optimization engine), `PlatformPort` (the A/B platform), `InsightPort`
(statistics and skill learning) and `KnowledgePort` (the retrieval index). `ports_for` builds
them from a run's `Context`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from rectune.ports.engine import EnginePort, engine_for, observations_of, problem_of
from rectune.ports.insight import InsightPort, Learning
from rectune.ports.journal import JournalPort
from rectune.ports.knowledge import KnowledgePort
from rectune.ports.platform import PlatformPort
from rectune.workspace import Workspace

if TYPE_CHECKING:
    from rectune.config import Context
    from rectune.memory.journal_store import JournalStore
    from rectune.skillhub.hub import SkillHub
    from rectune.skillhub.model import Skill

__all__ = [
    "EnginePort",
    "InsightPort",
    "JournalPort",
    "KnowledgePort",
    "Learning",
    "PlatformPort",
    "Ports",
    "observations_of",
    "ports_for",
    "problem_of",
]


@dataclass
class Ports:
    """The ports of one run (cheap to build; the platform opens on first use)."""

    ctx: Context
    workspace: Workspace = field(init=False)

    def __post_init__(self) -> None:
        self.workspace = Workspace(self.ctx.workspace)

    @cached_property
    def skills(self) -> SkillHub:
        from rectune.skillhub.hub import SkillHub

        return SkillHub(self.workspace.skills, storage=self.ctx.storage)

    @cached_property
    def journal(self) -> JournalStore:
        from rectune.storage import open_journal

        return open_journal(self.workspace.root, self.ctx.storage)

    @cached_property
    def insight(self) -> InsightPort:
        return InsightPort(self.journal, self.skills)

    @cached_property
    def knowledge(self) -> KnowledgePort:
        return KnowledgePort(self.workspace)

    @cached_property
    def platform(self) -> PlatformPort:
        from rectune.ports.platforms import noise_key, open_platform

        platform = open_platform(
            self.ctx.platform, self.workspace, seed=self.ctx.seed, poll_days=self.ctx.poll_days
        )
        return PlatformPort(
            platform, self.workspace, self.ctx.platform,
            noise_key=noise_key(self.ctx.platform, self.ctx.seed),
        )

    def engine(self, skill: Skill) -> EnginePort:
        """The engine port of one skill's task."""
        return EnginePort.for_skill(
            engine_for(self.ctx.risk_threshold, self.ctx.llm_share), skill
        )


def ports_for(ctx: Context) -> Ports:
    """The ports of a run."""
    return Ports(ctx)
