"""The HTML report: it links every plot, every plot is a real PNG of the declared size."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from rectune.domain import (
    ArmResult,
    Candidate,
    CandidateStatus,
    ExperimentResult,
    ExperimentState,
    MetricResult,
)
from rectune.domain.rules import LearnedRule, RuleEvidence
from rectune.memory.journal import Journal, RoundRecord
from rectune.report import HEIGHT_PX, WIDTH_PX, build_report, write_report
from rectune.skillhub.hub import SkillHub

TASK = "value_fusion"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path} has no IHDR chunk first"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _metric(name: str, lift: float, half: float = 0.01) -> MetricResult:
    return MetricResult(
        metric=name,
        control_mean=1.0,
        treatment_mean=1.0 + lift,
        relative_lift=lift,
        ci_low=lift - half,
        ci_high=lift + half,
        p_value=0.01 if abs(lift) > half else 0.5,
        significant=abs(lift) > half,
    )


def _fill_journal(ws: Path, rounds: int = 2, arms: int = 3) -> None:
    """Hand-made history: `rounds` experiments of `arms` arms, one arm breaching a guardrail."""
    journal = Journal.in_workspace(ws)
    skill = SkillHub.in_workspace(ws, install=False).get(TASK)
    for rnd in range(1, rounds + 1):
        cands = []
        arm_results = []
        for i in range(arms):
            cid = f"{TASK}-r{rnd}-c{i}"
            delta = {"vf_w_dwell": round(0.6 + 0.1 * (i + rnd), 3), "vf_w_click": 1.0 - 0.05 * i}
            cands.append(
                Candidate(
                    id=cid,
                    task=TASK,
                    round=rnd,
                    delta=delta,
                    config={**skill.baseline, **delta},
                    status=CandidateStatus.APPROVED,
                )
            )
            breach = i == arms - 1 and rnd == 1
            metrics = {
                "dwell_time": _metric("dwell_time", 0.01 * (i + rnd)),
                "clicks": _metric("clicks", 0.005 * (2 - i)),
                "retention": _metric("retention", 0.001 * i),
                "negative_rate": _metric("negative_rate", 0.08 if breach else -0.01),
                "topic_diversity": _metric("topic_diversity", 0.0),
            }
            arm_results.append(
                ArmResult(arm=f"arm{i}", candidate_id=cid, metrics=metrics, days_run=3)
            )
        journal.add_candidates(TASK, cands)
        exp = ExperimentResult(
            experiment_id=f"exp-{rnd}",
            task=TASK,
            state=ExperimentState.COMPLETED,
            days_run=3,
            arms=arm_results,
        )
        journal.record_results(TASK, exp)
        journal.record_round(
            TASK,
            RoundRecord(
                round=rnd,
                candidate_ids=[c.id for c in cands],
                experiment_id=f"exp-{rnd}",
                notes=["<script>alert('x')</script> & more"],
            ),
        )


def _img_sources(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def test_report_links_every_plot_and_each_is_a_png_of_the_declared_size(
    workspace: Path,
) -> None:
    _fill_journal(workspace)
    files = build_report(workspace, TASK)

    assert files.index == workspace / "reports" / TASK / "index.html"
    assert files.tested == 6
    assert {"pareto_front", "lift_per_round", "parameter_values"} <= set(files.plots)
    html = files.index.read_text()
    linked = _img_sources(html)
    assert sorted(linked) == sorted(p.name for p in files.plots.values())
    on_disk = sorted(p.name for p in files.index.parent.glob("*.png"))
    assert sorted(linked) == on_disk
    for name in linked:
        assert not Path(name).is_absolute()
        assert png_size(files.index.parent / name) == (WIDTH_PX, HEIGHT_PX)
    assert f'width="{WIDTH_PX}" height="{HEIGHT_PX}"' in html


def test_report_marks_elites_and_infeasible_and_escapes_text(workspace: Path) -> None:
    _fill_journal(workspace)
    html = build_report(workspace, TASK).index.read_text()
    assert "<h2>Elites</h2>" in html
    assert "Infeasible configurations" in html
    assert "guardrail negative_rate breached" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_report_shows_learned_rules_with_evidence_and_versions(workspace: Path) -> None:
    _fill_journal(workspace)
    hub = SkillHub.in_workspace(workspace, install=False)
    rule = LearnedRule(
        id="rule-dwell",
        text="Raising vf_w_dwell helps dwell <time>.",
        parameters=["vf_w_dwell"],
        experiment_ids=["exp-1", "exp-2"],
        evidence=[
            RuleEvidence(
                metric="dwell_time", effect=0.02, ci_low=0.01, ci_high=0.03, n_experiments=2
            )
        ],
    )
    hub.add_rules(TASK, [rule], "learned from exp-1 and exp-2")
    html = write_report(workspace, TASK).read_text()
    assert "rule-dwell" in html
    assert "dwell &lt;time&gt;." in html
    assert "exp-1, exp-2" in html
    assert "+2.00% [+1.00%, +3.00%] n=2" in html
    assert "learned from exp-1 and exp-2" in html


def test_report_without_history_is_valid_and_says_so(workspace: Path) -> None:
    files = build_report(workspace, "diversity")
    html = files.index.read_text()
    assert files.plots == {}
    assert files.tested == 0
    assert _img_sources(html) == []
    assert "No tested configurations for diversity yet" in html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_report_rewrite_removes_stale_plots(workspace: Path) -> None:
    out = workspace / "reports" / TASK
    out.mkdir(parents=True)
    (out / "old_plot.png").write_bytes(PNG_SIGNATURE)
    build_report(workspace, TASK)
    assert not (out / "old_plot.png").exists()


def test_report_of_an_unknown_task_names_the_known_ones(workspace: Path) -> None:
    from rectune.skillhub.errors import SkillNotFoundError

    with pytest.raises(SkillNotFoundError, match="value_fusion"):
        build_report(workspace, "nosuch")
