"""The scripted LLM stand-in of the benchmark's hybrid method."""

from __future__ import annotations

from rectune.bench.analyst import ScriptedAnalyst
from rectune.bench.methods import EngineMethod
from rectune.bench.runner import problem_for
from rectune.domain import config_key
from rectune.optimizers import Engine


def test_ideas_are_valid_deterministic_and_sometimes_outside_the_soft_box() -> None:
    problem = problem_for("value_fusion")[0]
    a = ScriptedAnalyst(problem, seed=3, wild_share=0.5)
    ideas = a.propose(Engine(), [], 40, round=1)
    again = a.propose(Engine(), [], 40, round=1)
    assert [p.key for p in ideas] == [p.key for p in again]
    assert {p.source for p in ideas} == {"llm"}
    for p in ideas:
        problem.space.validate_config(p.config)  # inside the hard bounds
    outside = [p for p in ideas if problem.space.soft_violations(p.config)]
    assert 0 < len(outside) < len(ideas)


def test_the_critic_keeps_careless_ideas_out_of_the_test() -> None:
    problem = problem_for("value_fusion")[0]
    wild = ScriptedAnalyst(problem, seed=0, wild_share=1.0)
    method = EngineMethod(problem, seed=0, analyst=wild, name="rectune-hybrid")
    chosen = method.ask(4)
    assert len(chosen) == 4
    assert all(not problem.space.soft_violations(c) for c in chosen)
    assert config_key(problem.baseline) not in {config_key(c) for c in chosen}
