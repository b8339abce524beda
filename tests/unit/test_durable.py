"""Crash-safe writes: abandoned temp files are removed, files in flight are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rectune.durable import atomic_write_text, remove_stale_temp_files, sweep_stale_temp_files


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_writers_temp_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "journal.json"
    stale = tmp_path / f".journal.json.tmp-{_dead_pid()}-abc123"
    stale.write_text("half a file")
    alive = tmp_path / f".journal.json.tmp-{os.getpid()}-def456"
    alive.write_text("a write in flight")
    atomic_write_text(target, "{}")
    assert target.read_text() == "{}"
    assert not stale.exists() and alive.exists()
    assert remove_stale_temp_files(target) == 0


def test_sweep_clears_a_workspace(tmp_path: Path) -> None:
    deep = tmp_path / "skills" / "x" / ".versions"
    deep.mkdir(parents=True)
    (deep / f".log.json.tmp-{_dead_pid()}-zz").write_text("x")
    (tmp_path / ".old.json.tmp-abcdef").write_text("pre-pid naming")
    assert sweep_stale_temp_files(tmp_path) == 2
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_written_files_are_readable_by_teammates(tmp_path: Path) -> None:
    from rectune import durable

    atomic_write_text(tmp_path / "index.html", "<html></html>")
    mode = (tmp_path / "index.html").stat().st_mode & 0o777
    assert mode == 0o666 & ~durable._UMASK and mode & 0o044  # group and others may read
