"""Warm start: importing past experiments from CSV and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rectune.domain import CandidateStatus
from rectune.memory import Journal, WarmStartError, import_experiments, select_elites
from rectune.skillhub import SkillHub, shipped_skills_dir

SKILL = SkillHub(shipped_skills_dir()).get("value_fusion")

HEADER = (
    "experiment_id,arm,vf_w_click,vf_w_dwell,dwell_time_lift,dwell_time_ci_low,"
    "dwell_time_ci_high,dwell_time_p,negative_rate_lift,negative_rate_ci_low,"
    "negative_rate_ci_high,topic_diversity_lift,topic_diversity_ci_low,"
    "topic_diversity_ci_high,clicks_lift,clicks_ci_low,clicks_ci_high,retention_lift,"
    "retention_ci_low,retention_ci_high,days\n"
)


def _imp(path: Path, tmp_path: Path) -> tuple[Journal, list[str]]:
    j = Journal(tmp_path / "journal")
    rep = import_experiments(path, j, SKILL.name, SKILL.space, SKILL.metrics, SKILL.baseline)
    return j, rep.imported


def test_csv_import(tmp_path: Path) -> None:
    p = tmp_path / "past.csv"
    p.write_text(
        HEADER
        + "q1,a,1.4,0.8,0.012,0.004,0.020,0.003,0.01,0.0,0.02,0,-0.01,0.01,0.01,0,0.02,0,"
        "-0.002,0.002,14\n"
        + "q1,b,0.6,,-0.01,-0.02,0.0,,0.0,-0.01,0.01,0,-0.01,0.01,-0.01,-0.02,0,0,-0.002,"
        "0.002,14\n"
    )
    j, ids = _imp(p, tmp_path)
    assert ids == ["import-q1-a", "import-q1-b"]
    cands = j.candidates("value_fusion")
    a, b = cands
    assert a.status is CandidateStatus.COMPLETED and a.source == "import"
    assert a.config["vf_w_click"] == 1.4 and a.config["vf_w_like"] == 0.3  # rest from baseline
    assert a.delta == {"vf_w_click": 1.4, "vf_w_dwell": 0.8}
    assert b.config["vf_w_dwell"] == 0.6  # blank cell -> baseline
    assert a.result is not None and a.result.metrics["dwell_time"].p_value == 0.003
    assert b.result is not None and 0 < b.result.metrics["dwell_time"].p_value < 1  # from the CI
    assert a.result.days_run == 14 and a.experiment_id == "q1"
    assert select_elites(cands, SKILL.metrics).elite_ids == ["import-q1-a"]
    # Importing again adds nothing.
    rep = import_experiments(p, j, SKILL.name, SKILL.space, SKILL.metrics, SKILL.baseline)
    assert rep.imported == [] and len(rep.skipped_existing) == 2


def test_csv_errors_name_row_and_field(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(
        HEADER
        + "q1,a,9.0,0.8,0.012,0.004,0.020,0.003,0.01,0.0,0.02,0,-0.01,0.01,0.01,0,0.02,0,"
        "-0.002,0.002,14\n"
        + "q1,b,1.0,0.8,0.05,0.004,0.020,1.5,0.01,0.0,0.02,0,-0.01,0.01,0.01,0,0.02,0,"
        "-0.002,0.002,x\n"
        + "q2,a,1.0,0.8,0.01,0.004,0.020,2,0.01,0.0,0.02,0,-0.01,0.01,0.01,0,0.02,0,"
        "-0.002,0.002,7\n"
    )
    with pytest.raises(WarmStartError) as info:
        _imp(p, tmp_path)
    text = str(info.value)
    assert "row 2, field 'vf_w_click'" in text
    assert "row 3, field 'days'" in text
    assert "row 4, field 'dwell_time_p'" in text
    assert not (tmp_path / "journal" / "value_fusion.json").exists()  # nothing written


def test_csv_unknown_column(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("experiment_id,arm,vf_w_bogus,dwell_time_lift\n")
    with pytest.raises(WarmStartError, match="vf_w_bogus"):
        _imp(p, tmp_path)


def test_json_import_and_errors(tmp_path: Path) -> None:
    good = {"experiments": [{
        "experiment_id": "j1", "arm": "x", "config": {"vf_w_negative": 2.0}, "days": 7,
        "metrics": {"dwell_time": {"lift": 0.01, "ci_low": 0.0, "ci_high": 0.02, "p": 0.05}},
    }]}
    p = tmp_path / "past.json"
    p.write_text(json.dumps(good))
    _, ids = _imp(p, tmp_path)
    assert ids == ["import-j1-x"]
    bad = [
        {"experiment_id": "j2", "arm": "x", "config": {}, "metrics": {
            "dwell_time": {"lift": 0.5, "ci_low": 0.0, "ci_high": 0.02}}},
        {"experiment_id": "j2", "arm": "y", "config": {}, "metrics": {
            "unknown_metric": {"lift": 0.0, "ci_low": 0.0, "ci_high": 0.0}}},
        {"experiment_id": "j2", "arm": "z", "colour": "red"},
    ]
    p.write_text(json.dumps(bad))
    with pytest.raises(WarmStartError) as info:
        _imp(p, tmp_path)
    msg = str(info.value)
    assert "row 0, field 'dwell_time_lift'" in msg and "outside its CI" in msg
    assert "row 1, field 'unknown_metric'" in msg
    assert "row 2, field 'colour'" in msg
    p.write_text("{not json")
    with pytest.raises(WarmStartError, match="line 1"):
        _imp(p, tmp_path)
