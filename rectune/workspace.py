"""A workspace: the folder that holds a team's skills, journal, index and checkpoints.

Layout::

    <workspace>/
      rectune.yaml      settings (defaults for the Context; explicit options win)
      skills/           one folder per skill (copied from the shipped skills at init)
      journal/          experiment journal, one JSON file per task
      index/            Chroma retrieval index (derived; rebuildable)
      checkpoints/      SQLite checkpoint database of the round graph
      platform/         state of the simulated A/B platform
      threads/          one record per round thread (its run settings)
      reports/          HTML reports
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rectune.domain import RecTuneError
from rectune.skillhub.hub import SkillHub, shipped_skills_dir

__all__ = [
    "SETTINGS_FILE",
    "Workspace",
    "ensure_workspace",
    "init_workspace",
    "load_settings",
    "shipped_skills_dir",
]

SETTINGS_FILE = "rectune.yaml"
SUBDIRS = ("skills", "journal", "index", "checkpoints", "platform", "threads", "reports")

_DEFAULT_SETTINGS = """\
# rectune workspace settings: defaults for every run in this workspace.
# Explicit command-line options and Python arguments win over these.
# model: google_genai:gemini-2.5-pro   # leave unset for the offline engine
proposals_per_round: 8
arms_per_ab: 4
critic_loop_cap: 3
platform: sim
"""


class Workspace:
    """Paths of one workspace."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def skills(self) -> Path:
        return self.root / "skills"

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def platform(self) -> Path:
        return self.root / "platform"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def settings(self) -> Path:
        return self.root / SETTINGS_FILE


def init_workspace(root: str | Path) -> Workspace:
    """Create a new workspace with the shipped skills; refuse to touch an existing one.

    Raises:
        RecTuneError: when `root` already holds a workspace or is a non-empty folder.
    """
    ws = Workspace(root)
    if ws.settings.exists():
        raise RecTuneError(f"{ws.root} already holds a rectune workspace ({SETTINGS_FILE} exists)")
    if ws.root.exists() and any(ws.root.iterdir()):
        raise RecTuneError(f"{ws.root} is not empty; choose a new or empty folder")
    _populate(ws)
    return ws


def ensure_workspace(root: str | Path) -> Workspace:
    """Use `root` as a workspace, creating what is missing (never overwriting anything)."""
    ws = Workspace(root)
    _populate(ws)
    return ws


def _populate(ws: Workspace) -> None:
    ws.root.mkdir(parents=True, exist_ok=True)
    for sub in SUBDIRS:
        (ws.root / sub).mkdir(exist_ok=True)
    if not ws.settings.exists():
        ws.settings.write_text(_DEFAULT_SETTINGS)
    SkillHub(ws.skills).install_shipped()


def load_settings(root: str | Path) -> dict[str, Any]:
    """The workspace's settings as a dict (empty when there is no settings file).

    Raises:
        RecTuneError: naming the file and line when the YAML does not parse or is not a map.
    """
    path = Workspace(root).settings
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise RecTuneError(f"{path}{where}: invalid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecTuneError(f"{path}: settings must be a mapping of option: value")
    return data
