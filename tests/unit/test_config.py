from __future__ import annotations

import pytest

from rectune.config import DEFAULT_GEMINI_MODEL, Context
from rectune.domain import SpecError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "GOOGLE_API_KEY",
        "RECTUNE_MODEL",
        "RECTUNE_PROPOSALS_PER_ROUND",
        "RECTUNE_ACTOR_MODEL",
    ):
        monkeypatch.delenv(var, raising=False)


def test_defaults_are_offline() -> None:
    ctx = Context()
    assert all(ctx.model_for(r) is None for r in ("actor", "critic", "insight", "skill"))


def test_env_fills_defaults_but_explicit_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECTUNE_PROPOSALS_PER_ROUND", "12")
    assert Context().proposals_per_round == 12
    assert Context(proposals_per_round=6).proposals_per_round == 6


def test_google_key_selects_gemini_and_roles_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "x")
    ctx = Context(critic_model="openai:gpt-5")
    assert ctx.model_for("actor") == DEFAULT_GEMINI_MODEL
    assert ctx.model_for("critic") == "openai:gpt-5"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"arms_per_ab": 0}, "arms_per_ab"),
        ({"arms_per_ab": 9, "proposals_per_round": 8}, "arms_per_ab"),
        ({"traffic_per_arm": 0.9}, "traffic_per_arm"),
        ({"days": 0}, "days"),
        ({"platform": "ftp"}, "platform"),
        ({"model": "gemini"}, "model"),
        ({"llm_share": 1.5}, "llm_share"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(SpecError, match=name):
        Context(**kwargs)  # type: ignore[arg-type]


def test_bad_env_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECTUNE_PROPOSALS_PER_ROUND", "many")
    with pytest.raises(SpecError, match="RECTUNE_PROPOSALS_PER_ROUND"):
        Context()
