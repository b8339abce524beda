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
    config_key,
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
            "add": [{"delta": {"<param>": "<value>"}, "note": "why you want it tested"}],
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
        {
            "index": v.index,
            "source": v.source,
            "delta": v.delta,
            "reasons": v.reasons or [v.justification or "ranked below the selected candidates"],
        }
        for v in verdicts
        if not v.selected
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
    added: list[Candidate] = field(default_factory=list)
    plan_changes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


SOFT_WARNING = (
    "outside the soft bounds for {names}: allowed, but the next round's Critic drops such a "
    "configuration unless the skill's soft bounds change"
)


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


def _added(
    raw: Any,
    out: ApprovalOutcome,
    *,
    space: SearchSpace,
    baseline: Mapping[str, Any],
    constraints: Sequence[RuleConstraint],
    task: str,
    round_no: int,
) -> None:
    """The reviewer's own arms: validated like any proposal, then approved."""
    if raw is None:
        return
    if not isinstance(raw, list):
        out.errors.append("'add' must be a list of {'delta': {...}, 'note': '...'}")
        return
    production = config_key(dict(baseline))
    for j, item in enumerate(raw, 1):
        delta = item.get("delta") if isinstance(item, Mapping) else None
        if not isinstance(delta, Mapping) or not delta:
            out.errors.append(f"added arm {j}: needs a non-empty 'delta' object")
            continue
        try:
            config = apply_delta(space, baseline, delta)
        except ConfigError as exc:
            out.errors.append(f"added arm {j}: {exc}")
            continue
        if config_key(config) == production:
            out.errors.append(f"added arm {j}: identical to the production configuration")
            continue
        note = str(item.get("note", "") or "")
        checks = {"code_checks": "added by the reviewer"}
        soft = space.soft_violations(config)
        if soft:
            warning = SOFT_WARNING.format(names=soft)
            out.warnings.append(f"added arm {j}: {warning}")
            checks["soft_bounds"] = warning
        broken = [str(r) for r in constraints if not r.satisfied(config)]
        if broken:
            checks["rule_override"] = "; ".join(broken)
        proposed = Candidate(
            id=f"{task}-r{round_no}-h{j}",
            task=task,
            round=round_no,
            delta=config_diff(dict(baseline), config),
            config=config,
            hypothesis=note or "added by the reviewer",
            source="human",
            checks=checks,
        )
        out.added.append(proposed)
        out.approved.append(proposed.transition(CandidateStatus.APPROVED, "added by the reviewer"))
        out.decisions.append(Decision(id=proposed.id, action="approve", note="added arm"))


def apply_decisions(
    answer: Any,
    candidates: Sequence[Candidate],
    *,
    space: SearchSpace,
    baseline: Mapping[str, Any],
    constraints: Sequence[RuleConstraint] = (),
    by: Literal["reviewer", "auto"] = "reviewer",
    task: str = "",
    round_no: int = 0,
    traffic_per_arm: float | None = None,
) -> ApprovalOutcome:
    """Apply an approval answer to the candidates.

    Edits and added arms are validated like proposals (hard bounds, types, unknown fields);
    leaving the soft bounds or a learned rule is allowed for a person and reported. Any error
    leaves the outcome's `errors` non-empty and nothing should be launched.

    Args:
        answer: ``"approve"``, ``"reject"`` or ``{"decisions": [...], "add": [...],
            "plan": {...}}``.
        candidates: The round's candidates.
        space: The task's search space.
        baseline: The production configuration.
        constraints: Learned-rule constraints in force.
        by: Who decides.
        task: The task (names added arms).
        round_no: The round (names added arms).
        traffic_per_arm: The plan's traffic per arm (an answer may change it); the approved
            arms and a control must fit in all traffic.
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
        unknown = sorted(set(answer) - {"decisions", "add", "plan"})
        if unknown:
            out.errors.append(f"answer key(s) {unknown} not understood; allowed: decisions, "
                              "add, plan")
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
            soft = space.soft_violations(config)
            soft_note = {}
            if soft:
                soft_note = {"soft_bounds": SOFT_WARNING.format(names=soft)}
                out.warnings.append(f"candidate {cid}: {soft_note['soft_bounds']}")
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
                        **soft_note,
                        **({"rule_override": "; ".join(broken)} if broken else {}),
                    },
                }
            )
        out.approved.append(
            cand.transition(CandidateStatus.APPROVED, note or f"{action}d by {by}")
        )
        out.decisions.append(Decision(id=cid, action=action, note=note, delta=edit_delta, by=by))
    if isinstance(answer, Mapping):
        _added(
            answer.get("add"), out, space=space, baseline=baseline, constraints=constraints,
            task=task, round_no=round_no,
        )
    keys = [config_key(c.config) for c in out.approved]
    if len(set(keys)) != len(keys):
        out.errors.append("two approved arms have the same configuration; change or drop one")
    traffic = out.plan_changes.get("traffic_per_arm", traffic_per_arm)
    if traffic is not None and (len(out.approved) + 1) * traffic > 1.0 + 1e-9:
        most = int(1.0 / traffic + 1e-9) - 1
        out.errors.append(
            f"{len(out.approved)} arms and a control at {traffic:.0%} of traffic each do not "
            f"fit: at most {most} treatment arms; reject some or lower traffic_per_arm in 'plan'"
        )
    position = {c.id: i for i, c in enumerate([*candidates, *out.added])}
    out.approved.sort(key=lambda c: position[c.id])
    for c in candidates:
        if c.id not in seen and not out.errors:
            out.rejected.append(c.transition(CandidateStatus.REJECTED, "not selected by reviewer"))
            out.decisions.append(Decision(id=c.id, action="reject", note="not selected", by=by))
    return out
