"""Agent memory: the experiment journal, elites, history view, insight statistics, retrieval.

The journal is durable state (atomic, locked writes); everything else is computed from it
and from the skills, and can be recomputed at any time. `retrieval` imports Chroma, so it is
not imported here: use ``from rectune.memory.retrieval import MemoryIndex``.
"""

from __future__ import annotations

from rectune.memory.elites import (
    EliteSelection,
    GuardrailPolicy,
    greedy_maxmin,
    guardrail_breached,
    pareto_front,
    select_elites,
)
from rectune.memory.history import HistoryView, history_view
from rectune.memory.insight_stats import (
    Finding,
    FindingKind,
    InsightSettings,
    aggregate_findings,
    analyze_task,
    findings_to_rules,
)
from rectune.memory.journal import (
    Journal,
    JournalCorruptError,
    JournalDocument,
    JournalError,
    JournalLockedError,
    JournalStore,
    RoundRecord,
)
from rectune.memory.warmstart import ImportReport, WarmStartError, import_experiments

__all__ = [
    "EliteSelection",
    "Finding",
    "FindingKind",
    "GuardrailPolicy",
    "HistoryView",
    "ImportReport",
    "InsightSettings",
    "Journal",
    "JournalCorruptError",
    "JournalDocument",
    "JournalError",
    "JournalLockedError",
    "JournalStore",
    "RoundRecord",
    "WarmStartError",
    "aggregate_findings",
    "analyze_task",
    "findings_to_rules",
    "greedy_maxmin",
    "guardrail_breached",
    "history_view",
    "import_experiments",
    "pareto_front",
    "select_elites",
]
