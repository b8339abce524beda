"""Entry point for ``langgraph dev`` / LangGraph Studio.

The dev server brings its own persistence and refuses a graph compiled with a checkpointer,
so this module exports one compiled without it.
"""

from __future__ import annotations

from rectune.graph.builder import compile_graph

graph = compile_graph(checkpointer=None)
