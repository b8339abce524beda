"""The round's LangGraph state machine: state schemas and the builder. Nothing else."""

from __future__ import annotations

from rectune.graph.builder import build_graph, compile_graph
from rectune.graph.state import RoundInput, RoundOutput, RoundStatus, State

__all__ = ["RoundInput", "RoundOutput", "RoundStatus", "State", "build_graph", "compile_graph"]
