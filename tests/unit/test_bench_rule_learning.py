"""The benchmark's fast path learns rules as the graph's Insight and Skill agents do."""

from __future__ import annotations

from fake_results import arm_outcome

from rectune.bench.methods import EngineMethod, make_method
from rectune.bench.runner import problem_for
from rectune.domain import MetricSpec, RuleConstraint


def _harmful_cap_round(method: EngineMethod, rise: float = 0.05) -> None:
    """Round 1: two arms raise only `div_topic_cap` (6 -> 7 and 6 -> 8) and each measures a
    `rise` in the negative rate (a guardrail with a +3% limit) at a standard error of 0.5%
    (the insight statistics need two arms of a move before they judge it)."""
    problem = method.problem

    def lift(_: int, m: MetricSpec) -> float:
        return rise if m.name == "negative_rate" else 0.0

    method.round = 1
    method.tell([
        arm_outcome(dict(problem.baseline) | {"div_topic_cap": cap}, f"arm{j}", problem.metrics,
                    lift, half_width=0.01, p_value=0.5)
        for j, cap in enumerate((7, 8), start=1)
    ])


def test_a_significant_harmful_one_knob_move_becomes_a_constraint_of_the_next_round() -> None:
    problem = problem_for("diversity")[0]
    assert not problem.constraints
    fast = make_method("rectune", problem, 0, 2)
    assert isinstance(fast, EngineMethod)
    _harmful_cap_round(fast)
    assert [r.constraint for r in fast.rules] == [
        RuleConstraint(parameter="div_topic_cap", op="<", value=7)
    ]
    assert fast.problem.constraints == [fast.rules[0].constraint]
    picks = fast.ask(2)
    assert picks and all(int(c["div_topic_cap"]) < 7 for c in picks)
    # The shared problem object is not edited in place: other methods keep theirs.
    assert not problem.constraints


def test_a_guardrail_that_rose_within_its_limit_gives_a_rule_but_no_constraint() -> None:
    problem = problem_for("diversity")[0]
    fast = make_method("rectune", problem, 0, 2)
    assert isinstance(fast, EngineMethod)
    _harmful_cap_round(fast, rise=0.019)  # significant (pooled 5.3 SE), within +3%
    assert [r.parameters for r in fast.rules] == [["div_topic_cap"]]
    assert fast.rules[0].constraint is None and fast.problem.constraints == []


def test_learning_can_be_switched_off_for_an_ablation() -> None:
    problem = problem_for("diversity")[0]
    fast = make_method("rectune", problem, 0, 2)
    assert isinstance(fast, EngineMethod)
    fast.learn = False
    _harmful_cap_round(fast)
    assert fast.rules == [] and fast.problem.constraints == []
