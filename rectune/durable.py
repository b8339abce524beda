"""Crash-safe files: atomic replacement, JSON helpers, inter-process locks, temp-file cleanup.

Every durable file rectune writes (journal, skill versions, platform state, thread records)
goes through `atomic_write_text`, so a reader only ever sees the old or the new content, and
a process killed mid-write leaves at most a temp file that the next writer removes.

Temp files are named ``.<target>.tmp-<pid>-<random>``: the writer's process id tells a later
writer whether the file is an abandoned leftover (its process is gone) or a write in flight.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from rectune.domain.errors import RecTuneError

__all__ = [
    "TMP_MARKER",
    "LockTimeoutError",
    "atomic_write_json",
    "atomic_write_text",
    "locked",
    "read_json",
    "remove_stale_temp_files",
    "sweep_stale_temp_files",
]

TMP_MARKER = ".tmp-"
_TMP_NAME = re.compile(r"^\.(?P<target>.+)\.tmp-(?P<pid>\d+)-[A-Za-z0-9_]+$")


class LockTimeoutError(RecTuneError):
    """Another process held a lock for longer than the caller was willing to wait."""


def atomic_write_text(path: Path | str, text: str) -> None:
    """Replace `path` with `text` so that no reader ever sees a partial file.

    The text goes to a temp file in the same folder, is flushed and fsynced, then renamed over
    the target; the folder is fsynced so the rename itself survives a power cut. Temp files
    that dead writers left next to `path` are removed first.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "x.json"
        >>> atomic_write_text(p, "{}")
        >>> p.read_text()
        '{}'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARKER}{os.getpid()}-", dir=path.parent)
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


def atomic_write_json(path: Path | str, data: Any) -> None:
    """Atomically write `data` as indented, key-sorted JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path | str) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _is_stale(temp: Path) -> bool:
    m = _TMP_NAME.match(temp.name)
    if m is None:
        # The old naming had no process id; such files predate this version and are stale.
        return TMP_MARKER in temp.name
    return not _pid_alive(int(m.group("pid")))


def remove_stale_temp_files(path: Path | str) -> int:
    """Delete temp files of `path` whose writer process is gone; returns how many."""
    path = Path(path)
    removed = 0
    for temp in path.parent.glob(f".{path.name}{TMP_MARKER}*"):
        if _is_stale(temp):
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
                removed += 1
    return removed


def sweep_stale_temp_files(root: Path | str) -> int:
    """Delete every abandoned temp file under `root` (a workspace); returns how many."""
    removed = 0
    root = Path(root)
    if not root.is_dir():
        return 0
    for temp in root.rglob(f".*{TMP_MARKER}*"):
        if temp.is_file() and _is_stale(temp):
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def locked(lock_path: Path | str, *, timeout: float, what: str) -> Iterator[None]:
    """Hold an inter-process file lock, or raise `LockTimeoutError` naming `what`.

    Args:
        lock_path: The lock file.
        timeout: Seconds to wait for another holder.
        what: What the lock protects, for the error message (e.g. "journal of value_fusion").
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeoutError(
            f"the {what} is locked by another process; gave up after {timeout:g}s "
            f"(lock file {lock_path})"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _fsync_dir(directory: Path) -> None:
    # Directory fsync is what makes the rename durable; some file systems refuse it.
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
