"""Crash-safe file writes shared by the skillhub and the memory.

A reader must only ever see the old or the new content of a durable file: we write a temp
file next to the target, fsync it, rename it over the target (atomic on POSIX) and fsync the
directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["TMP_MARKER", "atomic_write_text", "remove_stale_temp_files"]

TMP_MARKER = ".tmp-"
"""Temp files are named ``.<target>.tmp-<random>`` so stale ones are easy to recognise."""


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` so that no reader ever sees a partial file.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "x.json"
        >>> atomic_write_text(p, "{}")
        >>> p.read_text()
        '{}'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARKER}", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def remove_stale_temp_files(path: Path) -> int:
    """Delete temp files left next to `path` by a writer that died; call only under the lock."""
    removed = 0
    for stale in Path(path).parent.glob(f".{Path(path).name}{TMP_MARKER}*"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
            removed += 1
    return removed


def _fsync_dir(directory: Path) -> None:
    # Directory fsync is what makes the rename durable; some platforms refuse it, which is fine.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
