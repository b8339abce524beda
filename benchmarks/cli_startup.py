"""How fast ``rectune --help`` answers (target: under one second).

The CLI imports LangGraph, numpy, Chroma and matplotlib only inside the commands that need
them; this benchmark keeps that promise honest. It starts a fresh interpreter each time, so
the figure includes Python's own start-up. Run with::

    .venv/bin/python benchmarks/cli_startup.py [--repeat 7] [--json] [--check]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 1.0
HEAVY = ("langgraph", "numpy", "chromadb", "matplotlib", "pandas", "langchain_core")


def _rectune() -> list[str]:
    exe = Path(sys.executable).parent / "rectune"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rectune.cli"]


def time_help(repeat: int) -> list[float]:
    """Wall-clock seconds of `repeat` runs of ``rectune --help``."""
    out: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([*_rectune(), "--help"], check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def heavy_modules_after_help() -> list[str]:
    """Heavy packages that rendering the help imported (should be none)."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from rectune.cli import app\n"
        "CliRunner().invoke(app, ['--help'])\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return [m for m in res.stdout.strip().split(",") if m]


def main() -> None:
    """Measure and print; with --check, exit 1 when the median misses the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="fail above the target")
    args = parser.parse_args()
    # The first run warms the file-system cache and byte-code; it is not counted.
    time_help(1)
    runs = time_help(args.repeat)
    result = {
        "command": "rectune --help",
        "repeat": args.repeat,
        "median_s": round(statistics.median(runs), 3),
        "min_s": round(min(runs), 3),
        "max_s": round(max(runs), 3),
        "target_s": TARGET_SECONDS,
        "heavy_modules_imported": heavy_modules_after_help(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"rectune --help: median {result['median_s']:.3f}s (min {result['min_s']:.3f}s, "
            f"max {result['max_s']:.3f}s) over {args.repeat} runs; target < {TARGET_SECONDS}s; "
            f"heavy modules imported: {result['heavy_modules_imported'] or 'none'}"
        )
    if args.check and (result["median_s"] >= TARGET_SECONDS or result["heavy_modules_imported"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
