"""One tuning round, independent of LangGraph: its state schemas and codec, and the round
policy that turns drafts into the candidates people are asked to launch."""

from __future__ import annotations
