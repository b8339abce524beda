"""The tuning benchmark end to end at a tiny scale: files, methods, absent peers, plot."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from rectune.bench import BenchSettings, run_and_write
from rectune.bench.cli import build_parser, settings_from_args

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_tiny_benchmark_writes_every_output(tmp_path: Path, monkeypatch: Any) -> None:
    real_find_spec = importlib.util.find_spec

    def no_ax(name: str, *args: Any, **kwargs: Any) -> Any:
        # Pretend Ax is not installed, as in CI, to check how an absent peer is reported.
        return None if name == "ax" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_ax)
    methods = ("rectune", "rectune-nocritic", "rectune-hybrid", "sobol", "optuna-tpe", "ax")
    settings = BenchSettings(
        tasks=("diversity",),
        methods=methods,
        rounds=2,
        arms=2,
        seeds=2,
        population=3_000,
        days=1,
        oracle_users=300,
        optimum_budget=4,
        optimum_search_users=300,
        optimum_final_users=300,
        cache_dir=str(tmp_path / "oracle"),
    )
    out = tmp_path / "results"
    data = run_and_write(settings, out, "tiny", verbose=False, rescore_users=400)

    for suffix in ("json", "md", "png"):
        assert (out / f"tiny.{suffix}").stat().st_size > 0
    assert (out / "tiny.png").read_bytes()[:8] == PNG_MAGIC

    saved = json.loads((out / "tiny.json").read_text())
    assert set(saved["methods"]) == set(methods)
    assert saved["methods"]["ax"].startswith("absent")
    assert saved["methods"]["rectune"] == "ok"
    per_method = saved["summary"]["tasks"]["diversity"]
    assert set(per_method) == set(methods)
    assert per_method["ax"]["status"].startswith("absent")
    ran = [m for m in methods if m != "ax"]
    for m in ran:
        runs = [r for r in saved["runs"] if r["method"] == m]
        assert len(runs) == 2, m
        assert all("error" not in r for r in runs), runs
        assert all(len(r["curve"]) == 2 for r in runs)
        assert all(len(rnd["arms"]) <= 2 for r in runs for rnd in r["rounds"])
    # Paired differences exist for every peer that ran, and the table names the absent one.
    assert set(saved["summary"]["paired"]["diversity"]) == set(ran) - {"rectune"}
    assert "| diversity | ax | absent" in (out / "tiny.md").read_text()
    assert data["markdown"] == (out / "tiny.md").read_text()
    # The final launches were scored again with the larger oracle; the cheap numbers are kept.
    assert saved["final_oracle_users"] == 400
    assert all("final_pct_cheap" in r for r in saved["runs"])
    # A partial file lets an interrupted run resume; a rerun with the same settings reuses it.
    assert (out / "tiny.partial.jsonl").exists()


def test_quick_preset_and_flags() -> None:
    args = build_parser().parse_args(["--quick", "--seeds", "2", "--methods", "rectune", "sobol"])
    s = settings_from_args(args)
    assert s.tasks == ("value_fusion",) and s.seeds == 2 and s.rounds == 3 and s.days == 2
    assert s.methods == ("rectune", "sobol") and s.arms == 4
    full = settings_from_args(build_parser().parse_args([]))
    assert full.rounds == 5 and full.arms == 4 and full.seeds == 10 and len(full.tasks) == 3
