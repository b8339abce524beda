"""The A/B platform protocol exposed as LangChain tools (usable by a tool-calling model)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from rectune.domain import ExperimentSpec

__all__ = ["platform_tools"]


def platform_tools(platform: Any) -> dict[str, BaseTool]:
    """Tools bound to one platform: launch, status, results and abort."""

    def launch_experiment(spec: dict[str, Any], idempotency_key: str) -> str:
        """Launch an A/B experiment; the same idempotency key always returns the same id."""
        return str(platform.launch(ExperimentSpec.model_validate(spec), idempotency_key))

    def experiment_status(experiment_id: str) -> dict[str, Any]:
        """State of an experiment: running/completed/aborted, days run, aborted arms."""
        out: dict[str, Any] = platform.status(experiment_id).model_dump(mode="json")
        return out

    def experiment_results(experiment_id: str) -> dict[str, Any]:
        """Per-arm, per-metric relative lifts with 95% CIs and p-values."""
        out: dict[str, Any] = platform.results(experiment_id).model_dump(mode="json")
        return out

    def abort_experiment(experiment_id: str, reason: str) -> str:
        """Stop an experiment early, e.g. when a guardrail is clearly breached."""
        platform.abort(experiment_id, reason)
        return "aborted"

    fns = (launch_experiment, experiment_status, experiment_results, abort_experiment)
    return {f.__name__: StructuredTool.from_function(f) for f in fns}
