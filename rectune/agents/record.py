"""record: results into the journal, elites and the launch advice recomputed, the round's
record written; then one insight task per tuned task (the cross-learning map step)."""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from rectune.config import Context
from rectune.domain import RoundRecord, RoundStatus
from rectune.memory.elites import select_elites
from rectune.ports import observations_of, ports_for
from rectune.round.codec import RoundData, decode, encode
from rectune.round.state import State

__all__ = ["record", "round_record"]

MAX_ELITES = 8


def round_record(data: RoundData) -> RoundRecord:
    """The journal's record of a round as its state stands."""
    return RoundRecord(
        round=data.round,
        thread_id=data.thread_id,
        status=data.status,
        steering=data.steering,
        skill_version=data.skill_version,
        candidate_ids=[c.id for c in data.candidates],
        experiment_id=data.experiment_id,
        plan=data.plan,
        decisions=data.decisions,
        recommendation=data.recommendation,
        insight_summary=data.insight_summary,
        learned_rules=[r.id for r in data.learned_rules],
        retired_rules=data.retired_rules,
        degraded=data.degraded,
        error=data.error,
        token_usage=data.token_usage,
    )


def record(
    state: State, runtime: Runtime[Context]
) -> Command[Literal["insight_task", "__end__"]]:
    """Write the round to memory; start the insight map when there is something to learn."""
    ctx = runtime.context
    ports = ports_for(ctx)
    data = decode(state)
    skill = ports.skills.get(data.task)
    status = data.status
    if data.results is not None:
        ports.journal.record_results(data.task, data.results)
        status = RoundStatus.COMPLETED
    cands = ports.journal.candidates(data.task)
    history, _ = observations_of(cands)
    elites = select_elites(cands, skill.metrics, max_size=MAX_ELITES)
    by_id = {c.id: c for c in cands}
    advice = ports.engine(skill).advise(history, cands)
    update = encode(
        status=status,
        elites=[by_id[i] for i in elites.elite_ids],
        recommendation=advice,
    )
    done = data.model_copy(update={"status": status, "recommendation": advice})
    ports.journal.finish_round(data.task, round_record(done))
    if status is not RoundStatus.COMPLETED:
        return Command(goto="__end__", update=update)
    tasks = [t for t in ports.journal.tasks() if t in set(ports.skills.names())]
    sends = [Send("insight_task", {"task": t}) for t in tasks or [data.task]]
    return Command(goto=sends, update=update)
