"""Terminal rendering: the live arms table, the A/B plan line, the startup benchmark."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from rectune.cli_format import plan_lines
from rectune.cli_view import RoundProgress

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


def test_the_plan_says_what_it_detects_and_when_it_is_underpowered() -> None:
    plan = {
        "control": "production", "arms": 3, "traffic_per_arm": 0.1, "days": 7,
        "duration_from": "skill default", "min_detectable_effect": 0.01, "power": 0.8,
        "power_analysis": {
            "metric": "dwell_time", "users_per_arm": 6000, "users_needed_per_arm": 47049,
            "planned_power": 0.21, "detectable_effect": 0.028, "powered": False,
            "days_needed": None, "traffic_needed": 0.384, "comparisons": 15,
        },
    }
    text = "\n".join(plan_lines(plan))
    assert "3 arm(s) and a production control, 10.0% of users each (40% in the test)" in text
    assert "6,000 users per arm: detects +2.80% on dwell_time with 80% power" in text
    assert "UNDERPOWERED" in text and "47,049 users per arm (38.4% of traffic per arm)" in text
    assert plan_lines({}) == ["A/B plan: (none)"]


def test_the_days_bar_starts_at_zero_and_counts_real_days() -> None:
    con = Console(file=io.StringIO(), width=80, color_system=None)
    with RoundProgress(console=con) as progress:
        progress.event("progress", {"phase": "launched", "days_total": 7})
        task = progress.progress.tasks[progress.days_task]
        assert (task.completed, task.total, task.fields["count"]) == (0, 7, "0/7")
        for day in (1, 2, 3):
            progress.event("progress", {"phase": "ab_test", "days_run": day, "days_total": 7})
        assert task.fields["count"] == "3/7"
        for _ in range(5):  # the loop's steps never push a counter past its total
            progress.event("actor", {"proposals": []})
            progress.event("critic", {})


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
