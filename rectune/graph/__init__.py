"""The round's LangGraph state machine: state schemas and the builder. Nothing else.

The builder is loaded lazily because the agent nodes import the state schemas from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rectune.graph.state import RoundInput, RoundOutput, RoundStatus, State

if TYPE_CHECKING:
    from rectune.graph.builder import build_graph, compile_graph

__all__ = ["RoundInput", "RoundOutput", "RoundStatus", "State", "build_graph", "compile_graph"]


def __getattr__(name: str) -> Any:
    if name in {"build_graph", "compile_graph"}:
        from rectune.graph import builder

        return getattr(builder, name)
    raise AttributeError(f"module 'rectune.graph' has no attribute {name!r}")
