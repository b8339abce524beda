"""The skillhub: skills as versioned data, with code-enforced limits on what agents change.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> hub = SkillHub.in_workspace(Path(tempfile.mkdtemp()))
    >>> [s.name for s in hub.list()]
    ['diversity', 'value_based_retrieval', 'value_fusion']
"""

from __future__ import annotations

from rectune.skillhub.errors import (
    SkillError,
    SkillInvariantError,
    SkillNotFoundError,
    SkillValidationError,
    SkillVersionError,
)
from rectune.skillhub.hub import SkillHub, shipped_skills_dir
from rectune.skillhub.invariants import agent_change_violations
from rectune.skillhub.loader import load_skill, parse_skill
from rectune.skillhub.model import (
    REQUIRED_SECTIONS,
    ABDefaults,
    PlatformSpec,
    Skill,
    SkillSections,
    SkillStatus,
)
from rectune.skillhub.render import RenderedConfig, render_platform_config
from rectune.skillhub.versions import VersionEntry
from rectune.skillhub.writer import render_skill

__all__ = [
    "REQUIRED_SECTIONS",
    "ABDefaults",
    "PlatformSpec",
    "RenderedConfig",
    "Skill",
    "SkillError",
    "SkillHub",
    "SkillInvariantError",
    "SkillNotFoundError",
    "SkillSections",
    "SkillStatus",
    "SkillValidationError",
    "SkillVersionError",
    "VersionEntry",
    "agent_change_violations",
    "load_skill",
    "parse_skill",
    "render_platform_config",
    "render_skill",
    "shipped_skills_dir",
]
