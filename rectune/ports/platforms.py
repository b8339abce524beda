"""Opening the A/B platform a run names: ``sim``, ``files:DIR`` or a registered instance.

The simulated platform is loaded by name (``importlib``), so code that talks to platforms
depends on the protocol only; a team that brings its own platform never loads the simulator.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from rectune.domain import SpecError
from rectune.ports.instances import lookup
from rectune.tools.platform import ABPlatform
from rectune.workspace import Workspace

__all__ = ["noise_key", "open_platform", "platform_folder"]

SIMULATED = "rectune.tools.simulated"


@lru_cache(maxsize=8)
def _simulated(state_dir: str, seed: int, days_per_poll: int) -> ABPlatform:
    # Building the simulated world takes a while; one per process and setting is enough.
    cls = importlib.import_module(SIMULATED).SimulatedABPlatform
    platform: ABPlatform = cls(
        state_dir=Path(state_dir), seed=seed, days_per_poll=days_per_poll or None
    )
    return platform


def noise_key(spec: str, seed: int) -> str:
    """What a platform's cached noise estimates depend on: for the simulator, its seed and a
    fingerprint of its model (a changed world must not reuse old estimates)."""
    if spec != "sim":
        return "platform"
    fingerprint = importlib.import_module("rectune.simulator.oracle").model_fingerprint()
    return f"seed{seed}-{fingerprint}"


def platform_folder(spec: str, workspace: Workspace) -> Path | None:
    """The hand-off folder of a ``files:DIR`` spec (relative to the workspace), else None."""
    if not spec.startswith("files:"):
        return None
    return workspace.resolve(spec.removeprefix("files:"))


def open_platform(spec: str, workspace: Workspace, *, seed: int, poll_days: int) -> ABPlatform:
    """The platform of a run.

    Args:
        spec: ``"sim"``, ``"files:DIR"`` (a relative DIR is inside the workspace) or an
            ``instance:platform:N`` key registered by the Python API.
        workspace: The run's workspace.
        seed: Seed of the simulated platform.
        poll_days: Simulated days per status poll (0: a test runs to its end at once).

    Raises:
        SpecError: for a spec of another form.
        TypeError: when a registered object is not an `ABPlatform`.
    """
    if spec == "sim":
        return _simulated(str(workspace.platform.resolve()), seed, poll_days)
    folder = platform_folder(spec, workspace)
    if folder is not None:
        from rectune.tools.files import FileHandoffPlatform

        return FileHandoffPlatform(folder)
    if spec.startswith("instance:platform:"):
        obj = lookup(spec)
        if not isinstance(obj, ABPlatform):
            raise TypeError(
                f"{type(obj).__name__} is not an A/B platform: it needs launch, status, "
                "results and abort (see rectune.tools.platform.ABPlatform)"
            )
        return obj
    raise SpecError(f"platform {spec!r} is not allowed; allowed: 'sim' or 'files:DIR'")
