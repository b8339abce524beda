"""The knowledge port: the retrieval index of skills, rules and elites (derived data).

The index can always be rebuilt from the skills and the journal, so a broken or missing
index degrades a round (nothing retrieved) instead of stopping it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from rectune.domain import Candidate, Degradation
from rectune.skillhub.model import Skill
from rectune.workspace import Workspace

__all__ = ["KnowledgePort"]

log = logging.getLogger(__name__)

MAX_ELITES = 8


@dataclass(frozen=True)
class KnowledgePort:
    """Retrieval over one workspace's index."""

    workspace: Workspace

    def retrieve(self, query: str, k: int = 6) -> tuple[list[str], Degradation | None]:
        """Snippets relevant to `query` (other tasks' rules and elites are the point)."""
        from rectune.memory.retrieval import MemoryIndex

        try:
            hits = MemoryIndex(self.workspace.index).query(query, k=k)
        except Exception as exc:  # derived data: any failure is a degradation, not a stop
            log.warning("retrieval failed: %s", exc)
            return [], Degradation(
                where="retrieval", what=f"index unavailable ({type(exc).__name__}: {exc})"
            )
        return [f"({h.kind}, {h.task}) {h.text}" for h in hits], None

    def reindex(self, skill: Skill, candidates: Sequence[Candidate]) -> Degradation | None:
        """Refresh the index for one task from its skill and journal."""
        from rectune.memory.retrieval import MemoryIndex

        try:
            index = MemoryIndex(self.workspace.index)
            index.add_skill(skill)
            index.add_elites(skill, list(candidates), max_size=MAX_ELITES)
        except Exception as exc:  # derived data, rebuilt by `rectune reindex`
            log.warning("reindex failed: %s", exc)
            return Degradation(
                where="retrieval", what=f"index not updated ({type(exc).__name__}: {exc})"
            )
        return None
