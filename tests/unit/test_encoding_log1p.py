"""The `log1p` scale: relative steps for weights that may be zero."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rectune.domain import FloatParameter, IntParameter, SearchSpace
from rectune.optimizers.encoding import LOG1P_OFFSET, SpaceEncoder

W = FloatParameter(name="w", low=0.0, high=4.0, soft_high=3.0, scale="log1p")
N = IntParameter(name="n", low=0, high=200, scale="log1p")
SPACE = SearchSpace(parameters=[W, N])
BASE = {"w": 0.5, "n": 20}


def _u(enc: SpaceEncoder, **change: float) -> np.ndarray:
    return enc.encode({**BASE, **change})


def test_features_are_log_of_offset_value_over_the_soft_box() -> None:
    enc = SpaceEncoder(SPACE)
    c = LOG1P_OFFSET * 4.0
    span = math.log1p(3.0 / c)
    assert _u(enc, w=0.0)[0] == 0.0  # zero is the soft box's floor, not minus infinity
    assert _u(enc, w=3.0)[0] == pytest.approx(1.0)
    assert _u(enc, w=0.5)[0] == pytest.approx(math.log1p(0.5 / c) / span)


def test_equal_factors_are_equal_steps_and_a_small_weight_moves_far() -> None:
    enc = SpaceEncoder(SPACE)
    c = LOG1P_OFFSET * 4.0
    # (c + v) halving twice: two equal feature steps.
    v1 = (c + 2.5) / 2 - c
    v2 = (c + 2.5) / 4 - c
    d1 = _u(enc, w=2.5)[0] - _u(enc, w=v1)[0]
    d2 = _u(enc, w=v1)[0] - _u(enc, w=v2)[0]
    assert d1 == pytest.approx(d2)
    # Cutting 0.5 to 0.13 is a longer step than raising 2.5 to 2.87 (linear: the same).
    down = abs(_u(enc, w=0.13)[0] - _u(enc, w=0.5)[0])
    up = abs(_u(enc, w=2.87)[0] - _u(enc, w=2.5)[0])
    assert down > 4 * up


@pytest.mark.parametrize("w", [0.0, 0.013, 0.5, 1.234, 3.0])
def test_decoding_inverts_encoding_in_the_soft_box(w: float) -> None:
    enc = SpaceEncoder(SPACE)
    for n in (0, 7, 20, 200):
        assert enc.decode(enc.encode({"w": w, "n": n})) == {"w": w, "n": n}


def test_value_and_slope_match_a_finite_difference() -> None:
    enc = SpaceEncoder(SPACE)
    u = np.array([0.1, 0.45, 0.9])
    v, dv = enc.value_and_slope("w", u)
    h = 1e-6
    v_up, _ = enc.value_and_slope("w", u + h)
    np.testing.assert_allclose(dv, (v_up - v) / h, rtol=1e-4)
    np.testing.assert_allclose(enc.encode_many([{**BASE, "w": float(x)} for x in v])[:, 0], u)


def test_the_offset_follows_the_hard_range_not_the_soft_box() -> None:
    narrowed = SearchSpace(parameters=[W.model_copy(update={"soft_high": 2.0}), N])
    a, b = SpaceEncoder(SPACE), SpaceEncoder(narrowed)
    # Same ratio of feature steps in both boxes: only the span changed, not the offset.
    ra = (_u(a, w=1.0)[0] - _u(a, w=0.5)[0]) / (_u(a, w=0.5)[0] - _u(a, w=0.1)[0])
    rb = (_u(b, w=1.0)[0] - _u(b, w=0.5)[0]) / (_u(b, w=0.5)[0] - _u(b, w=0.1)[0])
    assert ra == pytest.approx(rb)


@pytest.mark.parametrize("scale", ["log", "log1p"])
def test_a_scale_invariant_group_refuses_a_log_scaled_weight(scale: str) -> None:
    from rectune.domain import MetricSpec
    from rectune.domain.structure import TaskStructure

    space = SearchSpace(parameters=[
        FloatParameter(name="a", low=0.01, high=4.0),
        FloatParameter(name="b", low=0.01, high=4.0, scale=scale),
    ])
    structure = TaskStructure(scale_invariant=[{"parameters": ["a", "b"], "reference": "a"}])
    metrics = [MetricSpec(name="clicks", role="primary", direction="increase")]
    problems = structure.problems(space, metrics, {"a": 1.0, "b": 1.0})
    assert problems == [
        ("structure.scale_invariant[0].parameters",
         "parameter 'b' is log-scaled; group weights are linear")
    ]
