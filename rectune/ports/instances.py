"""Process-local registry for objects that cannot travel in the serializable Context.

The Context (shown as a form in Studio, stored per thread) holds strings only. A caller who
passes a chat-model or platform *instance* to the Python API gets it registered here under an
``instance:<n>`` key, and the nodes look it up.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

__all__ = ["lookup", "register"]

_lock = threading.Lock()
_objects: dict[str, Any] = {}
_counter = itertools.count(1)


def register(obj: Any, kind: str) -> str:
    """Keep `obj` for this process and return its key, e.g. ``instance:model:3``."""
    with _lock:
        for key, value in _objects.items():
            if value is obj and key.startswith(f"instance:{kind}:"):
                return key
        key = f"instance:{kind}:{next(_counter)}"
        _objects[key] = obj
        return key


def lookup(key: str) -> Any:
    """The object registered under `key`.

    Raises:
        KeyError: when this process never registered it (e.g. a resume in a new process of a
            round started with an in-memory model or platform instance).
    """
    try:
        return _objects[key]
    except KeyError:
        raise KeyError(
            f"{key!r} was registered by another process; pass the model or platform again "
            "when resuming"
        ) from None
