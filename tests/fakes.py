"""Scripted chat models for tests: no network, answers decided by the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import Field


class ScriptedChatModel(GenericFakeChatModel):
    """A fake chat model whose `bind_tools` returns itself, so structured output works by
    scripting tool calls, and whose answers can depend on the prompt."""

    prompts: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.prompts.append("\n".join(str(m.content) for m in messages))
        return super()._generate(messages, *args, **kwargs)


def tool_answer(name: str, args: dict[str, Any]) -> AIMessage:
    """An answer carrying one tool call (what structured output parses)."""
    return AIMessage(
        content="",
        tool_calls=[{"name": name, "args": args, "id": f"call-{name}"}],
        usage_metadata={"input_tokens": 100, "output_tokens": 50, "total_tokens": 150},
    )


def text_answer(text: str) -> AIMessage:
    """A plain text answer (structured output yields None; the XML fallback parses it)."""
    return AIMessage(
        content=text,
        usage_metadata={"input_tokens": 80, "output_tokens": 40, "total_tokens": 120},
    )


def scripted(answers: Sequence[AIMessage] | Callable[[], Iterator[AIMessage]]) -> ScriptedChatModel:
    """A model that gives `answers` in order (then repeats the last one)."""
    seq = list(answers) if not callable(answers) else list(answers())

    def forever() -> Iterator[AIMessage]:
        yield from seq
        while True:
            yield seq[-1]

    return ScriptedChatModel(messages=forever(), prompts=[])


class RoutingChatModel(ScriptedChatModel):
    """A fake model that answers by looking at the prompt: `route(prompt, n)` returns the
    answer for the n-th call whose prompt it sees."""

    route: Any = None

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        from langchain_core.outputs import ChatGeneration, ChatResult

        prompt = "\n".join(str(m.content) for m in messages)
        self.prompts.append(prompt)
        answer = self.route(prompt, len(self.prompts))
        return ChatResult(generations=[ChatGeneration(message=answer)])


def routing(route: Callable[[str, int], AIMessage]) -> RoutingChatModel:
    """A model answering each prompt with `route(prompt, call_number)`."""
    return RoutingChatModel(messages=iter(()), prompts=[], route=route)
