from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Tests never call a real model or service, whatever the developer's shell has set.
for _var in ("GOOGLE_API_KEY", "RECTUNE_MODEL", "RECTUNE_WORKSPACE"):
    os.environ.pop(_var, None)
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh workspace with the shipped skills."""
    from rectune.workspace import init_workspace

    return init_workspace(tmp_path / "ws").root
