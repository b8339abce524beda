"""Render the platform's config file for one configuration from a skill's template."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rectune.domain.parameters import ConfigValue
from rectune.skillhub.model import Skill
from rectune.skillhub.template import substitute

__all__ = ["RenderedConfig", "render_platform_config"]


@dataclass(frozen=True)
class RenderedConfig:
    """A platform config file: its name and its content (text and parsed)."""

    file_name: str
    content: str
    data: Any


def render_platform_config(
    skill: Skill,
    config: Mapping[str, object],
    *,
    arm: str = "treatment",
    experiment_id: str = "",
) -> RenderedConfig:
    """Validate `config` against the skill's space and fill the platform template with it.

    Raises:
        ConfigError: when the configuration is not a valid full configuration of the skill.

    Example:
        >>> from rectune.skillhub import SkillHub, shipped_skills_dir
        >>> s = SkillHub(shipped_skills_dir()).get("value_fusion")
        >>> r = render_platform_config(s, s.baseline, arm="control", experiment_id="e1")
        >>> r.file_name, r.data["weights"]["click"]
        ('value_fusion__control.json', 1.0)
    """
    full: dict[str, ConfigValue] = skill.space.validate_config(config)
    values: dict[str, Any] = {
        **full,
        "task": skill.name,
        "arm": arm,
        "experiment_id": experiment_id,
        "skill_version": skill.version,
        "config_json": full,
    }
    data = substitute(skill.platform.template, values)
    file_name = str(substitute(skill.platform.config_file, values))
    # The name comes from a template and an arm label; keep it a plain file name.
    file_name = re.sub(r"[^A-Za-z0-9_.-]", "_", file_name)
    return RenderedConfig(file_name=file_name, content=json.dumps(data, indent=2) + "\n", data=data)
