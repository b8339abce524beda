"""The platform's statistics over many seeded real launches (fresh salts and fresh users).

These tests can fail: they check rates against fixed bands with fixed seeds, so a broken
variance formula, a biased estimator, a mis-planned power or a monitor that spends the wrong
error shows up. Bands are about three binomial standard deviations wide for the run counts.
"""

from __future__ import annotations

import json

import pytest

from rectune.tools.aa import binomial_rate, run_aa

METRICS = {"clicks", "dwell_time", "topic_diversity", "retention", "negative_rate", "serving_cost"}


def test_binomial_rate_has_an_exact_interval() -> None:
    r = binomial_rate(50, 1000)
    assert r["rate"] == 0.05 and r["ci_low"] < 0.05 < r["ci_high"]
    assert r["ci_low"] == pytest.approx(0.0374, abs=5e-4)
    assert r["ci_high"] == pytest.approx(0.0654, abs=5e-4)


def test_aa_false_positive_rate_per_metric_through_real_launches() -> None:
    report = run_aa(runs=200, seed=2, scale="small")
    json.dumps(report)
    assert report["runs"] == 200
    fpr = report["false_positive_rate"]
    assert set(fpr) == METRICS
    for metric, r in fpr.items():
        assert 0.005 <= r["rate"] <= 0.11, (metric, r)
    pooled = sum(r["hits"] for r in fpr.values()) / sum(r["runs"] for r in fpr.values())
    assert 0.03 <= pooled <= 0.075
    assert report["family_wise_rate_holm"]["rate"] <= 0.1
    assert report["srm_alarm_rate"]["rate"] <= 0.02


@pytest.mark.slow
def test_planned_power_is_the_realised_power_of_the_flag() -> None:
    """The plan sized at the probe's (precise) oracle lift promises 80% for the Holm flag;
    400 real launches deliver it to within 5 points (binomial sd 2 points, the oracle's
    error about 1.3 points of power). Coverage of the oracle lift within 3 binomial sd."""
    from rectune.tools.aa import QUICK_POWER_PROBE, calibrate_power

    report = calibrate_power(
        seed=1, probe=QUICK_POWER_PROBE, runs=400, oracle_users=60_000, oracle_blocks=10
    )
    json.dumps(report)  # the CLI prints it as JSON
    power = report["power"]
    assert power["planned"] == pytest.approx(0.8, abs=0.005)
    assert power["holm_family"] == 2
    assert abs(power["realised_flag"]["rate"] - power["planned"]) <= 0.05, power
    assert abs(power["realised_raw"]["rate"] - power["planned_raw"]) <= 0.05, power
    # The truth the plan was sized at is what the launches measure.
    assert abs(power["mean_measured_lift"] - power["oracle_lift"]) <= 3 * (
        power["mean_measured_lift_se"] + power["oracle_se"]
    ), power
    for metric, r in report["coverage"]["good_arm"].items():
        assert 0.91 <= r["rate"] <= 0.99, (metric, r)
    for metric, r in report["coverage"]["null_arm"].items():
        assert 0.91 <= r["rate"] <= 0.99, (metric, r)


@pytest.mark.slow
def test_guardrail_verdicts_and_monitor_through_launches() -> None:
    from rectune.tools.aa import calibrate_guardrails

    report = calibrate_guardrails(
        seed=1, runs=100, users=3_500, oracle_users=60_000, oracle_blocks=10
    )
    json.dumps(report)
    at = report["guardrail_at_threshold"]
    # Non-inferiority error at the threshold <= alpha (5%), monitor false stops <= 2.5%,
    # each with about 3 binomial sd for 100 runs.
    assert at["wrongly_passed"]["rate"] <= 0.11, at
    assert at["false_stops"]["rate"] <= 0.07, at
    past = report["monitor_past_limit"]
    assert past["flagged"]["rate"] >= 0.7, past
