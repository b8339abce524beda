"""Hybrid merging, the surrogate's view for prompts, and the engine facade."""

from __future__ import annotations

import json

import pytest

from rectune.domain import config_key
from rectune.optimizers import (
    Engine,
    Proposal,
    SobolProposer,
    merge_proposals,
    surrogate_view,
)
from rectune.optimizers.synthetic import quadratic_bowl, run_loop


def prop(w: float, source: str) -> Proposal:
    cfg = {"a": w, "b": 1.0, "c": 1.0, "d": 1.0}
    return Proposal(delta={"a": w}, config=cfg, source=source)


LLM = [prop(v, "llm") for v in (1.1, 1.2, 1.3, 1.4, 1.5)]
ENGINE = [prop(v, "bayes") for v in (2.1, 2.2, 1.2, 2.3, 2.4, 2.5)]


@pytest.mark.parametrize(("share", "k", "n_llm"), [(0.0, 4, 0), (0.25, 4, 1), (0.5, 4, 2),
                                                     (0.5, 5, 2), (1.0, 4, 4), (0.34, 3, 1)])
def test_llm_share_is_capped(share: float, k: int, n_llm: int) -> None:
    merged = merge_proposals(LLM, ENGINE, k, llm_share=share)
    assert len(merged) == k
    assert sum(p.source == "llm" for p in merged) == n_llm
    assert len({p.key for p in merged}) == k


def test_merge_dedupes_across_sources_and_against_tested() -> None:
    merged = merge_proposals([LLM[1], LLM[1], LLM[0]], ENGINE, 4, llm_share=0.5,
                             exclude_keys=[LLM[0].key, ENGINE[0].key])
    keys = [p.key for p in merged]
    assert len(set(keys)) == len(keys) == 4
    assert LLM[0].key not in keys and ENGINE[0].key not in keys
    # The engine's copy of the LLM's 1.2 is dropped, not double-counted.
    assert [p.config["a"] for p in merged] == [1.2, 2.2, 2.3, 2.4]


def test_merge_keeps_the_cap_when_the_engine_runs_short() -> None:
    merged = merge_proposals(LLM, ENGINE[:1], 4, llm_share=0.5)
    assert [p.source for p in merged] == ["llm", "bayes", "llm"]
    with pytest.raises(ValueError):
        merge_proposals(LLM, ENGINE, 4, llm_share=1.5)


def test_surrogate_view_names_the_sensitive_knob() -> None:
    world = quadratic_bowl()
    history = run_loop(world, SobolProposer(), rounds=4, arms=4, seed=2)
    view = surrogate_view(world.problem, history)
    assert view.n_observations == 16
    assert len(view.best_configs) == 3
    assert set(view.best_region) == {"a", "b", "c", "d"}
    assert 0.0 <= view.uncertainty["unexplored_share"] <= 1.0
    # `a` alone drives the guardrail: the view names it as the knob that moves P(feasible)
    # most, and it is among the top three for the objective too (whose change around this
    # incumbent is small for every knob: each sits within a step of its peak).
    by_risk = max(view.sensitivity, key=lambda s: abs(s["p_feasible_change"]))
    assert by_risk["parameter"] == "a"
    assert "a" in [s["parameter"] for s in view.sensitivity[:3]]
    text = view.to_text()
    assert "Surrogate view of quadratic_bowl" in text and "P(guardrails hold)" in text
    json.dumps(view.to_dict())


def test_engine_stages_run_end_to_end_and_reuse_the_fit() -> None:
    world = quadratic_bowl()
    engine = Engine(llm_share=0.5)
    history = run_loop(world, SobolProposer(), rounds=2, arms=4, seed=0)
    llm = [Proposal.from_delta(world.problem.space, world.problem.baseline, {"a": 1.3},
                               source="llm", hypothesis="a bit more a")]
    props = engine.propose(world.problem, history, 4, seed=0, llm_proposals=llm)
    assert len(props) == 4 and sum(p.source == "llm" for p in props) == 1
    assert len({p.key for p in props}) == 4
    model = engine.fit(world.problem, history)
    assert engine.fit(world.problem, history) is model
    ranking = engine.critique(world.problem, history, props, k=3)
    assert len(ranking.selected) + len(ranking.rest) + len(ranking.rejected) == 4
    rec = engine.recommend(world.problem, history)
    assert rec.config == world.problem.baseline or config_key(rec.config) in {
        o.key for o in history
    }
    assert "Surrogate view" in engine.view(world.problem, history).to_text()
