"""A workspace: the folder that holds a team's skills, journal, index and checkpoints.

This module is the one home of the layout; everything else asks `Workspace` for its paths::

    <workspace>/
      rectune.yaml      settings (defaults for the Context; explicit options win)
      skills/           one folder per skill (copied from the shipped skills at init)
      journal/          experiment journal, one JSON file per task
      index/            Chroma retrieval index (derived; rebuildable)
      checkpoints/      SQLite checkpoint database of the round graph
      platform/         state of the simulated A/B platform and cached noise estimates
      handoff/          default folder of the file hand-off platform (``files:handoff``)
      rendered/         each arm's platform config file, per task and round
      threads/          one record per round thread (its run settings)
      reports/          HTML reports
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from rectune.domain import RecTuneError

__all__ = [
    "SETTINGS_FILE",
    "Workspace",
    "WorkspaceError",
    "ensure_workspace",
    "init_workspace",
    "load_settings",
    "require_workspace",
]

log = logging.getLogger(__name__)

SETTINGS_FILE = "rectune.yaml"
SUBDIRS = (
    "skills", "journal", "index", "checkpoints", "platform", "rendered", "threads", "reports"
)

_DEFAULT_SETTINGS = """\
# rectune workspace settings: defaults for every run in this workspace.
# Explicit command-line options and Python arguments win over these.
# model: google_genai:gemini-2.5-pro   # leave unset for the offline engine
proposals_per_round: 8
arms_per_ab: 4
critic_loop_cap: 3
platform: sim
"""


class WorkspaceError(RecTuneError):
    """A folder is not a usable workspace (missing, not a workspace, or a file in the way)."""


class Workspace:
    """Paths of one workspace.

    Example:
        >>> ws = Workspace("ws")
        >>> str(ws.journal_file("value_fusion"))
        'ws/journal/value_fusion.json'
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def settings(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def skills(self) -> Path:
        return self.root / "skills"

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    def journal_file(self, task: str) -> Path:
        return self.journal / f"{task}.json"

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def checkpoint_db(self) -> Path:
        return self.checkpoints / "rectune.sqlite"

    @property
    def platform(self) -> Path:
        return self.root / "platform"

    def noise_cache(self, key: str) -> Path:
        """Cached noise estimates of the platform (power analysis), one file per key."""
        return self.platform / f"baseline-{key}.json"

    @property
    def handoff(self) -> Path:
        return self.root / "handoff"

    @property
    def rendered(self) -> Path:
        return self.root / "rendered"

    def rendered_round(self, task: str, round_no: int) -> Path:
        return self.rendered / task / f"round-{round_no}"

    @property
    def threads(self) -> Path:
        return self.root / "threads"

    def thread_file(self, thread_id: str) -> Path:
        return self.threads / f"{thread_id}.json"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def report_dir(self, task: str) -> Path:
        return self.reports / task

    def is_workspace(self) -> bool:
        """Whether the folder holds a settings file (what `init` writes)."""
        return self.settings.is_file()

    def resolve(self, path: str | Path) -> Path:
        """A path from the settings or the Context: relative ones are inside the workspace."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p

    def relative(self, path: Path) -> str:
        """`path` relative to the workspace when inside it, else absolute."""
        absolute = path.resolve()
        try:
            return str(absolute.relative_to(self.root.resolve()))
        except ValueError:
            return str(absolute)


def init_workspace(root: str | Path) -> Workspace:
    """Create a new workspace with the shipped skills; refuse to touch an existing one.

    Raises:
        WorkspaceError: when `root` already holds a workspace, is a non-empty folder or a file.
    """
    ws = Workspace(root)
    if ws.settings.exists():
        raise WorkspaceError(
            f"{ws.root} already holds a rectune workspace ({SETTINGS_FILE} exists)"
        )
    if ws.root.exists() and not ws.root.is_dir():
        raise WorkspaceError(f"{ws.root} is a file; choose a new or empty folder")
    if ws.root.exists() and any(ws.root.iterdir()):
        raise WorkspaceError(f"{ws.root} is not empty; choose a new or empty folder")
    _populate(ws)
    return ws


def require_workspace(root: str | Path) -> Workspace:
    """The workspace at `root`, or a `WorkspaceError` saying how to create one."""
    ws = Workspace(root)
    if ws.root.exists() and not ws.root.is_dir():
        raise WorkspaceError(f"{ws.root} is a file, not a rectune workspace folder")
    if not ws.is_workspace():
        raise WorkspaceError(
            f"{ws.root} is not a rectune workspace (no {SETTINGS_FILE}); create one with: "
            f"rectune init {ws.root}"
        )
    _populate(ws)
    return ws


def ensure_workspace(root: str | Path) -> Workspace:
    """Use `root` as a workspace, creating what is missing (never overwriting anything).

    This is the Python API's convenience (``run_round("diversity")`` in a fresh folder); the
    command line asks for `init` instead.
    """
    ws = Workspace(root)
    if ws.root.exists() and not ws.root.is_dir():
        raise WorkspaceError(f"{ws.root} is a file, not a rectune workspace folder")
    if not ws.is_workspace() and ws.root.exists() and any(ws.root.iterdir()):
        log.warning("making the non-empty folder %s a rectune workspace", ws.root)
    _populate(ws)
    return ws


def _populate(ws: Workspace) -> None:
    from rectune.skillhub.hub import SkillHub  # the skillhub is heavier than the layout

    ws.root.mkdir(parents=True, exist_ok=True)
    for sub in SUBDIRS:
        path = ws.root / sub
        if path.exists() and not path.is_dir():
            raise WorkspaceError(
                f"{path} is a file where the workspace needs a folder; move it away"
            )
        path.mkdir(exist_ok=True)
    if not ws.settings.exists():
        ws.settings.write_text(_DEFAULT_SETTINGS)
    SkillHub(ws.skills).install_shipped()


def load_settings(root: str | Path) -> dict[str, Any]:
    """The workspace's settings as a dict (empty when there is no settings file).

    Raises:
        WorkspaceError: naming the file and line when the YAML does not parse or is not a map.
    """
    path = Workspace(root).settings
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise WorkspaceError(f"{path}{where}: invalid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise WorkspaceError(f"{path}: settings must be a mapping of option: value")
    return data
