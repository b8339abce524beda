"""Human approval: the payload shown at the interrupt and the answer that resumes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rectune.domain import (
    ABPlan,
    Candidate,
    CandidateStatus,
    ConfigError,
    Decision,
    Degradation,
    RuleConstraint,
    SearchSpace,
    Verdict,
    apply_delta,
    config_diff,
)

__all__ = ["ApprovalOutcome", "apply_decisions", "approval_payload", "describe_answer"]

ACTIONS = ("approve", "reject", "edit")
PLAN_FIELDS = ("days", "traffic_per_arm")


def describe_answer() -> dict[str, Any]:
    """How to answer the interrupt; shown in the payload so Studio users see it too."""
    return {
        "approve_all": '"approve"',
        "reject_all": '"reject"',
        "per_candidate": {
            "decisions": [
                {
                    "id": "<candidate id>",
                    "action": "approve | reject | edit",
                    "delta": {"<param>": "<new value> (edit only)"},
                    "note": "optional",
                }
            ],
            "plan": {"days": "<int, optional>", "traffic_per_arm": "<fraction, optional>"},
        },
        "note": "candidates left out of 'decisions' are rejected",
    }


def approval_payload(
    *,
    task: str,
    round_no: int,
    candidates: Sequence[Candidate],
    verdicts: Sequence[Verdict],
    baseline: Mapping[str, Any],
    plan: ABPlan,
    model_error: str | None = None,
    degraded: Sequence[Degradation] = (),
    errors: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON payload of the approval interrupt: what is proposed, what was dropped and
    why, and the A/B plan that will launch."""
    rows = []
    for c in candidates:
        rows.append(
            {
                "id": c.id,
                "delta": c.delta,
                "diff_vs_baseline": {
                    k: {"from": baseline.get(k), "to": v}
                    for k, v in c.config.items()
                    if baseline.get(k) != v
                },
                "hypothesis": c.hypothesis,
                "explanation": c.explanation,
                "critic_justification": c.critic_justification,
                "prediction": c.prediction.model_dump(mode="json") if c.prediction else None,
                "notes": c.checks.get("notes", ""),
                "source": c.source,
            }
        )
    dropped = [
        {"index": v.index, "source": v.source, "delta": v.delta, "reasons": v.reasons}
        for v in verdicts
        if not v.selected and v.reasons
    ]
    return {
        "kind": "approval",
        "task": task,
        "round": round_no,
        "candidates": rows,
        "dropped": dropped,
        "model_answer_discarded": model_error,
        "degraded": [str(d) for d in degraded],
        "ab_plan": plan.model_dump(mode="json"),
        "errors": list(errors),
        "how_to_answer": describe_answer(),
    }


@dataclass
class ApprovalOutcome:
    """The result of applying an answer: decided candidates, decisions, plan changes, errors."""

    approved: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    plan_changes: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _plan_changes(raw: Any, out: ApprovalOutcome) -> None:
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        out.errors.append("'plan' must be an object with 'days' and/or 'traffic_per_arm'")
        return
    for key, value in raw.items():
        if key not in PLAN_FIELDS:
            out.errors.append(f"plan field {key!r} cannot be changed; allowed: {list(PLAN_FIELDS)}")
        elif key == "days" and not (isinstance(value, int) and not isinstance(value, bool)
                                    and value >= 1):
            out.errors.append(f"plan days={value!r}: allowed: an integer >= 1")
        elif key == "traffic_per_arm" and not (
            isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 0.5
        ):
            out.errors.append(f"plan traffic_per_arm={value!r}: allowed: a fraction in (0, 0.5]")
        else:
            out.plan_changes[key] = value


