"""Round after round, the compiled graph's skill step keeps one rule per statement.

A rule the skill already holds that the next round's insight re-derives must be updated
(more supporting experiments, fresh effect and interval, the round that confirmed it), never
appended again under a suffixed id; a round that only re-confirms what is known, with no new
evidence, writes no skill version.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import pytest
from fake_results import arm_outcome

from rectune.bench.graph_method import GraphMethod
from rectune.bench.methods import ArmOutcome, make_method
from rectune.bench.runner import problem_for
from rectune.domain import (
    Config,
    MetricRole,
    MetricSpec,
    config_key,
)
from rectune.skillhub import SkillHub

pytestmark = pytest.mark.integration

TASK = "diversity"


def _measure(configs: Sequence[Config]) -> list[ArmOutcome]:
    """Every arm wins clearly on the primary metric (so re-tested configs replicate their
    win); the other metrics move a little, deterministically per configuration."""
    problem = problem_for(TASK)[0]
    out = []
    for j, config in enumerate(configs):
        digest = hashlib.sha256(config_key(config).encode()).digest()

        def lift(i: int, m: MetricSpec, digest: bytes = digest) -> float:
            if m.role is MetricRole.PRIMARY:
                return 0.03 + digest[i] / 255 * 0.01
            return (digest[i] - 128) / 128 * 0.002 * (1 if m.sign > 0 else -1) + 0.001 * m.sign

        out.append(arm_outcome(config, f"arm{j + 1}", problem.metrics, lift,
                               half_width=0.005, p_value=0.01))
    return out


def test_rederived_rules_are_updated_not_appended() -> None:
    problem = problem_for(TASK)[0]
    graph = make_method("rectune-graph", problem, 0, 2)
    assert isinstance(graph, GraphMethod)
    hub = SkillHub(f"{graph._ctx.workspace}/skills")
    try:
        seen: list[list[str]] = []
        for _ in range(4):
            picked = graph.ask(2)
            graph.tell(_measure(picked))
            seen.append([r.id for r in hub.get(TASK).learned_rules])
        rules = hub.get(TASK).learned_rules
        ids = [r.id for r in rules]
        assert rules, f"the made-up wins should teach at least one rule: {seen}"
        assert len(ids) == len(set(ids))
        # No statement held twice: a suffixed copy of an existing id is the bug.
        assert not [i for i in ids if any(i.startswith(j + "-") for j in ids if j != i)], ids
        # Rule ids, once learned, stay; later rounds only confirm them.
        for before, after in itertools.pairwise(seen):
            assert after[: len(before)] == before
        # One skill version per real change of the rules, none for a mere re-confirmation.
        versions = hub.versions(TASK)
        assert len(versions) <= 1 + 4
        for a, b in itertools.pairwise(versions):
            old = hub.get_version(TASK, a.version).learned_rules
            new = hub.get_version(TASK, b.version).learned_rules
            assert old != new, f"version {b.version} ({b.reason}) changed no rule"
    finally:
        graph.close()
