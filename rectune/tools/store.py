"""Durable JSON state for platforms: the shared atomic writes, plus the platform's lock."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

from rectune.durable import atomic_write_json, atomic_write_text, read_json

__all__ = ["atomic_write_json", "atomic_write_text", "platform_lock", "read_json"]


def platform_lock(directory: Path) -> FileLock:
    """An inter-process lock guarding one platform state directory."""
    directory.mkdir(parents=True, exist_ok=True)
    return FileLock(str(directory / ".platform.lock"))
