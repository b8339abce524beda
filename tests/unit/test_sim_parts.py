"""Each switchable part of the world has the effect docs/simulator.md says it has.

Every test compares the world with the part on and off (common random numbers where the
effect is a difference between configurations), so a part that silently does nothing fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from rectune.domain import ArmSpec, ExperimentSpec
from rectune.simulator.engine import Cohort, Simulator
from rectune.simulator.metrics import Col
from rectune.simulator.oracle import oracle_lifts
from rectune.simulator.parts import WorldParts
from rectune.simulator.tasks import production_stack, stack_for
from rectune.tools.simulated import SimulatedABPlatform

ALL = WorldParts()


def _sim(parts: WorldParts) -> Simulator:
    return Simulator.create(seed=0, parts=parts)


def _daily(sim: Simulator, users: int, config_task: str | None, config: dict[str, float | int],
           days: int, pre: int = 3, seed: int = 4) -> tuple[Cohort, list[np.ndarray]]:
    """Run a cohort and keep each experiment day's aggregates separately."""
    c = sim.cohort(np.arange(users), seed)
    prod = production_stack()
    for _ in range(pre):
        c.run_day(prod, "pre")
    stack = stack_for(config_task, config) if config_task else prod
    out = []
    for d in range(days):
        c.run_day(stack, f"d{d}")
        out.append(c.aggregates[f"d{d}"])
    return c, out


def test_parts_switch_by_name() -> None:
    assert not ALL.without("novelty").novelty and ALL.without("novelty").churn
    with pytest.raises(ValueError, match="allowed"):
        ALL.without("weather")


def test_heavy_tails_concentrate_dwell_on_few_users() -> None:
    def top_share(parts: WorldParts) -> float:
        _, days = _daily(_sim(parts), 4000, None, {}, 3)
        dwell = sum(d[:, Col.DWELL] for d in days)
        s = np.sort(dwell)[::-1]
        return float(s[: s.size // 100].sum() / s.sum())

    heavy, light = top_share(ALL), top_share(ALL.without("heavy_tails"))
    assert heavy > 0.08 and heavy > 1.15 * light


def test_item_churn_makes_the_freshness_boost_matter() -> None:
    cfg = {"vbr_freshness_boost": 1.5}
    on = oracle_lifts("value_based_retrieval", cfg, n_users=3000, days=3)
    off = oracle_lifts("value_based_retrieval", cfg, n_users=3000, days=3,
                       parts=ALL.without("item_churn"))
    assert max(abs(on["dwell_time"]), abs(on["clicks"])) > 0.01
    assert max(abs(on[m] - off[m]) for m in ("dwell_time", "clicks")) > 0.005


def _lift_by_day(parts: WorldParts, users: int = 6000) -> np.ndarray:
    # Click-heavy fusion: more clickbait on the page, a change users notice.
    cfg: dict[str, float | int] = {"vf_w_click": 3.0, "vf_w_dwell": 0.0}
    _, base = _daily(_sim(parts), users, None, {}, 6)
    _, treat = _daily(_sim(parts), users, "value_fusion", cfg, 6)
    pairs = zip(base, treat, strict=True)
    return np.array([t[:, Col.CLICKS].sum() / b[:, Col.CLICKS].sum() - 1 for b, t in pairs])


def test_novelty_makes_the_treatment_effect_fade() -> None:
    # Segments off: every user enjoys change, so the mechanism is seen on its own.
    parts = ALL.without("segments")
    on = _lift_by_day(parts)
    off = _lift_by_day(parts.without("novelty"))
    fade_on = on[0] - on[-2:].mean()
    fade_off = off[0] - off[-2:].mean()
    assert fade_on > 0.1 and fade_on > fade_off + 0.1


def test_seasonality_and_shocks_move_daily_visits() -> None:
    def visits(parts: WorldParts) -> np.ndarray:
        # A week of warm-up, then one measured week (the weekday of day 7 is that of day 0).
        _, days = _daily(_sim(parts), 3000, None, {}, 7, pre=7)
        return np.array([d[:, Col.ACTIVE_DAYS].mean() for d in days])

    flat = visits(ALL.without("seasonality", "shocks", "churn", "arrival"))
    season = visits(ALL.without("shocks", "churn", "arrival"))
    wave = np.sin(2 * np.pi * np.arange(7) / 7)
    assert np.corrcoef(season, wave)[0, 1] > 0.8
    assert season.std() > 2 * flat.std()
    shocked = visits(ALL.without("seasonality", "churn", "arrival"))
    assert np.abs(shocked - shocked.mean()).max() > np.abs(flat - flat.mean()).max()


def _day1_lift_gap(parts: WorldParts) -> float:
    """Day-1 click lift of a page change: regular users minus heavy users."""
    sim = _sim(parts)
    _, base = _daily(sim, 8000, None, {}, 1)
    _, treat = _daily(sim, 8000, "value_fusion", {"vf_w_click": 3.0, "vf_w_dwell": 0.0}, 1)
    seg = sim.cohort(np.arange(8000), 0).users.segment
    lift = {
        s: treat[0][seg == s, Col.CLICKS].sum() / base[0][seg == s, Col.CLICKS].sum() - 1
        for s in (0, 2)
    }
    return float(lift[0] - lift[2])


def test_segments_respond_differently_to_change() -> None:
    # Regular users enjoy the change, heavy users resent it; without segments they agree.
    on, off = _day1_lift_gap(ALL), _day1_lift_gap(ALL.without("segments"))
    assert on > 0.3 and on > off + 0.3


def test_arrival_and_churn() -> None:
    sim = _sim(ALL)
    c, days = _daily(sim, 4000, None, {}, 8, pre=0)
    present = [d[:, Col.DAYS].sum() for d in days]
    assert present[-1] > present[0] * 1.03  # new users keep arriving
    assert c.churned.mean() > 0.01
    flat, fdays = _daily(_sim(ALL.without("arrival", "churn")), 4000, None, {}, 8, pre=0)
    assert [d[:, Col.DAYS].sum() for d in fdays] == [4000.0] * 8 and not flat.churned.any()


@pytest.mark.parametrize("carry", [True, False])
def test_carryover_between_consecutive_experiments(carry: bool) -> None:
    parts = ALL if carry else ALL.without("carryover")
    p = SimulatedABPlatform(seed=0, population=3000, pre_days=0, parts=parts)
    harm = {"vf_w_click": 4.0, "vf_w_dwell": 0.0, "vf_w_negative": 0.0}
    first = ExperimentSpec(
        task="value_fusion", days=3,
        control=ArmSpec(name="control", config={}, traffic=0.5),
        treatments=[ArmSpec(name="bad", config=harm, traffic=0.5)],
        metrics=["clicks"], salt="first",
    )
    p.results(p.launch(first, "first"))
    second = first.model_copy(update={"treatments": [ArmSpec(name="a", config={}, traffic=0.5)],
                                      "salt": "second"})
    eid = p.launch(second, "second")
    record = p._load(eid)
    assert bool(record.carryover) is carry
    run = p._start(record)
    from rectune.tools.simulated import assign_users

    bad_users = assign_users(3000, "first", [0.5, 0.5])[1]
    cohort = run.cohorts["control"]
    was_bad = np.isin(cohort.users.ids, bad_users)
    gap = cohort.satisfaction[~was_bad].mean() - cohort.satisfaction[was_bad].mean()
    assert bool(gap > 1e-4) is carry  # no pre-period: the carried shift itself
