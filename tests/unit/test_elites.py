"""Elites: feasibility on CIs, Pareto front against brute force, diversity cap."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rectune.domain import ArmResult, Candidate, MetricResult, MetricSpec
from rectune.memory import greedy_maxmin, guardrail_breached, pareto_front, select_elites

METRICS = [
    MetricSpec(name="dwell", role="primary", direction="increase"),
    MetricSpec(name="clicks", role="secondary", direction="increase", priority=2),
    MetricSpec(name="neg", role="secondary", direction="decrease", priority=3),
    MetricSpec(name="cost", role="guardrail", direction="decrease", guardrail_threshold=0.05),
]


def mr(name: str, lift: float, half: float = 0.01) -> MetricResult:
    return MetricResult(
        metric=name, control_mean=1.0, treatment_mean=1 + lift, relative_lift=lift,
        ci_low=lift - half, ci_high=lift + half, p_value=0.5,
    )


def cand(cid: str, dwell: float, clicks: float, neg: float, cost: float = 0.0,
         cost_half: float = 0.01) -> Candidate:
    res = ArmResult(arm=cid, metrics={
        "dwell": mr("dwell", dwell), "clicks": mr("clicks", clicks), "neg": mr("neg", neg),
        "cost": mr("cost", cost, cost_half),
    })
    return Candidate(id=cid, task="t", round=1, delta={}, config={}, result=res)


def brute_force(cands: list[Candidate]) -> set[str]:
    """Non-dominated set by the definition, with direction-signed goodness."""
    def good(c: Candidate) -> tuple[float, float, float]:
        assert c.result is not None
        m = c.result.metrics
        return (m["dwell"].relative_lift, m["clicks"].relative_lift, -m["neg"].relative_lift)

    out = set()
    for a in cands:
        ga = good(a)
        dominated = False
        for b in cands:
            gb = good(b)
            if all(x >= y for x, y in zip(gb, ga, strict=True)) and gb != ga:
                dominated = True
        if not dominated:
            out.add(a.id)
    return out


def test_hand_made_fixture() -> None:
    cands = [
        cand("best_dwell", 0.05, 0.00, 0.00),
        cand("best_clicks", 0.01, 0.04, 0.00),
        cand("low_neg", 0.01, 0.00, -0.03),
        cand("dominated", 0.00, 0.00, 0.00),
        cand("also_dominated", 0.01, 0.03, 0.00),
        cand("breach", 0.09, 0.09, -0.09, cost=0.10),  # CI [0.09, 0.11] wholly above +5%
        cand("uncertain_cost", 0.02, 0.02, 0.01, cost=0.06, cost_half=0.03),  # CI spans 5%
    ]
    sel = select_elites(cands, METRICS, max_size=None)
    assert "breach" in sel.infeasible and "guardrail cost" in sel.infeasible["breach"]
    assert set(sel.front_ids) == brute_force([c for c in cands if c.id != "breach"])
    assert set(sel.front_ids) == {"best_dwell", "best_clicks", "low_neg", "uncertain_cost"}
    assert sel.elite_ids[0] == "best_dwell"
    assert set(sel.dominated_ids) == {"dominated", "also_dominated"}
    strict = select_elites(cands, METRICS, max_size=None, policy="strict")
    assert "uncertain_cost" in strict.infeasible


def test_missing_result_and_aborted_are_infeasible() -> None:
    c = Candidate(id="x", task="t", round=1, delta={}, config={})
    aborted = cand("y", 0.1, 0.1, 0.0).model_copy(update={"result": ArmResult(
        arm="y", metrics={}, aborted=True, abort_reason="guardrail alarm")})
    missing = cand("z", 0.1, 0.1, 0.0)
    assert missing.result is not None
    missing = missing.model_copy(update={"result": missing.result.model_copy(
        update={"metrics": {k: v for k, v in missing.result.metrics.items() if k != "cost"}})})
    sel = select_elites([c, aborted, missing], METRICS)
    assert sel.elite_ids == []
    assert sel.infeasible["x"] == "no result"
    assert "guardrail alarm" in sel.infeasible["y"]
    assert "not measured" in sel.infeasible["z"]


def test_guardrail_policies_on_increase_metric() -> None:
    g = MetricSpec(name="ret", role="guardrail", direction="increase", guardrail_threshold=-0.005)
    r = MetricResult(metric="ret", control_mean=1, treatment_mean=0.99, relative_lift=-0.01,
                     ci_low=-0.02, ci_high=0.0, p_value=0.05)
    assert not guardrail_breached(g, r, "ci")
    assert guardrail_breached(g, r, "point") and guardrail_breached(g, r, "strict")
    r2 = r.model_copy(update={"ci_high": -0.006})
    assert guardrail_breached(g, r2, "ci")


def test_cap_keeps_diverse_points_starting_at_best_primary() -> None:
    # A front along a line: the cap should keep both ends, not a cluster.
    cands = [cand(f"p{i}", 0.01 * i, 0.01 * (10 - i), 0.0) for i in range(11)]
    sel = select_elites(cands, METRICS, max_size=3)
    assert len(sel.front_ids) == 11
    assert sel.elite_ids[0] == "p10" and sel.elite_ids[1] == "p0"
    assert sel.elite_ids[2] == "p5"


def test_greedy_maxmin_matches_brute_force_objective() -> None:
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(9, 2))
    chosen = greedy_maxmin(pts.tolist(), 3, 0)
    assert chosen[0] == 0 and len(set(chosen)) == 3
    # Greedy is a 2-approximation of the best max-min spread among sets containing the start.
    def spread(ix: tuple[int, ...]) -> float:
        return min(float(np.linalg.norm(pts[a] - pts[b])) for a, b in itertools.combinations(ix, 2))
    best = max(spread((0, *rest)) for rest in itertools.combinations(range(1, 9), 2))
    assert spread(tuple(chosen)) >= best / 2 - 1e-12


lifts = st.floats(min_value=-0.1, max_value=0.1, allow_nan=False).map(lambda x: round(x, 3))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(lifts, lifts, lifts), min_size=1, max_size=14))
def test_front_matches_brute_force_random(rows: list[tuple[float, float, float]]) -> None:
    cands = [cand(f"c{i}", *r) for i, r in enumerate(rows)]
    sel = select_elites(cands, METRICS, max_size=None)
    assert set(sel.front_ids) == brute_force(cands)
    assert set(sel.elite_ids) == set(sel.front_ids)
    capped = select_elites(cands, METRICS, max_size=3)
    assert set(capped.elite_ids) <= set(sel.front_ids)
    assert len(capped.elite_ids) == min(3, len(sel.front_ids))
    assert capped.elite_ids[0] == max(
        sel.front_ids, key=lambda i: (tuple(sel.goodness[i]), -int(i[1:]))
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(-5, 5), min_size=2, max_size=2), min_size=1, max_size=20))
def test_pareto_front_function(points: list[list[int]]) -> None:
    front = set(pareto_front(points))
    for i, p in enumerate(points):
        dominated = any(
            all(q[k] >= p[k] for k in range(2)) and q != p for q in points
        )
        assert (i in front) == (not dominated)
