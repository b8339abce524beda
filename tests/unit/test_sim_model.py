"""The simulated world, the stages and the task definitions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rectune.domain import ConfigError, MetricRole, SpecError
from rectune.simulator.engine import Simulator
from rectune.simulator.knobs import StackConfig
from rectune.simulator.metrics import METRICS, Col
from rectune.simulator.parts import WorldParts
from rectune.simulator.population import population_means, run_cohort
from rectune.simulator.tasks import (
    PRODUCTION,
    TASKS,
    full_config,
    get_task,
    production_stack,
    stack_for,
)
from rectune.simulator.world import PAGE_SIZE, RETRIEVED, Users, WorldParams, make_world

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator.create(seed=0)


def test_world_has_the_required_size_and_features() -> None:
    w = make_world(WorldParams(seed=1))
    assert w.n_items >= 20_000 and RETRIEVED >= 300
    assert np.all(np.diff(w.topic) >= 0)  # grouped by topic
    c = w.corpus(0)
    assert ((c.clickbait > 0) & (c.clickbait < 1)).all()
    assert ((c.freshness > 0) & (c.freshness <= 1)).all()
    assert np.corrcoef(c.quality, c.clickbait)[0, 1] < 0
    for t in range(w.n_topics):
        lo, n = int(w.topic_start[t]), int(w.topic_size[t])
        assert (w.topic[lo : lo + n] == t).all()


def test_items_churn_and_age() -> None:
    w = make_world(WorldParams(seed=1))
    d0, d7 = w.corpus(0), w.corpus(7)
    replaced = d0.generation != d7.generation
    assert 0.2 < replaced.mean() < 0.9  # lifetimes of 4 to 40 days
    assert (d7.age[replaced] < 7).all() and (d7.age[~replaced] == d0.age[~replaced] + 7).all()
    assert not np.array_equal(d0.quality[replaced], d7.quality[replaced])
    assert np.array_equal(d0.quality[~replaced], d7.quality[~replaced])
    still = make_world(WorldParams(seed=1), WorldParts().without("item_churn"))
    assert np.array_equal(still.corpus(0).quality, still.corpus(9).quality)


def test_world_and_users_are_deterministic() -> None:
    a, b = make_world(WorldParams(seed=3)), make_world(WorldParams(seed=3))
    assert np.array_equal(a.corpus(2).quality, b.corpus(2).quality)
    assert np.array_equal(a.corpus(2).creator, b.corpus(2).creator)
    u1 = Users.build(a, [5, 6, 7])
    u2 = Users.build(a, [7, 6, 5])
    assert np.array_equal(u1.affinity[0], u2.affinity[2])
    assert np.array_equal(u1.return_logit[[0, 2]], u2.return_logit[[2, 0]])


def test_a_users_outcome_does_not_depend_on_who_is_simulated_alongside(sim: Simulator) -> None:
    prod = production_stack()
    big = sim.cohort(np.arange(600), seed=9)
    small = sim.cohort(np.arange(300, 450), seed=9)
    for _ in range(2):
        big.run_day(prod, "exp")
        small.run_day(prod, "exp")
    assert np.array_equal(big.aggregates["exp"][300:450], small.aggregates["exp"])


def test_pages_are_full_and_costs_track_the_cut(sim: Simulator) -> None:
    prod = production_stack()
    cohort = sim.cohort(np.arange(500), seed=1)
    cohort.run_day(prod, "exp")
    agg = cohort.aggregates["exp"]
    assert (agg[:, Col.IMPRESSIONS] == PAGE_SIZE * agg[:, Col.REQUESTS]).all()
    cost = agg[:, Col.COST].sum() / agg[:, Col.REQUESTS].sum()
    assert cost == pytest.approx(100, rel=0.02)
    wide = sim.cohort(np.arange(500), seed=1)
    wide.run_day(stack_for("value_based_retrieval", {"vbr_candidate_cut": 300}), "exp")
    w = wide.aggregates["exp"]
    assert w[:, Col.COST].sum() / w[:, Col.REQUESTS].sum() == pytest.approx(300, rel=0.02)


def test_production_metrics_are_plausible(sim: Simulator) -> None:
    c = run_cohort(sim, np.arange(3000), production_stack(), 3, seed=0, pre_days=1)
    m = population_means(c)
    assert set(m) == set(METRICS)
    assert 0.5 < m["retention"] < 0.85
    assert 0.003 < m["negative_rate"] < 0.03
    assert 1.2 < m["topic_diversity"] < 3
    assert m["clicks"] > 1 and m["dwell_time"] > 60
    agg = c.aggregates["exp"]
    ctr = agg[:, Col.CLICKS].sum() / agg[:, Col.IMPRESSIONS].sum()
    assert 0.06 < ctr < 0.16  # a production-like click-through rate, not 36%


def test_users_are_heavy_tailed_and_predictable_from_the_pre_period(sim: Simulator) -> None:
    c = run_cohort(sim, np.arange(6000), production_stack(), 5, seed=1, pre_days=4)
    exp, pre = c.aggregates["exp"], c.aggregates["pre"]
    ok = (exp[:, Col.DAYS] > 0) & (pre[:, Col.DAYS] > 0)
    dwell = exp[ok, Col.DWELL] / exp[ok, Col.DAYS]
    top = np.sort(dwell)[::-1]
    assert top[: top.size // 100].sum() / top.sum() > 0.06  # top 1% of users
    assert top[: top.size // 10].sum() / top.sum() > 0.33  # top 10%
    assert dwell.std() / dwell.mean() > 1.1
    for col in (Col.DWELL, Col.CLICKS, Col.ACTIVE_DAYS):
        r = np.corrcoef(pre[ok, col] / pre[ok, Col.DAYS], exp[ok, col] / exp[ok, Col.DAYS])[0, 1]
        assert 0.5 <= r <= 0.85, (col, r)  # what CUPED can use


def test_memory_is_per_user_not_per_impression(sim: Simulator) -> None:
    c = sim.cohort(np.arange(200), seed=0)
    for _ in range(5):
        c.run_day(production_stack(), "exp")
    assert c.aggregates["exp"].shape == (200, len(Col))
    assert c.exposure.size == 200 * sim.world.n_topics


def _contract_tables() -> dict[str, dict[str, tuple[str, float, float, float]]]:
    text = CONTRACTS.read_text()
    out: dict[str, dict[str, tuple[str, float, float, float]]] = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        task = re.match(r"`(\w+)`", block)
        assert task is not None
        rows = re.findall(
            r"^\| `(\w+)` \| (float|int) \| \[([\d.]+), ([\d.]+)\] \| ([\d.]+) \|$", block, re.M
        )
        out[task.group(1)] = {
            r[0]: (r[1], float(r[2]), float(r[3]), float(r[4])) for r in rows
        }
    return out


def test_tasks_agree_with_contracts_md() -> None:
    tables = _contract_tables()
    assert set(tables) == set(TASKS)
    for name, rows in tables.items():
        task = get_task(name)
        assert task.space.names == list(rows)
        for p in task.space:
            kind, low, high, prod = rows[p.name]
            assert (p.kind, p.low, p.high) == (kind, low, high)  # type: ignore[union-attr]
            assert task.production[p.name] == prod
    roles = {t: {m.name: m.role for m in TASKS[t].metrics} for t in TASKS}
    assert roles["value_fusion"]["negative_rate"] is MetricRole.GUARDRAIL
    assert TASKS["diversity"].metric("clicks").guardrail_threshold == -0.01
    assert TASKS["value_based_retrieval"].metric("serving_cost").guardrail_threshold == 0.05
    assert TASKS["value_based_retrieval"].primary.name == "dwell_time"
    assert TASKS["diversity"].primary.name == "topic_diversity"


def test_get_task_and_full_config_errors() -> None:
    with pytest.raises(SpecError, match="allowed tasks: \\['diversity', 'value_based_retrieval'"):
        get_task("ranking")
    with pytest.raises(ConfigError, match="vf_w_click"):
        full_config("diversity", {"vf_w_click": 1.0})
    with pytest.raises(ConfigError, match=r"\[0, 8\]"):
        full_config("value_fusion", {"vf_w_negative": 9.0})
    cfg = full_config("diversity", {"div_topic_cap": 3})
    assert cfg["div_topic_cap"] == 3 and cfg["vf_w_click"] == PRODUCTION["vf_w_click"]
    assert StackConfig.from_mapping(cfg).div_topic_cap == 3
