from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

# The Postgres fixture, shared by every test folder.
from pgtools import pg_url

# Tests never call a real model or service, whatever the developer's shell has set.
for _var in ("GOOGLE_API_KEY", "RECTUNE_MODEL", "RECTUNE_WORKSPACE"):
    os.environ.pop(_var, None)
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# Property tests must not fail because a shared machine is busy: no deadline, no health check
# that measures speed, and a fixed example order so a CI failure reproduces.
# `HYPOTHESIS_PROFILE=dev` restores Hypothesis' own randomised defaults for exploration.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", settings.default)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh workspace with the shipped skills."""
    from rectune.workspace import init_workspace

    return init_workspace(tmp_path / "ws").root


__all__ = ["pg_url", "workspace"]


@pytest.fixture(autouse=True)
def _no_storage_override() -> Iterator[None]:
    """A ``--storage`` given to one CLI invocation lasts for its process: never for the next
    test (it would point later tests at a schema already dropped)."""
    yield
    from rectune.storage.settings import set_override

    set_override(None)
