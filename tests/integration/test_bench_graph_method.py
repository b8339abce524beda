"""``rectune-graph`` (the compiled round graph) picks what ``rectune`` (the fast path) picks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest
from fake_results import arm_outcome

from rectune.agents.runtime import policy_settings
from rectune.bench.graph_method import GraphMethod
from rectune.bench.methods import ArmOutcome, EngineMethod, make_method
from rectune.bench.runner import BenchSettings, OptimumInfo, problem_for, run_one
from rectune.domain import (
    Config,
    MetricRole,
    MetricSpec,
    config_key,
)

pytestmark = pytest.mark.integration

TASK = "diversity"


def _picks(run: dict[str, Any]) -> list[list[Config]]:
    return [[arm["config"] for arm in rnd["arms"]] for rnd in run["rounds"]]


def test_graph_and_fast_path_pick_the_same_arms_on_the_simulator(tmp_path: Any) -> None:
    """Both methods through the benchmark's own loop: same arms, same launch, every round."""
    problem = problem_for(TASK)[0]
    settings = BenchSettings(
        tasks=(TASK,), rounds=3, arms=2, seeds=2, population=3_000, days=1,
        oracle_users=200, cache_dir=str(tmp_path / "oracle"),
    )
    # Scoring is not what is compared: a stand-in optimum keeps the oracle search out.
    optimum = OptimumInfo(
        TASK, dict(problem.baseline), 0.01, 0.01, {m.name: 0.0 for m in problem.metrics}
    )
    for seed in range(settings.seeds):
        fast = run_one(TASK, "rectune", seed, settings, optimum)
        graph = run_one(TASK, "rectune-graph", seed, settings, optimum)
        assert _picks(graph) == _picks(fast), f"seed {seed}"
        assert [len(p) for p in _picks(graph)] == [2, 2, 2]
        assert [r["launched"] for r in graph["rounds"]] == [r["launched"] for r in fast["rounds"]]


def _measure(configs: Sequence[Config], round_no: int) -> list[ArmOutcome]:
    """Made-up but deterministic A/B results; round 1's second arm is stopped early by a
    breached guardrail (the case that once made the two paths read different histories), and
    its first is a clear winner (a leader for a round that decides)."""
    problem = problem_for(TASK)[0]
    out = []
    for j, config in enumerate(configs):
        stopped = round_no == 1 and j == 1
        winner = round_no == 1 and j == 0
        digest = hashlib.sha256(config_key(config).encode()).digest()

        def lift(
            i: int, m: MetricSpec, stopped: bool = stopped, winner: bool = winner,
            digest: bytes = digest,
        ) -> float:
            if stopped and m.role is MetricRole.GUARDRAIL:
                return -0.05 if m.sign > 0 else 0.05
            if winner:
                return 0.04 if m.role is MetricRole.PRIMARY else 0.0
            return (digest[i] - 128) / 128 * 0.02

        out.append(arm_outcome(config, f"arm{j + 1}", problem.metrics, lift,
                               half_width=0.01, p_value=0.5, stopped=stopped))
    return out


@pytest.mark.parametrize("budget", [None, 3])
def test_an_arm_stopped_early_is_read_alike(budget: int | None) -> None:
    """An early-stopped arm keeps only its breached guardrails in both paths' history; with a
    round budget the last round decides the launch in both."""
    problem = problem_for(TASK)[0]
    fast = make_method("rectune", problem, 0, 2, budget)
    graph = make_method("rectune-graph", problem, 0, 2, budget)
    # The fast path plays the graph's own policy settings (risk limit, LLM share, passes...).
    assert isinstance(graph, GraphMethod) and isinstance(fast, EngineMethod)
    assert policy_settings(graph._ctx) == fast.settings(2)
    tested: set[str] = set()
    repeats = []
    for round_no in (1, 2, 3):
        picked = graph.ask(2)
        assert len(picked) == 2
        assert picked == fast.ask(2), f"round {round_no}"
        assert policy_settings(graph._ctx) == fast.settings(2)
        assert policy_settings(graph._ctx).decide is (budget == round_no)
        repeats.append(sum(config_key(c) in tested for c in picked))
        tested |= {config_key(c) for c in picked}
        outcomes = _measure(picked, round_no)
        fast.tell(outcomes)
        graph.tell(outcomes)
        assert graph.launch() == fast.launch(), f"round {round_no}"
    if budget == 3:
        assert repeats[2] >= 1  # the decision round re-tested the leader


def test_a_synthetic_task_is_refused_with_the_reason() -> None:
    from rectune.bench.synthetic import synthetic_task

    problem = synthetic_task("synth_ridge:0").problem
    with pytest.raises(ValueError, match="not a shipped skill"):
        make_method("rectune-graph", problem, 0, 2)
