"""Knowledge only rectune has: scale-invariant groups, deterministic guardrails, monotone
hints, and the human ownership of all three."""

from __future__ import annotations

import numpy as np
import pytest

from rectune.domain import FloatParameter, IntParameter, MetricSpec, SearchSpace
from rectune.domain.structure import TaskStructure
from rectune.optimizers import BayesianProposer, Observation, SurrogateCritic, TuningProblem
from rectune.optimizers.encoding import SpaceEncoder
from rectune.optimizers.problem import LiftEstimate
from rectune.optimizers.proposer import CandidateFilter
from rectune.skillhub import SkillHub, shipped_skills_dir
from rectune.skillhub.invariants import agent_change_violations

WEIGHTS = ("w_click", "w_dwell", "w_like")
SPACE = SearchSpace(
    parameters=[
        *(FloatParameter(name=n, low=0.0, high=4.0, soft_high=3.0) for n in WEIGHTS),
        IntParameter(name="cut", low=50, high=400, soft_low=80, soft_high=300),
    ]
)
METRICS = [
    MetricSpec(name="dwell_time", role="primary", direction="increase"),
    MetricSpec(name="serving_cost", role="guardrail", direction="decrease",
               guardrail_threshold=0.05),
]
STRUCTURE = TaskStructure(
    scale_invariant=[{"parameters": list(WEIGHTS), "reference": "w_dwell"}],
    deterministic=[{"metric": "serving_cost", "parameter": "cut"}],
    monotone=[{"parameter": "cut", "metric": "dwell_time", "direction": "increase"}],
)
BASE = {"w_click": 1.0, "w_dwell": 0.5, "w_like": 0.2, "cut": 150}
PROBLEM = TuningProblem(task="t", space=SPACE, metrics=METRICS, baseline=BASE,
                        structure=STRUCTURE)


def world(cfg: dict[str, float | int]) -> dict[str, float]:
    """Dwell depends on weight ratios only and rises with the cut; cost follows the cut."""
    r1 = float(cfg["w_click"]) / float(cfg["w_dwell"])
    r2 = float(cfg["w_like"]) / float(cfg["w_dwell"])
    dwell = -0.01 * (r1 - 0.8) ** 2 - 0.01 * (r2 - 1.0) ** 2 + 0.0002 * (int(cfg["cut"]) - 150)
    base = -0.01 * (2.0 - 0.8) ** 2 - 0.01 * (0.4 - 1.0) ** 2
    return {"dwell_time": dwell - base, "serving_cost": int(cfg["cut"]) / 150 - 1}


def observe(cfg: dict[str, float | int], rng: np.random.Generator, rnd: int) -> Observation:
    lifts = world(cfg)
    return Observation(
        config=cfg, round=rnd,
        metrics={k: LiftEstimate(lift=v + float(rng.normal(0, 0.003)), se=0.003)
                 for k, v in lifts.items()},
    )


def play(rounds: int = 3, arms: int = 4) -> list[Observation]:
    rng = np.random.default_rng(0)
    history: list[Observation] = []
    for r in range(1, rounds + 1):
        for p in BayesianProposer().propose(PROBLEM, history, arms, seed=r):
            history.append(observe(dict(p.config), rng, r))
    return history


def test_a_planted_scale_invariant_group_is_reduced() -> None:
    enc = SpaceEncoder(SPACE, STRUCTURE, BASE)
    doubled = {**{n: 2 * float(BASE[n]) for n in WEIGHTS}, "cut": 150}
    assert np.allclose(enc.encode(doubled), enc.encode(BASE))
    # The optimizer searches one weight less: the reference stays at production.
    assert not enc.free_mask[enc.param_slice("w_dwell").start]
    assert int(enc.free_mask.sum()) == len(SPACE) - 1
    history = play()
    assert {float(o.config["w_dwell"]) for o in history} == {0.5}
    # A pure rescaling of something tested is a repeat, not a new arm.
    keep = CandidateFilter(PROBLEM, history)
    tested = dict(history[-1].config)
    assert not keep.ok({**{n: 1.5 * float(tested[n]) for n in WEIGHTS}, "cut": tested["cut"]})


def test_a_deterministic_guardrail_becomes_a_hard_constraint() -> None:
    assert PROBLEM.hard_bounds() == {"cut": (80.0, pytest.approx(157.5))}
    assert PROBLEM.breaks_deterministic({**BASE, "cut": 158}) == ["serving_cost"]
    assert PROBLEM.is_admissible({**BASE, "cut": 157})
    # Dwell keeps rising with the cut, yet no arm ever goes past the limit.
    history = play(rounds=4)
    assert max(int(o.config["cut"]) for o in history) <= 157
    critic = SurrogateCritic.from_history(PROBLEM, history)
    (verdict,) = critic.assess([{**BASE, "cut": 200}])
    assert not verdict.admissible
    assert any("serving_cost" in p for p in verdict.problems)
    # Its forecast is exact, not a GP guess.
    assert verdict.forecasts["serving_cost"].mean == pytest.approx(200 / 150 - 1)


def test_monotone_hints_orient_the_first_round() -> None:
    props = BayesianProposer().propose(PROBLEM, [], 3, seed=0)
    cut_moves = [p for p in props if "cut" in p.delta]
    assert cut_moves and all(int(p.config["cut"]) > 150 for p in cut_moves)
    assert all(len(p.delta) == 1 for p in props)  # one knob per first-round arm


def test_structure_is_checked_against_the_task() -> None:
    bad = TaskStructure(deterministic=[{"metric": "serving_cost", "parameter": "nope"}])
    with pytest.raises(ValueError, match=r"structure\.deterministic"):
        TuningProblem(task="t", space=SPACE, metrics=METRICS, baseline=BASE, structure=bad)


def test_agents_may_not_change_the_structure() -> None:
    skill = SkillHub(shipped_skills_dir()).get("value_based_retrieval")
    assert skill.structure.deterministic
    edited = skill.model_copy(
        update={"structure": skill.structure.model_copy(update={"deterministic": []})}
    )
    assert agent_change_violations(skill, edited) == [
        "structure.deterministic: set by people (the optimizer treats it as fact); "
        "agents may not change it"
    ]
