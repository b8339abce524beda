"""Human approval: the payload shown at the interrupt and the decisions that resume it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rectune.domain import (
    Candidate,
    CandidateStatus,
    ConfigError,
    RuleConstraint,
    SearchSpace,
    apply_delta,
    config_diff,
)

__all__ = ["ApprovalOutcome", "apply_decisions", "approval_payload", "describe_answer"]

ACTIONS = ("approve", "reject", "edit")


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
            ]
        },
        "note": "candidates left out of 'decisions' are rejected",
    }


def approval_payload(
    *,
    task: str,
    round_no: int,
    candidates: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any],
    ab_plan: Mapping[str, Any],
    errors: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON payload of the approval interrupt."""
    rows = []
    for c in candidates:
        diff = {
            k: {"from": baseline.get(k), "to": v}
            for k, v in c["config"].items()
            if baseline.get(k) != v
        }
        rows.append(
            {
                "id": c["id"],
                "delta": c["delta"],
                "diff_vs_baseline": diff,
                "hypothesis": c.get("hypothesis", ""),
                "explanation": c.get("explanation", ""),
                "critic_justification": c.get("critic_justification", ""),
                "predicted": c.get("checks", {}),
                "source": c.get("source", ""),
            }
        )
    return {
        "kind": "approval",
        "task": task,
        "round": round_no,
        "candidates": rows,
        "ab_plan": dict(ab_plan),
        "errors": list(errors),
        "how_to_answer": describe_answer(),
    }


class ApprovalOutcome:
    """The result of applying a person's answer."""

    def __init__(self) -> None:
        self.approved: list[Candidate] = []
        self.rejected: list[Candidate] = []
        self.decisions: list[dict[str, Any]] = []
        self.errors: list[str] = []


def apply_decisions(
    answer: Any,
    candidates: Sequence[Candidate],
    *,
    space: SearchSpace,
    baseline: Mapping[str, Any],
    constraints: Sequence[RuleConstraint] = (),
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
                cand.transition(CandidateStatus.REJECTED, note or "rejected by reviewer")
            )
            out.decisions.append({"id": cid, "action": "reject", "note": note})
            continue
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
            broken = [str(r) for r in constraints if not r.satisfied(config)]
            cand = cand.model_copy(
                update={
                    "config": config,
                    "delta": config_diff(dict(baseline), config),
                    "source": f"{cand.source}+human-edit",
                    "checks": {
                        **cand.checks,
                        **({"rule_override": "; ".join(broken)} if broken else {}),
                    },
                }
            )
        out.approved.append(
            cand.transition(CandidateStatus.APPROVED, note or f"{action}d by reviewer")
        )
        out.decisions.append(
            {
                "id": cid,
                "action": action,
                "note": note,
                **({"delta": dict(item["delta"])} if action == "edit" else {}),
            }
        )
    for c in candidates:
        if c.id not in seen and not out.errors:
            out.rejected.append(c.transition(CandidateStatus.REJECTED, "not selected by reviewer"))
            out.decisions.append({"id": c.id, "action": "reject", "note": "not selected"})
    return out
