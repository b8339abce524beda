"""The graph's TypedDicts and the codec's models describe the same fields."""

from __future__ import annotations

import pytest
from typing_extensions import get_type_hints

from rectune.domain import ABPlan, Decision, Degradation, Draft
from rectune.round.codec import RoundData, RoundResult, decode, encode
from rectune.round.state import RoundInput, RoundOutput, State


def test_state_and_codec_agree() -> None:
    assert set(get_type_hints(State)) == set(RoundData.model_fields)
    assert set(get_type_hints(RoundOutput)) == set(RoundResult.model_fields)
    assert set(get_type_hints(RoundInput)) <= set(RoundData.model_fields)


def test_encode_validates_and_dumps_json() -> None:
    plan = ABPlan(arms=2, traffic_per_arm=0.1, days=3, duration_from="context",
                  min_detectable_effect=0.01)
    update = encode(
        plan=plan,
        decisions=[Decision(id="c1", action="approve")],
        degraded=[Degradation(where="critic", what="engine order")],
        proposals=[Draft(delta={"a": 1})],
        status="failed",
    )
    assert update["plan"]["days"] == 3 and update["status"] == "failed"
    data = decode(update)
    assert data.plan == plan and data.decisions[0].id == "c1"
    assert str(data.degraded[0]) == "critic: engine order"
    with pytest.raises(KeyError, match="not state fields"):
        encode(services={"x": 1})
    with pytest.raises(ValueError):
        encode(status="sleeping")
