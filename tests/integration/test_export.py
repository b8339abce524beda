"""`rectune export` renders exactly the recommended configuration in the skill's template;
the journal comes out as CSV and as a DataFrame with numbers as numbers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rectune import history_frame, run
from rectune.cli import app
from rectune.skillhub.hub import SkillHub
from rectune.skillhub.render import render_platform_config

pytestmark = pytest.mark.integration

SMALL = {"proposals_per_round": 4, "arms_per_ab": 2, "days": 3, "seed": 5}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rectune.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("export") / "ws").root
    reports = run("value_fusion", rounds=2, workspace=ws, model=None, approve=True, **SMALL)
    assert [r.status.value for r in reports] == ["completed", "completed"]
    return ws


def test_export_renders_exactly_the_recommended_configuration(tuned: Path, tmp_path: Path) -> None:
    out = tmp_path / "ticket"
    result = CliRunner().invoke(
        app, ["export", "value_fusion", "-w", str(tuned), "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    evidence = yaml.safe_load(Path(made["evidence_file"]).read_text())
    skill = SkillHub.in_workspace(tuned, install=False).get("value_fusion")
    expected = render_platform_config(
        skill, evidence["config"], arm="launch",
        experiment_id=evidence["candidate_id"] or "production",
    )
    assert Path(made["platform_file"]).read_text() == expected.content
    rendered = json.loads(Path(made["platform_file"]).read_text())
    assert rendered["weights"]["click"] == evidence["config"]["vf_w_click"]
    assert evidence["recommendation"] in ("ship", "keep production")
    assert 0.0 <= evidence["estimate"]["p_every_guardrail_holds"] <= 1.0
    assert evidence["explanation"] and evidence["platform_file"] == expected.file_name
    if evidence["recommendation"] == "ship":
        assert evidence["tested_in"], "a shipped configuration lists the arms that tested it"


def test_history_as_csv_and_dataframe(tuned: Path) -> None:
    result = CliRunner().invoke(app, ["history", "value_fusion", "-w", str(tuned), "--csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4 and {"dwell_time.lift", "negative_rate.verdict"} <= set(rows[0])
    frame = history_frame("value_fusion", workspace=tuned)
    assert len(frame) == 4
    assert frame["dwell_time.lift"].dtype.kind == "f"
    assert set(frame["negative_rate.verdict"]) <= {"passed", "inconclusive", "breached"}
    assert frame["elite"].dtype == bool
