"""The structure each shipped skill declares holds in the embedded simulator.

The optimizer takes a skill's structure as fact: a scale-invariant group loses its reference
knob, a monotone effect points the first round's steps, a deterministic guardrail becomes a
hard constraint. A claim the world contradicts therefore cripples the search without any
error (the retrieval and fusion skills once declared their weights scale-invariant after the
simulator had given them a fixed scale, so the engine never moved `vbr_w_dwell`).
"""

from __future__ import annotations

import pytest

from rectune.domain import FloatParameter, IntParameter
from rectune.simulator.optimum import load_optima
from rectune.simulator.oracle import oracle_lifts
from rectune.skillhub import SkillHub, shipped_skills_dir
from rectune.skillhub.model import Skill

USERS = 6_000
FLAT = 0.002
"""A monotone effect may flatten where it saturates: a fall smaller than this (about the
oracle's noise here) is flat, not a reversal; MMR's lambda fell by 0.4 points at the optimum."""
DAYS = 3
SKILLS = ["value_based_retrieval", "value_fusion", "diversity"]


def _skill(name: str) -> Skill:
    return SkillHub(shipped_skills_dir()).get(name)


@pytest.mark.parametrize("name", SKILLS)
def test_scale_invariant_groups_are_invariant(name: str) -> None:
    skill = _skill(name)
    for group in skill.structure.scale_invariant:
        doubled = {p: 2.0 * float(skill.baseline[p]) for p in group.parameters}
        lifts = oracle_lifts(name, doubled, n_users=USERS, days=DAYS)
        assert max(abs(v) for v in lifts.values()) < 1e-9, (name, group, lifts)


@pytest.mark.parametrize("name", SKILLS)
def test_monotone_effects_point_the_declared_way(name: str) -> None:
    # At production and at the cached optimum: "whenever the knob rises" is a claim about the
    # whole box, and the optimum is where an optimizer leans on it (MMR's lambda raised topic
    # diversity near production but lowered it at the diversity optimum, so it is not declared).
    skill = _skill(name)
    params = {p.name: p for p in skill.space.parameters}
    centres = [dict(skill.baseline), load_optima()["tasks"][name]["config"]]
    for mono in skill.structure.monotone:
        p = params[mono.parameter]
        assert isinstance(p, FloatParameter | IntParameter)
        for centre in centres:
            base = float(centre[p.name])
            step = 0.25 * (p.high - p.low)
            lo, hi = max(p.low, base - step), min(p.high, base + step)
            if isinstance(p, IntParameter):
                lo, hi = round(lo), round(hi)
            low = oracle_lifts(name, {**centre, p.name: lo}, n_users=USERS, days=DAYS)
            high = oracle_lifts(name, {**centre, p.name: hi}, n_users=USERS, days=DAYS)
            sign = 1.0 if mono.direction == "increase" else -1.0
            gap = sign * (high[mono.metric] - low[mono.metric])
            assert gap > -FLAT, (name, mono, centre, lo, hi, gap)


def test_the_retrieval_cut_sets_serving_cost_in_proportion() -> None:
    skill = _skill("value_based_retrieval")
    (det,) = skill.structure.deterministic
    base = int(skill.baseline[det.parameter])
    lifts = oracle_lifts(
        "value_based_retrieval", {det.parameter: 2 * base}, n_users=USERS, days=DAYS
    )
    assert lifts[det.metric] == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("name", SKILLS)
def test_the_cached_optimum_lies_in_the_skills_soft_box(name: str) -> None:
    # Every optimizer of the benchmark searches the skill's soft box, and the benchmark scores
    # against this optimum: outside the box the bar is out of every method's reach (the
    # retrieval skill's soft floor of 80 on the cut once excluded the optimum's cut of 50).
    skill = _skill(name)
    optimum = load_optima()["tasks"][name]["config"]
    assert skill.space.soft_violations({**skill.baseline, **optimum}) == [], (name, optimum)