def apply_decisions(
    answer: Any,
    candidates: Sequence[Candidate],
    *,
    space: SearchSpace,
    baseline: Mapping[str, Any],
    constraints: Sequence[RuleConstraint] = (),
    by: Literal["reviewer", "auto"] = "reviewer",
) -> ApprovalOutcome:
    """Apply an approval answer to the candidates.

    Edits are validated exactly like proposals (hard bounds, types, unknown fields); learned
    rule constraints are reported but a person may override them. Any error leaves the
    outcome's `errors` non-empty and nothing should be launched.
    """
    out = ApprovalOutcome()
    by_id = {c.id: c for c in candidates}
    items: list[Any]
    if isinstance(answer, str | bool):
        word = str(answer).strip().lower()
        if word in {"approve", "approve_all", "true", "yes"}:
            items = [{"id": c.id, "action": "approve"} for c in candidates]
        elif word in {"reject", "reject_all", "false", "no"}:
            items = [{"id": c.id, "action": "reject"} for c in candidates]
        else:
            out.errors.append(
                f"answer {answer!r} is not understood; use 'approve', 'reject' "
                "or {'decisions': [...]}"
            )
            return out
    elif isinstance(answer, Mapping) and isinstance(answer.get("decisions"), list):
        items = list(answer["decisions"])
        _plan_changes(answer.get("plan"), out)
    else:
        out.errors.append("answer must be 'approve', 'reject' or {'decisions': [...]}")
        return out

    seen: set[str] = set()
    for item in items:
        if not isinstance(item, Mapping):
            out.errors.append(f"decision {item!r} must be an object with 'id' and 'action'")
            continue
        cid, action = item.get("id"), item.get("action")
        if cid not in by_id:
            out.errors.append(
                f"decision names unknown candidate id {cid!r}; known: {sorted(by_id)}"
            )
            continue
        if action not in ACTIONS:
            out.errors.append(f"candidate {cid}: action {action!r} is not one of {list(ACTIONS)}")
            continue
        if cid in seen:
            out.errors.append(f"candidate {cid}: more than one decision")
            continue
        seen.add(cid)
        cand = by_id[cid]
        note = str(item.get("note", ""))
        if action == "reject":
            out.rejected.append(
                cand.transition(CandidateStatus.REJECTED, note or f"rejected by {by}")
            )
            out.decisions.append(Decision(id=cid, action="reject", note=note, by=by))
            continue
        edit_delta = None
        if action == "edit":
            edit = item.get("delta")
            if not isinstance(edit, Mapping) or not edit:
                out.errors.append(f"candidate {cid}: 'edit' needs a non-empty 'delta' object")
                continue
            try:
                config = apply_delta(space, cand.config, edit)
            except ConfigError as exc:
                out.errors.append(f"candidate {cid}: {exc}")
                continue
            edit_delta = config_diff(cand.config, config)
            broken = [str(r) for r in constraints if not r.satisfied(config)]
            changes = ", ".join(f"{k}={v}" for k, v in edit_delta.items())
            cand = cand.model_copy(
                update={
                    "config": config,
                    "delta": config_diff(dict(baseline), config),
                    "source": f"{cand.source}+human-edit",
                    "edited": True,
                    "hypothesis": f"[edited by the reviewer: {changes}; the text below was "
                    f"written for the proposal before the edit] {cand.hypothesis}",
                    # The prediction was for the configuration before the edit.
                    "prediction": None,
                    "checks": {
                        **cand.checks,
                        **({"rule_override": "; ".join(broken)} if broken else {}),
                    },
                }
            )
        out.approved.append(
            cand.transition(CandidateStatus.APPROVED, note or f"{action}d by {by}")
        )
        out.decisions.append(Decision(id=cid, action=action, note=note, delta=edit_delta, by=by))
    position = {c.id: i for i, c in enumerate(candidates)}
    out.approved.sort(key=lambda c: position[c.id])
    for c in candidates:
        if c.id not in seen and not out.errors:
            out.rejected.append(c.transition(CandidateStatus.REJECTED, "not selected by reviewer"))
            out.decisions.append(Decision(id=c.id, action="reject", note="not selected", by=by))
    return out
