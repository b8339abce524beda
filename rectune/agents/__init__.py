"""The agents of a round, one module per node of the graph: load_context, actor, critic, plan,
approve, online (launch, monitor, wait), record, insight and skill."""

from __future__ import annotations
