from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rectune.domain import (
    CategoricalParameter,
    ConfigError,
    FloatParameter,
    IntParameter,
    SearchSpace,
    apply_delta,
    config_diff,
    config_key,
)


def make_space() -> SearchSpace:
    return SearchSpace(
        parameters=[
            FloatParameter(name="w_click", low=0.0, high=4.0, soft_low=0.5, soft_high=2.0),
            IntParameter(name="cap", low=1, high=10),
            CategoricalParameter(name="mode", choices=("mmr", "dpp")),
            FloatParameter(name="lr", low=1e-4, high=1.0, scale="log"),
        ]
    )


BASE = {"w_click": 1.0, "cap": 4, "mode": "mmr", "lr": 0.01}


def test_out_of_bound_value_names_field_value_and_range() -> None:
    with pytest.raises(ConfigError) as e:
        apply_delta(make_space(), BASE, {"w_click": 5.0})
    msg = str(e.value)
    assert "w_click" in msg and "5.0" in msg and "[0, 4]" in msg
    assert e.value.field == "w_click"


def test_unknown_key_is_an_error_listing_known_names() -> None:
    with pytest.raises(ConfigError) as e:
        apply_delta(make_space(), BASE, {"w_klick": 1.0})
    assert "w_klick" in str(e.value) and "w_click" in str(e.value)


@pytest.mark.parametrize(
    ("delta", "field"),
    [
        ({"cap": 2.5}, "cap"),
        ({"cap": True}, "cap"),
        ({"w_click": "1.0"}, "w_click"),
        ({"w_click": float("nan")}, "w_click"),
        ({"mode": "greedy"}, "mode"),
        ({"lr": 0.0}, "lr"),
    ],
)
def test_wrong_types_are_refused(delta: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as e:
        apply_delta(make_space(), BASE, delta)
    assert e.value.field == field


def test_integral_float_is_accepted_for_int() -> None:
    cfg = apply_delta(make_space(), BASE, {"cap": 7.0})
    assert cfg["cap"] == 7 and isinstance(cfg["cap"], int)


def test_missing_field_in_base_is_an_error() -> None:
    with pytest.raises(ConfigError, match="missing"):
        apply_delta(make_space(), {"w_click": 1.0}, {})


def test_delta_is_not_mutating_and_diff_inverts_it() -> None:
    base = dict(BASE)
    cfg = apply_delta(make_space(), base, {"cap": 9, "mode": "dpp"})
    assert base == BASE
    assert config_diff(BASE, cfg) == {"cap": 9, "mode": "dpp"}


def test_config_key_ignores_float_noise_and_order() -> None:
    a = {"w_click": 0.3, "cap": 1}
    b = {"cap": 1, "w_click": 0.1 + 0.2}
    assert config_key(a) == config_key(b)
    assert config_key(a) != config_key({"w_click": 0.31, "cap": 1})


def test_soft_bounds_must_lie_inside_hard_bounds() -> None:
    with pytest.raises(ValueError, match="soft_high"):
        FloatParameter(name="x", low=0, high=1, soft_high=1.5)
    with pytest.raises(ValueError, match="soft_low"):
        FloatParameter(name="x", low=0, high=1, soft_low=0.8, soft_high=0.2)
    with pytest.raises(ValueError, match="hard bounds"):
        FloatParameter(name="x", low=1, high=1)
    with pytest.raises(ValueError, match="integer"):
        IntParameter(name="x", low=0.5, high=3)
    with pytest.raises(ValueError, match="subset"):
        CategoricalParameter(name="m", choices=("a", "b"), soft_choices=("c",))


def test_soft_violations_and_duplicates() -> None:
    space = make_space()
    cfg = apply_delta(space, BASE, {"w_click": 3.0})
    assert space.soft_violations(cfg) == ["w_click"]
    with pytest.raises(ValueError, match="duplicate"):
        SearchSpace(parameters=[FloatParameter(name="a", low=0, high=1)] * 2)


def test_space_json_round_trip_keeps_kinds() -> None:
    space = make_space()
    again = SearchSpace.model_validate_json(space.model_dump_json())
    assert again == space
    assert [p.kind for p in again] == ["float", "int", "categorical", "float"]


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-1000, max_value=1000),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)


@given(delta=st.dictionaries(st.sampled_from(["w_click", "cap", "mode", "lr", "bogus"]), values))
def test_merge_never_yields_a_config_outside_hard_bounds(delta: dict[str, object]) -> None:
    space = make_space()
    try:
        cfg = apply_delta(space, BASE, delta)
    except ConfigError:
        return
    assert set(cfg) == set(space.names)
    for p in space:
        v = cfg[p.name]
        if isinstance(p, CategoricalParameter):
            assert v in p.choices
        else:
            assert not isinstance(v, bool)
            assert p.low <= float(v) <= p.high
            if isinstance(p, IntParameter):
                assert isinstance(v, int)
