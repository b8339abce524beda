"""Chat models per role: a provider string, an instance, or None for the offline engine."""

from __future__ import annotations

from typing import Any

from langchain_core.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable

from rectune.domain.errors import RecTuneError

__all__ = [
    "TRANSIENT_ERRORS",
    "ModelLike",
    "TokenUsage",
    "resolve_model",
    "usage_of",
    "with_retry",
]

ModelLike = str | BaseChatModel | None
"""What a caller may pass as a model: ``"provider:model"``, an instance, or None (offline)."""

TokenUsage = dict[str, int]

RETRIES = 3

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ModelRateLimitError,
    ModelConnectionError,
    ModelTimeoutError,
    ModelAPIError,
    TimeoutError,
    ConnectionError,
)
"""Errors worth retrying: rate limits, timeouts, unreachable or failing servers. An
authentication or validation error fails at once: the same request would fail again."""


def resolve_model(model: ModelLike) -> BaseChatModel | None:
    """Turn a model spec into a chat model; None stays None (the offline engine).

    Args:
        model: A ``"provider:model"`` string understood by ``init_chat_model``, an instance of
            ``BaseChatModel``, or None.

    Raises:
        RecTuneError: when the string cannot be turned into a model (unknown provider, missing
            integration package or credentials).
    """
    if model is None or isinstance(model, BaseChatModel):
        return model
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(model)
    except Exception as exc:  # the provider packages raise many different types
        raise RecTuneError(
            f"model {model!r} could not be created ({type(exc).__name__}: {exc}); pass a "
            "'provider:model' string such as 'google_genai:gemini-2.5-pro' with its API key set"
        ) from exc


def with_retry(runnable: Runnable[Any, Any]) -> Runnable[Any, Any]:
    """Bounded retries with jitter on every model call, for transient errors only."""
    return runnable.with_retry(
        retry_if_exception_type=TRANSIENT_ERRORS,
        stop_after_attempt=RETRIES,
        wait_exponential_jitter=True,
    )


def usage_of(message: object) -> TokenUsage:
    """Token counts of one model answer (zeros when the provider reports none)."""
    usage = getattr(message, "usage_metadata", None) if isinstance(message, AIMessage) else None
    if not usage:
        return {"input_tokens": 0, "output_tokens": 0, "calls": 1}
    return {
        "input_tokens": int(usage.get("input_tokens", 0)),
        "output_tokens": int(usage.get("output_tokens", 0)),
        "calls": 1,
    }


