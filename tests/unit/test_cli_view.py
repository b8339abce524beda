"""Terminal rendering: the live arms table, the A/B plan line, the startup benchmark."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from rectune.cli_view import RoundProgress, format_plan

ROOT = Path(__file__).resolve().parents[2]


def _render(table: object) -> str:
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(table)
    return buf.getvalue()


def test_live_table_lists_kept_arms_then_fills_in_their_lifts() -> None:
    con = Console(file=io.StringIO(), width=200, color_system=None)
    with RoundProgress(console=con) as progress:
        progress.event("critic", {"candidates": [{"id": "t-r1-c1", "delta": {"a": 0.5}}]})
        assert progress.progress.table is not None
        before = _render(progress.progress.table)
        assert "t-r1-c1" in before and "a=0.5" in before
        progress.event("progress", {"phase": "ab_test", "days_run": 2, "days_total": 3})
        progress.event(
            "monitor",
            {
                "results": {
                    "arms": [
                        {
                            "arm": "arm1",
                            "candidate_id": "t-r1-c1",
                            "metrics": {"clicks": {"relative_lift": 0.0123, "significant": True}},
                        }
                    ]
                }
            },
        )
        after = _render(progress.progress.table)
    assert "clicks" in after and "+1.23%*" in after


def test_disabled_progress_ignores_events() -> None:
    with RoundProgress(enabled=False) as progress:
        progress.event("critic", {"candidates": [{"id": "x", "delta": {}}]})
    assert progress.progress.table is None and progress.phase_task is None


def test_format_plan_reads_like_a_sentence() -> None:
    line = format_plan(
        {"control": "production", "arms": 3, "traffic_per_arm": 0.05, "days": 3, "alpha": 0.05}
    )
    assert (
        line == "A/B plan: 3 arm(s) against production, 5.0% of traffic each, 3 day(s) (alpha 0.05)"
    )
    assert format_plan({}) == "A/B plan: (none)"


def test_startup_benchmark_reports_no_heavy_import() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cli_startup.py"), "--repeat", "2", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(res.stdout)
    assert data["heavy_modules_imported"] == []
    assert data["median_s"] > 0
