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
def test_calibration_power_coverage_verdicts_and_monitor() -> None:
    from rectune.tools.aa import calibrate

    report = calibrate(seed=1, runs=150, aa_runs=150, aa_scale="small", oracle_users=16_000)
    json.dumps(report)  # the CLI prints it as JSON
    power = report["power"]
    assert abs(power["realised_flag"]["rate"] - power["planned"]) <= 0.1, power
    for metric, r in report["coverage"]["good_arm"].items():
        assert 0.89 <= r["rate"] <= 0.99, (metric, r)
    at = report["guardrail_at_threshold"]
    assert at["wrongly_passed"]["rate"] <= 0.1, at
    assert at["false_stops"]["rate"] <= 0.06, at
    past = report["monitor_past_limit"]
    assert past["flagged"]["rate"] >= 0.62, past
