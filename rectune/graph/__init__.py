"""The round's LangGraph state machine: the builder. Nothing else.

The state schemas live in `rectune.round.state` so that the nodes (`rectune.agents`) and the
wiring both import them from below, without a cycle.
"""

from __future__ import annotations

from rectune.graph.builder import build_graph, compile_graph

__all__ = ["build_graph", "compile_graph"]
