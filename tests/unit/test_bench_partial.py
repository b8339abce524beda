"""Resuming a benchmark from its partial file never mixes A/B plans."""

from __future__ import annotations

import json
from pathlib import Path

from rectune.bench.runner import BenchSettings, _load_partial, ab_plan, problem_for


def _line(settings: BenchSettings, plan: list[float] | None, seed: int) -> str:
    item: dict[str, object] = {
        "settings": settings.to_dict(),
        "run": {"task": "diversity", "method": "sobol", "seed": seed, "final_pct": 1.0},
    }
    if plan is not None:
        item["plan"] = plan
    return json.dumps(item)


def test_runs_made_under_another_plan_are_not_reused(tmp_path: Path) -> None:
    skill_traffic, skill_days = problem_for("diversity")[1:]
    implicit = BenchSettings(tasks=("diversity",), methods=("sobol",))
    here = ab_plan(implicit, "diversity")
    assert here == [float(skill_traffic), float(skill_days)]
    path = tmp_path / "x.partial.jsonl"
    path.write_text(
        "\n".join(
            [
                _line(implicit, here, 0),  # same plan: reused
                _line(implicit, [here[0] / 2, here[1]], 1),  # the skill's traffic changed since
                _line(implicit, None, 2),  # plan unknown and left to the skill: not trusted
            ]
        )
    )
    assert [r["seed"] for r in _load_partial(path, implicit)] == [0]

    explicit = BenchSettings(tasks=("diversity",), methods=("sobol",), traffic_per_arm=0.1, days=3)
    path.write_text(_line(explicit, None, 5) + "\n" + _line(explicit, [0.1, 3.0], 6))
    assert [r["seed"] for r in _load_partial(path, explicit)] == [5, 6]
    assert _load_partial(path, implicit) == []
