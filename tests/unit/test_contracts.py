"""The shipped skills and the simulator agree on every task, knob and metric."""

from __future__ import annotations

import pytest

from rectune.simulator.tasks import TASKS, get_task
from rectune.skillhub.hub import SkillHub, shipped_skills_dir


@pytest.mark.parametrize("task", sorted(TASKS))
def test_shipped_skill_matches_the_simulator(task: str) -> None:
    skill = SkillHub(shipped_skills_dir()).get(task)
    sim = get_task(task)

    def bounds(space):  # type: ignore[no-untyped-def]
        return [(p.name, p.kind, getattr(p, "low", None), getattr(p, "high", None)) for p in space]

    assert bounds(skill.space) == bounds(sim.space)
    assert dict(skill.baseline) == dict(sim.production)
    assert {m.name: (m.role, m.direction, m.guardrail_threshold) for m in skill.metrics} == {
        m.name: (m.role, m.direction, m.guardrail_threshold) for m in sim.metrics
    }
    assert skill.ab_defaults.traffic_per_arm == sim.traffic_per_arm
    assert skill.ab_defaults.days == sim.days


def test_every_shipped_skill_has_a_simulator_task() -> None:
    assert sorted(SkillHub(shipped_skills_dir()).names()) == sorted(TASKS)
