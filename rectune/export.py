"""`rectune export`: the configuration to ship, in the platform's own format, with its evidence.

Two files an engineer can attach to a launch ticket: the skill's platform config file for the
recommended configuration (rendered from the skill's template), and ``launch.yaml`` (or
``.json``) with the configuration, its change against production, the engine's estimate and
probabilities, every arm that tested it and the reasoning in words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from rectune.domain import Candidate, LaunchAdvice, MetricRole, config_key, utcnow
from rectune.durable import atomic_write_text
from rectune.memory.elites import guardrail_outcome
from rectune.memory.journal import Journal
from rectune.ports.engine import EnginePort, engine_for, observations_of
from rectune.report.explain import explain_advice
from rectune.skillhub.hub import SkillHub
from rectune.skillhub.model import Skill
from rectune.skillhub.render import render_platform_config
from rectune.workspace import Workspace

__all__ = ["Export", "export_launch"]


@dataclass(frozen=True)
class Export:
    """What `export_launch` wrote."""

    advice: LaunchAdvice
    platform_file: Path
    evidence_file: Path
    evidence: dict[str, Any]


def _arms(skill: Skill, advice: LaunchAdvice, cands: list[Candidate]) -> list[dict[str, Any]]:
    key = config_key(advice.config)
    out = []
    for c in cands:
        if c.result is None or config_key(c.config) != key:
            continue
        metrics = {}
        for m in skill.metrics:
            r = c.result.metrics.get(m.name)
            if r is None:
                continue
            entry: dict[str, Any] = {
                "lift": r.relative_lift, "ci_low": r.ci_low, "ci_high": r.ci_high,
                "p_value": r.p_value, "significant": r.significant,
            }
            if m.role is MetricRole.GUARDRAIL:
                entry["guardrail_limit"] = m.guardrail_threshold
                outcome = guardrail_outcome(c.result, m)
                entry["verdict"] = outcome.value if outcome else None
            metrics[m.name] = entry
        out.append(
            {
                "candidate_id": c.id,
                "round": c.round,
                "experiment_id": c.experiment_id,
                "days_run": c.result.days_run,
                "stopped_early": c.result.aborted,
                "metrics": metrics,
            }
        )
    return out


def export_launch(
    workspace: str | Path,
    task: str,
    *,
    out_dir: str | Path | None = None,
    fmt: Literal["yaml", "json"] = "yaml",
    risk_threshold: float = 0.5,
    llm_share: float = 0.5,
) -> Export:
    """Write the recommended configuration of `task` and its evidence.

    Args:
        workspace: The workspace.
        task: The task (skill) to export.
        out_dir: Where to write; default ``<workspace>/exports/<task>/``.
        fmt: The evidence file's format.
        risk_threshold: The engine setting the rounds ran with (it does not change the
            launch advice, only the engine instance that gives it).
        llm_share: Likewise.

    Returns:
        The files written and the advice they carry (production when nothing is better).
    """
    ws = Workspace(workspace)
    skill = SkillHub.in_workspace(ws.root, install=False).get(task)
    cands = Journal.in_workspace(ws.root).candidates(task)
    history, _ = observations_of(cands)
    port = EnginePort.for_skill(engine_for(risk_threshold, llm_share), skill)
    advice = port.advise(history, cands)
    target = Path(out_dir) if out_dir is not None else ws.export_dir(task)
    label = advice.candidate_id or "production"
    rendered = render_platform_config(skill, advice.config, arm="launch", experiment_id=label)
    platform_file = target / rendered.file_name
    atomic_write_text(platform_file, rendered.content)
    evidence: dict[str, Any] = {
        "task": task,
        "skill_version": skill.version,
        "generated_at": utcnow().isoformat(),
        "recommendation": "keep production" if advice.is_baseline else "ship",
        "candidate_id": advice.candidate_id,
        "config": advice.config,
        "change_from_production": advice.delta,
        "estimate": {
            "objective": advice.objective,
            "objective_95": [
                advice.objective - 1.96 * advice.objective_sd,
                advice.objective + 1.96 * advice.objective_sd,
            ],
            "objective_metrics": advice.objective_metrics,
            "p_better_than_production": advice.p_better,
            "p_every_guardrail_holds": advice.p_feasible,
            "lifts": {k: v.model_dump() for k, v in advice.lifts.items()},
        },
        "explanation": explain_advice(advice),
        "tested_in": _arms(skill, advice, cands),
        "platform_file": rendered.file_name,
        "note": "lifts are fractions (0.01 = +1%); intervals are 95%",
    }
    name = f"launch.{fmt}"
    text = (
        yaml.safe_dump(evidence, sort_keys=False, allow_unicode=True)
        if fmt == "yaml"
        else json.dumps(evidence, indent=2) + "\n"
    )
    evidence_file = target / name
    atomic_write_text(evidence_file, text)
    return Export(advice, platform_file, evidence_file, evidence)
