"""rectune: agentic tuning of multi-stage recommender configurations.

Example:
    >>> import rectune
    >>> sorted(rectune.__all__)[:3]
    ['Context', 'RoundReport', '__version__']

The API functions are loaded on first use so that ``import rectune`` (and the CLI's
``--help``) stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Context",
    "RoundReport",
    "__version__",
    "abort",
    "forget",
    "history_frame",
    "resume",
    "run",
    "run_round",
    "status",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rectune.api import (
        RoundReport,
        abort,
        forget,
        history_frame,
        resume,
        run,
        run_round,
        status,
    )
    from rectune.config import Context

_LAZY = {
    "Context": "rectune.config",
    "RoundReport": "rectune.api",
    "abort": "rectune.api",
    "forget": "rectune.api",
    "history_frame": "rectune.api",
    "resume": "rectune.api",
    "run": "rectune.api",
    "run_round": "rectune.api",
    "status": "rectune.api",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rectune' has no attribute {name!r}")
