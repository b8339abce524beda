"""Durable JSON state for platforms: atomic writes and a cross-process lock."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock

__all__ = ["atomic_write_json", "atomic_write_text", "platform_lock", "read_json"]


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see either the old or the new file, never half.

    The data goes to a temporary file in the same directory, is flushed and fsynced, then
    renamed over the target; the directory is fsynced too so the rename survives a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_json(path: Path, data: Any) -> None:
    """Atomically write `data` as indented JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def platform_lock(directory: Path) -> FileLock:
    """An inter-process lock guarding one platform state directory."""
    directory.mkdir(parents=True, exist_ok=True)
    return FileLock(str(directory / ".platform.lock"))
